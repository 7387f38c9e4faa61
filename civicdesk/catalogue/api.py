"""Internal API (`/api/v1`) for what the Region offers and who else handles what it does not: the service
catalogue (the assistant's 'report a problem' menu) and the referral directory."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from civicdesk.catalogue import referrals
from civicdesk.deps import SessionDep
from civicdesk.limits import LIMITS
from civicdesk.models import Service
from civicdesk.staff.deps import internal_router

router = internal_router("internal")


class ServiceOut(BaseModel):
    code: str
    name: str
    description: str
    group: str
    department: str
    can_be_emergency: bool
    emergency_instruction: str | None
    target_routine_hours: float
    location_required: bool  # False: the assistant does not ask where (transit feedback, ...)
    keywords: list[str]  # residents' words for it ("barking dog"): the assistant matches what they type


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
            location_required=s.location_required,
            keywords=[str(keyword) for keyword in s.keywords],
        )
        for s in services
    ]


class ReferralLookupOut(BaseModel):
    query: str
    results: list[referrals.Referral]  # the service layer's dataclass serves as the response shape


@router.get("/referrals/lookup")
def lookup_referrals(
    session: SessionDep,
    q: Annotated[str, Query(min_length=1, max_length=LIMITS["search_query"], description="The resident's words.")],
    limit: Annotated[int, Query(ge=1, le=10)] = 3,
) -> ReferralLookupOut:
    """Organizations that handle what was asked, best first; empty when none matches well."""
    found = referrals.lookup(session, q, limit)
    return ReferralLookupOut(query=q, results=found)
