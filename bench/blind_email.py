"""Email triage on the blind email set (nlu_data/eval/email.jsonl), never trained or tuned on.

    .venv/bin/python bench/blind_email.py [--model DIR]

The set was written by someone who had not read the training data and is frozen (nlu_data/eval/README.md).
Without --model, a model is trained from the shipped training files (nlu_data/email/train*.jsonl) into a scratch
folder, as `civicdesk train` does; --model scores a trained version folder instead (var/models/triage/versions/...).
Printed:
- what the ingester would do with each message (email_ingest.process.routing_decision, the code `civicdesk ingest`
  runs): routed without a person, and the share of those routed to the labelled service (issue 14: >= 40 % and
  >= 92 % on real reports);
- per head: accuracy, macro-F1, and the share answered automatically with its accuracy;
- emergencies: recall of both tiers together (rules, model), the precision of what they flag, and of the tier
  that pages the on-call contact;
- a plain TF-IDF + logistic regression on the same training files: its service macro-F1, and the ratio.
"""

from __future__ import annotations

import argparse
import collections
import json
import tempfile
from pathlib import Path

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.pipeline import make_pipeline

from civicdesk.triage.training import triage_training_files
from classifiers.data import compose_text, load_dataset
from classifiers.model import TriageModel, load_model, train
from email_ingest.process import routing_decision

ROOT = Path(__file__).resolve().parent.parent
EVAL = ROOT / "nlu_data" / "eval" / "email.jsonl"
HEADS = ("service_code", "kind", "urgency")


def share(part: int, whole: int) -> str:
    return f"{part}/{whole} = {part / whole:.1%}" if whole else "0/0"


def report(model: TriageModel, rows: list[dict[str, str]]) -> None:
    texts = [compose_text(row["subject"], row["body"]) for row in rows]
    predictions = model.predict(texts)
    decisions = [routing_decision(prediction) for prediction in predictions]
    routed = [i for i, decision in enumerate(decisions) if decision.route]
    right = [i for i in routed if predictions[i].heads["service_code"].label == rows[i]["service_code"]]
    print(f"routed without a person: {share(len(routed), len(rows))}")
    print(f"  of those, to the labelled service: {share(len(right), len(routed))}")
    why = collections.Counter(decision.reason.split(":")[0] for decision in decisions if not decision.route)
    print("  sent to a person because: " + "; ".join(f"{reason} {n}" for reason, n in why.most_common(6)))
    for head in HEADS:
        gold = [row[head] for row in rows]
        heads = [prediction.heads[head] for prediction in predictions]
        labels = [h.label for h in heads]
        answered = [i for i, h in enumerate(heads) if not h.abstain]
        answered_right = sum(labels[i] == gold[i] for i in answered)
        print(
            f"{head}: accuracy {accuracy_score(gold, labels):.3f}, macro-F1 "
            f"{f1_score(gold, labels, average='macro', zero_division=0):.3f}; answered automatically "
            f"{share(len(answered), len(rows))}, right {share(answered_right, len(answered))}"
        )
    emergencies = [i for i, row in enumerate(rows) if row["urgency"] == "emergency"]
    flagged = [i for i, p in enumerate(predictions) if p.heads["urgency"].label == "emergency"]
    found = [i for i in flagged if rows[i]["urgency"] == "emergency"]
    print(f"emergencies flagged: recall {share(len(found), len(emergencies))}")
    print(f"  precision {share(len(found), len(flagged))}")
    paged = [i for i, p in enumerate(predictions) if p.emergency_tier == "page"]
    paged_right = [i for i in paged if rows[i]["urgency"] == "emergency"]
    print(f"  paged to on call (rule or paging threshold): precision {share(len(paged_right), len(paged))}")
    unpaged = len(flagged) - len(paged)
    print(f"    recall {share(len(paged_right), len(emergencies))}; at the queue top unpaged: {unpaged}")
    routine = [i for i, row in enumerate(rows) if row["urgency"] == "routine"]
    print(f"routine messages flagged as emergencies: {share(sum(i in set(flagged) for i in routine), len(routine))}")


def baseline_macro_f1(train_files: list[Path], rows: list[dict[str, str]]) -> float:
    dataset = load_dataset(train_files)
    indices, labels = dataset.labelled("service_code")
    texts = dataset.texts()
    baseline = make_pipeline(TfidfVectorizer(sublinear_tf=True), LogisticRegression(max_iter=1000))
    baseline.fit([texts[i] for i in indices], labels)
    predicted = baseline.predict([compose_text(row["subject"], row["body"]) for row in rows])
    return float(f1_score([row["service_code"] for row in rows], predicted, average="macro", zero_division=0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="a trained version folder (default: train from the shipped files)")
    args = parser.parse_args()
    rows = [json.loads(line) for line in EVAL.read_text(encoding="utf-8").splitlines() if line.strip()]
    train_files = triage_training_files()
    print(f"{EVAL.relative_to(ROOT)}: {len(rows)} emails; training files {', '.join(p.name for p in train_files)}")
    with tempfile.TemporaryDirectory() as scratch:
        model_dir = args.model or Path(scratch) / "model"
        if args.model is None:
            result = train(train_files, model_dir)
            print(f"trained in {result.seconds:.0f} s on {max(result.rows.values())} rows")
        model = load_model(model_dir)
        report(model, rows)
    ours = f1_score(
        [row["service_code"] for row in rows],
        [p.heads["service_code"].label for p in model.predict([compose_text(r["subject"], r["body"]) for r in rows])],
        average="macro",
        zero_division=0,
    )
    theirs = baseline_macro_f1(train_files, rows)
    print(f"service macro-F1: ours {ours:.3f}, TF-IDF + logistic regression {theirs:.3f} ({ours / theirs:.2f}x)")


if __name__ == "__main__":
    main()
