"""Service levels: how soon each piece of waiting work must be answered, whether it was, and what happens if not.

Targets, from Northvale Service First's service standards (the customer service strategy reports against them):

| work | emergency | urgent | routine |
|---|---|---|---|
| a chat waiting for an agent | 2 minutes | 5 minutes | 10 minutes |
| an email waiting for a person | 30 minutes | 4 hours | 8 hours (one business day) |
| a service request | its service's target for the urgency (`due_at`, set when it is filed) |

Emergencies count clock time; the rest count Service First's business hours, skipping the Region's holidays
(business_time.due_time), so a routine email that arrives on Friday evening is due on Monday afternoon.

Work is "due soon" once DUE_SOON_SHARE of its time is used, and "overdue" after its due time. Overdue work that
nobody has taken is escalated once (`escalate`): a routine item becomes urgent, so it rises in the queue, and the
supervisors are told by email.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from civicdesk import business_time, metrics
from civicdesk.chat.service import CONTACT_CENTRE
from civicdesk.db import run_alone, utcnow
from civicdesk.models import (
    Department,
    Holiday,
    OutboundMessage,
    ServiceRequest,
    StaffUser,
)
from civicdesk.staff import audit
from civicdesk.work.sources import SOURCES

MINUTE = 1 / 60  # in hours
QUEUE_TARGET_HOURS: dict[str, dict[str, float]] = {
    "chat": {"emergency": 2 * MINUTE, "urgent": 5 * MINUTE, "routine": 10 * MINUTE},
    "email": {"emergency": 0.5, "urgent": 4.0, "routine": 8.0},
}
BUSINESS_DAY_HOURS = 8.0  # how the service standards count a business day in promises to residents
DUE_SOON_SHARE = 0.75
ESCALATED_URGENCY = {"routine": "urgent"}  # urgent and emergency work is already at the top
ESCALATION_ACTION = "sla.escalate"
ACTOR = "service levels"


def email_reply_promise() -> str:
    """What we promise a resident who emails, from the routine email target: the acknowledgement and the public
    page both say it, so they cannot disagree ("within one business day")."""
    hours = QUEUE_TARGET_HOURS["email"]["routine"]
    days = math.ceil(hours / BUSINESS_DAY_HOURS)
    if hours < BUSINESS_DAY_HOURS:
        return f"within {hours:g} business hours"
    words = {1: "one business day", 2: "two business days", 3: "three business days"}
    return f"within {words.get(days, f'{days} business days')}"


@dataclass(frozen=True)
class Calendar:
    """Service First's opening hours and the Region's holidays, read once per use."""

    hours: dict[str, Any]
    holidays: frozenset[dt.date]

    @classmethod
    def load(cls, session: Session) -> Calendar:
        hours = session.scalar(select(Department.business_hours).where(Department.code == CONTACT_CENTRE)) or {}
        return cls(dict(hours), frozenset(session.scalars(select(Holiday.date))))

    def due(self, kind: str, urgency: str, since: dt.datetime) -> dt.datetime:
        targets = QUEUE_TARGET_HOURS[kind]
        urgency = urgency if urgency in targets else "routine"
        if not self.hours:  # no calendar loaded: count clock time rather than promise nothing
            return since + dt.timedelta(hours=targets[urgency])
        return business_time.due_time(since, urgency, targets, self.hours, self.holidays)


def state(since: dt.datetime, due: dt.datetime | None, now: dt.datetime) -> str:
    """ "ok", "due_soon" or "overdue"."""
    if due is None:
        return "ok"
    if now > due:
        return "overdue"
    if now >= since + (due - since) * DUE_SOON_SHARE:
        return "due_soon"
    return "ok"


def request_state(request: ServiceRequest, now: dt.datetime) -> str:
    """A service request's standing against its target: a closed request is no longer counted down."""
    return "ok" if request.status == "closed" else state(request.created_at, request.due_at, now)


@dataclass(frozen=True)
class Escalation:
    kind: str  # chat or email
    key: str
    title: str
    urgency: str  # after escalation
    due_at: dt.datetime


def _supervisors(session: Session) -> list[str]:
    query = select(StaffUser.email).where(StaffUser.role == "supervisor", StaffUser.active.is_(True))
    return list(session.scalars(query.order_by(StaffUser.email)))


def _already_escalated(session: Session, record_type: str, key: str, since: dt.datetime) -> bool:
    entries = audit.for_record(session, record_type, key)
    return any(entry.action == ESCALATION_ACTION and entry.at >= since for entry in entries)


def _notify(session: Session, supervisors: Sequence[str], escalations: Sequence[Escalation], now: dt.datetime) -> None:
    lines = [
        f"- {e.kind} {e.key}: {e.title} (was due {e.due_at.astimezone(business_time.REGION_TZ):%H:%M %b %d}, "
        f"now {e.urgency})"
        for e in escalations
    ]
    body = (
        f"{len(escalations)} item(s) in the Service First queue passed their service level without an agent taking "
        "them:\n\n" + "\n".join(lines) + "\n\nOpen the work queue in the agent console to assign them."
    )
    for supervisor in supervisors:
        session.add(
            OutboundMessage(
                channel="email",
                purpose="escalation",
                recipient=supervisor,
                subject=f"Service level missed: {len(escalations)} item(s) waiting",
                body=body,
                created_at=now,
            )
        )


def escalate(session: Session, now: dt.datetime | None = None) -> list[Escalation]:
    """Escalate, once each, the work-queue items still waiting past their due time; the caller commits. Every
    node may run this: while one does, the others skip (`run_alone`), so nothing is escalated or emailed twice."""
    if not run_alone(session, "sla-escalation"):
        return []
    now = now or utcnow()
    calendar = Calendar.load(session)
    escalations: list[Escalation] = []
    for source in SOURCES:
        for item in source.items(session):
            due = calendar.due(source.kind, item.urgency, item.waiting_since)
            if now <= due or _already_escalated(session, source.record_type, item.key, item.waiting_since):
                continue
            urgency = ESCALATED_URGENCY.get(item.urgency, item.urgency)
            source.set_urgency(session, item.key, urgency)
            title = source.escalation_title(session, item)
            escalations.append(Escalation(source.kind, item.key, title, urgency, due))
            metrics.SLA_BREACHES.labels(source.kind).inc()
            audit.record(session, ACTOR, ESCALATION_ACTION, source.record_type, item.key, {"due_at": due.isoformat()})
    if escalations:
        _notify(session, _supervisors(session), escalations, now)
    session.flush()
    return escalations
