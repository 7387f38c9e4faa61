"""Tables of the core database (SQLAlchemy 2 typed models). Schema changes go through Alembic migrations."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from civicdesk.db import UTCDateTime, utcnow

# Stable constraint names so Alembic migrations read the same on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dt.datetime: UTCDateTime(), dict[str, Any]: JSON, list[Any]: JSON}


class Department(Base):
    """A department or program area; its work lands in its agent queue during its business hours."""

    __tablename__ = "department"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    municipality: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(40))
    queue_code: Mapped[str] = mapped_column(String(64), unique=True)
    queue_name: Mapped[str] = mapped_column(String(200))
    # {"mon": "08:30-16:30", ..., "sun": null}
    business_hours: Mapped[dict[str, Any]] = mapped_column(default=dict)

    services: Mapped[list[Service]] = relationship(back_populates="department")


class Holiday(Base):
    __tablename__ = "holiday"

    id: Mapped[int] = mapped_column(primary_key=True)
    date: Mapped[dt.date] = mapped_column(Date, unique=True)
    name: Mapped[str] = mapped_column(String(200))


class Service(Base):
    """An entry of the service catalogue (an Open311 GeoReport v2 service)."""

    __tablename__ = "service"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    group: Mapped[str] = mapped_column(String(120))
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"))
    keywords: Mapped[list[Any]] = mapped_column(default=list)
    target_routine_hours: Mapped[float]
    target_urgent_hours: Mapped[float]
    target_emergency_hours: Mapped[float | None]
    can_be_emergency: Mapped[bool] = mapped_column(Boolean, default=False)
    emergency_instruction: Mapped[str | None] = mapped_column(Text)
    location_required: Mapped[bool] = mapped_column(Boolean, default=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    department: Mapped[Department] = relationship(back_populates="services")
    attributes: Mapped[list[ServiceAttribute]] = relationship(
        back_populates="service", order_by="ServiceAttribute.order", cascade="all, delete-orphan"
    )


class ServiceAttribute(Base):
    """A question a service asks (Open311 attribute); `values` holds the choices of list datatypes."""

    __tablename__ = "service_attribute"
    __table_args__ = (UniqueConstraint("service_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("service.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(Text)
    datatype: Mapped[str] = mapped_column(String(20))
    datatype_description: Mapped[str | None] = mapped_column(Text)
    required: Mapped[bool] = mapped_column(Boolean, default=False)
    variable: Mapped[bool] = mapped_column(Boolean, default=True)
    order: Mapped[int] = mapped_column(Integer)
    values: Mapped[list[Any]] = mapped_column(default=list)

    service: Mapped[Service] = relationship(back_populates="attributes")


class KbArticle(Base):
    """A knowledgebase article; every saved change also lands in `kb_article_version`."""

    __tablename__ = "kb_article"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"))
    tags: Mapped[list[Any]] = mapped_column(default=list)
    example_questions: Mapped[list[Any]] = mapped_column(default=list)
    synonyms: Mapped[list[Any]] = mapped_column(default=list)
    url: Mapped[str | None] = mapped_column(String(500))
    owner: Mapped[str | None] = mapped_column(String(200))
    review_date: Mapped[dt.date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), default="draft")
    language: Mapped[str] = mapped_column(String(8), default="en")
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(120), default="seed")

    department: Mapped[Department | None] = relationship()
    versions: Mapped[list[KbArticleVersion]] = relationship(
        back_populates="article", order_by="KbArticleVersion.version", cascade="all, delete-orphan"
    )


class KbArticleVersion(Base):
    __tablename__ = "kb_article_version"
    __table_args__ = (UniqueConstraint("article_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("kb_article.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20))
    saved_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    saved_by: Mapped[str] = mapped_column(String(120))

    article: Mapped[KbArticle] = relationship(back_populates="versions")


appointment_type_location = Table(
    "appointment_type_location",
    Base.metadata,
    Column("type_id", ForeignKey("appointment_type.id", ondelete="CASCADE"), primary_key=True),
    Column("location_id", ForeignKey("appointment_location.id", ondelete="CASCADE"), primary_key=True),
)


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


class ReferralOrganization(Base):
    """Another organization a misdirected request is referred to."""

    __tablename__ = "referral_organization"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    level: Mapped[str] = mapped_column(String(20))
    topics: Mapped[list[Any]] = mapped_column(default=list)
    description: Mapped[str] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(String(40))
    website: Mapped[str | None] = mapped_column(String(500))
    hours: Mapped[str | None] = mapped_column(String(200))


class OnCallShift(Base):
    """Who answers a department's after-hours emergencies, and when."""

    __tablename__ = "on_call_shift"

    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"))
    role: Mapped[str] = mapped_column(String(120))
    name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str] = mapped_column(String(40))
    starts_at: Mapped[dt.datetime]
    ends_at: Mapped[dt.datetime]

    department: Mapped[Department] = relationship()


class InboundEmail(Base):
    """A message as received: raw bytes kept so nothing is lost, one row per distinct message."""

    __tablename__ = "inbound_email"

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    message_id: Mapped[str | None] = mapped_column(String(998), index=True)
    source: Mapped[str] = mapped_column(String(300))
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(Integer)
    subject: Mapped[str | None] = mapped_column(Text)
    sender: Mapped[str | None] = mapped_column(String(998))
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # Same Message-ID and same body is one message however many routes it took (Received headers differ);
    # the key falls back to the raw sha256 when there is no Message-ID.
    dedupe_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    # where the source keeps it: "UIDVALIDITY:UID" for IMAP, the file's key for Maildir (finishing cut-short moves)
    source_key: Mapped[str | None] = mapped_column(String(300), index=True)
    # stored (raw only) -> routed | threaded | needs_human | bounce | ignored, or quarantined (unreadable, oversize)
    status: Mapped[str] = mapped_column(String(20), default="stored", index=True)
    status_reason: Mapped[str | None] = mapped_column(Text)
    sender_address: Mapped[str | None] = mapped_column(String(254), index=True)  # lower-case, from From:
    in_reply_to: Mapped[str | None] = mapped_column(String(998))
    references: Mapped[str | None] = mapped_column(Text)
    new_text: Mapped[str | None] = mapped_column(Text)  # what the sender wrote now: no quoted reply or signature
    quoted_text: Mapped[str | None] = mapped_column(Text)
    no_reply_reason: Mapped[str | None] = mapped_column(String(200))  # why no acknowledgement went out (RFC 3834)
    triage: Mapped[dict[str, Any] | None] = mapped_column()  # the classifiers' labels, confidences and entities
    urgency: Mapped[str | None] = mapped_column(String(20))
    service_request_id: Mapped[int | None] = mapped_column(ForeignKey("service_request.id"), index=True)
    processed_at: Mapped[dt.datetime | None]
    # An agent finished the case (needs_human or quarantined): it leaves the work queue.
    handled_at: Mapped[dt.datetime | None]
    handled_by: Mapped[str | None] = mapped_column(String(120))

    attachments: Mapped[list[EmailAttachment]] = relationship(
        back_populates="email", order_by="EmailAttachment.id", cascade="all, delete-orphan"
    )
    service_request: Mapped[ServiceRequest | None] = relationship()


class EmailAttachment(Base):
    """A file attached to an inbound email; `content` is kept only under the attachment size cap."""

    __tablename__ = "email_attachment"

    id: Mapped[int] = mapped_column(primary_key=True)
    email_id: Mapped[int] = mapped_column(ForeignKey("inbound_email.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(120))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes | None] = mapped_column(LargeBinary)

    email: Mapped[InboundEmail] = relationship(back_populates="attachments")


class OutboundMessage(Base):
    """The outbox: acknowledgements, on-call notices and alerts, written in the transaction that decides them
    and delivered afterwards (SMTP or webhook), so a crash delays a message but never loses it."""

    __tablename__ = "outbound_message"
    # The per-sender acknowledgement limit counts a sender's recent messages on every incoming email.
    __table_args__ = (Index("ix_outbound_message_recipient_created_at", "recipient", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))  # email | webhook
    purpose: Mapped[str] = mapped_column(String(30), index=True)  # acknowledgement | oncall | alert
    recipient: Mapped[str] = mapped_column(String(500))  # an address, or the webhook URL
    subject: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[str] = mapped_column(Text)
    message_id: Mapped[str | None] = mapped_column(String(998), unique=True)  # ours, for threading and bounces
    in_reply_to: Mapped[str | None] = mapped_column(String(998))
    inbound_email_id: Mapped[int | None] = mapped_column(ForeignKey("inbound_email.id"), index=True)
    service_request_id: Mapped[int | None] = mapped_column(ForeignKey("service_request.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="pending", index=True)  # pending | sent | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[dt.datetime | None]


class MailboxLease(Base):
    """One fetcher per mailbox: the holder renews its lease while it reads; another takes over once it expires."""

    __tablename__ = "mailbox_lease"

    mailbox: Mapped[str] = mapped_column(String(300), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[dt.datetime]


class TriageCorrection(Base):
    """An agent's confirmed or corrected labels for a text: training data for the next triage model."""

    __tablename__ = "triage_correction"

    id: Mapped[int] = mapped_column(primary_key=True)
    inbound_email_id: Mapped[int | None] = mapped_column(ForeignKey("inbound_email.id"), index=True)
    source: Mapped[str] = mapped_column(String(20), default="email")  # email | chat
    subject: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[str] = mapped_column(Text, default="")
    service_code: Mapped[str | None] = mapped_column(String(64))
    kind: Mapped[str | None] = mapped_column(String(30))
    urgency: Mapped[str | None] = mapped_column(String(20))
    predicted: Mapped[dict[str, Any]] = mapped_column(default=dict)  # what the model said, for misroute reports
    corrected_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)


class ComponentHeartbeat(Base):
    """Last sign of life of a background process (the ingester), read by /health."""

    __tablename__ = "component_heartbeat"

    component: Mapped[str] = mapped_column(String(64), primary_key=True)
    state: Mapped[str] = mapped_column(String(20))
    detail: Mapped[str] = mapped_column(Text, default="")
    beat_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class KnowledgeGap(Base):
    """A question the knowledgebase could not answer with confidence: input for new articles."""

    __tablename__ = "knowledge_gap"

    id: Mapped[int] = mapped_column(primary_key=True)
    query: Mapped[str] = mapped_column(Text)
    channel: Mapped[str] = mapped_column(String(20))
    top_slug: Mapped[str | None] = mapped_column(String(120))
    top_score: Mapped[float | None]
    asked_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)


class Contact(Base):
    """A resident or business that contacted the centre; one row per email or phone number (deduplicated)."""

    __tablename__ = "contact"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254), unique=True)  # stored lower-case
    phone: Mapped[str | None] = mapped_column(String(20), unique=True)  # digits only, 10 for North America
    preferred_language: Mapped[str] = mapped_column(String(8), default="en")
    consent: Mapped[bool] = mapped_column(Boolean, default=False)  # to be contacted about the request
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ServiceRequest(Base):
    """A request for service, from any channel; `reference` is what the resident quotes (SR-2026-000123)."""

    __tablename__ = "service_request"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str | None] = mapped_column(String(20), unique=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("service.id"))
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contact.id"))
    referral_id: Mapped[int | None] = mapped_column(ForeignKey("referral_organization.id"))
    description: Mapped[str] = mapped_column(Text)
    address: Mapped[str | None] = mapped_column(String(300))
    postal_code: Mapped[str | None] = mapped_column(String(7))
    lat: Mapped[float | None]
    long: Mapped[float | None]
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)  # Open311 attribute answers by code
    channel: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(30), default="service_request")
    urgency: Mapped[str] = mapped_column(String(20), default="routine")
    status: Mapped[str] = mapped_column(String(20), default="open", index=True)
    resolution: Mapped[str | None] = mapped_column(Text)
    assignee: Mapped[str | None] = mapped_column(String(120))
    api_client_id: Mapped[int | None] = mapped_column(ForeignKey("api_client.id"))
    token: Mapped[str | None] = mapped_column(String(64), unique=True)  # Open311 token for the submitter
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    due_at: Mapped[dt.datetime]
    closed_at: Mapped[dt.datetime | None]

    service: Mapped[Service] = relationship()
    department: Mapped[Department] = relationship()
    contact: Mapped[Contact | None] = relationship()
    referral: Mapped[ReferralOrganization | None] = relationship()
    history: Mapped[list[ServiceRequestChange]] = relationship(
        back_populates="request", order_by="ServiceRequestChange.id", cascade="all, delete-orphan"
    )
    notes: Mapped[list[ServiceRequestNote]] = relationship(
        back_populates="request", order_by="ServiceRequestNote.id", cascade="all, delete-orphan"
    )
    attachments: Mapped[list[ServiceRequestAttachment]] = relationship(
        back_populates="request", order_by="ServiceRequestAttachment.id", cascade="all, delete-orphan"
    )


class ServiceRequestChange(Base):
    """One change to a request: who, when, which field, from what to what."""

    __tablename__ = "service_request_change"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("service_request.id", ondelete="CASCADE"), index=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(120))
    field: Mapped[str] = mapped_column(String(40))
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str | None] = mapped_column(Text)

    request: Mapped[ServiceRequest] = relationship(back_populates="history")


class ServiceRequestNote(Base):
    __tablename__ = "service_request_note"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("service_request.id", ondelete="CASCADE"), index=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    author: Mapped[str] = mapped_column(String(120))
    body: Mapped[str] = mapped_column(Text)
    internal: Mapped[bool] = mapped_column(Boolean, default=True)  # internal notes are never shown to residents

    request: Mapped[ServiceRequest] = relationship(back_populates="notes")


class ServiceRequestAttachment(Base):
    """What was attached (the file itself lives with the email or the upload store)."""

    __tablename__ = "service_request_attachment"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("service_request.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(120))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str | None] = mapped_column(String(64))

    request: Mapped[ServiceRequest] = relationship(back_populates="attachments")


class ApiClient(Base):
    """A caller of the APIs (an Open311 app, the action server); only the sha256 of its key is stored."""

    __tablename__ = "api_client"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    key_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    scope: Mapped[str] = mapped_column(String(20))  # "open311" or "internal"
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[dt.datetime | None]


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


class MailCheckpoint(Base):
    """How far the ingester has read one IMAP folder: every UID up to `last_uid` under `uidvalidity` is stored.

    Written in the same transaction as each message's row. `last_folder` is where `last_uid` goes, so a move that
    a crash cut short is finished on the next pass without downloading the message again.
    """

    __tablename__ = "mail_checkpoint"

    mailbox: Mapped[str] = mapped_column(String(300), primary_key=True)  # imap://user@host:port/INBOX
    uidvalidity: Mapped[int] = mapped_column(BigInteger)  # IMAP UIDs and UIDVALIDITY are unsigned 32-bit
    last_uid: Mapped[int] = mapped_column(BigInteger)
    last_folder: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Conversation(Base):
    """A chat with a resident. `owner` says who answers now: bot, waiting (the agent queue), agent, or closed."""

    __tablename__ = "conversation"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(64), unique=True)  # unguessable; the browser's only key
    channel: Mapped[str] = mapped_column(String(20), default="web")
    owner: Mapped[str] = mapped_column(String(20), default="bot", index=True)
    agent: Mapped[str | None] = mapped_column(String(120))
    handoff_reason: Mapped[str | None] = mapped_column(String(60))
    summary: Mapped[str | None] = mapped_column(Text)
    slots: Mapped[dict[str, Any]] = mapped_column(default=dict)  # what the assistant had collected
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    waiting_since: Mapped[dt.datetime | None]
    urgency: Mapped[str] = mapped_column(String(20), default="routine")  # from the bot's handoff payload
    service_request_id: Mapped[int | None] = mapped_column(ForeignKey("service_request.id"))
    offered_at: Mapped[dt.datetime | None]  # when the resident was offered a callback or to leave a message
    # The last wait for an agent, kept after it ends (waiting_since is cleared): service levels are measured on it.
    queued_at: Mapped[dt.datetime | None]
    claimed_at: Mapped[dt.datetime | None]
    # The end-of-chat survey: 1 (poor) to 5 (excellent), and what the resident added.
    rating: Mapped[int | None] = mapped_column(Integer)
    rating_comment: Mapped[str | None] = mapped_column(Text)
    closed_at: Mapped[dt.datetime | None]

    messages: Mapped[list[ChatMessage]] = relationship(back_populates="conversation", order_by="ChatMessage.id")
    notes: Mapped[list[ConversationNote]] = relationship(
        back_populates="conversation", order_by="ConversationNote.id", cascade="all, delete-orphan"
    )
    service_request: Mapped[ServiceRequest | None] = relationship()


class ChatMessage(Base):
    """One message of a conversation, whoever wrote it: resident, bot, agent or system."""

    __tablename__ = "chat_message"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversation.id", ondelete="CASCADE"), index=True)
    author: Mapped[str] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)  # buttons, queue position
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    conversation: Mapped[Conversation] = relationship(back_populates="messages")


class ConversationNote(Base):
    """An agent's internal note on a conversation; never shown to the resident."""

    __tablename__ = "conversation_note"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversation.id", ondelete="CASCADE"), index=True)
    author: Mapped[str] = mapped_column(String(254))
    body: Mapped[str] = mapped_column(Text)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    conversation: Mapped[Conversation] = relationship(back_populates="notes")


class StaffUser(Base):
    """Someone who signs in to the agent console. Roles: agent, supervisor, trainer, admin."""

    __tablename__ = "staff_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)  # stored lower-case
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(200))  # argon2id, never the password
    role: Mapped[str] = mapped_column(String(20))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[dt.datetime | None]

    department: Mapped[Department | None] = relationship()


class StaffSession(Base):
    """A signed-in console session. The cookie holds a random token; only its sha256 is stored here."""

    __tablename__ = "staff_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]

    user: Mapped[StaffUser] = relationship()


class LoginAttempt(Base):
    """One console sign-in attempt; recent failures per email and per address throttle further tries."""

    __tablename__ = "login_attempt"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), index=True)
    address: Mapped[str] = mapped_column(String(64))
    ok: Mapped[bool] = mapped_column(Boolean)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)


class AuditEntry(Base):
    """Who did what, when, to which record. Written in the same transaction as the action itself."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(254))
    action: Mapped[str] = mapped_column(String(60))
    record_type: Mapped[str] = mapped_column(String(40))
    record_id: Mapped[str] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
