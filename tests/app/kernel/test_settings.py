"""Settings are validated at start-up, and bad configuration gives one clear line, never a traceback."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from civicdesk.settings import PROJECT_ROOT, Settings, describe_validation_error

CLI = str(PROJECT_ROOT / ".venv" / "bin" / "civicdesk")


def run_cli(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CIVICDESK_")}
    return subprocess.run([CLI, *args], env={**clean, **env}, cwd=cwd, capture_output=True, text=True, timeout=60)


def assert_one_clear_line(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def test_defaults_use_a_sqlite_file_in_var(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, var_dir=tmp_path)  # type: ignore[call-arg]
    assert settings.sqlalchemy_url == f"sqlite:///{tmp_path / 'civicdesk.db'}"
    assert settings.maildir_path == tmp_path / "mail" / "inbox"


def test_postgresql_urls_use_psycopg3() -> None:
    settings = Settings(_env_file=None, database_url="postgresql://u:p@db/civicdesk")  # type: ignore[call-arg]
    assert settings.sqlalchemy_url == "postgresql+psycopg://u:p@db/civicdesk"


def test_unknown_database_scheme_is_named() -> None:
    with pytest.raises(ValidationError) as error:
        Settings(_env_file=None, database_url="mysql://u@db/x")  # type: ignore[call-arg]
    message = describe_validation_error(error.value)
    assert "CIVICDESK_DATABASE_URL" in message and "'mysql'" in message and "\n" not in message


@pytest.mark.parametrize("env", ["production", "test"])
def test_development_secrets_are_refused_outside_development(env: str) -> None:
    with pytest.raises(ValidationError, match="CIVICDESK_SECRET_KEY must be set"):
        Settings(_env_file=None, env=env)  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="CIVICDESK_ACTIONS_TOKEN must be set"):
        Settings(_env_file=None, env=env, secret_key="k" * 40, actions_token="short")  # type: ignore[call-arg]


def test_env_file_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("CIVICDESK_PORT=8123\n")
    assert Settings(_env_file=tmp_path / ".env").port == 8123  # type: ignore[call-arg]


def test_cli_reports_bad_database_url_in_one_line(tmp_path: Path) -> None:
    result = run_cli("db", "upgrade", env={"CIVICDESK_DATABASE_URL": "mysql://u@db/x"}, cwd=tmp_path)
    assert_one_clear_line(result, "CIVICDESK_DATABASE_URL", "unsupported database URL scheme 'mysql'")


def test_cli_reports_a_busy_port_in_one_line(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_cli("serve", env={"CIVICDESK_PORT": str(port), "CIVICDESK_VAR_DIR": str(tmp_path)}, cwd=tmp_path)
    assert_one_clear_line(result, f"port {port} on 127.0.0.1 is already in use", "CIVICDESK_PORT")


def test_missing_python_310_is_named(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYENV_ROOT": str(tmp_path)}
    result = subprocess.run(
        [str(PROJECT_ROOT / "scripts" / "find-python"), "3.10"], env=env, capture_output=True, text=True
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "civicdesk: error: Python 3.10 not found (needed for the Rasa engine environment): "
        "set PYTHON310=/path/to/python3.10, put python3.10 on PATH, or install it with pyenv"
    ]


def test_find_python_prints_the_interpreter_behind_a_shim(tmp_path: Path) -> None:
    # A pyenv shim is a script that execs the interpreter; `uv sync --python SHIM` would not see that .venv was
    # built from that interpreter and would replace it, so `make run` must be given the interpreter itself.
    real = Path(sys.executable).resolve()
    shim = tmp_path / "python3"
    shim.write_text(f'#!/usr/bin/env bash\nexec "{real}" "$@"\n')
    shim.chmod(0o755)
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    env = {**os.environ, f"PYTHON{version.replace('.', '')}": str(shim)}
    result = subprocess.run(
        [str(PROJECT_ROOT / "scripts" / "find-python"), version], env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert Path(result.stdout.strip()).resolve() == real


def test_readme_settings_table_lists_every_setting() -> None:
    readme = (PROJECT_ROOT / "README.md").read_text()
    documented = set(re.findall(r"^\| `(CIVICDESK_[A-Z0-9_]+)` \|", readme, flags=re.M))
    expected = {f"CIVICDESK_{name.upper()}" for name in Settings.model_fields}
    assert documented == expected


def test_trusted_proxies_are_a_comma_separated_list_of_addresses_or_networks(tmp_path: Path) -> None:
    assert Settings(_env_file=None).trusted_proxies == []  # type: ignore[call-arg]
    (tmp_path / ".env").write_text("CIVICDESK_TRUSTED_PROXIES= 10.0.0.0/8, 127.0.0.1 ,::1\n")
    assert Settings(_env_file=tmp_path / ".env").trusted_proxies == ["10.0.0.0/8", "127.0.0.1", "::1"]  # type: ignore[call-arg]


@pytest.mark.parametrize("value", ["proxy.internal", "10.0.0.1/8", "127.0.0.1;10.0.0.1"])
def test_a_proxy_that_is_not_an_address_is_named(value: str) -> None:
    with pytest.raises(ValidationError) as error:
        Settings(_env_file=None, trusted_proxies=value)  # type: ignore[call-arg]
    message = describe_validation_error(error.value)
    assert "CIVICDESK_TRUSTED_PROXIES" in message and "give IP addresses or networks separated by commas" in message
    assert "\n" not in message


def test_api_docs_are_served_except_in_production_unless_the_setting_says() -> None:
    secrets = {"secret_key": "k" * 40, "actions_token": "t" * 40}
    for env, api_docs, served in [
        ("development", None, True),
        ("test", None, True),
        ("production", None, False),
        ("production", True, True),
        ("test", False, False),
    ]:
        settings = Settings(_env_file=None, env=env, api_docs=api_docs, **secrets)  # type: ignore[call-arg]
        assert settings.serves_api_docs is served, (env, api_docs)


def test_readme_lists_every_process_of_the_procfile() -> None:
    started = [line.split(":", 1)[1].strip() for line in (PROJECT_ROOT / "Procfile").read_text().splitlines() if line]
    readme = (PROJECT_ROOT / "README.md").read_text()
    table = re.findall(r"^\| [^|]+ \| [^|]+ \| `(civicdesk [^`]+)` \|$", readme, flags=re.M)
    assert sorted(table) == sorted(command.removeprefix(".venv/bin/") for command in started)
