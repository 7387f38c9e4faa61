"""The `civicdesk` command: every command has --help, and the knowledgebase round trip works from the shell."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from civicdesk.cli import app
from civicdesk.settings import Settings, get_settings

runner = CliRunner()


def command_paths(group: Any, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    for name, command in group.commands.items():
        yield (*prefix, name)
        if hasattr(command, "commands"):  # a group (Typer vendors its own click)
            yield from command_paths(command, (*prefix, name))


ALL_COMMANDS = sorted(command_paths(typer.main.get_command(app)))


def test_the_documented_commands_exist() -> None:
    expected = {("db", "upgrade"), ("seed",), ("serve",), ("ingest",), ("train",), ("kb", "import"), ("kb", "export")}
    assert expected <= set(ALL_COMMANDS)


@pytest.mark.parametrize("path", ALL_COMMANDS, ids=" ".join)
def test_every_command_has_help(path: tuple[str, ...]) -> None:
    result = runner.invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


@pytest.fixture
def cli_env(settings: Settings) -> Iterator[dict[str, str]]:
    get_settings.cache_clear()
    yield {"CIVICDESK_DATABASE_URL": settings.sqlalchemy_url, "CIVICDESK_ENV": "development"}
    get_settings.cache_clear()


def test_migrate_seed_export_import_from_the_command_line(tmp_path: Path, cli_env: dict[str, str]) -> None:
    assert runner.invoke(app, ["db", "upgrade"], env=cli_env).exit_code == 0
    assert runner.invoke(app, ["seed"], env=cli_env).exit_code == 0
    exported = runner.invoke(app, ["kb", "export", str(tmp_path / "kb")], env=cli_env)
    assert exported.exit_code == 0 and "wrote" in exported.output
    count = len(list((tmp_path / "kb").glob("*.md")))
    imported = runner.invoke(app, ["kb", "import", str(tmp_path / "kb"), "--author", "k.singh"], env=cli_env)
    assert imported.exit_code == 0
    assert imported.output.strip() == f"created 0, updated 0, unchanged {count}"
