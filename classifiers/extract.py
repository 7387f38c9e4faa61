"""Details residents put in their messages: addresses, intersections, postal codes, phones, emails,
request references and dates. What each label covers is written down in nlu_data/extraction/README.md.

Token patterns (patterns/entities.jsonl, run by the span ruler in rules.py) handle what reads as words
(addresses, streets, intersections, dates written with month names). Regexes handle what the tokenizer splits
awkwardly: "(905) 555-0123" is five tokens and "SR-2026-000123" three. trim_rule_span() then applies what a
pattern cannot see: the words around a match ("between", "every") and the dot of a final abbreviation.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass

from spacy.lang.en.stop_words import STOP_WORDS
from spacy.tokens import Span

# Canadian postal code letters: D, F, I, O, Q, U never appear; W and Z never come first.
_POSTAL_FIRST = "ABCEGHJ-NPRSTVXY"
_POSTAL_OTHER = "ABCEGHJ-NPRSTV-Z"
_DASH = "-\u2010-\u2015"  # hyphen and the dashes word processors put in its place

# A regex with a group named "span" marks only that group; the rest of the match is context.
REGEX_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    # at most 64 characters before the '@' (RFC 5321): unbounded, a long run was read again from every word start
    ("EMAIL", re.compile(r"\b[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")),
    ("REFERENCE", re.compile(rf"\bSR *#? *[{_DASH}]? *\d{{4}} *[{_DASH}]? *\d{{6,7}}\b", re.IGNORECASE)),
    # a bare year-sequence number counts only when the writer calls it a request, reference or case number
    (
        "REFERENCE",
        re.compile(
            r"\b(?:request|reference|ref|case)\.?(?:\s+(?:number|no\.?|num\.?))?(?:\s+is)?\s*[#:]?\s*"
            rf"(?P<span>(?:19|20)\d\d[{_DASH} ]\d{{6,7}})\b",
            re.IGNORECASE,
        ),
    ),
    (
        "POSTAL_CODE",
        re.compile(rf"\b[{_POSTAL_FIRST}]\d[{_POSTAL_OTHER}][ -]?\d[{_POSTAL_OTHER}]\d\b", re.IGNORECASE),
    ),
    (
        "PHONE",
        re.compile(
            r"(?<![\w-])(?:\+?1[\s.-]?)?(?:\([2-9]\d{2}\)[\s.-]?|[2-9]\d{2}[\s.-]?)[2-9]\d{2}[\s.-]?\d{4}"
            r"(?:,?\s*(?:ext\.?|extension|x)\s*\d{1,5})?(?![\w-])",
            re.IGNORECASE,
        ),
    ),
    # a local number without its area code ("555-0142"): the separator is required, bare 7-digit runs are
    # order and account numbers far more often than phones
    ("PHONE", re.compile(r"(?<![\w.-])[2-9]\d{2}[.-]\d{4}(?![\w-]|\.\d)")),
    # numeric dates: 2026-03-14, 2026/03/14, 2026.03.14, 14/03/2026, 14-03-2026, 3/14/26 (day and month order is
    # left to the reader); two-digit years only with slashes, "3.5.25" is more often a version or a score
    (
        "DATE",
        re.compile(
            r"(?<![\w/.-])(?:(?:19|20)\d\d([-/.])[01]?\d\1[0-3]?\d|[0-3]?\d([-/.])[0-3]?\d\2(?:19|20)\d\d"
            r"|[0-3]?\d/[0-3]?\d/\d\d)(?![\w/-]|\.\d)"
        ),
    ),
)

# Words a pattern needs to find an intersection but that are not part of its name.
_INTERSECTION_PREFIXES = frozenset({"corner", "intersection"})
# Title-case name patterns also match "The Road", "Yesterday Canal Street" or a subject line's "Missed Collection
# Birchwood Crescent"; a name never starts with these words. spaCy's stop words, less those that begin real
# street names (Front Street, Third Line, Side Road, Five Points Road), plus day words and the topic words
# residents put in title-case subject lines (none of which names a street here).
_NAME_WORDS_IN_STOP_WORDS = frozenset(
    (  # noqa: SIM905 - a word list reads better as words
        "front back top bottom first third side well full part name one two three four five six eight nine ten "
        "eleven twelve fifteen twenty forty fifty sixty hundred"
    ).split()
)
_NOT_A_NAME_START = (STOP_WORDS - _NAME_WORDS_IN_STOP_WORDS) | frozenset(
    (  # noqa: SIM905 - a word list reads better as words
        "hi hello thanks thank dear fwd fw today yesterday tonight tomorrow monday tuesday wednesday thursday "
        "friday saturday sunday missed broken pothole potholes complaint request report urgent streetlight "
        "streetlights collection garbage recycling flooding flooded damaged blocked leaking graffiti noise "
        "abandoned illegal dumping icy unplowed"
    ).split()
)
# "Stonebridge Blvd between Foxtail Way and Hillcrest Ave" is a stretch of road, "both Dock St and Harbour St"
# two streets: neither is a corner.
_NOT_BEFORE_INTERSECTION = frozenset({"between", "both"})
# "every Tuesday" is a schedule, not a day.
_NOT_BEFORE_DATE = frozenset({"every", "each"})
# Labels whose spans never end with a dot: "12B Maple Cres." is the address "12B Maple Cres".
_NO_FINAL_DOT = frozenset({"ADDRESS", "STREET", "INTERSECTION", "DATE"})


@dataclass(frozen=True)
class Entity:
    label: str
    text: str
    start: int  # character offsets into the text given to predict()
    end: int

    def to_dict(self) -> dict[str, str | int]:
        return asdict(self)


@dataclass(frozen=True)
class CharSpan:
    """A matched span cut to characters (a spaCy Span can only end on a token, and "St." is one token)."""

    text: str
    start_char: int
    end_char: int


def regex_entities(text: str) -> list[Entity]:
    found = []
    for label, pattern in REGEX_PATTERNS:
        group = "span" if "span" in pattern.groupindex else 0
        for match in pattern.finditer(text):
            found.append(Entity(label, match.group(group), match.start(group), match.end(group)))
    return found


def trim_rule_span(label: str, span: Span) -> CharSpan | None:
    """The part of a matched span that is the entity, or None when the match is not one."""
    if label == "INTERSECTION" and span[0].lower_ in _INTERSECTION_PREFIXES:
        span = span[2:]  # "corner of King & Queen" -> "King & Queen"
    if label in ("STREET", "INTERSECTION") and span[0].lower_ in _NOT_A_NAME_START:
        return None  # a shorter match without the leading word is also found
    before = span.doc[span.start - 1] if span.start > 0 else None
    if (
        label == "INTERSECTION"
        and before is not None
        and (before.lower_ in _NOT_BEFORE_INTERSECTION or before.like_num)
    ):
        return None  # "between X and Y" are two streets; "12 King St and Elm Ave" starts with an address
    if label == "DATE" and before is not None and before.lower_ in _NOT_BEFORE_DATE:
        return None
    text, start = span.text, span.start_char
    if label in _NO_FINAL_DOT:
        text = text.rstrip(". ")
    return CharSpan(text, start, start + len(text))


def resolve_overlaps(entities: Iterable[Entity]) -> list[Entity]:
    """Keep the longest of overlapping entities ("123 Main St" over "Main St"), earliest first on ties."""
    chosen: list[Entity] = []
    for entity in sorted(entities, key=lambda e: (-(e.end - e.start), e.start)):
        if all(entity.end <= other.start or entity.start >= other.end for other in chosen):
            chosen.append(entity)
    return sorted(chosen, key=lambda e: e.start)


LABELS = ("ADDRESS", "STREET", "INTERSECTION", "POSTAL_CODE", "PHONE", "EMAIL", "REFERENCE", "DATE")
SpanKey = tuple[int, int, str]  # start, end, label


@dataclass(frozen=True)
class LabelScore:
    """Counts for one label; `partial_*` count a span as found when one of the same label overlaps it."""

    support: int  # gold spans
    predicted: int
    exact: int  # predicted spans equal to a gold span
    partial_found: int  # gold spans overlapped by a prediction
    partial_right: int  # predictions overlapping a gold span

    @property
    def precision(self) -> float:
        return self.exact / self.predicted if self.predicted else 1.0

    @property
    def recall(self) -> float:
        return self.exact / self.support if self.support else 1.0

    @property
    def f1(self) -> float:
        total = self.precision + self.recall
        return 2 * self.precision * self.recall / total if total else 0.0

    @property
    def partial_precision(self) -> float:
        return self.partial_right / self.predicted if self.predicted else 1.0

    @property
    def partial_recall(self) -> float:
        return self.partial_found / self.support if self.support else 1.0


def score(gold: Iterable[Iterable[SpanKey]], predicted: Iterable[Iterable[SpanKey]]) -> dict[str, LabelScore]:
    """Per-label scores over texts (gold and predicted spans listed text by text), plus "micro" over all labels."""
    counts: dict[str, list[int]] = {label: [0, 0, 0, 0, 0] for label in (*LABELS, "micro")}
    for gold_spans, predicted_spans in zip(gold, predicted, strict=True):
        gold_set, predicted_set = set(gold_spans), set(predicted_spans)
        for label in LABELS:
            wanted = [s for s in gold_set if s[2] == label]
            found = [s for s in predicted_set if s[2] == label]
            row = [
                len(wanted),
                len(found),
                len(set(wanted) & set(found)),
                sum(any(_overlap(g, p) for p in found) for g in wanted),
                sum(any(_overlap(p, g) for g in wanted) for p in found),
            ]
            for key in (label, "micro"):
                counts[key] = [a + b for a, b in zip(counts[key], row, strict=True)]
    return {label: LabelScore(*row) for label, row in counts.items()}


def _overlap(a: SpanKey, b: SpanKey) -> bool:
    return a[0] < b[1] and b[0] < a[1]
