"""Helpers shared by the app-environment tests (importable because pytest puts tests/app on sys.path)."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from sqlalchemy import select
from sqlalchemy.orm import Session

from civicdesk.contacts import ContactIn
from civicdesk.db import make_engine, make_session_factory
from civicdesk.models import (
    AppointmentBooking,
    AppointmentSlot,
    AuditEntry,
    ChatMessage,
    Contact,
    Conversation,
    EmailAttachment,
    InboundEmail,
    KnowledgeGap,
    OutboundMessage,
    Service,
    ServiceRequest,
    ServiceRequestNote,
    TriageCorrection,
)
from civicdesk.settings import Settings
from email_ingest.outbox import SmtpRelay

CLASSIFIER_DATA = Path(__file__).parent / "data" / "classifiers"  # a 48-row fixture: models train in seconds
CLASSIFIER_TRAIN = CLASSIFIER_DATA / "train.jsonl"
CLASSIFIER_EVAL = CLASSIFIER_DATA / "eval.jsonl"
SEED_TODAY = dt.date(2026, 11, 23)  # a Monday: seeded slots start here


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def make_settings(tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "env": "test",
        "var_dir": tmp_path / "var",
        "secret_key": secrets.token_urlsafe(32),
        "actions_token": secrets.token_urlsafe(32),
        "rasa_url": f"http://127.0.0.1:{free_port()}",
        "action_server_url": f"http://127.0.0.1:{free_port()}",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def resident(number: int = 1) -> ContactIn:
    return ContactIn(name=f"Resident {number}", email=f"resident{number}@example.org", phone=f"905555{number:04d}")


def race(url: str, attempts: list[Callable[[Session], object]]) -> list[object]:
    """Run each attempt in its own thread, session and transaction, all released at once by a barrier.

    Every thread holds its own connection before the barrier opens, so all of them really run together.
    Returns what each attempt returned, or the exception it raised (its transaction rolled back).
    """
    engine = make_engine(url, pool_size=len(attempts), max_overflow=0)
    factory = make_session_factory(engine)
    barrier = threading.Barrier(len(attempts))
    outcomes: list[object] = [None] * len(attempts)

    def run(position: int) -> None:
        with factory() as session:
            session.connection()
            barrier.wait(timeout=60)
            try:
                outcomes[position] = attempts[position](session)
                session.commit()
            except Exception as error:  # the outcome under test, examined by the caller
                session.rollback()
                outcomes[position] = error

    threads = [threading.Thread(target=run, args=(position,)) for position in range(len(attempts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    engine.dispose()
    assert not any(thread.is_alive() for thread in threads), "a racer never finished"
    return outcomes


def resident_email(subject: str, body: str, message_id: str) -> bytes:
    """A plain resident email as a mail server stores it (CRLF line ends)."""
    message = EmailMessage()
    message["From"] = "Priya Raman <priya.raman@example.org>"
    message["To"] = "servicefirst@northvale.ca"
    message["Subject"] = subject
    message["Message-ID"] = message_id
    message.set_content(body)
    return message.as_bytes().replace(b"\n", b"\r\n")


def add_resident_records(session: Session, now: dt.datetime, tag: str, age: dt.timedelta) -> None:
    """One record of every type holding a resident's personal information, all last used `age` before `now`;
    the resident is `tag`@example.ca, and `tag` marks the references."""
    when = now - age
    contact = Contact(name=f"Resident {tag}", email=f"{tag}@example.ca", phone=None, updated_at=when, created_at=when)
    service = session.scalars(select(Service).order_by(Service.id)).first()
    assert service is not None
    request = ServiceRequest(
        reference=f"SR-{tag}",
        service_id=service.id,
        department_id=service.department_id,
        contact=contact,
        description=f"Pothole outside 12 Maple Cres, call me at 905-555-0143 ({tag})",
        address="12 Maple Cres",
        postal_code="L9T 2X5",
        channel="email",
        status="closed",
        created_at=when - dt.timedelta(days=1),
        due_at=when,
        closed_at=when,
    )
    request.notes.append(ServiceRequestNote(author="agent", body=f"Spoke to Mrs. Tremblay at 905-555-0143 ({tag})"))
    session.add(request)
    conversation = Conversation(
        public_id=f"conv-{tag}", owner="closed", created_at=when, updated_at=when, closed_at=when
    )
    conversation.messages.append(ChatMessage(author="resident", text=f"my email is {tag}@example.ca", at=when))
    session.add(conversation)
    email = InboundEmail(
        sha256=tag.ljust(64, "0"),
        source="test",
        raw=f"From: Jo <{tag}@example.ca>\r\n\r\nhello".encode(),
        size=40,
        subject=f"Pothole {tag}",
        sender=f"Jo <{tag}@example.ca>",
        sender_address=f"{tag}@example.ca",
        new_text="hello",
        status="routed",
        triage={"service_code": {"label": "road_repair"}, "entities": [{"label": "PHONE", "text": "905-555-0143"}]},
        received_at=when,
    )
    email.attachments.append(EmailAttachment(filename="photo.jpg", content_type="image/jpeg", size=3, sha256="0" * 64))
    session.add(email)
    session.add(
        OutboundMessage(
            channel="email",
            purpose="acknowledgement",
            recipient=f"{tag}@example.ca",
            body="Thanks",
            status="sent",
            created_at=when,
        )
    )
    slot = session.scalars(select(AppointmentSlot).order_by(AppointmentSlot.id)).first()
    assert slot is not None
    session.add(
        AppointmentBooking(reference=f"AB-{tag}", slot_id=slot.id, contact=contact, channel="chat", created_at=when)
    )
    session.add(KnowledgeGap(query=f"where do I renew my dog licence {tag}", channel="chat", asked_at=when))
    session.add(
        TriageCorrection(subject="Pothole", body=f"call 905-555-0143 {tag}", corrected_by="agent", created_at=when)
    )
    session.add(AuditEntry(actor="agent", action="claim", record_type="conversation", record_id=tag, at=when))


# What the fake assistant answers (FakeRasa.answer).
SCRIPT = '<script>alert("pwned")</script><img src=x onerror="alert(1)">'
HANDOFF = {
    "handoff": {
        "reason": "resident_request",
        "summary": "Pothole on Harlow Road near Elm Street, about 30 cm wide",
        "urgency": "urgent",
        "slots": {"address": "Harlow Road at Elm Street", "hole_size": "30 cm", "empty": None},
    }
}
MENU_PAYLOAD = '/ask_question{"kb_query": "garbage day"}'


SLOW_ANSWER_SECONDS = 3.0  # under the gateway's 10 s limit on the assistant (RASA_TIMEOUT_SECONDS)


class FakeRasa:
    """Rasa's REST webhook with scripted answers on loopback; remembers every (sender, message) it was sent.
    Console and widget tests use it to check exactly what the gateway sends the assistant."""

    def __init__(self) -> None:
        self.received: list[tuple[str, str]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the http.server API)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.received.append((body["sender"], body["message"]))
                answer = json.dumps(fake.answer(body["message"])).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @staticmethod
    def answer(message: str) -> list[dict[str, Any]]:
        if message == "/handback":
            return [{"text": "Thanks for waiting. Is there anything else I can help you with?"}]
        if "agent" in message or "person" in message:
            return [{"text": "I'm passing our conversation to a Service First agent."}, {"custom": HANDOFF}]
        if message == "menu":
            return [{"text": "Pick a topic.", "buttons": [{"title": "Garbage and recycling", "payload": MENU_PAYLOAD}]}]
        if message == "markup please":
            return [{"text": SCRIPT}]
        if message.startswith("slowly"):  # an assistant that takes a while: the widget's "typing" can be seen
            time.sleep(SLOW_ANSWER_SECONDS)
        return [{"text": f"You said: {message}"}]


# An HTML email written to attack the console: scripts, trackers, javascript: links, forms and frames.
HOSTILE_HTML = (
    "<p>Thank you to the crew who cleared the snow on Mill Street.</p>"
    "<script>window.pwned = true</script>"
    '<img src="http://tracker.example/pixel.gif" onerror="window.pwned = true">'
    '<a href="javascript:window.pwned = true">see photos</a> '
    '<a href="https://www.northvale.ca/snow" onclick="window.pwned = true">snow routes</a>'
    '<iframe src="http://evil.example/"></iframe><form action="http://evil.example/"><input name="password"></form>'
    '<div style="background: url(http://tracker.example/bg.gif)">Styled words</div>'
)


def letter(
    subject: str,
    body: str,
    message_id: str,
    *,
    sender: str = "Priya Raman <priya.raman@example.org>",
    html: str | None = None,
    attachment: tuple[str, bytes] | None = None,
) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = "servicefirst@northvale.ca"
    message["Subject"] = subject
    message["Message-ID"] = message_id
    message.set_content(body)
    if html is not None:
        message.add_alternative(html, subtype="html")
    if attachment is not None:
        message.add_attachment(attachment[1], maintype="image", subtype="jpeg", filename=attachment[0])
    return message.as_bytes().replace(b"\n", b"\r\n")


class Relay:
    """A local SMTP server standing in for the Region's outside mail relay."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[list[str]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))  # type: ignore[arg-type]
        self.envelopes.append(list(envelope.rcpt_tos))
        return "250 OK"


@contextlib.contextmanager
def smtp_relay() -> Iterator[tuple[Relay, SmtpRelay]]:
    """aiosmtpd on a free loopback port, and the outbox's settings for it."""
    handler = Relay()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield handler, SmtpRelay(host="127.0.0.1", port=controller.port, security="plain")
    finally:
        controller.stop()
