"""Internal API (`/api/v1`) for appointments, event RSVPs and mailed forms, called by the bot's actions.

Statuses: 422 names the field that cannot be accepted, 404 an unknown reference (the app's handlers turn
InvalidInput, NotFound and Conflict into these), 409 a valid request the current state refuses (no seat left, already
cancelled, already booked, already taken place). A booking is changed only with the email or phone it was made
with; that proof travels in the JSON body, never in the URL, so it stays out of access logs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Literal

from fastapi import Query, Request, status
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field

from civicdesk import validation
from civicdesk.bookings import appointments, events, mailed_forms
from civicdesk.contacts import ContactBody, ContactProof
from civicdesk.db import transaction
from civicdesk.deps import SessionDep
from civicdesk.errors import InvalidInput
from civicdesk.limits import LIMITS
from civicdesk.models import (
    AppointmentBooking,
    AppointmentLocation,
    AppointmentSlot,
    EventRsvp,
    FormRequest,
    PublicEvent,
)
from civicdesk.service_requests.service import Channel
from civicdesk.staff.deps import CONFLICT, NOT_FOUND, internal_router

router = internal_router("bookings")


@contextmanager
def _query_errors() -> Iterator[None]:
    """InvalidInput about a query parameter, in the shape FastAPI gives its own query errors."""
    try:
        yield
    except InvalidInput as error:
        raise RequestValidationError(
            [{"loc": ("query", error.field), "msg": error.message, "type": "invalid_input"}]
        ) from error


# ----------------------------------------------------------------------------------------------- appointments


class LocationOut(BaseModel):
    code: str
    name: str
    address: str
    city: str
    postal_code: str
    phone: str | None
    accessibility: str


class AppointmentTypeOut(BaseModel):
    code: str
    name: str
    department: str
    description: str
    eligibility: str
    duration_minutes: int
    locations: list[LocationOut]


class SlotOut(BaseModel):
    id: int
    type: str
    location: str
    location_name: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    seats_left: int


class BookingBody(BaseModel):
    slot_id: Annotated[int, Field(ge=1, le=2**31 - 1)]
    contact: ContactBody
    channel: Channel = "chat"


class RescheduleBody(ContactProof):
    slot_id: Annotated[int, Field(ge=1, le=2**31 - 1)]


class BookingOut(BaseModel):
    """What the resident is told: never the contact details on the booking."""

    reference: str
    status: Literal["booked", "cancelled"]
    type: str
    type_name: str
    location: str
    location_name: str
    address: str
    starts_at: dt.datetime
    ends_at: dt.datetime


def _location_out(location: AppointmentLocation) -> LocationOut:
    return LocationOut.model_validate(location, from_attributes=True)


def _slot_out(slot: AppointmentSlot) -> SlotOut:
    return SlotOut(
        id=slot.id,
        type=slot.type.code,
        location=slot.location.code,
        location_name=slot.location.name,
        starts_at=slot.starts_at,
        ends_at=slot.ends_at,
        seats_left=slot.capacity - slot.booked,
    )


def _booking_out(booking: AppointmentBooking) -> BookingOut:
    slot = booking.slot
    return BookingOut(
        reference=booking.reference,
        status=booking.status,
        type=slot.type.code,
        type_name=slot.type.name,
        location=slot.location.code,
        location_name=slot.location.name,
        address=f"{slot.location.address}, {slot.location.city}, ON {slot.location.postal_code}",
        starts_at=slot.starts_at,
        ends_at=slot.ends_at,
    )


@router.get("/appointments/types")
def list_appointment_types(session: SessionDep) -> list[AppointmentTypeOut]:
    """Kinds of appointment the Region books, with where each is offered."""
    return [
        AppointmentTypeOut(
            code=t.code,
            name=t.name,
            department=t.department.code,
            description=t.description,
            eligibility=t.eligibility,
            duration_minutes=t.duration_minutes,
            locations=[_location_out(location) for location in sorted(t.locations, key=lambda loc: loc.name)],
        )
        for t in appointments.appointment_types(session)
    ]


@router.get("/appointments/slots")
def list_open_slots(
    session: SessionDep,
    appointment_type: Annotated[
        str, Query(alias="type", min_length=1, max_length=LIMITS["code"], description="Appointment type code.")
    ],
    location: Annotated[str | None, Query(max_length=LIMITS["code"], description="Location code.")] = None,
    from_date: Annotated[dt.date | None, Query(description="First day wanted, in the Region's time.")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> list[SlotOut]:
    """Future times of a type that still have room, soonest first."""
    with _query_errors():
        slots = appointments.open_slots(
            session, appointment_type, location_code=location, from_date=from_date, limit=limit
        )
    return [_slot_out(slot) for slot in slots]


@router.post("/appointments/bookings", status_code=status.HTTP_201_CREATED, responses={409: CONFLICT})
def book_appointment(body: BookingBody, request: Request) -> BookingOut:
    """Book a seat; 409 when the time has just filled or the resident already holds this kind of appointment."""
    with transaction(request.app.state.session_factory) as session:
        booking = appointments.book(session, body.slot_id, body.contact.as_contact(), body.channel)
        return _booking_out(booking)


@router.delete("/appointments/bookings/{reference}", responses={404: NOT_FOUND, 409: CONFLICT})
def cancel_appointment(reference: str, body: ContactProof, request: Request) -> BookingOut:
    """Cancel a booking; the seat is offered to others again."""
    with transaction(request.app.state.session_factory) as session:
        return _booking_out(appointments.cancel(session, reference, body.contact))


@router.patch("/appointments/bookings/{reference}", responses={404: NOT_FOUND, 409: CONFLICT})
def reschedule_appointment(reference: str, body: RescheduleBody, request: Request) -> BookingOut:
    """Move a booking to another time of the same type; it keeps its reference."""
    with transaction(request.app.state.session_factory) as session:
        return _booking_out(appointments.reschedule(session, reference, body.slot_id, body.contact))


# ----------------------------------------------------------------------------------------------------- events


class EventOut(BaseModel):
    code: str
    title: str
    description: str
    department: str
    venue: str
    address: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    seats_left: int
    online_option: str | None


class RsvpBody(BaseModel):
    contact: ContactBody
    party_size: int = 1
    channel: Channel = "chat"


class RsvpOut(BaseModel):
    reference: str
    status: Literal["attending", "cancelled"]
    event: str
    title: str
    venue: str
    address: str
    starts_at: dt.datetime
    party_size: int
    online_option: str | None


def _event_out(event: PublicEvent) -> EventOut:
    return EventOut(
        code=event.code,
        title=event.title,
        description=event.description,
        department=event.department.code,
        venue=event.venue,
        address=event.address,
        starts_at=event.starts_at,
        ends_at=event.ends_at,
        seats_left=events.seats_left(event),
        online_option=event.online_option,
    )


def _rsvp_out(reservation: EventRsvp) -> RsvpOut:
    event = reservation.event
    return RsvpOut(
        reference=reservation.reference,
        status=reservation.status,
        event=event.code,
        title=event.title,
        venue=event.venue,
        address=event.address,
        starts_at=event.starts_at,
        party_size=reservation.party_size,
        online_option=event.online_option,
    )


@router.get("/events")
def list_upcoming_events(session: SessionDep) -> list[EventOut]:
    """Events that have not started yet, soonest first, with the seats left."""
    return [_event_out(event) for event in events.upcoming(session)]


@router.post("/events/{code}/rsvps", status_code=status.HTTP_201_CREATED, responses={404: NOT_FOUND, 409: CONFLICT})
def rsvp_to_event(code: str, body: RsvpBody, request: Request) -> RsvpOut:
    """Reserve seats; 409 when there are not enough left (the message says how many remain)."""
    with transaction(request.app.state.session_factory) as session:
        reservation = events.rsvp(session, code, body.contact.as_contact(), body.party_size, body.channel)
        return _rsvp_out(reservation)


@router.delete("/events/rsvps/{reference}", responses={404: NOT_FOUND, 409: CONFLICT})
def cancel_rsvp(reference: str, body: ContactProof, request: Request) -> RsvpOut:
    """Cancel an RSVP; its seats are free again."""
    with transaction(request.app.state.session_factory) as session:
        return _rsvp_out(events.cancel(session, reference, body.contact))


# ------------------------------------------------------------------------------------------------------ forms


class FormOut(BaseModel):
    code: str
    title: str
    description: str
    department: str
    format: str
    languages: list[str]
    max_copies: int


class FormRequestBody(BaseModel):
    item_code: validation.CodeLine
    contact: ContactBody
    copies: int = 1
    language: validation.LanguageLine = "en"
    recipient: validation.NameLine
    street: validation.AddressLine
    city: validation.ShortLine
    province: validation.CodeLine = "ON"
    postal_code: validation.PostalCodeLine
    channel: Channel = "chat"


class FormRequestOut(BaseModel):
    reference: str
    status: Literal["requested", "mailed", "cancelled"]
    item: str
    title: str
    copies: int
    language: str
    mailing_address: str


def _form_request_out(form_request: FormRequest) -> FormRequestOut:
    return FormRequestOut(
        reference=form_request.reference,
        status=form_request.status,
        item=form_request.item.code,
        title=form_request.item.title,
        copies=form_request.copies,
        language=form_request.language,
        mailing_address=(
            f"{form_request.recipient}\n{form_request.street}\n"
            f"{form_request.city} {form_request.province}  {form_request.postal_code}"
        ),
    )


@router.get("/forms")
def list_mailable_forms(session: SessionDep) -> list[FormOut]:
    """Forms and brochures that can be mailed, with their languages and copy limits."""
    return [
        FormOut(
            code=item.code,
            title=item.title,
            description=item.description,
            department=item.department.code,
            format=item.format,
            languages=list(item.languages),
            max_copies=item.max_copies,
        )
        for item in mailed_forms.catalogue(session)
    ]


@router.post("/forms/requests", status_code=status.HTTP_201_CREATED)
def request_mailed_form(body: FormRequestBody, request: Request) -> FormRequestOut:
    """Queue a form or brochure for mailing to a Canadian address."""
    with transaction(request.app.state.session_factory) as session:
        form_request = mailed_forms.request_form(
            session,
            body.item_code,
            body.contact.as_contact(),
            body.copies,
            body.language,
            body.recipient,
            body.street,
            body.city,
            body.province,
            body.postal_code,
            body.channel,
        )
        return _form_request_out(form_request)
