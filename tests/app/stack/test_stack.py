"""`make run` brings every component to healthy on /health, and Ctrl-C stops them all.

This starts the real stack (core web app, Rasa server, action server, ingester) under the Procfile supervisor,
on free loopback ports and a throwaway var folder; only the trained models are shared with the checkout
(`make test` trains them first). Rasa takes a minute or more to load TensorFlow and the model.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from helpers import free_port, make_settings, port_is_free

from civicdesk.settings import PROJECT_ROOT

STARTUP_SECONDS = 300


@pytest.mark.stack
def test_make_run_reaches_healthy_and_ctrl_c_stops_everything(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, port=free_port(), ingest_poll_seconds=2)
    model = settings.models_dir / "civicdesk.tar.gz"
    assert model.exists(), f"{model} is missing: `make test` trains it before the suite (make models)"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CIVICDESK_")}
    env.update(
        CIVICDESK_ENV="test",
        CIVICDESK_VAR_DIR=str(settings.var_dir),
        CIVICDESK_PORT=str(settings.port),
        CIVICDESK_RASA_URL=settings.rasa_url,
        CIVICDESK_ACTION_SERVER_URL=settings.action_server_url,
        CIVICDESK_SECRET_KEY=settings.secret_key.get_secret_value(),
        CIVICDESK_ACTIONS_TOKEN=settings.actions_token.get_secret_value(),
        CIVICDESK_INGEST_POLL_SECONDS="2",
    )
    log = (tmp_path / "make-run.log").open("w")
    # A session of its own, so the whole group gets the SIGINT a terminal's Ctrl-C would send.
    process = subprocess.Popen(
        ["make", "--no-print-directory", "run"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{settings.port}/health"
    body: dict[str, object] = {}
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline and process.poll() is None:
            try:
                response = httpx.get(url, timeout=5)
                body = response.json()
                if response.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(2)
        output = (tmp_path / "make-run.log").read_text()
        assert body.get("status") == "ok", f"not healthy after {STARTUP_SECONDS} s: {body}\n{output[-3000:]}"
        assert "core web app   http://127.0.0.1" in output  # the URLs are printed
        # A quiet, quick start: the built environments are left alone, the engine's dependencies' deprecation
        # warnings are not shown, and the health checks above (every 2 s) leave no access lines.
        assert "virtual environment" not in output, output[:3000]
        assert "DeprecationWarning" not in output, output[-3000:]
        assert "GET /health " not in output, output[-3000:]
    finally:
        with contextlib.suppress(ProcessLookupError):  # already gone if make run failed
            os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            pytest.fail("the stack did not stop within 60 s of Ctrl-C")
    ports = [
        settings.port,
        *(int(u.rsplit(":", 1)[1]) for u in (settings.rasa_url, settings.action_server_url)),
    ]
    time.sleep(1)
    assert all(port_is_free(port) for port in ports), "a process still listens after Ctrl-C"
