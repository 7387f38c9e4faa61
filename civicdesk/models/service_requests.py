"""Service requests with their history, notes and attachments."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from civicdesk.db import utcnow
from civicdesk.models.base import Base

if TYPE_CHECKING:
    from civicdesk.models.catalogue import Department, ReferralOrganization, Service
    from civicdesk.models.residents import Contact


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
    # The resident followed the link in an update: no more updates by email (service_requests/updates.py).
    updates_stopped_at: Mapped[dt.datetime | None]

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
