"""Internal HTTP API (`/api/v1`) used by the bot's actions and, later, the agent console."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from civicdesk.models import Service
from civicdesk.web.deps import ServiceAuth, SessionDep

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
