"""Reading labelled triage examples from CSV or JSONL files.

A row has its text in `text`, or in `subject` and `body` (joined the same way the ingester joins an email),
and a label in any of the columns `service_code`, `kind` and `urgency`. Staff train on their own categories,
so no label set is assumed here; a row may leave a head empty and is then left out of that head only.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from classifiers.errors import DataError

LABEL_COLUMNS: tuple[str, ...] = ("service_code", "kind", "urgency")
TEXT_COLUMNS: tuple[str, ...] = ("text", "subject", "body")
MAX_LABEL_LENGTH = 100

__all__ = ["DataError", "Dataset", "Example", "compose_text", "load_dataset", "text_from_record"]


@dataclass(frozen=True)
class Example:
    text: str
    labels: Mapping[str, str]
    source: str  # "file:line", so later problems can point back at the row


@dataclass(frozen=True)
class DataFile:
    path: str
    sha256: str
    rows: int


@dataclass
class Dataset:
    examples: list[Example]
    files: list[DataFile] = field(default_factory=list)

    @property
    def heads(self) -> list[str]:
        """Label columns that have at least one value, in the fixed head order."""
        present = {head for example in self.examples for head in example.labels}
        return [head for head in LABEL_COLUMNS if head in present]

    @property
    def sha256(self) -> str:
        return combined_sha256([f.sha256 for f in self.files])

    def texts(self) -> list[str]:
        return [example.text for example in self.examples]

    def labelled(self, head: str) -> tuple[list[int], list[str]]:
        """Row indexes and labels of the rows that have a label for `head`."""
        rows = [i for i, example in enumerate(self.examples) if head in example.labels]
        return rows, [self.examples[i].labels[head] for i in rows]


def compose_text(subject: str | None, body: str | None) -> str:
    """One text from an email's subject and body; training and prediction must join them the same way."""
    parts = [part.strip() for part in (subject, body) if part and part.strip()]
    return "\n\n".join(parts)


def text_from_record(record: Mapping[str, Any]) -> str:
    """The text of a record with `text`, or `subject`/`body`. Raises ValueError (without location)."""
    for column in TEXT_COLUMNS:
        value = record.get(column)
        if value is not None and not isinstance(value, str):
            raise ValueError(f"`{column}` must be a string, got {type(value).__name__}")
    text = (record.get("text") or "").strip()
    if not text:
        text = compose_text(record.get("subject"), record.get("body"))
    if not text:
        raise ValueError("no text: expected a non-empty `text`, or `subject` and/or `body`")
    return text


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def combined_sha256(file_hashes: Sequence[str]) -> str:
    """Hash of several files, independent of the order they were given in."""
    return hashlib.sha256("\n".join(sorted(file_hashes)).encode()).hexdigest()


def data_sha256(paths: Sequence[Path]) -> str:
    return combined_sha256([file_sha256(Path(p)) for p in paths])


def load_dataset(paths: Sequence[Path], *, require_labels: bool = True) -> Dataset:
    """Read every file; raise DataError naming the file and line of the first problem."""
    if not paths:
        raise DataError("no data files given")
    dataset = Dataset(examples=[])
    for raw_path in paths:
        path = Path(raw_path)
        examples = read_examples(path, require_labels=require_labels)
        dataset.examples.extend(examples)
        dataset.files.append(DataFile(path=str(path), sha256=file_sha256(path), rows=len(examples)))
    return dataset


def read_examples(path: Path, *, require_labels: bool = True) -> list[Example]:
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    suffix = path.suffix.lower()
    if suffix not in (".jsonl", ".csv"):
        raise DataError(f"{path}: unsupported file type {suffix or '(none)'}; use .jsonl or .csv")
    raw = path.read_bytes()
    try:
        content = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DataError(f"{path}:{line}: not valid UTF-8 text") from None
    records = _jsonl_records(path, content) if suffix == ".jsonl" else _csv_records(path, content)
    examples = []
    for line, record in records:
        try:
            examples.append(_example(record, f"{path}:{line}", require_labels))
        except ValueError as exc:
            raise DataError(f"{path}:{line}: {exc}") from None
    if not examples:
        raise DataError(f"{path}: no rows")
    return examples


def _example(record: Mapping[str, Any], source: str, require_labels: bool) -> Example:
    text = text_from_record(record)
    labels: dict[str, str] = {}
    for head in LABEL_COLUMNS:
        value = record.get(head)
        if value is None:
            continue
        if not isinstance(value, str):
            raise ValueError(f"`{head}` must be a string, got {type(value).__name__}")
        value = value.strip()
        if len(value) > MAX_LABEL_LENGTH:
            raise ValueError(f"`{head}` label is longer than {MAX_LABEL_LENGTH} characters")
        if value:
            labels[head] = value
    if require_labels and not labels:
        raise ValueError(f"no label: expected at least one of {', '.join(LABEL_COLUMNS)}")
    return Example(text=text, labels=labels, source=source)


def _jsonl_records(path: Path, content: str) -> Iterator[tuple[int, Mapping[str, Any]]]:
    for line_number, line in enumerate(content.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}:{line_number}: invalid JSON ({exc.msg})") from None
        if not isinstance(record, dict):
            raise DataError(f"{path}:{line_number}: expected a JSON object, got {type(record).__name__}")
        yield line_number, record


def _csv_records(path: Path, content: str) -> Iterator[tuple[int, Mapping[str, Any]]]:
    reader = csv.reader(io.StringIO(content, newline=""))
    try:
        header = [column.strip() for column in next(reader, [])]
    except csv.Error as exc:
        raise DataError(f"{path}:1: cannot read the CSV header ({exc})") from None
    if not header:
        raise DataError(f"{path}:1: empty file, expected a header row")
    if not any(column in header for column in TEXT_COLUMNS):
        raise DataError(f"{path}:1: header has no text column; expected `text` or `subject`/`body`")
    previous_end = reader.line_num
    while True:
        start = previous_end + 1  # a quoted field can span lines: report where the record starts
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise DataError(f"{path}:{start}: malformed CSV ({exc})") from None
        previous_end = reader.line_num
        if not any(value.strip() for value in fields):
            continue  # blank line
        if len(fields) > len(header):
            raise DataError(f"{path}:{start}: {len(fields)} fields but the header has {len(header)} columns")
        yield start, dict(zip(header, fields, strict=False))
