"""The Maildir drop folder: every message stored exactly once, unreadable ones quarantined, never lost."""

from __future__ import annotations

import mailbox
from pathlib import Path

from helpers import resident_email
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from civicdesk.health import ingester_component
from civicdesk.models import ComponentHeartbeat, InboundEmail
from email_ingest.maildir import MaildirSource
from email_ingest.runner import beat, ingest_once

CAP = 100_000


def drop(path: Path, raw: bytes) -> str:
    return mailbox.Maildir(path, create=True).add(raw)


def count(factory: sessionmaker[Session], status: str | None = None) -> int:
    with factory() as session:
        query = select(func.count()).select_from(InboundEmail)
        if status:
            query = query.where(InboundEmail.status == status)
        return int(session.scalar(query) or 0)


def test_messages_are_stored_once_and_moved(tmp_path: Path, session_factory: sessionmaker[Session]) -> None:
    inbox = tmp_path / "inbox"
    drop(inbox, resident_email("Pothole on Lakeshore Rd", "Deep pothole near 410 Lakeshore Road.", "<a@x.org>"))
    drop(inbox, resident_email("Missed green bin", "Our green bin on Birch Crescent was missed.", "<b@x.org>"))
    source = MaildirSource(inbox)

    first = ingest_once(source, session_factory, CAP)
    second = ingest_once(source, session_factory, CAP)

    assert (first.fetched, first.stored, first.duplicates, first.quarantined) == (2, 2, 0, 0)
    assert second.fetched == 0
    assert len(mailbox.Maildir(inbox).get_folder("Processed")) == 2
    with session_factory() as session:
        row = session.scalar(select(InboundEmail).where(InboundEmail.message_id == "<a@x.org>"))
        assert row is not None and row.subject == "Pothole on Lakeshore Rd" and b"410 Lakeshore" in row.raw


def test_a_message_left_behind_by_a_crash_is_not_stored_twice(
    tmp_path: Path, session_factory: sessionmaker[Session]
) -> None:
    inbox = tmp_path / "inbox"
    raw = resident_email("Streetlight out", "The light at Mill St and King St is out.", "<c@x.org>")
    drop(inbox, raw)
    ingest_once(MaildirSource(inbox), session_factory, CAP)
    drop(inbox, raw)  # as if the process died after the commit and before the move

    again = ingest_once(MaildirSource(inbox), session_factory, CAP)

    assert (again.fetched, again.duplicates, again.stored) == (1, 1, 0)
    assert count(session_factory) == 1


def test_oversize_and_unreadable_messages_are_quarantined_not_lost(
    tmp_path: Path, session_factory: sessionmaker[Session]
) -> None:
    inbox = tmp_path / "inbox"
    drop(inbox, resident_email("Photos", "x" * (CAP + 1), "<big@x.org>"))
    drop(inbox, b"\x00\x81\xfe junk that is not an email \xff" * 3)
    drop(inbox, resident_email("Graffiti", "Tags on the Elm Ridge library wall.", "<ok@x.org>"))

    summary = ingest_once(MaildirSource(inbox), session_factory, CAP)

    assert (summary.fetched, summary.stored, summary.quarantined) == (3, 3, 2)
    assert count(session_factory, "quarantined") == 2
    with session_factory() as session:
        big = session.scalar(select(InboundEmail).where(InboundEmail.size > CAP))
        assert big is not None and big.status == "quarantined" and "exceeds the cap" in (big.status_reason or "")
    box = mailbox.Maildir(inbox)
    assert len(box) == 0
    assert len(box.get_folder("Quarantine")) == summary.quarantined


def test_heartbeat_is_recorded(session_factory: sessionmaker[Session]) -> None:
    beat(session_factory, "maildir:/var/mail", "ok", "last pass stored 0")
    beat(session_factory, "maildir:/var/mail", "ok", "last pass stored 2")
    with session_factory() as session:
        heartbeat = session.get(ComponentHeartbeat, ingester_component("maildir:/var/mail"))
        assert heartbeat is not None and heartbeat.detail.endswith("stored 2")


def test_a_fresh_drop_folder_is_created_with_its_parents(tmp_path: Path) -> None:
    source = MaildirSource(tmp_path / "var" / "mail" / "inbox")
    assert list(source.pending()) == []
    assert {"Processed", "Quarantine"} <= set(mailbox.Maildir(tmp_path / "var" / "mail" / "inbox").list_folders())
