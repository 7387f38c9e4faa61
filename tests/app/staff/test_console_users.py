"""`civicdesk users create | list | disable` (the commands live in civicdesk/cli/staff.py as `users_app`)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from civicdesk.cli.staff import users_app
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


@SQLITE_ONLY
def test_the_main_command_line_manages_accounts(cli_env: dict[str, str]) -> None:
    """The same commands as `civicdesk users ...`, through the main CLI."""
    from civicdesk.cli import app

    env = {**cli_env, "CIVICDESK_NEW_USER_PASSWORD": "morning ferry to the island"}
    created = runner.invoke(
        app, ["users", "create", "Ravi.Patel@northvale.ca", "--name", "Ravi Patel", "--role", "agent"], env=env
    )
    assert created.exit_code == 0, created.output
    assert "created ravi.patel@northvale.ca (agent)" in created.output
    listed = runner.invoke(app, ["users", "list"], env=cli_env)
    assert listed.exit_code == 0 and "ravi.patel@northvale.ca" in listed.output and "agent" in listed.output
    assert "never signed in" in listed.output and "morning ferry" not in listed.output
    disabled = runner.invoke(app, ["users", "disable", "ravi.patel@northvale.ca"], env=cli_env)
    assert disabled.exit_code == 0 and "its sessions have ended" in disabled.output
    assert "disabled" in runner.invoke(app, ["users", "list"], env=cli_env).output
    # A mistake is one line on stderr and exit status 2, as from the installed command.
    command = Path(sys.executable).parent / "civicdesk"
    unknown = subprocess.run(
        [str(command), "users", "disable", "nobody@northvale.ca"],
        env={**os.environ, **cli_env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert unknown.returncode == 2 and unknown.stderr == "civicdesk: error: no account for nobody@northvale.ca\n"
