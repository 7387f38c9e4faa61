"""Internal API (`/api/v1`) for service requests: the assistant's 'report a problem' form files one, and a
resident checks its status by reference. Open311 apps use `open311` instead."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Request
from pydantic import BaseModel

from civicdesk import validation
from civicdesk.contacts import ContactBody
from civicdesk.db import transaction
from civicdesk.deps import SessionDep
from civicdesk.models import ServiceRequest
from civicdesk.service_requests.service import RequestIn, create_request, get_by_reference
from civicdesk.staff.deps import ServiceAuth

router = APIRouter(prefix="/api/v1", dependencies=[ServiceAuth], tags=["internal"])


class RequestBody(BaseModel):
    service_code: validation.CodeLine
    description: validation.DescriptionText
    channel: validation.CodeLine = "chat"
    address: validation.AddressLine | None = None
    postal_code: validation.PostalCodeLine | None = None
    lat: float | None = None
    long: float | None = None
    attributes: dict[validation.CodeLine, validation.AnswerText | float | list[validation.AnswerText]] = {}
    contact: ContactBody | None = None
    kind: validation.CodeLine = "service_request"
    urgency: validation.CodeLine = "routine"


class RequestStatusOut(BaseModel):
    """What a resident may be told about a request: never the contact details or internal notes."""

    reference: str
    service_code: str
    service_name: str
    department: str
    status: str
    resolution: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    due_at: dt.datetime


def _status_out(request: ServiceRequest) -> RequestStatusOut:
    return RequestStatusOut(
        reference=request.reference or "",
        service_code=request.service.code,
        service_name=request.service.name,
        department=request.department.name,
        status=request.status,
        resolution=request.resolution,
        created_at=request.created_at,
        updated_at=request.updated_at,
        due_at=request.due_at,
    )


@router.post("/requests", status_code=201)
def create_service_request(body: RequestBody, request: Request) -> RequestStatusOut:
    """Create a request (the assistant's 'report a problem' form, the console); returns its reference."""
    data = RequestIn(
        **body.model_dump(exclude={"contact"}),
        contact=body.contact.as_contact() if body.contact else None,
    )
    with transaction(request.app.state.session_factory) as session:
        created = create_request(session, data, actor=f"api:{body.channel}")
        return _status_out(created)


@router.get("/requests/{reference}")
def get_service_request(reference: str, session: SessionDep) -> RequestStatusOut:
    """Status of a request by its reference (SR-2026-000123)."""
    return _status_out(get_by_reference(session, reference))
