"""Scoring a trained model on labelled data it has not seen."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from classifiers.data import load_dataset
from classifiers.errors import DataError
from classifiers.metrics import head_metrics
from classifiers.model import TriageModel


def evaluate(model: TriageModel, data_path: Path) -> dict[str, dict[str, Any]]:
    """Metrics per head present in both the model and the data.

    Each head has accuracy, macro_f1, abstain_rate, answered, accuracy_answered, per_class
    {label: {precision, recall, f1, support}}, confusion_matrix, reliability bins, ece, decided_by_rule and
    accuracy_answered_model (automatic answers of the model alone), coverage_curve (coverage and accuracy of the
    model's top label at fixed confidence thresholds); urgency also has emergency_recall, emergency_precision
    (both tiers and the rules), emergency_recall_model, emergency_missed, and paged, paging_precision and
    paging_recall (the tier that notifies the on-call contact).
    Accuracy and F1 count the suggested label of abstained rows too; accuracy_answered counts only the rows
    decided automatically.
    """
    dataset = load_dataset([Path(data_path)])
    predictions, probabilities = model.predict_detailed(dataset.texts())
    results: dict[str, dict[str, Any]] = {}
    for head in model.heads:
        rows, labels = dataset.labelled(head)
        if not rows:
            continue
        classes = model.classifiers[head].classes_
        proba = probabilities[head][rows]
        decisions = [predictions[row].heads[head] for row in rows]
        results[head] = head_metrics(
            head,
            labels,
            [d.label for d in decisions],
            [d.abstain for d in decisions],
            classes[proba.argmax(axis=1)].tolist(),
            proba.max(axis=1).tolist(),
            [d.source == "rule" for d in decisions],
            [d.tier for d in decisions],
        )
    if not results:
        raise DataError(f"{data_path}: no labels for this model's heads ({', '.join(model.heads)})")
    return results
