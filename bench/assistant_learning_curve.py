"""Would more chat NLU data help? Intent macro-F1 by share of the training data, in seconds rather than minutes.

    bot/.venv/bin/python bench/assistant_learning_curve.py [--fractions 0.25 0.5 0.75 1]

A scikit-learn stand-in for the bot's intent classifier: the same folds as bench/assistant_cv.py, the same
features (word 1-2 grams and character 2-5 grams inside word boundaries, sublinear tf-idf) and the same model
(logistic loss by SGD, alpha 1e-5, 40 epochs, balanced class weights, seed 2001), without Rasa's regex and lookup
features. On this project's data it lands within a few thousandths of bench/assistant_cv.py's macro-F1, which takes
minutes per fold. Each fold trains on a seeded random share of its training part and is scored on its whole
held-out part; a curve still rising at 100% says more examples would still help.
"""

from __future__ import annotations

import argparse

import numpy as np
from assistant_common import linear_intent_model, ngram_features
from assistant_cv import folds, load_training_data


def macro_f1(texts: np.ndarray, labels: np.ndarray, fraction: float) -> float:
    from sklearn.metrics import f1_score

    predicted = np.empty_like(labels)
    rng = np.random.RandomState(2001)
    for held_out in folds(list(labels), 5):
        test = np.zeros(len(labels), dtype=bool)
        test[held_out] = True
        train = ~test & (rng.rand(len(labels)) < fraction)
        features = ngram_features()
        model = linear_intent_model(class_weight="balanced")
        model.fit(features.fit_transform(texts[train]), labels[train])
        predicted[test] = model.predict(features.transform(texts[test]))
    return float(f1_score(labels, predicted, average="macro"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fractions", type=float, nargs="+", default=[0.25, 0.5, 0.75, 1.0])
    args = parser.parse_args()
    examples = [m for m in load_training_data().intent_examples if m.get("text")]
    texts = np.array([m.get("text") for m in examples], dtype=object)
    labels = np.array([m.get("intent") for m in examples])
    print(f"{len(examples)} examples, {len(set(labels))} intents, 5 folds")
    for fraction in args.fractions:
        print(
            f"  {fraction:4.0%} of each fold's training part: intent macro-F1 {macro_f1(texts, labels, fraction):.3f}"
        )


if __name__ == "__main__":
    main()
