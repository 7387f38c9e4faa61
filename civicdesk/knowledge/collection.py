"""Collection day by address: the zone table of `seed_data/collection.yaml` read for one home.

Residents ask "when is garbage day on 45 Oak Avenue in Pinecrest?"; the knowledgebase article can only say
"look up your address". This reads the address out of what they wrote, finds the house number's zone, and
says the weekday, whether this week and next are garbage weeks, and the next collection dates, with the
holiday changes of kb/holiday-collection-schedule.md. Every sentence comes from the table and the calendar;
an address the table does not hold is said to be unknown, never guessed.

The table is loaded once into memory (a few dozen streets): staff change it by editing the seed file, as
Waste Management publishes a new calendar once a year, so it needs no database table or console page.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from civicdesk.seed_schema import (
    SEED_DIR,
    STREET_TYPES,
    CollectionSchedule,
    CollectionStreet,
    CollectionZone,
    Holiday,
    holiday_name,
    load_collection,
)

__all__ = ["CollectionDays", "DayAnswer", "Lookup", "ParsedAddress", "parse_address"]

LOOKUP_URL = "https://www.northvale.ca/waste/collection-day"
SERVICE_FIRST = "Service First at 311 (905-555-0100)"
DAY_NAMES = {"mon": "Monday", "tue": "Tuesday", "wed": "Wednesday", "thu": "Thursday", "fri": "Friday"}
WEEKDAY_NUMBERS = {code: number for number, code in enumerate(DAY_NAMES)}
# What each week brings (kb/garbage-collection-day.md, "What is collected when"): blue box and green bin every
# week; garbage every other week, with yard waste on garbage weeks from April 1 to November 30.
EVERY_WEEK = "blue box and green bin"
YARD_WASTE_SEASON = ((4, 1), (11, 30))

Status = Literal["found", "not_found", "ambiguous", "out_of_range", "no_address"]

# Spellings of the municipalities, longest first so "harlow falls" wins over "harlow".
_MUNICIPALITY_SPELLINGS: tuple[tuple[str, str], ...] = (
    ("city of northvale", "Northvale"),
    ("city of harlow falls", "Harlow Falls"),
    ("harlow falls", "Harlow Falls"),
    ("town of pinecrest", "Pinecrest"),
    ("town of port sable", "Port Sable"),
    ("township of elm ridge", "Elm Ridge"),
    ("kestrel bay", "Kestrel Bay"),
    ("port sable", "Port Sable"),
    ("elm ridge", "Elm Ridge"),
    ("northvale", "Northvale"),
    ("pinecrest", "Pinecrest"),
    ("dunmore", "Dunmore"),
    ("harlow", "Harlow Falls"),
)
_TYPE_WORDS = "|".join(sorted(STREET_TYPES, key=len, reverse=True))
# A house number (with an optional letter or unit suffix, "12B"), then one to three words and a street type.
_CIVIC = re.compile(
    rf"\b(?P<number>\d{{1,5}})[a-z]?\s+(?P<name>(?:[a-z][\w'-]*\s+){{1,3}}?)(?P<type>{_TYPE_WORDS})\b\.?",
    re.IGNORECASE,
)
# Words that can stand before a street's name in a sentence but are never part of it ("45 on Oak Avenue").
_NOT_NAME_WORDS = {"on", "at", "the", "in", "of", "for"}


@dataclass(frozen=True)
class ParsedAddress:
    number: int | None
    street: str | None  # "Oak Avenue": name words capitalized, type spelled out
    municipality: str | None

    def say(self) -> str:
        """The address as the resident gave it, tidied: "45 Oak Avenue, Pinecrest"."""
        place = " ".join(str(part) for part in (self.number, self.street) if part)
        return ", ".join(part for part in (place, self.municipality) if part)


def parse_address(text: str, municipality: str | None = None) -> ParsedAddress:
    """House number, street and municipality found in free text ("I live at 12 Birch Cres, Harlow Falls").

    `municipality`, when given, wins over one named in the text (a choice the resident made on a button).
    """
    named = municipality_named(municipality or "") or municipality_named(text)
    match = _CIVIC.search(text)
    if match is None:
        return ParsedAddress(None, None, named)
    words = [word for word in match.group("name").split() if word.lower() not in _NOT_NAME_WORDS]
    if not words:
        return ParsedAddress(None, None, named)
    name = " ".join(word[:1].upper() + word[1:].lower() for word in words)
    street = f"{name} {STREET_TYPES[match.group('type').lower()]}"
    return ParsedAddress(int(match.group("number")), street, named)


def municipality_named(text: str) -> str | None:
    """The municipality a text names ("harlow" is Harlow Falls), or None."""
    lowered = " " + re.sub(r"[^a-z ]+", " ", text.lower()) + " "
    return next((name for spelling, name in _MUNICIPALITY_SPELLINGS if f" {spelling} " in lowered), None)


@dataclass(frozen=True)
class Collection:
    date: dt.date
    garbage: bool
    moved_for: str | None = None  # the holiday that moved it a day later


@dataclass(frozen=True)
class DayAnswer:
    """Where the home is in the table, and what the calendar says from `today`."""

    zone: str
    day: str  # "Tuesday"
    garbage_week: Literal["A", "B"]
    this_week_starts: dt.date
    this_week_garbage: bool
    next_week_garbage: bool
    next_collections: tuple[Collection, ...]


@dataclass(frozen=True)
class Lookup:
    status: Status
    message: str
    address: ParsedAddress
    answer: DayAnswer | None = None
    # For an ambiguous street: the municipalities that have it, for the resident to choose.
    choices: tuple[str, ...] = field(default_factory=tuple)


class CollectionDays:
    """The zone table and the calendar, ready to answer look-ups."""

    def __init__(self, schedule: CollectionSchedule, holidays: list[Holiday]) -> None:
        self.schedule = schedule
        self._zones = {zone.code: zone for zone in schedule.zones}
        self._streets: dict[str, list[CollectionStreet]] = {}
        for street in schedule.streets:
            self._streets.setdefault(street.name.lower(), []).append(street)
        moving = set(schedule.calendar.holidays_moving_collection)
        # The calendar date counts, not the office closure: Christmas 2027 falls on a Saturday and changes nothing.
        self._moved: dict[dt.date, str] = {
            holiday.falls_on or holiday.date: holiday_name(holiday)
            for holiday in holidays
            if holiday_name(holiday) in moving
        }

    @classmethod
    def from_seed(cls, directory: Path = SEED_DIR) -> CollectionDays:
        return cls(*load_collection(directory))

    # ------------------------------------------------------------------------------------------- calendar

    def is_garbage_week(self, zone: CollectionZone, day: dt.date) -> bool:
        """Weeks alternate A, B from calendar.week_a_starts, across New Year without a break."""
        weeks = (_monday(day) - self.schedule.calendar.week_a_starts).days // 7
        week = "A" if weeks % 2 == 0 else "B"
        return week == zone.garbage_week

    def collection_in_week(self, zone: CollectionZone, monday: dt.date) -> Collection:
        regular = monday + dt.timedelta(days=WEEKDAY_NUMBERS[zone.day])
        holiday = self._moved.get(regular)
        day = regular + dt.timedelta(days=1) if holiday else regular
        return Collection(day, self.is_garbage_week(zone, monday), holiday)

    def next_collections(self, zone: CollectionZone, today: dt.date, count: int = 2) -> tuple[Collection, ...]:
        found: list[Collection] = []
        monday = _monday(today)
        while len(found) < count:
            collection = self.collection_in_week(zone, monday)
            if collection.date >= today:
                found.append(collection)
            monday += dt.timedelta(days=7)
        return tuple(found)

    # --------------------------------------------------------------------------------------------- lookup

    def lookup(self, text: str, today: dt.date, municipality: str | None = None) -> Lookup:
        address = parse_address(text, municipality)
        if address.street is None or address.number is None:
            return Lookup(
                "no_address",
                "Please give your house number and street, and your town, for example: 45 Oak Avenue, Pinecrest.",
                address,
            )
        candidates = self._streets.get(address.street.lower(), [])
        if address.municipality is not None:
            candidates = [s for s in candidates if s.municipality == address.municipality]
        if not candidates:
            return Lookup("not_found", self._not_found(address), address)
        if len(candidates) > 1:
            choices = tuple(sorted(s.municipality for s in candidates))
            return Lookup(
                "ambiguous",
                f"{address.street} is in both {_join(choices, 'and')}: which one do you live in?"
                if len(choices) == 2
                else f"{address.street} is in {_join(choices, 'and')}: which one do you live in?",
                address,
                choices=choices,
            )
        street = candidates[0]
        address = ParsedAddress(address.number, street.name, street.municipality)
        numbers = next((r for r in street.ranges if r.holds(address.number or 0)), None)
        if numbers is None:
            return Lookup("out_of_range", self._out_of_range(address, street), address)
        zone = self._zones[numbers.zone]
        answer = DayAnswer(
            zone=zone.code,
            day=DAY_NAMES[zone.day],
            garbage_week=zone.garbage_week,
            this_week_starts=_monday(today),
            this_week_garbage=self.is_garbage_week(zone, today),
            next_week_garbage=self.is_garbage_week(zone, today + dt.timedelta(days=7)),
            next_collections=self.next_collections(zone, today),
        )
        return Lookup("found", _found_message(address, answer), address, answer)

    def _not_found(self, address: ParsedAddress) -> str:
        where = f" in {address.municipality}" if address.municipality else ""
        text = f"I couldn't find {address.number} {address.street}{where} in the collection calendar."
        street = address.street or ""
        pool = sorted({s.name for s in self.schedule.streets if address.municipality in (None, s.municipality)})
        # "Oak Street" for "Oak Avenue" is the usual slip; then typos ("Oka Avenue").
        same_name = [name for name in pool if name.rsplit(" ", 1)[0].lower() == street.rsplit(" ", 1)[0].lower()]
        close = same_name or difflib.get_close_matches(street, pool, n=2, cutoff=0.8)
        elsewhere = tuple(sorted(s.municipality for s in self._streets.get(street.lower(), [])))
        if close:
            text += f" Did you mean {_join(tuple(close), 'or')}?"
        elif elsewhere:
            text += f" {street} is in {_join(elsewhere, 'and')}."
        else:
            text += " Please check the spelling."
        return text + f" You can also look up your address at {LOOKUP_URL} or call {SERVICE_FIRST}."

    def _out_of_range(self, address: ParsedAddress, street: CollectionStreet) -> str:
        first = min(r.first for r in street.ranges)
        last = max(r.last for r in street.ranges)
        return (
            f"{address.number} isn't a house number we have for {street.name}, {street.municipality} "
            f"(the calendar lists {first} to {last}). Please check the number, look up your address at "
            f"{LOOKUP_URL} or call {SERVICE_FIRST}."
        )


def _found_message(address: ParsedAddress, answer: DayAnswer) -> str:
    """ "45 Oak Avenue, Pinecrest: your collection day is Tuesday. This week (week of December 7) is ..." """
    this_week = (
        f"This week (week of {_month_day(answer.this_week_starts)}) is a garbage week: "
        f"{_collected(True, answer.this_week_starts)}."
        if answer.this_week_garbage
        else f"This week (week of {_month_day(answer.this_week_starts)}) is {EVERY_WEEK} only."
    )
    next_monday = answer.this_week_starts + dt.timedelta(days=7)
    next_week = (
        f"Next week is a garbage week: {_collected(True, next_monday)}."
        if answer.next_week_garbage
        else f"Next week is {EVERY_WEEK} only."
    )
    lines = [f"{address.say()}: your collection day is {answer.day}.", f"{this_week} {next_week}"]
    upcoming = []
    for collection in answer.next_collections:
        what = "garbage week" if collection.garbage else f"{EVERY_WEEK} only"
        moved = (
            f", moved from {_weekday_before(collection.date)} for {collection.moved_for}"
            if collection.moved_for
            else ""
        )
        upcoming.append(f"{_full_date(collection.date)} ({what}{moved})")
    lines.append(f"Next collections: {_join(tuple(upcoming), 'and')}.")
    lines.append(f"Put everything at the curb by 7:00 a.m. Calendar and reminders: {LOOKUP_URL}")
    return "\n".join(lines)


def _collected(garbage: bool, monday: dt.date) -> str:
    if not garbage:
        return EVERY_WEEK
    (start_month, start_day), (end_month, end_day) = YARD_WASTE_SEASON
    in_season = dt.date(monday.year, start_month, start_day) <= monday <= dt.date(monday.year, end_month, end_day)
    return "garbage, yard waste, blue box and green bin" if in_season else "garbage, blue box and green bin"


def _monday(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def _month_day(day: dt.date) -> str:
    return f"{day:%B} {day.day}"


def _full_date(day: dt.date) -> str:
    return f"{day:%A}, {day:%B} {day.day}"


def _join(items: tuple[str, ...], word: str) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} {word} {items[-1]}"


def _weekday_before(day: dt.date) -> str:
    return f"{day - dt.timedelta(days=1):%A}"
