"""Training of the assistant (Rasa, in the engine environment) and the triage models, when missing or stale.

Staleness is decided by a fingerprint of everything a model is trained from, so `make run` retrains only
after someone changed the training data, the configuration or the locked library versions.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import yaml

from civicdesk.errors import UserError
from civicdesk.settings import PROJECT_ROOT, Settings

BOT_DIR = PROJECT_ROOT / "bot"
CHAT_NLU_DIR = PROJECT_ROOT / "nlu_data" / "chat"
EMAIL_DIR = PROJECT_ROOT / "nlu_data" / "email"
RASA_MODEL_NAME = "civicdesk"


def host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    if not parts.hostname or not parts.port:
        raise UserError(f"{url!r} must name a host and a port, e.g. http://127.0.0.1:5005")
    return parts.hostname, parts.port


def engine_env(settings: Settings) -> dict[str, str]:
    """Environment for processes in the engine env: how to reach the core, and no phoning home."""
    return {
        "CIVICDESK_CORE_URL": settings.public_core_url,
        "CIVICDESK_ACTIONS_TOKEN": settings.actions_token.get_secret_value(),
        "RASA_TELEMETRY_ENABLED": "false",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
        # Rasa 3.6's dependencies warn about their own deprecated calls at every start; nothing to act on here.
        "PYTHONWARNINGS": "ignore::DeprecationWarning",
    }


def rasa_endpoints(settings: Settings) -> dict[str, Any]:
    """Rasa's endpoints (`--endpoints`), from the settings: the action server; the trackers in the SQLite file, or
    in PostgreSQL where several Rasa servers share them; the lock store in Redis when there is one, so that any
    server may take any turn of a conversation and its messages are still handled one at a time, in order."""
    if settings.rasa_tracker_url:
        url = urlsplit(settings.rasa_tracker_url)
        tracker_store: dict[str, Any] = {
            "type": "SQL",
            "dialect": "postgresql",
            "url": url.hostname,
            "port": url.port or 5432,
            "db": url.path.lstrip("/"),
            "username": unquote(url.username or ""),
            "password": unquote(url.password or ""),
        }
    else:
        tracker_store = {"type": "SQL", "dialect": "sqlite", "db": str(settings.tracker_db_path)}
    lock_store: dict[str, Any] = {"type": "in_memory"}
    if settings.redis_url:
        redis = urlsplit(settings.redis_url)
        lock_store = {
            "type": "redis",
            "url": redis.hostname,
            "port": redis.port or 6379,
            "db": int(redis.path.lstrip("/") or 0),
            "password": unquote(redis.password) if redis.password else None,
            "key_prefix": "civicdesk",
        }
    return {
        "action_endpoint": {"url": settings.action_server_url.rstrip("/") + "/webhook"},
        "tracker_store": tracker_store,
        "lock_store": lock_store,
    }


def write_rasa_endpoints(settings: Settings, folder: Path) -> Path:
    """The endpoints file for one Rasa server; readable by its owner only, as it may hold passwords."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "endpoints.yml"
    path.touch(mode=0o600)
    path.write_text(yaml.safe_dump(rasa_endpoints(settings), sort_keys=False))
    return path


# Rasa's own SQLTrackerStore creates its table when constructed: the engine env's Python makes it from the
# endpoints' tracker_store section (passed as JSON), the same configuration the servers will read.
_CREATE_TRACKER_TABLE = """
import json, sys
from rasa.core.tracker_store import SQLTrackerStore
config = json.loads(sys.argv[1])
config.pop("type")
SQLTrackerStore(host=config.pop("url"), **config)
"""


def create_rasa_tracker_table(settings: Settings) -> None:
    """Rasa's tracker table in the shared PostgreSQL store, made once before several Rasa servers start (each
    would otherwise try to create it at the same moment, and one would fail)."""
    store = json.dumps(rasa_endpoints(settings)["tracker_store"])
    python = settings.engine_venv / "bin" / "python"
    environment = {**os.environ, **engine_env(settings)}
    done = subprocess.run([str(python), "-c", _CREATE_TRACKER_TABLE, store], env=environment, capture_output=True)
    if done.returncode != 0:
        raise UserError(f"could not prepare Rasa's tracker store: {done.stderr.decode()[-500:]}")


def prepare_tracker_store(path: Path) -> None:
    """Rasa's SQLite tracker file, in WAL mode (it persists in the file; Rasa's own connections would use the
    rollback journal): one sync per turn instead of several, so Rasa's writes hold up the core's less."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.closing(sqlite3.connect(path)) as connection:
        connection.execute("PRAGMA journal_mode=WAL")


def rasa_model_path(settings: Settings) -> Path:
    return settings.models_dir / f"{RASA_MODEL_NAME}.tar.gz"


def rasa_domain() -> Path:
    folder = BOT_DIR / "domain"
    return folder if folder.is_dir() else BOT_DIR / "domain.yml"


def fingerprint(paths: list[Path]) -> str:
    """sha256 over the names and contents of every file under the given paths."""
    digest = hashlib.sha256()
    files: list[Path] = []
    for path in paths:
        # compiled bytecode changes with every import, not with the code: leave it out
        found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix != ".pyc") if path.is_dir() else [path]
        files.extend(found)
    for file in files:
        if file.exists():
            digest.update(str(file.relative_to(PROJECT_ROOT)).encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()


def rasa_inputs() -> list[Path]:
    # the pipeline's own components are part of the model: a change to their code retrains it
    return [
        BOT_DIR / "config.yml",
        BOT_DIR / "components",
        rasa_domain(),
        BOT_DIR / "data",
        CHAT_NLU_DIR,
        BOT_DIR / "uv.lock",
    ]


def train_rasa(settings: Settings, force: bool = False) -> str:
    model = rasa_model_path(settings)
    stamp = model.with_suffix(".fingerprint")
    wanted = fingerprint(rasa_inputs())
    if not force and model.exists() and stamp.exists() and stamp.read_text() == wanted:
        return f"assistant model up to date: {model}"
    rasa = settings.engine_venv / "bin" / "rasa"
    if not rasa.exists():
        raise UserError(f"{rasa} is missing: run `make setup` to create the Rasa environment")
    command = [
        str(rasa),
        "train",
        "--config",
        str(BOT_DIR / "config.yml"),
        "--domain",
        str(rasa_domain()),
        "--data",
        str(BOT_DIR / "data"),
        str(CHAT_NLU_DIR),
        "--out",
        str(settings.models_dir),
        "--fixed-model-name",
        RASA_MODEL_NAME,
    ]
    result = subprocess.run(command, cwd=PROJECT_ROOT, env={**os.environ, **engine_env(settings)})
    if result.returncode != 0 or not model.exists():
        raise UserError(f"training the assistant failed (exit status {result.returncode}); see the output above")
    stamp.write_text(wanted)
    return f"assistant model trained: {model}"


def triage_model_dir(settings: Settings) -> Path:
    """The triage model registry: every version side by side, and which one is active (classifiers.registry)."""
    return settings.models_dir / "triage"


def triage_training_files() -> list[Path]:
    # Files named train*.jsonl are training data; test*.jsonl are held out (nlu_data/email/README.md).
    data = sorted(EMAIL_DIR.glob("train*.jsonl"))
    if not data:
        raise UserError(f"no triage training data (train*.jsonl) in {EMAIL_DIR}")
    return data


def triage_test_file() -> Path:
    """The fixed held-out test set: versions are compared on it, and nothing is ever trained on it."""
    path = EMAIL_DIR / "test.jsonl"
    if not path.is_file():
        raise UserError(f"no triage test data: {path} is missing")
    return path


def train_triage(settings: Settings, force: bool = False) -> str:
    """Train a version on the shipped data and make it active, when there is none or it is out of date.

    Out of date means the shipped training files or the library versions changed since the active version was
    trained; a version that `classifiers retrain` trained on these files plus the agents' corrections is current.
    This is the deployment path, so what it trains becomes active without the retrain's promotion rule: an out of
    date model may not even load with the new libraries. Its test scores are recorded for `classifiers list`.
    """
    from classifiers.data import data_sha256, file_sha256
    from classifiers.evaluate import evaluate
    from classifiers.model import is_stale, load_model, train
    from classifiers.registry import Registry

    registry = Registry(triage_model_dir(settings))
    data = triage_training_files()
    active = registry.active_dir()
    if not force and active is not None and not is_stale(data, active, more_data_ok=True):
        return f"triage models up to date: {active}"
    test_file = triage_test_file()
    with registry.training():
        version_id, path = registry.new_version_dir(data_sha256(data))
        try:
            train(data, path)
            metrics = evaluate(load_model(path), test_file)
            registry.save_evaluation(path, test_file, file_sha256(test_file), metrics)
            registry.save_run(path, {"started_by": "civicdesk train", "corrections": 0})
        except BaseException:
            registry.discard(path)
            raise
        registry.activate(version_id, by="civicdesk train")
    return f"triage models trained: version {version_id} is active ({path})"


def train_all(settings: Settings, force: bool = False) -> Iterator[str]:
    settings.models_dir.mkdir(parents=True, exist_ok=True)
    yield train_triage(settings, force)
    yield train_rasa(settings, force)
