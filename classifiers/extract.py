"""Details residents put in their messages: addresses, intersections, postal codes, phones, emails,
request references and dates.

Token patterns (patterns/entities.jsonl, run by the span ruler in rules.py) handle what reads as words
(addresses, intersections, dates written with month names). Regexes handle what the tokenizer splits
awkwardly: "(905) 555-0123" is five tokens and "SR-2026-000123" three.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass

from spacy.tokens import Span

# Canadian postal code letters: D, F, I, O, Q, U never appear; W and Z never come first.
_POSTAL_FIRST = "ABCEGHJ-NPRSTVXY"
_POSTAL_OTHER = "ABCEGHJ-NPRSTV-Z"

REGEX_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("EMAIL", re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")),
    ("REFERENCE", re.compile(r"\bSR[- ]?\d{4}[- ]?\d{6}\b", re.IGNORECASE)),
    (
        "POSTAL_CODE",
        re.compile(rf"\b[{_POSTAL_FIRST}]\d[{_POSTAL_OTHER}][ -]?\d[{_POSTAL_OTHER}]\d\b", re.IGNORECASE),
    ),
    (
        "PHONE",
        re.compile(
            r"(?<![\w-])(?:\+?1[\s.-]?)?(?:\([2-9]\d{2}\)\s?|[2-9]\d{2}[\s.-]?)[2-9]\d{2}[\s.-]?\d{4}"
            r"(?:\s*(?:ext\.?|extension|x)\s*\d{1,5})?(?![\w-])",
            re.IGNORECASE,
        ),
    ),
    # numeric dates: 2026-03-14, 14/03/2026, 3/14/26 (day and month order is left to the reader)
    (
        "DATE",
        re.compile(r"(?<![\w/-])(?:(?:19|20)\d\d-[01]\d-[0-3]\d|[0-3]?\d/[0-3]?\d/(?:19|20)?\d\d)(?![\w/-])"),
    ),
)

# Words a pattern needs to find an intersection but that are not part of its name.
_INTERSECTION_PREFIXES = frozenset({"corner", "intersection"})
# Title-case name patterns also match "The Road" or "On Main St"; a name never starts with these words.
_NOT_A_NAME_START = frozenset(
    (  # noqa: SIM905 - a word list reads better as words
        "the a an on at in of and or to for from by with near my our your their this that is are was were i we "
        "you they it there hi hello please across behind beside along past outside into onto over under about "
        "after before since until between around but so not no"
    ).split()
)


@dataclass(frozen=True)
class Entity:
    label: str
    text: str
    start: int  # character offsets into the text given to predict()
    end: int

    def to_dict(self) -> dict[str, str | int]:
        return asdict(self)


def regex_entities(text: str) -> list[Entity]:
    found = []
    for label, pattern in REGEX_PATTERNS:
        for match in pattern.finditer(text):
            found.append(Entity(label, match.group(0), match.start(), match.end()))
    return found


def trim_rule_span(label: str, span: Span) -> Span | None:
    """The part of a matched span that is the entity, or None when the match is not one."""
    if label == "INTERSECTION" and span[0].lower_ in _INTERSECTION_PREFIXES:
        span = span[2:]  # "corner of King & Queen" -> "King & Queen"
    if label in ("STREET", "INTERSECTION") and span[0].lower_ in _NOT_A_NAME_START:
        return None  # a shorter match without the leading word is also found
    return span


def resolve_overlaps(entities: Iterable[Entity]) -> list[Entity]:
    """Keep the longest of overlapping entities ("123 Main St" over "Main St"), earliest first on ties."""
    chosen: list[Entity] = []
    for entity in sorted(entities, key=lambda e: (-(e.end - e.start), e.start)):
        if all(entity.end <= other.start or entity.start >= other.end for other in chosen):
            chosen.append(entity)
    return sorted(chosen, key=lambda e: e.start)
