"""Open311 services: the catalogue (GET Service List) and the questions each service asks (GET Service Definition)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from civicdesk.deps import SessionDep
from civicdesk.models import Service
from civicdesk.service_requests.open311.errors import Open311Error, Open311Route
from civicdesk.service_requests.open311.operations import ONE_LINE, FormatPath, Jurisdiction, documented
from civicdesk.service_requests.open311.rendering import render
from civicdesk.service_requests.open311.serializers import ServiceDefinitionOut, ServiceOut, definition_out, service_out

router = APIRouter(route_class=Open311Route)


@router.get("/services.{format}", responses=documented(list[ServiceOut]), response_model=None)
def get_services(format: FormatPath, session: SessionDep, jurisdiction_id: Jurisdiction = None) -> Response:
    """GET Service List: the active service catalogue."""
    services = session.scalars(
        select(Service).where(Service.active).options(selectinload(Service.attributes)).order_by(Service.name)
    )
    return render(format, "services", [service_out(service) for service in services])


def active_service(session: Session, code: str) -> Service:
    service = session.scalar(select(Service).where(Service.code == code).options(selectinload(Service.attributes)))
    if service is None or not service.active:
        raise Open311Error(404, f"service_code: {code!r} is not a service in the catalogue")
    return service


@router.get(
    "/services/{service_code}.{format}", responses=documented(ServiceDefinitionOut, "service"), response_model=None
)
def get_service_definition(
    service_code: Annotated[str, Path(pattern=ONE_LINE)],
    format: FormatPath,
    session: SessionDep,
    jurisdiction_id: Jurisdiction = None,
) -> Response:
    """GET Service Definition: the questions a service asks (its attributes), in display order."""
    return render(format, "service_definition", definition_out(active_service(session, service_code)))
