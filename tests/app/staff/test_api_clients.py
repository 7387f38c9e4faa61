"""API clients and their keys, on SQLite and PostgreSQL, through the functions and the `clients` commands."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from civicdesk.cli.staff import clients_app
from civicdesk.db import transaction
from civicdesk.errors import UserError
from civicdesk.models import ApiClient
from civicdesk.settings import Settings, get_settings
from civicdesk.staff import api_clients


def test_a_key_is_shown_once_and_only_its_hash_is_stored(session_factory: sessionmaker[Session]) -> None:
    with transaction(session_factory) as session:
        key = api_clients.create_client(session, "northvale-fixit", "open311")
    assert len(key) >= 40
    with session_factory() as session:
        [client] = session.scalars(select(ApiClient)).all()
        assert client.key_sha256 == hashlib.sha256(key.encode()).hexdigest()
        assert key not in (client.name, client.key_sha256, client.scope)
        assert api_clients.verify_key(session, key, "open311") is client


def test_keys_differ_between_clients(session_factory: sessionmaker[Session]) -> None:
    with transaction(session_factory) as session:
        first = api_clients.create_client(session, "northvale-fixit", "open311")
        second = api_clients.create_client(session, "action-server", "internal")
    assert first != second
    with session_factory() as session:
        assert api_clients.verify_key(session, second, "internal").name == "action-server"  # type: ignore[union-attr]


@pytest.mark.parametrize("given", ["", None, "x", "northvale-fixit"])
def test_a_wrong_key_is_refused(session_factory: sessionmaker[Session], given: str | None) -> None:
    with transaction(session_factory) as session:
        key = api_clients.create_client(session, "northvale-fixit", "open311")
    with session_factory() as session:
        assert api_clients.verify_key(session, given, "open311") is None
        assert api_clients.verify_key(session, key[:-1], "open311") is None
        assert api_clients.verify_key(session, key + "x", "open311") is None


def test_a_key_works_only_in_its_scope(session_factory: sessionmaker[Session]) -> None:
    with transaction(session_factory) as session:
        key = api_clients.create_client(session, "action-server", "internal")
    with session_factory() as session:
        assert api_clients.verify_key(session, key, "open311") is None
        assert api_clients.verify_key(session, key, "internal") is not None


def test_a_revoked_key_stops_working(session_factory: sessionmaker[Session]) -> None:
    with transaction(session_factory) as session:
        key = api_clients.create_client(session, "northvale-fixit", "open311")
    with transaction(session_factory) as session:
        revoked = api_clients.revoke(session, "northvale-fixit")
        assert revoked.revoked_at is not None
    with session_factory() as session:
        assert api_clients.verify_key(session, key, "open311") is None
        assert [c.name for c in api_clients.list_clients(session)] == ["northvale-fixit"]


@pytest.mark.parametrize(
    ("name", "scope", "message"),
    [
        ("northvale-fixit", "open311", "already exists"),
        ("another-app", "admin", "scope 'admin' is unknown"),
        ("   ", "open311", "1 to 100 characters"),
        ("x" * 101, "open311", "1 to 100 characters"),
    ],
)
def test_creating_a_client_refuses_mistakes_in_one_line(
    session_factory: sessionmaker[Session], name: str, scope: str, message: str
) -> None:
    with transaction(session_factory) as session:
        api_clients.create_client(session, "northvale-fixit", "open311")
    with pytest.raises(UserError, match=message) as error, transaction(session_factory) as session:
        api_clients.create_client(session, name, scope)
    assert "\n" not in str(error.value)
    with session_factory() as session:
        assert len(api_clients.list_clients(session)) == 1


def test_revoking_an_unknown_or_revoked_client_says_so(session_factory: sessionmaker[Session]) -> None:
    with pytest.raises(UserError, match="no API client named 'ghost'"), transaction(session_factory) as session:
        api_clients.revoke(session, "ghost")
    with transaction(session_factory) as session:
        api_clients.create_client(session, "northvale-fixit", "open311")
        api_clients.revoke(session, "northvale-fixit")
    with pytest.raises(UserError, match="already revoked"), transaction(session_factory) as session:
        api_clients.revoke(session, "northvale-fixit")


# ----------------------------------------------------------------------------- the `clients` commands


@pytest.fixture
def cli_env(settings: Settings, session_factory: sessionmaker[Session]) -> Iterator[dict[str, str]]:
    """Environment that points the commands at the migrated test database."""
    get_settings.cache_clear()
    yield {"CIVICDESK_DATABASE_URL": settings.sqlalchemy_url, "CIVICDESK_ENV": "development"}
    get_settings.cache_clear()


def test_create_list_and_revoke_from_the_command_line(
    cli_env: dict[str, str], session_factory: sessionmaker[Session]
) -> None:
    runner = CliRunner()
    created = runner.invoke(clients_app, ["create", "northvale-fixit", "--scope", "open311"], env=cli_env)
    assert created.exit_code == 0, created.output
    lines = created.output.strip().splitlines()
    key = lines[1]
    assert "cannot be shown again" in lines[2]
    with session_factory() as session:
        assert api_clients.verify_key(session, key, "open311") is not None

    listing = runner.invoke(clients_app, ["list"], env=cli_env)
    assert listing.exit_code == 0 and "northvale-fixit" in listing.output and "active" in listing.output
    assert key not in listing.output

    revoked = runner.invoke(clients_app, ["revoke", "northvale-fixit"], env=cli_env)
    assert revoked.exit_code == 0 and "revoked northvale-fixit" in revoked.output
    assert "revoked 20" in runner.invoke(clients_app, ["list"], env=cli_env).output
    with session_factory() as session:
        assert api_clients.verify_key(session, key, "open311") is None


def test_command_line_mistakes_are_user_errors(cli_env: dict[str, str]) -> None:
    runner = CliRunner()
    assert "no API clients yet" in runner.invoke(clients_app, ["list"], env=cli_env).output
    assert runner.invoke(clients_app, ["create", "northvale-fixit"], env=cli_env).exit_code == 0
    duplicate = runner.invoke(clients_app, ["create", "northvale-fixit"], env=cli_env)
    assert isinstance(duplicate.exception, UserError) and "already exists" in str(duplicate.exception)
    unknown = runner.invoke(clients_app, ["revoke", "ghost"], env=cli_env)
    assert isinstance(unknown.exception, UserError) and "no API client named" in str(unknown.exception)
    bad_scope = runner.invoke(clients_app, ["create", "other-app", "--scope", "admin"], env=cli_env)
    assert bad_scope.exit_code == 2 and "open311" in bad_scope.output
    listing = runner.invoke(clients_app, ["list"], env=cli_env)
    assert listing.output.count("northvale-fixit") == 1 and "other-app" not in listing.output
