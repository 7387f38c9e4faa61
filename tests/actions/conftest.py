"""Fixtures for the action tests (engine environment: bot/.venv).

The core API is stood in for by a real HTTP server on 127.0.0.1 (pytest-httpserver), so the
actions' client code runs unchanged, over a real socket, against the documented contract.
This conftest is independent of tests/app/conftest.py: the two environments never import each other.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

FIXTURES = Path(__file__).parent / "fixtures"
ACTIONS_TOKEN = "test-actions-token"


def _load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


# Helpers are handed out as fixtures, not imported: test modules never import a conftest (a
# second `conftest` or `helpers` module elsewhere under tests/ could shadow it).
@pytest.fixture
def load_fixture() -> Callable[[str], Any]:
    """Read a JSON file from tests/actions/fixtures (a fresh copy each call)."""
    return _load


@pytest.fixture
def auth_header() -> dict[str, str]:
    """The header every request to the core must carry."""
    return {"Authorization": f"Bearer {ACTIONS_TOKEN}"}


@pytest.fixture
def tracker_from() -> Callable[..., Tracker]:
    """Build a tracker from a JSON fixture; keyword arguments replace top-level keys of the state."""

    def build(name: str, **overrides: Any) -> Tracker:
        state = _load(f"tracker_{name}.json")
        state.update(overrides)
        return Tracker.from_dict(state)

    return build


@pytest.fixture
def dispatcher() -> CollectingDispatcher:
    return CollectingDispatcher()


@pytest.fixture
def core(httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> HTTPServer:
    """Point the actions at the local stand-in for the core API."""
    monkeypatch.setenv("CIVICDESK_CORE_URL", httpserver.url_for("/"))
    monkeypatch.setenv("CIVICDESK_ACTIONS_TOKEN", ACTIONS_TOKEN)
    monkeypatch.setenv("CIVICDESK_CORE_TIMEOUT", "2")
    return httpserver


@pytest.fixture
def core_refusing(monkeypatch: pytest.MonkeyPatch) -> str:
    """Point the actions at a loopback port where nothing listens (connection refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # The port was free a moment ago and nothing here listens on it again.
    url = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("CIVICDESK_CORE_URL", url)
    monkeypatch.setenv("CIVICDESK_ACTIONS_TOKEN", ACTIONS_TOKEN)
    monkeypatch.setenv("CIVICDESK_CORE_TIMEOUT", "2")
    return url


DOMAIN_DIR = Path(__file__).resolve().parents[2] / "bot" / "domain"


@pytest.fixture(scope="session")
def domain() -> dict[str, Any]:
    """The bot's real domain (forms, their required slots and ignored intents), merged from bot/domain/."""
    import yaml

    merged: dict[str, Any] = {"forms": {}, "slots": {}, "responses": {}, "intents": []}
    for path in sorted(DOMAIN_DIR.glob("*.yml")):
        part = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for key in ("forms", "slots", "responses"):
            merged[key].update(part.get(key) or {})
        merged["intents"].extend(part.get("intents") or [])
    return merged


@pytest.fixture
def form_tracker() -> Callable[..., Tracker]:
    """A tracker inside a form: the resident's latest message, its intent and entities, and slots.

    `requested_slot=None` means the form is being started by this message. `candidates` are the slot
    values Rasa extracted from the message: like Rasa, they are appended as the tracker's last events,
    which is where the validation action looks for what to validate.
    """

    def build(
        text: str,
        intent: str = "inform",
        entities: list[dict[str, Any]] | None = None,
        slots: dict[str, Any] | None = None,
        form: str | None = "report_form",
        requested_slot: str | None = None,
        history: list[dict[str, Any]] | None = None,
        candidates: dict[str, Any] | None = None,
    ) -> Tracker:
        state = _load("tracker_form.json")
        parse_data = {"intent": {"name": intent, "confidence": 0.95}, "entities": entities or []}
        state["latest_message"] = {"text": text, **parse_data, "message_id": "0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c"}
        state["events"] = [
            *state["events"][:3],
            *(history or []),
            {"event": "user", "timestamp": 1795001000.0, "text": text, "parse_data": parse_data},
            *(
                {"event": "slot", "timestamp": 1795001000.0, "name": k, "value": v}
                for k, v in (candidates or {}).items()
            ),
        ]
        state["slots"] = {**state["slots"], **(slots or {}), **(candidates or {}), "requested_slot": requested_slot}
        state["active_loop"] = {"name": form} if form else {}
        return Tracker.from_dict(state)

    return build
