"""A resident's contact details, one record per resident whatever the channel."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Boolean,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from civicdesk.db import utcnow
from civicdesk.models.base import Base


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
