"""Triage models: one calibrated linear classifier per head, per-class thresholds, the emergency rule layer.

Training, for each head found in the data (service_code, kind, urgency):
1. Features: word 1-2-gram TF-IDF + char_wb 2-5-gram TF-IDF, fitted once and shared by every head (the
   FeatureUnion is the costly part of both training and prediction; each head's Pipeline is that
   FeatureUnion followed by the head's classifier).
2. Held-out scores stand in for a validation set: 5-fold cross-validation on the training data, or one
   stratified 80/20 split from 5,000 rows on (enough held-out rows, and half the fits). They calibrate the
   probabilities (temperature scaling: one number per head, fitted to minimise the log-loss of the held-out
   scores) and choose the thresholds: per class, the lowest confidence at which the predictions answered
   automatically were right at the target precision (default 0.97); a class that never gets there always
   goes to a human.
3. The final classifier is fitted on all rows, and the temperature is folded into its coefficients, so what
   is saved is a plain LogisticRegression whose predict_proba is already calibrated.
4. Emergencies: an emergency threshold t_e for the urgency head, from its held-out probabilities and the rule
   hits on the same rows: the largest P(emergency) at which flagging every held-out row at or above it (on top
   of the argmax and the rules) found the target share of the emergencies (default 0.99) with precision at the
   floor (default 0.80). bench/emergency_cv.py measures this choice by cross-validation.
At prediction the urgency is an emergency when the argmax says so, when P(emergency) >= t_e, or when an
emergency rule matched (the rules are OR-ed: a phrase such as "smell of gas" in an otherwise routine message
still raises an emergency).
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
from classifiers.metrics import EMERGENCY, head_metrics
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

DEFAULT_TARGET_PRECISION = 0.97
# Emergencies: find 99 of 100 in validation, while at least 4 of 5 flagged messages are real emergencies
# (a false alarm costs an agent a look; a missed one can cost far more).
DEFAULT_EMERGENCY_RECALL = 0.99
DEFAULT_EMERGENCY_PRECISION = 0.80
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

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "confidence": round(self.confidence, 4)}


@dataclass(frozen=True)
class Prediction:
    heads: dict[str, HeadPrediction]
    entities: list[Entity] = field(default_factory=list)
    emergencies: list[EmergencyHit] = field(default_factory=list)

    @property
    def needs_human(self) -> bool:
        return any(head.abstain for head in self.heads.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "heads": {name: head.to_dict() for name, head in self.heads.items()},
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
    thresholds: dict[str, dict[str, float | None]]


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


def choose_thresholds(
    y_true: Sequence[str],
    classes: Sequence[str],
    proba: np.ndarray,
    target_precision: float,
    min_answered: int,
) -> dict[str, float | None]:
    """Per predicted class, the lowest confidence at which answering everything at or above it was right
    at `target_precision` on held-out predictions; None when no such threshold exists."""
    truth = np.asarray(y_true, dtype=object)
    labels = np.asarray(classes, dtype=object)
    predicted = labels[proba.argmax(axis=1)]
    confidence = proba.max(axis=1)
    thresholds: dict[str, float | None] = {}
    for label in classes:
        mine = predicted == label
        order = np.argsort(-confidence[mine], kind="stable")
        conf = confidence[mine][order]
        correct = (truth[mine] == label)[order]
        answered = np.arange(1, len(conf) + 1)
        precision = np.cumsum(correct) / answered
        # a threshold sits between distinct confidences: ties are answered together or not at all
        boundary = np.append(conf[1:] < conf[:-1], True) if len(conf) else np.zeros(0, dtype=bool)
        ok = boundary & (precision >= target_precision) & (answered >= min_answered)
        thresholds[label] = float(conf[np.flatnonzero(ok)[-1]]) if ok.any() else None
    return thresholds


@dataclass(frozen=True)
class EmergencyThresholds:
    """How the urgency head raises emergencies besides its argmax and the rules; None leaves that path out."""

    model: float | None = None  # t_e: P(emergency) at or above this is an emergency

    @classmethod
    def from_meta(cls, meta: Mapping[str, Any]) -> EmergencyThresholds:
        model = (meta.get("emergency_thresholds") or {}).get("model")
        return cls(None if model is None else float(model))


def choose_emergency_threshold(
    is_emergency: np.ndarray,
    p_emergency: np.ndarray,
    already_flagged: np.ndarray,
    target_recall: float,
    min_precision: float,
) -> float | None:
    """The largest t such that flagging the held-out rows with P(emergency) >= t, on top of those
    `already_flagged` (rule hits, emergency argmax), finds `target_recall` of the emergencies with precision at
    least `min_precision`. If no t reaches the recall at that precision, the t that finds the most emergencies
    at that precision; None when no t adds an emergency at that precision (argmax and rules decide alone)."""
    truth = np.asarray(is_emergency, dtype=bool)
    if not truth.any():
        return None
    base = np.asarray(already_flagged, dtype=bool)
    rest = np.flatnonzero(~base)
    order = rest[np.argsort(-np.asarray(p_emergency, dtype=float)[rest], kind="stable")]
    conf = np.asarray(p_emergency, dtype=float)[order]
    found = int((truth & base).sum()) + np.cumsum(truth[order])
    flagged = int(base.sum()) + np.arange(1, len(order) + 1)
    recall = found / truth.sum()
    precision = found / flagged
    # a threshold sits between distinct probabilities: ties are flagged together or not at all
    boundary = np.append(conf[1:] < conf[:-1], True) if len(conf) else np.zeros(0, dtype=bool)
    adds = found > (truth & base).sum()
    ok = boundary & adds & (precision >= min_precision)
    if not ok.any():
        return None
    reaching = np.flatnonzero(ok & (recall >= target_recall))
    if reaching.size:
        return float(conf[reaching[0]])
    best = np.flatnonzero(ok)
    return float(conf[best[np.argmax(recall[best])]])


def decide(
    head: str,
    classes: Sequence[str],
    proba: np.ndarray,
    thresholds: Mapping[str, float | None],
    target_precision: float,
    emergencies: Sequence[EmergencyHit] = (),
    emergency_thresholds: EmergencyThresholds = EmergencyThresholds(),
) -> HeadPrediction:
    """The decision for one head of one message from its class probabilities."""
    if head == "urgency" and emergencies:
        phrases = ", ".join(f"'{hit.text}' ({hit.rule})" for hit in emergencies[:3])
        return HeadPrediction(EMERGENCY, 1.0, False, f"emergency rule matched: {phrases}", source="rule")
    best = int(proba.argmax())
    label, confidence = classes[best], float(proba[best])
    t_e = emergency_thresholds.model
    if head == "urgency" and t_e is not None and label != EMERGENCY and EMERGENCY in classes:
        p_emergency = float(proba[list(classes).index(EMERGENCY)])
        if p_emergency >= t_e:
            reason = (
                f"probability of an emergency {p_emergency:.2f} meets the emergency threshold {t_e:.2f} "
                f"({label} was likelier at {confidence:.2f})"
            )
            return HeadPrediction(EMERGENCY, p_emergency, False, reason)
    threshold = thresholds.get(label)
    if threshold is None:
        reason = f"{label} is not answered automatically: validation did not show {target_precision:g} precision for it"
        return HeadPrediction(label, confidence, True, reason)
    if confidence < threshold:
        reason = f"confidence {confidence:.2f} for {label} is below its threshold {threshold:.2f}"
        return HeadPrediction(label, confidence, True, reason)
    reason = f"confidence {confidence:.2f} for {label} meets its threshold {threshold:.2f}"
    return HeadPrediction(label, confidence, False, reason)


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
        self._emergency_thresholds = EmergencyThresholds.from_meta(self.meta)

    @property
    def heads(self) -> list[str]:
        return list(self.classifiers)

    @property
    def target_precision(self) -> float:
        return float(self.meta["target_precision"])

    def thresholds(self, head: str) -> dict[str, float | None]:
        return dict(self.meta["thresholds"][head])

    @property
    def emergency_thresholds(self) -> EmergencyThresholds:
        return EmergencyThresholds.from_meta(self.meta)

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
                self.meta["thresholds"][head],
                self.target_precision,
                rules.emergencies,
                self._emergency_thresholds,
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
class EmergencyTargets:
    recall: float = DEFAULT_EMERGENCY_RECALL
    precision: float = DEFAULT_EMERGENCY_PRECISION


@dataclass(frozen=True)
class HeadValidation:
    temperature: float
    thresholds: dict[str, float | None]
    metrics: dict[str, Any]
    emergency_thresholds: EmergencyThresholds = EmergencyThresholds()


def train(
    data_paths: Sequence[Path],
    out_dir: Path,
    *,
    target_precision: float = DEFAULT_TARGET_PRECISION,
    min_answered: int = DEFAULT_MIN_ANSWERED,
    random_state: int = RANDOM_STATE,
    n_jobs: int | None = None,
    emergency_recall: float = DEFAULT_EMERGENCY_RECALL,
    emergency_precision: float = DEFAULT_EMERGENCY_PRECISION,
) -> TrainResult:
    """Train every head present in the data, choose thresholds, save to `out_dir`."""
    if not 0.5 <= target_precision < 1.0:
        raise ValueError("target precision must be at least 0.5 and below 1")
    if not (0.0 < emergency_recall <= 1.0 and 0.0 <= emergency_precision <= 1.0):
        raise ValueError("emergency recall must be in (0, 1] and emergency precision in [0, 1]")
    started = time.perf_counter()
    dataset = load_dataset([Path(p) for p in data_paths])
    texts = [clip(text) for text in dataset.texts()]
    plans = [_head_plan(dataset, head) for head in dataset.heads]
    if n_jobs is None:
        n_jobs = 1 if len(texts) < SMALL_DATA_ROWS else min(os.cpu_count() or 1, 4)

    features = build_features()
    matrix = features.fit_transform(texts)
    classifiers, held_out = _fit_all(matrix, plans, random_state, n_jobs)
    targets = EmergencyTargets(emergency_recall, emergency_precision)
    validations = {
        plan.head: _validate(
            plan, classifiers[plan.head], *held_out[plan.head], texts, target_precision, min_answered, targets
        )
        for plan in plans
    }
    for head, validation in validations.items():
        apply_temperature(classifiers[head], validation.temperature)
    seconds = time.perf_counter() - started

    heads = [plan.head for plan in plans]
    thresholds = {head: v.thresholds for head, v in validations.items()}
    metrics = {head: v.metrics for head, v in validations.items()}
    meta = {
        "format_version": FORMAT_VERSION,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "heads": heads,
        "labels": {head: classifiers[head].classes_.tolist() for head in heads},
        "thresholds": thresholds,
        "emergency_thresholds": {
            **asdict(
                validations["urgency"].emergency_thresholds if "urgency" in validations else EmergencyThresholds()
            ),
            "target_recall": emergency_recall,
            "min_precision": emergency_precision,
        },
        "temperatures": {head: round(v.temperature, 4) for head, v in validations.items()},
        "target_precision": target_precision,
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
    target_precision: float,
    min_answered: int,
    emergency_targets: EmergencyTargets,
) -> HeadValidation:
    """Temperature, thresholds and metrics of one head from its held-out scores."""
    classes = classifier.classes_.tolist()
    truth = [plan.labels[i] for i in positions]
    index_of = {label: i for i, label in enumerate(classes)}
    temperature = fit_temperature(scores, np.array([index_of[label] for label in truth]))
    proba = softmax(scores / temperature)
    thresholds = choose_thresholds(truth, classes, proba, target_precision, min_answered)
    if plan.head == "urgency":  # validation decisions include the rule layer, as predictions do
        held_out_texts = [texts[plan.rows[i]] for i in positions]
        emergencies = [result.emergencies for result in default_engine().analyse(held_out_texts)]
        emergency_thresholds = emergency_thresholds_for(truth, classes, proba, emergencies, emergency_targets)
    else:
        emergencies = [[] for _ in positions]
        emergency_thresholds = EmergencyThresholds()
    decisions = [
        decide(plan.head, classes, proba[i], thresholds, target_precision, emergencies[i], emergency_thresholds)
        for i in range(len(truth))
    ]
    metrics = head_metrics(
        plan.head,
        truth,
        [d.label for d in decisions],
        [d.abstain for d in decisions],
        [classes[i] for i in proba.argmax(axis=1)],
        proba.max(axis=1).tolist(),
        [d.source == "rule" for d in decisions],
    )
    return HeadValidation(temperature, thresholds, metrics, emergency_thresholds)


def emergency_thresholds_for(
    truth: Sequence[str],
    classes: Sequence[str],
    proba: np.ndarray,
    emergencies: Sequence[Sequence[EmergencyHit]],
    targets: EmergencyTargets,
) -> EmergencyThresholds:
    """t_e for the urgency head from held-out probabilities and the rule hits on the same rows."""
    if EMERGENCY not in classes:
        return EmergencyThresholds()
    column = list(classes).index(EMERGENCY)
    is_emergency = np.asarray(truth, dtype=object) == EMERGENCY
    already = np.array([bool(hits) for hits in emergencies], dtype=bool) | (proba.argmax(axis=1) == column)
    t_e = choose_emergency_threshold(is_emergency, proba[:, column], already, targets.recall, targets.precision)
    return EmergencyThresholds(model=t_e)


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
