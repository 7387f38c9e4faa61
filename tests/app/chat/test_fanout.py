"""Several web workers behind a balancer share Redis: a message written through one reaches a resident's socket on
another at once, not at the next database poll (and again after Redis restarts); and the chat rate limits count
what a resident sends through every worker."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient
from redisserver import RedisServer
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import WebSocketTestSession

from civicdesk.app import create_app
from civicdesk.chat import fanout
from civicdesk.settings import Settings

# The database poll, every 10 s here, cannot be what delivers a message within this bound.
POLL_SECONDS = 10.0
DELIVERY_BOUND_SECONDS = 5.0


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    yield server
    server.stop()


def received_within(socket: WebSocketTestSession, seconds: float) -> dict[str, Any] | None:
    """The next frame, or None when none came in time (TestClient's receive has no timeout of its own)."""
    frames: list[dict[str, Any]] = []
    reader = threading.Thread(target=lambda: frames.append(socket.receive_json()), daemon=True)
    reader.start()
    reader.join(seconds)
    return frames[0] if frames else None


def wait_for_subscribers(url: str, count: int) -> None:
    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + 10
    while dict(client.pubsub_numsub(fanout.CHANNEL)).get(fanout.CHANNEL.encode(), 0) < count:
        assert time.monotonic() < deadline, "the web workers did not subscribe to Redis within 10 s"
        time.sleep(0.05)


def test_a_message_through_one_worker_reaches_a_socket_on_another_through_redis(
    settings: Settings, session_factory: sessionmaker[Session], redis_server: RedisServer
) -> None:
    shared = settings.model_copy(update={"redis_url": redis_server.url, "chat_poll_seconds": POLL_SECONDS})
    with (
        TestClient(create_app(shared)) as first_worker,
        TestClient(create_app(shared)) as second_worker,
        first_worker.websocket_connect("/chat/ws") as first_tab,
    ):
        conversation = first_tab.receive_json()["id"]
        first_tab.send_json({"type": "message", "text": "Is my street being plowed tonight?"})
        assert first_tab.receive_json() == {"type": "typing"}
        for _ in range(2):  # the assistant is down: a notice, then the place in the queue
            assert first_tab.receive_json()["author"] == "system"

        # What another tab does through the other worker: end the chat (a system message says so), then write
        # again (the chat reopens; the assistant is still down, so a system message says that).
        inputs = [({"type": "end"}, "You ended the chat"), ({"type": "message", "text": "Hello?"}, "not available")]
        for attempt, (frame_in, expected) in enumerate(inputs):
            if attempt == 1:  # Redis restarts: the workers subscribe again by themselves
                redis_server.stop()
                redis_server.start()
            # Notices sent before a worker listens are the poller's: wait for those listening (a worker starts
            # listening when its first socket opens) to be subscribed again.
            wait_for_subscribers(redis_server.url, 1 + attempt)
            with second_worker.websocket_connect(f"/chat/ws?conversation={conversation}") as second_tab:
                second_tab.receive_json()
                second_tab.send_json(frame_in)
                frame = received_within(first_tab, DELIVERY_BOUND_SECONDS)
                assert frame is not None, f"{expected!r} not delivered within {DELIVERY_BOUND_SECONDS} s: not by Redis"
                assert frame["author"] == "system" and expected in frame["text"]


def test_the_rate_limit_counts_messages_sent_through_every_worker(
    settings: Settings, session_factory: sessionmaker[Session], redis_server: RedisServer
) -> None:
    shared = settings.model_copy(update={"redis_url": redis_server.url, "chat_messages_per_minute": 3})
    with TestClient(create_app(shared)) as first_worker, TestClient(create_app(shared)) as second_worker:
        with first_worker.websocket_connect("/chat/ws") as socket:
            conversation = socket.receive_json()["id"]
            for _ in range(2):
                socket.send_json({"type": "end"})
                assert socket.receive_json()["author"] == "system"
        with second_worker.websocket_connect(f"/chat/ws?conversation={conversation}") as socket:
            socket.receive_json()
            socket.send_json({"type": "end"})  # the third within the minute: allowed
            assert socket.receive_json()["author"] == "system"
            socket.send_json({"type": "end"})  # the fourth, though this worker has seen only two
            assert "sending messages very quickly" in socket.receive_json()["message"]
