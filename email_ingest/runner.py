"""The ingest loop: drain the mail source into the database, one message at a time, and report a heartbeat."""

from __future__ import annotations

import datetime as dt
import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from civicdesk import metrics
from civicdesk.db import transaction, utcnow
from civicdesk.errors import UserError
from civicdesk.health import ingester_component
from civicdesk.mail.parse import dedupe_key
from civicdesk.models import ComponentHeartbeat, InboundEmail, MailboxLease
from email_ingest.maildir import PROCESSED_FOLDER, QUARANTINE_FOLDER, Headers, RawMessage, read_headers
from email_ingest.process import Outcome, ProcessConfig, predict_all, process, try_parse

if TYPE_CHECKING:
    from classifiers.model import TriageModel

log = logging.getLogger(__name__)


class MailSource(Protocol):
    """Where messages come from: the Maildir drop folder or an IMAP folder."""

    @property
    def name(self) -> str: ...

    def pending(self) -> Iterable[Sequence[RawMessage]]:
        """New messages in batches, oldest first."""
        ...

    def move(self, keys: Sequence[str], folder: str) -> None:
        """Move stored messages out of the inbox, at once or grouped until the pass over `pending()` ends."""
        ...

    def purge_before(self, cutoff: dt.datetime, apply: bool) -> int:
        """Count (and with `apply` delete) processed and quarantined messages older than `cutoff`: retention."""
        ...


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
    threaded: int = 0
    quarantined: int = 0
    routed: int = 0
    needs_human: int = 0
    bounces: int = 0
    auto_acknowledged: int = 0
    escalated: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, float]:
        return asdict(self)

    def add_up(self, other: IngestSummary) -> None:
        """Count another mailbox's pass in this summary."""
        for name, value in asdict(other).items():
            setattr(self, name, getattr(self, name) + value)

    def add(self, outcome: Outcome) -> None:
        metrics.EMAILS.labels(outcome.status).inc()
        counter = {"bounce": "bounces"}.get(outcome.status, outcome.status)
        setattr(self, counter, getattr(self, counter) + 1)
        self.auto_acknowledged += outcome.acknowledged
        self.escalated += outcome.escalated


class MailboxBusy(UserError):
    """Another ingester holds the mailbox's lease."""


class Lease:
    """One fetcher per mailbox: a row in `mailbox_lease`, taken with a conditional UPDATE that works the same on
    SQLite and PostgreSQL. The holder renews it while it works; if it dies, another may take over after `ttl`."""

    def __init__(self, factory: sessionmaker[Session], mailbox: str, holder: str | None = None, ttl: float = 120.0):
        self.factory, self.mailbox, self.ttl = factory, mailbox, dt.timedelta(seconds=ttl)
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self._renewed = 0.0

    def acquire(self) -> None:
        now = utcnow()
        with transaction(self.factory) as session:
            taken = session.execute(
                update(MailboxLease)
                .where(
                    MailboxLease.mailbox == self.mailbox,
                    or_(MailboxLease.holder == self.holder, MailboxLease.expires_at < now),
                )
                .values(holder=self.holder, expires_at=now + self.ttl)
            ).rowcount  # type: ignore[attr-defined]
            if not taken:
                current = session.get(MailboxLease, self.mailbox)
                if current is not None:
                    until = f"{current.expires_at:%H:%M:%S} UTC"
                    raise MailboxBusy(f"{self.mailbox} is being read by {current.holder} (lease until {until})")
        if not taken:
            try:
                with transaction(self.factory) as session:
                    session.add(MailboxLease(mailbox=self.mailbox, holder=self.holder, expires_at=now + self.ttl))
            except IntegrityError:
                raise MailboxBusy(f"{self.mailbox} is being read by another ingester") from None
        self._renewed = time.monotonic()

    def renew(self) -> None:
        """Extend the lease when a third of it has passed; MailboxBusy if another ingester took it meanwhile."""
        if time.monotonic() - self._renewed > self.ttl.total_seconds() / 3:
            self.acquire()

    def release(self) -> None:
        with transaction(self.factory) as session:
            session.execute(
                update(MailboxLease)
                .where(MailboxLease.mailbox == self.mailbox, MailboxLease.holder == self.holder)
                .values(expires_at=utcnow() - dt.timedelta(seconds=1))
            )


def ingest_once(
    source: MailSource,
    factory: sessionmaker[Session],
    max_bytes: int,
    *,
    config: ProcessConfig | None = None,
    triage: TriageModel | None = None,
    lease: Lease | None = None,
    progress: Callable[[IngestSummary], None] | None = None,
) -> IngestSummary:
    """Drain the source: store each message exactly once, process it, then move it out of the inbox.

    Work goes in the source's batches: one transaction stores a batch (with the source's checkpoint), one predict
    call classifies it, one transaction processes it, and one command per folder moves it.
    """
    started = time.perf_counter()
    summary = IngestSummary()
    config = config or ProcessConfig(mailbox=source.name)
    lease = lease or Lease(factory, source.name)
    lease.acquire()
    try:
        _process_rows(factory, _backlog(factory), config, triage, summary)  # stored by a run that stopped early
        for batch in source.pending():
            lease.renew()
            _record_lag(batch)
            summary.fetched += len(batch)
            row_ids = _store(batch, source, factory, max_bytes)
            duplicates = sum(row_id is None for row_id in row_ids)
            summary.duplicates += duplicates
            metrics.EMAILS.labels("duplicate").inc(duplicates)
            stored = [row_id for row_id in row_ids if row_id is not None]
            summary.stored += len(stored)
            outcomes = _process_rows(factory, stored, config, triage, summary)
            folders: dict[str, list[str]] = {PROCESSED_FOLDER: [], QUARANTINE_FOLDER: []}
            for message, row_id in zip(batch, row_ids, strict=True):
                quarantined = row_id is not None and outcomes[row_id].status == "quarantined"
                folders[QUARANTINE_FOLDER if quarantined else PROCESSED_FOLDER].append(message.key)
            # Only after the rows are committed do the messages leave the inbox: a crash here leaves them below
            # the checkpoint, and the next pass finishes the move without storing them again.
            for folder, keys in folders.items():
                if keys:
                    source.move(keys, folder)
            if progress:
                progress(summary)
    finally:
        lease.release()
    metrics.INGEST_LAG_SECONDS.set(0)  # drained: whatever arrives now is announced (IDLE) or found by the next poll
    summary.seconds = round(time.perf_counter() - started, 3)
    return summary


def _record_lag(batch: Sequence[RawMessage]) -> None:
    """The ingester's lag: how long the oldest message still to be stored has waited in the mailbox."""
    arrivals = [message.arrived_at for message in batch if message.arrived_at is not None]
    if arrivals:
        metrics.INGEST_LAG_SECONDS.set(max(0.0, (utcnow() - min(arrivals)).total_seconds()))


def _store(
    batch: Sequence[RawMessage], source: MailSource, factory: sessionmaker[Session], max_bytes: int
) -> list[int | None]:
    """Commit the raw messages (and the source's checkpoint): a row id per message, None for a duplicate."""
    tracked = source if isinstance(source, TrackedSource) else None
    row_ids: list[int | None] = []
    with transaction(factory) as session:
        for message in batch:
            size = tracked.declared_size(message) if tracked else len(message.raw)
            row = _add_row(session, message, source.name, size, max_bytes)
            row_ids.append(row.id if row else None)
            if tracked:
                outcome = "duplicates" if row is None else "quarantined" if row.status == "quarantined" else "stored"
                tracked.checkpoint(session, message, outcome)
    return row_ids


def _add_row(session: Session, message: RawMessage, source_name: str, size: int, max_bytes: int) -> InboundEmail | None:
    digest = message.sha256
    headers: Headers | None = None
    problem = None
    try:  # headers are read even from an oversize message, so the person who looks at it knows what it is
        headers = read_headers(message.raw)
    except ValueError as error:
        problem = str(error)
    message_id = headers.message_id if headers else None
    key = dedupe_key(message.raw, message_id) if size <= max_bytes else digest
    # Two lookups, not one OR: SQLite answers an OR of two indexed columns with a scan of the table.
    known = session.scalar(select(InboundEmail.id).where(InboundEmail.dedupe_key == key)) or session.scalar(
        select(InboundEmail.id).where(InboundEmail.sha256 == digest)
    )
    if known is not None:
        return None
    row = InboundEmail(
        sha256=digest, dedupe_key=key, source=source_name, source_key=message.source_key, raw=message.raw, size=size
    )
    if headers:
        row.message_id, row.subject, row.sender = headers.message_id, headers.subject, headers.sender
    if size > max_bytes:
        row.raw = b""  # not kept whole: the message stays in the Quarantine folder for a person to look at
        problem = f"message of {size} bytes exceeds the cap of {max_bytes} bytes"
    if problem:
        row.status, row.status_reason = "quarantined", problem
        row.processed_at = utcnow()
    session.add(row)
    session.flush()
    return row


def _process_rows(
    factory: sessionmaker[Session],
    row_ids: Sequence[int],
    config: ProcessConfig,
    triage: TriageModel | None,
    summary: IngestSummary,
) -> dict[int, Outcome]:
    """Process stored rows in one transaction, classified in one call; if anything fails, row by row so that
    only the message that fails is quarantined."""
    if not row_ids:
        return {}
    outcomes: dict[int, Outcome] = {}
    try:
        with transaction(factory) as session:
            rows = [session.get(InboundEmail, row_id) for row_id in row_ids]
            parsed = {row.id: try_parse(row.raw) for row in rows if row is not None and row.status == "stored"}
            predictions = predict_all(triage, parsed)
            for row in rows:
                assert row is not None
                if row.id not in parsed:  # quarantined at storage (oversize, unreadable headers)
                    outcomes[row.id] = Outcome(row.status)
                    continue
                outcomes[row.id] = process(
                    session, row, config, triage, parsed=parsed[row.id], prediction=predictions.get(row.id)
                )
    except Exception:
        log.exception("processing a batch of %d messages failed; processing them one by one", len(row_ids))
        outcomes = {row_id: _process_row(factory, row_id, config, triage) for row_id in row_ids}
    for outcome in outcomes.values():
        summary.add(outcome)
    return outcomes


def _process_row(
    factory: sessionmaker[Session], row_id: int, config: ProcessConfig, triage: TriageModel | None
) -> Outcome:
    with transaction(factory) as session:
        row = session.get(InboundEmail, row_id)
        assert row is not None
        if row.status != "stored":  # quarantined at storage (oversize, unreadable headers)
            return Outcome(row.status)
        try:
            return process(session, row, config, triage)
        except Exception:
            log.exception("processing inbound email %s failed", row_id)
            session.rollback()
    # Processing failed on a bug or bad data we did not foresee: the message is kept and a person looks at it.
    with transaction(factory) as session:
        row = session.get(InboundEmail, row_id)
        assert row is not None
        row.status, row.status_reason = "quarantined", "processing failed; see the ingester log"
        row.processed_at = utcnow()
    return Outcome("quarantined")


def _backlog(factory: sessionmaker[Session]) -> list[int]:
    with factory() as session:
        return list(
            session.scalars(select(InboundEmail.id).where(InboundEmail.status == "stored").order_by(InboundEmail.id))
        )


def beat(factory: sessionmaker[Session], mailbox: str, state: str, detail: str) -> None:
    """This mailbox's heartbeat, for /health; only the ingester reading the mailbox writes it."""
    component = ingester_component(mailbox)
    with transaction(factory) as session:
        heartbeat = session.get(ComponentHeartbeat, component) or ComponentHeartbeat(component=component)
        heartbeat.state, heartbeat.detail, heartbeat.beat_at = state, detail, utcnow()
        session.add(heartbeat)


@runtime_checkable
class WaitingSource(Protocol):
    """A source that can wait for new mail (IMAP IDLE) instead of sleeping between polls."""

    def wait_for_mail(self, stop: threading.Event, seconds: float, tick: Callable[[], None]) -> bool: ...


def backoff_seconds(failures: int, poll_seconds: float, ceiling: float = 300.0) -> float:
    """Pause after `failures` failed passes in a row: doubling from the poll interval, capped at five minutes."""
    return min(ceiling, poll_seconds * 2 ** max(0, failures - 1))


def run_forever(
    source: MailSource,
    factory: sessionmaker[Session],
    max_bytes: int,
    poll_seconds: float,
    stop: threading.Event,
    *,
    config: ProcessConfig | None = None,
    triage: Callable[[], TriageModel | None] = lambda: None,
    deliver: Callable[[], int] = lambda: 0,
    alert_after: int = 5,
    alert: Callable[[str], None] = lambda message: None,
    lease_seconds: float = 120.0,
) -> None:
    """Pass after pass until `stop` is set; failures back off, and `alert_after` of them in a row raise an alert.
    The heartbeat is written by the ingester that read the mailbox last, never by one standing by."""
    failures = 0
    lease = Lease(factory, source.name, ttl=lease_seconds)
    reading = False  # this ingester did the last pass (a standby waits without beating)

    def tick() -> None:
        if reading:
            _safe_beat(factory, source.name, "ok", "waiting for mail")

    while not stop.is_set():
        try:
            summary = ingest_once(source, factory, max_bytes, config=config, triage=triage(), lease=lease)
            reading = True
            deliver()
            failures = 0
            detail = f"last pass stored {summary.stored}, quarantined {summary.quarantined}"
            beat(factory, source.name, "ok", detail)
            if summary.fetched:
                log.info("ingest pass: %s", summary.as_dict())
        except MailboxBusy as busy:
            reading = False
            log.info("%s; standing by", busy)
        except Exception as error:  # keep the loop alive; the heartbeat tells /health what went wrong
            reading = True
            failures += 1
            log.exception("ingest pass failed (%d in a row)", failures)
            state = "alert" if failures >= alert_after else "error"
            detail = f"{failures} failed passes in a row: {type(error).__name__}: {error}"[:500]
            _safe_beat(factory, source.name, state, detail)
            if failures == alert_after:
                alert(f"The email ingester for {source.name} has failed {failures} times in a row: {error}")
            stop.wait(backoff_seconds(failures, poll_seconds))
            continue
        if isinstance(source, WaitingSource):
            try:
                source.wait_for_mail(stop, poll_seconds, tick=tick)
            except Exception:  # IDLE failing is not a reason to stop: fall back to polling this time
                log.warning("waiting for mail with IDLE failed; polling instead", exc_info=True)
                stop.wait(poll_seconds)
        else:
            stop.wait(poll_seconds)


def _safe_beat(factory: sessionmaker[Session], mailbox: str, state: str, detail: str) -> None:
    try:
        beat(factory, mailbox, state, detail)
    except Exception:  # the database may be the thing that is down
        log.exception("cannot record heartbeat")
