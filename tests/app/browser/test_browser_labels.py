"""What staff and Council read is words, not codes: the console pages an agent and a supervisor see, and the PDF
report of a generated month, rendered in Chromium and scanned for snake_case identifiers; a page a role may not
open is an HTML page with a way back; a chat's transcript opens at its newest message.
One server and one browser for the module. Screenshots go to var/test-artifacts/."""

from __future__ import annotations

import datetime as dt
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import pypdfium2
import pytest
from browsing import ARTIFACTS, ThreadedServer, launch, seeded_sqlite
from playwright.sync_api import Browser, Page, expect, sync_playwright
from sqlalchemy import select

from civicdesk.bookings import appointments
from civicdesk.chat import service as chat
from civicdesk.contacts import ContactIn
from civicdesk.db import make_engine, make_session_factory, transaction
from civicdesk.models import AppointmentSlot, AppointmentType, ServiceRequest
from civicdesk.settings import PROJECT_ROOT, Settings
from civicdesk.staff import auth

sys.path.insert(0, str(PROJECT_ROOT / "bench"))
import generate_activity as activity  # noqa: E402

AGENT = ("omar.haddad@northvale.ca", "Omar Haddad", "blue heron at dawn 2026")
SUPERVISOR = ("ines.moreau@northvale.ca", "Ines Moreau", "quiet lake morning 2026")
TRAINER = ("wen.li@northvale.ca", "Wen Li", "green canoe at noon 2026")  # the triage models' page is theirs
NOVEMBER = ("2026-11-01", "2026-12-01")
# A word with an underscore between letters or digits: how a stored code looks (needs_human, flu_covid_vaccine).
CODE = re.compile(r"\b\w*[A-Za-z0-9]_[A-Za-z0-9]\w*\b")
# Text with underscores that is not a code: email addresses are people's and are shown as written; a file path
# (the models page names the training data, nlu_data/email/train.jsonl) is what a trainer types to find it.
ALLOWED = [re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"), re.compile(r"[\w.-]+(?:/[\w.-]+)+")]
# What the assistant's handoff summary says (actions/handoff.py), raw details and all.
SUMMARY = (
    "Reason: emergency gas smell.\nTask under way: Booking an appointment.\n"
    "Appointment type: flu_covid_vaccine\nChosen time (slot id): {slot}\nService: road_repair\n"
    'Last message: "I smell gas in the hallway, and I need my flu shot too"'
)


def codes_in(text: str) -> list[str]:
    for allowed in ALLOWED:
        text = allowed.sub(" ", text)
    return sorted(set(CODE.findall(text)))


@dataclass(frozen=True)
class Desk:
    url: str
    chat_id: int
    email_id: int
    request_reference: str
    booking_reference: str


@pytest.fixture(scope="module")
def desk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    """A seeded core with November's generated activity, a waiting emergency chat that filed a request and booked
    an appointment, and an emergency email case."""
    settings: Settings = seeded_sqlite(tmp_path_factory.mktemp("labels"))
    engine = make_engine(settings.sqlalchemy_url)
    factory = make_session_factory(engine)
    with transaction(factory) as session:
        auth.create_user(session, *AGENT, "agent")
        auth.create_user(session, *SUPERVISOR, "supervisor")
        auth.create_user(session, *TRAINER, "trainer")
        activity.generate_month(session, dt.date(2026, 11, 1), seed=5)
        flu = session.scalars(select(AppointmentType).where(AppointmentType.code == "flu_covid_vaccine")).one()
        slot = session.scalars(
            select(AppointmentSlot).where(AppointmentSlot.type_id == flu.id).order_by(AppointmentSlot.starts_at)
        ).first()
        assert slot is not None
        booking = appointments.book(
            session, slot.id, ContactIn(name="Lena Ortiz", email="lena.ortiz@example.org"), "chat",
            now=slot.starts_at - dt.timedelta(days=1),
        )  # fmt: skip
        request = session.scalars(select(ServiceRequest).order_by(ServiceRequest.id.desc())).first()
        assert request is not None
        conversation = chat.start(session)
        for number in range(15):  # a long conversation: the newest message is out of view at first
            chat.record(session, conversation, "resident", f"Question {number} about my garbage day")
            chat.record(session, conversation, "bot", "Here is what I found in our knowledgebase.")
        chat.record(session, conversation, "bot", f"Your service request number is {request.reference}.")
        chat.record(session, conversation, "bot", f"You're booked. Your confirmation number is {booking.reference}.")
        chat.record(session, conversation, "resident", "I smell gas in the hallway, and I need my flu shot too")
        chat.to_queue(
            session,
            conversation,
            "emergency_gas_smell",
            SUMMARY.format(slot=slot.id),
            "emergency",
            {
                "service_code": "road_repair",
                "appointment_type": "flu_covid_vaccine",
                "appointment_slot": str(slot.id),
                "attribute_answers": {"hole_size": "plate_to_tire", "position": "driving_lane"},
            },
        )
        case = activity.add_email(session, activity.local(dt.date(2026, 12, 1), 9), "needs_human", number=900)
        case.handled_at, case.handled_by, case.urgency = None, None, "emergency"
        case.status_reason = "emergency (rules: water_gushing, water_gushing)"
        ids = conversation.id, case.id, request.reference, booking.reference
    engine.dispose()
    with ThreadedServer(settings) as server:
        yield Desk(server.url, *ids)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = launch(playwright)
        yield browser
        browser.close()


def signed_in(browser: Browser, desk: Desk, who: tuple[str, str, str]) -> Page:
    page = browser.new_context(base_url=desk.url, viewport={"width": 1280, "height": 900}).new_page()
    page.set_default_timeout(20_000)
    page.goto("/console/login")
    page.get_by_label("Email").fill(who[0])
    page.get_by_label("Password").fill(who[2])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    return page


@pytest.fixture(scope="module")
def agent(browser: Browser, desk: Desk) -> Iterator[Page]:
    page = signed_in(browser, desk, AGENT)
    yield page
    page.context.close()


@pytest.fixture(scope="module")
def supervisor(browser: Browser, desk: Desk) -> Iterator[Page]:
    page = signed_in(browser, desk, SUPERVISOR)
    yield page
    page.context.close()


@pytest.fixture(scope="module")
def trainer(browser: Browser, desk: Desk) -> Iterator[Page]:
    page = signed_in(browser, desk, TRAINER)
    yield page
    page.context.close()


def shown_codes(page: Page, path: str, name: str) -> list[str]:
    answer = page.goto(path)
    assert answer is not None and answer.status == 200, path
    page.wait_for_load_state("networkidle")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"labels-{name}.png"), full_page=True)
    return codes_in(page.locator("body").inner_text())


@pytest.mark.timeout(300)
def test_agent_pages_show_no_internal_codes(agent: Page, desk: Desk) -> None:
    found = {
        name: shown_codes(agent, path, name)
        for name, path in (
            ("queue", "/console/queue"),
            ("chat", f"/console/chats/{desk.chat_id}"),
            ("email-case", f"/console/email/{desk.email_id}"),
            ("request", f"/console/requests/{desk.request_reference}"),
            ("requests", "/console/requests"),
        )
    }
    assert {name: codes for name, codes in found.items() if codes} == {}, found


@pytest.mark.timeout(300)
def test_supervisor_pages_and_the_pdf_report_show_no_internal_codes(supervisor: Page, trainer: Page) -> None:
    start, end = NOVEMBER
    found = {
        name: shown_codes(supervisor, path, name)
        for name, path in (
            ("dashboard", "/console/dashboard"),
            ("gaps", "/console/gaps"),
            ("reports", f"/console/reports?start={start}&end={end}"),
        )
    }
    found["models"] = shown_codes(trainer, "/console/models", "models")
    pdf = supervisor.request.get(f"/console/reports/download?start={start}&end={end}&format=pdf")
    assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf"
    document = pypdfium2.PdfDocument(pdf.body())
    pages = [document[i].get_textpage().get_text_range() for i in range(len(document))]
    assert len(pages) > 5 and "Service requests by channel" in "\n".join(pages)
    found["pdf"] = codes_in("\n".join(pages))
    assert {name: codes for name, codes in found.items() if codes} == {}, found


def test_the_chat_page_words_the_handoff_and_shows_what_the_chat_filed(agent: Page, desk: Desk) -> None:
    agent.goto(f"/console/chats/{desk.chat_id}")
    facts = agent.locator(".facts")
    expect(facts).to_contain_text("Emergency: smell of gas")
    expect(facts).not_to_contain_text("Appointment type")  # the raw detail lines of the summary
    filed = agent.locator("#filed")
    expect(filed).to_contain_text(f"Service request {desk.request_reference}")
    expect(filed).to_contain_text(f"Appointment {desk.booking_reference}: Flu and COVID-19 vaccine")
    slots = agent.locator("table.slots")
    expect(slots).to_contain_text("Flu and COVID-19 vaccine")
    expect(slots).to_contain_text(re.compile(r"Chosen time\s*\w+day \d+ \w{3} \d+:\d\d at "))
    agent.goto("/console/queue")
    row = agent.locator("#queue tr", has_text="Water gushing")
    expect(row).to_contain_text("Emergency: water gushing")
    expect(row).not_to_contain_text("water gushing, water gushing")


def test_the_transcript_opens_at_the_newest_message(agent: Page, desk: Desk) -> None:
    agent.goto(f"/console/chats/{desk.chat_id}")
    transcript = agent.locator("#transcript")
    expect(transcript.locator(".msg").last).to_contain_text("You are number 1 in the queue")
    sizes = transcript.evaluate("t => [t.scrollTop, t.clientHeight, t.scrollHeight]")
    assert sizes[2] > sizes[1], "the test conversation must be longer than the transcript box"
    assert sizes[0] + sizes[1] >= sizes[2] - 2, sizes  # scrolled to the bottom
    expect(transcript.locator(".msg").last).to_be_in_viewport()
    expect(transcript.locator(".msg", has_text="I smell gas")).to_be_in_viewport()
    expect(transcript.locator(".msg").first).not_to_be_in_viewport()


def test_a_page_the_role_may_not_open_is_an_html_page_with_a_way_back(agent: Page) -> None:
    answer = agent.goto("/console/dashboard")
    assert answer is not None and answer.status == 403
    assert answer.headers["content-type"].startswith("text/html")
    expect(agent.get_by_role("heading", level=1)).to_have_text("You do not have access to this page")
    expect(agent.locator("main")).to_contain_text("It is open to administrators and supervisors.")
    agent.get_by_role("link", name="Back to your work").click()
    expect(agent.get_by_role("heading", level=1)).to_have_text("Work queue")
    api = agent.request.get("/console/dashboard", headers={"Accept": "application/json"})
    assert api.status == 403 and api.json() == {"detail": "your role does not give access to this page"}
