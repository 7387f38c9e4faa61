"""GET /health names each component and its state; 200 only when every one is ok."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from civicdesk.app import create_app
from civicdesk.db import transaction, utcnow
from civicdesk.health import ingester_component
from civicdesk.models import ComponentHeartbeat
from civicdesk.settings import Settings


class Ok(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b'{"status": "ok"}')

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def answering(settings: Settings) -> Iterator[None]:
    """Stand-ins answering 200 where Rasa and the action server would listen (the stack test uses the real ones)."""
    servers = []
    for url in (settings.rasa_url, settings.action_server_url):
        parts = urlsplit(url)
        server = ThreadingHTTPServer((parts.hostname or "", parts.port or 0), Ok)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
    yield
    for server in servers:
        server.shutdown()
        server.server_close()


def set_heartbeat(factory: sessionmaker[Session], age: timedelta, mailbox: str = "maildir:/var/mail") -> None:
    with transaction(factory) as session:
        component = ingester_component(mailbox)
        session.merge(ComponentHeartbeat(component=component, state="ok", detail="waiting", beat_at=utcnow() - age))


def test_nothing_running_is_reported_component_by_component(settings: Settings, engine: Engine) -> None:
    response = TestClient(create_app(settings)).get("/health")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "degraded"
    states = {name: c["state"] for name, c in body["components"].items()}
    assert states == {"database": "ok", "rasa": "down", "action_server": "down", "ingester": "down"}


def test_all_components_ok(
    settings: Settings, engine: Engine, session_factory: sessionmaker[Session], answering: None
) -> None:
    set_heartbeat(session_factory, timedelta(seconds=1))
    response = TestClient(create_app(settings)).get("/health")
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "ok"


def test_a_silent_ingester_is_stale(
    settings: Settings, engine: Engine, session_factory: sessionmaker[Session], answering: None
) -> None:
    set_heartbeat(session_factory, timedelta(minutes=10))
    body = TestClient(create_app(settings)).get("/health").json()
    assert body["components"]["ingester"]["state"] == "stale"


def test_one_silent_mailbox_among_several_is_reported(
    settings: Settings, engine: Engine, session_factory: sessionmaker[Session], answering: None
) -> None:
    set_heartbeat(session_factory, timedelta(seconds=1), "imap://servicefirst@mail.northvale.ca:993/INBOX")
    set_heartbeat(session_factory, timedelta(minutes=10), "imap://roads@mail.northvale.ca:993/INBOX")
    ingester = TestClient(create_app(settings)).get("/health").json()["components"]["ingester"]
    assert ingester["state"] == "stale" and ingester["detail"].startswith("imap://roads@")


def test_an_unmigrated_database_is_reported(settings: Settings) -> None:
    body = TestClient(create_app(settings)).get("/health").json()
    assert body["components"]["database"]["state"] == "behind"
    assert "civicdesk db upgrade" in body["components"]["database"]["detail"]
