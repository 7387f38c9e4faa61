"""Triage classifiers: service code, kind and urgency of resident messages, and detail extraction.

    from classifiers import train, load_model, evaluate, is_stale
    result = train([Path("nlu_data/email/train.jsonl")], Path("var/models/triage"))
    model = load_model(Path("var/models/triage"))
    predictions = model.predict(["Water is gushing out of the road on King Street"])

The names are imported on first use, so `import classifiers` (and the CLI's --help) stays fast.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "train": "classifiers.model",
    "load_model": "classifiers.model",
    "is_stale": "classifiers.model",
    "TriageModel": "classifiers.model",
    "Prediction": "classifiers.model",
    "HeadPrediction": "classifiers.model",
    "TrainResult": "classifiers.model",
    "evaluate": "classifiers.evaluate",
    "compose_text": "classifiers.data",
    "find_emergencies": "classifiers.rules",
    "extract_entities": "classifiers.rules",
    "DataError": "classifiers.errors",
    "ModelError": "classifiers.errors",
    "UntrustedTypeError": "classifiers.errors",
    "PatternError": "classifiers.errors",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'classifiers' has no attribute {name!r}")
    return getattr(import_module(_EXPORTS[name]), name)
