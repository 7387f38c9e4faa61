"""The email pipeline end to end, from a real Dovecot to the database and out through a local SMTP relay:
routing, threading, RFC 3834 loop rules, bounces, charsets, attachments, duplicates and emergencies."""

from __future__ import annotations

import datetime as dt
import http.server
import json
import threading
import time
from collections.abc import Iterator
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import pytest
from dovecot import Mailbox
from helpers import Relay, smtp_relay
from imapclient import IMAPClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from civicdesk.models import InboundEmail, OutboundMessage, ServiceRequest
from civicdesk.service_requests.service import get_by_reference, update_request
from civicdesk.work.queue import work_queue
from civicdesk.work.sources import POSSIBLE_EMERGENCY_FLAG
from classifiers.data import compose_text
from classifiers.model import TriageModel, load_model
from email_ingest.imap import ImapAccount, ImapMessage, ImapSource
from email_ingest.outbox import SmtpRelay, deliver_pending
from email_ingest.process import ProcessConfig
from email_ingest.runner import IngestSummary, Lease, MailboxBusy, ingest_once, run_forever

CAP = 200_000
MAIL_FROM = "Northvale Service First <servicefirst@northvale.ca>"


@pytest.fixture
def database_url(seeded_database_url: str) -> str:
    return seeded_database_url


@pytest.fixture(scope="module")
def triage(models_dir: Path) -> TriageModel:
    return load_model(models_dir / "triage")


@pytest.fixture
def relay() -> Iterator[tuple[Relay, SmtpRelay]]:
    with smtp_relay() as running:
        yield running


class Webhook(http.server.BaseHTTPRequestHandler):
    received: list[dict[str, Any]] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Webhook.received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[str]:
    Webhook.received = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Webhook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/oncall"
    finally:
        server.shutdown()


def mail(
    subject: str,
    body: str,
    *,
    sender: str = "Priya Raman <priya.raman@example.org>",
    message_id: str | None = None,
    headers: dict[str, str] | None = None,
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "servicefirst@northvale.ca"
    message["Subject"] = subject
    message["Message-ID"] = message_id or make_msgid(domain="example.org")
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(body)
    return message


def raw(message: EmailMessage | bytes) -> bytes:
    data = message if isinstance(message, bytes) else message.as_bytes()
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def append(server: Mailbox, *messages: EmailMessage | bytes) -> None:
    with IMAPClient("127.0.0.1", port=server.port, ssl=False, timeout=10) as client:
        client.login(server.user, server.password)
        for message in messages:
            client.append("INBOX", raw(message))


def ingest(
    server: Mailbox,
    factory: sessionmaker[Session],
    triage: TriageModel | None,
    config: ProcessConfig | None = None,
) -> IngestSummary:
    account = ImapAccount(
        host="127.0.0.1", port=server.port, username=server.user, password=server.password, security="plain", timeout=10
    )
    source = ImapSource(account, factory, max_bytes=CAP)
    return ingest_once(source, factory, CAP, config=config or ProcessConfig(mailbox=source.name), triage=triage)


def row_for(factory: sessionmaker[Session], message_id: str) -> InboundEmail:
    with factory() as session:
        row = session.scalar(select(InboundEmail).where(InboundEmail.message_id == message_id))
        assert row is not None, message_id
        session.expunge(row)
        return row


# A clear, routine request: every head answers with confidence, so it is filed without an agent.
SUBJECT = "Missed garbage pickup"
BODY = (
    "Hello,\n\nOur garbage was not picked up on Tuesday at 14 Birch Crescent, Pinecrest. The bags were out by "
    "7 a.m. as usual. Please come back for it.\n\nThanks,\nPriya Raman\n905-555-0134"
)


def test_a_clear_request_is_routed_and_acknowledged_with_its_reference(
    mailbox: Mailbox,
    session_factory: sessionmaker[Session],
    triage: TriageModel,
    relay: tuple[Relay, SmtpRelay],
) -> None:
    message = mail(SUBJECT, BODY)
    append(mailbox, message)

    summary = ingest(mailbox, session_factory, triage)

    assert (summary.stored, summary.routed, summary.auto_acknowledged) == (1, 1, 1)
    row = row_for(session_factory, message["Message-ID"])
    assert row.status == "routed" and row.triage is not None
    with session_factory() as session:
        request = session.get(ServiceRequest, row.service_request_id)
        assert request is not None
        assert (request.service.code, request.channel) == ("missed_collection", "email")
        assert request.department == request.service.department
        assert request.address == "14 Birch Crescent"
        assert request.contact is not None and request.contact.email == "priya.raman@example.org"
        reference = request.reference
    handler, smtp = relay
    assert deliver_pending(session_factory, smtp, MAIL_FROM, "test") == 1
    [ack] = handler.messages
    assert handler.envelopes == [["priya.raman@example.org"]]
    assert reference is not None and reference in ack["Subject"] and reference in ack.get_content()
    assert ack["Auto-Submitted"] == "auto-replied" and ack["X-Civicdesk-Loop"] == "test"
    assert ack["In-Reply-To"] == message["Message-ID"]
    assert "Notice of collection" in ack.get_content()


def test_replies_thread_onto_the_request_and_reopen_it_when_closed(
    mailbox: Mailbox, session_factory: sessionmaker[Session], triage: TriageModel
) -> None:
    first = mail(SUBJECT, BODY)
    append(mailbox, first)
    ingest(mailbox, session_factory, triage)
    with session_factory() as session:
        ack = session.scalar(select(OutboundMessage).where(OutboundMessage.purpose == "acknowledgement"))
        assert ack is not None and ack.service_request_id is not None
        request = session.get(ServiceRequest, ack.service_request_id)
        assert request is not None
        reference, ack_id = request.reference, ack.message_id
        update_request(session, request, "agent", resolution="Collected on Wednesday.", status="closed")
        session.commit()

    by_header = mail(
        "Re: Missed garbage pickup",
        "They missed us again this week.\n\n> Thank you for contacting",
        headers={"In-Reply-To": ack_id or ""},
    )
    by_subject = mail(f"Photo [{reference}]", "Here is a photo of the bags at the curb.")
    append(mailbox, by_header, by_subject)
    summary = ingest(mailbox, session_factory, triage)

    assert (summary.threaded, summary.routed, summary.auto_acknowledged) == (2, 0, 0)
    with session_factory() as session:
        request = get_by_reference(session, reference or "")
        assert request.status == "open"
        assert [note.body for note in request.notes] == [
            "They missed us again this week.",
            "Here is a photo of the bags at the curb.",
        ]
        assert not any(note.internal for note in request.notes)
    assert "reopened" in (row_for(session_factory, by_header["Message-ID"]).status_reason or "")


@pytest.mark.parametrize(
    ("headers", "sender", "reason"),
    [
        ({"Auto-Submitted": "auto-replied"}, "Priya Raman <priya.raman@example.org>", "Auto-Submitted"),
        ({"Precedence": "bulk"}, "Priya Raman <priya.raman@example.org>", "Precedence"),
        ({"X-Loop": "servicefirst@northvale.ca"}, "Priya Raman <priya.raman@example.org>", "X-Loop"),
        ({"X-Auto-Response-Suppress": "OOF, AutoReply"}, "Priya Raman <priya.raman@example.org>", "Suppress"),
        ({"Return-Path": "<>"}, "Priya Raman <priya.raman@example.org>", "null Return-Path"),
        ({}, "Transit Alerts <no-reply@alerts.example.com>", "sent by no-reply@"),
        ({"X-Civicdesk-Loop": "imap://servicefirst"}, "Priya Raman <priya.raman@example.org>", "own message"),
    ],
)
def test_automatic_mail_gets_no_acknowledgement(
    mailbox: Mailbox,
    session_factory: sessionmaker[Session],
    triage: TriageModel,
    headers: dict[str, str],
    sender: str,
    reason: str,
) -> None:
    message = mail(SUBJECT, BODY, sender=sender, headers=headers)
    append(mailbox, message)

    summary = ingest(mailbox, session_factory, triage)

    assert summary.stored == 1 and summary.auto_acknowledged == 0
    row = row_for(session_factory, message["Message-ID"])
    assert row.no_reply_reason is not None and reason.lower() in row.no_reply_reason.lower()
    with session_factory() as session:
        assert session.scalar(select(OutboundMessage.id)) is None


def test_acknowledgements_are_rate_limited_per_sender(
    mailbox: Mailbox, session_factory: sessionmaker[Session], triage: TriageModel
) -> None:
    messages = [mail(f"Missed pickup, house {n}", BODY.replace("14 Birch", f"{20 + n} Birch")) for n in range(5)]
    append(mailbox, *messages)

    summary = ingest(mailbox, session_factory, triage, ProcessConfig(mailbox="test", ack_limit_per_hour=3))

    assert summary.stored == 5 and summary.auto_acknowledged == 3
    assert "in the last hour" in (row_for(session_factory, messages[4]["Message-ID"]).no_reply_reason or "")


def test_a_bounce_of_our_acknowledgement_is_attached_to_its_request(
    mailbox: Mailbox, session_factory: sessionmaker[Session], triage: TriageModel
) -> None:
    append(mailbox, mail(SUBJECT, BODY))
    ingest(mailbox, session_factory, triage)
    with session_factory() as session:
        ack = session.scalar(select(OutboundMessage).where(OutboundMessage.purpose == "acknowledgement"))
        assert ack is not None
        ack_id, request_id = ack.message_id, ack.service_request_id

    bounce = EmailMessage()
    bounce["From"] = "Mail Delivery System <MAILER-DAEMON@mx.example.org>"
    bounce["To"] = "servicefirst@northvale.ca"
    bounce["Subject"] = "Undelivered Mail Returned to Sender"
    bounce["Message-ID"] = make_msgid(domain="mx.example.org")
    bounce["Return-Path"] = "<>"
    bounce.set_content("This is the mail system at host mx.example.org.\n\nThe mailbox is full.\n")
    returned = EmailMessage()
    returned["From"] = MAIL_FROM
    returned["Message-ID"] = ack_id or ""
    returned["Subject"] = "Re: Missed garbage pickup"
    returned.set_content("Thank you for contacting Northvale Service First.")
    bounce.add_attachment(returned)
    bounce.replace_header("Content-Type", 'multipart/report; report-type="delivery-status"')
    append(mailbox, bounce)

    summary = ingest(mailbox, session_factory, triage)

    assert (summary.bounces, summary.auto_acknowledged) == (1, 0)
    row = row_for(session_factory, bounce["Message-ID"])
    assert row.status == "bounce" and row.service_request_id == request_id
    with session_factory() as session:
        request = session.get(ServiceRequest, request_id)
        assert request is not None and "could not be delivered" in request.notes[-1].body


def test_charsets_and_rfc2231_file_names_are_decoded(
    mailbox: Mailbox, session_factory: sessionmaker[Session], triage: TriageModel
) -> None:
    japanese = EmailMessage()
    japanese["From"] = "Sato Yuki <yuki.sato@example.jp>"
    japanese["To"] = "servicefirst@northvale.ca"
    japanese["Subject"] = "道路の穴について"
    japanese["Message-ID"] = "<jp@example.jp>"
    japanese.set_content("ハーロウ滝のメイン通りに大きな穴があります。", charset="iso-2022-jp")
    invalid_utf8 = (
        b"From: Luc Belanger <luc@example.ca>\r\nTo: servicefirst@northvale.ca\r\nSubject: Lampadaire\r\n"
        b"Message-ID: <bad-utf8@example.ca>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        b"Le lampadaire devant le 12 rue Principale est \xe9teint depuis lundi.\r\n"
    )
    photo = mail("Graffiti photo", "Photo attached of the tags on the bus shelter.", message_id="<photo@example.org>")
    photo.add_attachment(
        b"\xff\xd8\xff\xe0 not really a jpeg", maintype="image", subtype="jpeg", filename="Photo d’été.jpg"
    )
    assert "filename*=" in photo.as_string()  # the name travels RFC 2231-encoded
    unknown_charset = raw(mail("Missed bin", "Our bin was missed.", message_id="<x-charset@example.org>")).replace(
        b'charset="utf-8"', b'charset="x-klingon"'
    )
    append(mailbox, japanese, invalid_utf8, photo, unknown_charset)

    summary = ingest(mailbox, session_factory, triage)

    assert (summary.fetched, summary.stored, summary.quarantined) == (4, 4, 0)
    jp = row_for(session_factory, "<jp@example.jp>")
    assert jp.new_text == "ハーロウ滝のメイン通りに大きな穴があります。" and jp.subject == "道路の穴について"
    assert "12 rue Principale est \ufffdteint" in (row_for(session_factory, "<bad-utf8@example.ca>").new_text or "")
    assert row_for(session_factory, "<x-charset@example.org>").new_text == "Our bin was missed."
    with session_factory() as session:
        row = session.scalar(select(InboundEmail).where(InboundEmail.message_id == "<photo@example.org>"))
        assert row is not None
        [attachment] = row.attachments
        assert (attachment.filename, attachment.content_type, attachment.size) == (
            "Photo d’été.jpg",
            "image/jpeg",
            len(b"\xff\xd8\xff\xe0 not really a jpeg"),
        )
        assert attachment.content == b"\xff\xd8\xff\xe0 not really a jpeg"


def test_html_mail_is_read_as_text_and_quoted_replies_and_signatures_are_set_apart(
    mailbox: Mailbox, session_factory: sessionmaker[Session], triage: TriageModel
) -> None:
    message = mail("Streetlight", "plain version", message_id="<html@example.org>")
    message.add_alternative(
        "<html><head><style>p{color:red}</style><script>alert('x')</script></head><body>"
        "<p>The streetlight at Mill St &amp; King St is out.</p><p>-- <br>Dana</p>"
        "<blockquote>Earlier message from the Region</blockquote></body></html>",
        subtype="html",
    )
    message.make_mixed()
    only_html = EmailMessage()
    for name in ("From", "To", "Subject"):
        only_html[name] = message[name]
    only_html["Message-ID"] = "<only-html@example.org>"
    only_html.set_content(
        "<p>The streetlight at Mill St &amp; King St is out.</p><script>alert('x')</script>"
        "<p>-- </p><p>Dana Chu</p><blockquote>On Monday you wrote: thanks</blockquote>",
        subtype="html",
    )
    append(mailbox, only_html)

    ingest(mailbox, session_factory, triage)

    row = row_for(session_factory, "<only-html@example.org>")
    assert row.new_text == "The streetlight at Mill St & King St is out."
    assert "alert" not in (row.new_text or "") + (row.quoted_text or "")
    assert row.quoted_text == "> On Monday you wrote: thanks"


def test_same_message_id_same_body_is_one_message_and_different_bodies_are_two(
    mailbox: Mailbox, session_factory: sessionmaker[Session], triage: TriageModel
) -> None:
    original = raw(mail("Graffiti", "Tags on the Elm Ridge library wall.", message_id="<same@example.org>"))
    relayed = b"Received: from relay2.example.org by mx.northvale.ca; Mon, 23 Nov 2026 09:00:00 -0500\r\n" + original
    changed = original.replace(b"library wall", b"arena doors")
    no_id = raw(mail("Litter", "Litter all along Birch Crescent.")).replace(b"Message-ID:", b"X-Old-Message-ID:")
    append(mailbox, original, relayed, changed, no_id, no_id)

    summary = ingest(mailbox, session_factory, triage)

    assert (summary.fetched, summary.stored, summary.duplicates) == (5, 3, 2)
    with session_factory() as session:
        rows = session.scalars(select(InboundEmail).order_by(InboundEmail.id)).all()
        assert [row.message_id for row in rows] == ["<same@example.org>", "<same@example.org>", None]
        assert ["arena doors" in (row.new_text or "") for row in rows] == [False, True, False]


def test_an_emergency_goes_to_agents_and_notifies_on_call_by_email_and_webhook(
    mailbox: Mailbox,
    session_factory: sessionmaker[Session],
    triage: TriageModel,
    relay: tuple[Relay, SmtpRelay],
    webhook: str,
) -> None:
    message = mail(
        "Water main break!!",
        "Water is gushing out of the road at 55 Orchard Lane in Harlow Falls and flooding into basements. "
        "Please send someone right now.",
    )
    append(mailbox, message)
    config = ProcessConfig(mailbox="test", oncall_email="oncall@northvale.ca", oncall_webhook_url=webhook)

    summary = ingest(mailbox, session_factory, triage, config)

    assert (summary.needs_human, summary.escalated, summary.auto_acknowledged) == (1, 1, 1)
    row = row_for(session_factory, message["Message-ID"])
    assert row.status == "needs_human" and row.urgency == "emergency" and row.service_request_id is None
    handler, smtp = relay
    assert deliver_pending(session_factory, smtp, MAIL_FROM, "test") == 3
    oncall = next(m for m in handler.messages if m["Subject"].startswith("EMERGENCY"))
    assert oncall["To"] == "oncall@northvale.ca" and "55 Orchard Lane" in oncall.get_content()
    ack = next(m for m in handler.messages if m["To"] == "priya.raman@example.org")
    assert "911" in ack.get_content() and "905-555-0111" in ack.get_content()
    [notice] = Webhook.received
    assert notice["event"] == "emergency_email" and notice["service_code"] == "water_main_break"
    assert notice["on_call"]  # a name and number from the roster, or the instruction to call the supervisor


# No emergency phrase, but the model puts P(emergency) between the possible-emergency and paging thresholds.
POSSIBLE_EMERGENCY = (
    "Water in the road",
    "There is a lot of water coming up through a crack in the road at 12 Pinecrest Lane, it started an hour ago.",
)


def test_a_possible_emergency_waits_at_the_top_of_the_queue_and_pages_nobody(
    mailbox: Mailbox,
    session_factory: sessionmaker[Session],
    triage: TriageModel,
    relay: tuple[Relay, SmtpRelay],
    webhook: str,
) -> None:
    [prediction] = triage.predict([compose_text(*POSSIBLE_EMERGENCY)])
    assert prediction.emergency_tier == "possible" and not prediction.emergencies  # the model's tier, not a rule
    earlier = mail("question", "Hi, who do I talk to about the thing from last week? Thanks")
    possible = mail(*POSSIBLE_EMERGENCY, sender="Omar Haddad <omar.haddad@example.org>")
    append(mailbox, earlier, possible)
    config = ProcessConfig(mailbox="test", oncall_email="oncall@northvale.ca", oncall_webhook_url=webhook)

    summary = ingest(mailbox, session_factory, triage, config)

    assert (summary.needs_human, summary.escalated) == (2, 0)
    row = row_for(session_factory, possible["Message-ID"])
    assert (row.status, row.urgency, row.service_request_id) == ("needs_human", "emergency", None)
    assert row.status_reason is not None and row.status_reason.startswith("possible emergency:")
    with session_factory() as session:
        first, second = work_queue(session)
        assert session.scalar(select(OutboundMessage).where(OutboundMessage.purpose == "oncall")) is None
    # at the top although it arrived after the question, with the emergency service level and the banner
    assert (first.key, first.urgency, first.flag) == (str(row.id), "emergency", POSSIBLE_EMERGENCY_FLAG)
    assert first.due_at is not None and first.due_at - first.waiting_since == dt.timedelta(minutes=30)
    assert second.flag == "" and second.urgency == "routine"
    handler, smtp = relay
    assert deliver_pending(session_factory, smtp, MAIL_FROM, "test") == 2  # the two acknowledgements, no page
    ack = next(m for m in handler.messages if m["To"] == "omar.haddad@example.org")
    assert "will read it shortly" in ack.get_content() and "911" in ack.get_content()
    assert Webhook.received == []


def test_unclear_mail_goes_to_an_agent_with_the_reason(
    mailbox: Mailbox, session_factory: sessionmaker[Session], triage: TriageModel
) -> None:
    message = mail("question", "Hi, who do I talk to about the thing from last week? Thanks")
    append(mailbox, message)

    summary = ingest(mailbox, session_factory, triage)

    assert summary.needs_human == 1 and summary.routed == 0
    row = row_for(session_factory, message["Message-ID"])
    assert row.status == "needs_human" and row.status_reason


def test_without_a_triage_model_every_message_waits_for_an_agent(
    mailbox: Mailbox, session_factory: sessionmaker[Session]
) -> None:
    append(mailbox, mail(SUBJECT, BODY))

    summary = ingest(mailbox, session_factory, None)

    assert summary.needs_human == 1
    with session_factory() as session:
        assert session.scalar(select(InboundEmail.status_reason)) == "no triage model is installed"


def test_one_fetcher_per_mailbox(session_factory: sessionmaker[Session]) -> None:
    first = Lease(session_factory, "imap://servicefirst@mail/INBOX", ttl=60)
    second = Lease(session_factory, "imap://servicefirst@mail/INBOX", ttl=60)
    first.acquire()
    with pytest.raises(MailboxBusy, match="is being read by"):
        second.acquire()
    first.release()
    second.acquire()  # released: free at once
    expiring = Lease(session_factory, "imap://other@mail/INBOX", ttl=0.5)
    expiring.acquire()
    time.sleep(0.6)
    Lease(session_factory, "imap://other@mail/INBOX").acquire()  # its holder stopped renewing: taken over
    with pytest.raises(MailboxBusy):
        expiring.acquire()


def test_idle_wakes_the_ingester_when_mail_arrives(mailbox: Mailbox, session_factory: sessionmaker[Session]) -> None:
    account = ImapAccount(
        host="127.0.0.1", port=mailbox.port, username=mailbox.user, password=mailbox.password, security="plain"
    )
    source = ImapSource(account, session_factory, max_bytes=CAP)
    stop = threading.Event()
    assert source.wait_for_mail(stop, 1.0, tick=lambda: None) is False  # nothing came: back to a pass

    timer = threading.Timer(0.5, append, args=(mailbox, mail(SUBJECT, BODY)))
    timer.start()
    started = time.monotonic()
    assert source.wait_for_mail(stop, 30.0, tick=lambda: None) is True
    assert time.monotonic() - started < 10  # woken by the server, not by the 30 s limit
    timer.join()


def test_mail_arriving_during_a_pass_is_read_without_waiting_for_the_poll(
    mailbox: Mailbox, session_factory: sessionmaker[Session]
) -> None:
    """IDLE announces only what arrives after it begins; mail that came during the pass must not wait 60 s."""
    first, second = mail("Pothole", "A pothole on Elm Road."), mail("Streetlight", "The light at 4 Oak Ave is out.")
    append(mailbox, first)

    class AppendsDuringThePass(ImapSource):
        appended = False

        def pending(self) -> Iterator[list[ImapMessage]]:
            for batch in super().pending():
                if not self.appended:  # the pass has listed its mail: this one is new to it
                    append(mailbox, second)
                    self.appended = True
                yield batch

    account = ImapAccount(
        host="127.0.0.1", port=mailbox.port, username=mailbox.user, password=mailbox.password, security="plain"
    )
    stop = threading.Event()
    runner = threading.Thread(
        target=run_forever,
        args=(AppendsDuringThePass(account, session_factory, max_bytes=CAP), session_factory, CAP, 60.0, stop),
    )
    started = time.monotonic()
    runner.start()
    try:
        while time.monotonic() - started < 20:
            with session_factory() as session:
                if session.scalar(select(func.count(InboundEmail.id))) == 2:
                    break
            time.sleep(0.2)
        elapsed = time.monotonic() - started
    finally:
        stop.set()
        runner.join(timeout=30)
    assert row_for(session_factory, second["Message-ID"]).subject == "Streetlight"
    assert elapsed < 10, f"the second message waited {elapsed:.1f} s: for the 60 s poll, not for the server"
