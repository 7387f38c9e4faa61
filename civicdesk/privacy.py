"""Residents' personal information kept out of what leaves its record: logs, training exports, report extracts.

The centre collects names, email addresses, phone numbers, street addresses and postal codes to answer a
resident (MFIPPA, s. 28(2)); a log line, a file of examples for retraining or a report extract has no need of
them. `redact` replaces each with a token naming what was there ("<PHONE>"), so a reader still sees the shape
of the message.

What is found, and how:
- emails, phone numbers and postal codes: the extraction regexes of the triage rules (classifiers/extract.py);
- street addresses ("1250 King St W, Unit 4"): the same span patterns the extraction uses;
- names: the words that introduce them ("my name is", "Name:", "Mrs.", a sign-off line after "Thanks,",
  a display name before an email address). A name with no such cue ("Pat called about the bin") is not found:
  text without cues cannot be told apart from a street or a business name without a trained model, which this
  project does not have (no spaCy model can be downloaded here). Redaction errs towards removing: "Dear Service
  First" loses its two words too.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from urllib.parse import unquote, unquote_plus

from classifiers.rules import MAX_CHARS, default_engine

# What each kind of personal information becomes. Street names alone and intersections stay: they name public
# places, not someone's home.
TOKENS = {
    "EMAIL": "<EMAIL>",
    "PHONE": "<PHONE>",
    "POSTAL_CODE": "<POSTAL_CODE>",
    "ADDRESS": "<ADDRESS>",
    "NAME": "<NAME>",
}

# A capital, then letters of any language; possessive (*+), as a shorter word is never followed by what a pattern
# wants next, so giving letters back only costs time.
_NAME_WORD = r"[A-ZÀ-ÖØ-Þ](?:[^\W\d_]|['’.-])*+"
_NAME = rf"{_NAME_WORD}(?:[ \t]+(?:(?:de|van|von|der|la|le|du|di)[ \t]+)?{_NAME_WORD}){{0,3}}"
_NAME_CUES = (
    # "my name is Jo Smith", "I'm Jo Smith", "this is Jo Smith calling"
    r"(?i:\bmy\s+name\s+is|\bname\s*:|\bi\s+am|\bi'?m|\bthis\s+is|\bsigned|\bfrom\s*:|\bcontact\s*:)"
    rf"[ \t]+(?P<name>{_NAME})",
    # titles: "Mrs. Ouellette", "Dr Jo Smith"
    rf"\b(?:Mr|Mrs|Ms|Miss|Mx|Dr|Rev|Prof)\.?[ \t]+(?P<name>{_NAME})",
    # a sign-off followed by the name on the same or the next line: "Thanks,\nJo Smith"
    rf"(?im:^[ \t]*(?:thanks|thank\s+you|regards|kind\s+regards|best\s+regards|best|sincerely|cheers|merci"
    rf"|cordialement)[ \t]*[,!.-]?[ \t]*\n?[ \t]*(?P<name>{_NAME})[ \t]*$)",
    # a display name before an address: "Jo Smith <jo@example.ca>"
    # (it starts where a word starts: tried inside every word of a long run, it read the run again each time)
    rf"(?<![^\W\d_])(?<!['’.-])(?P<name>{_NAME})[ \t]*<[^<>@\s]+@[^<>\s]+>",
)
_NAME_PATTERNS = tuple(re.compile(pattern) for pattern in _NAME_CUES)


def _name_spans(text: str) -> Iterable[tuple[int, int, str]]:
    for pattern in _NAME_PATTERNS:
        for match in pattern.finditer(text):
            yield match.start("name"), match.end("name"), "NAME"


# Longer than any email address, phone number or street address: pieces of a long text overlap by this much, so one
# cut in two by a piece's end is still found whole in the next (the overlapping spans are merged).
_PIECE_OVERLAP = 300


def _entity_spans(text: str) -> Iterable[tuple[int, int, str]]:
    # The rules read at most MAX_CHARS at a time; longer text (a forwarded thread) is read in overlapping pieces.
    for offset in range(0, len(text), MAX_CHARS - _PIECE_OVERLAP):
        piece = text[offset : offset + MAX_CHARS]
        for entity in default_engine().analyse([piece])[0].entities:
            if entity.label in TOKENS:
                yield offset + entity.start, offset + entity.end, entity.label


def personal_spans(text: str) -> list[tuple[int, int, str]]:
    """(start, end, label) of each piece of personal information, overlaps merged, in text order."""
    spans = sorted([*_entity_spans(text), *_name_spans(text)])
    merged: list[tuple[int, int, str]] = []
    for start, end, label in spans:
        if merged and start < merged[-1][1]:
            last_start, last_end, last_label = merged[-1]
            merged[-1] = (last_start, max(end, last_end), last_label)
        else:
            merged.append((start, end, label))
    return merged


def redact(text: str) -> str:
    """The text with every name, email, phone number, street address and postal code replaced by a token."""
    if not text:
        return text
    pieces: list[str] = []
    cursor = 0
    for start, end, label in personal_spans(text):
        pieces.append(text[cursor:start])
        pieces.append(TOKENS[label])
        cursor = end
    pieces.append(text[cursor:])
    return "".join(pieces)


# Query parameters that are credentials: a chat's conversation id (its only key), Open311's api_key, tokens.
_SECRET_PARAMETERS = frozenset({"conversation", "api_key", "apikey", "key"})
_SECRET_PARAMETER_PART = re.compile("token|secret|password|csrf")
SECRET_VALUE = "[redacted]"


def _is_secret(parameter: str) -> bool:
    name = parameter.lower()
    return name in _SECRET_PARAMETERS or _SECRET_PARAMETER_PART.search(name) is not None


def _printable(text: str) -> str:
    # A decoded %0A must not start a forged log line.
    return "".join(char if char.isprintable() else char.encode("unicode_escape").decode() for char in text)


def loggable_target(target: str) -> str:
    """A request's path and query as a log line may show them: decoded (so `redact` sees `jo@example.ca`, not
    `jo%40example.ca`), with the value of every credential parameter replaced by "[redacted]"."""
    path, separator, query = target.partition("?")
    parameters = []
    for parameter in query.split("&") if separator else ():
        name, equals, value = parameter.partition("=")
        name = unquote_plus(name)
        parameters.append(name + equals + (SECRET_VALUE if _is_secret(name) else unquote_plus(value)))
    return _printable(unquote(path) + separator + "&".join(parameters))


class RedactingFilter(logging.Filter):
    """Put on a log handler: each record's message is formatted and redacted before it is written.

    uvicorn's access and WebSocket lines carry the request target percent-encoded as an argument: it is decoded
    and its credentials masked first (`loggable_target`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("uvicorn") and isinstance(record.args, tuple):
            record.args = tuple(
                loggable_target(arg) if isinstance(arg, str) and arg.startswith("/") else arg for arg in record.args
            )
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message or record.args:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            # Tracebacks quote values too (a KeyError on an address): format now so the text can be redacted.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


def redact_logs(handlers: Iterable[logging.Handler] | None = None) -> None:
    """Add the redacting filter to the given handlers (default: the root logger's), once each."""
    for handler in handlers if handlers is not None else logging.getLogger().handlers:
        if not any(isinstance(existing, RedactingFilter) for existing in handler.filters):
            handler.addFilter(RedactingFilter())
