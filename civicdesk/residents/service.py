"""A resident's own records, found by email address or phone number: exported on request, or erased.

Under MFIPPA a resident may see the personal information the Region holds about them and ask for it to be
corrected or, where no law requires keeping it, disposed of. Staff answer such a request with
`civicdesk residents export` and `civicdesk residents erase`; both are written to the audit log.

Found: the contact rows with that email or phone, and what refers to them (service requests, bookings, RSVPs,
mailed forms); email the resident sent (by sender address) and what was sent back (by recipient); chat
conversations linked to their requests or in which they typed the email address. Erasing deletes what exists
only for the resident (conversations, bookings, outbound mail, the contact) and anonymizes what the Region
reports on (requests, received email), exactly as the retention schedule does when a period ends.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, delete, or_, select
from sqlalchemy.orm import Session

from civicdesk.errors import UserError
from civicdesk.models import (
    AppointmentBooking,
    ChatMessage,
    Contact,
    Conversation,
    EventRsvp,
    FormRequest,
    InboundEmail,
    OutboundMessage,
    ServiceRequest,
)
from civicdesk.residents.retention import (
    anonymize_emails,
    anonymize_request,
    delete_conversations,
    purge_tracker_senders,
)
from civicdesk.staff import audit


@dataclass
class ResidentRecords:
    email: str | None
    phone: str | None
    contacts: list[Contact] = field(default_factory=list)
    requests: list[ServiceRequest] = field(default_factory=list)
    bookings: list[AppointmentBooking] = field(default_factory=list)
    rsvps: list[EventRsvp] = field(default_factory=list)
    forms: list[FormRequest] = field(default_factory=list)
    emails: list[InboundEmail] = field(default_factory=list)
    sent: list[OutboundMessage] = field(default_factory=list)
    conversations: list[Conversation] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {name: len(getattr(self, name)) for name in SECTIONS}


SECTIONS = ("contacts", "requests", "bookings", "rsvps", "forms", "emails", "sent", "conversations")


def _normal_phone(phone: str) -> str:
    digits = re.sub(r"\D", "", phone)
    return digits[1:] if len(digits) == 11 and digits.startswith("1") else digits


def find(session: Session, email: str | None = None, phone: str | None = None) -> ResidentRecords:
    email = email.strip().lower() if email and email.strip() else None
    phone = _normal_phone(phone) if phone and phone.strip() else None
    if not email and not phone:
        raise UserError("give the resident's email address or phone number (or both)")
    if phone is not None and len(phone) != 10:
        raise UserError(f"{phone!r} is not a 10-digit North American phone number")
    found = ResidentRecords(email, phone)
    who = [column == value for column, value in ((Contact.email, email), (Contact.phone, phone)) if value]
    found.contacts = list(session.scalars(select(Contact).where(or_(*who))))
    contact_ids = [contact.id for contact in found.contacts]
    found.requests = list(session.scalars(select(ServiceRequest).where(ServiceRequest.contact_id.in_(contact_ids))))
    found.bookings = list(
        session.scalars(select(AppointmentBooking).where(AppointmentBooking.contact_id.in_(contact_ids)))
    )
    found.rsvps = list(session.scalars(select(EventRsvp).where(EventRsvp.contact_id.in_(contact_ids))))
    found.forms = list(session.scalars(select(FormRequest).where(FormRequest.contact_id.in_(contact_ids))))
    if email:
        found.emails = list(session.scalars(select(InboundEmail).where(InboundEmail.sender_address == email)))
        found.sent = list(session.scalars(select(OutboundMessage).where(OutboundMessage.recipient == email)))
    request_ids = [request.id for request in found.requests]
    linked: ColumnElement[bool] = Conversation.service_request_id.in_(request_ids)
    if email:
        typed = select(ChatMessage.conversation_id).where(
            ChatMessage.text.ilike(f"%{_like_escaped(email)}%", escape="\\")
        )
        linked = or_(linked, Conversation.id.in_(typed))
    found.conversations = list(session.scalars(select(Conversation).where(linked)))
    return found


def _like_escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _plain(row: Any, skip: frozenset[str] = frozenset()) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for column in row.__table__.columns:
        if column.key in skip:
            continue
        value = getattr(row, column.key)
        if isinstance(value, dt.datetime | dt.date):
            value = value.isoformat()
        elif isinstance(value, bytes):
            value = value.decode("utf-8", errors="replace")
        values[column.key] = value
    return values


def export(records: ResidentRecords) -> dict[str, Any]:
    """Everything found, as JSON-ready data: the resident's copy of their records."""
    return {
        "email": records.email,
        "phone": records.phone,
        "contacts": [_plain(contact) for contact in records.contacts],
        "requests": [
            {
                **_plain(request, frozenset({"token"})),
                "service": request.service.code,
                "notes": [_plain(note) for note in request.notes if not note.internal],
            }
            for request in records.requests
        ],
        "bookings": [_plain(booking) for booking in records.bookings],
        "rsvps": [_plain(rsvp) for rsvp in records.rsvps],
        "forms": [_plain(form) for form in records.forms],
        "emails": [
            _plain(email, frozenset({"triage", "dedupe_key", "source", "source_key"})) for email in records.emails
        ],
        "sent": [_plain(message) for message in records.sent],
        "conversations": [
            {
                "started": conversation.created_at.isoformat(),
                "messages": [
                    {"at": message.at.isoformat(), "author": message.author, "text": message.text}
                    for message in conversation.messages
                ],
            }
            for conversation in records.conversations
        ],
    }


def record_export(session: Session, records: ResidentRecords, staff: str) -> None:
    audit.record(session, staff, "resident_export", "resident", records.email or records.phone, records.counts())


def erase(session: Session, records: ResidentRecords, staff: str, tracker_store: str | None) -> dict[str, int]:
    """Delete or anonymize everything found; the caller commits. Returns what was done, per section."""
    counts = records.counts()
    senders = [conversation.public_id for conversation in records.conversations]  # Rasa's name for each
    delete_conversations(session, [conversation.id for conversation in records.conversations])
    for model, rows in (
        (AppointmentBooking, records.bookings),
        (EventRsvp, records.rsvps),
        (FormRequest, records.forms),
    ):
        if rows:
            session.execute(delete(model).where(model.id.in_([row.id for row in rows])))
    for request in records.requests:
        anonymize_request(request)
    anonymize_emails(session, [email.id for email in records.emails])
    if records.sent:
        session.execute(delete(OutboundMessage).where(OutboundMessage.id.in_([m.id for m in records.sent])))
    session.flush()
    for contact in records.contacts:
        session.delete(contact)
    if tracker_store is not None:
        counts["assistant_tracker_events"] = purge_tracker_senders(tracker_store, senders)
    # The audit entry names what was erased by count only: the point was to forget who.
    audit.record(session, staff, "resident_erase", "resident", "(erased)", counts)
    return counts
