"""Triage classifiers: service code, kind and urgency of resident messages, and detail extraction.

    from classifiers import train, load_model, evaluate, is_stale
    result = train([Path("nlu_data/email/train.jsonl")], Path("/tmp/my-model"))
    model = load_model(Path("/tmp/my-model"))
    predictions = model.predict(["Water is gushing out of the road on King Street"])

The ingester's model is the active version of the registry in var/models/triage (classifiers.registry):
`load_model(Registry(Path("var/models/triage")).active_dir())`.

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
