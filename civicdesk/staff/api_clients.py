"""API clients and their keys: the Open311 apps that file requests, and internal callers.

Only the sha256 of a key is stored, so a copy of the database does not give anyone a working key; the key itself
is shown once, when the client is created. Functions receive the caller's session and never commit.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Annotated, Literal

import typer
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from civicdesk.db import make_engine, make_session_factory, transaction, utcnow
from civicdesk.errors import UserError
from civicdesk.models import ApiClient
from civicdesk.settings import get_settings

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


# ----------------------------------------------------------------------------- command line (`civicdesk clients`)

clients_app = typer.Typer(help="API clients (Open311 apps, internal callers) and their keys.", no_args_is_help=True)


def _session_factory() -> sessionmaker[Session]:
    return make_session_factory(make_engine(get_settings().sqlalchemy_url))


@clients_app.command("create")
def create_command(
    name: Annotated[str, typer.Argument(help="A name that says who the client is, e.g. northvale-fixit-app.")],
    scope: Annotated[Scope, typer.Option(help="open311 (GeoReport v2 API) or internal.")] = "open311",
) -> None:
    """Register a client and print its key (once)."""
    with transaction(_session_factory()) as session:
        key = create_client(session, name, scope)
    typer.echo(f"API key for {name.strip()} (scope {scope}):")
    typer.echo(key)
    typer.echo("Store it now: only its hash is kept, so it cannot be shown again.")


@clients_app.command("list")
def list_command() -> None:
    """Every client with its scope and state (keys are never shown)."""
    factory = _session_factory()
    with factory() as session:
        clients = list_clients(session)
    if not clients:
        typer.echo("no API clients yet; create one with `civicdesk clients create NAME --scope open311`")
        return
    width = max(len(client.name) for client in clients)
    for client in clients:
        state = f"revoked {client.revoked_at:%Y-%m-%d}" if client.revoked_at else "active"
        typer.echo(f"{client.name:<{width}}  {client.scope:<8}  created {client.created_at:%Y-%m-%d}  {state}")


@clients_app.command("revoke")
def revoke_command(name: Annotated[str, typer.Argument(help="The client's name.")]) -> None:
    """Revoke a client's key at once; its requests stay on record."""
    with transaction(_session_factory()) as session:
        client = revoke(session, name)
    typer.echo(f"revoked {client.name}; its key no longer works")
