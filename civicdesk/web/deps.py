"""FastAPI dependencies shared by the routers: database session, settings, service-token check."""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from civicdesk.settings import Settings


def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_session(request: Request) -> Iterator[Session]:
    with request.app.state.session_factory() as session:
        yield session


bearer = HTTPBearer(auto_error=False)


def require_service_token(
    settings: Annotated[Settings, Depends(get_settings_dep)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> None:
    """The action server's calls carry the service token; anything else is refused."""
    expected = settings.actions_token.get_secret_value().encode()
    given = credentials.credentials.encode() if credentials else b""
    if not hmac.compare_digest(given, expected):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "a valid service token is required", {"WWW-Authenticate": "Bearer"}
        )


SessionDep = Annotated[Session, Depends(get_session)]
ServiceAuth = Depends(require_service_token)
