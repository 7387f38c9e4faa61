"""The internal API's gate: a caller presents the action server's token or an internal-scope API key. Its routers
come from `internal_router`, which documents the answers every route shares (401; 400 and 413 for a body)."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

from civicdesk.deps import get_settings_dep
from civicdesk.settings import Settings
from civicdesk.staff.api_clients import verify_key

bearer = HTTPBearer(auto_error=False)


def require_service_token(
    request: Request,
    settings: Annotated[Settings, Depends(get_settings_dep)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> None:
    """A caller of the internal API presents the action server's token (a deployment secret, from the
    environment) or an internal-scope API key issued by `civicdesk clients create` (stored only as a hash)."""
    given = credentials.credentials if credentials else ""
    if given and hmac.compare_digest(given.encode(), settings.actions_token.get_secret_value().encode()):
        return
    with request.app.state.session_factory() as session:
        if given and verify_key(session, given, "internal") is not None:
            return
    raise HTTPException(
        status.HTTP_401_UNAUTHORIZED, "a valid service token is required", {"WWW-Authenticate": "Bearer"}
    )


ServiceAuth = Depends(require_service_token)


class ErrorDetail(BaseModel):
    """The body of every /api/v1 error but 422 (whose detail lists the fields): one sentence saying what is wrong."""

    detail: str


def error_response(description: str) -> dict[str, Any]:
    """An OpenAPI response documenting an error answered as {"detail": "..."}."""
    return {"model": ErrorDetail, "description": description}


NOT_FOUND = error_response("No record with that reference or code (for a booking: not with that email or phone).")
CONFLICT = error_response("Valid input the current state refuses; the detail is the reason to give the resident.")
# What any route with a JSON body may answer before the route runs: Starlette cannot parse the body, or the
# body-size limit (civicdesk.limits.MAX_BODY_BYTES) stopped reading it.
BODY_ERRORS: dict[int | str, dict[str, Any]] = {
    400: error_response("The body is not valid JSON."),
    413: error_response("The body is larger than the limit."),
}


class InternalRoute(APIRoute):
    """A /api/v1 route: one that takes a body documents the body's own errors too."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        if self.body_field is not None:
            self.responses = {**BODY_ERRORS, **self.responses}


def internal_router(tag: str) -> APIRouter:
    """A router of the internal API: /api/v1, behind the service token, its shared answers documented."""
    return APIRouter(
        prefix="/api/v1",
        dependencies=[ServiceAuth],
        tags=[tag],
        route_class=InternalRoute,
        responses={401: error_response("No valid service token (Authorization: Bearer ...).")},
    )
