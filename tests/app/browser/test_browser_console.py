"""The console's other pages in a real browser: sign-in by keyboard, then axe-core (WCAG 2.1 A and AA) on the
knowledgebase editor, an article's history, the knowledge gaps, service requests, the audit log and reports; and
an email case whose HTML was written to attack the agent, which must stay inert.
The chat pages are checked in test_browser.py, on the real stack. Screenshots go to var/test-artifacts/."""

from __future__ import annotations

import mailbox
from collections.abc import Iterator
from pathlib import Path

import pytest
from browsing import ARTIFACTS, assert_accessible
from helpers import HOSTILE_HTML, letter
from playwright.sync_api import Browser, Page, Request, expect
from sqlalchemy import select
from test_widget import browser, core, settings  # noqa: F401 (fixtures)

from civicdesk.db import make_engine, make_session_factory, transaction
from civicdesk.models import InboundEmail
from civicdesk.settings import Settings
from civicdesk.staff import auth
from classifiers.model import load_model
from email_ingest.maildir import MaildirSource
from email_ingest.runner import ingest_once

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
        ("/console/reports", "Reports"),
        ("/console/queue", "Work queue"),
        ("/console/dashboard", "Service First now"),
    ):
        desk.goto(path)
        expect(desk.get_by_role("heading", level=1)).to_contain_text(heading)
        assert_accessible(desk)
    desk.get_by_role("button", name="Sign out").click()
    expect(desk.get_by_role("heading", name="Sign in to the agent console")).to_be_visible()


@pytest.fixture(scope="module")
def hostile_case(settings: Settings, models_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> int:  # noqa: F811
    """An email whose HTML tries scripts, handlers, a tracking image, a frame and a form, ingested for real."""
    inbox = tmp_path_factory.mktemp("mail") / "inbox"
    mailbox.Maildir(inbox, create=True).add(
        letter(
            "Snow on Mill Street",
            "Thank you to the crew who cleared the snow. <script>window.pwned = true</script>",
            "<snow@x.org>",
            html=HOSTILE_HTML,
        )
    )
    engine = make_engine(settings.sqlalchemy_url)
    factory = make_session_factory(engine)
    ingest_once(MaildirSource(inbox), factory, 1_000_000, triage=load_model(models_dir / "triage"))
    with factory() as session:
        case = session.scalars(select(InboundEmail).where(InboundEmail.message_id == "<snow@x.org>")).one()
        assert case.status == "needs_human", case.status_reason
        case_id = case.id
    engine.dispose()
    return case_id


@pytest.mark.timeout(180)
def test_a_hostile_email_stays_inert_on_its_case_page(desk: Page, core: str, hostile_case: int) -> None:  # noqa: F811
    elsewhere: list[str] = []

    def note(request: Request) -> None:
        if not request.url.startswith(core):
            elsewhere.append(request.url)

    desk.on("request", note)
    desk.goto(f"/console/email/{hostile_case}")  # not signed in: sent to the sign-in page, then back
    desk.get_by_label("Email").fill(SUPERVISOR[0])
    desk.get_by_label("Password").fill(SUPERVISOR[2])
    desk.get_by_role("button", name="Sign in").click()
    expect(desk.get_by_role("heading", level=1)).to_have_text("Email: Snow on Mill Street")
    message = desk.locator("#email-message")
    expect(message).to_contain_text("<script>window.pwned = true</script>")  # typed as text, shown as text
    desk.get_by_text("Formatted version").click()
    expect(message.get_by_text("Styled words")).to_be_visible()
    message.get_by_text("see photos").click()  # was a javascript: link; now a link to nowhere
    safe = message.get_by_role("link", name="snow routes")
    expect(safe).to_have_attribute("href", "https://www.northvale.ca/snow")
    expect(safe).to_have_attribute("rel", "noopener noreferrer")
    desk.wait_for_timeout(500)  # time for anything that did load to run

    assert desk.evaluate("typeof window.pwned") == "undefined"
    assert message.locator("img, iframe, script, form, input, [style], [onerror], [onclick]").count() == 0
    assert desk.locator("iframe").count() == 0
    assert elsewhere == []  # no tracking pixel, frame or style image was fetched
    desk.screenshot(path=str(ARTIFACTS / "console-email-case.png"), full_page=True)
    assert_accessible(desk)
