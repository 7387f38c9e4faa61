"""The Region's reference data: departments and their hours, holidays, the service catalogue, referral organizations
and the on-call roster.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    Boolean,
    Date,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from civicdesk.models.base import Base


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
