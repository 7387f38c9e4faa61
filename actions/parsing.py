"""Reading what residents type: places, contact details, references, dates, numbers; and writing dates back.

Pure functions with no I/O, so every rule here is unit-tested directly. Each parser returns the
normalized value, or None when the text cannot be read as one.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

REGION_TZ = ZoneInfo("America/Toronto")

MUNICIPALITIES = {
    "City of Northvale": ("northvale", "city of northvale"),
    "City of Harlow Falls": ("harlow falls", "harlow", "city of harlow falls"),
    "Town of Pinecrest": ("pinecrest", "town of pinecrest"),
    "Town of Port Sable": ("port sable", "town of port sable"),
    "Township of Elm Ridge": ("elm ridge", "township of elm ridge"),
}
# The city line of a mailing address, for each area municipality.
MAILING_CITIES = {
    "City of Northvale": "Northvale",
    "City of Harlow Falls": "Harlow Falls",
    "Town of Pinecrest": "Pinecrest",
    "Town of Port Sable": "Port Sable",
    "Township of Elm Ridge": "Elm Ridge",
}

STREET_TYPES = {
    "street": "Street", "st": "Street", "road": "Road", "rd": "Road", "avenue": "Avenue", "ave": "Avenue",
    "drive": "Drive", "dr": "Drive", "crescent": "Crescent", "cres": "Crescent", "cr": "Crescent",
    "court": "Court", "ct": "Court", "lane": "Lane", "ln": "Lane", "way": "Way", "boulevard": "Boulevard",
    "blvd": "Boulevard", "parkway": "Parkway", "pkwy": "Parkway", "trail": "Trail", "trl": "Trail",
    "place": "Place", "pl": "Place", "line": "Line", "sideroad": "Sideroad", "circle": "Circle",
    "cir": "Circle", "gate": "Gate", "terrace": "Terrace", "square": "Square", "highway": "Highway",
    "hwy": "Highway", "park": "Park",
}  # fmt: skip
_TYPE_WORDS = "|".join(sorted(STREET_TYPES, key=len, reverse=True))
# A street: one to three name words and a street type ("Maple Crescent", "Falls View Blvd"), or a
# numbered rural road ("Regional Road 24", "Concession 6", "Sixth Line").
_STREET = (
    rf"(?:(?:[a-z0-9][\w'.-]*\s+){{1,3}}(?:{_TYPE_WORDS})\.?"
    r"|regional\s+road\s+\d+|concession(?:\s+road)?\s+\d+|county\s+road\s+\d+)"
)
STREET_RE = re.compile(rf"\b{_STREET}(?=$|[\s,.;])", re.IGNORECASE)
CIVIC_RE = re.compile(rf"\b\d{{1,5}}[a-z]?\s+{_STREET}", re.IGNORECASE)
INTERSECTION_RE = re.compile(rf"{_STREET}\s*(?:and|&|at|@|/|\bx\b)\s*{_STREET}", re.IGNORECASE)
LANDMARK_RE = re.compile(
    r"\b(near|across from|in front of|behind|beside|next to|outside|opposite|between|"
    r"(north|south|east|west) of|corner of|at the)\b",
    re.IGNORECASE,
)

# "it's at 42 Victoria Avenue" -> "42 Victoria Avenue"
_LEADING_WORDS = re.compile(
    r"^(?:(?:it'?s|it is|that'?s|the (?:address|location) is|address is|located|my address is)\s+)?(?:(?:at|on)\s+)?",
    re.IGNORECASE,
)

POSTAL_CODE_RE = re.compile(r"\b([ABCEGHJ-NPRSTVXY]\d[ABCEGHJ-NPRSTV-Z])\s?(\d[ABCEGHJ-NPRSTV-Z]\d)\b", re.IGNORECASE)
EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}")
PHONE_RE = re.compile(r"(?:\+?1[ .-]?)?\(?([2-9]\d{2})\)?[ .-]?(\d{3})[ .-]?(\d{4})\b")
SR_REFERENCE_RE = re.compile(r"\bSR\W?(\d{4})\W?(\d{6})\b", re.IGNORECASE)
# Booking references use an alphabet without look-alike letters (no I, O, 0, 1...); checked by the core.
BOOKING_REFERENCE_RE = re.compile(r"\bAP\W?([A-Z0-9]{6})\b", re.IGNORECASE)

NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "just me": 1, "only me": 1, "myself": 1, "me and my": 2, "a couple": 2, "couple": 2,
}  # fmt: skip
ORDINALS = {"first": 0, "1st": 0, "second": 1, "2nd": 1, "third": 2, "3rd": 2, "fourth": 3, "4th": 3,
            "fifth": 4, "5th": 4, "sixth": 5, "6th": 5, "last": -1}  # fmt: skip
WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
# A weekday as residents type it: the whole name (or its plural, "Thursdays") and the usual short forms.
WEEKDAY_SPELLINGS = {
    "monday": "mondays?|mon", "tuesday": "tuesdays?|tues?", "wednesday": "wednesdays?|weds?",
    "thursday": "thursdays?|thurs?|thu", "friday": "fridays?|fri", "saturday": "saturdays?|sat",
    "sunday": "sundays?|sun",
}  # fmt: skip
MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
          "november", "december"]  # fmt: skip


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


def clean(text: str | None) -> str:
    """One line, single spaces, no surrounding punctuation."""
    return " ".join((text or "").split()).strip(" ,.;")


def is_payload(text: str | None) -> bool:
    """A button payload ("/affirm") rather than words a resident typed."""
    return bool(text) and str(text).lstrip().startswith("/")


def location(text: str | None) -> str | None:
    """A place a crew can find: a civic address, an intersection, or a street with a landmark.

    "Maple Crescent" alone is refused (the street may be kilometres long); "125 Maple Crescent",
    "King St and Sable Rd" and "Regional Road 24 north of the bridge" are accepted.
    """
    place = clean(_LEADING_WORDS.sub("", clean(text)))
    if not place or is_payload(place) or len(place) > 200:
        return None
    if CIVIC_RE.search(place) or INTERSECTION_RE.search(place):
        return _expand_street_types(place)
    if STREET_RE.search(place) and LANDMARK_RE.search(place):
        return _expand_street_types(place)
    return None


def _expand_street_types(place: str) -> str:
    """Abbreviations spelled out ("Maple Cres" -> "Maple Crescent") so crews and searches agree."""

    def spell(match: re.Match[str]) -> str:
        word = match.group(0).rstrip(".").lower()
        return STREET_TYPES.get(word, match.group(0))

    abbreviations = "|".join(k for k, v in STREET_TYPES.items() if k != v.lower())
    return re.sub(rf"\b(?:{abbreviations})\b\.?(?=$|[\s,;&/])", spell, place, flags=re.IGNORECASE)


def municipality(text: str | None) -> str | None:
    """The area municipality named in the text, as its full name ("harlow" -> "City of Harlow Falls")."""
    words = " " + re.sub(r"[^a-z ]+", " ", clean(text).lower()) + " "
    spellings = sorted(
        ((spelling, name) for name, names in MUNICIPALITIES.items() for spelling in names),
        key=lambda pair: len(pair[0]),
        reverse=True,
    )
    return next((name for spelling, name in spellings if f" {spelling} " in words), None)


def postal_code(text: str | None) -> str | None:
    match = POSTAL_CODE_RE.search(text or "")
    return f"{match.group(1)} {match.group(2)}".upper() if match else None


def email(text: str | None) -> str | None:
    match = EMAIL_RE.search(text or "")
    return match.group(0).lower() if match else None


def phone(text: str | None) -> str | None:
    match = PHONE_RE.search(text or "")
    return f"{match.group(1)}-{match.group(2)}-{match.group(3)}" if match else None


def contact(text: str | None) -> tuple[str | None, str | None]:
    """(email, phone) found in the text; both None when it holds neither."""
    return email(text), phone(text)


def sr_reference(text: str | None) -> str | None:
    match = SR_REFERENCE_RE.search(text or "")
    return f"SR-{match.group(1)}-{match.group(2)}" if match else None


def booking_reference(text: str | None) -> str | None:
    match = BOOKING_REFERENCE_RE.search(text or "")
    return f"AP-{match.group(1).upper()}" if match else None


# Words that put a name in context ("it is for my mother, Rose Gallant", "book it under Sam Ng"): removed before
# the name is read. Relations are the people residents book or reserve for.
_RELATIONS = (
    r"mother|mom|mum|father|dad|parent|son|daughter|child|kid|wife|husband|partner|spouse|friend|neighbou?r|"
    r"grandmother|grandma|grandfather|grandpa|grandson|granddaughter|sister|brother|aunt|uncle|niece|nephew|"
    r"cousin|client|boss|colleague|roommate|fianc[eé]e?|baby|grandchild|in-law|stepmother|stepfather"
)
_NAME_CONTEXT = re.compile(
    r"^(?:(?:ok|okay|sure|yes|yeah|hi|hello)\W+)?"
    r"(?:(?:it|this|that|the booking|the appointment|the reservation|the envelope)(?:'s|\s+is|\s+will be|\s+would be)?"
    r"\s+(?:for|under|to)\s+|(?:book it|put it|make it|send it|address it|reserve it)\s+(?:for|under|to)\s+|"
    r"(?:under|in|with) the name(?: of)?\s+|(?:for|under|to)\s+|"
    r"(?:my|the|his|her|their) name(?:'s|\s+is)\s+|name(?:'s|\s+is)?:?\s+|"
    r"i am\s+|i'm\s+|im\s+|call me\s+|it's\s+|it is\s+|this is\s+)?"
    rf"(?:(?:my|our|his|her|their)\s+(?:{_RELATIONS})(?:'s)?(?:\s*,\s*|\s+|\s*:\s*)"
    r"(?:(?:(?:his|her|their) name is|named|called|who is)\s+)?)?",
    re.IGNORECASE,
)
# "Rose Gallant, my mother" / "Rose Gallant (my mum)"
_NAME_TRAILER = re.compile(rf"\s*[,(]\s*(?:my|our|his|her)\s+(?:{_RELATIONS})\)?$|\s+please$", re.IGNORECASE)
# Words that are never part of a person's name: what residents type instead of one ("I don't know", "why do you
# need that", "the first one"). Names such as "De La Cruz" or "Van Der Berg" use none of them.
NOT_NAME_WORDS = _words(
    "i me my you your we our it is are was be do does did don't dont not no yes what why how when where which who "
    "want need know think can could would should will have has had the a an this that these those some any "
    "one first second third last time times appointment booking book help agent person human please thanks "
    "thank hello hi okay ok sure none nothing nobody anyone someone anything something name names same"
)


def person_name(text: str | None) -> str | None:
    """A name as typed, in context or not ("it is for my mother, Rose Gallant" -> "Rose Gallant").

    Refused: digits, emails, payloads, and words that are never part of a name ("I don't know").
    """
    said = clean(text)
    name = clean(_NAME_TRAILER.sub("", _NAME_CONTEXT.sub("", said, count=1)))
    if not name or is_payload(name) or len(name) > 100 or any(ch.isdigit() for ch in name) or "@" in name:
        return None
    if not re.fullmatch(r"[^\W\d_]+(?:[ '.-]+[^\W\d_]+)*\.?", name):
        return None
    words = re.split(r"[ .-]+", name.lower().rstrip("."))
    if len(words) > 6 or any(word in NOT_NAME_WORDS for word in words):
        return None
    # A name typed all in lower case is written back capitalized ("rose gallant" -> "Rose Gallant").
    return name if name != name.lower() else " ".join(part.capitalize() for part in name.split(" "))


def count(text: str | None, most: int = 10) -> int | None:
    """A small number of people or copies: "2", "two", "just me", "me and my wife"."""
    said = clean(text).lower()
    digits = re.search(r"\b(\d{1,2})\b", said)
    value = int(digits.group(1)) if digits else None
    if value is None:
        value = next((n for phrase, n in NUMBER_WORDS.items() if re.search(rf"\b{phrase}\b", said)), None)
    if value is None or not 1 <= value <= most:
        return None
    return value


def choice_index(text: str | None, options: int) -> int | None:
    """Which of the offered options was meant: "2", "the second one", "last"."""
    said = clean(text).lower()
    digits = re.fullmatch(r"(?:option |number |#)?(\d{1,2})", said)
    if digits and 1 <= int(digits.group(1)) <= options:
        return int(digits.group(1)) - 1
    for word, index in ORDINALS.items():
        if re.search(rf"\b{word}\b", said):
            position = options - 1 if index == -1 else index
            return position if 0 <= position < options else None
    return None


def past_date(text: str | None, today: dt.date) -> dt.date | None:
    """A recent day: "today", "yesterday", "Monday" (the last one), "Nov 24", "2026-11-24"."""
    said = clean(text).lower()
    if not said:
        return None
    if "today" in said or "this morning" in said:
        return today
    if "yesterday" in said:
        return today - dt.timedelta(days=1)
    iso = re.search(r"\b(\d{4})-(\d{2})-(\d{2})\b", said)
    if iso:
        try:
            return dt.date(int(iso.group(1)), int(iso.group(2)), int(iso.group(3)))
        except ValueError:
            return None
    for index, weekday in enumerate(WEEKDAYS):
        if re.search(rf"\b{weekday[:3]}\w*\b", said):
            back = (today.weekday() - index) % 7
            return today - dt.timedelta(days=back)
    for index, month in enumerate(MONTHS):
        found = re.search(rf"\b{month[:3]}\w*\.?\s+(\d{{1,2}})\b", said)
        if found:
            try:
                day = dt.date(today.year, index + 1, int(found.group(1)))
            except ValueError:
                return None
            # "Dec 30" typed in January is last year's.
            return day if day <= today else day.replace(year=today.year - 1)
    return None


# ------------------------------------------------------------------------------------- when a resident can come

PARTS_OF_DAY = {
    "morning": (dt.time(0), dt.time(12)),
    "lunch": (dt.time(11, 30), dt.time(13, 30)),
    "afternoon": (dt.time(12), dt.time(17)),
    "evening": (dt.time(17), dt.time(23, 59)),
    "tonight": (dt.time(17), dt.time(23, 59)),
    "after work": (dt.time(17), dt.time(23, 59)),
}
_CLOCK = r"(\d{1,2})(?:[:h.](\d{2}))?\s*(a\.?\s?m\.?|p\.?\s?m\.?)?|noon|midday"
_TIME_AFTER = re.compile(rf"\b(?:after|from|later than|past|no earlier than|not before)\s+(?:{_CLOCK})", re.I)
_TIME_BEFORE = re.compile(rf"\b(?:before|by|until|till|earlier than|no later than)\s+(?:{_CLOCK})", re.I)
_TIME_BETWEEN = re.compile(rf"\bbetween\s+(?:{_CLOCK})\s+(?:and|-|to)\s+(?:{_CLOCK})", re.I)
_TIME_AT = re.compile(
    rf"\b(?:at|around|about|@)\s+(?:{_CLOCK})|\b(\d{{1,2}})(?::(\d{{2}}))?\s*(am|pm|a\.m\.|p\.m\.)", re.I
)


@dataclass(frozen=True)
class TimeWish:
    """When a resident would like to come: some days (None: any day) and a part of the day."""

    days: tuple[dt.date, ...] | None = None
    start: dt.time | None = None  # from (included)
    end: dt.time | None = None  # until (excluded)
    at: dt.time | None = None  # a time named exactly: "at 10:30"
    said: str = ""  # how it is read back: "Thursday, December 10, after 2 p.m."

    def fits(self, moment: dt.datetime) -> bool:
        local = moment.astimezone(REGION_TZ)
        if self.days is not None and local.date() not in self.days:
            return False
        if self.at is not None:
            return local.time().replace(second=0, microsecond=0) == self.at
        return (self.start is None or local.time() >= self.start) and (self.end is None or local.time() < self.end)

    def distance(self, moment: dt.datetime) -> float:
        """How far a time is from what was asked, in minutes (0: it fits); used to offer the nearest times."""
        local = moment.astimezone(REGION_TZ)
        minutes = local.hour * 60 + local.minute
        away = 0.0
        if self.days is not None and local.date() not in self.days:
            away += min(abs((local.date() - day).days) for day in self.days) * 24 * 60
        if self.at is not None:
            return away + abs(minutes - (self.at.hour * 60 + self.at.minute))
        if self.start is not None and local.time() < self.start:
            away += self.start.hour * 60 + self.start.minute - minutes
        if self.end is not None and local.time() >= self.end:
            away += minutes - (self.end.hour * 60 + self.end.minute) + 1
        return away


def _clock(hour: str | None, minute: str | None, half: str | None, word: str) -> dt.time | None:
    """One clock time; an hour without a.m. or p.m. is read as clinic hours do (1 to 7 is the afternoon)."""
    if word.lower().strip() in ("noon", "midday"):
        return dt.time(12)
    if hour is None:
        return None
    h, m = int(hour), int(minute or 0)
    if h > 23 or m > 59:
        return None
    suffix = (half or "").replace(".", "").replace(" ", "").lower()
    if suffix == "pm" and h < 12:
        h += 12
    elif suffix == "am" and h == 12:
        h = 0
    elif not suffix and 1 <= h <= 7:
        h += 12
    return dt.time(h, m)


def _wish_days(said: str, today: dt.date) -> tuple[tuple[dt.date, ...] | None, str]:
    """The days named, and how to say them back."""
    monday_next = today + dt.timedelta(days=7 - today.weekday())
    named = [
        index for index, weekday in enumerate(WEEKDAYS) if re.search(rf"\b(?:{WEEKDAY_SPELLINGS[weekday]})\b", said)
    ]
    if re.search(r"\bnext week\b", said):
        week = [monday_next + dt.timedelta(days=i) for i in range(7)]
        if named:
            days = tuple(d for d in week if d.weekday() in named)
            return days, " or ".join(say_date(d) for d in days)
        return tuple(week), "next week"
    if re.search(r"\b(this|rest of the) week\b", said):
        return tuple(today + dt.timedelta(days=i) for i in range(7 - today.weekday())), "this week"
    if named:
        days = tuple(sorted(today + dt.timedelta(days=(index - today.weekday()) % 7) for index in named))
        return days, " or ".join(say_date(d) for d in days)
    if re.search(r"\b(this |next )?week-?end\b", said):
        saturday = today + dt.timedelta(days=(5 - today.weekday()) % 7)
        return (saturday, saturday + dt.timedelta(days=1)), "the weekend"
    if re.search(r"\btomorrow\b", said):
        return (today + dt.timedelta(days=1),), "tomorrow"
    if re.search(r"\btoday\b", said):
        return (today,), "today"
    if re.search(r"\bnext month\b", said):
        first = (today.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
        last = (first + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
        return tuple(first + dt.timedelta(days=i) for i in range((last - first).days + 1)), "next month"
    for index, month in enumerate(MONTHS):
        found = re.search(rf"\b{month[:3]}[a-z]*\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?\b", said) or re.search(
            rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?{month[:3]}[a-z]*\b", said
        )
        if found:
            try:
                day = dt.date(today.year, index + 1, int(found.group(1)))
            except ValueError:
                return None, ""
            # "January 5" typed in December is next year's.
            day = day if day >= today else day.replace(year=today.year + 1)
            return (day,), say_date(day)
    return None, ""


def time_wish(text: str | None, now: dt.datetime) -> TimeWish | None:
    """A day, a part of the day or a time a resident can come ("Thursday after 2pm", "next week", "mornings").

    Days are the next ones from `now` (the conversation's current time, in the Region's time zone). None when the
    text names no day and no time.
    """
    said = clean(text).lower()
    if not said or is_payload(said):
        return None
    today = now.astimezone(REGION_TZ).date()
    days, days_said = _wish_days(said, today)
    start = end = at = None
    window_said = ""
    if found := _TIME_BETWEEN.search(said):
        groups = found.groups()
        start, end = _clock(*groups[0:3], found.group(0)), _clock(*groups[3:6], "")
        if start and end and end <= start and end.hour < 12:
            end = end.replace(hour=end.hour + 12)
        window_said = f"between {say_clock(start)} and {say_clock(end)}" if start and end else ""
    if not window_said and (found := _TIME_AFTER.search(said)):
        start = _clock(*found.groups()[0:3], found.group(0).split()[-1])
        window_said = f"after {say_clock(start)}" if start else ""
    if not window_said and (found := _TIME_BEFORE.search(said)):
        end = _clock(*found.groups()[0:3], found.group(0).split()[-1])
        window_said = f"before {say_clock(end)}" if end else ""
    if not window_said and (found := _TIME_AT.search(said)):
        groups = found.groups()
        at = (
            _clock(*groups[0:3], found.group(0).split()[-1]) if groups[0] or not groups[3] else _clock(*groups[3:6], "")
        )
        window_said = f"at {say_clock(at)}" if at else ""
    if not window_said:
        part = next((p for p in PARTS_OF_DAY if re.search(rf"\b{p}s?\b", said)), None)
        if part:
            start, end = PARTS_OF_DAY[part]
            window_said = (
                "at lunchtime"
                if part == "lunch"
                else f"in the {'evening' if part in ('tonight', 'after work') else part}"
            )
    if days is None and not window_said:
        return None
    return TimeWish(days, start, end, at, ", ".join(p for p in (days_said, window_said) if p))


def say_date(day: dt.date) -> str:
    """'Thursday, December 10'."""
    return f"{day:%A}, {day:%B} {day.day}"


def say_clock(moment: dt.time | None) -> str:
    """'2 p.m.', '10:30 a.m.', 'noon' (Canadian Press style)."""
    if moment is None:
        return ""
    if (moment.hour, moment.minute) == (12, 0):
        return "noon"
    hour = moment.hour % 12 or 12
    minutes = f":{moment.minute:02d}" if moment.minute else ""
    return f"{hour}{minutes} {'a.m.' if moment.hour < 12 else 'p.m.'}"


# ----------------------------------------------------------------------------- matching words to a catalogue

# Words that say nothing about which entry is meant ("can you mail me a form for...").
STOP_WORDS = _words(
    "a an the and or of for to in on at by with from about into over under is are was were be been am it its it's "
    "this that these those there here my our your his her their me we you i us them they he she can could would "
    "will shall should may might must do does did please want wanted like need needs get got have has had some any "
    "all every each just also really very so too not no yes hi hello thanks thank you'd i'd i'm im i've "
    "what which who when where why how one ones "
    # the asking itself, not what is asked for: "can you mail me a paper copy of the form"
    "form forms mail mailed send sent copy copies paper printed"
)
_SPELLINGS = {"license": "licence", "licenses": "licences", "neighbor": "neighbour", "neighbors": "neighbours",
              "color": "colour", "center": "centre", "theater": "theatre", "program": "programme"}  # fmt: skip
_SUFFIXES = ("ations", "ation", "ings", "ing", "ies", "ied", "ers", "er", "es", "ed", "s")


def stem(word: str) -> str:
    """A word's rough stem, so "barks", "barking" and "bark" or "apply" and "application" meet."""
    word = _SPELLINGS.get(word, word).replace("'s", "")
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)] + ("y" if suffix in ("ies", "ied") else "")
    return word


def content_stems(text: str | None) -> list[str]:
    words = re.findall(r"[a-z][a-z'-]*", clean(text).lower().replace("_", " "))
    return [stem(w) for w in words if w not in STOP_WORDS and len(w) > 1]


def _same_stem(a: str, b: str) -> bool:
    if a == b:
        return True
    short, long_ = sorted((a, b), key=len)
    return len(short) >= 4 and long_.startswith(short[: max(4, len(short) - 1)])


@dataclass(frozen=True)
class Match:
    key: str
    score: float  # the rarity-weighted share of what was said that the entry's words cover
    words: frozenset[str]  # the stems of what was said that it covers
    said: int  # how many words (stems) were said


def rank_by_words(said: str | None, entries: Sequence[tuple[str, Iterable[str]]]) -> list[Match]:
    """Catalogue entries by how much of what was said their own words cover, best first (covering something).

    Each entry is (key, texts): its name, keywords, description. A word counts by how rare it is in the
    catalogue (inverse document frequency), so "dog" says more than "application".
    """
    docs = {key: {s for text in texts for s in content_stems(text)} for key, texts in entries}
    covered: dict[str, set[str]] = {key: set() for key in docs}
    scores = dict.fromkeys(docs, 0.0)
    wanted = list(dict.fromkeys(content_stems(said)))
    for word in wanted:
        matching = [key for key, stems in docs.items() if any(_same_stem(word, s) for s in stems)]
        for key in matching:
            covered[key].add(word)
            scores[key] += math.log(1 + len(docs) / len(matching))
    found = [Match(key, scores[key], frozenset(words), len(wanted)) for key, words in covered.items() if words]
    return sorted(found, key=lambda m: -m.score)


# How far ahead the best entry must be to be taken without asking (natural-log units of rarity; a word found in
# one entry of fifteen weighs 2.8, in every entry 0.7).
CLEAR_LEAD = 1.0
CLEAR_RATIO = 1.5


def clear_winner(ranked: Sequence[Match]) -> str | None:
    """The entry meant, when no real choice remains: nothing else matches, or the best one covers all the
    runner-up covers and more, or it scores well ahead. One word in common is not enough when more were said
    ("something is wrong on the road near my place" names no one problem)."""
    if not ranked or len(ranked[0].words) < min(2, ranked[0].said):
        return None
    if len(ranked) == 1:
        return ranked[0].key
    best, second = ranked[0], ranked[1]
    if best.words > second.words and best.score - second.score >= CLEAR_LEAD:
        return best.key
    return best.key if best.score >= CLEAR_RATIO * second.score else None


def parse_time(value: str) -> dt.datetime:
    """An ISO 8601 time from the core ("...Z" or with an offset), in the Region's time zone."""
    moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        # The engine env runs Python 3.10, which has no dt.UTC yet.
        moment = moment.replace(tzinfo=dt.timezone.utc)  # noqa: UP017
    return moment.astimezone(REGION_TZ)


def say_day(value: str) -> str:
    """'Tuesday, November 24'."""
    moment = parse_time(value)
    return f"{moment:%A}, {moment:%B} {moment.day}"


def say_time(value: str) -> str:
    """'Tuesday, November 24 at 10:30 a.m.' (Canadian Press style; it ends a sentence with its own period)."""
    moment = parse_time(value)
    if (moment.hour, moment.minute) in ((12, 0), (0, 0)):
        return f"{say_day(value)} at {'noon' if moment.hour == 12 else 'midnight'}"
    hour = moment.hour % 12 or 12
    minutes = f":{moment.minute:02d}"
    suffix = "a.m." if moment.hour < 12 else "p.m."
    return f"{say_day(value)} at {hour}{minutes} {suffix}"
