"""Browser tests' plumbing: Debian's Chromium through Playwright, the core under uvicorn in a thread, a seeded
SQLite database, and axe-core's accessibility check. Screenshots go to ARTIFACTS."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import uvicorn
from helpers import SEED_TODAY, free_port, make_settings
from playwright.sync_api import Browser, Page

from civicdesk import migrate
from civicdesk.app import create_app
from civicdesk.catalogue import seed
from civicdesk.db import make_engine, make_session_factory, transaction
from civicdesk.settings import PROJECT_ROOT, Settings

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = PROJECT_ROOT / "var" / "test-artifacts"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
PHONE = {"width": 390, "height": 844}


def seeded_sqlite(folder: Path) -> Settings:
    settings = make_settings(folder)
    migrate.upgrade(settings.sqlalchemy_url)
    engine = make_engine(settings.sqlalchemy_url)
    with transaction(make_session_factory(engine)) as session:
        seed.load(session, today=SEED_TODAY)
    engine.dispose()
    return settings


class ThreadedServer:
    """The core web app under uvicorn in a thread, on a free loopback port."""

    def __init__(self, settings: Settings) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> ThreadedServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert time.monotonic() < deadline, "the core did not start"
            time.sleep(0.05)
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


def launch(playwright: Any) -> Browser:
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def axe_problems(page: Page) -> list[str]:
    """Serious or critical WCAG 2.1 A/AA violations axe-core finds on the page as it is now."""
    page.add_script_tag(url="/_dev/axe.min.js")  # from node_modules, same origin: the CSP allows it
    result = page.evaluate("tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG_TAGS)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def assert_accessible(page: Page) -> None:
    problems = axe_problems(page)
    assert problems == [], f"axe-core on {page.url}:\n" + "\n".join(problems)
