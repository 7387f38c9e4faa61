"""Service requests: the one service layer every channel (chat, email, console, Open311) goes through.

Functions receive the caller's session and never commit: the caller owns the transaction. Every change to a
request is written to its history with who made it.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import ColumnElement, select, true
from sqlalchemy.orm import Session, selectinload

from civicdesk import business_time, validation
from civicdesk.contacts import ContactIn, upsert_contact
from civicdesk.db import utcnow
from civicdesk.errors import InvalidInput, NotFound
from civicdesk.models import (
    Holiday,
    ReferralOrganization,
    Service,
    ServiceRequest,
    ServiceRequestAttachment,
    ServiceRequestChange,
    ServiceRequestNote,
)
from civicdesk.service_requests import updates
from civicdesk.service_requests.updates import Before, ResidentMail

Channel = Literal["chat", "email", "phone", "counter", "web", "open311", "console"]
Kind = Literal["service_request", "information_request", "complaint", "compliment", "misdirected"]
Urgency = Literal["emergency", "urgent", "routine"]
Status = Literal["open", "acknowledged", "in_progress", "referred", "closed"]
CHANNELS: tuple[str, ...] = Channel.__args__  # type: ignore[attr-defined]
KINDS: tuple[str, ...] = Kind.__args__  # type: ignore[attr-defined]
URGENCIES: tuple[str, ...] = Urgency.__args__  # type: ignore[attr-defined]

# Where a request may go next. A closed request can be reopened (a resident replies that it is not fixed).
TRANSITIONS: dict[str, set[str]] = {
    "open": {"acknowledged", "in_progress", "referred", "closed"},
    "acknowledged": {"in_progress", "referred", "closed"},
    "in_progress": {"referred", "closed"},
    "referred": {"open", "closed"},
    "closed": {"open"},
}


@dataclass
class RequestIn:
    service_code: str
    description: str
    channel: str
    address: str | None = None
    postal_code: str | None = None
    lat: float | None = None
    long: float | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    contact: ContactIn | None = None
    kind: str = "service_request"
    urgency: str = "routine"


def reference_for(request: ServiceRequest) -> str:
    return f"SR-{request.created_at.year}-{request.id:06d}"


def active_service(session: Session, code: str) -> Service:
    service = session.scalar(select(Service).where(Service.code == code).options(selectinload(Service.attributes)))
    if service is None or not service.active:
        raise InvalidInput("service_code", f"{code!r} is not a service in the catalogue")
    return service


def check_attributes(service: Service, answers: dict[str, Any], require_answers: bool = True) -> dict[str, Any]:
    """Required questions answered (unless `require_answers` is off), list answers among the allowed keys, no
    unknown questions."""
    known = {attribute.code: attribute for attribute in service.attributes}
    unknown = sorted(set(answers) - set(known))
    if unknown:
        raise InvalidInput(f"attribute[{unknown[0]}]", f"{service.code} asks no question {unknown[0]!r}")
    checked: dict[str, Any] = {}
    for code, attribute in known.items():
        answer = answers.get(code)
        if answer in (None, "", []):
            if attribute.required and attribute.variable and require_answers:
                raise InvalidInput(f"attribute[{code}]", f"required: {attribute.description}")
            continue
        allowed = {value["key"] for value in attribute.values}
        if attribute.datatype == "singlevaluelist":
            if isinstance(answer, list):
                answer = answer[0] if len(answer) == 1 else answer
            if not isinstance(answer, str) or answer not in allowed:
                raise InvalidInput(f"attribute[{code}]", f"choose one of: {', '.join(sorted(allowed))}")
        elif attribute.datatype == "multivaluelist":
            values = answer if isinstance(answer, list) else [answer]
            if not values or any(value not in allowed for value in values):
                raise InvalidInput(f"attribute[{code}]", f"choose from: {', '.join(sorted(allowed))}")
            answer = values
        elif attribute.datatype == "number":
            try:
                answer = float(answer)
            except (TypeError, ValueError):
                raise InvalidInput(f"attribute[{code}]", f"{answer!r} is not a number") from None
        elif attribute.datatype == "datetime":
            try:
                dt.datetime.fromisoformat(str(answer))
            except ValueError:
                raise InvalidInput(f"attribute[{code}]", f"{answer!r} is not an ISO 8601 date and time") from None
        checked[code] = answer
    return checked


def _due_at(session: Session, service: Service, urgency: str, start: dt.datetime) -> dt.datetime:
    holidays = set(session.scalars(select(Holiday.date)))
    targets = {
        "routine": service.target_routine_hours,
        "urgent": service.target_urgent_hours,
        "emergency": service.target_emergency_hours,
    }
    return business_time.due_time(start, urgency, targets, service.department.business_hours, holidays)


def _choice(value: str, allowed: tuple[str, ...], field_name: str) -> str:
    if value not in allowed:
        raise InvalidInput(field_name, f"{value!r} is not one of: {', '.join(allowed)}")
    return value


def create_request(session: Session, data: RequestIn, actor: str, *, require_answers: bool = True) -> ServiceRequest:
    """Validate and store a new request; it gets its reference and due time at once.

    An email cannot answer the service's questions the way a form does: the email path files its requests with
    `require_answers=False`, and the department asks what it still needs.
    """
    service = active_service(session, data.service_code)
    description = data.description.strip()
    if not description:
        raise InvalidInput("description", "describe the problem in a few words")
    channel = _choice(data.channel, CHANNELS, "channel")
    kind = _choice(data.kind, KINDS, "kind")
    urgency = _choice(data.urgency, URGENCIES, "urgency")
    postal = validation.postal_code(data.postal_code) if data.postal_code else None
    if data.lat is not None and not -90 <= data.lat <= 90:
        raise InvalidInput("lat", "latitude must be between -90 and 90")
    if data.long is not None and not -180 <= data.long <= 180:
        raise InvalidInput("long", "longitude must be between -180 and 180")
    address = data.address.strip() if data.address and data.address.strip() else None
    if service.location_required and address is None and (data.lat is None or data.long is None):
        raise InvalidInput("address", f"{service.name} needs a location: an address, an intersection or lat/long")
    attributes = check_attributes(service, data.attributes, require_answers)
    contact = upsert_contact(session, data.contact) if data.contact else None

    now = utcnow()
    request = ServiceRequest(
        service=service,
        department=service.department,
        contact=contact,
        description=description,
        address=address,
        postal_code=postal,
        lat=data.lat,
        long=data.long,
        attributes=attributes,
        channel=channel,
        kind=kind,
        urgency=urgency,
        status="open",
        created_at=now,
        updated_at=now,
        due_at=_due_at(session, service, urgency, now),
        token=secrets.token_hex(16),
    )
    session.add(request)
    session.flush()
    request.reference = reference_for(request)
    request.history.append(ServiceRequestChange(actor=actor, field="created", new_value=request.reference, at=now))
    session.flush()
    return request


# ---- who may see a request ------------------------------------------------------------------------------------
# Staff of one department read and change that department's requests only; staff without one (Service First,
# supervisors) every request. This is the one place the rule lives: every console page and action that reads or
# changes a request loads it through `get_by_reference`, `visible` or `in_scope` with the staff member's department.


def in_scope(department_id: int | None) -> ColumnElement[bool]:
    """A query's condition: the requests staff of `department_id` (None: every department) may see."""
    return true() if department_id is None else ServiceRequest.department_id == department_id


def visible(request: ServiceRequest | None, department_id: int | None) -> ServiceRequest | None:
    """`request` (one a chat or an email is linked to) if staff of `department_id` may see it, else None."""
    if request is None or (department_id is not None and request.department_id != department_id):
        return None
    return request


def named(request: ServiceRequest, department_id: int | None) -> str:
    """How a refusal names a chat's or an email's request: its reference, unless another department handles it."""
    return (request.reference or "a request") if visible(request, department_id) else "a request of another department"


def get_by_reference(session: Session, reference: str, department_id: int | None = None) -> ServiceRequest:
    """The request with this reference. With `department_id` (staff of one department), another department's
    request raises the same NotFound, with the same text, as a missing one: the answer never tells it exists."""
    wanted = reference.strip().upper()
    request = session.scalar(select(ServiceRequest).where(ServiceRequest.reference == wanted, in_scope(department_id)))
    if request is None:
        raise NotFound(f"no service request {wanted!r}")
    return request


def _record(request: ServiceRequest, actor: str, name: str, old: object, new: object) -> None:
    if old != new:
        request.history.append(
            ServiceRequestChange(
                actor=actor,
                field=name,
                old_value=None if old is None else str(old),
                new_value=None if new is None else str(new),
            )
        )


def update_request(
    session: Session,
    request: ServiceRequest,
    actor: str,
    *,
    status: str | None = None,
    resolution: str | None = None,
    assignee: str | None = None,
    urgency: str | None = None,
    kind: str | None = None,
    service_code: str | None = None,
    referral_code: str | None = None,
    notify: ResidentMail | None = None,
) -> ServiceRequest:
    """Change a request; each changed field lands in its history. Changing urgency or service moves the due time.
    With `notify`, the resident who gave an email address hears about a new status or assignment."""
    before = Before.of(request)
    if service_code is not None and service_code != request.service.code:
        service = active_service(session, service_code)
        _record(request, actor, "service", request.service.code, service.code)
        request.service, request.department = service, service.department
    if urgency is not None:
        _record(request, actor, "urgency", request.urgency, _choice(urgency, URGENCIES, "urgency"))
        request.urgency = urgency
    if kind is not None:
        _record(request, actor, "kind", request.kind, _choice(kind, KINDS, "kind"))
        request.kind = kind
    if service_code is not None or urgency is not None:
        request.due_at = _due_at(session, request.service, request.urgency, request.created_at)
    if assignee is not None:
        _record(request, actor, "assignee", request.assignee, assignee or None)
        request.assignee = assignee or None
    if referral_code is not None:
        referral = session.scalar(select(ReferralOrganization).where(ReferralOrganization.code == referral_code))
        if referral is None:
            raise InvalidInput("referral", f"{referral_code!r} is not in the referral directory")
        request.referral = referral
        status = status or "referred"
    if resolution is not None:
        _record(request, actor, "resolution", request.resolution, resolution.strip() or None)
        request.resolution = resolution.strip() or None
    if status is not None and status != request.status:
        if status not in TRANSITIONS.get(request.status, set()):
            raise InvalidInput("status", f"a {request.status} request cannot become {status}")
        if status == "closed" and not request.resolution:
            raise InvalidInput("resolution", "say how the request was resolved before closing it")
        if status == "referred" and request.referral is None:
            raise InvalidInput("referral", "name the organization the request is referred to")
        _record(request, actor, "status", request.status, status)
        request.status = status
        request.closed_at = utcnow() if status == "closed" else None
    request.updated_at = utcnow()
    session.flush()
    if notify is not None:
        updates.notify(session, request, before, notify)
    return request


def add_note(session: Session, request: ServiceRequest, author: str, body: str, internal: bool = True) -> None:
    if not body.strip():
        raise InvalidInput("note", "the note is empty")
    request.notes.append(ServiceRequestNote(author=author, body=body.strip(), internal=internal))
    request.updated_at = utcnow()
    session.flush()


def add_attachment(
    session: Session, request: ServiceRequest, filename: str, content_type: str, size: int, sha256: str | None
) -> None:
    request.attachments.append(
        ServiceRequestAttachment(filename=filename[:255], content_type=content_type, size=size, sha256=sha256)
    )
    session.flush()
