"""Due times in business hours: evenings, weekends and holidays do not count; emergencies count clock hours."""

from __future__ import annotations

import datetime as dt

from civicdesk.business_time import REGION_TZ, add_business_hours, due_time

WEEKDAYS_8_TO_4 = {d: "08:30-16:30" for d in ("mon", "tue", "wed", "thu", "fri")} | {"sat": None, "sun": None}
ALWAYS_OPEN = {d: "00:00-24:00" for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}


def toronto(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=REGION_TZ)  # type: ignore[misc]


def test_friday_afternoon_rolls_over_the_weekend() -> None:
    due = add_business_hours(toronto(2026, 11, 27, 15, 30), 3, WEEKDAYS_8_TO_4, set())
    assert due == toronto(2026, 11, 30, 10, 30).astimezone(dt.UTC)  # 1 h Friday + 2 h Monday


def test_holidays_are_skipped() -> None:
    # Thursday 2026-12-24 16:00 + 2 h: Christmas (Fri 25) and Boxing Day observed (Mon 28) are closed.
    due = add_business_hours(
        toronto(2026, 12, 24, 16, 0), 2, WEEKDAYS_8_TO_4, {dt.date(2026, 12, 25), dt.date(2026, 12, 28)}
    )
    assert due == toronto(2026, 12, 29, 10, 0).astimezone(dt.UTC)


def test_before_opening_starts_at_opening() -> None:
    assert add_business_hours(toronto(2026, 11, 24, 6, 0), 1, WEEKDAYS_8_TO_4, set()) == toronto(2026, 11, 24, 9, 30)


def test_round_the_clock_queue_and_emergencies_use_clock_time() -> None:
    start = toronto(2026, 11, 28, 23, 0)  # a Saturday night
    assert add_business_hours(start, 2, ALWAYS_OPEN, set()) == toronto(2026, 11, 29, 1, 0)
    targets = {"routine": 40.0, "urgent": 8.0, "emergency": 2.0}
    assert due_time(start, "emergency", targets, WEEKDAYS_8_TO_4, set()) == toronto(2026, 11, 29, 1, 0)
    assert due_time(start, "urgent", targets, WEEKDAYS_8_TO_4, set()) == toronto(2026, 11, 30, 16, 30)
