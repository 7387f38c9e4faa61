"""Saving and loading model files with skops, trusting only the types our pipelines are made of.

A model directory holds `model.json` (the sidecar: heads, labels, thresholds, data hash, versions, metrics),
`features.skops` (the fitted FeatureUnion shared by every head) and one `<head>.skops` per head.
Plain pickle is never used: a model directory can come from another machine, and unpickling runs code.
"""

from __future__ import annotations

import json
import os
import platform
import tempfile
import zipfile
from collections.abc import Iterator, Mapping
from importlib.metadata import version
from pathlib import Path
from typing import Any

import skops.io as sio

from classifiers.errors import ModelError, UntrustedTypeError

META_FILE = "model.json"
FEATURES_FILE = "features.skops"
FORMAT_VERSION = 2  # 2: one threshold per head, urgency_thresholds (issue 14)

# Every type that may appear in our skops files. skops itself trusts all of scikit-learn by default; a
# model file is data from outside, so anything beyond what train() builds is refused, not loaded.
ALLOWED_TYPES = frozenset(
    {
        "builtins.bool",
        "builtins.dict",
        "builtins.float",
        "builtins.int",
        "builtins.list",
        "builtins.NoneType",
        "builtins.str",
        "builtins.tuple",
        "numpy.dtype",
        "numpy.float32",
        "numpy.float64",
        "numpy.int32",
        "numpy.int64",
        "numpy.ndarray",
        "sklearn.feature_extraction.text.HashingVectorizer",
        "sklearn.feature_extraction.text.TfidfTransformer",
        "sklearn.linear_model._logistic.LogisticRegression",
        "sklearn.pipeline.FeatureUnion",
        "sklearn.pipeline.Pipeline",
    }
)


def library_versions() -> dict[str, str]:
    return {
        "python": platform.python_version(),
        "scikit-learn": version("scikit-learn"),
        "skops": version("skops"),
        "spacy": version("spacy"),
        "numpy": version("numpy"),
        "scipy": version("scipy"),
    }


def head_file(head: str) -> str:
    return f"{head}.skops"


def save_model_dir(out_dir: Path, features: Any, classifiers: Mapping[str, Any], meta: Mapping[str, Any]) -> None:
    """Write the model files; model.json goes last, so a reader never sees a sidecar without its files."""
    out_dir.mkdir(parents=True, exist_ok=True)
    # an old sidecar must not describe the new head files while they are being replaced
    (out_dir / META_FILE).unlink(missing_ok=True)
    _atomic_dump(features, out_dir / FEATURES_FILE)
    for head, classifier in classifiers.items():
        _atomic_dump(classifier, out_dir / head_file(head))
    atomic_write(out_dir / META_FILE, json.dumps(meta, indent=2, sort_keys=True).encode() + b"\n")


def read_meta(model_dir: Path) -> dict[str, Any]:
    path = model_dir / META_FILE
    if not path.is_file():
        raise ModelError(f"{model_dir}: no {META_FILE}; train a model into this directory first")
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format_version") != FORMAT_VERSION:
        raise ModelError(f"{path}: unknown model format; retrain with this version of civicdesk")
    return meta


def skops_types(path: Path) -> set[str]:
    """Every `module.Class` named anywhere in a skops file's schema."""
    try:
        with zipfile.ZipFile(path) as archive:
            schema = json.loads(archive.read("schema.json"))
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError) as exc:
        raise ModelError(f"{path}: not a skops file ({exc})") from None
    return {f"{node.get('__module__')}.{node['__class__']}" for node in _schema_nodes(schema)}


def _schema_nodes(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        if "__class__" in node:
            yield node
        for value in node.values():
            yield from _schema_nodes(value)
    elif isinstance(node, list):
        for value in node:
            yield from _schema_nodes(value)


def load_trusted(path: Path, expected: type) -> Any:
    """Load a skops file only if every type in it is allowed, and check what comes out."""
    if not path.is_file():
        raise ModelError(f"{path}: model file missing")
    named = skops_types(path)  # first: it turns a damaged file into a ModelError
    untrusted = set(sio.get_untrusted_types(file=path))
    refused = sorted((untrusted | named) - ALLOWED_TYPES)
    if refused:
        raise UntrustedTypeError(f"{path}: refusing to load types outside the allow-list: {', '.join(refused)}")
    obj = sio.load(path, trusted=sorted(untrusted))
    if not isinstance(obj, expected):
        raise ModelError(f"{path}: expected a {expected.__name__}, found {type(obj).__name__}")
    return obj


def _atomic_dump(obj: Any, path: Path) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        sio.dump(obj, tmp, compression=zipfile.ZIP_DEFLATED)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def atomic_write(path: Path, data: bytes) -> None:
    """Readers see the old file or the new one, never half of one (a temporary file, then os.replace)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
