"""Scores for one head: what the validation step stores in model.json and what `evaluate` reports."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support

EMERGENCY = "emergency"
PAGE = "page"  # the emergency tier that notifies the on-call contact (classifiers.model)
RELIABILITY_BINS = 10
# Confidence thresholds at which the coverage/accuracy trade-off is shown (what a centre picks its target from).
CURVE_THRESHOLDS = (0.0, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.98, 0.99)


def _r(value: float) -> float:
    return round(float(value), 4)


def head_metrics(
    head: str,
    y_true: Sequence[str],
    y_pred: Sequence[str],
    abstain: Sequence[bool],
    model_pred: Sequence[str],
    model_confidence: Sequence[float],
    by_rule: Sequence[bool] | None = None,
    tiers: Sequence[str | None] | None = None,
) -> dict[str, Any]:
    """`y_pred`/`abstain` are the final decisions (rules included); `model_*` are the model's own top label
    and probability, used for calibration and the coverage curve, since a rule's verdict has no probability
    to check; `by_rule` marks the decisions the emergency rules made; `tiers` the urgency's emergency tiers."""
    truth, pred = np.asarray(y_true, dtype=object), np.asarray(y_pred, dtype=object)
    abstained = np.asarray(abstain, dtype=bool)
    correct = truth == pred
    answered = ~abstained
    labels = sorted(set(truth.tolist()) | set(pred.tolist()))
    precision, recall, f1, support = precision_recall_fscore_support(truth, pred, labels=labels, zero_division=0)
    result: dict[str, Any] = {
        "rows": len(truth),
        "accuracy": _r(correct.mean()),
        "macro_f1": _r(f1_score(truth, pred, labels=labels, average="macro", zero_division=0)),
        "abstain_rate": _r(abstained.mean()),
        "answered": int(answered.sum()),
        "accuracy_answered": _r(correct[answered].mean()) if answered.any() else None,
        "per_class": {
            label: {"precision": _r(p), "recall": _r(r), "f1": _r(f), "support": int(s)}
            for label, p, r, f, s in zip(labels, precision, recall, f1, support, strict=True)
        },
        "confusion_matrix": {
            "labels": labels,
            "matrix": confusion_matrix(truth, pred, labels=labels).tolist(),  # rows: true, columns: predicted
        },
    }
    model_correct = truth == np.asarray(model_pred, dtype=object)
    bins, ece = reliability(np.asarray(model_confidence, dtype=float), model_correct)
    result["reliability"] = bins
    result["ece"] = ece
    result["coverage_curve"] = coverage_curve(model_correct, np.asarray(model_confidence, dtype=float))
    if head == "urgency":
        result.update(emergency_scores(truth, pred, np.asarray(model_pred, dtype=object)))
        if tiers is not None:
            result.update(paging_scores(truth, np.asarray([tier == PAGE for tier in tiers], dtype=bool)))
    if by_rule is not None:
        ruled = np.asarray(by_rule, dtype=bool)
        by_model = answered & ~ruled
        result["decided_by_rule"] = int(ruled.sum())
        # what the thresholds promise: precision of the model's own automatic answers
        result["accuracy_answered_model"] = _r(correct[by_model].mean()) if by_model.any() else None
    return result


def emergency_scores(truth: np.ndarray, pred: np.ndarray, model_pred: np.ndarray) -> dict[str, Any]:
    """Emergency recall and precision of the final decision, and recall of the model alone (what rules add)."""
    actual = truth == EMERGENCY
    flagged = pred == EMERGENCY

    def ratio(hits: int, total: int) -> float | None:
        return _r(hits / total) if total else None

    return {
        "emergency_recall": ratio(int((actual & flagged).sum()), int(actual.sum())),
        "emergency_precision": ratio(int((actual & flagged).sum()), int(flagged.sum())),
        "emergency_recall_model": ratio(int((actual & (model_pred == EMERGENCY)).sum()), int(actual.sum())),
        "emergency_missed": int((actual & ~flagged).sum()),
    }


def paging_scores(truth: np.ndarray, paged: np.ndarray) -> dict[str, Any]:
    """The emergency tier that notifies the on-call contact: its precision (a false page costs the on-call's
    trust) and recall; the rest of emergency_recall is the possible-emergency tier (the agents' queue top)."""
    actual = truth == EMERGENCY
    hits = int((actual & paged).sum())
    return {
        "paged": int(paged.sum()),
        "paging_precision": _r(hits / paged.sum()) if paged.any() else None,
        "paging_recall": _r(hits / actual.sum()) if actual.any() else None,
    }


def coverage_curve(correct: np.ndarray, confidence: np.ndarray) -> list[dict[str, Any]]:
    """Per threshold of CURVE_THRESHOLDS: the share of messages whose top label is at least that confident
    (answered automatically at that threshold) and the accuracy of those answers."""
    points = []
    for threshold in CURVE_THRESHOLDS:
        answered = confidence >= threshold
        points.append(
            {
                "threshold": threshold,
                "coverage": _r(answered.mean()) if len(confidence) else 0.0,
                "accuracy": _r(correct[answered].mean()) if answered.any() else None,
            }
        )
    return points


def reliability(confidence: np.ndarray, correct: np.ndarray) -> tuple[list[dict[str, Any]], float | None]:
    """Equal-width confidence bins (count, mean confidence, accuracy) and the expected calibration error."""
    if not len(confidence):
        return [], None
    edges = np.linspace(0.0, 1.0, RELIABILITY_BINS + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, RELIABILITY_BINS - 1)
    bins, ece = [], 0.0
    for i in range(RELIABILITY_BINS):
        members = which == i
        count = int(members.sum())
        if not count:
            continue
        mean_confidence, accuracy = float(confidence[members].mean()), float(correct[members].mean())
        ece += count / len(confidence) * abs(accuracy - mean_confidence)
        bins.append(
            {
                "lower": _r(edges[i]),
                "upper": _r(edges[i + 1]),
                "count": count,
                "mean_confidence": _r(mean_confidence),
                "accuracy": _r(accuracy),
            }
        )
    return bins, _r(ece)
