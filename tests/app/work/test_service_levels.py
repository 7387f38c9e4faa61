"""Service levels: due times in Service First's hours, flags in the queue, escalation once, the supervisor's figures."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from civicdesk.business_time import REGION_TZ
from civicdesk.chat import service as chat
from civicdesk.cli import app
from civicdesk.console import dashboard
from civicdesk.console.templating import environment
from civicdesk.db import run_alone, transaction, utcnow
from civicdesk.errors import UserError
from civicdesk.models import AuditEntry, Conversation, InboundEmail, OutboundMessage, ServiceRequest
from civicdesk.residents import retention
from civicdesk.settings import Settings, get_settings
from civicdesk.staff import auth
from civicdesk.work import queue, service_levels, sources

PASSWORD = "correct horse battery staple"
MINUTE = dt.timedelta(minutes=1)
DAY = dt.timedelta(days=1)


@pytest.fixture
def database_url(seeded_database_url: str) -> str:
    return seeded_database_url  # Service First's calendar and the holidays are seeded


def local(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=REGION_TZ)


def test_due_times_count_service_first_hours_except_for_emergencies(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        calendar = service_levels.Calendar.load(session)
    tuesday_morning = local(2026, 11, 24, 9, 0)
    assert calendar.due("chat", "routine", tuesday_morning) == tuesday_morning + 10 * MINUTE
    friday_evening = local(2026, 11, 27, 19, 30)  # after closing: the clock starts on Monday
    assert calendar.due("email", "routine", friday_evening) == local(2026, 11, 30, 16, 0)
    assert calendar.due("email", "urgent", friday_evening) == local(2026, 11, 30, 12, 0)
    assert calendar.due("email", "emergency", friday_evening) == friday_evening + 30 * MINUTE


def test_work_is_ok_then_due_soon_then_overdue() -> None:
    since = local(2026, 11, 24, 9, 0)
    due = since + 10 * MINUTE
    assert service_levels.state(since, due, since + 7 * MINUTE) == "ok"
    assert service_levels.state(since, due, since + 8 * MINUTE) == "due_soon"
    assert service_levels.state(since, due, since + 11 * MINUTE) == "overdue"


def _waiting_chat(session: Session, since: dt.datetime, urgency: str = "routine") -> Conversation:
    conversation = chat.start(session)
    chat.record(session, conversation, "resident", "I need to speak to someone about my tax bill")
    chat.to_queue(session, conversation, "resident_request", "Property tax question", urgency, now=since)
    return conversation


def _waiting_email(session: Session, since: dt.datetime) -> InboundEmail:
    email = InboundEmail(
        sha256=str(since.timestamp()).ljust(64, "0"),
        source="test",
        raw=b"",
        size=0,
        subject="Question about my water bill",
        status="needs_human",
        urgency="routine",
        received_at=since,
    )
    session.add(email)
    session.flush()
    return email


@pytest.fixture
def supervisor(session_factory: sessionmaker[Session]) -> str:
    with transaction(session_factory) as session:
        auth.create_user(session, "ann.leblanc@northvale.ca", "Ann Leblanc", PASSWORD, "supervisor")
    return "ann.leblanc@northvale.ca"


def test_overdue_work_is_flagged_in_the_queue_and_escalated_once(
    session_factory: sessionmaker[Session], supervisor: str
) -> None:
    now = utcnow()
    with transaction(session_factory) as session:
        late = _waiting_chat(session, now - 10 * DAY)
        fresh = _waiting_chat(session, now)
        old_email = _waiting_email(session, now - 10 * DAY)
    with session_factory() as session:
        levels = {item["key"]: item["service_level"] for item in queue.queue_json(session, "nobody")["items"]}
    assert levels[str(late.id)] == "overdue" and levels[str(fresh.id)] == "ok"
    with transaction(session_factory) as session:
        escalated = service_levels.escalate(session, now)
    assert {(e.kind, e.key, e.urgency) for e in escalated} == {
        ("chat", str(late.id), "urgent"),
        ("email", str(old_email.id), "urgent"),
    }
    with transaction(session_factory) as session:
        assert service_levels.escalate(session, now + MINUTE) == []  # once per wait, not every minute
    with session_factory() as session:
        assert session.get(Conversation, fresh.id).urgency == "routine"  # type: ignore[union-attr]
        notices = session.scalars(select(OutboundMessage).where(OutboundMessage.purpose == "escalation")).all()
        assert [n.recipient for n in notices] == [supervisor]
        assert "Property tax question" in notices[0].body and "Question about my water bill" in notices[0].body
        entries = session.scalars(select(AuditEntry).where(AuditEntry.action == "sla.escalate")).all()
        assert len(entries) == 2


def test_the_dashboard_counts_queues_attainment_and_open_emergencies(session_factory: sessionmaker[Session]) -> None:
    now = utcnow()
    with transaction(session_factory) as session:
        _waiting_chat(session, now - 10 * DAY)
        _waiting_chat(session, now - 10 * DAY, urgency="emergency")
        for waited in (MINUTE, 10 * DAY):  # claimed today: one within its 10 minutes, one far past them
            taken = _waiting_chat(session, now - waited)
            chat.claim(session, taken, "priya.raman@northvale.ca")
            taken.claimed_at = now
    with session_factory() as session:
        board = dashboard.build(session, now, None)
    assert board.queues["chat"].waiting == 2 and board.queues["chat"].overdue == 2
    assert board.queues["chat"].longest_minutes >= 10 * 24 * 60 - 1
    assert (board.today["chat"].answered, board.today["chat"].on_time, board.today["chat"].percent) == (2, 1, 50)
    assert board.today["email"].percent is None  # nothing handled today: no figure rather than 0 %
    assert [e.kind for e in board.emergencies] == ["chat"]


@pytest.fixture
def cli_env(settings: Settings) -> dict[str, str]:
    get_settings.cache_clear()
    return {"CIVICDESK_DATABASE_URL": settings.sqlalchemy_url, "CIVICDESK_VAR_DIR": str(settings.var_dir)}


def test_the_escalation_command_reports_what_it_escalated(
    session_factory: sessionmaker[Session], cli_env: dict[str, str]
) -> None:
    with transaction(session_factory) as session:
        late = _waiting_chat(session, utcnow() - 10 * DAY)
    result = CliRunner().invoke(app, ["sla", "escalate"], env=cli_env)
    get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert f"escalated chat {late.id}" in result.output and "now urgent" in result.output


def test_a_request_is_overdue_past_its_due_time_until_it_is_closed() -> None:
    now = utcnow()
    request = ServiceRequest(status="open", created_at=now - 3 * DAY, due_at=now - DAY)
    assert service_levels.request_state(request, now) == "overdue"
    badge = environment.get_template("console/service_level.html").render(sr=request)
    assert "Overdue" in badge
    request.due_at = now + 2 * MINUTE
    assert service_levels.request_state(request, now) == "due_soon"
    assert "Due soon" in environment.get_template("console/service_level.html").render(sr=request)
    request.status = "closed"
    assert service_levels.request_state(request, now) == "ok"
    assert environment.get_template("console/service_level.html").render(sr=request).strip() == ""


def test_the_escalation_email_never_cuts_a_word_or_a_field(
    session_factory: sessionmaker[Session], supervisor: str
) -> None:
    """The supervisors' email once ended "Chosen time (slo": a long summary is cut before a field or a word."""
    now = utcnow()
    summary = (
        "Reason: not understood.\nTask under way: Booking an appointment (appointment type, preferred day or time, "
        "chosen time, name and contact so far).\nLast message: I can only come Thursday after 2pm, is there "
        "anything at the Harlow Falls clinic then?\nAppointment type: flu_covid_vaccine"
    )
    with transaction(session_factory) as session:
        conversation = chat.start(session)
        chat.record(session, conversation, "resident", "I can only come Thursday after 2pm")
        chat.to_queue(session, conversation, "not_understood", summary, "routine", now=now - 10 * DAY)
    with transaction(session_factory) as session:
        service_levels.escalate(session, now)
    with session_factory() as session:
        [notice] = session.scalars(select(OutboundMessage).where(OutboundMessage.purpose == "escalation")).all()
    line = next(line for line in notice.body.splitlines() if line.startswith("- chat"))
    title = line.split(": ", 1)[1].rsplit(" (was due", 1)[0]
    # Cut before the "Last message:" field (the resident's own words stay in the console), with an ellipsis.
    assert title == (
        "Reason: not understood. Task under way: Booking an appointment (appointment type, preferred day or time, "
        "chosen time, name and contact so far).…"
    )


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("Short enough", 20, "Short enough"),
        ("Reason: handoff. Task under way: Chosen time (slot id) 412", 40, "Reason: handoff. Task under way…"),
        (
            "Reason: a reason long enough to fill the limit. Task under way: booking",
            40,
            "Reason: a reason long enough to fill…",
        ),
        (
            "Reason: a reason long enough to fill the limit. Task under way: booking",
            60,
            "Reason: a reason long enough to fill the limit.…",
        ),
        ("Question about   my\nwater bill", 100, "Question about my water bill"),
    ],
)
def test_shortened_text_ends_on_a_whole_word_or_field(text: str, limit: int, expected: str) -> None:
    assert sources.shortened(text, limit) == expected
    assert len(sources.shortened(text, limit)) <= limit


@pytest.mark.parametrize("seeded_template", ["postgresql"], indirect=True)
def test_while_one_node_escalates_the_others_skip_and_nobody_is_emailed_twice(
    session_factory: sessionmaker[Session], supervisor: str
) -> None:
    now = utcnow()
    with transaction(session_factory) as session:
        late = _waiting_chat(session, now - 10 * DAY)
    with transaction(session_factory) as first_node:
        assert [e.key for e in service_levels.escalate(first_node, now)] == [str(late.id)]
        with transaction(session_factory) as second_node:  # at the same moment, before the first commits
            assert service_levels.escalate(second_node, now) == []
    with session_factory() as session:
        notices = session.scalars(select(OutboundMessage).where(OutboundMessage.purpose == "escalation")).all()
        assert [n.recipient for n in notices] == [supervisor]
    with transaction(session_factory) as session:  # the lock went with the first node's commit
        assert run_alone(session, "sla-escalation")


@pytest.mark.parametrize("seeded_template", ["postgresql"], indirect=True)
def test_retention_applied_on_one_node_refuses_a_second_at_the_same_time(
    session_factory: sessionmaker[Session],
) -> None:
    with transaction(session_factory) as first_node:
        retention.run(first_node, utcnow(), {}, None, apply=True)
        with transaction(session_factory) as second_node, pytest.raises(UserError, match="another node is applying"):
            retention.run(second_node, utcnow(), {}, None, apply=True)
