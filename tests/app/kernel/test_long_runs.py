"""Every regular expression that reads resident- or sender-supplied text, fed a 1 MB run of one shape.

A pattern that backtracks quadratically (or worse) on a long run without the character it is looking for takes
minutes on 1 MB, so these tests fail by running for minutes, not by a timing assertion; each asserts what comes
back. Open311's public text (issue 17) took 2.6 s for 30,000 characters before its pattern was fixed.
"""

from __future__ import annotations

import pytest

from civicdesk import privacy, validation
from civicdesk.catalogue import referrals
from civicdesk.errors import InvalidInput
from civicdesk.knowledge.search import summarize
from civicdesk.mail import cases, parse
from civicdesk.models import ServiceRequest
from civicdesk.seed_schema import count_words
from civicdesk.service_requests.open311 import creating, reading, rendering, serializers
from civicdesk.triage import chat_nlu
from classifiers.extract import regex_entities
from classifiers.rules import MAX_CHARS

SIZE = 1_000_000
# Runs without the space, '@' or closing mark a pattern waits for: each was slow in some pattern before.
SHAPES = {
    "letters": "a" * SIZE,
    "capitals": "A" * SIZE,
    "letter-dots": "a." * (SIZE // 2),
    "capital-dots": "A." * (SIZE // 2),
    "digits": "1" * SIZE,
    "at-signs": "x@" * (SIZE // 2),
    "dashes": "-" * SIZE,
    "brackets": "[" * SIZE,
    "mixed": "aB1.-_%+x@[(" * (SIZE // 12),
}
EMAIL = " jo.smith@example.org "


@pytest.fixture(params=list(SHAPES), ids=list(SHAPES))
def run(request: pytest.FixtureRequest) -> str:
    return SHAPES[request.param]


def test_open311_public_text_keeps_a_run_and_still_removes_an_email(run: str) -> None:
    request = ServiceRequest()
    assert serializers.public_text(run, request) == run
    assert serializers.public_text(run + EMAIL + run, request) == run + " [email removed] " + run


def test_redaction_keeps_a_run_and_still_removes_an_email(run: str) -> None:
    assert privacy.redact(run) == run
    # the rules read 20,000 characters at a time: an address across a piece's end is found all the same
    assert privacy.redact(run + EMAIL + "x" * 30) == run + " <EMAIL> " + "x" * 30
    assert chat_nlu.redact(run) == " ".join(run.replace("[", "(").split())[: chat_nlu.MAX_EXAMPLE_CHARS]


def test_name_cues_find_a_name_after_a_run(run: str) -> None:
    assert privacy.redact(run + " and Jo Smith <jo@example.org>").endswith(" and <NAME> <<EMAIL>>")
    assert privacy.redact(run + "\nThanks,\nJo Smith") == run + "\nThanks,\n<NAME>"


def test_extraction_regexes_find_nothing_in_a_run(run: str) -> None:
    assert [e.label for e in regex_entities(run)] == []
    assert [e.label for e in regex_entities(run + EMAIL)] == ["EMAIL"]


def test_email_helpers_read_a_run(run: str) -> None:
    assert cases.normalize_reference(run) is None
    assert parse.message_ids(run) == []
    assert parse.split_reply(run) == (run, "", "")
    assert parse.html_to_text(run) == run


def test_search_helpers_read_a_run(run: str) -> None:
    assert referrals.words(run) is not None
    assert len(summarize(run)) <= 281
    assert count_words(run + " word") >= 1


def test_open311_input_patterns_read_a_run(run: str) -> None:
    assert creating.POSTAL_CODE_IN_TEXT.search(run.upper()) is None
    assert creating.ATTRIBUTE_FIELD.match("attribute[" + run) is None
    assert reading.W3_DATETIME.match(run) is None
    assert rendering.NOT_XML_CHARACTERS.sub("", run) == run


def test_validation_refuses_a_run(run: str) -> None:
    for check in (validation.email, validation.postal_code, validation.phone):
        with pytest.raises(InvalidInput):
            check(run)


def test_an_email_across_the_end_of_a_piece_is_redacted() -> None:
    head = "x" * (MAX_CHARS - 10) + " "  # the address starts 9 characters before the first piece ends
    assert privacy.redact(head + "jo.smith@example.org and more") == head + "<EMAIL> and more"
