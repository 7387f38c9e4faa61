"""The ingest loop: drain the mail source into the database, one message at a time, and report a heartbeat."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Protocol, runtime_checkable

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from civicdesk.db import transaction, utcnow
from civicdesk.health import INGESTER
from civicdesk.models import ComponentHeartbeat, InboundEmail
from email_ingest.maildir import PROCESSED_FOLDER, QUARANTINE_FOLDER, RawMessage, read_headers

log = logging.getLogger(__name__)


class MailSource(Protocol):
    """Where messages come from: the Maildir drop folder or an IMAP folder."""

    @property
    def name(self) -> str: ...

    def pending(self) -> Iterable[RawMessage]: ...

    def move_to(self, key: str, folder: str) -> None: ...


@runtime_checkable
class TrackedSource(Protocol):
    """A server source (IMAP) that checks sizes before downloading and keeps its place in the database.

    `declared_size` is the size the server announced: an oversize message arrives with its headers only.
    `checkpoint` runs inside the message's transaction, so the row and the source's progress commit together.
    """

    def declared_size(self, message: RawMessage) -> int: ...

    def checkpoint(self, session: Session, message: RawMessage, outcome: str) -> None: ...


@dataclass
class IngestSummary:
    fetched: int = 0
    stored: int = 0
    duplicates: int = 0
    quarantined: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def ingest_once(source: MailSource, factory: sessionmaker[Session], max_bytes: int) -> IngestSummary:
    started = time.perf_counter()
    summary = IngestSummary()
    for message in source.pending():
        summary.fetched += 1
        outcome = _store(message, source, factory, max_bytes)
        setattr(summary, outcome, getattr(summary, outcome) + 1)
        # Only after the row is committed does the file leave the inbox: a crash here means a duplicate, not a loss.
        source.move_to(message.key, QUARANTINE_FOLDER if outcome == "quarantined" else PROCESSED_FOLDER)
    summary.seconds = round(time.perf_counter() - started, 3)
    return summary


def _store(message: RawMessage, source: MailSource, factory: sessionmaker[Session], max_bytes: int) -> str:
    tracked = source if isinstance(source, TrackedSource) else None
    size = tracked.declared_size(message) if tracked else len(message.raw)
    with transaction(factory) as session:
        outcome = _add_row(session, message, source.name, size, max_bytes)
        if tracked:
            tracked.checkpoint(session, message, outcome)
    return outcome


def _add_row(session: Session, message: RawMessage, source_name: str, size: int, max_bytes: int) -> str:
    digest = message.sha256
    if session.scalar(select(InboundEmail.id).where(InboundEmail.sha256 == digest)) is not None:
        return "duplicates"
    row = InboundEmail(sha256=digest, source=source_name, raw=message.raw, size=size)
    problem = None
    try:  # headers are read even from an oversize message, so the person who looks at it knows what it is
        headers = read_headers(message.raw)
        row.message_id, row.subject, row.sender = headers.message_id, headers.subject, headers.sender
    except ValueError as error:
        problem = str(error)
    if size > max_bytes:
        row.raw = b""  # not kept whole: the message stays in the Quarantine folder for a person to look at
        problem = f"message of {size} bytes exceeds the cap"
    if problem:
        row.status, row.status_reason = "quarantined", problem
    session.add(row)
    return "quarantined" if row.status == "quarantined" else "stored"


def beat(factory: sessionmaker[Session], state: str, detail: str) -> None:
    with transaction(factory) as session:
        heartbeat = session.get(ComponentHeartbeat, INGESTER) or ComponentHeartbeat(component=INGESTER)
        heartbeat.state, heartbeat.detail, heartbeat.beat_at = state, detail, utcnow()
        session.add(heartbeat)


def run_forever(
    source: MailSource,
    factory: sessionmaker[Session],
    max_bytes: int,
    poll_seconds: float,
    stop: threading.Event,
) -> None:
    while not stop.is_set():
        try:
            summary = ingest_once(source, factory, max_bytes)
            beat(
                factory,
                "ok",
                f"{source.name}: last pass stored {summary.stored}, quarantined {summary.quarantined}",
            )
            if summary.fetched:
                log.info("ingest pass: %s", summary.as_dict())
        except Exception:  # keep the loop alive; the heartbeat tells /health what went wrong
            log.exception("ingest pass failed")
            try:
                beat(factory, "error", "last pass failed; see the ingester log")
            except Exception:
                log.exception("cannot record heartbeat")
        stop.wait(poll_seconds)
