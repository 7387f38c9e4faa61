"""Helpers shared by the app-environment tests (importable because pytest puts tests/app on sys.path)."""

from __future__ import annotations

import secrets
import socket
from pathlib import Path

from civicdesk.settings import Settings


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def make_settings(tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "env": "test",
        "var_dir": tmp_path / "var",
        "secret_key": secrets.token_urlsafe(32),
        "actions_token": secrets.token_urlsafe(32),
        "rasa_url": f"http://127.0.0.1:{free_port()}",
        "action_server_url": f"http://127.0.0.1:{free_port()}",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]
