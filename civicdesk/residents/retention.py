"""The retention schedule: personal information is kept as long as the schedule says, then deleted or anonymized.

`civicdesk retention run` applies it (a dry run unless `--apply`). Each record type has a period in days,
counted from the date that ends the record's use (a conversation's last message, a request's closing); past it
the record is deleted, or anonymized where the centre still needs the fact that it happened (volumes per
service, time to resolve), in which case what identifies the resident is removed and the rest kept.

No period may be shorter than MINIMUM_DAYS: under MFIPPA (R.R.O. 1990, Reg. 823, s. 5) personal information an
institution has used is kept for at least one year after its last use, so the resident can ask to see it.
The periods below are the Region's defaults; `CIVICDESK_RETENTION_DAYS` overrides them per record type.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Select,
    and_,
    bindparam,
    create_engine,
    delete,
    exists,
    func,
    inspect,
    or_,
    select,
    text,
)
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from civicdesk.db import run_alone
from civicdesk.errors import UserError
from civicdesk.models import (
    AppointmentBooking,
    AuditEntry,
    ChatMessage,
    Contact,
    Conversation,
    ConversationNote,
    EmailAttachment,
    EventRsvp,
    FormRequest,
    InboundEmail,
    KnowledgeGap,
    OutboundMessage,
    ServiceRequest,
    TriageCorrection,
)
from civicdesk.privacy import redact

log = logging.getLogger(__name__)

MINIMUM_DAYS = 365
DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class RecordType:
    name: str
    days: int  # the Region's default period
    action: str  # "delete" or "anonymize"
    what: str  # for the schedule listing: which records, counted from when


SCHEDULE: tuple[RecordType, ...] = (
    RecordType(
        "chat_transcripts", 730, "delete", "chat conversations (and the assistant's trackers), from the last message"
    ),
    RecordType(
        "email_messages", 730, "anonymize", "received email: raw mail, text, sender and attachments, from receipt"
    ),
    RecordType("outbound_mail", 730, "delete", "acknowledgements and notices sent, from sending"),
    RecordType(
        "service_requests", 2555, "anonymize", "closed requests: contact, description, notes, location, from closing"
    ),
    RecordType("bookings_and_rsvps", 730, "delete", "clinic bookings, RSVPs and mailed-form requests, from creation"),
    RecordType("triage_corrections", 1825, "delete", "agents' labelled examples for retraining, from labelling"),
    RecordType("knowledge_gaps", 730, "delete", "questions the assistant could not answer, from asking"),
    RecordType("audit_log", 2555, "delete", "who did what in the console, from the action"),
    RecordType("contacts", 730, "delete", "residents' contact details no remaining record uses, from last update"),
)


def periods(overrides: Mapping[str, int]) -> dict[str, int]:
    """Days per record type: the defaults with the settings' overrides; refuses unknown types and short periods."""
    known = {record.name: record.days for record in SCHEDULE}
    unknown = sorted(set(overrides) - set(known))
    if unknown:
        raise UserError(f"retention_days names unknown record types {unknown}; known: {sorted(known)}")
    chosen = {**known, **overrides}
    short = {name: days for name, days in chosen.items() if days < MINIMUM_DAYS}
    if short:
        raise UserError(
            f"retention periods {short} are shorter than the {MINIMUM_DAYS}-day minimum "
            "(MFIPPA, Reg. 823 s. 5: personal information is kept one year after its last use)"
        )
    return chosen


@dataclass
class Outcome:
    record_type: str
    action: str
    days: int
    cutoff: dt.datetime
    count: int
    error: str | None = None  # the mailbox could not be purged (the database part still applies)

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "cutoff": self.cutoff.isoformat()}


def delete_conversations(session: Session, ids: Sequence[int]) -> None:
    if ids:
        for model in (ChatMessage, ConversationNote):
            session.execute(delete(model).where(model.conversation_id.in_(ids)))
        session.execute(delete(Conversation).where(Conversation.id.in_(ids)))


def anonymize_emails(session: Session, ids: Sequence[int]) -> None:
    """Keep each row's status, labels and dates for the reports; drop the mail and all that identifies the sender."""
    if not ids:
        return
    session.execute(delete(EmailAttachment).where(EmailAttachment.email_id.in_(ids)))
    for row in session.scalars(select(InboundEmail).where(InboundEmail.id.in_(ids))):
        row.raw, row.size = b"", 0
        row.subject = row.sender = row.sender_address = None
        row.new_text = row.quoted_text = None
        row.status_reason = _redacted(row.status_reason)
        row.triage = {key: value for key, value in (row.triage or {}).items() if key != "entities"}


def anonymize_request(request: ServiceRequest) -> None:
    """Keep the service, department, dates and status (the reports count them); drop the resident and the place."""
    request.contact_id = None
    request.description = redact(request.description)
    request.resolution = _redacted(request.resolution)
    request.address = request.postal_code = request.lat = request.long = None
    request.attributes = {}
    request.token = None
    for note in request.notes:
        note.body = redact(note.body)
    for change in request.history:
        change.old_value, change.new_value = _redacted(change.old_value), _redacted(change.new_value)


def _redacted(text: str | None) -> str | None:
    return redact(text) if text else text


def _ids(session: Session, query: Select[Any]) -> list[int]:
    return list(session.scalars(query))


def _chats(session: Session, cutoff: dt.datetime, apply: bool) -> int:
    last_activity = func.coalesce(Conversation.closed_at, Conversation.updated_at)
    # A conversation an agent holds or that waits for one is in use, however old its last message.
    ids = _ids(
        session, select(Conversation.id).where(last_activity < cutoff, Conversation.owner.in_(("bot", "closed")))
    )
    if apply:
        delete_conversations(session, ids)
    return len(ids)


def _emails(session: Session, cutoff: dt.datetime, apply: bool) -> int:
    # Anonymized rows keep their status, labels and dates for the reports; a row already emptied is not counted.
    ids = _ids(
        session, select(InboundEmail.id).where(InboundEmail.received_at < cutoff, InboundEmail.sender.is_not(None))
    )
    if apply:
        anonymize_emails(session, ids)
    return len(ids)


def _outbound(session: Session, cutoff: dt.datetime, apply: bool) -> int:
    finished = OutboundMessage.status != "pending"
    ids = _ids(session, select(OutboundMessage.id).where(OutboundMessage.created_at < cutoff, finished))
    if apply and ids:
        session.execute(delete(OutboundMessage).where(OutboundMessage.id.in_(ids)))
    return len(ids)


def _requests(session: Session, cutoff: dt.datetime, apply: bool) -> int:
    not_yet_anonymized = or_(ServiceRequest.contact_id.is_not(None), ServiceRequest.address.is_not(None))
    query = select(ServiceRequest).where(
        ServiceRequest.status == "closed", ServiceRequest.closed_at < cutoff, not_yet_anonymized
    )
    requests = list(session.scalars(query))
    if apply:
        for request in requests:
            anonymize_request(request)
    return len(requests)


def _bookings(session: Session, cutoff: dt.datetime, apply: bool) -> int:
    count = 0
    for model in (AppointmentBooking, EventRsvp, FormRequest):
        ids = _ids(session, select(model.id).where(model.created_at < cutoff))
        count += len(ids)
        if apply and ids:
            session.execute(delete(model).where(model.id.in_(ids)))
    return count


def _simple(model: Any, column: Any) -> Callable[[Session, dt.datetime, bool], int]:
    def purge(session: Session, cutoff: dt.datetime, apply: bool) -> int:
        ids = _ids(session, select(model.id).where(column < cutoff))
        if apply and ids:
            session.execute(delete(model).where(model.id.in_(ids)))
        return len(ids)

    return purge


def _contacts(session: Session, cutoff: dt.datetime, apply: bool) -> int:
    used = or_(
        *(
            exists().where(model.contact_id == Contact.id)
            for model in (ServiceRequest, AppointmentBooking, EventRsvp, FormRequest)
        )
    )
    ids = _ids(session, select(Contact.id).where(and_(Contact.updated_at < cutoff, ~used)))
    if apply and ids:
        session.execute(delete(Contact).where(Contact.id.in_(ids)))
    return len(ids)


PURGES: dict[str, Callable[[Session, dt.datetime, bool], int]] = {
    "chat_transcripts": _chats,
    "email_messages": _emails,
    "outbound_mail": _outbound,
    "service_requests": _requests,
    "bookings_and_rsvps": _bookings,
    "triage_corrections": _simple(TriageCorrection, TriageCorrection.created_at),
    "knowledge_gaps": _simple(KnowledgeGap, KnowledgeGap.asked_at),
    "audit_log": _simple(AuditEntry, AuditEntry.at),
    "contacts": _contacts,  # last: the purges above free contacts
}


def _tracker_engine(tracker_store: str) -> Engine | None:
    """Rasa's tracker store (`Settings.tracker_store_url`), or None when it is a SQLite file not yet written."""
    url = make_url(tracker_store)
    if url.get_backend_name() == "sqlite" and not Path(url.database or "").exists():
        return None
    return create_engine(url)


def purge_trackers(tracker_store: str, cutoff: dt.datetime, apply: bool) -> int:
    """Delete the assistant's trackers (Rasa's SQL tracker store) whose last event is older than the cutoff."""
    engine = _tracker_engine(tracker_store)
    if engine is None:
        return 0
    try:
        with engine.begin() as connection:
            if not _has_events(connection):
                return 0
            stale = "SELECT sender_id FROM events GROUP BY sender_id HAVING MAX(timestamp) < :cutoff"
            senders = list(connection.execute(text(stale), {"cutoff": cutoff.timestamp()}).scalars())
            if apply and senders:
                connection.execute(
                    text(f"DELETE FROM events WHERE sender_id IN ({stale})"), {"cutoff": cutoff.timestamp()}
                )
            return len(senders)
    finally:
        engine.dispose()


def purge_tracker_senders(tracker_store: str, senders: Sequence[str]) -> int:
    """Delete the assistant's trackers of the given conversations (a resident's erasure request); returns the
    number of tracker events deleted."""
    engine = _tracker_engine(tracker_store) if senders else None
    if engine is None:
        return 0
    try:
        with engine.begin() as connection:
            if not _has_events(connection):
                return 0
            statement = text("DELETE FROM events WHERE sender_id IN :senders").bindparams(
                bindparam("senders", expanding=True)
            )
            return connection.execute(statement, {"senders": list(senders)}).rowcount
    finally:
        engine.dispose()


def _has_events(connection: Connection) -> bool:
    """Rasa makes its table on its first start: before that there is nothing to purge."""
    return inspect(connection).has_table("events")


MailStorePurge = Callable[[dt.datetime, bool], int]  # a mail source's purge_before(cutoff, apply)


def run(
    session: Session,
    now: dt.datetime,
    overrides: Mapping[str, int],
    tracker_store: str | None,
    apply: bool = False,
    mail_store: MailStorePurge | None = None,
) -> list[Outcome]:
    """Apply (or, by default, only count) the schedule as of `now`; the caller commits. `mail_store` purges the
    mailbox's processed and quarantine folders, which keep the mail after the ingester has stored it. Any node
    may schedule it; one applies it at a time (`run_alone`)."""
    if apply and not run_alone(session, "retention"):
        raise UserError("another node is applying the retention schedule now; nothing was changed here")
    days = periods(overrides)
    outcomes = []
    for record in SCHEDULE:
        cutoff = now - days[record.name] * DAY
        count = PURGES[record.name](session, cutoff, apply)
        if apply:
            session.flush()
        outcomes.append(Outcome(record.name, record.action, days[record.name], cutoff, count))
    if tracker_store is not None:
        cutoff = now - days["chat_transcripts"] * DAY
        count = purge_trackers(tracker_store, cutoff, apply)
        outcomes.append(Outcome("assistant_trackers", "delete", days["chat_transcripts"], cutoff, count))
    if mail_store is not None:
        cutoff = now - days["email_messages"] * DAY
        try:
            outcomes.append(Outcome("mail_store", "delete", days["email_messages"], cutoff, mail_store(cutoff, apply)))
        except Exception as error:  # a mail server down or refusing: say so, and keep what the database did
            log.warning("retention: the mailbox could not be purged: %s", error)
            reason = f"{type(error).__name__}: {error}"
            outcomes.append(Outcome("mail_store", "delete", days["email_messages"], cutoff, 0, reason))
    return outcomes
