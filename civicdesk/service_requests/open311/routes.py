"""The Open311 router: the endpoint groups (services, creating a request, reading requests) under /open311/v2."""

from __future__ import annotations

from fastapi import APIRouter

from civicdesk.service_requests.open311 import creating, reading, services
from civicdesk.service_requests.open311.errors import Open311Route

router = APIRouter(prefix="/open311/v2", tags=["open311"], route_class=Open311Route)
router.include_router(services.router)
router.include_router(creating.router)
router.include_router(reading.router)
