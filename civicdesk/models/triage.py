"""Agents' corrections of the classifiers' labels, the training data of the next version."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    ForeignKey,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from civicdesk.db import utcnow
from civicdesk.models.base import Base


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
