"""Due times counted in a department's business hours, skipping the Region's holidays.

Routine and urgent targets count business hours (a 16-hour target set on Friday afternoon falls due on
Tuesday); emergency targets count clock hours, because emergencies are answered around the clock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Container, Mapping
from zoneinfo import ZoneInfo

REGION_TZ = ZoneInfo("America/Toronto")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_DAYS_SEARCHED = 3660  # ten years: a calendar with no open day at all is a configuration error


def _open_window(day: dt.date, hours: Mapping[str, str | None]) -> tuple[dt.datetime, dt.datetime] | None:
    spec = hours.get(WEEKDAYS[day.weekday()])
    if not spec:
        return None
    opens_text, closes_text = spec.split("-")
    opens = dt.datetime.combine(day, dt.time.fromisoformat(opens_text), REGION_TZ)
    if closes_text == "24:00":
        closes = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), REGION_TZ)
    else:
        closes = dt.datetime.combine(day, dt.time.fromisoformat(closes_text), REGION_TZ)
    return opens, closes


def add_business_hours(
    start: dt.datetime, hours: float, business_hours: Mapping[str, str | None], holidays: Container[dt.date]
) -> dt.datetime:
    """The moment `hours` of open time after `start` (aware), as an aware UTC datetime."""
    remaining = dt.timedelta(hours=hours)
    moment = start.astimezone(REGION_TZ)
    day = moment.date()
    for _ in range(MAX_DAYS_SEARCHED):
        window = None if day in holidays else _open_window(day, business_hours)
        if window is not None:
            opens, closes = window
            begin = max(moment, opens)
            if begin < closes:
                available = closes - begin
                if remaining <= available:
                    return (begin + remaining).astimezone(dt.UTC)
                remaining -= available
        day += dt.timedelta(days=1)
        moment = dt.datetime.combine(day, dt.time(0), REGION_TZ)
    raise ValueError("the business hours have no open time in ten years; check the department's calendar")


def due_time(
    start: dt.datetime,
    urgency: str,
    targets: Mapping[str, float | None],
    business_hours: Mapping[str, str | None],
    holidays: Container[dt.date],
) -> dt.datetime:
    """When a request is due: emergencies in clock hours, the rest in business hours."""
    if urgency == "emergency" and targets.get("emergency"):
        return (start + dt.timedelta(hours=float(targets["emergency"] or 0))).astimezone(dt.UTC)
    target = targets["urgent"] if urgency in ("urgent", "emergency") else targets["routine"]
    return add_business_hours(start, float(target or 0), business_hours, holidays)
