"""Personal information in the forms residents write it never reaches a log line or an export."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from civicdesk.cli.common import setup_logging
from civicdesk.privacy import RedactingFilter, redact
from civicdesk.settings import Settings
from civicdesk.triage import chat_nlu

# (text, the personal information in it): every format the centre sees in mail and chat.
CORPUS: list[tuple[str, list[str]]] = [
    ("Call me at (905) 555-0143 tomorrow", ["(905) 555-0143"]),
    ("my number is 905-555-0143", ["905-555-0143"]),
    ("905.555.0143 ext. 204 is my desk", ["905.555.0143 ext. 204"]),
    ("cell 9055550143", ["9055550143"]),
    ("reach me on +1 905 555 0143 after six", ["+1 905 555 0143"]),
    ("1-289-555-0199 or the house line 555-0142", ["1-289-555-0199", "555-0142"]),
    ("Phone: 613 555 0188 x12", ["613 555 0188 x12"]),
    ("email jo.smith+311@example.ca please", ["jo.smith+311@example.ca"]),
    ("MARIE.TREMBLAY@NORTHVALE.ON.CA wrote", ["MARIE.TREMBLAY@NORTHVALE.ON.CA"]),
    ("reply to d_singh@mail.example.org.", ["d_singh@mail.example.org"]),
    ("postal code L9T 2X5", ["L9T 2X5"]),
    ("postal code l9t2x5", ["l9t2x5"]),
    ("Northvale ON L9T-2X5", ["L9T-2X5"]),
    ("I live at 1250 King St W and the bin was missed", ["1250 King St W"]),
    ("pothole in front of 42 Maple Cres. since Monday", ["42 Maple Cres"]),
    ("water coming up at 12B Birchwood Avenue", ["12B Birchwood Avenue"]),
    ("nobody came to 15 Queen Street North", ["15 Queen Street North"]),
    ("Hi, my name is Marie-Claude Tremblay", ["Marie-Claude Tremblay"]),
    ("I'm Sam Okafor and I rent upstairs", ["Sam Okafor"]),
    ("Name: Robert O'Neil", ["Robert O'Neil"]),
    ("Mrs. Ouellette next door saw it too", ["Ouellette"]),
    ("Dr Anika Patel at the clinic", ["Anika Patel"]),
    ("Thanks,\nDevinder Singh\n", ["Devinder Singh"]),
    ("Kind regards,\n  Jean-Luc Picard", ["Jean-Luc Picard"]),
    ("Merci, Chantal Lévesque", ["Chantal Lévesque"]),
    ("From: Priya Natarajan <priya.n@example.org>", ["Priya Natarajan", "priya.n@example.org"]),
]


@pytest.mark.parametrize(("text", "personal"), CORPUS, ids=[text[:40] for text, _ in CORPUS])
def test_personal_information_is_replaced_by_tokens(text: str, personal: list[str]) -> None:
    redacted = redact(text)
    for value in personal:
        assert value not in redacted
    assert "<" in redacted  # replaced by a token, not dropped


def test_what_is_not_personal_stays() -> None:
    text = (
        "SR-2026-000123 was closed in 2026; the sinkhole on Concession Road 4 near Elm St and Oak Ave is back. "
        "Garbage day is Tuesday."
    )
    assert redact(text) == text


def test_a_long_message_is_redacted_to_its_end() -> None:
    text = "Nothing to see here. " * 2000 + "Call 905-555-0143."
    assert redact(text).endswith("Call <PHONE>.")


@pytest.fixture
def log_stream() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("civicdesk.test_privacy")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield logger, stream
    finally:
        logger.removeHandler(handler)
        logger.propagate = True


def test_log_records_are_redacted_with_their_arguments_and_tracebacks(
    log_stream: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = log_stream
    logger.warning("acknowledgement to %s failed", "jo.smith@example.ca")
    address = "1250 King St W, L9T 2X5"
    try:
        raise KeyError(address)
    except KeyError:
        logger.exception("no request for %s", "Name: Robert O'Neil")
    written = stream.getvalue()
    for value in ("jo.smith@example.ca", "1250 King St W", "L9T 2X5", "Robert O'Neil"):
        assert value not in written
    assert "acknowledgement to <EMAIL> failed" in written
    assert "KeyError" in written  # the traceback is still there for the engineer


def test_every_command_logs_through_the_redacting_filter(settings: Settings) -> None:
    root = logging.getLogger()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root.addHandler(handler)
    try:
        setup_logging(settings)
        logging.getLogger("email_ingest.runner").warning("message from %s", "905-555-0143")
    finally:
        root.removeHandler(handler)
    assert "message from <PHONE>" in stream.getvalue()


@pytest.mark.parametrize(("text", "personal"), CORPUS, ids=[text[:40] for text, _ in CORPUS])
def test_the_training_export_of_chat_messages_leaks_none_of_the_corpus(text: str, personal: list[str]) -> None:
    exported = chat_nlu.redact(text)  # what `classifiers export-chat-nlu` writes for each message
    for value in personal:
        assert value not in exported
