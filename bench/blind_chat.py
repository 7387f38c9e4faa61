"""The assistant's language understanding on the blind chat set (nlu_data/eval/chat.jsonl), never trained on.

    bot/.venv/bin/python bench/blind_chat.py [--model var/models/civicdesk.tar.gz] [--show-misses N]

The set was written by someone who had not read the training data and is frozen (nlu_data/eval/README.md).
Each first message is parsed by the trained model, exactly as the Rasa server parses it. Printed:
- problem reports understood as reports (report_problem), and routine reports taken for emergencies (any
  emergency_* intent): issue 14's chat targets are >= 92 % and <= 1 %;
- emergencies recognised as an emergency (any emergency_* intent, or mental_health_crisis for itself);
- "I don't know": out_of_scope lines answered with out_of_scope or nlu_fallback;
- intent accuracy and macro-F1 over the whole set, the fallback rate on lines the assistant covers, and the
  report rate per `note` slice (uk, us, typo, no-punct, ...).
"""

from __future__ import annotations

import argparse
import collections
import json
from pathlib import Path

from assistant_common import ROOT, parse_all

EVAL = ROOT / "nlu_data" / "eval" / "chat.jsonl"
MODEL = ROOT / "var" / "models" / "civicdesk.tar.gz"
FALLBACK = "nlu_fallback"
DONT_KNOW = {"out_of_scope", FALLBACK}


def is_emergency(intent: str) -> bool:
    return intent.startswith("emergency_")


def share(part: int, whole: int) -> str:
    return f"{part}/{whole} = {part / whole:.1%}" if whole else "0/0"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=MODEL)
    parser.add_argument("--show-misses", type=int, default=0, help="print up to N misreadings of problem reports")
    args = parser.parse_args()

    from sklearn.metrics import accuracy_score, f1_score

    rows = [json.loads(line) for line in EVAL.read_text(encoding="utf-8").splitlines() if line.strip()]
    parsed = parse_all(args.model, [row["text"] for row in rows])
    gold = [row["intent"] for row in rows]
    predicted = [result["intent"]["name"] or FALLBACK for result in parsed]
    print(f"{EVAL.relative_to(ROOT)}: {len(rows)} messages; model {args.model}")

    reports = [i for i, label in enumerate(gold) if label == "report_problem"]
    as_report = [i for i in reports if predicted[i] == "report_problem"]
    as_emergency = [i for i in reports if is_emergency(predicted[i])]
    print(f"problem reports understood as reports: {share(len(as_report), len(reports))}")
    print(f"routine reports taken for emergencies: {share(len(as_emergency), len(reports))}")
    read_as = collections.Counter(predicted[i] for i in reports).most_common()
    print("  problem reports read as: " + ", ".join(f"{intent} {n}" for intent, n in read_as))

    emergencies = [i for i, label in enumerate(gold) if is_emergency(label)]
    caught = [i for i in emergencies if is_emergency(predicted[i])]
    exact = [i for i in emergencies if predicted[i] == gold[i]]
    print(f"emergencies recognised as an emergency: {share(len(caught), len(emergencies))} (right kind {len(exact)})")
    crisis = [i for i, label in enumerate(gold) if label == "mental_health_crisis"]
    print(f"mental-health crises recognised: {share(sum(predicted[i] == gold[i] for i in crisis), len(crisis))}")

    out_of_scope = [i for i, label in enumerate(gold) if label == "out_of_scope"]
    dont_know = sum(predicted[i] in DONT_KNOW for i in out_of_scope)
    print(f"out-of-scope answered 'I don't know': {share(dont_know, len(out_of_scope))}")
    covered = [i for i, label in enumerate(gold) if label != "out_of_scope"]
    fell_back = sum(predicted[i] == FALLBACK for i in covered)
    print(f"fallback on messages the assistant covers: {share(fell_back, len(covered))}")
    scored = ["out_of_scope" if p == FALLBACK else p for p in predicted]
    macro_f1 = f1_score(gold, scored, average="macro", zero_division=0)
    accuracy = accuracy_score(gold, scored)
    print(f"intent accuracy {accuracy:.3f}, macro-F1 {macro_f1:.3f} (a fallback counts as out_of_scope)")

    by_note: dict[str, list[int]] = collections.defaultdict(list)
    for i in reports:
        by_note[rows[i].get("note", "(none)")].append(i)
    print("problem reports understood as reports, by note:")
    for note, members in sorted(by_note.items()):
        print(f"  {note:16} {share(sum(predicted[i] == 'report_problem' for i in members), len(members))}")
    wrong = collections.Counter((gold[i], predicted[i]) for i in range(len(rows)) if gold[i] != scored[i])
    confusions = "; ".join(f"{g} -> {p} {n}" for (g, p), n in wrong.most_common(8))
    print(f"most frequent confusions (gold -> read as): {confusions}")
    for i in [i for i in reports if predicted[i] != "report_problem"][: args.show_misses]:
        print(f"  {predicted[i]:28} {rows[i]['text'][:110]}")


if __name__ == "__main__":
    main()
