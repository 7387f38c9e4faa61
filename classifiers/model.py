"""Triage models: one calibrated linear classifier per head, an operating point per head, two emergency tiers.

Training, for each head found in the data (service_code, kind, urgency):
1. Features: word 1-2-gram TF-IDF + char_wb 2-5-gram TF-IDF, fitted once and shared by every head (the
   FeatureUnion is the costly part of both training and prediction; each head's Pipeline is that
   FeatureUnion followed by the head's classifier).
2. Held-out scores stand in for a validation set: 5-fold cross-validation on the training data, or one
   stratified 80/20 split from 5,000 rows on (enough held-out rows, and half the fits). They calibrate the
   probabilities (temperature scaling: one number per head, fitted to minimise the log-loss of the held-out
   scores) and choose the operating point: per head one confidence threshold, the lowest at which the held-out
   predictions answered automatically (confidence at or above it) were right at the target accuracy (a cost
   choice of the trainers: default 0.95). A head that never gets there always asks a person. The held-out
   coverage/accuracy curve of every head is stored with the model (metrics.coverage_curve), so a centre can
   see what another target would buy.
3. The final classifier is fitted on all rows, and the temperature is folded into its coefficients, so what
   is saved is a plain LogisticRegression whose predict_proba is already calibrated.
4. The urgency head never asks a person; it decides by cost (DESIGN.md "Triage"), with three thresholds chosen
   on the same held-out rows, with the rule hits on them (UrgencyThresholds):
   - *emergency* (page the on-call contact): an emergency rule matched, or P(emergency) >= `page`, the lowest
     probability at which the held-out rows it adds to the rule hits were emergencies with precision >= 0.90;
   - *possible emergency* (top of the agents' queue, nobody paged): the argmax is emergency, or P(emergency) >=
     `possible`, the largest probability at which all the emergency paths together found >= 0.98 of the
     held-out emergencies;
   - otherwise urgent when the argmax is urgent or P(urgent) >= `urgent` (the more urgent plausible label: a
     department sees it with the urgent service level), chosen for 0.80 recall of the held-out urgent rows;
     else routine.
   bench/emergency_cv.py measures these choices by cross-validation.
"""

from __future__ import annotations

import math
import os
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from joblib import Parallel, delayed
from scipy.optimize import minimize_scalar
from scipy.sparse import csr_matrix
from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, StratifiedShuffleSplit
from sklearn.pipeline import FeatureUnion, Pipeline

from classifiers.data import LABEL_COLUMNS, Dataset, data_sha256, file_sha256, load_dataset
from classifiers.errors import DataError, ModelError
from classifiers.extract import Entity
from classifiers.metrics import EMERGENCY, PAGE, head_metrics
from classifiers.rules import EmergencyHit, RuleEngine, RuleResult, clip, default_engine
from classifiers.store import (
    FEATURES_FILE,
    FORMAT_VERSION,
    head_file,
    library_versions,
    load_trusted,
    read_meta,
    save_model_dir,
)

# Accuracy of what a head answers automatically, on held-out rows. 0.97 per class sent 95 % of real residents'
# reports to a person; 0.95 for the head as a whole is the cost the centre accepts for a wrong department.
DEFAULT_TARGET_ACCURACY = 0.95
# Emergencies (DESIGN.md "Triage"): the possible-emergency tier finds 98 of 100 (an agent's look at a false one
# is cheap); the on-call contact is paged only where at least 9 of 10 pages are real (a false page costs trust).
DEFAULT_POSSIBLE_RECALL = 0.98
DEFAULT_PAGING_PRECISION = 0.90
# Urgent: a routine report routed as urgent costs the department a tighter target; an urgent one routed as
# routine can wait days. Held-out urgent reports are caught at this rate (on the shipped emails, 2026-12-07:
# recall 0.63 by the argmax alone; 0.80 marks 14 % of routine reports urgent, 0.95 would mark 40 %).
DEFAULT_URGENT_RECALL = 0.80
MIN_PAGED = 5  # a paging threshold needs at least this many held-out pages of its own
POSSIBLE = "possible"  # the emergency tier that goes to the top of the agents' queue; PAGE notifies on call
URGENT = "urgent"
DEFAULT_MIN_ANSWERED = 10  # fewer validated answers than this is too little evidence for a threshold
RANDOM_STATE = 0
CV_FOLDS = 5
LARGE_DATA_ROWS = 5000  # from here one held-out split replaces cross-validation
VALIDATION_SHARE = 0.2
MIN_EXAMPLES_PER_LABEL = 2
HASH_FEATURES = 2**17  # per vectorizer
MIN_DF_ROWS = 200
SMALL_DATA_ROWS = 2000  # below this, worker processes cost more than they save


@dataclass(frozen=True)
class HeadPrediction:
    label: str
    confidence: float
    abstain: bool  # True: a human decides; `label` is only a suggestion
    reason: str
    source: str = "model"  # "model" or "rule"
    tier: str | None = None  # urgency emergencies only: PAGE (notify the on-call contact) or POSSIBLE (queue top)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "confidence": round(self.confidence, 4)}


@dataclass(frozen=True)
class Prediction:
    heads: dict[str, HeadPrediction]
    entities: list[Entity] = field(default_factory=list)
    emergencies: list[EmergencyHit] = field(default_factory=list)

    @property
    def needs_human(self) -> bool:
        """Some head abstained. The ingester weighs the heads by cost (email_ingest.process.routing_decision):
        an unsure kind whose argmax is a service request still routes."""
        return any(head.abstain for head in self.heads.values())

    @property
    def emergency_tier(self) -> str | None:
        """PAGE, POSSIBLE, or None when the message is no emergency."""
        urgency = self.heads.get("urgency")
        return urgency.tier if urgency is not None else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "heads": {name: head.to_dict() for name, head in self.heads.items()},
            "emergency_tier": self.emergency_tier,
            "entities": [entity.to_dict() for entity in self.entities],
            "emergencies": [hit.to_dict() for hit in self.emergencies],
            "needs_human": self.needs_human,
        }


@dataclass(frozen=True)
class TrainResult:
    model_dir: Path
    heads: list[str]
    rows: dict[str, int]
    seconds: float
    metrics: dict[str, dict[str, Any]]
    thresholds: dict[str, float | None]


def build_features() -> FeatureUnion:
    """Word 1-2-gram and char_wb 2-5-gram TF-IDF.

    The n-grams are hashed rather than kept in a vocabulary: skops needed 520 s to write the 170,000-entry
    vocabularies of 20,000 emails (hashing: milliseconds), and hashing is stateless and faster to apply.
    With 2**17 buckets per vectorizer the collisions cost nothing measurable (5-fold macro-F1 on the email
    data: service_code 0.690 hashed, 0.691 with a vocabulary); more buckets made training 2-3 times slower.
    """

    def tfidf(**ngrams: Any) -> Pipeline:
        hashing = HashingVectorizer(
            n_features=HASH_FEATURES,
            alternate_sign=False,
            norm=None,
            strip_accents="unicode",
            dtype=np.float32,
            **ngrams,
        )
        return Pipeline([("hash", hashing), ("tfidf", TfidfTransformer(sublinear_tf=True))])

    return FeatureUnion([("word", tfidf(ngram_range=(1, 2))), ("char", tfidf(analyzer="char_wb", ngram_range=(2, 5)))])


def build_classifier(random_state: int = RANDOM_STATE) -> LogisticRegression:
    # newton-cg: same scores as lbfgs on our data, 5-7 times faster with hundreds of thousands of features.
    # tol stays at scikit-learn's 1e-4: at 1e-3 the solver stopped after a few Newton steps on CLINC150
    # (15,000 rows, 150 classes) far from the optimum, and validation accuracy fell from 0.926 to 0.890
    # (fitted temperature 1.0 instead of 0.57, the sign of an under-fitted model), below a plain baseline.
    # Balanced class weights keep rare classes such as emergencies from being drowned by routine mail.
    return LogisticRegression(
        C=10.0, class_weight="balanced", solver="newton-cg", tol=1e-4, max_iter=1000, random_state=random_state
    )


def logits(classifier: LogisticRegression, matrix: csr_matrix) -> np.ndarray:
    """Scores whose softmax is predict_proba, also for two classes (where sklearn returns one column)."""
    scores = classifier.decision_function(matrix)
    if scores.ndim == 1:
        scores = np.column_stack([np.zeros_like(scores), scores])
    return np.asarray(scores, dtype=np.float64)


def softmax(scores: np.ndarray) -> np.ndarray:
    shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def fit_temperature(scores: np.ndarray, truth_index: np.ndarray) -> float:
    """The temperature T minimising the log-loss of softmax(scores / T) on held-out rows."""

    def log_loss(log_t: float) -> float:
        scaled = scores / math.exp(log_t)
        scaled = scaled - scaled.max(axis=1, keepdims=True)
        log_proba = scaled - np.log(np.exp(scaled).sum(axis=1, keepdims=True))
        return float(-log_proba[np.arange(len(truth_index)), truth_index].mean())

    result = minimize_scalar(log_loss, bounds=(math.log(0.05), math.log(20.0)), method="bounded")
    return math.exp(float(result.x))


def apply_temperature(classifier: LogisticRegression, temperature: float) -> LogisticRegression:
    """softmax(z / T) is the softmax of a model with coefficients and intercepts divided by T."""
    classifier.coef_ = classifier.coef_ / temperature
    classifier.intercept_ = classifier.intercept_ / temperature
    return classifier


def _descending(score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row order by score, highest first, and where a threshold may sit in that order: between distinct scores
    (ties are answered or flagged together, or not at all)."""
    order = np.argsort(-score, kind="stable")
    ranked = score[order]
    boundary = np.append(ranked[1:] < ranked[:-1], True) if len(ranked) else np.zeros(0, dtype=bool)
    return order, boundary


def choose_threshold(
    correct: np.ndarray, confidence: np.ndarray, target_accuracy: float, min_answered: int
) -> float | None:
    """The lowest confidence at which the held-out predictions at or above it were right at `target_accuracy`
    (as many automatic answers as that accuracy allows); None when no such threshold exists."""
    confidence = np.asarray(confidence, dtype=float)
    order, boundary = _descending(confidence)
    answered = np.arange(1, len(order) + 1)
    accuracy = np.cumsum(np.asarray(correct, dtype=bool)[order]) / answered
    ok = np.flatnonzero(boundary & (accuracy >= target_accuracy) & (answered >= min_answered))
    return float(confidence[order][ok[-1]]) if ok.size else None


def threshold_for_recall(
    positive: np.ndarray, score: np.ndarray, already: np.ndarray, target_recall: float
) -> float | None:
    """The largest t such that the rows `already` flagged plus those with score >= t hold `target_recall` of the
    positives; None when there are no positives or the rows already flagged reach it."""
    truth, base = np.asarray(positive, dtype=bool), np.asarray(already, dtype=bool)
    if not truth.any() or (truth & base).sum() >= target_recall * truth.sum():
        return None
    rest = np.flatnonzero(~base)
    order, boundary = _descending(np.asarray(score, dtype=float)[rest])
    found = (truth & base).sum() + np.cumsum(truth[rest][order])
    reaching = np.flatnonzero(boundary & (found >= target_recall * truth.sum()))
    return float(np.asarray(score, dtype=float)[rest][order][reaching[0]])


def threshold_for_precision(
    positive: np.ndarray, score: np.ndarray, already: np.ndarray, min_precision: float, min_flagged: int
) -> float | None:
    """The lowest t such that the rows not `already` flagged with score >= t are positives with precision
    >= `min_precision` (at least `min_flagged` of them); None when no t does."""
    truth, base = np.asarray(positive, dtype=bool), np.asarray(already, dtype=bool)
    rest = np.flatnonzero(~base)
    order, boundary = _descending(np.asarray(score, dtype=float)[rest])
    flagged = np.arange(1, len(order) + 1)
    precision = np.cumsum(truth[rest][order]) / flagged
    ok = np.flatnonzero(boundary & (precision >= min_precision) & (flagged >= min_flagged))
    return float(np.asarray(score, dtype=float)[rest][order][ok[-1]]) if ok.size else None


@dataclass(frozen=True)
class UrgencyThresholds:
    """How the urgency head decides besides its argmax and the rules; None leaves that path out."""

    page: float | None = None  # P(emergency) at or above this pages the on-call contact
    possible: float | None = None  # P(emergency) at or above this is a possible emergency (queue top, no page)
    urgent: float | None = None  # P(urgent) at or above this makes a non-emergency urgent

    @classmethod
    def from_meta(cls, meta: Mapping[str, Any]) -> UrgencyThresholds:
        stored = meta.get("urgency_thresholds") or {}

        def value(name: str) -> float | None:
            return None if stored.get(name) is None else float(stored[name])

        return cls(value("page"), value("possible"), value("urgent"))


@dataclass(frozen=True)
class UrgencyTargets:
    possible_recall: float = DEFAULT_POSSIBLE_RECALL
    paging_precision: float = DEFAULT_PAGING_PRECISION
    urgent_recall: float = DEFAULT_URGENT_RECALL


def urgency_thresholds_for(
    truth: Sequence[str],
    classes: Sequence[str],
    proba: np.ndarray,
    emergencies: Sequence[Sequence[EmergencyHit]],
    targets: UrgencyTargets,
) -> UrgencyThresholds:
    """The urgency head's thresholds from held-out probabilities and the rule hits on the same rows."""
    labels, column = np.asarray(truth, dtype=object), {label: i for i, label in enumerate(classes)}
    argmax = proba.argmax(axis=1)
    ruled = np.array([bool(hits) for hits in emergencies], dtype=bool)
    page = possible = urgent = None
    flagged = ruled
    if EMERGENCY in column:
        p_emergency, is_emergency = proba[:, column[EMERGENCY]], labels == EMERGENCY
        page = threshold_for_precision(is_emergency, p_emergency, ruled, targets.paging_precision, MIN_PAGED)
        paged = ruled | (p_emergency >= page if page is not None else False)
        already = paged | (argmax == column[EMERGENCY])
        possible = threshold_for_recall(is_emergency, p_emergency, already, targets.possible_recall)
        flagged = already | (p_emergency >= possible if possible is not None else False)
    if URGENT in column:
        rest = ~flagged  # what is flagged as an emergency is not routed at all
        is_urgent = (labels[rest] == URGENT) | (labels[rest] == EMERGENCY)
        p_urgent = proba[rest, column[URGENT]]
        urgent = threshold_for_recall(is_urgent, p_urgent, argmax[rest] == column[URGENT], targets.urgent_recall)
    return UrgencyThresholds(page=page, possible=possible, urgent=urgent)


def decide(
    head: str,
    classes: Sequence[str],
    proba: np.ndarray,
    threshold: float | None,
    target_accuracy: float,
    emergencies: Sequence[EmergencyHit] = (),
    urgency_thresholds: UrgencyThresholds = UrgencyThresholds(),
) -> HeadPrediction:
    """The decision for one head of one message from its class probabilities."""
    if head == "urgency":
        return decide_urgency(classes, proba, emergencies, urgency_thresholds)
    best = int(proba.argmax())
    label, confidence = classes[best], float(proba[best])
    if threshold is None:
        reason = f"not answered automatically: validation did not show {target_accuracy:g} accuracy at any confidence"
        return HeadPrediction(label, confidence, True, reason)
    if confidence < threshold:
        reason = f"confidence {confidence:.2f} for {label} is below the threshold {threshold:.2f}"
        return HeadPrediction(label, confidence, True, reason)
    reason = f"confidence {confidence:.2f} for {label} meets the threshold {threshold:.2f}"
    return HeadPrediction(label, confidence, False, reason)


def decide_urgency(
    classes: Sequence[str], proba: np.ndarray, emergencies: Sequence[EmergencyHit], thresholds: UrgencyThresholds
) -> HeadPrediction:
    """The urgency of one message: never abstains; when unsure, the more urgent plausible label (module docstring)."""
    if emergencies:
        phrases = ", ".join(f"'{hit.text}' ({hit.rule})" for hit in emergencies[:3])
        return HeadPrediction(EMERGENCY, 1.0, False, f"emergency rule matched: {phrases}", source="rule", tier=PAGE)
    column = {label: i for i, label in enumerate(classes)}
    best = int(proba.argmax())
    label, confidence = classes[best], float(proba[best])
    if EMERGENCY in column:
        p_emergency = float(proba[column[EMERGENCY]])
        if thresholds.page is not None and p_emergency >= thresholds.page:
            reason = f"probability of an emergency {p_emergency:.2f} meets the paging threshold {thresholds.page:.2f}"
            return HeadPrediction(EMERGENCY, p_emergency, False, reason, tier=PAGE)
        if label == EMERGENCY or (thresholds.possible is not None and p_emergency >= thresholds.possible):
            why = (
                "the likeliest urgency"
                if label == EMERGENCY
                else f"at or above the possible-emergency threshold {thresholds.possible:.2f}; {label} was likelier"
            )
            reason = f"probability of an emergency {p_emergency:.2f} ({why}), below the paging threshold"
            return HeadPrediction(EMERGENCY, p_emergency, False, reason, tier=POSSIBLE)
    if label != URGENT and URGENT in column and thresholds.urgent is not None:
        p_urgent = float(proba[column[URGENT]])
        if p_urgent >= thresholds.urgent:
            reason = (
                f"{label} {confidence:.2f}, but urgent is plausible at {p_urgent:.2f} (threshold "
                f"{thresholds.urgent:.2f}): handled as urgent"
            )
            return HeadPrediction(URGENT, p_urgent, False, reason)
    return HeadPrediction(label, confidence, False, f"{label}, probability {confidence:.2f}")


class TriageModel:
    def __init__(
        self,
        features: FeatureUnion,
        classifiers: Mapping[str, LogisticRegression],
        meta: Mapping[str, Any],
        rules: RuleEngine | None = None,
    ) -> None:
        self.features = features
        self.classifiers = dict(classifiers)
        self.meta = dict(meta)
        self.rules = rules or default_engine()
        self._classes = {head: clf.classes_.tolist() for head, clf in self.classifiers.items()}
        self._urgency_thresholds = UrgencyThresholds.from_meta(self.meta)

    @property
    def heads(self) -> list[str]:
        return list(self.classifiers)

    @property
    def target_accuracy(self) -> float:
        return float(self.meta["target_accuracy"])

    def threshold(self, head: str) -> float | None:
        """The head's confidence threshold for answering automatically (None: it never does)."""
        value = self.meta["thresholds"][head]
        return None if value is None else float(value)

    @property
    def urgency_thresholds(self) -> UrgencyThresholds:
        return self._urgency_thresholds

    def pipeline(self, head: str) -> Pipeline:
        """The head as a scikit-learn Pipeline (shares the fitted features with the other heads)."""
        return Pipeline([("features", self.features), ("classifier", self.classifiers[head])])

    def probabilities(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """Class probabilities per head (columns in `classifiers[head].classes_` order)."""
        matrix = self.features.transform([clip(text) for text in texts])
        return {head: clf.predict_proba(matrix) for head, clf in self.classifiers.items()}

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        predictions, _ = self.predict_detailed(texts)
        return predictions

    def predict_detailed(self, texts: Sequence[str]) -> tuple[list[Prediction], dict[str, np.ndarray]]:
        """Predictions and the model probabilities behind them (evaluation needs both)."""
        if isinstance(texts, str):
            raise TypeError("predict() takes a list of texts, not one string")
        texts = list(texts)
        if not texts:
            return [], {head: np.zeros((0, len(c.classes_))) for head, c in self.classifiers.items()}
        probabilities = self.probabilities(texts)
        rule_results = self.rules.analyse(texts)
        predictions = [self._prediction(i, probabilities, rule_result) for i, rule_result in enumerate(rule_results)]
        return predictions, probabilities

    def _prediction(self, row: int, probabilities: dict[str, np.ndarray], rules: RuleResult) -> Prediction:
        heads = {
            head: decide(
                head,
                self._classes[head],
                probabilities[head][row],
                self.threshold(head),
                self.target_accuracy,
                rules.emergencies,
                self._urgency_thresholds,
            )
            for head in self.classifiers
        }
        return Prediction(heads=heads, entities=rules.entities, emergencies=rules.emergencies)


@dataclass(frozen=True)
class HeadPlan:
    head: str
    rows: list[int]  # indexes into the dataset of the rows labelled for this head
    labels: list[str]


@dataclass(frozen=True)
class HeadValidation:
    temperature: float
    threshold: float | None
    metrics: dict[str, Any]
    urgency_thresholds: UrgencyThresholds = UrgencyThresholds()


def train(
    data_paths: Sequence[Path],
    out_dir: Path,
    *,
    target_accuracy: float = DEFAULT_TARGET_ACCURACY,
    min_answered: int = DEFAULT_MIN_ANSWERED,
    random_state: int = RANDOM_STATE,
    n_jobs: int | None = None,
    urgency_targets: UrgencyTargets = UrgencyTargets(),
) -> TrainResult:
    """Train every head present in the data, choose thresholds, save to `out_dir`."""
    if not 0.5 <= target_accuracy < 1.0:
        raise ValueError("target accuracy must be at least 0.5 and below 1")
    targets = urgency_targets
    if not all(0.0 < value <= 1.0 for value in asdict(targets).values()):
        raise ValueError("the urgency targets (recalls, paging precision) must be in (0, 1]")
    started = time.perf_counter()
    dataset = load_dataset([Path(p) for p in data_paths])
    texts = [clip(text) for text in dataset.texts()]
    plans = [_head_plan(dataset, head) for head in dataset.heads]
    if n_jobs is None:
        n_jobs = 1 if len(texts) < SMALL_DATA_ROWS else min(os.cpu_count() or 1, 4)

    features = build_features()
    matrix = features.fit_transform(texts)
    classifiers, held_out = _fit_all(matrix, plans, random_state, n_jobs)
    validations = {
        plan.head: _validate(
            plan, classifiers[plan.head], *held_out[plan.head], texts, target_accuracy, min_answered, targets
        )
        for plan in plans
    }
    for head, validation in validations.items():
        apply_temperature(classifiers[head], validation.temperature)
    seconds = time.perf_counter() - started

    heads = [plan.head for plan in plans]
    thresholds = {head: v.threshold for head, v in validations.items()}
    metrics = {head: v.metrics for head, v in validations.items()}
    meta = {
        "format_version": FORMAT_VERSION,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "heads": heads,
        "labels": {head: classifiers[head].classes_.tolist() for head in heads},
        "thresholds": thresholds,
        "urgency_thresholds": {
            **asdict(validations["urgency"].urgency_thresholds if "urgency" in validations else UrgencyThresholds()),
            "targets": asdict(targets),
        },
        "temperatures": {head: round(v.temperature, 4) for head, v in validations.items()},
        "target_accuracy": target_accuracy,
        "min_answered": min_answered,
        "random_state": random_state,
        "data": {
            "sha256": dataset.sha256,
            "files": [asdict(f) for f in dataset.files],
            "rows": len(texts),
            "rows_per_head": {plan.head: len(plan.rows) for plan in plans},
            "label_counts": {plan.head: dict(sorted(Counter(plan.labels).items())) for plan in plans},
        },
        "versions": library_versions(),
        "validation": {plan.head: validation_splits(plan.labels, random_state)[0] for plan in plans},
        "metrics": metrics,
        "training_seconds": round(seconds, 2),
    }
    save_model_dir(out_dir, features, classifiers, meta)
    return TrainResult(
        model_dir=out_dir,
        heads=heads,
        rows={plan.head: len(plan.rows) for plan in plans},
        seconds=seconds,
        metrics=metrics,
        thresholds=thresholds,
    )


def _fit_all(
    matrix: csr_matrix, plans: Sequence[HeadPlan], random_state: int, n_jobs: int
) -> tuple[dict[str, LogisticRegression], dict[str, tuple[np.ndarray, np.ndarray]]]:
    """Final classifiers, and per head the held-out row positions with their validation scores.

    Every validation fit and every final fit of every head is an independent job; the biggest go first so
    that the workers finish together.
    """
    jobs: list[tuple[str, np.ndarray | None, Any, int]] = []
    for plan in plans:
        head_matrix = matrix if len(plan.rows) == matrix.shape[0] else matrix[plan.rows]
        n_classes = len(set(plan.labels))
        for fit_rows, validation_rows in validation_splits(plan.labels, random_state)[1]:
            job = delayed(_fit)(head_matrix, plan.labels, fit_rows, validation_rows, random_state)
            jobs.append((plan.head, validation_rows, job, n_classes * len(fit_rows)))
        job = delayed(_fit)(head_matrix, plan.labels, None, None, random_state)
        jobs.append((plan.head, None, job, n_classes * len(plan.rows)))
    jobs.sort(key=lambda job: -job[3])
    outputs = Parallel(n_jobs=n_jobs)(job for _, _, job, _ in jobs)

    classifiers: dict[str, LogisticRegression] = {}
    parts: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {plan.head: [] for plan in plans}
    for (head, held_out_rows, _, _), output in zip(jobs, outputs, strict=True):
        if held_out_rows is None:
            classifiers[head] = output
        else:
            parts[head].append((held_out_rows, output))
    held_out = {
        head: (np.concatenate([rows for rows, _ in pieces]), np.vstack([scores for _, scores in pieces]))
        for head, pieces in parts.items()
    }
    return classifiers, held_out


def _validate(
    plan: HeadPlan,
    classifier: LogisticRegression,
    positions: np.ndarray,
    scores: np.ndarray,
    texts: Sequence[str],
    target_accuracy: float,
    min_answered: int,
    urgency_targets: UrgencyTargets,
) -> HeadValidation:
    """Temperature, thresholds and metrics of one head from its held-out scores."""
    classes = classifier.classes_.tolist()
    truth = [plan.labels[i] for i in positions]
    index_of = {label: i for i, label in enumerate(classes)}
    temperature = fit_temperature(scores, np.array([index_of[label] for label in truth]))
    proba = softmax(scores / temperature)
    model_pred = np.asarray(classes, dtype=object)[proba.argmax(axis=1)]
    threshold = choose_threshold(model_pred == np.asarray(truth, dtype=object), proba.max(axis=1), target_accuracy,
                                 min_answered)  # fmt: skip
    if plan.head == "urgency":  # validation decisions include the rule layer, as predictions do
        held_out_texts = [texts[plan.rows[i]] for i in positions]
        emergencies = [result.emergencies for result in default_engine().analyse(held_out_texts)]
        urgency_thresholds = urgency_thresholds_for(truth, classes, proba, emergencies, urgency_targets)
    else:
        emergencies = [[] for _ in positions]
        urgency_thresholds = UrgencyThresholds()
    decisions = [
        decide(plan.head, classes, proba[i], threshold, target_accuracy, emergencies[i], urgency_thresholds)
        for i in range(len(truth))
    ]
    metrics = head_metrics(
        plan.head,
        truth,
        [d.label for d in decisions],
        [d.abstain for d in decisions],
        model_pred.tolist(),
        proba.max(axis=1).tolist(),
        [d.source == "rule" for d in decisions],
        [d.tier for d in decisions],
    )
    return HeadValidation(temperature, threshold, metrics, urgency_thresholds)


def validation_splits(labels: Sequence[str], random_state: int) -> tuple[str, list[tuple[np.ndarray, np.ndarray]]]:
    """How the head is validated, and its (fit rows, held-out rows) pairs.

    k-fold on small data, so every row is held out once and the thresholds rest on as many predictions as
    possible; one stratified 80/20 split on large data, where that is plenty and each extra fit costs a
    large share of the training time budget. A label with fewer than 5 examples needs k-fold with fewer
    folds, so that every fit still sees every label.
    """
    dummy = np.zeros(len(labels))
    rarest = min(Counter(labels).values())
    if len(labels) >= LARGE_DATA_ROWS and rarest >= CV_FOLDS:
        split = StratifiedShuffleSplit(n_splits=1, test_size=VALIDATION_SHARE, random_state=random_state)
        return f"stratified {VALIDATION_SHARE:.0%} held-out split", list(split.split(dummy, labels))
    n_splits = min(CV_FOLDS, rarest)
    folds = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=random_state)
    return f"stratified {n_splits}-fold cross-validation", list(folds.split(dummy, labels))


def _head_plan(dataset: Dataset, head: str) -> HeadPlan:
    rows, labels = dataset.labelled(head)
    counts = Counter(labels)
    if len(counts) < 2:
        raise DataError(f"`{head}` has only one label ({next(iter(counts))}); a classifier needs at least two")
    rare = sorted(label for label, count in counts.items() if count < MIN_EXAMPLES_PER_LABEL)
    if rare:
        raise DataError(
            f"`{head}` labels with fewer than {MIN_EXAMPLES_PER_LABEL} examples: {', '.join(rare)}; "
            "add examples or remove the label"
        )
    return HeadPlan(head, rows, labels)


def _fit(
    matrix: csr_matrix,
    labels: Sequence[str],
    fit_rows: np.ndarray | None,
    held_out: np.ndarray | None,
    random_state: int,
) -> Any:
    """Fit on `fit_rows` and return held-out scores, or fit on everything and return the model.

    Only the columns that occur in at least `min_df` of the fitted rows are given to the solver. An
    all-zero column would get a zero coefficient anyway (L2 regularisation); dropping n-grams seen once is
    what min_df=2 does for a vocabulary (one-off names and typos), and it measured slightly better for
    urgency. With 2 x 2**17 hashed columns of which a small data set uses a few percent, the solver is
    also many times faster.
    """
    y = np.asarray(labels, dtype=object)
    fit_matrix = matrix if fit_rows is None else matrix[fit_rows]
    min_df = 2 if fit_matrix.shape[0] >= MIN_DF_ROWS else 1  # a few dozen rows need every n-gram they have
    active = np.flatnonzero(np.bincount(fit_matrix.indices, minlength=matrix.shape[1]) >= min_df)
    classifier = build_classifier(random_state).fit(fit_matrix[:, active], y if fit_rows is None else y[fit_rows])
    if held_out is not None:
        return logits(classifier, matrix[held_out][:, active])
    coef = np.zeros((classifier.coef_.shape[0], matrix.shape[1]), dtype=classifier.coef_.dtype)
    coef[:, active] = classifier.coef_
    classifier.coef_ = coef
    classifier.n_features_in_ = matrix.shape[1]
    return classifier


def load_model(model_dir: Path) -> TriageModel:
    model_dir = Path(model_dir)
    meta = read_meta(model_dir)
    heads = meta.get("heads")
    if not isinstance(heads, list) or not heads or not set(heads) <= set(LABEL_COLUMNS):
        raise ModelError(f"{model_dir}/model.json: `heads` must list some of {', '.join(LABEL_COLUMNS)}")
    features = load_trusted(model_dir / FEATURES_FILE, FeatureUnion)
    classifiers = {}
    for head in heads:
        classifier = load_trusted(model_dir / head_file(head), LogisticRegression)
        if classifier.classes_.tolist() != meta["labels"][head]:
            raise ModelError(f"{model_dir / head_file(head)}: labels do not match model.json")
        # predict_proba computes X @ coef_.T; with coef_ in Fortran order that transpose is C-contiguous, so
        # scipy does not copy the (classes x 262,144) matrix on every call: 25 ms -> 4 ms for one email.
        classifier.coef_ = np.asfortranarray(classifier.coef_)
        classifiers[head] = classifier
    return TriageModel(features, classifiers, meta)


def is_stale(data_paths: Sequence[Path], model_dir: Path, *, more_data_ok: bool = False) -> bool:
    """True when there is no usable model, or the data or library versions changed since training.

    With `more_data_ok`, a model trained on these files and others besides (a retrain that added the agents'
    corrections) is not stale as long as each of these files is unchanged.
    """
    model_dir = Path(model_dir)
    try:
        meta = read_meta(model_dir)
    except ModelError:
        return True
    files = [model_dir / FEATURES_FILE, *(model_dir / head_file(h) for h in meta.get("heads", []))]
    if not all(path.is_file() for path in files):
        return True
    try:
        if more_data_ok:
            trained_on = {file["sha256"] for file in meta["data"]["files"]}
            if any(file_sha256(Path(p)) not in trained_on for p in data_paths):
                return True
        elif data_sha256([Path(p) for p in data_paths]) != meta["data"]["sha256"]:
            return True
    except (OSError, KeyError, TypeError):
        return True
    return _versions_differ(meta.get("versions", {}), library_versions())


def _versions_differ(recorded: Mapping[str, str], current: Mapping[str, str]) -> bool:
    for name, value in current.items():
        old = recorded.get(name)
        if name == "python":  # a patch release of Python does not change what the models compute
            if old is None or old.split(".")[:2] != value.split(".")[:2]:
                return True
        elif old != value:
            return True
    return False
