"""The rule layer: emergency phrases and detail extraction with spaCy matchers.

spaCy has no English model here, so this is `spacy.blank("en")` (tokenizer only) with a PhraseMatcher and a
Matcher per pattern file (patterns/*.jsonl). Staff can add a phrase without touching code: a line is
{"label": "EMERGENCY", "id": "gas_smell", "pattern": "smell of gas"} (a phrase, matched case-insensitively)
or a list of spaCy token patterns.

Speed: spaCy's Matcher tries every pattern at every token, and `IN` lists are checked in Python, so 50 patterns
on a 70-word email cost about 1 ms. Each token pattern therefore has an anchor: the required token that is
rarest in text. Patterns with the same anchor share a Matcher, which runs only on windows around the tokens
that are its anchor. The matches are the same (a window is longer than any of its patterns) at a fraction of
the cost.

Known limitation: the emergency rules do not understand negation or time. "No gas smell any more" and
"the sinkhole was fixed last year" still match. That is the safe direction (a human looks at it).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import spacy
from spacy.attrs import LOWER
from spacy.lang.en.stop_words import STOP_WORDS
from spacy.matcher import Matcher, PhraseMatcher
from spacy.tokens import Doc, Span
from spacy.vocab import Vocab

from classifiers.errors import PatternError
from classifiers.extract import Entity, regex_entities, resolve_overlaps, trim_rule_span

PATTERNS_DIR = Path(__file__).parent / "patterns"
EMERGENCY_PATTERNS = PATTERNS_DIR / "emergency.jsonl"
ENTITY_PATTERNS = PATTERNS_DIR / "entities.jsonl"
# Very long mail (forwarded threads, pasted documents) is cut before the rules and the models see it:
# what matters is almost always at the top, and the cut bounds the time a single message can take.
MAX_CHARS = 20_000
UNBOUNDED_REPEAT = 6  # tokens assumed for "*" and "+" when sizing the windows around anchors


@dataclass(frozen=True)
class EmergencyHit:
    rule: str  # the pattern id, e.g. "gas_smell"
    text: str
    start: int
    end: int

    def to_dict(self) -> dict[str, str | int]:
        return asdict(self)


@dataclass(frozen=True)
class RuleResult:
    emergencies: list[EmergencyHit]
    entities: list[Entity]


# spaCy's tokenizer takes time growing with the square of a run's length when it splits the run's characters off
# one by one (20,000 "(" in a row: over a minute). No token pattern matches inside a run without spaces this long
# (addresses, dates and phrases are short words), so the tokenizer sees blanks there; the regexes read the text.
LONGEST_RUN = 64
_LONG_RUN = re.compile(rf"\S{{{LONGEST_RUN + 1},}}")


def clip(text: str) -> str:
    return text[:MAX_CHARS]


def blank_long_runs(text: str) -> str:
    """The text with each run of more than LONGEST_RUN characters without a space made spaces (offsets kept)."""
    return _LONG_RUN.sub(lambda run: " " * len(run.group()), text)


def read_patterns(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """(line number, pattern) pairs from a JSONL pattern file."""
    if not path.is_file():
        raise PatternError(f"{path}: pattern file not found")
    patterns = []
    for line_number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            pattern = json.loads(line)
        except json.JSONDecodeError as exc:
            raise PatternError(f"{path}:{line_number}: invalid JSON ({exc.msg})") from None
        if not isinstance(pattern, dict) or not isinstance(pattern.get("label"), str) or not pattern["label"]:
            raise PatternError(f"{path}:{line_number}: expected an object with a non-empty string `label`")
        tokens = pattern.get("pattern")
        if not (isinstance(tokens, str) and tokens.strip()) and not (
            isinstance(tokens, list) and tokens and all(isinstance(t, dict) for t in tokens)
        ):
            raise PatternError(f"{path}:{line_number}: `pattern` must be a phrase or a list of token patterns")
        patterns.append((line_number, pattern))
    return patterns


def anchor_words(tokens: list[dict[str, Any]]) -> set[str] | None:
    """Lower-case words of the required token that is rarest in text; None if no token qualifies.

    Rarest is guessed: a token with no stop words ("on", "of", "and") beats one with any, then fewer
    alternatives beat more.
    """
    best: set[str] | None = None
    best_score: tuple[bool, int] = (True, 0)
    for token in tokens:
        if token.get("OP", "1") not in ("1", "+") and not _requires_one(token.get("OP", "")):
            continue
        words: set[str] | None = None
        for attr in ("LOWER", "ORTH", "TEXT"):
            value = token.get(attr)
            if isinstance(value, str):
                words = {value.lower()}
            elif isinstance(value, dict) and set(value) == {"IN"}:
                words = {str(word).lower() for word in value["IN"]}
        if words:
            score = (bool(words & STOP_WORDS), len(words))
            if best is None or score < best_score:
                best, best_score = words, score
    return best


def _requires_one(op: str) -> bool:
    """True for "{n,m}" / "{n}" / "{n,}" quantifiers with n >= 1."""
    if not (op.startswith("{") and op.endswith("}")):
        return False
    low = op[1:-1].split(",")[0]
    return low.isdigit() and int(low) >= 1


def pattern_length(tokens: list[dict[str, Any]]) -> int:
    length = 0
    for token in tokens:
        op = token.get("OP", "1")
        if op in ("*", "+"):
            length += UNBOUNDED_REPEAT
        elif op.startswith("{"):
            high = op[1:-1].split(",")[-1]
            length += int(high) if high.isdigit() else UNBOUNDED_REPEAT
        else:
            length += 1
    return length


@dataclass
class _AnchorGroup:
    """Token patterns that share one anchor word set, and how far a match can reach from the anchor."""

    matcher: Matcher
    window: int = 1


class PatternSet:
    """The patterns of one JSONL file: phrases in a PhraseMatcher, token patterns grouped by anchor."""

    def __init__(self, vocab: Vocab, path: Path, make_doc: Any) -> None:
        self.phrases = PhraseMatcher(vocab, attr="LOWER")
        self.unanchored = Matcher(vocab, validate=True)  # patterns without a word to anchor on
        self.groups: dict[frozenset[str], _AnchorGroup] = {}
        for line_number, pattern in read_patterns(path):
            key = f"{pattern['label']}\t{pattern.get('id') or pattern['label']}"
            tokens = pattern["pattern"]
            try:
                if isinstance(tokens, str):
                    self.phrases.add(key, [make_doc(tokens)])
                    continue
                anchors = anchor_words(tokens)
                if anchors is None:
                    self.unanchored.add(key, [tokens])
                    continue
                group = self.groups.setdefault(frozenset(anchors), _AnchorGroup(Matcher(vocab, validate=True)))
                group.matcher.add(key, [tokens])
                group.window = max(group.window, pattern_length(tokens))
            except ValueError as exc:  # spaCy's validation says which attribute is wrong
                raise PatternError(f"{path}:{line_number}: invalid pattern ({exc})") from None
        # anchor word hash -> the groups to run when it occurs
        self._groups_by_anchor: dict[int, list[_AnchorGroup]] = {}
        for words, group in self.groups.items():
            for word in words:
                self._groups_by_anchor.setdefault(vocab.strings.add(word), []).append(group)
        self._anchor_array = np.fromiter(self._groups_by_anchor, dtype=np.uint64)

    def spans(self, doc: Doc) -> list[Span]:
        found = list(self.phrases(doc, as_spans=True))
        if len(self.unanchored):
            found.extend(self.unanchored(doc, as_spans=True))
        if not self.groups or not len(doc):
            return found
        lowers = doc.to_array(LOWER)
        positions: dict[int, tuple[_AnchorGroup, list[int]]] = {}
        for position in np.flatnonzero(np.isin(lowers, self._anchor_array)).tolist():
            for group in self._groups_by_anchor[int(lowers[position])]:
                positions.setdefault(id(group), (group, []))[1].append(position)
        for group, anchor_positions in positions.values():
            for start, end in _windows(anchor_positions, group.window, len(doc)):
                found.extend(group.matcher(doc[start:end], as_spans=True))
        return found


def _windows(positions: list[int], width: int, length: int) -> list[tuple[int, int]]:
    """Merged token ranges reaching `width` tokens either side of each (sorted) anchor position."""
    merged: list[tuple[int, int]] = []
    for position in positions:
        start, end = max(0, position - width), min(length, position + width + 1)
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _split_key(span: Span) -> tuple[str, str]:
    label, _, rule_id = span.label_.partition("\t")
    return label, rule_id


class RuleEngine:
    def __init__(self, emergency_patterns: Path = EMERGENCY_PATTERNS, entity_patterns: Path = ENTITY_PATTERNS) -> None:
        self.nlp = spacy.blank("en")
        self.emergency = PatternSet(self.nlp.vocab, emergency_patterns, self.nlp.make_doc)
        self.entities = PatternSet(self.nlp.vocab, entity_patterns, self.nlp.make_doc)

    def analyse(self, texts: Sequence[str]) -> list[RuleResult]:
        clipped = [clip(text) for text in texts]
        docs = self.nlp.pipe([blank_long_runs(text) for text in clipped], batch_size=256)
        return [self.analyse_doc(doc, text) for doc, text in zip(docs, clipped, strict=True)]

    def analyse_doc(self, doc: Doc, text: str) -> RuleResult:
        """Rules on one tokenized text: `text` is what the doc was made from, before `blank_long_runs`."""
        hits = []
        for span in self.emergency.spans(doc):
            _, rule_id = _split_key(span)
            hits.append(Entity(rule_id, span.text, span.start_char, span.end_char))
        entities = list(regex_entities(text))
        for span in self.entities.spans(doc):
            label, _ = _split_key(span)
            trimmed = trim_rule_span(label, span)
            if trimmed is not None:
                entities.append(Entity(label, trimmed.text, trimmed.start_char, trimmed.end_char))
        # overlapping matches ("smell gas" inside "smell natural gas") count once, the longest wins
        emergencies = [EmergencyHit(h.label, h.text, h.start, h.end) for h in resolve_overlaps(hits)]
        return RuleResult(emergencies=emergencies, entities=resolve_overlaps(entities))


@lru_cache(maxsize=1)
def default_engine() -> RuleEngine:
    return RuleEngine()


def find_emergencies(text: str) -> list[EmergencyHit]:
    """Emergency phrases in one message, without a trained model (the ingester can call this alone)."""
    return default_engine().analyse([text])[0].emergencies


def extract_entities(text: str) -> list[dict[str, str | int]]:
    """Addresses, streets, intersections, postal codes, phones, emails, SR references and dates in one text."""
    return [entity.to_dict() for entity in default_engine().analyse([text])[0].entities]
