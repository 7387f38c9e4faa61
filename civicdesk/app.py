"""FastAPI application factory. One app per process; settings and the session factory live on app.state."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import iter_route_contexts
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.exceptions import HTTPException
from starlette.types import Scope

from civicdesk import body_limit, console, health, metrics
from civicdesk.bookings import api as bookings_api
from civicdesk.catalogue import api as catalogue_api
from civicdesk.chat import gateway as chat_gateway
from civicdesk.console.templating import STATIC
from civicdesk.db import make_engine, make_session_factory
from civicdesk.errors import Conflict, InvalidInput, NotFound
from civicdesk.knowledge import api as knowledge_api
from civicdesk.knowledge.search import KnowledgebaseSearch
from civicdesk.limits import MAX_FORM_FIELDS
from civicdesk.service_requests import api as service_requests_api
from civicdesk.service_requests import open311
from civicdesk.service_requests.open311.errors import Open311Error, render_error_for_path
from civicdesk.settings import Settings, get_settings
from civicdesk.work.queue import QueueMetrics


class AsciiJSONResponse(JSONResponse):
    """JSON with every non-ASCII character escaped: a refused value may hold a lone surrogate, which UTF-8 cannot
    encode but JSON's \\u escapes can."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode("ascii")


def _too_large(scope: Scope) -> Response:
    # Open311 apps get the spec's error list, in the format their path names; everyone else FastAPI's shape.
    if scope["path"].startswith("/open311/"):
        return render_error_for_path(scope["path"], Open311Error(413, body_limit.TOO_LARGE))
    return body_limit.json_refusal(scope)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(
        title="civicdesk",
        summary="Northvale Service First: knowledgebase, service requests and the chat and email front door.",
        version="0.1.0",
        docs_url="/docs" if settings.serves_api_docs else None,
        redoc_url="/redoc" if settings.serves_api_docs else None,
        openapi_url="/openapi.json" if settings.serves_api_docs else None,
        # a console form with more fields is refused (400, "Too many fields. Maximum number of fields is 500.")
        form_limits={"max_fields": MAX_FORM_FIELDS},
    )
    engine = make_engine(settings.sqlalchemy_url)
    app.state.settings = settings
    app.state.session_factory = make_session_factory(engine)
    app.state.kb_search = KnowledgebaseSearch()

    @app.get("/health", tags=["operations"])
    async def get_health() -> JSONResponse:
        """Each component's state; HTTP 503 unless every one is ok (so load balancers can use it)."""
        components = await health.check_all(settings, app.state.session_factory)
        body = health.report(components)
        return JSONResponse(body, status_code=200 if body["status"] == "ok" else 503)

    @app.get("/health/live", tags=["operations"])
    async def get_liveness() -> JSONResponse:
        """This web worker and its database only, for a load balancer's check: a worker is taken out of rotation
        when it cannot serve, not when some other component (Rasa, the ingester) is down for everyone."""
        database = await asyncio.to_thread(health.check_database, app.state.session_factory)
        body = {"status": database.state, "detail": database.detail}
        return JSONResponse(body, status_code=200 if database.ok else 503)

    @app.get("/metrics", tags=["operations"], include_in_schema=False)
    def get_metrics() -> Response:
        """Prometheus' text format: what this host's processes counted, and the work queue as it is now."""
        body = metrics.exposition(QueueMetrics(app.state.session_factory))
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, error: RequestValidationError) -> Response:
        # FastAPI's own answer, ASCII-escaped (see AsciiJSONResponse).
        return AsciiJSONResponse({"detail": jsonable_encoder(error.errors())}, status_code=422)

    @app.exception_handler(InvalidInput)
    async def invalid_input(_request: Request, error: InvalidInput) -> JSONResponse:
        # The same shape as FastAPI's own validation errors, so clients handle one format.
        detail = [{"loc": ["body", *error.field.split(".")], "msg": error.message, "type": "invalid_input"}]
        return JSONResponse({"detail": detail}, status_code=422)

    @app.exception_handler(NotFound)
    async def not_found(_request: Request, error: NotFound) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=404)

    @app.exception_handler(Conflict)
    async def conflict(_request: Request, error: Conflict) -> JSONResponse:
        # Valid input the current state refuses; the message is the reason to give the resident.
        return JSONResponse({"detail": str(error)}, status_code=409)

    app.add_exception_handler(console.PageRefused, console.refused_page)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> Response:
        headers = dict(error.headers or {})
        if error.status_code == 405:
            # Starlette names only the first route on the path; GET and POST of one path are two routes.
            headers["Allow"] = ", ".join(allowed_methods(app, request))
        if request.url.path.startswith(open311.router.prefix + "/"):  # Open311 apps read the spec's errors only
            description = {
                404: f"nothing at {request.url.path}; GET services.json lists the services",
                405: f"{request.method} is not allowed here; use {headers.get('Allow')}",
            }.get(error.status_code, str(error.detail))
            return open311.render_error(request, open311.Open311Error(error.status_code, description), headers)
        return await http_exception_handler(request, HTTPException(error.status_code, error.detail, headers))

    for area_api in (catalogue_api, knowledge_api, service_requests_api, bookings_api, open311, chat_gateway):
        app.include_router(area_api.router)
    app.include_router(console.router)
    if settings.env != "production":
        app.include_router(console.dev_router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_middleware(body_limit.BodyLimit, refuse=_too_large)
    return app


def allowed_methods(app: FastAPI, request: Request) -> list[str]:
    """Every method some route answers on this request's path."""
    methods: set[str] = set()
    for route in iter_route_contexts(app.routes):
        path_regex = getattr(route, "path_regex", None)
        if route.methods and path_regex is not None and path_regex.match(request.url.path):
            methods |= route.methods
    return sorted(methods)
