"""The trainer's triage models page in a real browser: axe-core (WCAG 2.1 A and AA) before and after a rollback
done with the keyboard-reachable buttons, and the download link. Screenshots go to var/test-artifacts/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from browsing import ARTIFACTS, ThreadedServer, assert_accessible, seeded_sqlite
from helpers import CLASSIFIER_EVAL as EVAL
from helpers import CLASSIFIER_TRAIN as TRAIN
from playwright.sync_api import Browser, Page, expect
from test_widget import browser  # noqa: F401 (fixture)

from civicdesk.db import make_engine, make_session_factory, transaction
from civicdesk.settings import Settings
from civicdesk.staff import auth
from civicdesk.triage import retraining
from classifiers.registry import Registry

TRAINER = ("sam.okafor@northvale.ca", "Sam Okafor", "quiet lake morning 2026")


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    folder = tmp_path_factory.mktemp("models-page")
    settings = seeded_sqlite(folder).model_copy(update={"models_dir": folder / "models"})
    engine = make_engine(settings.sqlalchemy_url)
    factory = make_session_factory(engine)
    with transaction(factory) as session:
        auth.create_user(session, *TRAINER, "trainer")
    for _ in range(2):  # two versions, the second active, and a finished retrain to show
        retraining.retrain(settings, factory, actor=TRAINER[0], train_files=[TRAIN], test_file=EVAL)
    yield settings
    engine.dispose()


@pytest.fixture(scope="module")
def core(settings: Settings) -> Iterator[str]:
    with ThreadedServer(settings) as server:
        yield server.url


@pytest.fixture
def desk(browser: Browser, core: str) -> Iterator[Page]:  # noqa: F811 (the fixture imported above)
    context = browser.new_context(base_url=core, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


@pytest.mark.timeout(180)
def test_the_models_page_passes_axe_and_rolls_back(desk: Page, settings: Settings) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    registry = Registry(Path(settings.models_dir) / "triage")
    first, second = (version.id for version in registry.versions())
    desk.goto("/console/models")
    desk.get_by_label("Email").fill(TRAINER[0])
    desk.get_by_label("Password").fill(TRAINER[2])
    desk.get_by_role("button", name="Sign in").click()
    expect(desk.get_by_role("heading", level=1)).to_have_text("Email triage models")
    expect(desk.get_by_role("link", name="Triage models")).to_have_attribute("aria-current", "page")
    expect(desk.locator("#retrain-state")).to_contain_text("Last retrain finished")
    assert_accessible(desk)
    desk.screenshot(path=str(ARTIFACTS / "console-models.png"), full_page=True)

    rollback = desk.get_by_role("button", name=f"Roll back to this version ({first})")
    rollback.focus()
    desk.keyboard.press("Enter")
    expect(desk.get_by_role("status").filter(has_text="is now active")).to_have_text(
        f"Version {first} is now active (was {second})."
    )
    assert registry.active_id() == first
    assert_accessible(desk)
    expect(desk.get_by_role("button", name=f"Make this version active ({second})")).to_be_visible()
    expect(desk.get_by_role("link", name="Download for review (YAML)")).to_have_attribute(
        "href", "/console/models/chat-nlu.yml"
    )
