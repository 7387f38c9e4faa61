"""The triage emails in nlu_data/email/ stay valid as staff add to them: labels, coverage, no test leakage."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from civicdesk.seed_schema import REQUIRED_SERVICE_CODES

EMAIL_DIR = Path(__file__).resolve().parents[3] / "nlu_data" / "email"
KINDS = {"service_request", "information_request", "complaint", "compliment", "misdirected"}
URGENCIES = {"emergency", "urgent", "routine"}
# file set: (messages per service code, messages in all, messages per kind and per urgency)
MINIMUMS = {"train": (60, 3000, 100), "test": (14, 600, 20)}
POSTAL_CODE = re.compile(r"\b([A-Z]\d[A-Z]) ?(\d[A-Z]\d)\b")
PHONE = re.compile(r"\b(\d{3})[-. ](\d{3})[-. ](\d{4})\b")


def load(name: str) -> list[dict[str, str]]:
    with (EMAIL_DIR / name).open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def load_set(prefix: str) -> list[dict[str, str]]:
    """Every file of a set: train*.jsonl is training data, test*.jsonl held-out data."""
    return [row for path in sorted(EMAIL_DIR.glob(f"{prefix}*.jsonl")) for row in load(path.name)]


def words(row: dict[str, str]) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", f"{row['subject']} {row['body']}".lower()))


@pytest.mark.parametrize("name", sorted(MINIMUMS))
def test_labels_and_coverage(name: str) -> None:
    rows = load_set(name)
    per_code, total, per_value = MINIMUMS[name]
    assert len(rows) >= total
    codes = Counter(row["service_code"] for row in rows)
    assert min(codes[code] for code in REQUIRED_SERVICE_CODES) >= per_code, codes
    for head, values in (("kind", KINDS), ("urgency", URGENCIES)):
        counts = Counter(row[head] for row in rows)
        assert min(counts[value] for value in values) >= per_value, counts
    duplicates = [text for text, n in Counter(words(row) for row in rows).items() if n > 1]
    assert duplicates == []


ALL_FILES = sorted(path.name for path in EMAIL_DIR.glob("*.jsonl"))


@pytest.mark.parametrize("name", ALL_FILES)
def test_every_file_is_well_labelled(name: str) -> None:
    for number, row in enumerate(load(name), start=1):
        assert set(row) == {"subject", "body", "service_code", "kind", "urgency"}, f"{name}:{number}"
        assert row["service_code"] in REQUIRED_SERVICE_CODES, f"{name}:{number}"
        assert row["kind"] in KINDS and row["urgency"] in URGENCIES, f"{name}:{number}"
        assert row["subject"] or row["body"], f"{name}:{number} is empty"


@pytest.mark.parametrize("name", ALL_FILES)
def test_contact_details_are_fictional(name: str) -> None:
    for number, row in enumerate(load(name), start=1):
        text = f"{row['subject']}\n{row['body']}"
        for first, second in POSTAL_CODE.findall(text):
            code = first + second
            assert code[0] in "KLMNP" and not set(code) & set("DFIOQU"), f"{name}:{number}: {first} {second}"
        for area, exchange, line in PHONE.findall(text):
            assert area in {"905", "289"} and exchange == "555" and 100 <= int(line) <= 199, f"{name}:{number}"


def test_held_out_messages_are_not_copies_of_training_messages() -> None:
    train = [set(words(row).split()) for row in load_set("train")]
    for number, row in enumerate(load_set("test"), start=1):
        mine = set(words(row).split())
        if len(mine) <= 3:
            continue
        closest = max(len(mine & other) / len(mine | other) for other in train)
        assert closest <= 0.6, f"held-out message {number} is a near copy of a training message ({closest:.2f})"
