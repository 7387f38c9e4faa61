"""Each background component's last sign of life, for /health."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from civicdesk.db import utcnow
from civicdesk.models.base import Base


class ComponentHeartbeat(Base):
    """Last sign of life of a background process (each mailbox's ingester: `health.ingester_component`), read by
    /health."""

    __tablename__ = "component_heartbeat"

    component: Mapped[str] = mapped_column(String(320), primary_key=True)
    state: Mapped[str] = mapped_column(String(20))
    detail: Mapped[str] = mapped_column(Text, default="")
    beat_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
