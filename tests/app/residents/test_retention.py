"""The retention schedule with a frozen clock: nothing goes before its minimum, everything past its period goes."""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import add_resident_records, free_port
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from civicdesk.cli import app
from civicdesk.db import transaction
from civicdesk.errors import UserError
from civicdesk.models import (
    AppointmentBooking,
    AuditEntry,
    ChatMessage,
    Contact,
    Conversation,
    InboundEmail,
    KnowledgeGap,
    OutboundMessage,
    ServiceRequest,
    TriageCorrection,
)
from civicdesk.residents import retention
from civicdesk.settings import Settings, get_settings
from email_ingest.maildir import PROCESSED_FOLDER, QUARANTINE_FOLDER, MaildirSource

NOW = dt.datetime(2030, 6, 1, 12, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)


@pytest.fixture
def database_url(seeded_database_url: str) -> str:
    return seeded_database_url


@pytest.fixture
def aged(session_factory: sessionmaker[Session]) -> sessionmaker[Session]:
    """Records just inside the one-year minimum, between it and the schedule, and far past every period."""
    with transaction(session_factory) as session:
        add_resident_records(session, NOW, "fresh", 364 * DAY)
        add_resident_records(
            session, NOW, "middle", 800 * DAY
        )  # past the 730-day periods, inside the 1,825- and 2,555-day ones
        add_resident_records(session, NOW, "old", 3000 * DAY)
    return session_factory


def _count(session: Session, model: type, *where: object) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def test_a_dry_run_counts_and_changes_nothing(aged: sessionmaker[Session]) -> None:
    with transaction(aged) as session:
        before = {model: _count(session, model) for model in (Conversation, InboundEmail, AuditEntry, Contact)}
        outcomes = {o.record_type: o.count for o in retention.run(session, NOW, {}, None)}
    assert outcomes["chat_transcripts"] == 2 and outcomes["audit_log"] == 1 and outcomes["email_messages"] == 2
    with aged() as session:
        assert {model: _count(session, model) for model in before} == before
        assert _count(session, InboundEmail, InboundEmail.sender.is_not(None)) == 3


def test_applying_the_schedule_keeps_what_is_young_and_removes_what_is_past_it(aged: sessionmaker[Session]) -> None:
    with transaction(aged) as session:
        retention.run(session, NOW, {}, None, apply=True)
    with aged() as session:
        # 730-day types: only the fresh records are left
        assert session.scalars(select(Conversation.public_id)).all() == ["conv-fresh"]
        assert _count(session, ChatMessage) == 1
        assert _count(session, OutboundMessage) == 1
        assert session.scalars(select(AppointmentBooking.reference)).all() == ["AB-fresh"]
        assert _count(session, KnowledgeGap) == 1
        # 1,825 days for labelled examples, 2,555 for the audit log: only the oldest go
        assert _count(session, TriageCorrection) == 2 and _count(session, AuditEntry) == 2
        # email rows stay for the reports, emptied of everything that identifies the sender
        emails = {e.subject or "": e for e in session.scalars(select(InboundEmail))}
        assert set(emails) == {"Pothole fresh", ""}
        for email in session.scalars(select(InboundEmail).where(InboundEmail.subject.is_(None))):
            assert email.raw == b"" and email.sender is None and email.sender_address is None
            assert email.triage == {"service_code": {"label": "road_repair"}} and email.attachments == []
        # closed requests stay 7 years whole, then lose contact, location and what the text said about the person
        requests = {
            r.reference: r for r in session.scalars(select(ServiceRequest).where(ServiceRequest.reference.like("SR-%")))
        }
        assert requests["SR-middle"].contact_id is not None and requests["SR-middle"].address == "12 Maple Cres"
        old = requests["SR-old"]
        assert old.contact_id is None and old.address is None and old.postal_code is None
        assert "905-555-0143" not in old.description and "12 Maple Cres" not in old.description
        assert all("Tremblay" not in note.body for note in old.notes)
        # a contact goes once nothing refers to it: the old one (request anonymized, booking deleted)
        assert sorted(session.scalars(select(Contact.email).where(Contact.email.like("%@example.ca")))) == [
            "fresh@example.ca",
            "middle@example.ca",
        ]


def test_running_twice_changes_nothing_more(aged: sessionmaker[Session]) -> None:
    with transaction(aged) as session:
        retention.run(session, NOW, {}, None, apply=True)
    with transaction(aged) as session:
        assert all(o.count == 0 for o in retention.run(session, NOW, {}, None, apply=True))


def test_a_longer_period_from_the_settings_keeps_records_longer(aged: sessionmaker[Session]) -> None:
    with transaction(aged) as session:
        retention.run(session, NOW, {"chat_transcripts": 1000}, None, apply=True)
    with aged() as session:
        assert sorted(session.scalars(select(Conversation.public_id))) == ["conv-fresh", "conv-middle"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [({"chat_transcripts": 90}, "shorter than the 365-day minimum"), ({"chats": 800}, "unknown record types")],
)
def test_a_schedule_below_the_minimum_or_with_unknown_types_is_refused(overrides: dict[str, int], message: str) -> None:
    with pytest.raises(UserError, match=message):
        retention.periods(overrides)


def test_the_assistants_trackers_past_the_period_are_deleted(database_url: str) -> None:
    """The table as Rasa's SQL tracker store makes it, in a SQLite file or in PostgreSQL where several Rasa servers
    share it (the real store is exercised in test_chat_rasa.py and test_cluster.py)."""
    engine = create_engine(database_url)
    with engine.begin() as db:
        db.execute(text("CREATE TABLE events (sender_id TEXT, type_name TEXT, timestamp REAL)"))
        for sender, age in (("old", 900), ("recent", 10), ("spans", 900), ("spans", 5)):
            db.execute(
                text("INSERT INTO events (sender_id, type_name, timestamp) VALUES (:sender, 'user', :at)"),
                {"sender": sender, "at": (NOW - age * DAY).timestamp()},
            )
    assert retention.purge_trackers(database_url, NOW - 730 * DAY, apply=False) == 1
    assert retention.purge_trackers(database_url, NOW - 730 * DAY, apply=True) == 1
    with engine.connect() as db:
        assert sorted(set(db.execute(text("SELECT sender_id FROM events")).scalars())) == ["recent", "spans"]
    engine.dispose()


@pytest.fixture
def cli_env(settings: Settings) -> Iterator[dict[str, str]]:
    get_settings.cache_clear()
    yield {"CIVICDESK_DATABASE_URL": settings.sqlalchemy_url, "CIVICDESK_VAR_DIR": str(settings.var_dir)}
    get_settings.cache_clear()


def test_the_command_is_a_dry_run_unless_told_to_apply(
    session_factory: sessionmaker[Session], cli_env: dict[str, str]
) -> None:
    runner = CliRunner()
    schedule = runner.invoke(app, ["retention", "schedule"], env=cli_env)
    assert schedule.exit_code == 0 and "chat_transcripts" in schedule.output
    dry = runner.invoke(app, ["retention", "run"], env=cli_env)
    assert dry.exit_code == 0 and "dry run: nothing changed" in dry.output
    applied = runner.invoke(app, ["retention", "run", "--apply", "--json"], env=cli_env)
    assert applied.exit_code == 0, applied.output
    summary = json.loads(applied.output)
    assert summary["applied"] is True
    assert {r["record_type"] for r in summary["records"]} >= {"chat_transcripts", "assistant_trackers"}
    assert all(r["count"] == 0 for r in summary["records"])  # a freshly seeded database holds nothing old
    get_settings.cache_clear()  # the next run reads other settings
    refused = runner.invoke(app, ["retention", "run"], env={**cli_env, "CIVICDESK_RETENTION_DAYS": '{"audit_log": 30}'})
    # main() turns a UserError into one line on stderr and exit status 2 (test_cli.py checks that path)
    assert isinstance(refused.exception, UserError) and "365-day minimum" in str(refused.exception)


def test_the_mailbox_keeps_stored_mail_only_as_long_as_the_schedule(
    aged: sessionmaker[Session], tmp_path: Path
) -> None:
    """Maildir here; the IMAP folders are purged the same way (test_ingest_imap.py, on Dovecot)."""
    source = MaildirSource(tmp_path / "inbox")
    files = {
        "old": (PROCESSED_FOLDER, 800),
        "young": (PROCESSED_FOLDER, 364),
        "old-junk": (QUARANTINE_FOLDER, 3000),
    }
    for name, (folder, days) in files.items():
        path = tmp_path / "inbox" / f".{folder}" / "cur" / f"{name}.eml"
        path.write_bytes(b"From: Jo <jo@example.ca>\r\nSubject: old\r\n\r\nhello")
        moment = (NOW - days * DAY).timestamp()
        os.utime(path, (moment, moment))
    unread = source.box.add(b"From: Jo <jo@example.ca>\r\n\r\nnot stored yet")
    with transaction(aged) as session:
        outcomes = retention.run(session, NOW, {}, None, apply=True, mail_store=source.purge_before)
    assert {o.record_type: o.count for o in outcomes}["mail_store"] == 2
    left = sorted(p.name for p in (tmp_path / "inbox").glob(".*/cur/*"))
    assert left == ["young.eml"]
    assert unread in source.box


def test_a_mail_server_that_cannot_be_reached_is_reported_and_the_database_part_still_applies(
    aged: sessionmaker[Session], cli_env: dict[str, str]
) -> None:
    env = {**cli_env, "CIVICDESK_IMAP_HOST": "127.0.0.1", "CIVICDESK_IMAP_PORT": str(free_port())}
    env |= {"CIVICDESK_IMAP_SECURITY": "plain", "CIVICDESK_IMAP_TIMEOUT_SECONDS": "2"}
    env |= {"CIVICDESK_IMAP_USERNAME": "servicefirst", "CIVICDESK_IMAP_PASSWORD": "not-used"}
    result = CliRunner().invoke(app, ["retention", "run", "--apply"], env=env)
    assert result.exit_code == 1
    assert "mail_store" in result.output and "not reached: ConnectionRefusedError" in result.output
    with aged() as session:  # the real clock: the "old" and "middle" records are past their periods already
        assert session.scalars(select(Conversation.public_id).where(Conversation.public_id == "conv-old")).all() == []
