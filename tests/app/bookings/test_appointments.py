"""Appointments through the service layer, on SQLite and PostgreSQL: slots, booking, cancelling, rescheduling,
and capacity holding when fifty residents race for the last seat.

The database of each test is a copy of one seeded once per module and backend (seeding every test would take
most of the time); the other booking test modules import these fixtures.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import pytest
from helpers import race, resident
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from civicdesk.bookings import appointments
from civicdesk.bookings.appointments import Conflict, SlotFull
from civicdesk.contacts import ContactIn
from civicdesk.db import transaction
from civicdesk.errors import InvalidInput, NotFound
from civicdesk.models import AppointmentBooking, AppointmentSlot
from civicdesk.settings import Settings

TODAY = dt.date(2026, 11, 23)  # a Monday
NOW = dt.datetime(2026, 11, 23, 13, 0, tzinfo=dt.UTC)  # 8:00 a.m. in Northvale, before any clinic opens
REFERENCE = re.compile(r"AP-[ACDEFGHJKMNPQRTWXY34679]{6}")


@pytest.fixture
def database_url(seeded_database_url: str) -> str:
    return seeded_database_url


def slot_ids(session: Session, type_code: str, count: int, location: str | None = None) -> list[int]:
    slots = appointments.open_slots(session, type_code, location_code=location, now=NOW, limit=count)
    assert len(slots) == count
    return [slot.id for slot in slots]


def booked(session: Session, slot_id: int) -> int:
    return int(session.scalar(select(AppointmentSlot.booked).where(AppointmentSlot.id == slot_id)) or 0)


def test_types_and_open_slots(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        types = {t.code: t for t in appointments.appointment_types(session)}
        assert len(types) == 7
        assert {loc.code for loc in types["seniors_dental"].locations} == {"northvale_hq", "harlow_falls_office"}

        slots = appointments.open_slots(session, "seniors_dental", location_code="harlow_falls_office", now=NOW)
        assert len(slots) == 20
        starts = [slot.starts_at for slot in slots]
        assert starts == sorted(starts) and starts[0] > NOW
        assert {slot.location.code for slot in slots} == {"harlow_falls_office"}
        # 8:30 a.m. in Northvale on Monday, November 23 (UTC-5).
        assert starts[0] == dt.datetime(2026, 11, 23, 13, 30, tzinfo=dt.UTC)

        # Past slots and full slots are not offered; from_date is a day in the Region's time.
        later = appointments.open_slots(session, "seniors_dental", location_code="harlow_falls_office", now=starts[3])
        assert [slot.id for slot in later][:2] == [slots[4].id, slots[5].id]
        session.execute(update(AppointmentSlot).where(AppointmentSlot.id == slots[4].id).values(booked=1))
        later = appointments.open_slots(session, "seniors_dental", location_code="harlow_falls_office", now=starts[3])
        assert later[0].id == slots[5].id
        friday = appointments.open_slots(session, "seniors_dental", from_date=dt.date(2026, 11, 27), now=NOW)
        assert friday[0].starts_at == dt.datetime(2026, 11, 27, 13, 30, tzinfo=dt.UTC)
        session.rollback()

        with pytest.raises(InvalidInput) as unknown:
            appointments.open_slots(session, "botox", now=NOW)
        assert unknown.value.field == "type"
        with pytest.raises(InvalidInput) as elsewhere:
            appointments.open_slots(session, "travel_health", location_code="elm_ridge_office", now=NOW)
        assert elsewhere.value.field == "location" and "northvale_hq" in elsewhere.value.message


def test_booking_takes_a_seat_and_cancelling_frees_it(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        (slot_id,) = slot_ids(session, "flu_covid_vaccine", 1)
    with transaction(session_factory) as session:
        booking = appointments.book(session, slot_id, resident(), "chat", now=NOW)
        reference = booking.reference
    assert REFERENCE.fullmatch(reference)
    with session_factory() as session:
        assert booked(session, slot_id) == 1
        stored = appointments.get_booking(session, reference.lower().replace("-", " "))
        assert (stored.status, stored.channel, stored.contact.email) == ("booked", "chat", "resident1@example.org")

    # A reference alone does not cancel: the email or phone must match, with the same answer as a wrong reference.
    with pytest.raises(NotFound, match="that reference for that email"), transaction(session_factory) as session:
        appointments.cancel(session, reference, "someone.else@example.org", now=NOW)
    with pytest.raises(NotFound, match="that reference for that email"), transaction(session_factory) as session:
        appointments.cancel(session, "AP-XXXXXX", "resident1@example.org", now=NOW)

    with transaction(session_factory) as session:
        cancelled = appointments.cancel(session, reference, "(905) 555-0001", now=NOW)
        assert (cancelled.status, cancelled.cancelled_at) == ("cancelled", NOW)
    with session_factory() as session:
        assert booked(session, slot_id) == 0
    with pytest.raises(Conflict, match="already cancelled"), transaction(session_factory) as session:
        appointments.cancel(session, reference, "resident1@example.org", now=NOW)
    with session_factory() as session:
        assert booked(session, slot_id) == 0


def test_a_resident_holds_one_booking_of_a_type_at_a_time(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        flu = appointments.open_slots(session, "flu_covid_vaccine", location_code="port_sable_clinic", now=NOW)
        first, second = flu[0].id, flu[-1].id  # 9:00 and 12:10 on the same morning
        first_starts = flu[0].starts_at
        (dental,) = slot_ids(session, "seniors_dental", 1)
    with transaction(session_factory) as session:
        reference = appointments.book(session, first, resident(), "phone", now=NOW).reference
    # The same person, recognized by phone alone: another flu clinic is refused, a dental visit is not.
    by_phone = ContactIn(phone="905.555.0001")
    with pytest.raises(Conflict, match=reference), transaction(session_factory) as session:
        appointments.book(session, second, by_phone, "phone", now=NOW)
    with transaction(session_factory) as session:
        appointments.book(session, dental, by_phone, "phone", now=NOW)
    # Once the first appointment has taken place, the next one can be booked.
    after = first_starts + dt.timedelta(minutes=30)
    with transaction(session_factory) as session:
        appointments.book(session, second, by_phone, "phone", now=after)
    with session_factory() as session:
        assert (booked(session, first), booked(session, second), booked(session, dental)) == (1, 1, 1)
        assert session.scalar(select(func.count()).select_from(AppointmentBooking)) == 3


def test_rescheduling_takes_the_new_seat_and_frees_the_old(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        first, second, full = slot_ids(session, "travel_health", 3)
        (other_type,) = slot_ids(session, "seniors_dental", 1)
    with transaction(session_factory) as session:
        reference = appointments.book(session, first, resident(), "chat", now=NOW).reference
        appointments.book(session, full, resident(2), "chat", now=NOW)  # capacity 1: now full

    with transaction(session_factory) as session:
        moved = appointments.reschedule(session, reference, second, "resident1@example.org", now=NOW)
        assert (moved.reference, moved.slot_id, moved.status) == (reference, second, "booked")
    with session_factory() as session:
        assert (booked(session, first), booked(session, second)) == (0, 1)

    # A full slot, another kind of appointment or the same time: refused, and nothing changes.
    for slot_id, error, field in ((full, SlotFull, None), (other_type, InvalidInput, "slot_id")):
        with pytest.raises(error) as refused, transaction(session_factory) as session:
            appointments.reschedule(session, reference, slot_id, "9055550001", now=NOW)
        assert getattr(refused.value, "field", None) == field
    with pytest.raises(InvalidInput, match="already the time"), transaction(session_factory) as session:
        appointments.reschedule(session, reference, second, "9055550001", now=NOW)
    with session_factory() as session:
        assert (booked(session, first), booked(session, second), booked(session, full)) == (0, 1, 1)
        assert appointments.get_booking(session, reference).slot_id == second

    with transaction(session_factory) as session:
        appointments.cancel(session, reference, "9055550001", now=NOW)
    with pytest.raises(Conflict, match="already cancelled"), transaction(session_factory) as session:
        appointments.reschedule(session, reference, first, "9055550001", now=NOW)
    with session_factory() as session:
        assert (booked(session, first), booked(session, second)) == (0, 0)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"contact": ContactIn(name="No Way To Reach")}, "contact"),
        ({"contact": ContactIn(email="not-an-address")}, "contact.email"),
        ({"contact": ContactIn(phone="555-0100")}, "contact.phone"),
        ({"channel": "carrier pigeon"}, "channel"),
        ({"slot_id": 987654321}, "slot_id"),
        ({"now": dt.datetime(2027, 6, 1, tzinfo=dt.UTC)}, "slot_id"),  # the slot has passed
    ],
)
def test_bad_booking_input_names_the_field_and_takes_no_seat(
    session_factory: sessionmaker[Session], changes: dict[str, Any], field: str
) -> None:
    with session_factory() as session:
        (slot_id,) = slot_ids(session, "sexual_health", 1)
    arguments: dict[str, Any] = {"slot_id": slot_id, "contact": resident(), "channel": "web", "now": NOW}
    with pytest.raises(InvalidInput) as refused, transaction(session_factory) as session:
        appointments.book(session, **{**arguments, **changes})
    assert refused.value.field == field
    with session_factory() as session:
        assert booked(session, slot_id) == 0
        assert session.scalar(select(func.count()).select_from(AppointmentBooking)) == 0


def test_fifty_residents_racing_for_one_seat_give_one_booking(
    settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    with transaction(session_factory) as session:
        (slot_id,) = slot_ids(session, "flu_covid_vaccine", 1)
        session.execute(update(AppointmentSlot).where(AppointmentSlot.id == slot_id).values(capacity=1))

    def attempt(number: int) -> Callable[[Session], object]:
        return lambda session: appointments.book(session, slot_id, resident(number), "chat", now=NOW).reference

    outcomes = race(settings.sqlalchemy_url, [attempt(number) for number in range(1, 51)])

    references = [outcome for outcome in outcomes if isinstance(outcome, str)]
    refusals = [outcome for outcome in outcomes if isinstance(outcome, SlotFull)]
    assert len(references) == 1 and len(refusals) == 49, [o for o in outcomes if not isinstance(o, str | SlotFull)]
    assert "fully booked" in str(refusals[0])
    with session_factory() as session:
        assert booked(session, slot_id) == 1
        bookings = session.scalars(select(AppointmentBooking).where(AppointmentBooking.slot_id == slot_id)).all()
        assert [b.reference for b in bookings] == references


def test_simultaneous_cancellations_free_the_seat_once(
    settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    with session_factory() as session:
        (slot_id,) = slot_ids(session, "rabies_follow_up", 1)
    with transaction(session_factory) as session:
        reference = appointments.book(session, slot_id, resident(1), "chat", now=NOW).reference
        appointments.book(session, slot_id, resident(2), "chat", now=NOW)

    def cancel(session: Session) -> str:
        return appointments.cancel(session, reference, "resident1@example.org", now=NOW).status

    outcomes = race(settings.sqlalchemy_url, [cancel] * 10)

    assert outcomes.count("cancelled") == 1
    assert sum(isinstance(outcome, Conflict) for outcome in outcomes) == 9, outcomes
    with session_factory() as session:
        assert booked(session, slot_id) == 1  # resident 2 still holds the other seat


def test_one_resident_booking_ten_times_at_once_gets_one_appointment(
    settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    with transaction(session_factory) as session:
        slots = slot_ids(session, "flu_covid_vaccine", 10)
        appointments.require_contact(session, resident(7), "for the test")  # an existing resident

    def attempt(slot_id: int) -> Callable[[Session], object]:
        return lambda session: appointments.book(session, slot_id, resident(7), "chat", now=NOW).reference

    outcomes = race(settings.sqlalchemy_url, [attempt(slot_id) for slot_id in slots])

    assert sum(isinstance(outcome, str) for outcome in outcomes) == 1
    assert sum(isinstance(outcome, Conflict) and not isinstance(outcome, SlotFull) for outcome in outcomes) == 9
    with session_factory() as session:
        assert sum(booked(session, slot_id) for slot_id in slots) == 1


def test_cancelling_and_rescheduling_at_once_leave_the_counts_right(
    settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    with session_factory() as session:
        original, *targets = slot_ids(session, "school_catch_up_immunization", 6)
    with transaction(session_factory) as session:
        reference = appointments.book(session, original, resident(), "chat", now=NOW).reference

    def cancel(session: Session) -> object:
        return appointments.cancel(session, reference, "9055550001", now=NOW).status

    def move_to(slot_id: int) -> Callable[[Session], object]:
        return lambda session: appointments.reschedule(session, reference, slot_id, "9055550001", now=NOW).slot_id

    outcomes = race(settings.sqlalchemy_url, [cancel] * 5 + [move_to(slot_id) for slot_id in targets])

    # Anything but a clean refusal (a deadlock, a constraint error) would show up here.
    assert all(not isinstance(outcome, Exception) or isinstance(outcome, Conflict) for outcome in outcomes), outcomes
    assert outcomes.count("cancelled") <= 1
    with session_factory() as session:
        booking = appointments.get_booking(session, reference)
        counts = {slot_id: booked(session, slot_id) for slot_id in [original, *targets]}
    held = {slot_id for slot_id, count in counts.items() if count}
    assert held == (set() if booking.status == "cancelled" else {booking.slot_id}), (booking.status, counts)
    assert sum(counts.values()) == len(held)
