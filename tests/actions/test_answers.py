"""Answers to a service's own questions (Open311 attributes), read in the core's terms."""

from __future__ import annotations

from typing import Any

import pytest

from actions.service_requests import read_answer

HOLE_SIZE = {
    "code": "hole_size",
    "datatype": "singlevaluelist",
    "description": "About how big is the pothole or damaged area?",
    "help": None,
    "values": [
        {"key": "smaller_than_plate", "name": "Smaller than a dinner plate"},
        {"key": "plate_to_tire", "name": "Between a dinner plate and a car tire"},
        {"key": "larger_than_tire", "name": "Larger than a car tire"},
    ],
}


@pytest.mark.parametrize(
    ("text", "option", "expected"),
    [
        ("/inform", "larger_than_tire", "larger_than_tire"),
        ("between a dinner plate and a car tire", None, "plate_to_tire"),
        ("2", None, "plate_to_tire"),
        ("the first one", None, "smaller_than_plate"),
        ("huge", None, None),
    ],
)
def test_answers_are_read_from_buttons_words_and_positions(text: str, option: str | None, expected: Any) -> None:
    assert read_answer(HOLE_SIZE, text, option) == expected


def test_dates_numbers_and_lists_are_read_in_the_cores_terms() -> None:
    when = {"code": "collection_date", "datatype": "datetime", "description": "When?", "values": []}
    streams = {
        "code": "stream",
        "datatype": "multivaluelist",
        "description": "Which?",
        "values": [{"key": "garbage", "name": "Garbage"}, {"key": "green_bin", "name": "Green bin"}],
    }
    assert read_answer(when, "2026-11-20", None) == "2026-11-20"
    assert read_answer(when, "sometime", None) is None
    assert read_answer(streams, "green bin", None) == ["green_bin"]
    assert read_answer({"code": "n", "datatype": "number", "values": []}, "1,200", None) == 1200.0
