"""`/metrics` is scraped as Prometheus would, and its figures move with the chat, mail and service-level traffic."""

from __future__ import annotations

import datetime as dt
import mailbox
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from helpers import FakeRasa, resident_email
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.orm import Session, sessionmaker

from civicdesk.app import create_app
from civicdesk.db import transaction, utcnow
from civicdesk.settings import Settings
from civicdesk.work import service_levels
from email_ingest.maildir import MaildirSource
from email_ingest.runner import ingest_once

Sample = tuple[str, tuple[tuple[str, str], ...]]


def scrape(client: TestClient) -> dict[Sample, float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def moved(before: dict[Sample, float], after: dict[Sample, float], name: str, **labels: str) -> float:
    key = (name, tuple(sorted(labels.items())))
    return after.get(key, 0.0) - before.get(key, 0.0)


@pytest.fixture
def fake_rasa() -> Iterator[FakeRasa]:
    fake = FakeRasa()
    yield fake
    fake.server.shutdown()


def say(client: TestClient, text: str, replies: int) -> None:
    with client.websocket_connect("/chat/ws") as socket:
        socket.receive_json()
        socket.send_json({"type": "message", "text": text})
        assert socket.receive_json() == {"type": "typing"}
        for _ in range(replies):
            socket.receive_json()


def test_chat_turns_handoffs_and_the_queue_are_counted(
    settings: Settings, session_factory: sessionmaker[Session], fake_rasa: FakeRasa
) -> None:
    with TestClient(create_app(settings.model_copy(update={"rasa_url": fake_rasa.url}))) as client:
        before = scrape(client)
        say(client, "Is my street being plowed tonight?", replies=1)
        say(client, "I want to talk to a person", replies=2)  # the assistant's words, then the queue position
        time.sleep(1.1)  # so the queued chat has waited a measurable second
        after = scrape(client)
    assert moved(before, after, "civicdesk_chat_turns_total", outcome="answered") == 1
    assert moved(before, after, "civicdesk_chat_turns_total", outcome="handoff") == 1
    assert moved(before, after, "civicdesk_handoffs_total", reason="resident_request") == 1
    assert moved(before, after, "civicdesk_chat_turn_seconds_count") == 2
    assert moved(before, after, "civicdesk_rasa_call_seconds_count") == 2
    assert after[("civicdesk_queue_depth", (("channel", "chat"),))] == 1
    assert after[("civicdesk_queue_longest_wait_seconds", (("channel", "chat"),))] >= 1
    assert after[("civicdesk_queue_depth", (("channel", "email"),))] == 0


def test_an_unreachable_assistant_is_counted_as_an_error(
    settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    # settings.rasa_url points at a free port nobody listens on
    with TestClient(create_app(settings)) as client:
        before = scrape(client)
        say(client, "Is my street being plowed tonight?", replies=2)  # "not available", then the queue
        after = scrape(client)
    assert moved(before, after, "civicdesk_rasa_errors_total", kind="unreachable") == 1
    assert moved(before, after, "civicdesk_chat_turns_total", outcome="assistant_failed") == 1


def test_emails_by_outcome_the_ingest_lag_and_service_level_breaches(
    settings: Settings, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    inbox = tmp_path / "inbox"
    box = mailbox.Maildir(inbox, create=True)
    for number in range(2):
        body = f"Deep pothole near {410 + number} Lakeshore Road."
        key = box.add(resident_email("Pothole", body, f"<p{number}@example.org>"))
        ten_minutes_ago = time.time() - 600
        os.utime(next(inbox.glob(f"new/{key}*")), (ten_minutes_ago, ten_minutes_ago))
    with TestClient(create_app(settings)) as client:
        before = scrape(client)
        during: list[dict[Sample, float]] = []
        # no triage model: each waits for an agent
        ingest_once(MaildirSource(inbox), session_factory, 100_000, progress=lambda _: during.append(scrape(client)))
        after_mail = scrape(client)
        with transaction(session_factory) as session:
            escalated = service_levels.escalate(session, utcnow() + dt.timedelta(days=30))
        after_breach = scrape(client)
    assert moved(before, after_mail, "civicdesk_emails_total", outcome="needs_human") == 2
    assert during[0][("civicdesk_ingest_lag_seconds", ())] >= 600  # the oldest message had waited ten minutes
    assert after_mail[("civicdesk_ingest_lag_seconds", ())] == 0  # drained
    assert after_mail[("civicdesk_queue_depth", (("channel", "email"),))] == 2
    assert len(escalated) == 2
    assert moved(after_mail, after_breach, "civicdesk_sla_breaches_total", channel="email") == 2
