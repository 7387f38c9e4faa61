"""Versions of the triage model kept side by side, which one is active, and when a new one may replace it.

Layout of the triage models folder (`<CIVICDESK_MODELS_DIR>/triage`):

    versions/2026-11-23T161005-3fa9c1/  model.json + *.skops (store.py), and beside them
        corrections.jsonl   the agents' corrections it was trained on (with the shipped files, reproducible)
        evaluation.json     its scores on the held-out test set
        retrain.json        who started the retrain, and the promotion decision with its reasons
    active.json             {"version": ..., "since": ..., "by": ...}

Version ids sort by creation time: UTC date and time, then the first 6 hex digits of the training data's hash.
A version is complete once its model.json exists (save_model_dir writes it last); a folder without one is a
retrain that failed or is still running, and is not listed. Promotion and rollback are one operation: make an
existing version active by writing active.json whole (a temporary file, then os.replace), so a reader such as
the ingester sees the old version or the new one, never a mix of both.
"""

from __future__ import annotations

import fcntl
import json
import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from classifiers.errors import ModelError
from classifiers.store import META_FILE, atomic_write

VERSIONS_DIR = "versions"
ACTIVE_FILE = "active.json"
EVALUATION_FILE = "evaluation.json"
CORRECTIONS_FILE = "corrections.jsonl"
RUN_FILE = "retrain.json"
LOCK_FILE = ".training.lock"
STAMP_FORMAT = "%Y-%m-%dT%H%M%S"
STAMP_LENGTH = len("2026-11-23T161005")

# The promotion rule (issue 7, issue 14). Service codes route the mail, so a new model may not route worse than the
# one it replaces by more than noise; a missed emergency is the costliest mistake there is, so the recall of both
# emergency tiers together has a floor; a false page costs the on-call's trust, so paging precision has one too.
MAX_MACRO_F1_DROP = 0.01
MIN_EMERGENCY_RECALL = 0.98
MIN_PAGING_PRECISION = 0.90


class UnknownVersion(ModelError):
    """A version id that is not in the registry."""


class RegistryBusy(ModelError):
    """Another process is training a version into this registry."""


@dataclass(frozen=True)
class Scores:
    """The figures the promotion rule and the version list look at, from `evaluate()`'s metrics."""

    service_code_macro_f1: float | None
    kind_macro_f1: float | None
    urgency_macro_f1: float | None
    emergency_recall: float | None  # both tiers: paged or at the top of the agents' queue
    paging_precision: float | None = None

    @classmethod
    def of(cls, metrics: Mapping[str, Mapping[str, Any]] | None) -> Scores:
        metrics = metrics or {}

        def value(head: str, key: str) -> float | None:
            found = metrics.get(head, {}).get(key)
            return None if found is None else float(found)

        return cls(
            value("service_code", "macro_f1"),
            value("kind", "macro_f1"),
            value("urgency", "macro_f1"),
            value("urgency", "emergency_recall"),
            value("urgency", "paging_precision"),
        )


@dataclass(frozen=True)
class Decision:
    promote: bool
    reasons: tuple[str, ...]  # why it was refused; when promoted, anything a trainer should still know


def _figure(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def promotion_decision(
    active_metrics: Mapping[str, Mapping[str, Any]] | None, candidate_metrics: Mapping[str, Mapping[str, Any]]
) -> Decision:
    """Whether a newly trained model may replace the active one, from both models' scores on the same test set.

    Promote when service_code macro-F1 drops by at most MAX_MACRO_F1_DROP against the active version, the emergency
    recall of both tiers is at least MIN_EMERGENCY_RECALL and the precision of what pages the on-call contact is
    at least MIN_PAGING_PRECISION (a model that pages nobody on the test set has no paging precision and passes
    that check: only rules would page). With no active version (`None`), the first model is promoted whatever its
    scores, since something must triage the mail; a shortfall is reported.
    """
    candidate = Scores.of(candidate_metrics)
    # (what falls short, the field to compare with the active version)
    short: list[tuple[str, str]] = []
    if candidate.emergency_recall is None or candidate.emergency_recall < MIN_EMERGENCY_RECALL:
        text = f"urgency emergency recall {_figure(candidate.emergency_recall)} is below the target"
        short.append((f"{text} {MIN_EMERGENCY_RECALL:.2f}", "emergency_recall"))
    if candidate.paging_precision is not None and candidate.paging_precision < MIN_PAGING_PRECISION:
        text = f"paging precision {_figure(candidate.paging_precision)} is below the target"
        short.append((f"{text} {MIN_PAGING_PRECISION:.2f}", "paging_precision"))
    if active_metrics is None:
        return Decision(True, tuple(f"first version; {text}" for text, _ in short))
    active = Scores.of(active_metrics)
    reasons: list[str] = []
    if candidate.service_code_macro_f1 is None:
        reasons.append("the new model has no service_code scores on the test set")
    elif active.service_code_macro_f1 is not None:
        # scores carry 4 decimals: round the difference so that exactly -0.01 is not refused for a float's noise
        change = round(candidate.service_code_macro_f1 - active.service_code_macro_f1, 6)
        if change < -MAX_MACRO_F1_DROP:
            reasons.append(
                f"service_code macro-F1 {_figure(candidate.service_code_macro_f1)} against "
                f"{_figure(active.service_code_macro_f1)} for the active version ({change:+.4f}; "
                f"at most -{MAX_MACRO_F1_DROP:.2f} is allowed)"
            )
    reasons += [f"{text} (active version: {_figure(getattr(active, field))})" for text, field in short]
    return Decision(not reasons, tuple(reasons))


@dataclass(frozen=True)
class Version:
    id: str
    path: Path
    meta: dict[str, Any]  # model.json
    evaluation: dict[str, Any] | None  # evaluation.json: test file, its hash, metrics
    run: dict[str, Any] | None  # retrain.json

    @property
    def created_at(self) -> str:
        return str(self.meta.get("created_at", ""))

    @property
    def rows(self) -> int:
        return int(self.meta.get("data", {}).get("rows", 0))

    @property
    def corrections(self) -> int:
        return int((self.run or {}).get("corrections", 0))

    @property
    def test_metrics(self) -> dict[str, Any] | None:
        return self.evaluation.get("metrics") if self.evaluation else None

    @property
    def scores(self) -> Scores:
        return Scores.of(self.test_metrics)

    def evaluated_on(self, test_sha256: str) -> dict[str, Any] | None:
        """Test metrics if this version was scored on exactly this test file, else None."""
        if self.evaluation and self.evaluation.get("sha256") == test_sha256:
            metrics: dict[str, Any] = self.evaluation["metrics"]
            return metrics
        return None


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(value, dict):
        raise ModelError(f"{path}: expected a JSON object")
    return value


def _write_json(path: Path, value: Mapping[str, Any]) -> None:
    atomic_write(path, json.dumps(value, indent=2, sort_keys=True).encode() + b"\n")


class Registry:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @property
    def versions_dir(self) -> Path:
        return self.root / VERSIONS_DIR

    def new_version_dir(self, data_sha256: str, now: datetime | None = None) -> tuple[str, Path]:
        """A new, empty folder for a version trained now on data with this hash.

        Ids must sort in creation order, also for two retrains within one second (the hash would decide their
        order), so a new id's time is at least one second after the newest existing one's.
        """
        moment = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
        self.versions_dir.mkdir(parents=True, exist_ok=True)
        existing = sorted(p.name for p in self.versions_dir.iterdir() if p.is_dir())
        if existing:
            try:
                newest = datetime.strptime(existing[-1][:STAMP_LENGTH], STAMP_FORMAT).replace(tzinfo=UTC)
            except ValueError:  # a folder someone else put here
                newest = moment
            moment = max(moment, newest + timedelta(seconds=1))
        for _ in range(100):
            version_id = f"{moment.strftime(STAMP_FORMAT)}-{data_sha256[:6]}"
            path = self.versions_dir / version_id
            try:
                path.mkdir()
            except FileExistsError:  # another process took this second
                moment += timedelta(seconds=1)
                continue
            return version_id, path
        raise ModelError(f"{self.versions_dir}: cannot find a free folder name for a new version")

    @contextmanager
    def training(self) -> Iterator[None]:
        """Held while a version is trained (by `civicdesk train` or a retrain): one at a time per registry, the
        second is refused, not queued. Folders that an interrupted training left unfinished are removed here."""
        self.root.mkdir(parents=True, exist_ok=True)
        with (self.root / LOCK_FILE).open("a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise RegistryBusy("a triage model is already being trained; wait for it to finish") from None
            try:
                if self.versions_dir.is_dir():
                    for folder in self.versions_dir.iterdir():
                        if folder.is_dir() and not (folder / META_FILE).exists():
                            self.discard(folder)
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def training_now(self) -> bool:
        """Whether some process holds the training lock (one that crashed holds nothing)."""
        path = self.root / LOCK_FILE
        if not path.exists():
            return False
        with path.open("a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(handle, fcntl.LOCK_UN)
            return False

    def discard(self, path: Path) -> None:
        """Remove an unfinished version's folder (training or evaluation failed)."""
        if path.parent == self.versions_dir:
            shutil.rmtree(path, ignore_errors=True)

    def _load(self, path: Path) -> Version:
        meta = _read_json(path / META_FILE)
        if meta is None:
            raise UnknownVersion(f"{path.name}: not a finished version (no {META_FILE})")
        return Version(path.name, path, meta, _read_json(path / EVALUATION_FILE), _read_json(path / RUN_FILE))

    def versions(self) -> list[Version]:
        """Every finished version, oldest first."""
        if not self.versions_dir.is_dir():
            return []
        folders = sorted(p for p in self.versions_dir.iterdir() if p.is_dir() and (p / META_FILE).is_file())
        return [self._load(folder) for folder in folders]

    def get(self, version_id: str) -> Version:
        known = {version.id: version for version in self.versions()}
        if version_id not in known:
            listing = ", ".join(known) if known else "none yet"
            raise UnknownVersion(f"no triage model version {version_id!r}; known versions: {listing}")
        return known[version_id]

    def active_id(self) -> str | None:
        pointer = _read_json(self.root / ACTIVE_FILE)
        return str(pointer["version"]) if pointer and pointer.get("version") else None

    def active_record(self) -> dict[str, Any] | None:
        """active.json: the version, since when, and who made it active."""
        return _read_json(self.root / ACTIVE_FILE)

    def active(self) -> Version | None:
        version_id = self.active_id()
        return self.get(version_id) if version_id else None

    def active_dir(self) -> Path | None:
        """The active version's model folder, without reading the model (what a loader needs)."""
        version_id = self.active_id()
        return self.versions_dir / version_id if version_id else None

    def activate(self, version_id: str, by: str) -> Version:
        """Make a finished version the active one (a promotion or a rollback)."""
        version = self.get(version_id)
        try:
            previous = self.active_id()
        except ModelError:  # a damaged pointer is what a rollback may be repairing
            previous = None
        _write_json(
            self.root / ACTIVE_FILE,
            {
                "version": version.id,
                "since": datetime.now(UTC).isoformat(timespec="seconds"),
                "by": by,
                "previous": previous,
            },
        )
        return version

    def save_evaluation(self, path: Path, test_file: Path, test_sha256: str, metrics: Mapping[str, Any]) -> None:
        _write_json(path / EVALUATION_FILE, {"test_file": str(test_file), "sha256": test_sha256, "metrics": metrics})

    def save_run(self, path: Path, run: Mapping[str, Any]) -> None:
        _write_json(path / RUN_FILE, run)
