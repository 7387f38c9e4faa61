"""`make cluster` (`civicdesk cluster`): two of every process behind HAProxy, on PostgreSQL and Redis, on loopback.

The cluster comes up healthy through HAProxy; a resident chats through it; twenty messages sent at once to one
conversation through the Rasa balancer (so over both Rasa servers) are each answered and handled one at a time
(what rasa issues 6290 and 7921 saw break without a shared lock store); `/metrics` is refused on the public side
and served by each worker; Ctrl-C stops everything.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import websockets
from helpers import make_settings, port_is_free
from sqlalchemy import create_engine, text

from civicdesk.cli.cluster import Layout
from civicdesk.settings import PROJECT_ROOT

STARTUP_SECONDS = 600  # two Rasa servers load their models at the same time (7 min on a busy 2-core machine)
MESSAGES = 20


def free_layout(tmp_path: Path) -> Layout:
    for _ in range(50):
        layout = Layout(random.randrange(20000, 60000, 100), tmp_path / "var" / "cluster")
        if all(port_is_free(port) for _, port in layout.ports()):
            return layout
    raise RuntimeError("no free range of ports for the cluster")


@pytest.fixture(scope="module")
def cluster() -> Iterator[Layout]:
    # PostgreSQL runs as the `postgres` user when we are root: its data must be reachable from /, which
    # pytest's own temporary folders (0700) are not.
    tmp_path = Path(tempfile.mkdtemp(prefix="civicdesk-cluster-"))
    tmp_path.chmod(0o755)
    layout = free_layout(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CIVICDESK_")}
    settings = make_settings(tmp_path)
    env.update(
        CIVICDESK_ENV="test",
        CIVICDESK_PORT=str(layout.public),
        CIVICDESK_VAR_DIR=str(settings.var_dir),
        CIVICDESK_SECRET_KEY=settings.secret_key.get_secret_value(),
        CIVICDESK_ACTIONS_TOKEN=settings.actions_token.get_secret_value(),
    )
    log_path = tmp_path / "cluster.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [str(PROJECT_ROOT / ".venv" / "bin" / "civicdesk"), "cluster"],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline, status = time.monotonic() + STARTUP_SECONDS, {}
        while time.monotonic() < deadline and process.poll() is None:
            try:
                status = httpx.get(f"http://127.0.0.1:{layout.public}/health", timeout=5).json()
                if status.get("status") == "ok":
                    break
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(2)
        assert status.get("status") == "ok", f"{status}\n{log_path.read_text()[-4000:]}"
        yield layout
    finally:
        with contextlib.suppress(ProcessLookupError):  # gone already if it failed to start
            os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C sends
        try:
            process.wait(timeout=90)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            pytest.fail("the cluster did not stop within 90 s of Ctrl-C")
    time.sleep(1)
    assert all(port_is_free(port) for _, port in layout.ports()), "a process still listens after Ctrl-C"
    shutil.rmtree(tmp_path, ignore_errors=True)


async def chat(url: str, text: str) -> list[dict[str, object]]:
    async with websockets.connect(url) as socket:
        json.loads(await socket.recv())  # the conversation
        await socket.send(json.dumps({"type": "message", "text": text}))
        frames = [json.loads(await asyncio.wait_for(socket.recv(), 60)) for _ in range(2)]
        return [frame for frame in frames if frame.get("type") == "message"]


async def send_all_at_once(url: str, sender: str) -> list[list[dict[str, object]]]:
    async with httpx.AsyncClient(timeout=120) as client:

        async def send() -> list[dict[str, object]]:
            response = await client.post(url, json={"sender": sender, "message": "hello"})
            response.raise_for_status()
            answer: list[dict[str, object]] = response.json()
            return answer

        return await asyncio.gather(*(send() for _ in range(MESSAGES)))


@pytest.mark.timeout(900)
def test_a_resident_chats_through_the_balancer(cluster: Layout) -> None:
    answers = asyncio.run(chat(f"ws://127.0.0.1:{cluster.public}/chat/ws", "hello"))
    assert answers and "Northvale Service First" in str(answers[0]["text"])


@pytest.mark.timeout(900)
def test_twenty_messages_at_once_over_both_rasa_servers_are_answered_one_at_a_time(cluster: Layout) -> None:
    sender = uuid.uuid4().hex
    webhook = f"http://127.0.0.1:{cluster.rasa_balancer}/webhooks/rest/webhook"
    answers = asyncio.run(send_all_at_once(webhook, sender))
    assert all(answer and "Northvale Service First" in str(answer[0].get("text")) for answer in answers), answers

    engine = create_engine(cluster.database_url("rasa").replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as connection:
        events = connection.execute(
            text("SELECT type_name FROM events WHERE sender_id = :sender ORDER BY id"), {"sender": sender}
        ).scalars()
        turns = "".join({"user": "u", "bot": "b"}.get(kind, "") for kind in events)
    engine.dispose()
    assert turns.count("u") == MESSAGES  # nothing lost
    assert "uu" not in turns and turns.startswith("u") and turns.endswith("b"), turns  # each answered before the next


@pytest.mark.timeout(900)
def test_metrics_are_served_by_each_worker_and_not_on_the_public_side(cluster: Layout) -> None:
    assert httpx.get(f"http://127.0.0.1:{cluster.public}/metrics", timeout=10).status_code == 404
    for n in (1, 2):
        worker = httpx.get(f"http://127.0.0.1:{cluster.web(n)}/metrics", timeout=10)
        assert worker.status_code == 200 and "civicdesk_queue_depth" in worker.text
