"""`civicdesk users ...` (console accounts) and `civicdesk clients ...` (API keys of Open311 apps and internal
callers)."""

from __future__ import annotations

from typing import Annotated

import typer

from civicdesk.cli.common import session_factory
from civicdesk.db import transaction
from civicdesk.errors import InvalidInput, UserError
from civicdesk.staff.api_clients import Scope, create_client, list_clients, revoke
from civicdesk.staff.auth import MIN_PASSWORD_CHARS, Role, create_user, disable_user, list_users

users_app = typer.Typer(help="Console accounts: agents, supervisors, trainers, administrators.", no_args_is_help=True)
clients_app = typer.Typer(help="API clients (Open311 apps, internal callers) and their keys.", no_args_is_help=True)


@users_app.command("create")
def create_user_command(
    email: Annotated[str, typer.Argument(help="The person's work email; they sign in with it.")],
    name: Annotated[str, typer.Option(help="Full name; residents see only the first name.")],
    role: Annotated[Role, typer.Option(help="agent, supervisor, trainer or admin.")],
    department: Annotated[str | None, typer.Option(help="Department code, e.g. transportation.")] = None,
    password: Annotated[
        str,
        typer.Option(
            prompt=True,
            hide_input=True,
            confirmation_prompt=True,
            envvar="CIVICDESK_NEW_USER_PASSWORD",
            help=f"At least {MIN_PASSWORD_CHARS} characters; asked for when not given (or set the variable).",
        ),
    ] = "",
) -> None:
    """Create an account (the password is stored only as an argon2 hash)."""
    try:
        with transaction(session_factory()) as session:
            user = create_user(session, email, name, password, role, department, actor="cli")
            created = (user.email, user.role)
    except InvalidInput as error:
        raise UserError(f"{error.field}: {error.message}") from None
    typer.echo(f"created {created[0]} ({created[1]})")


@users_app.command("list")
def list_users_command() -> None:
    """Every account with its role and state (passwords are never shown)."""
    with session_factory()() as session:
        users = [
            (u.email, u.name, u.role, "active" if u.active else "disabled", u.last_login_at)
            for u in list_users(session)
        ]
    if not users:
        typer.echo("no accounts yet; create one with `civicdesk users create EMAIL --name NAME --role agent`")
        return
    width = max(len(email) for email, *_ in users)
    for email, name, role, state, last in users:
        seen = f"last sign-in {last:%Y-%m-%d %H:%M} UTC" if last else "never signed in"
        typer.echo(f"{email:<{width}}  {role:<10}  {state:<8}  {seen}  {name}")


@users_app.command("disable")
def disable_user_command(email: Annotated[str, typer.Argument(help="The account's email.")]) -> None:
    """Disable an account at once: it cannot sign in, and its open sessions end."""
    with transaction(session_factory()) as session:
        user = disable_user(session, email, actor="cli")
        address = user.email
    typer.echo(f"disabled {address}; its sessions have ended")


@clients_app.command("create")
def create_client_command(
    name: Annotated[str, typer.Argument(help="A name that says who the client is, e.g. northvale-fixit-app.")],
    scope: Annotated[Scope, typer.Option(help="open311 (GeoReport v2 API) or internal.")] = "open311",
) -> None:
    """Register a client and print its key (once)."""
    with transaction(session_factory()) as session:
        key = create_client(session, name, scope)
    typer.echo(f"API key for {name.strip()} (scope {scope}):")
    typer.echo(key)
    typer.echo("Store it now: only its hash is kept, so it cannot be shown again.")


@clients_app.command("list")
def list_clients_command() -> None:
    """Every client with its scope and state (keys are never shown)."""
    factory = session_factory()
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
def revoke_client_command(name: Annotated[str, typer.Argument(help="The client's name.")]) -> None:
    """Revoke a client's key at once; its requests stay on record."""
    with transaction(session_factory()) as session:
        client = revoke(session, name)
    typer.echo(f"revoked {client.name}; its key no longer works")
