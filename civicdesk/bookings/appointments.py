"""Clinic appointments: the types on offer, open slots, booking, cancelling and rescheduling.

Functions receive the caller's session and never commit: the caller owns the transaction. A seat is taken with
one conditional UPDATE (`booked = booked + 1 WHERE booked < capacity`) and its row count decides, so two
residents racing for the last seat cannot both get it on SQLite or PostgreSQL; no count is read and then written.
The same pattern moves a booking from `booked` to `cancelled`, so a seat is never released twice.

The small helpers (`affected_rows`, `new_reference`, `normalize_reference`, `check_contact`,
`require_contact`, `check_channel`, `is_code`, `lock_contact`) are shared with events and mailed forms.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from typing import Any, cast

from sqlalchemy import CursorResult, Executable, select, update
from sqlalchemy.orm import Session, selectinload

from civicdesk import validation
from civicdesk.business_time import REGION_TZ
from civicdesk.contacts import ContactIn, upsert_contact
from civicdesk.db import utcnow
from civicdesk.errors import Conflict, InvalidInput, NotFound
from civicdesk.models import (
    AppointmentBooking,
    AppointmentSlot,
    AppointmentType,
    Contact,
    EventRsvp,
    FormRequest,
)
from civicdesk.service_requests.service import CHANNELS

# Read aloud and typed back by residents: none of 0/O, 1/I/L, 2/Z, 5/S, 8/B or U/V, which are easily confused.
REFERENCE_ALPHABET = "ACDEFGHJKMNPQRTWXY34679"
REFERENCE_LENGTH = 6
# Catalogue codes are snake_case; anything else cannot match, and is never sent to the database (PostgreSQL
# refuses text with NUL characters outright).
CODE = re.compile(r"[a-z0-9_]{1,64}")


class SlotFull(Conflict):
    pass


def affected_rows(session: Session, statement: Executable) -> int:
    """Run a conditional UPDATE and say how many rows it changed (0: the condition no longer held)."""
    result = cast(CursorResult[Any], session.execute(statement, execution_options={"synchronize_session": False}))
    return result.rowcount


def new_reference(session: Session, model: type[AppointmentBooking | EventRsvp | FormRequest], prefix: str) -> str:
    """A random confirmation reference such as AP-7K3QX9, not yet used (the unique index backs this up)."""
    for _ in range(10):
        candidate = f"{prefix}-" + "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(REFERENCE_LENGTH))
        if session.scalar(select(model.id).where(model.reference == candidate)) is None:
            return candidate
    raise RuntimeError(f"no free {prefix} reference after 10 tries")  # 23^6 references: not expected to happen


def normalize_reference(value: str, prefix: str) -> str:
    """What residents type back ("ap 7k3qx9", "AP7K3QX9") in the stored form ("AP-7K3QX9")."""
    compact = re.sub(r"[^A-Z0-9]", "", value.upper())
    body = compact.removeprefix(prefix)
    return f"{prefix}-{body}"


def check_contact(contact: Contact, given: str, what: str) -> None:
    """A reference alone is not enough to change a booking: the email or phone on it must match too."""
    given = given.strip()
    try:
        if "@" in given:
            matches = contact.email == validation.email(given, "contact")
        else:
            matches = contact.phone == validation.phone(given, "contact")
    except InvalidInput:
        matches = False
    if not matches:
        # The same answer as an unknown reference, so references cannot be probed.
        raise NotFound(f"no {what} with that reference for that email address or phone number")


def require_contact(session: Session, given: ContactIn, purpose: str) -> Contact:
    contact = upsert_contact(session, given)
    if contact is None:
        raise InvalidInput("contact", f"an email address or phone number is needed {purpose}")
    return contact


def check_channel(channel: str) -> str:
    if channel not in CHANNELS:
        raise InvalidInput("channel", f"{channel!r} is not one of: {', '.join(CHANNELS)}")
    return channel


def appointment_types(session: Session) -> list[AppointmentType]:
    statement = (
        select(AppointmentType)
        .options(selectinload(AppointmentType.locations), selectinload(AppointmentType.department))
        .order_by(AppointmentType.name)
    )
    return list(session.scalars(statement))


def is_code(value: str) -> bool:
    return CODE.fullmatch(value) is not None


def appointment_type(session: Session, code: str) -> AppointmentType:
    found = is_code(code) and session.scalar(
        select(AppointmentType).where(AppointmentType.code == code).options(selectinload(AppointmentType.locations))
    )
    if not found:
        raise InvalidInput("type", f"{code!r} is not a kind of appointment we book")
    return found


def open_slots(
    session: Session,
    type_code: str,
    *,
    location_code: str | None = None,
    from_date: dt.date | None = None,
    now: dt.datetime | None = None,
    limit: int = 20,
) -> list[AppointmentSlot]:
    """Future slots of a type that still have room, soonest first; `from_date` is a day in the Region's time."""
    kind = appointment_type(session, type_code)
    start = now or utcnow()
    if from_date is not None:
        start = max(start, dt.datetime.combine(from_date, dt.time(0), REGION_TZ))
    statement = (
        select(AppointmentSlot)
        .where(
            AppointmentSlot.type_id == kind.id,
            AppointmentSlot.starts_at > start,
            AppointmentSlot.booked < AppointmentSlot.capacity,
        )
        .options(selectinload(AppointmentSlot.location), selectinload(AppointmentSlot.type))
        .order_by(AppointmentSlot.starts_at, AppointmentSlot.location_id)
        .limit(limit)
    )
    if location_code is not None:
        location = next((loc for loc in kind.locations if loc.code == location_code), None)
        if location is None:
            offered = ", ".join(sorted(loc.code for loc in kind.locations))
            raise InvalidInput("location", f"{kind.name} is not offered at {location_code!r}; choose from: {offered}")
        statement = statement.where(AppointmentSlot.location_id == location.id)
    return list(session.scalars(statement))


def get_booking(session: Session, reference: str) -> AppointmentBooking:
    booking = session.scalar(
        select(AppointmentBooking)
        .where(AppointmentBooking.reference == normalize_reference(reference, "AP"))
        .options(
            selectinload(AppointmentBooking.slot).selectinload(AppointmentSlot.type),
            selectinload(AppointmentBooking.slot).selectinload(AppointmentSlot.location),
            selectinload(AppointmentBooking.contact),
        )
    )
    if booking is None:
        raise NotFound("no appointment with that reference for that email address or phone number")
    return booking


def _bookable_slot(session: Session, slot_id: int, now: dt.datetime) -> AppointmentSlot:
    slot = session.get(AppointmentSlot, slot_id)
    if slot is None:
        raise InvalidInput("slot_id", f"there is no appointment time {slot_id}")
    if slot.starts_at <= now:
        raise InvalidInput("slot_id", "that appointment time has already passed; choose a later one")
    return slot


def _take_seat(session: Session, slot: AppointmentSlot) -> None:
    taken = affected_rows(
        session,
        update(AppointmentSlot)
        .where(AppointmentSlot.id == slot.id, AppointmentSlot.booked < AppointmentSlot.capacity)
        .values(booked=AppointmentSlot.booked + 1),
    )
    session.expire(slot, ["booked"])
    if not taken:
        raise SlotFull("that appointment time has just been fully booked; please choose another time")


def _release_seat(session: Session, slot_id: int) -> None:
    affected_rows(
        session,
        update(AppointmentSlot)
        .where(AppointmentSlot.id == slot_id, AppointmentSlot.booked > 0)
        .values(booked=AppointmentSlot.booked - 1),
    )
    session.get(AppointmentSlot, slot_id, populate_existing=True)  # a slot already loaded shows the new count


def lock_contact(session: Session, contact: Contact) -> None:
    """Serialize one resident's bookings, so two at once cannot both pass a one-per-resident check.

    Writing the row is the portable lock: a row lock on PostgreSQL, the database's write lock on SQLite (a
    SELECT ... FOR UPDATE would lock nothing there).
    """
    session.execute(
        update(Contact).where(Contact.id == contact.id).values(updated_at=utcnow()),
        execution_options={"synchronize_session": False},
    )


def book(
    session: Session, slot_id: int, contact: ContactIn, channel: str, now: dt.datetime | None = None
) -> AppointmentBooking:
    """Take a seat in a slot for a resident; one active booking per resident and appointment type."""
    now = now or utcnow()
    check_channel(channel)
    slot = _bookable_slot(session, slot_id, now)
    resident = require_contact(session, contact, "to confirm the appointment")
    lock_contact(session, resident)
    held = session.scalar(
        select(AppointmentBooking)
        .join(AppointmentSlot)
        .where(
            AppointmentBooking.contact_id == resident.id,
            AppointmentBooking.status == "booked",
            AppointmentSlot.type_id == slot.type_id,
            AppointmentSlot.starts_at > now,
        )
    )
    if held is not None:
        raise Conflict(
            f"you already have a {slot.type.name} appointment ({held.reference}); "
            "reschedule or cancel it instead of booking another"
        )
    _take_seat(session, slot)
    booking = AppointmentBooking(
        reference=new_reference(session, AppointmentBooking, "AP"),
        slot=slot,
        contact=resident,
        status="booked",
        channel=channel,
        created_at=now,
    )
    session.add(booking)
    session.flush()
    return booking


def _active(session: Session, reference: str, contact: str, now: dt.datetime) -> AppointmentBooking:
    booking = get_booking(session, reference)
    check_contact(booking.contact, contact, "appointment")
    if booking.status != "booked":
        raise Conflict(f"appointment {booking.reference} is already cancelled")
    if booking.slot.starts_at <= now:
        raise Conflict(f"appointment {booking.reference} has already taken place")
    return booking


def cancel(session: Session, reference: str, contact: str, now: dt.datetime | None = None) -> AppointmentBooking:
    """Cancel a booking (the resident confirms with its email or phone); its seat is free again."""
    now = now or utcnow()
    booking = _active(session, reference, contact, now)
    # Conditional, so two cancellations at once release the seat once; RETURNING gives the slot the booking is
    # in at that moment, which a reschedule committed meanwhile may have changed.
    slot_id = session.scalar(
        update(AppointmentBooking)
        .where(AppointmentBooking.id == booking.id, AppointmentBooking.status == "booked")
        .values(status="cancelled", cancelled_at=now)
        .returning(AppointmentBooking.slot_id),
        execution_options={"synchronize_session": False},
    )
    session.expire(booking)
    if slot_id is None:
        raise Conflict(f"appointment {booking.reference} is already cancelled")
    _release_seat(session, slot_id)
    session.flush()
    return booking


def reschedule(
    session: Session, reference: str, new_slot_id: int, contact: str, now: dt.datetime | None = None
) -> AppointmentBooking:
    """Move a booking to another slot of the same type, keeping its reference.

    The new seat is taken before the old one is released, in the caller's one transaction: if the new slot is
    full nothing has changed and the booking stays where it was. Like every function here, an exception means
    the caller rolls back.
    """
    now = now or utcnow()
    booking = _active(session, reference, contact, now)
    old_slot = booking.slot
    new_slot = _bookable_slot(session, new_slot_id, now)
    if new_slot.id == old_slot.id:
        raise InvalidInput("slot_id", "that is already the time of this appointment")
    if new_slot.type_id != old_slot.type_id:
        raise InvalidInput(
            "slot_id", f"that time is for {new_slot.type.name}; this appointment is for {old_slot.type.name}"
        )
    # Row locks on PostgreSQL, always the booking first (as cancel does) and then the slots in id order, so a
    # cancel and a reschedule, or two residents swapping times, wait for each other instead of deadlocking.
    session.execute(select(AppointmentBooking.id).where(AppointmentBooking.id == booking.id).with_for_update())
    session.execute(
        select(AppointmentSlot.id)
        .where(AppointmentSlot.id.in_([old_slot.id, new_slot.id]))
        .order_by(AppointmentSlot.id)
        .with_for_update()
    )
    _take_seat(session, new_slot)  # a full slot stops here, before anything has changed
    moved = affected_rows(
        session,
        update(AppointmentBooking)
        .where(
            AppointmentBooking.id == booking.id,
            AppointmentBooking.status == "booked",
            AppointmentBooking.slot_id == old_slot.id,
        )
        .values(slot_id=new_slot.id),
    )
    if not moved:  # cancelled or moved by someone else meanwhile; the caller rolls back the seat taken above
        raise Conflict(f"appointment {booking.reference} was changed at the same time; look it up again")
    _release_seat(session, old_slot.id)
    session.expire(booking, ["slot_id", "slot"])
    session.flush()
    return booking
