"""The chat gateway in front of the real Rasa server (trained model from `make test`'s training step)."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from helpers import make_settings
from rasaserver import running_rasa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from civicdesk.app import create_app
from civicdesk.chat import service as chat
from civicdesk.db import utcnow
from civicdesk.residents import retention
from civicdesk.settings import Settings


@dataclass(frozen=True)
class RasaServer:
    url: str
    tracker_db: Path  # Rasa's SQL tracker store: the file
    tracker_store: str  # ... and its URL


@pytest.fixture(scope="module")
def rasa_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RasaServer]:
    settings = make_settings(tmp_path_factory.mktemp("rasa"))
    with running_rasa(settings, tmp_path_factory.mktemp("rasa-log") / "rasa.log"):
        yield RasaServer(settings.rasa_url, settings.tracker_db_path, settings.tracker_store_url)


@pytest.fixture(scope="module")
def rasa_url(rasa_server: RasaServer) -> str:
    return rasa_server.url


@pytest.fixture
def client(settings: Settings, engine: Engine, rasa_url: str) -> Iterator[TestClient]:
    with TestClient(create_app(settings.model_copy(update={"rasa_url": rasa_url}))) as client:
        yield client


def say(socket: object, text: str) -> list[dict[str, object]]:
    """Send a message and collect the answers until the socket goes quiet (Rasa answers in one batch)."""
    socket.send_json({"type": "message", "text": text})  # type: ignore[attr-defined]
    assert socket.receive_json() == {"type": "typing"}  # type: ignore[attr-defined]
    return [socket.receive_json()]  # type: ignore[attr-defined]


@pytest.mark.timeout(300)  # a reply that never comes fails the test instead of hanging CI
def test_the_assistant_answers_through_the_gateway_and_hands_off(client: TestClient) -> None:
    with client.websocket_connect("/chat/ws") as socket:
        conversation = socket.receive_json()["id"]
        greeting = say(socket, "hello")[0]
        assert greeting["author"] == "bot" and "Northvale Service First" in str(greeting["text"])
    with client.websocket_connect(f"/chat/ws?conversation={conversation}") as socket:
        resumed = socket.receive_json()
        assert resumed["owner"] == "bot"
        assert [m["author"] for m in resumed["history"]][:2] == ["resident", "bot"]
        socket.send_json({"type": "message", "text": "I want to talk to a real person please"})
        assert socket.receive_json() == {"type": "typing"}
        answers = [socket.receive_json()]
        while answers[-1]["author"] != "system" and len(answers) < 6:  # bounded: a missing handoff fails, not hangs
            answers.append(socket.receive_json())
    assert any("agent" in str(a["text"]) for a in answers if a["author"] == "bot")
    assert "number 1 in the queue" in str(answers[-1]["text"])
    with client.websocket_connect(f"/chat/ws?conversation={conversation}") as socket:
        assert socket.receive_json()["owner"] == "waiting"


@pytest.mark.timeout(300)
def test_a_question_needing_the_action_server_while_it_is_down_goes_to_an_agent(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    """No action server runs beside this Rasa: a knowledgebase question gets no reply from Rasa, so the
    gateway tells the resident and queues the conversation instead of leaving them in silence."""
    with client.websocket_connect("/chat/ws") as socket:
        conversation = socket.receive_json()["id"]
        socket.send_json({"type": "message", "text": "when is my garbage day"})
        assert socket.receive_json() == {"type": "typing"}
        down, queued = socket.receive_json(), socket.receive_json()
    assert down["author"] == "system" and "not available right now" in str(down["text"])
    assert "in the queue" in str(queued["text"])
    with session_factory() as session:
        assert chat.find(session, conversation).handoff_reason == "assistant_no_reply"  # Rasa itself was up


@pytest.mark.timeout(300)
def test_the_assistants_tracker_is_kept_on_disk_and_deleted_on_schedule(
    client: TestClient, rasa_server: RasaServer
) -> None:
    with client.websocket_connect("/chat/ws") as socket:
        conversation = socket.receive_json()["id"]
        say(socket, "hello")

    def senders() -> set[str]:
        with sqlite3.connect(rasa_server.tracker_db) as db:
            return {row[0] for row in db.execute("SELECT DISTINCT sender_id FROM events")}

    assert conversation in senders()
    with sqlite3.connect(rasa_server.tracker_db) as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)  # set by `civicdesk rasa`
    assert retention.purge_trackers(rasa_server.tracker_store, utcnow() - dt.timedelta(days=1), apply=True) == 0
    assert conversation in senders()  # younger than the cutoff: kept
    retention.purge_trackers(rasa_server.tracker_store, utcnow() + dt.timedelta(minutes=1), apply=True)
    assert conversation not in senders()
