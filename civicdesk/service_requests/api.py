"""Internal API (`/api/v1`) for service requests: the assistant's 'report a problem' form files one, and a
resident checks its status by reference. Open311 apps use `open311` instead."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field

from civicdesk import validation
from civicdesk.contacts import ContactBody
from civicdesk.db import transaction
from civicdesk.deps import SessionDep
from civicdesk.models import ServiceRequest
from civicdesk.service_requests.service import (
    Channel,
    Kind,
    RequestIn,
    Status,
    Urgency,
    create_request,
    get_by_reference,
)
from civicdesk.staff.deps import NOT_FOUND, internal_router

router = internal_router("internal")


class RequestBody(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "service_code": "road_repair",
                    "description": "Pothole in the eastbound lane outside 12 Maple Cres",
                    "address": "12 Maple Cres",
                    "postal_code": "L9T 2X5",
                    "attributes": {"hole_size": "plate_to_tire", "position": "driving_lane"},
                    "contact": {"name": "Priya Raman", "email": "priya.raman@example.org"},
                }
            ]
        }
    )
    # Not an enum: the catalogue is data (`civicdesk seed`), so GET /api/v1/services lists the codes.
    service_code: Annotated[validation.CodeLine, Field(description="A code from GET /api/v1/services.")]
    description: validation.DescriptionText
    channel: Channel = "chat"
    address: validation.AddressLine | None = None
    postal_code: validation.PostalCodeLine | None = None
    lat: float | None = None
    long: float | None = None
    attributes: dict[validation.CodeLine, validation.AnswerText | float | list[validation.AnswerText]] = {}
    contact: ContactBody | None = None
    kind: Kind = "service_request"
    urgency: Urgency = "routine"


class RequestStatusOut(BaseModel):
    """What a resident may be told about a request: never the contact details or internal notes."""

    reference: str
    service_code: str
    service_name: str
    department: str
    status: Status
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


@router.get("/requests/{reference}", responses={404: NOT_FOUND})
def get_service_request(reference: str, session: SessionDep) -> RequestStatusOut:
    """Status of a request by its reference (SR-2026-000123)."""
    return _status_out(get_by_reference(session, reference))
