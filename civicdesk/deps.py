"""FastAPI dependencies every router shares: the database session, the settings and the client's address."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.requests import HTTPConnection

from civicdesk.settings import Settings


def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_session(request: Request) -> Iterator[Session]:
    with request.app.state.session_factory() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def client_address(connection: HTTPConnection) -> str:
    """The client's address, for rate limits and audit: the peer, or what a trusted proxy says it forwarded for
    (uvicorn rewrites the peer only for the proxies `CIVICDESK_TRUSTED_PROXIES` names)."""
    return connection.client.host if connection.client else "unknown"
