"""The supervisor's dashboard: the centre right now (queues, who is on shift, today's service levels, emergencies)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from anyio import to_thread
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from civicdesk import business_time, labels
from civicdesk.console.deps import DashboardStaff
from civicdesk.console.templating import render
from civicdesk.db import utcnow
from civicdesk.mail import cases as email_cases
from civicdesk.models import Conversation, InboundEmail, ServiceRequest, StaffSession, StaffUser
from civicdesk.service_requests import service as service_requests
from civicdesk.work import service_levels
from civicdesk.work.queue import work_queue

router = APIRouter(prefix="/console")

ON_SHIFT_WINDOW = dt.timedelta(minutes=15)  # a console used within this is someone at work


@dataclass
class QueueFigures:
    waiting: int = 0
    longest_minutes: int = 0
    due_soon: int = 0
    overdue: int = 0


@dataclass
class Attainment:
    """Work answered today and how much of it within its service level."""

    answered: int = 0
    on_time: int = 0

    @property
    def percent(self) -> int | None:
        return round(100 * self.on_time / self.answered) if self.answered else None

    def add(self, on_time: bool) -> None:
        self.answered += 1
        self.on_time += on_time


@dataclass(frozen=True)
class OpenEmergency:
    kind: str
    title: str
    url: str
    since: dt.datetime


@dataclass
class Dashboard:
    queues: dict[str, QueueFigures] = field(default_factory=dict)
    on_shift: list[tuple[str, str]] = field(default_factory=list)  # (name, role)
    today: dict[str, Attainment] = field(default_factory=dict)
    emergencies: list[OpenEmergency] = field(default_factory=list)
    overdue_requests: int = 0


def _start_of_day(now: dt.datetime) -> dt.datetime:
    local = now.astimezone(business_time.REGION_TZ)
    return dt.datetime.combine(local.date(), dt.time(0), business_time.REGION_TZ).astimezone(dt.UTC)


def build(session: Session, now: dt.datetime, department_id: int | None) -> Dashboard:
    """The centre now; a supervisor of one department (`department_id`) sees that department's requests only."""
    scope = service_requests.in_scope(department_id)
    board = Dashboard(queues={"chat": QueueFigures(), "email": QueueFigures()})
    for item in work_queue(session):
        figures = board.queues.setdefault(item.kind, QueueFigures())
        figures.waiting += 1
        figures.longest_minutes = max(figures.longest_minutes, int((now - item.waiting_since).total_seconds() // 60))
        level = service_levels.state(item.waiting_since, item.due_at, now)
        figures.due_soon += level == "due_soon"
        figures.overdue += level == "overdue"

    recent = select(StaffUser.name, StaffUser.role).join(StaffSession, StaffSession.user_id == StaffUser.id)
    recent = recent.where(StaffSession.last_seen_at >= now - ON_SHIFT_WINDOW, StaffUser.active.is_(True))
    board.on_shift = sorted({(name, role) for name, role in session.execute(recent)})

    midnight = _start_of_day(now)
    calendar = service_levels.Calendar.load(session)
    board.today = {"chat": Attainment(), "email": Attainment(), "request": Attainment()}
    claimed = select(Conversation).where(Conversation.claimed_at >= midnight, Conversation.queued_at.is_not(None))
    for conversation in session.scalars(claimed):
        assert conversation.queued_at is not None and conversation.claimed_at is not None
        due = calendar.due("chat", conversation.urgency, conversation.queued_at)
        board.today["chat"].add(conversation.claimed_at <= due)
    handled = select(InboundEmail.received_at, InboundEmail.handled_at, InboundEmail.urgency).where(
        InboundEmail.handled_at >= midnight
    )
    for received_at, handled_at, urgency in session.execute(handled):
        due = calendar.due("email", email_cases.queue_urgency(urgency), received_at)
        board.today["email"].add(handled_at is not None and handled_at <= due)
    closed = select(ServiceRequest.closed_at, ServiceRequest.due_at).where(ServiceRequest.closed_at >= midnight, scope)
    for closed_at, due_at in session.execute(closed):
        board.today["request"].add(closed_at is not None and closed_at <= due_at)

    board.overdue_requests = len(
        session.scalars(
            select(ServiceRequest.id).where(ServiceRequest.status != "closed", ServiceRequest.due_at < now, scope)
        ).all()
    )
    board.emergencies = _open_emergencies(session, scope)
    return board


def _open_emergencies(session: Session, scope: ColumnElement[bool]) -> list[OpenEmergency]:
    found = []
    open_chat = Conversation.owner.in_(("waiting", "agent"))
    for c in session.scalars(select(Conversation).where(Conversation.urgency == "emergency", open_chat)):
        title = labels.summary(c.summary) or "Emergency chat"
        found.append(OpenEmergency("chat", title, f"/console/chats/{c.id}", c.created_at))
    for case in email_cases.waiting(session):
        if case.urgency == "emergency":
            title = case.subject or "(no subject)"
            found.append(OpenEmergency("email", title, f"/console/email/{case.id}", case.received_at))
    open_request = ServiceRequest.status != "closed"
    for r in session.scalars(select(ServiceRequest).where(ServiceRequest.urgency == "emergency", open_request, scope)):
        title = f"{r.reference}: {r.description[:80]}"
        found.append(OpenEmergency("request", title, f"/console/requests/{r.reference}", r.created_at))
    return sorted(found, key=lambda emergency: emergency.since)


@router.get("/dashboard", response_class=HTMLResponse)
async def dashboard_page(request: Request, staff: DashboardStaff) -> Response:
    def load() -> Dashboard:
        with request.app.state.session_factory() as session:
            return build(session, utcnow(), staff.department_id)

    now = utcnow()
    board = await to_thread.run_sync(load)
    context = {"staff": staff, "board": board, "labels": CHANNEL_LABELS, "now": now}
    return render(request, "console/dashboard.html", context)


CHANNEL_LABELS = {"chat": "Chats", "email": "Email", "request": "Service requests"}
