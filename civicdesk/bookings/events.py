"""RSVPs to public events (town halls, consultations, open houses).

Functions receive the caller's session and never commit. Seats are taken with one conditional UPDATE
(`reserved = reserved + n WHERE reserved + n <= capacity`), as appointment seats are, so the last seats cannot
be given twice; a cancellation gives the party's seats back.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update
from sqlalchemy.orm import Session, selectinload

from civicdesk.bookings.appointments import (
    affected_rows,
    check_channel,
    check_contact,
    is_code,
    lock_contact,
    new_reference,
    normalize_reference,
    require_contact,
)
from civicdesk.contacts import ContactIn
from civicdesk.db import utcnow
from civicdesk.errors import Conflict, InvalidInput, NotFound
from civicdesk.models import EventRsvp, PublicEvent

MAX_PARTY = 6  # larger groups are arranged with the organizing department, not through an RSVP


class EventFull(Conflict):
    pass


def seats_left(event: PublicEvent) -> int:
    return max(event.capacity - event.reserved, 0)


def upcoming(session: Session, now: dt.datetime | None = None) -> list[PublicEvent]:
    """Events that have not started yet, soonest first (full ones included: residents may still watch online)."""
    statement = (
        select(PublicEvent)
        .where(PublicEvent.starts_at > (now or utcnow()))
        .options(selectinload(PublicEvent.department))
        .order_by(PublicEvent.starts_at)
    )
    return list(session.scalars(statement))


def get_event(session: Session, code: str) -> PublicEvent:
    code = code.strip().lower()
    event = is_code(code) and session.scalar(select(PublicEvent).where(PublicEvent.code == code))
    if not event:
        raise NotFound(f"no public event {code!r}")
    return event


def get_rsvp(session: Session, reference: str) -> EventRsvp:
    rsvp = session.scalar(
        select(EventRsvp)
        .where(EventRsvp.reference == normalize_reference(reference, "EV"))
        .options(selectinload(EventRsvp.event), selectinload(EventRsvp.contact))
    )
    if rsvp is None:
        raise NotFound("no RSVP with that reference for that email address or phone number")
    return rsvp


def rsvp(
    session: Session,
    event_code: str,
    contact: ContactIn,
    party_size: int,
    channel: str,
    now: dt.datetime | None = None,
) -> EventRsvp:
    """Reserve seats for a resident's party; one RSVP per resident and event."""
    now = now or utcnow()
    check_channel(channel)
    event = get_event(session, event_code)
    if not 1 <= party_size <= MAX_PARTY:
        raise InvalidInput(
            "party_size", f"an RSVP is for 1 to {MAX_PARTY} people; for a larger group, call Service First at 311"
        )
    if event.starts_at <= now:
        raise Conflict(f"{event.title} has already taken place")
    resident = require_contact(session, contact, "to confirm the RSVP")
    lock_contact(session, resident)
    held = session.scalar(
        select(EventRsvp).where(
            EventRsvp.event_id == event.id, EventRsvp.contact_id == resident.id, EventRsvp.status == "attending"
        )
    )
    if held is not None:
        raise Conflict(
            f"you are already registered for {event.title} ({held.reference}); "
            "to change the number of people, cancel it and RSVP again"
        )
    taken = affected_rows(
        session,
        update(PublicEvent)
        .where(PublicEvent.id == event.id, PublicEvent.reserved + party_size <= PublicEvent.capacity)
        .values(reserved=PublicEvent.reserved + party_size),
    )
    session.refresh(event, ["reserved"])
    if not taken:
        left = seats_left(event)
        online = f" You can still follow it online: {event.online_option}" if event.online_option else ""
        if left == 0:
            raise EventFull(f"{event.title} is fully booked.{online}")
        raise EventFull(f"{event.title} has only {left} seat{'s' if left != 1 else ''} left.{online}")
    reservation = EventRsvp(
        reference=new_reference(session, EventRsvp, "EV"),
        event=event,
        contact=resident,
        party_size=party_size,
        status="attending",
        channel=channel,
        created_at=now,
    )
    session.add(reservation)
    session.flush()
    return reservation


def cancel(session: Session, reference: str, contact: str, now: dt.datetime | None = None) -> EventRsvp:
    """Cancel an RSVP (confirmed with its email or phone); the party's seats are free again."""
    now = now or utcnow()
    reservation = get_rsvp(session, reference)
    check_contact(reservation.contact, contact, "RSVP")
    if reservation.event.starts_at <= now:
        raise Conflict(f"{reservation.event.title} has already taken place")
    # Conditional, so two cancellations at once give the seats back once.
    changed = affected_rows(
        session,
        update(EventRsvp)
        .where(EventRsvp.id == reservation.id, EventRsvp.status == "attending")
        .values(status="cancelled", cancelled_at=now),
    )
    session.expire(reservation, ["status", "cancelled_at"])
    if not changed:
        raise Conflict(f"RSVP {reservation.reference} is already cancelled")
    affected_rows(
        session,
        update(PublicEvent)
        .where(PublicEvent.id == reservation.event_id, PublicEvent.reserved >= reservation.party_size)
        .values(reserved=PublicEvent.reserved - reservation.party_size),
    )
    session.expire(reservation.event, ["reserved"])
    session.flush()
    return reservation
