"""A real Rasa server started with `civicdesk rasa` (the trained model from `make test`'s training step)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from civicdesk.settings import PROJECT_ROOT, Settings

STARTUP_SECONDS = 240


@contextmanager
def running_rasa(settings: Settings, log_path: Path, **environment: str) -> Iterator[None]:
    """Rasa at `settings.rasa_url` until the block ends; `environment` adds CIVICDESK_ settings (stores, Redis)."""
    model = settings.models_dir / "civicdesk.tar.gz"
    assert model.exists(), f"{model} is missing: `make test` trains it before the suite (make models)"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CIVICDESK_")}
    env.update(
        CIVICDESK_VAR_DIR=str(settings.var_dir),
        CIVICDESK_MODELS_DIR=str(settings.models_dir),
        CIVICDESK_RASA_URL=settings.rasa_url,
        CIVICDESK_ACTION_SERVER_URL=settings.action_server_url,
        CIVICDESK_TRACKER_DB=str(settings.tracker_db_path),
        **environment,
    )
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [str(PROJECT_ROOT / ".venv" / "bin" / "civicdesk"), "rasa"],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if httpx.get(settings.rasa_url + "/", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(2)
        else:
            pytest.fail(f"Rasa did not start:\n{log_path.read_text()[-3000:]}")
        yield
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=60)
