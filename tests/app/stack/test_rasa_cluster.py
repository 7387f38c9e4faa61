"""Two Rasa servers sharing one PostgreSQL tracker store and one Redis lock store: any server can take any turn.

Twenty messages sent at once to one conversation, alternately to the two servers, are each answered, and handled
one at a time: in the stored conversation every message is followed by the assistant's answer before the next
message (what rasa issues 6290 and 7921 saw break without a shared lock store: lost or interleaved turns).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from helpers import make_settings
from rasaserver import running_rasa
from redisserver import RedisServer
from sqlalchemy import create_engine, text

MESSAGES = 20


@pytest.fixture(scope="module")
def rasa_servers(postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[list[str], str]]:
    """Two Rasa servers' URLs, and the URL of their shared tracker database."""
    name = f"rasa_{uuid.uuid4().hex[:8]}"
    admin = create_engine(postgres_url + "/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    trackers = postgres_url.replace("postgresql+psycopg://", "postgresql://") + f"/{name}"
    redis = RedisServer()
    redis.start()
    shared = {"CIVICDESK_RASA_TRACKER_URL": trackers, "CIVICDESK_REDIS_URL": redis.url}
    first, second = (make_settings(tmp_path_factory.mktemp(f"rasa-{n}")) for n in (1, 2))
    try:
        with (
            running_rasa(first, first.var_dir.parent / "rasa.log", **shared),
            running_rasa(second, second.var_dir.parent / "rasa.log", **shared),
        ):
            yield [first.rasa_url, second.rasa_url], trackers
    finally:
        redis.stop()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


async def send_all_at_once(urls: list[str], sender: str) -> list[list[dict[str, object]]]:
    async with httpx.AsyncClient(timeout=120) as client:

        async def send(number: int) -> list[dict[str, object]]:
            url = urls[number % len(urls)] + "/webhooks/rest/webhook"
            response = await client.post(url, json={"sender": sender, "message": "hello"})
            response.raise_for_status()
            answer: list[dict[str, object]] = response.json()
            return answer

        return await asyncio.gather(*(send(number) for number in range(MESSAGES)))


@pytest.mark.timeout(600)
def test_twenty_messages_at_once_over_two_servers_are_answered_one_at_a_time(
    rasa_servers: tuple[list[str], str], tmp_path: Path
) -> None:
    urls, trackers = rasa_servers
    sender = uuid.uuid4().hex
    answers = asyncio.run(send_all_at_once(urls, sender))
    assert all(answer and "Northvale Service First" in str(answer[0].get("text")) for answer in answers), answers

    engine = create_engine(trackers.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as connection:
        events = connection.execute(
            text("SELECT type_name FROM events WHERE sender_id = :sender ORDER BY id"), {"sender": sender}
        ).scalars()
        kinds = [kind for kind in events if kind in ("user", "bot")]
    engine.dispose()
    assert kinds.count("user") == MESSAGES  # nothing lost
    # one at a time: each message is answered before the next one is read
    turns = "".join("u" if kind == "user" else "b" for kind in kinds)
    assert "uu" not in turns and turns.startswith("u") and turns.endswith("b"), turns
