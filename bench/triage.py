"""Triage classifiers: quality on the project's emails, generality on CLINC150, training time, predict rate.

    .venv/bin/python bench/triage.py [--skip-clinc]

1. Project data: trains on nlu_data/email/train*.jsonl, evaluates on the held-out nlu_data/email/test.jsonl
   (per head, the emergency tiers, the operating point, what the ingester's routing_decision files without a
   person, and the service macro-F1 of a plain TF-IDF + logistic regression on the same files).
2. Generality: CLINC150 (../shared/benchmarks/clinc150/data_full.json, 150 intents, a large real labelled set
   with other categories): the civicdesk pipeline against a plain TF-IDF + logistic regression baseline trained
   on the same 15,000 examples and scored on the same 4,500 test examples.
3. Training time on 20,000 examples (CLINC150 train + val, topped up by repeating train rows).
4. Predict rate with extraction on 5,000 emails (the held-out file repeated), median of 3 runs.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import tempfile
import time
from pathlib import Path

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.pipeline import make_pipeline

from classifiers.cli import thresholds_lines
from classifiers.data import compose_text, load_dataset
from classifiers.evaluate import evaluate
from classifiers.model import TriageModel, load_model, train

ROOT = Path(__file__).resolve().parent.parent
EMAIL_DIR = ROOT / "nlu_data" / "email"
CLINC = ROOT.parent / "shared" / "benchmarks" / "clinc150" / "data_full.json"


def project_data(scratch: Path) -> None:
    train_files = sorted(EMAIL_DIR.glob("train*.jsonl"))
    rows = sum(1 for path in train_files for line in path.read_text().splitlines() if line.strip())
    started = time.perf_counter()
    train(train_files, scratch / "triage")
    seconds = time.perf_counter() - started
    metrics = evaluate(load_model(scratch / "triage"), EMAIL_DIR / "test.jsonl")
    print(f"project emails: trained on {rows} rows in {seconds:.1f} s; held-out test.jsonl:")
    for head, m in metrics.items():
        line = (
            f"  {head:13} accuracy {m['accuracy']:.3f}  macro-F1 {m['macro_f1']:.3f}  "
            f"abstain {m['abstain_rate']:.3f}  accuracy of answered {m['accuracy_answered']}"
        )
        if head == "urgency":
            line += (
                f"\n  {'':13} emergencies (both tiers) recall {m['emergency_recall']:.3f} precision "
                f"{m['emergency_precision']:.3f}; paged {m['paged']}, paging precision {m['paging_precision']} "
                f"recall {m['paging_recall']}"
            )
        print(line)
    model = load_model(scratch / "triage")
    for line in thresholds_lines(model.meta):
        print(f"  {line}")
    routing(model)
    baseline(train_files)


def routing(model: TriageModel) -> None:
    """What the email pipeline files without an agent (email_ingest.process.routing_decision decides), and how
    often the department it goes to is the right one."""
    from email_ingest.process import routing_decision

    emails = [json.loads(line) for line in (EMAIL_DIR / "test.jsonl").read_text().splitlines() if line.strip()]
    predictions = model.predict([compose_text(e["subject"], e["body"]) for e in emails])
    decisions = [routing_decision(p) for p in predictions]
    routed = [(e, p, d) for e, p, d in zip(emails, predictions, decisions, strict=True) if d.route]
    right = sum(p.heads["service_code"].label == e["service_code"] for e, p, _ in routed)
    wanted = sum(e["kind"] == "service_request" and e["urgency"] != "emergency" for e in emails)
    as_urgent = [e for e, _, d in routed if d.urgency == "urgent"]
    print(
        f"  email routing: {len(routed)} of {len(emails)} held-out emails filed automatically "
        f"({len(routed) / len(emails):.1%}; {wanted} are non-emergency service requests); "
        f"service code right for {right} ({right / max(1, len(routed)):.1%}); {len(as_urgent)} routed as urgent "
        f"({sum(e['urgency'] != 'routine' for e in as_urgent)} labelled urgent)"
    )


def baseline(train_files: list[Path]) -> None:
    """Service macro-F1 of a plain TF-IDF + logistic regression trained on the same files, on the same test file."""
    dataset = load_dataset(train_files)
    rows, labels = dataset.labelled("service_code")
    texts = dataset.texts()
    plain = make_pipeline(TfidfVectorizer(sublinear_tf=True), LogisticRegression(max_iter=1000))
    plain.fit([texts[i] for i in rows], labels)
    test = load_dataset([EMAIL_DIR / "test.jsonl"])
    test_rows, test_labels = test.labelled("service_code")
    predicted = plain.predict([test.texts()[i] for i in test_rows])
    print(f"  TF-IDF + logistic regression service macro-F1 {f1_score(test_labels, predicted, average='macro'):.3f}")


def write_csv(path: Path, pairs: list[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "service_code"])  # any label set can ride in a label column
        writer.writerows(pairs)


def clinc(scratch: Path) -> None:
    data = json.loads(CLINC.read_text())
    train_pairs, test_pairs = data["train"], data["test"]
    write_csv(scratch / "clinc_train.csv", train_pairs)
    write_csv(scratch / "clinc_test.csv", test_pairs)
    texts = [text for text, _ in train_pairs]
    labels = [label for _, label in train_pairs]
    test_texts = [text for text, _ in test_pairs]
    test_labels = [label for _, label in test_pairs]

    started = time.perf_counter()
    baseline = make_pipeline(TfidfVectorizer(), LogisticRegression(max_iter=1000))
    baseline.fit(texts, labels)
    baseline_seconds = time.perf_counter() - started
    predicted = baseline.predict(test_texts)
    print(
        f"CLINC150 baseline TF-IDF + LR: accuracy {accuracy_score(test_labels, predicted):.3f}  "
        f"macro-F1 {f1_score(test_labels, predicted, average='macro'):.3f}  ({baseline_seconds:.1f} s to train)"
    )
    started = time.perf_counter()
    train([scratch / "clinc_train.csv"], scratch / "clinc_model")
    ours_seconds = time.perf_counter() - started
    m = evaluate(load_model(scratch / "clinc_model"), scratch / "clinc_test.csv")["service_code"]
    print(
        f"CLINC150 civicdesk pipeline:   accuracy {m['accuracy']:.3f}  macro-F1 {m['macro_f1']:.3f}  "
        f"({ours_seconds:.1f} s to train; answers {1 - m['abstain_rate']:.2f} of messages automatically "
        f"at accuracy {m['accuracy_answered']})"
    )

    rows = data["train"] + data["val"]
    rows = (rows + data["train"])[:20_000]
    write_csv(scratch / "twenty_thousand.csv", rows)
    assert len(load_dataset([scratch / "twenty_thousand.csv"]).texts()) == 20_000
    started = time.perf_counter()
    train([scratch / "twenty_thousand.csv"], scratch / "model_20k")
    print(f"training on 20,000 examples: {time.perf_counter() - started:.1f} s")


def predict_rate(scratch: Path) -> None:
    model = load_model(scratch / "triage")
    emails = [json.loads(line) for line in (EMAIL_DIR / "test.jsonl").read_text().splitlines() if line.strip()]
    texts = [f"{e['subject']}\n\n{e['body']}" for e in emails]
    batch = (texts * (5000 // len(texts) + 1))[:5000]
    model.predict(batch[:100])  # warm-up: spaCy and numpy first-call costs
    rates = []
    for _ in range(3):
        started = time.perf_counter()
        predictions = model.predict(batch)
        rates.append(len(batch) / (time.perf_counter() - started))
    entities = sum(len(p.entities) for p in predictions)
    print(
        f"predict with extraction: median {statistics.median(rates):.0f} emails/s over 3 runs of {len(batch)} "
        f"(mean length {statistics.mean(map(len, batch)):.0f} characters, {entities} entities found)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skip-clinc", action="store_true", help="only the project data and the predict rate")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        scratch = Path(folder)
        project_data(scratch)
        predict_rate(scratch)
        if not args.skip_clinc:
            clinc(scratch)


if __name__ == "__main__":
    main()
