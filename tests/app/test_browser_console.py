"""The console's other pages in a real browser: sign-in by keyboard, then axe-core (WCAG 2.1 A and AA) on the
knowledgebase editor, an article's history, the knowledge gaps, service requests and the audit log.
The chat pages are checked in test_browser.py, on the real stack. Screenshots go to var/test-artifacts/."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect
from test_widget import ARTIFACTS, assert_accessible, browser, core, settings  # noqa: F401 (fixtures)

from civicdesk import auth
from civicdesk.db import make_engine, make_session_factory, transaction
from civicdesk.settings import Settings

SUPERVISOR = ("ines.moreau@northvale.ca", "Ines Moreau", "quiet lake morning 2026")


@pytest.fixture(scope="module")
def supervisor(settings: Settings) -> str:  # noqa: F811 (the fixture imported above)
    engine = make_engine(settings.sqlalchemy_url)
    with transaction(make_session_factory(engine)) as session:
        auth.create_user(session, *SUPERVISOR, "supervisor")
    engine.dispose()
    return SUPERVISOR[0]


@pytest.fixture
def desk(browser: Browser, core: str, supervisor: str) -> Iterator[Page]:  # noqa: F811
    context = browser.new_context(base_url=core, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


@pytest.mark.timeout(180)
def test_console_pages_pass_axe_and_work_by_keyboard(desk: Page) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    desk.goto("/console/kb")  # not signed in: sent to the sign-in page, then back
    expect(desk.get_by_role("heading", name="Sign in to the agent console")).to_be_visible()
    desk.keyboard.press("Tab")  # the skip link comes first
    expect(desk.get_by_role("link", name="Skip to main content")).to_be_focused()
    desk.get_by_label("Email").focus()
    desk.keyboard.type(SUPERVISOR[0])
    desk.keyboard.press("Tab")
    desk.keyboard.type(SUPERVISOR[2])
    desk.keyboard.press("Enter")
    expect(desk.get_by_role("heading", name="Knowledgebase")).to_be_visible()
    assert_accessible(desk)
    desk.get_by_role("link", name="Find your garbage, recycling and green bin collection day", exact=True).click()
    expect(desk.get_by_label("Title")).to_have_value("Find your garbage, recycling and green bin collection day")
    desk.screenshot(path=str(ARTIFACTS / "console-kb-editor.png"), full_page=True)
    assert_accessible(desk)
    for path, heading in (
        ("/console/kb/garbage-collection-day/history", "History of"),
        ("/console/gaps", "Knowledge gaps"),
        ("/console/requests", "Service requests"),
        ("/console/audit", "Audit log"),
        ("/console/queue", "Work queue"),
    ):
        desk.goto(path)
        expect(desk.get_by_role("heading", level=1)).to_contain_text(heading)
        assert_accessible(desk)
    desk.get_by_role("button", name="Sign out").click()
    expect(desk.get_by_role("heading", name="Sign in to the agent console")).to_be_visible()
