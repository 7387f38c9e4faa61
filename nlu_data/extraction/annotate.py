"""Write extraction examples as readable markup and turn them into the JSONL files (and back).

Markup is one text per line with each entity written in place as {{span|LABEL}}; a literal "\\n" is a line
break inside the text and lines starting with "#" are comments. Offsets are computed here, never by hand:

    python nlu_data/extraction/annotate.py to-jsonl test.txt > nlu_data/extraction/test.jsonl
    python nlu_data/extraction/annotate.py to-markup nlu_data/extraction/test.jsonl > test.txt

Edit the markup, convert it back and run tests/app/classifiers/test_extraction_quality.py, which checks every file.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

LABELS = ("ADDRESS", "STREET", "INTERSECTION", "POSTAL_CODE", "PHONE", "EMAIL", "REFERENCE", "DATE")
_MARK = re.compile(r"\{\{(.+?)\|([A-Z_]+)\}\}")


def parse_line(line: str) -> dict[str, Any]:
    """One markup line as {"text": ..., "entities": [{"start", "end", "label"}]}."""
    line = line.replace("\\n", "\n")
    text_parts: list[str] = []
    entities: list[dict[str, Any]] = []
    position = 0
    length = 0
    for match in _MARK.finditer(line):
        span, label = match.group(1), match.group(2)
        if label not in LABELS:
            raise ValueError(f"unknown label {label!r} in {line!r}")
        if span != span.strip() or span[-1] in ".,;:":
            raise ValueError(f"span {span!r} starts or ends with whitespace or punctuation")
        before = line[position : match.start()]
        text_parts.append(before)
        length += len(before)
        entities.append({"start": length, "end": length + len(span), "label": label})
        text_parts.append(span)
        length += len(span)
        position = match.end()
    text_parts.append(line[position:])
    text = "".join(text_parts)
    if "{{" in text or "}}" in text:
        raise ValueError(f"unbalanced markup in {line!r}")
    return {"text": text, "entities": entities}


def to_markup(record: dict[str, Any]) -> str:
    text = str(record["text"])
    out: list[str] = []
    position = 0
    for entity in sorted(record["entities"], key=lambda e: int(e["start"])):
        start, end = int(entity["start"]), int(entity["end"])
        out.append(text[position:start])
        out.append(f"{{{{{text[start:end]}|{entity['label']}}}}}")
        position = end
    out.append(text[position:])
    return "".join(out).replace("\n", "\\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("direction", choices=["to-jsonl", "to-markup"])
    parser.add_argument("path", type=Path)
    args = parser.parse_args()
    lines = args.path.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, start=1):
        if not line.strip() or (args.direction == "to-jsonl" and line.startswith("#")):
            continue
        try:
            if args.direction == "to-jsonl":
                print(json.dumps(parse_line(line), ensure_ascii=False))
            else:
                print(to_markup(json.loads(line)))
        except (ValueError, KeyError) as exc:
            sys.exit(f"{args.path}:{number}: {exc}")


if __name__ == "__main__":
    main()
