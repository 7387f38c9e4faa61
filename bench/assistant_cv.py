"""The assistant's language understanding on the project's data: 5-fold cross-validation.

    bot/.venv/bin/python bench/assistant_cv.py [--folds 5]

Every intent example in nlu_data/chat is held out once. Each fold trains the bot/config.yml pipeline on the
rest (with all synonyms, regexes and lookup tables) and parses the held-out messages. Reported:

- intent macro-F1 and accuracy of the classifier's top intent, over all held-out messages;
- how often FallbackClassifier would say "not understood" (nlu_fallback) and the macro-F1 counting that
  as wrong, which is what a resident experiences;
- entity precision, recall and F1, exact match of type and span (the union of the extractors, duplicates
  removed), micro-averaged over all annotated entities, and per entity type;
- training time per fold.
Targets (issue 4): intent macro-F1 >= 0.92, entity F1 >= 0.85.
"""

from __future__ import annotations

import argparse
import collections
import random
import tempfile
from pathlib import Path

from assistant_common import ROOT, parse_all, train_nlu

NLU_DIR = ROOT / "nlu_data" / "chat"
SEED = 2001


def load_training_data():  # type: ignore[no-untyped-def]
    from rasa.shared.nlu.training_data.loading import load_data

    return load_data(str(NLU_DIR))


def folds(labels: list[str], k: int) -> list[list[int]]:
    """Stratified: each intent's examples are dealt round-robin to the folds after a seeded shuffle."""
    by_label: dict[str, list[int]] = collections.defaultdict(list)
    for index, label in enumerate(labels):
        by_label[label].append(index)
    rng = random.Random(SEED)
    out: list[list[int]] = [[] for _ in range(k)]
    position = 0
    for label in sorted(by_label):
        indices = by_label[label]
        rng.shuffle(indices)
        for index in indices:
            out[position % k].append(index)
            position += 1
    return out


def spans(entities: list[dict]) -> set[tuple[str, int, int]]:  # type: ignore[type-arg]
    return {(e["entity"], e["start"], e["end"]) for e in entities if "start" in e}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args()

    from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLWriter
    from rasa.shared.nlu.training_data.training_data import TrainingData
    from sklearn.metrics import accuracy_score, f1_score

    data = load_training_data()
    examples = [m for m in data.intent_examples if m.get("text")]
    labels = [m.get("intent") for m in examples]
    print(f"{len(examples)} examples, {len(set(labels))} intents, {args.folds} folds")

    gold_intents: list[str] = []
    top_intents: list[str] = []
    final_intents: list[str] = []
    true_positive: collections.Counter[str] = collections.Counter()
    gold_count: collections.Counter[str] = collections.Counter()
    predicted_count: collections.Counter[str] = collections.Counter()
    seconds: list[float] = []
    for number, held_out in enumerate(folds(labels, args.folds), start=1):
        held = set(held_out)
        train = TrainingData(
            training_examples=[m for i, m in enumerate(examples) if i not in held],
            entity_synonyms=data.entity_synonyms,
            regex_features=data.regex_features,
            lookup_tables=data.lookup_tables,
        )
        with tempfile.TemporaryDirectory() as scratch:
            nlu_file = Path(scratch) / "nlu.yml"
            RasaYAMLWriter().dump(nlu_file, train)
            model, took = train_nlu(nlu_file, Path(scratch) / "models")
            test = [examples[i] for i in held_out]
            parsed = parse_all(model, [m.get("text") for m in test])
        seconds.append(took)
        for message, result in zip(test, parsed, strict=True):
            gold_intents.append(message.get("intent"))
            final_intents.append(result["intent"]["name"])
            ranking = [r["name"] for r in result.get("intent_ranking", []) if r["name"] != "nlu_fallback"]
            top_intents.append(ranking[0] if ranking else "")
            gold = spans(message.get("entities") or [])
            predicted = spans(result.get("entities") or [])
            for entity, _, _ in gold:
                gold_count[entity] += 1
            for entity, _, _ in predicted:
                predicted_count[entity] += 1
            for entity, _, _ in gold & predicted:
                true_positive[entity] += 1
        print(f"fold {number}: trained in {took:.1f} s, {len(test)} held-out messages")

    intents = sorted(set(gold_intents))
    macro = f1_score(gold_intents, top_intents, labels=intents, average="macro", zero_division=0)
    macro_final = f1_score(gold_intents, final_intents, labels=intents, average="macro", zero_division=0)
    fallback = sum(p == "nlu_fallback" for p in final_intents) / len(final_intents)
    print(f"\nintent macro-F1 {macro:.3f}  accuracy {accuracy_score(gold_intents, top_intents):.3f}  (target >= 0.92)")
    print(f"nlu_fallback on {fallback:.1%} of messages; macro-F1 counting those as wrong {macro_final:.3f}")

    tp, g, p = sum(true_positive.values()), sum(gold_count.values()), sum(predicted_count.values())
    precision, recall = tp / p if p else 0.0, tp / g if g else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    print(f"entity precision {precision:.3f}  recall {recall:.3f}  F1 {f1:.3f}  over {g} entities  (target >= 0.85)")
    for entity in sorted(gold_count):
        e_p = true_positive[entity] / predicted_count[entity] if predicted_count[entity] else 0.0
        e_r = true_positive[entity] / gold_count[entity]
        e_f = 2 * e_p * e_r / (e_p + e_r) if e_p + e_r else 0.0
        print(f"  {entity:18} F1 {e_f:.3f}  ({gold_count[entity]} annotated)")

    pairs = zip(gold_intents, top_intents, strict=True)
    worst = collections.Counter((g_, t) for g_, t in pairs if g_ != t).most_common(8)
    print("most frequent confusions (gold -> predicted): " + ", ".join(f"{a}->{b} x{n}" for (a, b), n in worst))
    print(f"training time per fold: {min(seconds):.1f} to {max(seconds):.1f} s")


if __name__ == "__main__":
    main()
