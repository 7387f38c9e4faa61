"""Clinic appointments, public events with RSVPs, and forms mailed to residents."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Column,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from civicdesk.db import utcnow
from civicdesk.models.base import Base

if TYPE_CHECKING:
    from civicdesk.models.catalogue import Department
    from civicdesk.models.residents import Contact


class AppointmentLocation(Base):
    __tablename__ = "appointment_location"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(300))
    city: Mapped[str] = mapped_column(String(120))
    postal_code: Mapped[str] = mapped_column(String(7))
    phone: Mapped[str | None] = mapped_column(String(40))
    accessibility: Mapped[str] = mapped_column(Text, default="")


appointment_type_location = Table(
    "appointment_type_location",
    Base.metadata,
    Column("type_id", ForeignKey("appointment_type.id", ondelete="CASCADE"), primary_key=True),
    Column("location_id", ForeignKey("appointment_location.id", ondelete="CASCADE"), primary_key=True),
)


class AppointmentType(Base):
    """A kind of appointment (e.g. a flu clinic); its weekly schedule generates the bookable slots."""

    __tablename__ = "appointment_type"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"))
    description: Mapped[str] = mapped_column(Text)
    eligibility: Mapped[str] = mapped_column(Text, default="")
    duration_minutes: Mapped[int] = mapped_column(Integer)
    schedule: Mapped[dict[str, Any]] = mapped_column(default=dict)

    department: Mapped[Department] = relationship()
    locations: Mapped[list[AppointmentLocation]] = relationship(secondary=appointment_type_location)


class AppointmentSlot(Base):
    __tablename__ = "appointment_slot"
    __table_args__ = (UniqueConstraint("type_id", "location_id", "starts_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    type_id: Mapped[int] = mapped_column(ForeignKey("appointment_type.id", ondelete="CASCADE"))
    location_id: Mapped[int] = mapped_column(ForeignKey("appointment_location.id", ondelete="CASCADE"))
    starts_at: Mapped[dt.datetime]
    ends_at: Mapped[dt.datetime]
    capacity: Mapped[int] = mapped_column(Integer)
    booked: Mapped[int] = mapped_column(Integer, default=0)

    type: Mapped[AppointmentType] = relationship()
    location: Mapped[AppointmentLocation] = relationship()


class PublicEvent(Base):
    """A public event that takes RSVPs (consultation, open house, town hall)."""

    __tablename__ = "public_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"))
    venue: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(300))
    starts_at: Mapped[dt.datetime]
    ends_at: Mapped[dt.datetime]
    capacity: Mapped[int] = mapped_column(Integer)
    reserved: Mapped[int] = mapped_column(Integer, default=0)  # seats taken by RSVPs
    online_option: Mapped[str | None] = mapped_column(String(500))

    department: Mapped[Department] = relationship()


class MailableItem(Base):
    """A form or brochure residents can have mailed to them."""

    __tablename__ = "mailable_item"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"))
    format: Mapped[str] = mapped_column(String(20))
    languages: Mapped[list[Any]] = mapped_column(default=list)
    max_copies: Mapped[int] = mapped_column(Integer, default=1)

    department: Mapped[Department] = relationship()


class AppointmentBooking(Base):
    __tablename__ = "appointment_booking"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(20), unique=True)
    slot_id: Mapped[int] = mapped_column(ForeignKey("appointment_slot.id"), index=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contact.id"))
    status: Mapped[str] = mapped_column(String(20), default="booked")  # booked, cancelled
    channel: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    cancelled_at: Mapped[dt.datetime | None]

    slot: Mapped[AppointmentSlot] = relationship()
    contact: Mapped[Contact] = relationship()


class EventRsvp(Base):
    __tablename__ = "event_rsvp"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(20), unique=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("public_event.id"), index=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contact.id"))
    party_size: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(20), default="attending")  # attending, cancelled
    channel: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    cancelled_at: Mapped[dt.datetime | None]

    event: Mapped[PublicEvent] = relationship()
    contact: Mapped[Contact] = relationship()


class FormRequest(Base):
    """A form or brochure to be mailed to a Canadian address."""

    __tablename__ = "form_request"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(20), unique=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("mailable_item.id"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contact.id"))
    copies: Mapped[int] = mapped_column(Integer, default=1)
    language: Mapped[str] = mapped_column(String(8), default="en")
    recipient: Mapped[str] = mapped_column(String(200))
    street: Mapped[str] = mapped_column(String(300))
    city: Mapped[str] = mapped_column(String(120))
    province: Mapped[str] = mapped_column(String(2))
    postal_code: Mapped[str] = mapped_column(String(7))
    status: Mapped[str] = mapped_column(String(20), default="requested")  # requested, mailed, cancelled
    channel: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    mailed_at: Mapped[dt.datetime | None]

    item: Mapped[MailableItem] = relationship()
    contact: Mapped[Contact] = relationship()
