"""Writing back to residents, in a real browser on the real app: an agent answers an email case (a
knowledgebase passage and a saved reply inserted, then sent) and files a request from it, and what the outbox
delivers reaches a local SMTP server (aiosmtpd) threaded on the resident's message; a request's reporter hears
when it is assigned and closed, and the link in the update stops the updates without signing in.
Screenshots go to var/test-artifacts/."""

from __future__ import annotations

import mailbox
import re
from collections.abc import Iterator
from email.message import EmailMessage

import httpx
import pytest
from browsing import ARTIFACTS, assert_accessible
from helpers import Relay, smtp_relay
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from test_widget import browser, core, settings  # noqa: F401 (fixtures)

from civicdesk.contacts import ContactIn
from civicdesk.db import make_engine, make_session_factory, transaction
from civicdesk.models import InboundEmail, OutboundMessage
from civicdesk.service_requests import service as service_requests
from civicdesk.settings import Settings
from civicdesk.staff import auth
from email_ingest.maildir import MaildirSource
from email_ingest.outbox import SmtpRelay, deliver_pending
from email_ingest.runner import ingest_once

AGENT = ("noor.aziz@northvale.ca", "Noor Aziz", "harbour lights at dusk 2026")
MAIL_FROM = "Northvale Service First <servicefirst@northvale.ca>"
RESIDENT = "omar.haddad@example.org"
EARLIER = ["<first@example.org>", "<second@example.org>"]  # the resident's message continues this thread
QUESTION = "<dog-question@example.org>"


@pytest.fixture(scope="module")
def factory(settings: Settings) -> Iterator[sessionmaker[Session]]:  # noqa: F811 (the fixture imported above)
    engine = make_engine(settings.sqlalchemy_url)
    yield make_session_factory(engine)
    engine.dispose()


@pytest.fixture(scope="module")
def relay() -> Iterator[tuple[Relay, SmtpRelay]]:
    with smtp_relay() as running:
        yield running


@pytest.fixture(scope="module")
def agent(factory: sessionmaker[Session]) -> str:
    with transaction(factory) as session:
        auth.create_user(session, *AGENT, "agent")
    return AGENT[0]


@pytest.fixture(scope="module")
def case(factory: sessionmaker[Session], tmp_path_factory: pytest.TempPathFactory) -> int:
    """The dog-licence question of the issue, ingested without a triage model: it waits for an agent."""
    message = EmailMessage()
    message["From"] = f"Omar Haddad <{RESIDENT}>"
    message["To"] = "servicefirst@northvale.ca"
    message["Subject"] = "Dog licence"
    message["Message-ID"] = QUESTION
    message["In-Reply-To"] = EARLIER[-1]
    message["References"] = " ".join(EARLIER)
    message.set_content("Hello, how much is a dog licence and can I buy it online? Thanks, Omar")
    inbox = tmp_path_factory.mktemp("mail") / "inbox"
    mailbox.Maildir(inbox, create=True).add(message.as_bytes())
    ingest_once(MaildirSource(inbox), factory, 1_000_000, triage=None)
    with factory() as session:
        row = session.scalars(select(InboundEmail).where(InboundEmail.message_id == QUESTION)).one()
        assert row.status == "needs_human", row.status_reason
        return row.id


@pytest.fixture
def desk(browser: Browser, core: str, agent: str) -> Iterator[Page]:  # noqa: F811
    context = browser.new_context(base_url=core, viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto("/console/login")
    page.get_by_label("Email").fill(agent)
    page.get_by_label("Password").fill(AGENT[2])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Work queue")).to_be_visible()
    yield page
    context.close()


def delivered(factory: sessionmaker[Session], relay: tuple[Relay, SmtpRelay], purpose: str) -> EmailMessage:
    """Run the outbox once, as the ingester does after each pass, and return what reached the SMTP server of the
    newest outbox message with `purpose` (matched by Message-ID)."""
    server, outbox = relay
    deliver_pending(factory, outbox, MAIL_FROM, "servicefirst@northvale.ca")
    with factory() as session:
        row = session.scalars(
            select(OutboundMessage).where(OutboundMessage.purpose == purpose).order_by(OutboundMessage.id.desc())
        ).first()
        assert row is not None and row.status == "sent", row and row.last_error
    found = [m for m in server.messages if m["Message-ID"] == row.message_id]
    assert len(found) == 1, [m["Subject"] for m in server.messages]
    return found[0]


def assert_threaded(message: EmailMessage) -> None:
    assert message["To"] == RESIDENT
    assert message["In-Reply-To"] == QUESTION
    assert message["References"].split() == [*EARLIER, QUESTION]


@pytest.mark.timeout(180)
def test_an_agent_replies_with_a_passage_and_the_resident_gets_it_in_their_thread(
    desk: Page, case: int, factory: sessionmaker[Session], relay: tuple[Relay, SmtpRelay]
) -> None:
    desk.goto(f"/console/email/{case}")
    expect(desk.get_by_role("heading", level=1)).to_have_text("Email: Dog licence")
    passages = desk.locator("#kb-passages li")
    expect(passages.first).to_contain_text("Dog and cat licences")  # found from the email's own words
    passage = passages.first.locator(".email-text").inner_text()
    reply = desk.get_by_label(f"Your answer to {RESIDENT}")
    reply.fill("Dear Omar,")
    passages.first.get_by_role("button", name="Insert").click()
    desk.locator("#saved-replies li").filter(has_text="Thank you, we are looking into it").get_by_role(
        "button", name="Insert"
    ).click()
    written = reply.input_value()
    assert written.startswith("Dear Omar,\n\n" + passage) and "We are looking into this" in written
    desk.get_by_role("button", name="Send the reply").click()
    sent = desk.locator("#sent-messages li").filter(has_text="Agent's reply")
    expect(sent).to_contain_text("Re: Dog licence")
    expect(sent).to_contain_text("waiting to be sent")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    desk.screenshot(path=str(ARTIFACTS / "console-email-reply.png"), full_page=True)
    assert_accessible(desk)

    message = delivered(factory, relay, "reply")
    assert message["Subject"] == "Re: Dog licence"
    assert_threaded(message)
    assert message["Auto-Submitted"] is None  # a person answered: the resident's autoresponder may reply
    assert message["From"] == MAIL_FROM
    body = message.get_content()
    assert body.startswith("Dear Omar,") and passage.splitlines()[0] in body
    desk.reload()
    expect(desk.locator("#sent-messages li").filter(has_text="Agent's reply")).to_contain_text("sent")


@pytest.mark.timeout(180)
def test_a_request_filed_from_the_email_sends_the_resident_its_reference(
    desk: Page, case: int, factory: sessionmaker[Session], relay: tuple[Relay, SmtpRelay]
) -> None:
    desk.goto(f"/console/email/{case}")
    form = desk.locator("#request-form")
    form.get_by_label("Service").select_option(label="Graffiti")
    form.get_by_label("Description").fill("Graffiti on the fence at 3 Mill Street, Harlow Falls")
    form.get_by_label("Address or intersection").fill("3 Mill Street")
    form.get_by_role("button", name="Create the service request").click()
    linked = desk.get_by_text(re.compile(r"Linked: SR-\d{4}-\d{6}"))
    expect(linked).to_be_visible()
    reference = re.search(r"SR-\d{4}-\d{6}", linked.inner_text())
    assert reference
    expect(desk.locator("#sent-messages li").filter(has_text="Request reference")).to_contain_text(reference.group(0))

    message = delivered(factory, relay, "reference")
    assert message["Subject"] == f"[{reference.group(0)}] Re: Dog licence"
    assert_threaded(message)
    assert f"We have created service request {reference.group(0)}" in message.get_content()


@pytest.mark.timeout(180)
def test_closing_a_request_tells_its_reporter_and_the_link_in_the_update_stops_updates(
    browser: Browser,  # noqa: F811 (the fixture imported above)
    desk: Page,
    core: str,  # noqa: F811 (the fixture imported above)
    factory: sessionmaker[Session],
    relay: tuple[Relay, SmtpRelay],
) -> None:
    with transaction(factory) as session:  # filed in a chat: the resident gave an email address
        filed = service_requests.create_request(
            session,
            service_requests.RequestIn(
                service_code="road_repair",
                description="Deep pothole in the right lane",
                channel="chat",
                address="120 Birch Road",
                contact=ContactIn(email="lena.fischer@example.org", name="Lena Fischer"),
            ),
            actor="assistant",
            require_answers=False,
        )
        reference = filed.reference
    assert reference
    desk.goto(f"/console/requests/{reference}")
    desk.get_by_label("Assignee").fill("roads.crew@northvale.ca")
    desk.get_by_role("button", name="Save").click()
    assigned = delivered(factory, relay, "update")
    assert (assigned["To"], assigned["Subject"]) == (
        "lena.fischer@example.org",
        f"[{reference}] Update on your service request",
    )
    assert "has been assigned to a member of" in assigned.get_content()
    assert "roads.crew" not in assigned.get_content()  # staff are not named to residents

    desk.get_by_label("Status").select_option("closed")
    desk.get_by_label("Resolution (needed to close)").fill("The crew filled the pothole on December 7.")
    desk.get_by_label("Internal note").fill("Used cold patch; check again in spring.")
    desk.get_by_role("button", name="Save").click()
    expect(desk.get_by_text("closed").first).to_be_visible()
    closed = delivered(factory, relay, "update")
    body = closed.get_content()
    assert f"Your service request {reference} (Pothole or road damage) has been closed." in body
    assert "The crew filled the pothole on December 7." in body and "cold patch" not in body
    assert closed["Auto-Submitted"] == "auto-generated"
    link = re.search(r"https?://\S+/updates/stop\?\S+", body)
    assert link, body

    stop_link = link.group(0).replace("http://127.0.0.1:8000", core)  # the app's public_base_url in production
    with httpx.Client(base_url=core) as stranger:  # a changed token or reference stops nothing
        for forged in (
            stop_link[:-2],
            stop_link.replace(reference, reference[:-1] + ("8" if reference.endswith("9") else "9")),
        ):
            refused = stranger.get(forged)
            assert refused.status_code == 404 and "This link does not work" in refused.text
        token = re.search(r"token=([\w-]+)", stop_link)
        assert token
        posted = stranger.post("/updates/stop", data={"request": reference, "token": token.group(1)[:-1] + "A"})
        assert posted.status_code == 404
    resident = browser.new_context(base_url=core).new_page()  # no console session: the resident's own browser
    resident.goto(stop_link)
    expect(resident.get_by_role("heading", level=1)).to_have_text(f"Stop updates about {reference}?")
    assert_accessible(resident)
    resident.get_by_role("button", name="Stop updates").click()
    expect(resident.get_by_role("heading", level=1)).to_have_text("Updates stopped")
    expect(resident.get_by_text(f"You will get no more emails about service request {reference}.")).to_be_visible()
    assert_accessible(resident)
    resident.context.close()

    desk.goto(f"/console/requests/{reference}")
    desk.get_by_label("Status").select_option("open")
    desk.get_by_role("button", name="Save").click()
    expect(desk.get_by_text("open").first).to_be_visible()
    with factory() as session:
        updates = session.scalars(select(OutboundMessage).where(OutboundMessage.purpose == "update")).all()
        assert len(updates) == 2  # assigned and closed; reopened after the stop: nothing
