"""The assistant's pipeline (bot/config.yml) on the public CLINC150 benchmark (Larson et al., 2019).

    bot/.venv/bin/python bench/assistant_clinc150.py [--diet-epochs N]

Data: ../shared/benchmarks/clinc150/data_full.json (clinc/oos-eval, "full" setting): 15,000 in-scope training
examples in 150 intents plus 100 out-of-scope ("oos") ones; tested on 4,500 in-scope and 1,000 out-of-scope.
The pipeline is trained exactly as the bot's is (Rasa's train_nlu with bot/config.yml); a test message counts as
out-of-scope when Rasa answers "oos" or "nlu_fallback" (FallbackClassifier's threshold, as configured for the
bot). Reported, as in the paper: in-scope accuracy and out-of-scope recall, with training time. Then, for
information only, the same model at other fallback thresholds (the validation split shows which trade-off a
threshold buys; the bot's threshold is not tuned on CLINC150).

Published (paper, Table 2, "Full"): Rasa 91.5 % in-scope / 45.3 % out-of-scope recall, BERT 96.9 % / 40.3 %.
Target (issue 4): at least 93 % and 60 %.

--diet-epochs N also trains the pipeline with DIETClassifier (no transformer layers, N epochs) in place of the
linear classifier, the alternative the choice was measured against.

--ceiling also fits scikit-learn linear models straight on word 1-2 and character 2-5 gram tf-idf (the features the
pipeline uses) with "oos" as a 151st class, and prints their top-1 in-scope accuracy before any fallback threshold:
what a bag-of-n-grams model reaches here when nothing is pretrained (nothing can be downloaded on these machines).
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
from pathlib import Path

from assistant_common import CONFIG, ROOT, linear_intent_model, ngram_features, parse_all, train_nlu

CLINC = ROOT.parent / "shared" / "benchmarks" / "clinc150" / "data_full.json"
OUT_OF_SCOPE = {"oos", "nlu_fallback"}
PUBLISHED = {"Rasa (Larson et al.)": (0.915, 0.453), "BERT (Larson et al.)": (0.969, 0.403)}


def write_nlu(rows: list[list[str]], path: Path) -> None:
    """CLINC150 rows as Rasa YAML training data (one block per intent; YAML-safe quoting)."""
    by_intent: dict[str, list[str]] = {}
    for text, intent in rows:
        by_intent.setdefault(intent, []).append(text)
    lines = ['version: "3.1"', "nlu:"]
    for intent, texts in sorted(by_intent.items()):
        lines += [f"  - intent: {intent}", "    examples: |"]
        lines += [f"      - {' '.join(t.split())}" for t in texts]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def diet_config(epochs: int, scratch: Path) -> Path:
    """bot/config.yml with DIET (intents only, no transformer layers) in place of the linear classifier."""
    text = CONFIG.read_text(encoding="utf-8")
    diet = (
        "  - name: DIETClassifier\n"
        f"    epochs: {epochs}\n"
        "    number_of_transformer_layers: 0\n"
        "    entity_recognition: false\n"
        "    constrain_similarities: true\n"
        "    random_seed: 2001\n"
    )
    text = re.sub(
        r"  - name: bot\.components\.linear_intent_classifier\.LinearIntentClassifier\n(    .*\n)*", diet, text
    )
    path = scratch / "config_diet.yml"
    path.write_text(text, encoding="utf-8")
    return path


def scores(parsed: list[dict], gold: list[str], threshold: float | None = None) -> tuple[float, float]:  # type: ignore[type-arg]
    """(in-scope accuracy, out-of-scope recall); with a threshold, re-decide fallback from the confidence."""
    correct = in_scope = caught = out_scope = 0
    for result, label in zip(parsed, gold, strict=True):
        ranking = [r for r in result.get("intent_ranking", []) if r["name"] != "nlu_fallback"]
        predicted = result["intent"]["name"]
        if threshold is not None:
            predicted = ranking[0]["name"] if ranking and ranking[0]["confidence"] >= threshold else "nlu_fallback"
        if label == "oos":
            out_scope += 1
            caught += predicted in OUT_OF_SCOPE
        else:
            in_scope += 1
            correct += predicted == label
    return correct / in_scope, caught / out_scope


def evaluate(name: str, config: Path, data: dict, scratch: Path) -> None:  # type: ignore[type-arg]
    nlu_file = scratch / "clinc150.yml"
    write_nlu(data["train"] + data["oos_train"], nlu_file)
    model, seconds = train_nlu(nlu_file, scratch / f"models_{config.stem}", config)
    test = data["test"] + data["oos_test"]
    val = data["val"] + data["oos_val"]
    parsed_test = parse_all(model, [t for t, _ in test])
    parsed_val = parse_all(model, [t for t, _ in val])
    accuracy, recall = scores(parsed_test, [label for _, label in test])
    print(f"{name}: trained in {seconds:.0f} s; in-scope accuracy {accuracy:.1%}, out-of-scope recall {recall:.1%}")
    print("  other fallback thresholds (validation | test):")
    for threshold in (0.1, 0.2, 0.3, 0.4, 0.5):
        v_acc, v_rec = scores(parsed_val, [label for _, label in val], threshold)
        t_acc, t_rec = scores(parsed_test, [label for _, label in test], threshold)
        print(f"    {threshold:.1f}: {v_acc:.1%} / {v_rec:.1%} | {t_acc:.1%} / {t_rec:.1%}")


def ceiling(data: dict) -> None:  # type: ignore[type-arg]
    import numpy as np
    from sklearn.svm import LinearSVC

    train, test = data["train"] + data["oos_train"], data["test"]
    features = ngram_features()
    x_train = features.fit_transform([text for text, _ in train])
    x_test = features.transform([text for text, _ in test])
    gold = np.array([label for _, label in test])
    models = {
        "linear SVM, C=1": LinearSVC(C=1.0),
        "logistic loss (SGD, as the bot's classifier)": linear_intent_model(),
    }
    print("bag-of-n-grams ceiling (top-1 in-scope accuracy, no fallback threshold):")
    for name, model in models.items():
        model.fit(x_train, [label for _, label in train])
        print(f"  {name}: {np.mean(model.predict(x_test) == gold):.1%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--diet-epochs", type=int, default=0, help="also measure DIET with this many epochs")
    parser.add_argument("--ceiling", action="store_true", help="also measure plain linear models on the n-grams")
    args = parser.parse_args()
    data = json.loads(CLINC.read_text(encoding="utf-8"))
    print(
        f"CLINC150: {len(data['train'])} + {len(data['oos_train'])} oos training, "
        f"{len(data['test'])} + {len(data['oos_test'])} oos test examples"
    )
    for name, (accuracy, recall) in PUBLISHED.items():
        print(f"{name}: in-scope accuracy {accuracy:.1%}, out-of-scope recall {recall:.1%}")
    if args.ceiling:
        ceiling(data)
    with tempfile.TemporaryDirectory() as directory:
        scratch = Path(directory)
        evaluate("bot/config.yml (linear intent classifier)", CONFIG, data, scratch)
        if args.diet_epochs:
            evaluate(
                f"DIET, no transformer layers, {args.diet_epochs} epochs",
                diet_config(args.diet_epochs, scratch),
                data,
                scratch,
            )


if __name__ == "__main__":
    main()
