"""Entity extraction: exact-span precision, recall and F1 per label on annotated texts.

    .venv/bin/python bench/extraction.py [--data nlu_data/extraction/test.jsonl] [--json] [--errors]

The extractor runs exactly as `civicdesk classifiers predict` runs it: the rule engine the triage model holds
(classifiers.rules.default_engine), which is independent of the trained model, so nothing is trained here.
A span counts only when start, end and label all match; "partial" figures, which count any overlapping span of
the same label, are printed beside them to show how many misses are boundary errors. `--errors` lists every
missed and spurious span, for working on dev.jsonl (never tune on test.jsonl).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from classifiers.extract import LabelScore, SpanKey, score
from classifiers.rules import default_engine

DATA_DIR = Path(__file__).resolve().parent.parent / "nlu_data" / "extraction"


def load(path: Path) -> list[tuple[str, list[SpanKey]]]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            record = json.loads(line)
            spans = [(e["start"], e["end"], e["label"]) for e in record["entities"]]
            rows.append((record["text"], spans))
    return rows


def extract(texts: list[str]) -> list[list[SpanKey]]:
    return [[(e.start, e.end, e.label) for e in result.entities] for result in default_engine().analyse(texts)]


def as_dict(scores: dict[str, LabelScore]) -> dict[str, dict[str, Any]]:
    return {
        label: {
            "precision": s.precision,
            "recall": s.recall,
            "f1": s.f1,
            "support": s.support,
            "predicted": s.predicted,
            "partial_precision": s.partial_precision,
            "partial_recall": s.partial_recall,
        }
        for label, s in scores.items()
    }


def print_table(path: Path, texts: int, scores: dict[str, LabelScore], seconds: float) -> None:
    print(f"{path}: {texts} texts, {seconds * 1000 / max(texts, 1):.2f} ms per text")
    print(f"{'label':<13} {'P':>6} {'R':>6} {'F1':>6} {'support':>8} {'pred':>6}   {'partial P':>9} {'partial R':>9}")
    for label, s in scores.items():
        if label == "micro":
            print("-" * 73)
        print(
            f"{label:<13} {s.precision:6.3f} {s.recall:6.3f} {s.f1:6.3f} {s.support:8d} {s.predicted:6d}   "
            f"{s.partial_precision:9.3f} {s.partial_recall:9.3f}"
        )


def print_errors(rows: list[tuple[str, list[SpanKey]]], predicted: list[list[SpanKey]]) -> None:
    for (text, gold), found in zip(rows, predicted, strict=True):
        missed = sorted(set(gold) - set(found))
        spurious = sorted(set(found) - set(gold))
        if not missed and not spurious:
            continue
        print(f"\n{text!r}")
        for start, end, label in missed:
            print(f"  missed   {label:<13} {text[start:end]!r}")
        for start, end, label in spurious:
            print(f"  spurious {label:<13} {text[start:end]!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DATA_DIR / "test.jsonl", help="annotated JSONL file")
    parser.add_argument("--json", action="store_true", help="print the scores as JSON")
    parser.add_argument("--errors", action="store_true", help="list missed and spurious spans")
    args = parser.parse_args()
    rows = load(args.data)
    texts = [text for text, _ in rows]
    extract(texts[:10])  # warm-up: the engine's first call builds the pipeline
    started = time.perf_counter()
    predicted = extract(texts)
    seconds = time.perf_counter() - started
    scores = score([spans for _, spans in rows], predicted)
    if args.json:
        print(json.dumps({"data": str(args.data), "texts": len(rows), "scores": as_dict(scores)}, indent=2))
    else:
        print_table(args.data, len(rows), scores, seconds)
    if args.errors:
        print_errors(rows, predicted)


if __name__ == "__main__":
    main()
