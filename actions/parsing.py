"""Reading what residents type: places, contact details, references, dates, numbers; and writing dates back.

Pure functions with no I/O, so every rule here is unit-tested directly. Each parser returns the
normalized value, or None when the text cannot be read as one.
"""

from __future__ import annotations

import datetime as dt
import re
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
MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
          "november", "december"]  # fmt: skip


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


def person_name(text: str | None) -> str | None:
    """A name as typed ("my name is Dana Whitfield" -> "Dana Whitfield"); digits and payloads refused."""
    name = clean(re.sub(r"^(my name is|i am|i'm|it's|it is|this is|name is|under)\s+", "", clean(text), flags=re.I))
    if not name or is_payload(name) or len(name) > 100 or any(ch.isdigit() for ch in name) or "@" in name:
        return None
    if not re.fullmatch(r"[^\W\d_]+(?:[ '.-]+[^\W\d_]+)*\.?", name):
        return None
    return name


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
