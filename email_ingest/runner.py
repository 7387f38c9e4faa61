"""The ingest loop: drain the mail source into the database, one message at a time, and report a heartbeat."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import asdict, dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from civicdesk.db import transaction, utcnow
from civicdesk.health import INGESTER
from civicdesk.models import ComponentHeartbeat, InboundEmail
from email_ingest.maildir import PROCESSED_FOLDER, QUARANTINE_FOLDER, MaildirSource, RawMessage, read_headers

log = logging.getLogger(__name__)


@dataclass
class IngestSummary:
    fetched: int = 0
    stored: int = 0
    duplicates: int = 0
    quarantined: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def ingest_once(source: MaildirSource, factory: sessionmaker[Session], max_bytes: int) -> IngestSummary:
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


def _store(message: RawMessage, source: MaildirSource, factory: sessionmaker[Session], max_bytes: int) -> str:
    digest = message.sha256
    with transaction(factory) as session:
        if session.scalar(select(InboundEmail.id).where(InboundEmail.sha256 == digest)) is not None:
            return "duplicates"
        row = InboundEmail(sha256=digest, source=source.name, raw=message.raw, size=len(message.raw))
        if len(message.raw) > max_bytes:
            row.raw = b""  # not kept whole: the file stays in the Quarantine folder for a person to look at
            row.status, row.status_reason = (
                "quarantined",
                f"message of {len(message.raw)} bytes exceeds the cap",
            )
        else:
            try:
                headers = read_headers(message.raw)
                row.message_id, row.subject, row.sender = headers.message_id, headers.subject, headers.sender
            except ValueError as error:
                row.status, row.status_reason = "quarantined", str(error)
        session.add(row)
    return "quarantined" if row.status == "quarantined" else "stored"


def beat(factory: sessionmaker[Session], state: str, detail: str) -> None:
    with transaction(factory) as session:
        heartbeat = session.get(ComponentHeartbeat, INGESTER) or ComponentHeartbeat(component=INGESTER)
        heartbeat.state, heartbeat.detail, heartbeat.beat_at = state, detail, utcnow()
        session.add(heartbeat)


def run_forever(
    source: MaildirSource,
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
