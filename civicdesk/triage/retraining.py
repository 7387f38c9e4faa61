"""Retraining the triage model on the shipped data plus the agents' corrections, kept only when it is no worse.

One retrain: export the `triage_correction` rows to corrections.jsonl in a new version's folder (so the version
can be trained again from exactly the same files), train on the shipped train*.jsonl files and that file, score
the new version on the fixed held-out test set, and promote it when `classifiers.registry.promotion_decision`
allows; otherwise the active version stays and the new one is kept, not active, with the reasons. One retrain
runs at a time per models folder (Registry.training), whether the command line or the console started it;
`retrain-status.json` tells the console what the last one did.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from civicdesk.errors import UserError
from civicdesk.models import TriageCorrection
from civicdesk.privacy import redact
from civicdesk.settings import Settings
from civicdesk.triage.training import triage_model_dir, triage_test_file, triage_training_files
from classifiers.errors import DataError
from classifiers.registry import Registry

STATUS_FILE = "retrain-status.json"

Progress = Callable[[str], None]


@dataclass(frozen=True)
class RetrainOutcome:
    version: str
    promoted: bool
    reasons: tuple[str, ...]
    active_before: str | None
    active_after: str | None
    corrections: int
    rows: int
    seconds: float
    candidate: dict[str, float | None]  # Scores of the new version on the test set
    active: dict[str, float | None] | None  # and of the version that was active, on the same test set

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def correction_rows(session: Session, exclude_texts: frozenset[str] = frozenset()) -> list[dict[str, str]]:
    """Every correction with some text and at least one label, as training rows with personal information
    redacted (a head left empty is simply not trained from that row). Texts in `exclude_texts` (the test set)
    are left out: never train on it."""
    from classifiers.data import LABEL_COLUMNS, compose_text

    rows = []
    for correction in session.scalars(select(TriageCorrection).order_by(TriageCorrection.id)):
        labels = {
            head: value.strip() for head in LABEL_COLUMNS if (value := getattr(correction, head)) and value.strip()
        }
        text = compose_text(correction.subject, correction.body)
        if not labels or not text or text in exclude_texts:
            continue
        # The export is kept beside the version: residents' personal information stays out of it (and a phone
        # number or an address says nothing about the service anyway).
        subject, body = redact(correction.subject or ""), redact(correction.body or "")
        rows.append({"subject": subject, "body": body, **labels})
    return rows


def _jsonl(rows: Sequence[dict[str, str]]) -> bytes:
    return b"".join(json.dumps(row, ensure_ascii=False, sort_keys=True).encode() + b"\n" for row in rows)


def _test_texts(test_file: Path) -> frozenset[str]:
    from classifiers.data import load_dataset

    return frozenset(load_dataset([test_file], require_labels=False).texts())


def read_status(root: Path) -> dict[str, Any] | None:
    """The last retrain: state running, finished, failed, or interrupted (said running, but nobody holds the lock)."""
    try:
        status: dict[str, Any] = json.loads((root / STATUS_FILE).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError):
        return None
    if status.get("state") == "running" and not Registry(root).training_now():
        status["state"] = "interrupted"
    return status


def _write_status(root: Path, status: dict[str, Any]) -> None:
    from classifiers.store import atomic_write

    atomic_write(root / STATUS_FILE, json.dumps(status, indent=2, sort_keys=True).encode() + b"\n")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def retrain(
    settings: Settings,
    factory: sessionmaker[Session],
    *,
    actor: str,
    train_files: Sequence[Path] | None = None,
    test_file: Path | None = None,
    progress: Progress | None = None,
) -> RetrainOutcome:
    """Train a new version on the shipped data and the corrections, score it, and promote it if the rule allows.

    Raises RegistryBusy when another training is running; DataError/ModelError (ValueErrors naming the file and the
    problem) when the data cannot be used. A failed run leaves no version behind.
    """
    root = triage_model_dir(settings)
    with Registry(root).training():
        started_at = _now()
        _write_status(root, {"state": "running", "started_at": started_at, "started_by": actor, "pid": os.getpid()})
        try:
            outcome = _retrain(root, factory, actor, train_files, test_file, progress or (lambda _: None))
        except Exception as error:
            _write_status(
                root,
                {"state": "failed", "started_at": started_at, "started_by": actor, "finished_at": _now(),
                 "error": str(error) or type(error).__name__},
            )  # fmt: skip
            raise
        _write_status(
            root,
            {"state": "finished", "started_at": started_at, "started_by": actor, "finished_at": _now(),
             "outcome": outcome.as_dict()},
        )  # fmt: skip
        return outcome


def _retrain(
    root: Path,
    factory: sessionmaker[Session],
    actor: str,
    train_files: Sequence[Path] | None,
    test_file: Path | None,
    say: Progress,
) -> RetrainOutcome:
    from classifiers.data import combined_sha256, file_sha256
    from classifiers.evaluate import evaluate
    from classifiers.model import load_model, train
    from classifiers.registry import CORRECTIONS_FILE, Scores, promotion_decision

    started = time.perf_counter()
    shipped = [Path(p) for p in (train_files or triage_training_files())]
    test_file = test_file or triage_test_file()
    for path in (*shipped, test_file):
        if not path.is_file():
            raise DataError(f"{path}: file not found")
    test_sha = file_sha256(test_file)
    registry = Registry(root)

    say("exporting the agents' corrections")
    test_texts = _test_texts(test_file)
    try:
        with factory() as session:
            corrections = correction_rows(session, test_texts)
    except SQLAlchemyError as error:
        raise UserError(
            f"cannot read the agents' corrections from the database ({type(error).__name__}); "
            "is CIVICDESK_DATABASE_URL right, and has `civicdesk db upgrade` run?"
        ) from None
    exported = _jsonl(corrections)
    hashes = [file_sha256(p) for p in shipped] + ([hashlib.sha256(exported).hexdigest()] if corrections else [])
    version_id, path = registry.new_version_dir(combined_sha256(hashes))
    try:
        data = list(shipped)
        if corrections:
            (path / CORRECTIONS_FILE).write_bytes(exported)
            data.append(path / CORRECTIONS_FILE)
        say(f"training version {version_id} on {len(shipped)} shipped files and {len(corrections)} corrections")
        result = train(data, path)
        say(f"scoring version {version_id} on {test_file.name}")
        candidate_metrics = evaluate(load_model(path), test_file)
        registry.save_evaluation(path, test_file, test_sha, candidate_metrics)
        active = registry.active()
        active_metrics = None
        if active is not None:
            active_metrics = active.evaluated_on(test_sha)
            if active_metrics is None:  # scored on another test file, or never: score it now, on the same one
                say(f"scoring the active version {active.id} on {test_file.name}")
                active_metrics = evaluate(load_model(active.path), test_file)
                registry.save_evaluation(active.path, test_file, test_sha, active_metrics)
    except BaseException:
        registry.discard(path)
        raise
    decision = promotion_decision(active_metrics, candidate_metrics)
    registry.save_run(
        path,
        {
            "started_by": actor,
            "corrections": len(corrections),
            "test_file": str(test_file),
            "active_before": active.id if active else None,
            "promoted": decision.promote,
            "reasons": list(decision.reasons),
        },
    )
    if decision.promote:
        registry.activate(version_id, by=actor)
    return RetrainOutcome(
        version=version_id,
        promoted=decision.promote,
        reasons=decision.reasons,
        active_before=active.id if active else None,
        active_after=registry.active_id(),
        corrections=len(corrections),
        rows=max(result.rows.values()),
        seconds=round(time.perf_counter() - started, 1),
        candidate=asdict(Scores.of(candidate_metrics)),
        active=asdict(Scores.of(active_metrics)) if active_metrics is not None else None,
    )
