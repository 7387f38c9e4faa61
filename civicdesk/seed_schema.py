"""Schema of the seed data in `civicdesk/seed_data/`, and `load_seed`, which reads and checks all of it.

The seed files are edited by knowledge staff, so every mistake must come back as one readable line that
names the file and the entry ("services.yaml: service 'road_repair': ..."), never as a traceback. The
database loader maps these objects to rows; nothing here touches the database.

Conventions the files rely on:
- times of day are quoted "HH:MM" strings (YAML 1.1 reads an unquoted 16:30 as the number 990);
- datetimes carry the Toronto offset that is in force on that day (-05:00 in winter, -04:00 in summer);
- phone numbers are N11 short codes (311, 211, 811), 988, toll-free numbers (real organizations only) or
  the fictional 905/289-555-0100..0199 block, so an invented local number cannot belong to anyone real.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import yaml
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

__all__ = [
    "REQUIRED_SERVICE_CODES",
    "SEED_DIR",
    "STREET_TYPES",
    "Article",
    "AppointmentCatalogue",
    "AppointmentLocation",
    "AppointmentType",
    "BusinessHours",
    "CollectionCalendar",
    "CollectionSchedule",
    "CollectionStreet",
    "CollectionZone",
    "DayHours",
    "Department",
    "Event",
    "Holiday",
    "HouseNumbers",
    "MailableItem",
    "OnCallShift",
    "Referral",
    "SeedData",
    "SeedError",
    "Service",
    "ServiceAttribute",
    "holiday_name",
    "load_articles",
    "load_collection",
    "load_seed",
    "toronto_utc_offset",
]

SEED_DIR = Path(__file__).parent / "seed_data"

# The Open311 service codes other parts of civicdesk (classifiers, bot, reports) rely on (DESIGN.md).
REQUIRED_SERVICE_CODES: frozenset[str] = frozenset(
    {
        "road_repair",
        "sidewalk_repair",
        "streetlight_out",
        "traffic_signs_signals",
        "road_obstruction",
        "illegal_dumping",
        "graffiti",
        "litter_street_cleaning",
        "missed_collection",
        "bin_repair_replacement",
        "water_main_break",
        "sewer_backup",
        "drainage_flooding",
        "spill_hazard",
        "tree_maintenance",
        "parks_maintenance",
        "abandoned_vehicle",
        "parking_enforcement",
        "noise_complaint",
        "animal_services",
        "snow_ice",
        "property_standards",
        "public_health",
        "transit",
        "property_tax_billing",
        "general_inquiry",
    }
)

WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class SeedError(ValueError):
    """The seed data is wrong; the message has one line per problem, each starting with the file name."""


# ---------------------------------------------------------------------------------------------------------
# Field types
# ---------------------------------------------------------------------------------------------------------

Code = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$", max_length=64)]
Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$", max_length=120)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=200)]
Email = Annotated[str, StringConstraints(pattern=r"^[a-z0-9._+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)+$")]
HttpsUrl = Annotated[str, StringConstraints(pattern=r"^https://[a-z0-9.-]+\.[a-z]{2,}(?:/\S*)?$")]
NorthvaleUrl = Annotated[str, StringConstraints(pattern=r"^https://www\.northvale\.ca/[a-z0-9/_-]*$")]
# N11 codes, the 988 crisis line, toll-free numbers, or the fictional 555-01xx block for invented numbers.
Phone = Annotated[
    str,
    StringConstraints(
        pattern=r"^(?:[2-9]11|988|1-8(?:00|33|44|55|66|77|88)-\d{3}-\d{4}|(?:905|289)-555-01\d{2})"
        r"(?: ext\. \d{1,5})?$"
    ),
]
# Ontario forward sortation areas start with K, L, M, N or P; D, F, I, O, Q and U never appear.
PostalCode = Annotated[str, StringConstraints(pattern=r"^[KLMNP]\d[ABCEGHJ-NPRSTV-Z] \d[ABCEGHJ-NPRSTV-Z]\d$")]
LanguageCode = Annotated[str, StringConstraints(pattern=r"^[a-z]{2}$")]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
AreaMunicipality = Literal[
    "City of Northvale",
    "City of Harlow Falls",
    "Town of Pinecrest",
    "Town of Port Sable",
    "Township of Elm Ridge",
]
Municipality = Literal["Regional Municipality of Northvale"] | AreaMunicipality
City = Literal["Northvale", "Harlow Falls", "Pinecrest", "Port Sable", "Elm Ridge"]


def _hhmm(value: object) -> dt.time:
    """Accept only "HH:MM" strings: pydantic would read a number as seconds after midnight."""
    if not isinstance(value, str) or not re.fullmatch(r"\d{2}:\d{2}", value):
        raise ValueError(f'write times as quoted "HH:MM" strings, got {value!r}')
    return dt.time.fromisoformat(value)


ClockTime = Annotated[dt.time, BeforeValidator(_hhmm)]


def toronto_utc_offset(moment: dt.datetime) -> dt.timedelta:
    """UTC offset of Toronto time at an aware instant (Canadian DST rule in force since 2007).

    Computed here rather than with zoneinfo so validation does not depend on the host's tz database.
    """
    utc = moment.astimezone(dt.UTC).replace(tzinfo=None)
    year = utc.year
    march_first = dt.date(year, 3, 1)
    second_sunday_march = march_first + dt.timedelta(days=(6 - march_first.weekday()) % 7 + 7)
    november_first = dt.date(year, 11, 1)
    first_sunday_november = november_first + dt.timedelta(days=(6 - november_first.weekday()) % 7)
    # 02:00 EST = 07:00 UTC; 02:00 EDT = 06:00 UTC
    dst_starts = dt.datetime.combine(second_sunday_march, dt.time(7))
    dst_ends = dt.datetime.combine(first_sunday_november, dt.time(6))
    return dt.timedelta(hours=-4) if dst_starts <= utc < dst_ends else dt.timedelta(hours=-5)


def _check_toronto_offset(value: dt.datetime) -> dt.datetime:
    expected = toronto_utc_offset(value)
    if value.utcoffset() != expected:
        hours = int(expected.total_seconds() // 3600)
        raise ValueError(f"{value.isoformat()} has the wrong UTC offset: Toronto is at {hours:+03d}:00 then")
    return value


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ---------------------------------------------------------------------------------------------------------
# departments.yaml and holidays.yaml
# ---------------------------------------------------------------------------------------------------------


class DayHours(_Model):
    """Opening hours of one day, written "08:30-16:30"; "00:00-24:00" means open all day (closes is None)."""

    opens: dt.time
    closes: dt.time | None  # None: open until midnight

    @model_validator(mode="before")
    @classmethod
    def _parse(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        match = re.fullmatch(r"(\d{2}:\d{2})-(\d{2}:\d{2})", value)
        if not match:
            raise ValueError(f'write opening hours as "HH:MM-HH:MM", got {value!r}')
        opens, closes = match.groups()
        return {"opens": opens, "closes": None if closes == "24:00" else closes}

    @model_validator(mode="after")
    def _order(self) -> DayHours:
        if self.closes is not None and self.closes <= self.opens:
            raise ValueError(f"closes ({self.closes:%H:%M}) must be after opens ({self.opens:%H:%M})")
        return self

    def contains(self, moment: dt.time) -> bool:
        return self.opens <= moment and (self.closes is None or moment < self.closes)

    def __str__(self) -> str:
        closes = "24:00" if self.closes is None else f"{self.closes:%H:%M}"
        return f"{self.opens:%H:%M}-{closes}"


class BusinessHours(_Model):
    """Hours for each day of the week; null means closed that day. Every day must be written out."""

    mon: DayHours | None
    tue: DayHours | None
    wed: DayHours | None
    thu: DayHours | None
    fri: DayHours | None
    sat: DayHours | None
    sun: DayHours | None

    def for_weekday(self, weekday: int) -> DayHours | None:
        """Hours of `date.weekday()` (0 = Monday)."""
        hours: DayHours | None = getattr(self, WEEKDAYS[weekday])
        return hours

    def as_json(self) -> dict[str, str | None]:
        """The form stored in the database: {"mon": "08:30-16:30", ..., "sun": None}."""
        return {day: None if (hours := getattr(self, day)) is None else str(hours) for day in WEEKDAYS}


class Queue(_Model):
    code: Code
    name: Name


class Department(_Model):
    code: Code
    name: Name
    description: Text
    email: Email
    phone: Phone
    queue: Queue
    business_hours: BusinessHours
    municipality: Municipality


class Holiday(_Model):
    """A day the Region's offices are closed. `date` is the closure day; `falls_on` the calendar day
    when the holiday is observed on another day (Boxing Day on a Saturday closes the Monday)."""

    date: dt.date
    name: Name
    statutory: bool = True  # False for days the Region observes that Ontario law does not (Civic Holiday)
    falls_on: dt.date | None = None

    @model_validator(mode="after")
    def _closure_on_weekday(self) -> Holiday:
        if self.date.weekday() >= 5:
            raise ValueError(f"{self.date} is a {self.date:%A}: give the weekday the offices close (observed)")
        if self.falls_on is not None and self.falls_on == self.date:
            raise ValueError("falls_on is only for holidays observed on another day; remove it")
        return self


# ---------------------------------------------------------------------------------------------------------
# services.yaml (Open311 GeoReport v2 services and their attributes)
# ---------------------------------------------------------------------------------------------------------

AttributeDatatype = Literal["string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"]
LIST_DATATYPES = frozenset({"singlevaluelist", "multivaluelist"})


class AttributeValue(_Model):
    key: Code
    name: Text


class ServiceAttribute(_Model):
    code: Code
    description: Text  # the question the resident is asked
    datatype: AttributeDatatype
    required: bool
    order: int = Field(ge=1)
    datatype_description: Text | None = None
    values: list[AttributeValue] = []
    variable: bool = True

    @model_validator(mode="after")
    def _values_match_datatype(self) -> ServiceAttribute:
        if self.datatype in LIST_DATATYPES:
            if len(self.values) < 2:
                raise ValueError(f"a {self.datatype} needs at least two values")
            duplicates = _duplicates(value.key for value in self.values)
            if duplicates:
                raise ValueError(f"duplicate value keys: {', '.join(duplicates)}")
        elif self.values:
            raise ValueError(f"values are only for list datatypes, not {self.datatype}")
        return self


class ResponseTargets(_Model):
    """Response targets in hours. Routine and urgent count the department's business hours (closed on
    holidays); emergency counts clock hours, because emergencies are answered around the clock."""

    routine: int = Field(gt=0)
    urgent: int = Field(gt=0)
    emergency: int | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _tighter_when_more_urgent(self) -> ResponseTargets:
        if self.urgent > self.routine:
            raise ValueError("the urgent target must not be longer than the routine one")
        return self


class Service(_Model):
    code: Code
    name: Name
    description: Text
    group: Name
    department: Code
    keywords: list[Text] = Field(min_length=1)
    targets: ResponseTargets
    can_be_emergency: bool
    emergency_instruction: Text | None = None
    metadata: bool
    attributes: list[ServiceAttribute] = []
    type: Literal["realtime", "batch", "blackbox"] = "realtime"  # Open311: how requests are handled
    location_required: bool = True  # False when the request has no place (a tax bill, a question)

    @model_validator(mode="after")
    def _consistent(self) -> Service:
        if self.can_be_emergency:
            if self.targets.emergency is None:
                raise ValueError("can_be_emergency is true, so targets.emergency is required")
            if self.emergency_instruction is None:
                raise ValueError("can_be_emergency is true, so emergency_instruction is required")
        else:
            if self.targets.emergency is not None:
                raise ValueError("targets.emergency must be null when can_be_emergency is false")
            if self.emergency_instruction is not None:
                raise ValueError("emergency_instruction is only for services that can be emergencies")
        if self.metadata != bool(self.attributes):
            raise ValueError("metadata must be true exactly when the service has attributes")
        for label, keys in (
            ("attribute codes", (attribute.code for attribute in self.attributes)),
            ("attribute orders", (str(attribute.order) for attribute in self.attributes)),
        ):
            duplicates = _duplicates(keys)
            if duplicates:
                raise ValueError(f"duplicate {label}: {', '.join(duplicates)}")
        return self


# ---------------------------------------------------------------------------------------------------------
# kb/*.md
# ---------------------------------------------------------------------------------------------------------

ARTICLE_MIN_WORDS = 120
ARTICLE_MAX_WORDS = 350


def count_words(markdown: str) -> int:
    """Words a reader sees: Markdown markers (#, -, |, **) do not count."""
    return len(re.findall(r"[A-Za-z0-9$][\w'’.,:/@$%&+-]*", markdown))


class Synonym(_Model):
    """Words residents use for one of the article's terms, e.g. garbage: trash, rubbish."""

    term: Text
    words: list[Text] = Field(min_length=1)


class Article(_Model):
    slug: Slug
    title: Name
    department: Code
    tags: list[Code] = Field(min_length=1)
    example_questions: list[Text] = Field(min_length=4)
    synonyms: list[Synonym] = []
    url: NorthvaleUrl
    owner: Name
    review_date: dt.date
    status: Literal["published", "draft"]
    language: Literal["en", "fr"]
    related_services: list[Code] = []  # services the assistant may offer to open after answering
    body: Text

    @field_validator("body")
    @classmethod
    def _length(cls, body: str) -> str:
        words = count_words(body)
        if not ARTICLE_MIN_WORDS <= words <= ARTICLE_MAX_WORDS:
            raise ValueError(f"the body has {words} words; write {ARTICLE_MIN_WORDS} to {ARTICLE_MAX_WORDS}")
        return body


def split_front_matter(text: str) -> tuple[str, str]:
    """Split "---\\n<yaml>\\n---\\n<markdown>" into the YAML and the Markdown body."""
    text = text.removeprefix("\ufeff").replace("\r\n", "\n")
    if not text.startswith("---\n"):
        raise ValueError("the file must start with a '---' line that opens the front matter")
    end = text.find("\n---\n", 3)
    if end == -1:
        raise ValueError("no closing '---' line after the front matter")
    return text[4 : end + 1], text[end + 5 :]


# ---------------------------------------------------------------------------------------------------------
# appointments.yaml
# ---------------------------------------------------------------------------------------------------------


class AppointmentLocation(_Model):
    code: Code
    name: Name
    address: Text  # street address only; city and postal code are separate
    city: City
    postal_code: PostalCode
    phone: Phone
    accessibility: Text


class Schedule(_Model):
    """A weekly pattern: slots of the type's duration from `start` to `end` on each weekday, at every
    location of the type, for `weeks_ahead` weeks. Holidays are skipped by the slot generator."""

    weekdays: list[Weekday] = Field(min_length=1)
    start: ClockTime
    end: ClockTime
    capacity: int = Field(ge=1, le=50)  # people per slot
    weeks_ahead: int = Field(ge=1, le=26)

    @model_validator(mode="after")
    def _window(self) -> Schedule:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        duplicates = _duplicates(self.weekdays)
        if duplicates:
            raise ValueError(f"weekdays listed twice: {', '.join(duplicates)}")
        return self

    def window_minutes(self) -> int:
        return (self.end.hour * 60 + self.end.minute) - (self.start.hour * 60 + self.start.minute)


class AppointmentType(_Model):
    code: Code
    name: Name
    department: Code
    description: Text
    eligibility: Text
    duration_minutes: int = Field(ge=5, le=240)
    locations: list[Code] = Field(min_length=1)
    schedule: Schedule
    what_to_bring: list[Text] = []

    @model_validator(mode="after")
    def _slots_fit(self) -> AppointmentType:
        window = self.schedule.window_minutes()
        if window % self.duration_minutes:
            raise ValueError(
                f"the {window}-minute window from start to end is not a whole number of "
                f"{self.duration_minutes}-minute appointments"
            )
        return self


class AppointmentCatalogue(_Model):
    locations: list[AppointmentLocation] = Field(min_length=1)
    types: list[AppointmentType] = Field(min_length=1)


# ---------------------------------------------------------------------------------------------------------
# events.yaml, forms.yaml, referrals.yaml, oncall.yaml
# ---------------------------------------------------------------------------------------------------------

# An aware datetime whose offset is Toronto's on that day: a -05:00 in July is a typo, not a time zone.
TorontoDatetime = Annotated[AwareDatetime, AfterValidator(_check_toronto_offset)]


class Event(_Model):
    code: Code
    title: Name
    description: Text
    department: Code
    venue: Name
    address: Text
    starts_at: TorontoDatetime
    ends_at: TorontoDatetime
    capacity: int = Field(ge=1, le=2000)
    online_option: HttpsUrl | None

    @model_validator(mode="after")
    def _order(self) -> Event:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class MailableItem(_Model):
    code: Code
    title: Name
    description: Text
    department: Code
    format: Literal["form", "brochure", "guide"]
    languages: list[LanguageCode] = Field(min_length=1)
    max_copies: int = Field(ge=1, le=100)

    @field_validator("languages")
    @classmethod
    def _english_and_unique(cls, languages: list[str]) -> list[str]:
        if "en" not in languages:
            raise ValueError("every item is available in English: add en")
        duplicates = _duplicates(languages)
        if duplicates:
            raise ValueError(f"languages listed twice: {', '.join(duplicates)}")
        return languages


class Referral(_Model):
    code: Code
    name: Name
    level: Literal["federal", "provincial", "utility", "municipal", "community"]
    topics: list[Text] = Field(min_length=1)
    description: Text  # what they handle that the Region does not
    phone: Phone | None = None
    website: HttpsUrl | None = None
    hours: Text | None = None

    @model_validator(mode="after")
    def _reachable(self) -> Referral:
        if self.phone is None and self.website is None:
            raise ValueError("give a phone number or a website so the resident can reach them")
        return self


class OnCallShift(_Model):
    department: Code
    role: Name
    name: Name
    phone: Phone
    starts_at: TorontoDatetime
    ends_at: TorontoDatetime

    @model_validator(mode="after")
    def _order(self) -> OnCallShift:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


# ---------------------------------------------------------------------------------------------------------
# collection.yaml
# ---------------------------------------------------------------------------------------------------------

# Every area municipality with curbside collection, as residents write it (mailing city names). Wider than
# `City`: collection is a regional service, also in municipalities whose requests Service First does not take.
CollectionMunicipality = Literal[
    "Northvale", "Harlow Falls", "Pinecrest", "Port Sable", "Elm Ridge", "Dunmore", "Kestrel Bay"
]  # fmt: skip
# How residents write street types, to the type a street's name ends with; the collection look-up reads
# addresses with it, so a street in collection.yaml must end with one of the full types.
STREET_TYPES: dict[str, str] = {
    "street": "Street", "st": "Street", "road": "Road", "rd": "Road", "avenue": "Avenue", "ave": "Avenue",
    "av": "Avenue", "drive": "Drive", "dr": "Drive", "crescent": "Crescent", "cres": "Crescent",
    "cr": "Crescent", "court": "Court", "ct": "Court", "lane": "Lane", "ln": "Lane", "way": "Way",
    "boulevard": "Boulevard", "blvd": "Boulevard", "line": "Line", "place": "Place", "pl": "Place",
    "trail": "Trail", "trl": "Trail", "circle": "Circle", "cir": "Circle", "gate": "Gate", "terrace": "Terrace",
}  # fmt: skip


class CollectionCalendar(_Model):
    """Which weeks are A weeks (from a Monday, alternating) and which holidays move collection a day later."""

    week_a_starts: dt.date
    holidays_moving_collection: list[Name] = []

    @field_validator("week_a_starts")
    @classmethod
    def _monday(cls, value: dt.date) -> dt.date:
        if value.weekday() != 0:
            raise ValueError(f"{value} is a {value:%A}: give the Monday that starts an A week")
        return value


class CollectionZone(_Model):
    code: Code
    municipality: CollectionMunicipality
    day: Literal["mon", "tue", "wed", "thu", "fri"]
    garbage_week: Literal["A", "B"]


class HouseNumbers(_Model):
    """House numbers `first` to `last` on one side of the street (`odd`, `even`) or both (`all`)."""

    first: int = Field(ge=1, le=99999)
    last: int = Field(ge=1, le=99999)
    side: Literal["all", "odd", "even"] = "all"
    zone: Code

    @model_validator(mode="after")
    def _order(self) -> HouseNumbers:
        if self.last < self.first:
            raise ValueError(f"last ({self.last}) must not be below first ({self.first})")
        if self.side != "all" and (self.first % 2 != self.last % 2 or (self.first % 2 == 1) != (self.side == "odd")):
            raise ValueError(f"an {self.side} range must start and end on {self.side} numbers")
        return self

    def holds(self, number: int) -> bool:
        on_side = self.side == "all" or (number % 2 == 1) == (self.side == "odd")
        return on_side and self.first <= number <= self.last


class CollectionStreet(_Model):
    municipality: CollectionMunicipality
    name: Name
    ranges: list[HouseNumbers] = Field(min_length=1)

    @field_validator("name")
    @classmethod
    def _street_type(cls, value: str) -> str:
        if value.split()[-1] not in set(STREET_TYPES.values()):
            raise ValueError(
                f"'{value}' must end with a street type written out ({', '.join(sorted(set(STREET_TYPES.values())))})"
            )
        return value

    @model_validator(mode="after")
    def _no_overlap(self) -> CollectionStreet:
        for index, one in enumerate(self.ranges):
            for other in self.ranges[index + 1 :]:
                start, end = max(one.first, other.first), min(one.last, other.last)
                if any(one.holds(n) and other.holds(n) for n in range(start, min(end, start + 2) + 1)):
                    raise ValueError(f"house numbers {one.first}-{one.last} and {other.first}-{other.last} overlap")
        return self


class CollectionSchedule(_Model):
    calendar: CollectionCalendar
    zones: list[CollectionZone] = Field(min_length=1)
    streets: list[CollectionStreet] = Field(min_length=1)


# ---------------------------------------------------------------------------------------------------------
# The whole seed
# ---------------------------------------------------------------------------------------------------------


class SeedData(_Model):
    departments: list[Department]
    holidays: list[Holiday]
    services: list[Service]
    articles: list[Article]
    appointments: AppointmentCatalogue
    events: list[Event]
    forms: list[MailableItem]
    referrals: list[Referral]
    oncall: list[OnCallShift]
    collection: CollectionSchedule


M = TypeVar("M", bound=BaseModel)


def _duplicates(values: Iterable[str]) -> list[str]:
    return sorted(value for value, count in Counter(values).items() if count > 1)


def _describe(error: ValidationError) -> str:
    """One line for a pydantic error: 'targets.urgent: Input should be greater than 0; ...'."""
    parts = []
    for item in error.errors(include_url=False):
        location = ".".join(str(part) if isinstance(part, str) else f"[{part}]" for part in item["loc"])
        location = location.replace(".[", "[")
        message = item["msg"].removeprefix("Value error, ")
        parts.append(f"{location}: {message}" if location else message)
    return "; ".join(parts)


class _Reader:
    """Reads the files of one seed directory and collects every problem before reporting them."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.problems: list[str] = []

    def yaml_file(self, file_name: str) -> Any:
        path = self.directory / file_name
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            self.problems.append(f"{file_name}: file not found in {self.directory}")
        except UnicodeDecodeError:
            self.problems.append(f"{file_name}: not UTF-8 text")
        except yaml.YAMLError as exc:
            self.problems.append(f"{file_name}: not valid YAML: {_yaml_problem(exc)}")
        else:
            if data is not None:
                return data
            self.problems.append(f"{file_name}: the file is empty")
        return None

    def items(self, file_name: str, raw: Any, model: type[M], label: str) -> list[M]:
        """Validate a list of entries one by one so each problem names its entry."""
        if raw is None:
            return []  # missing or unreadable: already reported
        if not isinstance(raw, list):
            self.problems.append(f"{file_name}: expected a list of {label}s, found {type(raw).__name__}")
            return []
        parsed = []
        for index, entry in enumerate(raw, start=1):
            try:
                parsed.append(model.model_validate(entry))
            except ValidationError as exc:
                self.problems.append(f"{file_name}: {label} {_entry_name(entry, index)}: {_describe(exc)}")
        return parsed

    def articles(self, kb_dir: Path, prefix: str) -> list[Article]:
        """Every `*.md` in `kb_dir`; problems are reported as `{prefix}{file name}: ...`."""
        paths = sorted(kb_dir.glob("*.md"))
        if not paths:
            self.problems.append(f"{prefix or kb_dir}: no articles (*.md) found in {kb_dir}")
        articles = []
        for path in paths:
            file_name = f"{prefix}{path.name}"
            try:
                front_text, body = split_front_matter(path.read_text(encoding="utf-8"))
                front = yaml.safe_load(front_text)
            except (ValueError, yaml.YAMLError) as exc:  # UnicodeDecodeError is a ValueError
                detail = _yaml_problem(exc) if isinstance(exc, yaml.YAMLError) else str(exc)
                self.problems.append(f"{file_name}: {detail}")
                continue
            if not isinstance(front, dict):
                self.problems.append(f"{file_name}: the front matter must be YAML fields (slug, title, ...)")
                continue
            if "body" in front:
                self.problems.append(f"{file_name}: 'body' is the Markdown below the front matter, not a field")
                continue
            try:
                article = Article.model_validate({**front, "body": body.strip()})
            except ValidationError as exc:
                self.problems.append(f"{file_name}: {_describe(exc)}")
                continue
            if article.slug != path.stem:
                self.problems.append(f"{file_name}: slug '{article.slug}' must match the file name '{path.stem}'")
            articles.append(article)
        return articles

    def appointments(self, raw: Any) -> AppointmentCatalogue | None:
        file_name = "appointments.yaml"
        if raw is None:
            return None
        if not isinstance(raw, dict):
            self.problems.append(f"{file_name}: expected 'locations' and 'types' lists")
            return None
        unknown = sorted(set(raw) - {"locations", "types"})
        if unknown:
            self.problems.append(f"{file_name}: unknown sections: {', '.join(unknown)}")
        locations = self.items(file_name, raw.get("locations"), AppointmentLocation, "location")
        types = self.items(file_name, raw.get("types"), AppointmentType, "appointment type")
        for section in ("locations", "types"):
            if not raw.get(section):
                self.problems.append(f"{file_name}: the '{section}' list is missing or empty")
        return AppointmentCatalogue.model_construct(locations=locations, types=types)

    def collection(self, raw: Any) -> CollectionSchedule | None:
        file_name = "collection.yaml"
        if raw is None:
            return None
        if not isinstance(raw, dict):
            self.problems.append(f"{file_name}: expected the sections 'calendar', 'zones' and 'streets'")
            return None
        problems_before = len(self.problems)
        unknown = sorted(set(raw) - {"calendar", "zones", "streets"})
        if unknown:
            self.problems.append(f"{file_name}: unknown sections: {', '.join(unknown)}")
        try:
            calendar = CollectionCalendar.model_validate(raw.get("calendar"))
        except ValidationError as exc:
            self.problems.append(f"{file_name}: calendar: {_describe(exc)}")
        zones = self.items(file_name, raw.get("zones"), CollectionZone, "zone")
        streets = self.items(file_name, raw.get("streets"), CollectionStreet, "street")
        for section in ("zones", "streets"):
            if not raw.get(section):
                self.problems.append(f"{file_name}: the '{section}' list is missing or empty")
        if len(self.problems) > problems_before:
            return None
        return CollectionSchedule(calendar=calendar, zones=zones, streets=streets)


def _entry_name(entry: object, index: int) -> str:
    if isinstance(entry, dict):
        for key in ("code", "slug"):
            if isinstance(entry.get(key), str):
                return f"'{entry[key]}'"
        if isinstance(entry.get("name"), str) and isinstance(entry.get("municipality"), str):
            return f"'{entry['name']}, {entry['municipality']}'"  # a street of collection.yaml
        if isinstance(entry.get("date"), dt.date):
            return f"{entry['date']}"
    return f"#{index}"


def _yaml_problem(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    if mark is not None:
        return f"line {mark.line + 1}, column {mark.column + 1}: {problem}"
    return str(problem)


def _check_references(seed: SeedData) -> list[str]:
    """Cross-file checks: unique codes, and every department/location/service named exists."""
    problems: list[str] = []

    def unique(file_name: str, label: str, keys: Iterable[str]) -> None:
        for key in _duplicates(keys):
            problems.append(f"{file_name}: {label} '{key}' is used more than once")

    unique("departments.yaml", "department code", (d.code for d in seed.departments))
    unique("departments.yaml", "queue code", (d.queue.code for d in seed.departments))
    unique("holidays.yaml", "date", (h.date.isoformat() for h in seed.holidays))
    unique("services.yaml", "service code", (s.code for s in seed.services))
    unique("kb/", "slug", (a.slug for a in seed.articles))
    unique("kb/", "url", (a.url for a in seed.articles))
    unique("appointments.yaml", "location code", (loc.code for loc in seed.appointments.locations))
    unique("appointments.yaml", "appointment type code", (t.code for t in seed.appointments.types))
    unique("events.yaml", "event code", (e.code for e in seed.events))
    unique("forms.yaml", "form code", (f.code for f in seed.forms))
    unique("referrals.yaml", "referral code", (r.code for r in seed.referrals))

    departments = {d.code for d in seed.departments}
    services = {s.code for s in seed.services}
    locations = {loc.code for loc in seed.appointments.locations}

    def known(file_name: str, owner: str, kind: str, value: str, valid: set[str]) -> None:
        if value not in valid:
            problems.append(f"{file_name}: {owner} names unknown {kind} '{value}'")

    for service in seed.services:
        known("services.yaml", f"service '{service.code}'", "department", service.department, departments)
    missing = sorted(REQUIRED_SERVICE_CODES - services)
    if missing:
        problems.append(f"services.yaml: required service codes are missing: {', '.join(missing)}")
    for article in seed.articles:
        file_name = f"kb/{article.slug}.md"
        known(file_name, f"article '{article.slug}'", "department", article.department, departments)
        for code in article.related_services:
            known(file_name, f"article '{article.slug}'", "service", code, services)
    for kind in seed.appointments.types:
        owner = f"appointment type '{kind.code}'"
        known("appointments.yaml", owner, "department", kind.department, departments)
        for location in kind.locations:
            known("appointments.yaml", owner, "location", location, locations)
    for event in seed.events:
        known("events.yaml", f"event '{event.code}'", "department", event.department, departments)
    for form in seed.forms:
        known("forms.yaml", f"form '{form.code}'", "department", form.department, departments)
    for shift in seed.oncall:
        owner = f"shift of {shift.name} starting {shift.starts_at.isoformat()}"
        known("oncall.yaml", owner, "department", shift.department, departments)
    problems.extend(_roster_overlaps(seed.oncall))
    problems.extend(_check_collection(seed.collection, seed.holidays))
    return problems


def holiday_name(holiday: Holiday) -> str:
    """The holiday's name without "(observed)": "Christmas Day (observed)" is Christmas Day."""
    return holiday.name.removesuffix("(observed)").strip()


def _check_collection(schedule: CollectionSchedule, holidays: list[Holiday]) -> list[str]:
    """Zones named by streets exist in the street's municipality; streets and zones are listed once."""
    file_name = "collection.yaml"
    problems = [
        f"{file_name}: zone code '{code}' is used more than once"
        for code in _duplicates(z.code for z in schedule.zones)
    ]
    streets = (f"{s.name}, {s.municipality}" for s in schedule.streets)
    problems += [f"{file_name}: street '{street}' is listed more than once" for street in _duplicates(streets)]
    zones = {zone.code: zone for zone in schedule.zones}
    for street in schedule.streets:
        for numbers in street.ranges:
            zone = zones.get(numbers.zone)
            if zone is None:
                problems.append(
                    f"{file_name}: street '{street.name}, {street.municipality}' names unknown zone '{numbers.zone}'"
                )
            elif zone.municipality != street.municipality:
                problems.append(
                    f"{file_name}: street '{street.name}, {street.municipality}' names zone '{zone.code}' "
                    f"of {zone.municipality}"
                )
    known = {holiday_name(h) for h in holidays}
    for name in schedule.calendar.holidays_moving_collection:
        if name not in known:
            problems.append(f"{file_name}: calendar: holiday '{name}' is not in holidays.yaml")
    return problems


def _roster_overlaps(shifts: list[OnCallShift]) -> list[str]:
    """Two people on call for the same department and role at once means nobody knows who answers."""
    problems = []
    by_role: dict[tuple[str, str], list[OnCallShift]] = {}
    for shift in shifts:
        by_role.setdefault((shift.department, shift.role), []).append(shift)
    for (department, role), role_shifts in sorted(by_role.items()):
        ordered = sorted(role_shifts, key=lambda shift: shift.starts_at)
        for before, after in zip(ordered, ordered[1:], strict=False):
            if after.starts_at < before.ends_at:
                problems.append(
                    f"oncall.yaml: {department} {role}: {before.name}'s shift ending "
                    f"{before.ends_at.isoformat()} overlaps {after.name}'s shift starting "
                    f"{after.starts_at.isoformat()}"
                )
    return problems


def load_seed(directory: Path = SEED_DIR) -> SeedData:
    """Read, validate and cross-check every seed file in `directory`; raise SeedError listing all problems."""
    reader = _Reader(Path(directory))

    def read(file_name: str, model: type[M], label: str) -> list[M]:
        return reader.items(file_name, reader.yaml_file(file_name), model, label)

    departments = read("departments.yaml", Department, "department")
    holidays = read("holidays.yaml", Holiday, "holiday")
    services = read("services.yaml", Service, "service")
    articles = reader.articles(reader.directory / "kb", prefix="kb/")
    appointments = reader.appointments(reader.yaml_file("appointments.yaml"))
    events = read("events.yaml", Event, "event")
    forms = read("forms.yaml", MailableItem, "form")
    referrals = read("referrals.yaml", Referral, "referral")
    oncall = read("oncall.yaml", OnCallShift, "shift")
    collection = reader.collection(reader.yaml_file("collection.yaml"))
    if reader.problems or appointments is None or collection is None:
        raise SeedError("\n".join(reader.problems))
    seed = SeedData(
        departments=departments,
        holidays=holidays,
        services=services,
        articles=articles,
        appointments=appointments,
        events=events,
        forms=forms,
        referrals=referrals,
        oncall=oncall,
        collection=collection,
    )
    problems = _check_references(seed)
    if problems:
        raise SeedError("\n".join(problems))
    return seed


def load_collection(directory: Path = SEED_DIR) -> tuple[CollectionSchedule, list[Holiday]]:
    """Only what the collection look-up needs (collection.yaml and holidays.yaml), checked as load_seed checks
    them; raise SeedError listing all problems."""
    reader = _Reader(Path(directory))
    holidays = reader.items("holidays.yaml", reader.yaml_file("holidays.yaml"), Holiday, "holiday")
    collection = reader.collection(reader.yaml_file("collection.yaml"))
    if reader.problems or collection is None:
        raise SeedError("\n".join(reader.problems))
    problems = _check_collection(collection, holidays)
    if problems:
        raise SeedError("\n".join(problems))
    return collection, holidays


def load_articles(directory: Path) -> list[Article]:
    """Read and validate every `*.md` article directly in `directory` (a knowledgebase export being imported).

    Raises SeedError listing every bad file, so an import either takes all files or none. Department codes are
    not checked here: the importer checks them against the database.
    """
    reader = _Reader(Path(directory))
    articles = reader.articles(reader.directory, prefix="")
    for url in _duplicates(article.url for article in articles):
        files = ", ".join(f"{article.slug}.md" for article in articles if article.url == url)
        reader.problems.append(f"{files}: url '{url}' is used by more than one article")
    if reader.problems:
        raise SeedError("\n".join(reader.problems))
    return articles
