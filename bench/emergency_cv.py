"""Emergency recall and precision by cross-validation on the training emails: how the emergency rules, labels and
threshold were chosen, without the held-out file.

    .venv/bin/python bench/emergency_cv.py [--show-misses] [--folds-only]

Only nlu_data/email/train*.jsonl is read. The urgency head's held-out probabilities come from the validation
splits that train() uses (stratified 5-fold), calibrated the same way; they are cached in var/cache/ by data
hash, so an edit to the patterns is measured in seconds (the rules run again every time) and a label edit
refits. Printed, for the emergency class:
- model argmax alone, rules alone, both OR-ed (the decision before t_e existed);
- with t_e chosen on all held-out rows, as train() chooses it (in-sample: optimistic);
- with t_e chosen on the other four folds' held-out rows and applied to the fifth (the honest estimate);
- the recall and precision that fixed values of t_e would give (the trade-off the targets choose from).
The rules themselves were written while reading these training rows, so their share is optimistic too.
--show-misses lists the emergencies missed and the false alarms (training rows only).

Measured 2026-11-23 (3,122 training rows, 262-263 emergencies; emergency recall / precision):
- before: model argmax 0.779 / 0.826, rules 0.550 / 0.724, argmax OR rules 0.870 / 0.713;
- new phrases and token patterns (signals stuck or not working, water up to car doors, basement flooding now,
  fuel into a creek or drain, counted sick groups, hospitalisations, tree down across a road, unresponsive,
  seizure) and one label fix: argmax OR rules 0.901 / 0.727 (the same rows with the old rules: 0.867 / 0.722).
  A "lying/sitting in the lane" pattern was dropped: no emergency the model missed, 6 false alarms;
- t_e for recall 0.99 at precision 0.80: none exists (in-sample and in every fold), because argmax OR rules is
  already below 0.80 precision here; fixed values would give 0.958 / 0.615 at 0.2 and 0.985 / 0.506 at 0.1.
  So train() stores t_e = None on this data and the decision is argmax OR rules, as before;
- a "rule floor" (rule hits count only when P(emergency) >= half the lowest P of a rule-only emergency) raised
  precision to 0.751 at the same recall, but it vetoed "smell of gas" in an otherwise routine message, which
  the OR-ed rule layer exists to catch; it was not kept. The urgency head's C (1, 3, 10, 30) changed the
  average precision of P(emergency) only from 0.876 to 0.888.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from classifiers.data import load_dataset
from classifiers.metrics import EMERGENCY
from classifiers.model import (
    DEFAULT_EMERGENCY_PRECISION,
    DEFAULT_EMERGENCY_RECALL,
    RANDOM_STATE,
    EmergencyTargets,
    EmergencyThresholds,
    _fit,
    _head_plan,
    build_features,
    decide,
    emergency_thresholds_for,
    fit_temperature,
    softmax,
    validation_splits,
)
from classifiers.rules import RuleEngine, clip

ROOT = Path(__file__).resolve().parent.parent
EMAIL_DIR = ROOT / "nlu_data" / "email"
CACHE_DIR = ROOT / "var" / "cache"


def held_out_probabilities(
    texts: list[str], labels: list[str], sha256: str
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Classes, calibrated held-out probabilities (row order) and each row's fold, as train() computes them."""
    cache = CACHE_DIR / f"emergency_cv_{sha256[:16]}_{RANDOM_STATE}.npz"
    if cache.is_file():
        stored = np.load(cache, allow_pickle=False)
        return stored["classes"].tolist(), stored["proba"], stored["fold"]
    matrix = build_features().fit_transform(texts)
    classes = sorted(set(labels))
    scores = np.zeros((len(labels), len(classes)))
    fold = np.zeros(len(labels), dtype=int)
    for number, (fit_rows, held_out) in enumerate(validation_splits(labels, RANDOM_STATE)[1]):
        scores[held_out] = _fit(matrix, labels, fit_rows, held_out, RANDOM_STATE)
        fold[held_out] = number
    index_of = {label: i for i, label in enumerate(classes)}
    temperature = fit_temperature(scores, np.array([index_of[label] for label in labels]))
    proba = softmax(scores / temperature)
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    np.savez(cache, classes=np.array(classes), proba=proba, fold=fold)
    return classes, proba, fold


def scores(name: str, truth: np.ndarray, flagged: np.ndarray) -> None:
    found = int((truth & flagged).sum())
    precision = found / flagged.sum() if flagged.any() else float("nan")
    print(
        f"  {name:44} recall {found / truth.sum():.3f} ({found}/{int(truth.sum())})  "
        f"precision {precision:.3f} ({int(flagged.sum())} flagged)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--show-misses", action="store_true", help="list missed emergencies and false alarms")
    parser.add_argument("--recall", type=float, default=DEFAULT_EMERGENCY_RECALL, help="t_e recall target")
    parser.add_argument("--precision", type=float, default=DEFAULT_EMERGENCY_PRECISION, help="t_e precision floor")
    args = parser.parse_args()

    dataset = load_dataset(sorted(EMAIL_DIR.glob("train*.jsonl")))
    plan = _head_plan(dataset, "urgency")
    texts = [clip(dataset.examples[row].text) for row in plan.rows]
    sources = [dataset.examples[row].source for row in plan.rows]
    classes, proba, fold = held_out_probabilities(texts, plan.labels, dataset.sha256)
    column = classes.index(EMERGENCY)
    truth = np.asarray(plan.labels, dtype=object) == EMERGENCY
    hits = [result.emergencies for result in RuleEngine().analyse(texts)]
    by_rule = np.array([bool(h) for h in hits])
    by_argmax = proba.argmax(axis=1) == column
    targets = EmergencyTargets(args.recall, args.precision)

    def flagged(thresholds: EmergencyThresholds, rows: np.ndarray) -> np.ndarray:
        """Rows that decide() makes emergencies under `thresholds` (the same code as predictions)."""
        return np.array(
            [decide("urgency", classes, proba[i], {}, 0.97, hits[i], thresholds).label == EMERGENCY for i in rows]
        )

    every = np.arange(len(texts))
    print(f"urgency held-out predictions on {len(texts)} training rows ({validation_splits(plan.labels, 0)[0]}):")
    scores("model argmax", truth, by_argmax)
    scores("rules", truth, by_rule)
    scores("argmax OR rules (before t_e)", truth, flagged(EmergencyThresholds(), every))
    chosen = emergency_thresholds_for(plan.labels, classes, proba, hits, targets)
    scores(f"+ t_e {chosen.model} (in-sample, as train())", truth, flagged(chosen, every))

    # honest estimate: each fold decided with t_e chosen on the other folds' held-out rows
    flagged_cv = np.zeros(len(texts), dtype=bool)
    chosen_per_fold = []
    for number in range(fold.max() + 1):
        other, mine = np.flatnonzero(fold != number), np.flatnonzero(fold == number)
        fold_thresholds = emergency_thresholds_for(
            [plan.labels[i] for i in other], classes, proba[other], [hits[i] for i in other], targets
        )
        chosen_per_fold.append("none" if fold_thresholds.model is None else f"{fold_thresholds.model:.3f}")
        flagged_cv[mine] = flagged(fold_thresholds, mine)
    scores("+ t_e per fold from the other folds", truth, flagged_cv)
    print(f"    t_e per fold: {', '.join(chosen_per_fold)}")
    # what t_e could buy at all: recall and precision at fixed probabilities (no choice made here)
    for t in (0.4, 0.3, 0.2, 0.15, 0.1, 0.05):
        scores(f"  (argmax OR rules OR P >= {t})", truth, flagged(EmergencyThresholds(model=t), every))

    print("  per rule: messages matched, of which emergencies (urgent, routine)")
    labels = np.asarray(plan.labels, dtype=object)
    for rule in sorted({hit.rule for row in hits for hit in row}):
        matched = np.array([any(hit.rule == rule for hit in row) for row in hits])
        counts = {label: int((matched & (labels == label)).sum()) for label in ("emergency", "urgent", "routine")}
        print(
            f"    {rule:24} {int(matched.sum()):4}  {counts['emergency']:4} ({counts['urgent']}, {counts['routine']})"
        )

    if args.show_misses:
        for title, rows in (
            ("missed emergencies (t_e per fold)", np.flatnonzero(truth & ~flagged_cv)),
            ("false alarms (t_e per fold)", np.flatnonzero(~truth & flagged_cv)),
        ):
            print(f"\n{title}: {len(rows)}")
            for i in rows:
                rules = ",".join(hit.rule for hit in hits[i]) or "-"
                text = " ".join(texts[i].split())[:220]
                print(f"  {sources[i]}  [{plan.labels[i]}] P(em)={proba[i, column]:.2f} rules={rules}\n    {text}")


if __name__ == "__main__":
    main()
