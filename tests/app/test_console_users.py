"""`civicdesk users create | list | disable` (the commands live in civicdesk/auth.py as `users_app`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from civicdesk.auth import users_app
from civicdesk.models import AuditEntry, StaffUser
from civicdesk.settings import Settings, get_settings

runner = CliRunner()
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def cli_env(settings: Settings, session_factory: sessionmaker[Session]) -> Iterator[dict[str, str]]:
    get_settings.cache_clear()
    yield {"CIVICDESK_DATABASE_URL": settings.sqlalchemy_url, "CIVICDESK_ENV": "development"}
    get_settings.cache_clear()


@SQLITE_ONLY
def test_create_list_and_disable_accounts(cli_env: dict[str, str], session_factory: sessionmaker[Session]) -> None:
    created = runner.invoke(
        users_app,
        ["create", "Lena.Fischer@northvale.ca", "--name", "Lena Fischer", "--role", "supervisor"],
        input="harbour lights at dusk\nharbour lights at dusk\n",
        env=cli_env,
    )
    assert created.exit_code == 0, created.output
    assert "created lena.fischer@northvale.ca (supervisor)" in created.output
    assert "harbour lights" not in created.output  # the prompt hides what is typed
    short = runner.invoke(
        users_app,
        ["create", "x@northvale.ca", "--name", "X Person", "--role", "agent"],
        env={**cli_env, "CIVICDESK_NEW_USER_PASSWORD": "short"},
    )
    assert short.exit_code != 0
    wrong_role = runner.invoke(
        users_app, ["create", "y@northvale.ca", "--name", "Y Person", "--role", "mayor"], env=cli_env
    )
    assert wrong_role.exit_code == 2 and "mayor" in wrong_role.output

    listed = runner.invoke(users_app, ["list"], env=cli_env)
    assert listed.exit_code == 0 and "lena.fischer@northvale.ca" in listed.output and "active" in listed.output
    disabled = runner.invoke(users_app, ["disable", "lena.fischer@northvale.ca"], env=cli_env)
    assert disabled.exit_code == 0 and "disabled lena.fischer@northvale.ca" in disabled.output
    assert "disabled" in runner.invoke(users_app, ["list"], env=cli_env).output
    with session_factory() as session:
        user = session.scalars(select(StaffUser)).one()
        assert not user.active and user.password_hash.startswith("$argon2id$")
        actions = session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert actions == ["user.create", "user.disable"]
