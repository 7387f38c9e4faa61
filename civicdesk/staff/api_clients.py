"""API clients and their keys: the Open311 apps that file requests, and internal callers.

Only the sha256 of a key is stored, so a copy of the database does not give anyone a working key; the key itself
is shown once, when the client is created. Functions receive the caller's session and never commit.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from civicdesk.db import utcnow
from civicdesk.errors import UserError
from civicdesk.models import ApiClient

Scope = Literal["open311", "internal"]
SCOPES: tuple[str, ...] = Scope.__args__  # type: ignore[attr-defined]
NAME_MAX = 100  # leaves room for the "open311:" prefix that marks the client's changes in request history


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def create_client(session: Session, name: str, scope: str) -> str:
    """Register a client and return its new key; the key cannot be recovered later."""
    name = name.strip()
    if not name or len(name) > NAME_MAX:
        raise UserError(f"a client name is 1 to {NAME_MAX} characters, for example 'northvale-fixit-app'")
    if scope not in SCOPES:
        raise UserError(f"scope {scope!r} is unknown; use one of: {', '.join(SCOPES)}")
    existing = session.scalar(select(ApiClient).where(ApiClient.name == name))
    if existing is not None:
        state = "revoked" if existing.revoked_at else "active"
        raise UserError(f"an API client named {name!r} already exists ({state}); choose another name")
    key = secrets.token_urlsafe(32)
    session.add(ApiClient(name=name, key_sha256=key_digest(key), scope=scope, created_at=utcnow()))
    session.flush()
    return key


def verify_key(session: Session, key: str | None, scope: str) -> ApiClient | None:
    """The active client holding `key` with exactly `scope`, or None.

    The lookup is by the key's digest, so its timing tells an attacker nothing about stored keys; the final
    comparison is constant-time all the same.
    """
    if not key:
        return None
    digest = key_digest(key)
    client = session.scalar(select(ApiClient).where(ApiClient.key_sha256 == digest))
    if client is None or not hmac.compare_digest(client.key_sha256, digest):
        return None
    if client.revoked_at is not None or client.scope != scope:
        return None
    return client


def revoke(session: Session, name: str) -> ApiClient:
    client = session.scalar(select(ApiClient).where(ApiClient.name == name.strip()))
    if client is None:
        raise UserError(f"no API client named {name!r}; `civicdesk clients list` shows them")
    if client.revoked_at is not None:
        raise UserError(f"API client {name!r} was already revoked on {client.revoked_at:%Y-%m-%d %H:%M} UTC")
    client.revoked_at = utcnow()
    session.flush()
    return client


def list_clients(session: Session) -> list[ApiClient]:
    return list(session.scalars(select(ApiClient).order_by(ApiClient.name)))
