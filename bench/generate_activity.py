"""A realistic month of contact-centre activity for the Regional Municipality of Northvale, for reports.

    .venv/bin/python bench/generate_activity.py [--month 2026-10] [--scale 1.0] [--seed 7] [--database-url URL]
                                                [--out report.pdf]

Requests (phone, web, counter, Open311), chats (contained by the assistant, or handed to an agent for the
assistant's reasons), email (routed by the pipeline, left to an agent who confirms or corrects the labels, or
threaded onto a request as a second contact) and questions the assistant could not answer, spread over the
month's days and busier in business hours. Everything goes in through the service layer (`service_requests.service`,
`chat.service`, `mail.cases`), then the timestamps are moved into the month, as if it had happened then.

`generate_month` returns a `Ledger`: what it made, tallied as it made it, which the tests compare with the
report's figures. At scale 1 a month is about 500 records (230 requests, 120 chats, 90 emails, 60 questions),
which the tests use; `--scale 20` makes a busy centre (about 4,400 requests).
Without --database-url the script makes a scratch SQLite database, migrates and seeds it, fills it, then prints
how long the report takes to compute and to render in each format.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import random
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from civicdesk import business_time, contacts  # noqa: E402
from civicdesk.chat import service as chat  # noqa: E402
from civicdesk.mail import cases as email_cases  # noqa: E402
from civicdesk.models import Conversation, Holiday, InboundEmail, KnowledgeGap, ServiceRequest  # noqa: E402
from civicdesk.service_requests import service as service_requests  # noqa: E402

REGION_TZ = business_time.REGION_TZ
# Relative volume by local hour: a contact centre's day, quiet at night, busiest late morning.
HOUR_WEIGHTS = [1, 1, 1, 1, 1, 2, 4, 8, 14, 18, 19, 17, 14, 15, 16, 14, 11, 8, 6, 5, 4, 3, 2, 1]
# Direct requests by channel (chat and email requests come from the chats and emails below).
DIRECT_CHANNELS = {"phone": 50, "web": 25, "counter": 10, "open311": 15}
SERVICES = {
    "missed_collection": 14, "road_repair": 12, "streetlight_out": 6, "snow_ice": 5, "noise_complaint": 7,
    "tree_maintenance": 6, "illegal_dumping": 5, "bin_repair_replacement": 6, "property_tax_billing": 7,
    "parking_enforcement": 5, "water_main_break": 2, "sewer_backup": 2, "drainage_flooding": 3, "graffiti": 3,
    "animal_services": 4, "transit": 4, "general_inquiry": 6, "sidewalk_repair": 3, "parks_maintenance": 3,
}  # fmt: skip
HANDOFF_REASONS = {
    "resident_request": 40, "not_understood": 25, "complaint": 12, "frustration": 10, "damage_claim": 5,
    "emergency_water": 3, "assistant_unavailable": 5,
}  # fmt: skip
STREETS = ["Harlow Road", "Maple Crescent", "Elm Street", "Lakeshore Drive", "Orchard Lane", "Queen Street North"]
# Unanswered questions, by topic: a few phrasings each, so clustering has something to find.
GAP_TOPICS = [
    ["when does leaf and yard waste pickup end this fall", "last yard waste collection date this year",
     "is there leaf pickup in november", "when is the final leaf collection"],
    ["can I get a permit for a backyard fire pit", "do I need a burn permit for a fire pit",
     "are backyard fire pits allowed in northvale", "fire pit permit rules"],
    ["how do I register my dog for a licence", "where do I buy a dog licence", "dog licence renewal cost"],
    ["is the transit terminal open on remembrance day", "bus schedule on remembrance day",
     "do buses run on remembrance day"],
    ["how do I dispute my water bill", "my water bill is too high who do I call", "water bill seems wrong"],
    ["can I put out extra garbage bags after the holidays", "extra garbage bag tags where to buy",
     "how many garbage bags can I put out"],
]  # fmt: skip
ACTOR = "generator"


@dataclass
class Ledger:
    """What the generator made, tallied as it went."""

    requests_by_channel: Counter[str] = field(default_factory=Counter)
    requests_by_service: Counter[str] = field(default_factory=Counter)  # service codes
    chats: int = 0
    contained: int = 0
    ratings: Counter[int] = field(default_factory=Counter)  # end-of-chat survey answers by score
    handoff_reasons: Counter[str] = field(default_factory=Counter)
    closed: int = 0
    closed_on_target: int = 0
    first_contact: int = 0
    emails_by_status: Counter[str] = field(default_factory=Counter)
    corrections: int = 0
    misroutes_by_service: Counter[str] = field(default_factory=Counter)  # the service the agent chose
    gaps: int = 0

    @property
    def requests(self) -> int:
        return sum(self.requests_by_channel.values())


def local(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    """A moment given in Northvale's local time, as UTC."""
    return dt.datetime.combine(day, dt.time(hour, minute), REGION_TZ).astimezone(dt.UTC)


def _move_request(session: Session, request: ServiceRequest, created_at: dt.datetime) -> None:
    """Place a just-created request at `created_at`, with the due time it would have had then."""
    holidays = set(session.scalars(select(Holiday.date)))
    service = request.service
    targets = {
        "routine": service.target_routine_hours,
        "urgent": service.target_urgent_hours,
        "emergency": service.target_emergency_hours,
    }
    request.created_at = request.updated_at = created_at
    request.due_at = business_time.due_time(
        created_at, request.urgency, targets, service.department.business_hours, holidays
    )
    for change in request.history:
        change.at = created_at


def add_request(
    session: Session,
    service_code: str,
    channel: str,
    created_at: dt.datetime,
    *,
    urgency: str = "routine",
    number: int = 1,
) -> ServiceRequest:
    """A request as the channel would file it, created at `created_at` (its due time counted from then)."""
    street = STREETS[number % len(STREETS)]
    request = service_requests.create_request(
        session,
        service_requests.RequestIn(
            service_code=service_code,
            description=f"Reported by {channel}: {service_code.replace('_', ' ')} near {street}",
            channel=channel,
            address=f"{100 + number} {street}",
            urgency=urgency,
            contact=contacts.ContactIn(
                name=f"Resident {number}", email=f"resident{number}@example.org", phone=f"905{2000000 + number}"
            ),
        ),
        ACTOR,
        require_answers=False,
    )
    _move_request(session, request, created_at)
    session.flush()
    return request


def close_request(session: Session, request: ServiceRequest, closed_at: dt.datetime, *, reopen: bool = False) -> None:
    """Close the request at `closed_at`; with `reopen`, it was closed, reopened (the resident said it was not
    fixed) and closed again."""
    if reopen:
        service_requests.update_request(session, request, ACTOR, status="closed", resolution="Crew attended.")
        service_requests.update_request(session, request, ACTOR, status="open")
    service_requests.update_request(session, request, ACTOR, status="closed", resolution="Resolved by the crew.")
    request.closed_at = request.updated_at = closed_at
    for change in request.history:
        if change.field != "created":
            change.at = closed_at


def add_chat(
    session: Session,
    started_at: dt.datetime,
    *,
    handoff_reason: str | None = None,
    request: ServiceRequest | None = None,
    question: str = "When is my garbage day?",
    rating: int | None = None,
) -> Conversation:
    """A chat: the resident writes, the assistant answers; with a reason, it goes to the queue and an agent
    takes it. With `request`, the chat is where the request was filed; with `rating`, the resident answered
    the end-of-chat survey."""
    conversation = chat.start(session)
    chat.record(session, conversation, "resident", question)
    chat.record(session, conversation, "bot", "Here is what I found in our knowledgebase.")
    if handoff_reason is not None:
        chat.to_queue(session, conversation, handoff_reason, now=started_at + dt.timedelta(minutes=2))
        chat.claim(session, conversation, "agent@northvale.ca", "Priya")
        chat.agent_says(session, conversation, "agent@northvale.ca", "Hello, I can help with that.", "Priya")
    if request is not None:
        chat.link_request(session, conversation, request)
    chat.close(session, conversation, ACTOR)
    conversation.created_at = conversation.updated_at = started_at
    conversation.closed_at = started_at + dt.timedelta(minutes=12 if handoff_reason else 4)
    conversation.waiting_since = None
    conversation.rating = rating
    for position, message in enumerate(conversation.messages):
        message.at = started_at + dt.timedelta(seconds=20 * position)
    session.flush()
    return conversation


def _raw_email(number: int, subject: str, body: str) -> bytes:
    message = EmailMessage()
    message["From"] = f"Resident {number} <resident{number}@example.org>"
    message["To"] = "servicefirst@northvale.ca"
    message["Subject"] = subject
    message["Message-ID"] = f"<generated-{number}@example.org>"
    message.set_content(body)
    return message.as_bytes().replace(b"\n", b"\r\n")


def add_email(
    session: Session,
    received_at: dt.datetime,
    status: str,
    *,
    number: int,
    service_code: str = "road_repair",
    predicted_service: str | None = None,
    route_minutes: float = 1.0,
    request: ServiceRequest | None = None,
) -> InboundEmail:
    """An email as the pipeline left it. `routed`: filed by the pipeline `route_minutes` after arrival (link it to
    `request`); `needs_human`: an agent confirmed or corrected the labels (the model said `predicted_service`,
    the agent `service_code`) and handled it `route_minutes` after arrival; `threaded`: a reply added to
    `request`."""
    subject = f"{service_code.replace('_', ' ').capitalize()} on {STREETS[number % len(STREETS)]}"
    raw = _raw_email(number, subject, f"Please look into the {service_code.replace('_', ' ')} near my home.")
    predicted = predicted_service or service_code
    heads = {
        "service_code": {"label": predicted, "confidence": 0.9 if status == "routed" else 0.4, "abstain": False},
        "kind": {"label": "service_request", "confidence": 0.95, "abstain": False},
        "urgency": {"label": "routine", "confidence": 0.9, "abstain": False},
    }
    row = InboundEmail(
        sha256=hashlib.sha256(raw).hexdigest(),
        message_id=f"<generated-{number}@example.org>",
        dedupe_key=hashlib.sha256(raw).hexdigest(),
        source="generated",
        raw=raw,
        size=len(raw),
        subject=subject,
        sender=f"Resident {number} <resident{number}@example.org>",
        sender_address=f"resident{number}@example.org",
        received_at=received_at,
        status=status,
        new_text=f"Please look into the {service_code.replace('_', ' ')} near my home.",
        triage={"heads": heads, "entities": []} if status != "threaded" else None,
        urgency="routine",
        processed_at=received_at + dt.timedelta(minutes=route_minutes if status != "needs_human" else 1),
        service_request_id=request.id if request is not None else None,
    )
    session.add(row)
    session.flush()
    if status == "needs_human":
        labels = email_cases.Labels(service_code, "service_request", "routine")
        correction = email_cases.record_labels(session, row, labels, "agent@northvale.ca")
        correction.created_at = row.handled_at = received_at + dt.timedelta(minutes=route_minutes)
        row.handled_by = "agent@northvale.ca"
        session.flush()
    return row


def add_gap(session: Session, asked_at: dt.datetime, question: str) -> KnowledgeGap:
    gap = KnowledgeGap(query=question, channel="chat", top_slug=None, top_score=0.2, asked_at=asked_at)
    session.add(gap)
    session.flush()
    return gap


RATINGS = [1, 2, 3, 4, 5]
SURVEY_WEIGHTS = [4, 5, 12, 35, 44]


def _pick(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), list(weights.values()))[0]


def _moment(rng: random.Random, start: dt.date, days: int) -> dt.datetime:
    day = start + dt.timedelta(days=rng.randrange(days))
    return local(day, rng.choices(range(24), HOUR_WEIGHTS)[0], rng.randrange(60))


def _maybe_close(
    session: Session, rng: random.Random, request: ServiceRequest, month_end: dt.datetime, ledger: Ledger
) -> bool:
    """Close most requests, most of them on target; only closings that fall inside the month happen. Returns
    whether it was resolved at first contact (closed, never reopened)."""
    if rng.random() > 0.75:
        return False
    on_target = rng.random() < 0.7
    allowed = request.due_at - request.created_at
    closed_at = (
        request.created_at + allowed * rng.uniform(0.1, 0.95)
        if on_target
        else request.due_at + dt.timedelta(hours=rng.uniform(1, 72))
    )
    if closed_at >= month_end:
        return False
    reopen = rng.random() < 0.08
    close_request(session, request, closed_at, reopen=reopen)
    ledger.closed += 1
    ledger.closed_on_target += closed_at <= request.due_at
    return not reopen


def generate_month(session: Session, month: dt.date, *, seed: int = 7, scale: float = 1.0) -> Ledger:
    """Fill the month starting at `month` (its first day) with activity; the caller commits."""
    rng = random.Random(seed)
    start = month.replace(day=1)
    end = (start + dt.timedelta(days=32)).replace(day=1)
    days, month_end = (end - start).days, local(end, 0)
    ledger = Ledger()
    number = 0
    follow_ups: list[ServiceRequest] = []

    def filed(request: ServiceRequest) -> None:
        ledger.requests_by_channel[request.channel] += 1
        ledger.requests_by_service[request.service.code] += 1
        if _maybe_close(session, rng, request, month_end, ledger):
            follow_ups.append(request)

    for _ in range(round(150 * scale)):
        number += 1
        channel, service = _pick(rng, DIRECT_CHANNELS), _pick(rng, SERVICES)
        urgency = "urgent" if rng.random() < 0.1 else "routine"
        filed(add_request(session, service, channel, _moment(rng, start, days), urgency=urgency, number=number))

    for _ in range(round(120 * scale)):
        number += 1
        started = _moment(rng, start, days)
        reason = _pick(rng, HANDOFF_REASONS) if rng.random() < 0.3 else None
        request = None
        if reason is None and rng.random() < 0.25:  # the assistant filed a request itself
            request = add_request(session, _pick(rng, SERVICES), "chat", started, number=number)
            filed(request)
        # About a third of residents answer the survey; most are content, a few are not.
        rating = rng.choices(RATINGS, SURVEY_WEIGHTS)[0] if rng.random() < 0.35 else None
        add_chat(session, started, handoff_reason=reason, request=request, rating=rating)
        if rating is not None:
            ledger.ratings[rating] += 1
        ledger.chats += 1
        ledger.contained += reason is None
        if reason is not None:
            ledger.handoff_reasons[reason] += 1

    for _ in range(round(80 * scale)):
        number += 1
        received = _moment(rng, start, days)
        service = _pick(rng, SERVICES)
        if rng.random() < 0.6:
            request = add_request(session, service, "email", received, number=number)
            add_email(session, received, "routed", number=number, service_code=service,
                      route_minutes=rng.uniform(0.2, 3), request=request)  # fmt: skip
            filed(request)
            ledger.emails_by_status["routed"] += 1
        else:
            predicted = service if rng.random() < 0.65 else _pick(rng, SERVICES)
            add_email(session, received, "needs_human", number=number, service_code=service,
                      predicted_service=predicted, route_minutes=rng.uniform(20, 600))  # fmt: skip
            ledger.emails_by_status["needs_human"] += 1
            ledger.corrections += 1
            if predicted != service:
                ledger.misroutes_by_service[service] += 1

    # A resident writes again about some requests resolved at first contact: no longer first contact. The
    # reply arrives a day after the request, so it stays inside the month when the request does.
    second = set()
    for request in rng.sample(follow_ups, k=len(follow_ups) // 10):
        number += 1
        reply_at = min(request.created_at + dt.timedelta(days=1), month_end - dt.timedelta(minutes=1))
        add_email(session, reply_at, "threaded", number=number, service_code=request.service.code, request=request)
        ledger.emails_by_status["threaded"] += 1
        second.add(request.id)
    ledger.first_contact = sum(1 for r in follow_ups if r.id not in second)

    for _ in range(round(60 * scale)):
        topic = rng.choices(GAP_TOPICS, [30, 20, 15, 12, 12, 11])[0]
        add_gap(session, _moment(rng, start, days), rng.choice(topic))
        ledger.gaps += 1
    session.flush()
    return ledger


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--month", default="2026-10", help="YYYY-MM (default 2026-10)")
    parser.add_argument("--scale", type=float, default=1.0, help="1 is about 500 records")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--database-url", help="a migrated, seeded database (default: a scratch SQLite file)")
    parser.add_argument("--out", type=Path, help="also write the report here (.html, .pdf or .csv)")
    args = parser.parse_args()
    month = dt.date.fromisoformat(args.month + "-01")

    from civicdesk import migrate
    from civicdesk.catalogue import seed
    from civicdesk.db import make_engine, make_session_factory, transaction
    from civicdesk.reports import figures as reports
    from civicdesk.reports import render as report_render

    scratch = tempfile.TemporaryDirectory()
    url = args.database_url or f"sqlite:///{scratch.name}/activity.db"
    if not args.database_url:
        migrate.upgrade(url)
    factory = make_session_factory(make_engine(url))
    if not args.database_url:
        with transaction(factory) as session:
            seed.load(session)
    began = time.perf_counter()
    with transaction(factory) as session:
        ledger = generate_month(session, month, seed=args.seed, scale=args.scale)
    print(f"generated {ledger.requests} requests, {ledger.chats} chats, {sum(ledger.emails_by_status.values())} "
          f"emails, {ledger.gaps} unanswered questions in {time.perf_counter() - began:.1f} s")  # fmt: skip
    end = (month + dt.timedelta(days=32)).replace(day=1)
    with factory() as session:
        began = time.perf_counter()
        report = reports.build(session, reports.Period(month, end))
        print(f"report computed in {time.perf_counter() - began:.2f} s")
    for fmt in report_render.FORMATS:
        began = time.perf_counter()
        data = report_render.render(report, fmt)
        print(f"{fmt}: {len(data) / 1024:.0f} KiB in {time.perf_counter() - began:.2f} s")
        if args.out and args.out.suffix == f".{fmt}":
            args.out.write_bytes(data)
            print(f"wrote {args.out}")
    scratch.cleanup()


if __name__ == "__main__":
    main()
