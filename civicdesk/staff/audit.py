"""The audit log: who did what, when, to which record.

`record` adds the entry to the caller's session, so it commits or rolls back together with the action it
describes: an action that failed leaves no entry, and an action that happened always has one.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from civicdesk.db import utcnow
from civicdesk.models import AuditEntry


def record(
    session: Session,
    actor: str,
    action: str,
    record_type: str,
    record_id: object,
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    entry = AuditEntry(
        at=utcnow(),
        actor=actor,
        action=action,
        record_type=record_type,
        record_id=str(record_id),
        detail=detail or {},
    )
    session.add(entry)
    session.flush()
    return entry


def recent(
    session: Session, limit: int = 200, actor: str | None = None, record_type: str | None = None
) -> list[AuditEntry]:
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if actor:
        query = query.where(AuditEntry.actor == actor)
    if record_type:
        query = query.where(AuditEntry.record_type == record_type)
    return list(session.scalars(query))


def for_record(session: Session, record_type: str, record_id: object) -> list[AuditEntry]:
    return list(
        session.scalars(
            select(AuditEntry)
            .where(AuditEntry.record_type == record_type, AuditEntry.record_id == str(record_id))
            .order_by(AuditEntry.id)
        )
    )
