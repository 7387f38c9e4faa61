"""Internal HTTP API (`/api/v1`) used by the bot's actions and, later, the agent console."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from civicdesk.db import transaction
from civicdesk.deps import ServiceAuth, SessionDep
from civicdesk.knowledge.search import KnowledgebaseSearch
from civicdesk.models import KnowledgeGap, Service, ServiceRequest
from civicdesk.service_requests.service import ContactIn, RequestIn, create_request, get_by_reference

router = APIRouter(prefix="/api/v1", dependencies=[ServiceAuth], tags=["internal"])


class ServiceOut(BaseModel):
    code: str
    name: str
    description: str
    group: str
    department: str
    can_be_emergency: bool
    emergency_instruction: str | None
    target_routine_hours: float


@router.get("/services")
def list_services(session: SessionDep) -> list[ServiceOut]:
    """The active service catalogue, for the assistant's 'report a problem' menu."""
    services = session.scalars(
        select(Service).where(Service.active).options(selectinload(Service.department)).order_by(Service.name)
    )
    return [
        ServiceOut(
            code=s.code,
            name=s.name,
            description=s.description,
            group=s.group,
            department=s.department.code,
            can_be_emergency=s.can_be_emergency,
            emergency_instruction=s.emergency_instruction,
            target_routine_hours=s.target_routine_hours,
        )
        for s in services
    ]


class KbHitOut(BaseModel):
    slug: str
    title: str
    summary: str
    url: str | None
    score: float


class KbSearchOut(BaseModel):
    query: str
    confident: bool
    results: list[KbHitOut]


Channel = Literal["chat", "email", "phone", "web", "console"]


@router.get("/kb/search")
def search_knowledgebase(
    request: Request,
    session: SessionDep,
    q: Annotated[str, Query(min_length=1, max_length=500, description="The resident's question.")],
    channel: Annotated[Channel, Query(description="Where the question came from.")] = "chat",
    limit: Annotated[int, Query(ge=1, le=10)] = 3,
) -> KbSearchOut:
    """Published articles best first, with a 0..1 score; an unconfident search is logged as a knowledge gap."""
    searcher: KnowledgebaseSearch = request.app.state.kb_search
    result = searcher.search(session, q, limit)
    if not result.confident:
        top = result.hits[0] if result.hits else None
        with transaction(request.app.state.session_factory) as writer:
            writer.add(
                KnowledgeGap(
                    query=q,
                    channel=channel,
                    top_slug=top.slug if top else None,
                    top_score=top.score if top else None,
                )
            )
    return KbSearchOut(
        query=q,
        confident=result.confident,
        results=[
            KbHitOut(slug=h.slug, title=h.title, summary=h.summary, url=h.url, score=h.score) for h in result.hits
        ],
    )


class ContactBody(BaseModel):
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    preferred_language: str = "en"
    consent: bool = False


class RequestBody(BaseModel):
    service_code: str
    description: str
    channel: str = "chat"
    address: str | None = None
    postal_code: str | None = None
    lat: float | None = None
    long: float | None = None
    attributes: dict[str, str | float | list[str]] = {}
    contact: ContactBody | None = None
    kind: str = "service_request"
    urgency: str = "routine"


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
        contact=ContactIn(**body.contact.model_dump()) if body.contact else None,
    )
    with transaction(request.app.state.session_factory) as session:
        created = create_request(session, data, actor=f"api:{body.channel}")
        return _status_out(created)


@router.get("/requests/{reference}")
def get_service_request(reference: str, session: SessionDep) -> RequestStatusOut:
    """Status of a request by its reference (SR-2026-000123)."""
    return _status_out(get_by_reference(session, reference))
