"""Collection day by address: the rules on a small table built here, then the shipped table and the articles.

Every date is given to the look-up (`today`), never read from the clock.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from civicdesk.app import create_app
from civicdesk.knowledge.collection import CollectionDays, parse_address
from civicdesk.seed_schema import SEED_DIR, CollectionSchedule, CollectionZone, Holiday, SeedError, load_collection
from civicdesk.settings import Settings

# Weeks alternate from this A-week Monday. 2026 has 53 ISO weeks, so ISO week parity would break at New Year.
WEEK_A = dt.date(2026, 1, 5)


def small_table(holidays: list[Holiday] | None = None) -> CollectionDays:
    schedule = CollectionSchedule.model_validate(
        {
            "calendar": {"week_a_starts": WEEK_A, "holidays_moving_collection": ["Christmas Day", "New Year's Day"]},
            "zones": [
                {"code": "town_tuesday_a", "municipality": "Pinecrest", "day": "tue", "garbage_week": "A"},
                {"code": "town_friday_b", "municipality": "Pinecrest", "day": "fri", "garbage_week": "B"},
                {"code": "town_friday_a", "municipality": "Pinecrest", "day": "fri", "garbage_week": "A"},
                {"code": "ridge_thursday_b", "municipality": "Elm Ridge", "day": "thu", "garbage_week": "B"},
            ],
            "streets": [
                {
                    "municipality": "Pinecrest",
                    "name": "Oak Avenue",
                    "ranges": [
                        {"first": 1, "last": 199, "zone": "town_tuesday_a"},
                        {"first": 200, "last": 398, "zone": "town_friday_b"},
                    ],
                },
                {
                    "municipality": "Pinecrest",
                    "name": "King Street",
                    "ranges": [
                        {"first": 1, "last": 99, "side": "odd", "zone": "town_tuesday_a"},
                        {"first": 2, "last": 98, "side": "even", "zone": "town_friday_a"},
                    ],
                },
                {
                    "municipality": "Elm Ridge",
                    "name": "Oak Avenue",
                    "ranges": [{"first": 1, "last": 80, "zone": "ridge_thursday_b"}],
                },
            ],
        }
    )
    return CollectionDays(schedule, holidays if holidays is not None else HOLIDAYS)


HOLIDAYS = [
    Holiday(date=dt.date(2026, 12, 25), name="Christmas Day"),
    Holiday(date=dt.date(2026, 12, 28), name="Boxing Day (observed)", falls_on=dt.date(2026, 12, 26)),
    Holiday(date=dt.date(2027, 1, 1), name="New Year's Day"),
    Holiday(date=dt.date(2027, 12, 27), name="Christmas Day (observed)", falls_on=dt.date(2027, 12, 25)),
    Holiday(date=dt.date(2026, 2, 16), name="Family Day"),
]


def zone(days: CollectionDays, code: str) -> CollectionZone:
    return next(z for z in days.schedule.zones if z.code == code)


# ------------------------------------------------------------------------------------------------- reading addresses


@pytest.mark.parametrize(
    ("text", "number", "street", "municipality"),
    [
        ("when is garbage day on 45 Oak Avenue in Pinecrest?", 45, "Oak Avenue", "Pinecrest"),
        (
            "what day is my recycling picked up, I live at 12 Birch Crescent, Harlow Falls",
            12,
            "Birch Crescent",
            "Harlow Falls",
        ),
        ("is this a garbage week for 300 King St Northvale", 300, "King Street", "Northvale"),
        ("bin day for 12b falls view blvd. harlow", 12, "Falls View Boulevard", "Harlow Falls"),
        ("1234 Sixth Line, Township of Elm Ridge", 1234, "Sixth Line", "Elm Ridge"),
        ("trash day at 7 kestrel way kestrel bay", 7, "Kestrel Way", "Kestrel Bay"),
        ("when is garbage day", None, None, None),
        ("I live on Oak Avenue in Dunmore", None, None, "Dunmore"),
    ],
)
def test_an_address_is_read_out_of_a_sentence(
    text: str, number: int | None, street: str | None, municipality: str | None
) -> None:
    found = parse_address(text)
    assert (found.number, found.street, found.municipality) == (number, street, municipality)


def test_a_chosen_municipality_wins_over_the_text() -> None:
    assert parse_address("45 Oak Avenue Pinecrest", municipality="Elm Ridge").municipality == "Elm Ridge"


# ------------------------------------------------------------------------------------------------------------- rules


def test_house_number_ranges_pick_the_zone() -> None:
    days = small_table()
    tuesday = dt.date(2026, 12, 8)
    assert days.lookup("199 Oak Avenue, Pinecrest", tuesday).answer.day == "Tuesday"  # type: ignore[union-attr]
    assert days.lookup("200 Oak Avenue, Pinecrest", tuesday).answer.day == "Friday"  # type: ignore[union-attr]


def test_odd_and_even_sides_of_one_street_differ() -> None:
    days = small_table()
    odd = days.lookup("31 King Street, Pinecrest", dt.date(2026, 12, 8)).answer
    even = days.lookup("32 King Street, Pinecrest", dt.date(2026, 12, 8)).answer
    assert odd is not None and even is not None
    assert (odd.zone, odd.day) == ("town_tuesday_a", "Tuesday")
    assert (even.zone, even.day) == ("town_friday_a", "Friday")


def test_weeks_alternate_across_the_year_boundary() -> None:
    days = small_table()
    a_zone = zone(days, "town_tuesday_a")
    mondays = [
        dt.date(2026, 12, 14),
        dt.date(2026, 12, 21),
        dt.date(2026, 12, 28),
        dt.date(2027, 1, 4),
        dt.date(2027, 1, 11),
    ]
    # ISO weeks 51, 52, 53, 1, 2: the A weeks are 52 and 1, which ISO parity would not give.
    assert [days.is_garbage_week(a_zone, monday) for monday in mondays] == [False, True, False, True, False]
    # Any day of a week is in that week's parity, Sunday included.
    assert days.is_garbage_week(a_zone, dt.date(2027, 1, 10))
    # Before the reference Monday the weeks alternate too.
    assert days.is_garbage_week(a_zone, WEEK_A - dt.timedelta(days=14))
    assert not days.is_garbage_week(a_zone, WEEK_A - dt.timedelta(days=7))


def test_a_holiday_on_the_collection_day_moves_it_a_day_later() -> None:
    days = small_table()
    friday_a = zone(days, "town_friday_a")
    christmas_week = days.collection_in_week(friday_a, dt.date(2026, 12, 21))
    assert (christmas_week.date, christmas_week.garbage, christmas_week.moved_for) == (
        dt.date(2026, 12, 26),
        True,
        "Christmas Day",
    )
    new_year = days.collection_in_week(zone(days, "town_friday_b"), dt.date(2026, 12, 28))
    assert (new_year.date, new_year.garbage, new_year.moved_for) == (dt.date(2027, 1, 2), True, "New Year's Day")
    # Only that day moves: Tuesday routes of Christmas week keep their day.
    assert days.collection_in_week(zone(days, "town_tuesday_a"), dt.date(2026, 12, 21)).date == dt.date(2026, 12, 22)


def test_holidays_the_article_does_not_name_change_nothing() -> None:
    days = small_table()
    # Family Day 2026 is a Monday with no Monday zone here, but Boxing Day observed (Monday Dec 28) and Christmas
    # 2027 (a Saturday, observed Monday Dec 27) are in the holidays list: neither moves a Friday or Tuesday route.
    friday_a = zone(days, "town_friday_a")
    assert days.collection_in_week(friday_a, dt.date(2027, 12, 20)).moved_for is None
    assert days.collection_in_week(zone(days, "town_tuesday_a"), dt.date(2027, 12, 27)).date == dt.date(2027, 12, 28)
    without = small_table(holidays=[])
    assert without.collection_in_week(friday_a, dt.date(2026, 12, 21)).date == dt.date(2026, 12, 25)


def test_the_answer_says_the_day_this_week_next_week_and_the_next_collections() -> None:
    days = small_table()
    found = days.lookup("when is garbage day on 45 Oak Avenue in Pinecrest?", dt.date(2026, 12, 9))
    assert found.status == "found" and found.answer is not None
    assert found.answer.this_week_garbage and not found.answer.next_week_garbage
    # Wednesday: this week's Tuesday is past, so the next two are Dec 15 and Dec 22.
    assert [c.date for c in found.answer.next_collections] == [dt.date(2026, 12, 15), dt.date(2026, 12, 22)]
    assert found.message.splitlines()[:2] == [
        "45 Oak Avenue, Pinecrest: your collection day is Tuesday.",
        "This week (week of December 7) is a garbage week: garbage, blue box and green bin. "
        "Next week is blue box and green bin only.",
    ]
    assert "Tuesday, December 15 (blue box and green bin only) and Tuesday, December 22 (garbage week)" in found.message


def test_the_collection_day_itself_counts_as_next() -> None:
    found = small_table().lookup("45 Oak Avenue, Pinecrest", dt.date(2026, 12, 8))
    assert found.answer is not None and found.answer.next_collections[0].date == dt.date(2026, 12, 8)


def test_yard_waste_is_said_only_in_season() -> None:
    days = small_table()
    assert (
        "garbage, yard waste, blue box and green bin"
        in days.lookup("45 Oak Avenue, Pinecrest", dt.date(2026, 5, 12)).message
    )
    assert "yard waste" not in days.lookup("45 Oak Avenue, Pinecrest", dt.date(2026, 12, 8)).message


def test_a_moved_collection_says_why() -> None:
    found = small_table().lookup("20 King Street, Pinecrest", dt.date(2026, 12, 21))
    assert "Saturday, December 26 (garbage week, moved from Friday for Christmas Day)" in found.message


def test_an_unknown_street_is_said_so_with_what_to_do() -> None:
    found = small_table().lookup("45 Oak Street in Pinecrest", dt.date(2026, 12, 8))
    assert found.status == "not_found" and found.answer is None
    assert found.message.startswith("I couldn't find 45 Oak Street in Pinecrest in the collection calendar.")
    assert "Did you mean Oak Avenue?" in found.message
    assert "311" in found.message and "northvale.ca/waste/collection-day" in found.message


def test_a_street_of_another_municipality_is_named() -> None:
    found = small_table().lookup("10 King Street, Elm Ridge", dt.date(2026, 12, 8))
    assert found.status == "not_found"
    assert "King Street is in Pinecrest." in found.message


def test_a_street_in_two_municipalities_asks_which() -> None:
    found = small_table().lookup("45 Oak Avenue", dt.date(2026, 12, 8))
    assert found.status == "ambiguous"
    assert found.choices == ("Elm Ridge", "Pinecrest")
    assert found.message == "Oak Avenue is in both Elm Ridge and Pinecrest: which one do you live in?"
    chosen = small_table().lookup("45 Oak Avenue", dt.date(2026, 12, 8), municipality="Elm Ridge")
    assert chosen.answer is not None and chosen.answer.day == "Thursday"


def test_a_number_outside_the_ranges_is_refused() -> None:
    found = small_table().lookup("500 Oak Avenue, Pinecrest", dt.date(2026, 12, 8))
    assert found.status == "out_of_range" and found.answer is None
    assert "500 isn't a house number we have for Oak Avenue, Pinecrest (the calendar lists 1 to 398)" in found.message
    # An even number on an odd-only side is outside too.
    assert small_table().lookup("100 King Street, Pinecrest", dt.date(2026, 12, 8)).status == "out_of_range"


def test_no_address_asks_for_one() -> None:
    found = small_table().lookup("when is my garbage day?", dt.date(2026, 12, 8))
    assert found.status == "no_address"
    assert "house number and street" in found.message


# ----------------------------------------------------------------------------------------------- the shipped table


@pytest.fixture(scope="module")
def shipped() -> CollectionDays:
    return CollectionDays.from_seed()


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("when is garbage day on 45 Oak Avenue in Pinecrest?", "Tuesday"),
        ("what day is my recycling picked up, I live at 12 Birch Crescent, Harlow Falls", "Wednesday"),
        ("is this a garbage week for 300 King St Northvale", "Thursday"),
    ],
)
def test_the_questions_of_issue_15_are_answered_from_the_table(shipped: CollectionDays, text: str, day: str) -> None:
    found = shipped.lookup(text, dt.date(2026, 12, 8))
    assert found.status == "found" and found.answer is not None
    assert found.answer.day == day


def test_every_municipality_of_the_region_has_streets(shipped: CollectionDays) -> None:
    municipalities = {street.municipality for street in shipped.schedule.streets}
    assert municipalities >= {"Northvale", "Harlow Falls", "Pinecrest", "Elm Ridge", "Dunmore", "Kestrel Bay"}
    assert len(shipped.schedule.streets) >= 30


def test_the_holiday_article_agrees_with_the_table(shipped: CollectionDays) -> None:
    """Each row of the article's table ("Christmas Day 2026 | Friday, December 25 | Saturday, December 26") is what
    the look-up says for a zone collected on that weekday."""
    article = (SEED_DIR / "kb" / "holiday-collection-schedule.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| (.+?) (\d{4}) \| (\w+), (\w+ \d+) \| (.+?) \|$", article, flags=re.MULTILINE)
    assert len(rows) == 4
    for holiday, year, weekday, month_day, collected in rows:
        regular = dt.datetime.strptime(f"{month_day} {year}", "%B %d %Y").date()
        zones = [z for z in shipped.schedule.zones if z.day == weekday[:3].lower()]
        if not zones:  # "No collection change (no Saturday routes)"
            assert collected.startswith("No collection change"), holiday
            continue
        for each in zones:
            collection = shipped.collection_in_week(each, regular - dt.timedelta(days=regular.weekday()))
            assert f"{collection.date:%A}, {collection.date:%B} {collection.date.day}" == collected, holiday
            assert collection.moved_for == holiday


def test_the_shipped_holidays_move_only_what_the_article_names(shipped: CollectionDays) -> None:
    schedule, holidays = load_collection()
    assert schedule.calendar.holidays_moving_collection == ["Christmas Day", "New Year's Day"]
    assert any(h.name == "Boxing Day (observed)" for h in holidays)  # in the list, and moves nothing
    friday = next(z for z in shipped.schedule.zones if z.day == "fri")
    monday = next(z for z in shipped.schedule.zones if z.day == "mon")
    assert shipped.collection_in_week(monday, dt.date(2026, 12, 28)).date == dt.date(2026, 12, 28)
    assert shipped.collection_in_week(friday, dt.date(2027, 12, 20)).moved_for is None


# --------------------------------------------------------------------------------------------------- bad seed files


def seed_copy(tmp_path: Path, old: str, new: str) -> Path:
    for name in ("holidays.yaml", "collection.yaml"):
        (tmp_path / name).write_text((SEED_DIR / name).read_text(encoding="utf-8"), encoding="utf-8")
    path = tmp_path / "collection.yaml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "week_a_starts: 2026-01-05",
            "week_a_starts: 2026-01-06",
            "collection.yaml: calendar: week_a_starts: 2026-01-06 is a Tuesday: give the Monday that starts an A week",
        ),
        (
            "[Christmas Day, New Year's Day]",
            "[Christmas Day, Remembrance Day]",
            "collection.yaml: calendar: holiday 'Remembrance Day' is not in holidays.yaml",
        ),
        (
            "- {first: 200, last: 398, zone: pinecrest_tuesday_b}",
            "- {first: 150, last: 398, zone: pinecrest_tuesday_b}",
            "collection.yaml: street 'Oak Avenue, Pinecrest': house numbers 1-199 and 150-398 overlap",
        ),
        (
            "- {first: 2, last: 598, side: even, zone: northvale_thursday_b}",
            "- {first: 2, last: 598, side: even, zone: pinecrest_tuesday_b}",
            "collection.yaml: street 'King Street, Northvale' names zone 'pinecrest_tuesday_b' of Pinecrest",
        ),
        (
            "- {first: 1, last: 120, zone: harlow_falls_wednesday_a}",
            "- {first: 1, last: 120, zone: harlow_falls_saturday}",
            "collection.yaml: street 'Birch Crescent, Harlow Falls' names unknown zone 'harlow_falls_saturday'",
        ),
        (
            "- {first: 1, last: 599, side: odd, zone: northvale_monday_a}",
            "- {first: 1, last: 598, side: odd, zone: northvale_monday_a}",
            "an odd range must start and end on odd numbers",
        ),
        ("name: Cedar Lane", "name: Cedar", "'Cedar' must end with a street type written out"),
        (
            "day: thu, garbage_week: B}",
            "day: sat, garbage_week: B}",
            "collection.yaml: zone 'northvale_thursday_b': day",
        ),
    ],
    ids=[
        "week-a-not-monday",
        "unknown-holiday",
        "overlap",
        "zone-of-another-town",
        "unknown-zone",
        "odd-range",
        "no-type",
        "saturday",
    ],
)
def test_a_broken_table_gives_a_seed_error_naming_it(tmp_path: Path, old: str, new: str, expected: str) -> None:
    with pytest.raises(SeedError) as raised:
        load_collection(seed_copy(tmp_path, old, new))
    assert expected in str(raised.value)
    assert all(line.startswith("collection.yaml: ") for line in str(raised.value).splitlines())


# ------------------------------------------------------------------------------------------------------------- API


@pytest.fixture
def client(tmp_path: Path, settings: Settings) -> TestClient:
    client = TestClient(create_app(settings))
    client.headers["Authorization"] = f"Bearer {settings.actions_token.get_secret_value()}"
    return client


def test_api_answers_the_day_for_an_address(client: TestClient) -> None:
    response = client.get(
        "/api/v1/collection-day",
        params={"address": "when is garbage day on 45 Oak Avenue in Pinecrest?", "on": "2026-12-21"},
    )
    assert response.status_code == 200
    body = response.json()
    assert {k: body[k] for k in ("status", "address", "municipality", "day", "garbage_week")} == {
        "status": "found",
        "address": "45 Oak Avenue, Pinecrest",
        "municipality": "Pinecrest",
        "day": "Tuesday",
        "garbage_week": "A",
    }
    assert (body["this_week_garbage"], body["next_week_garbage"]) == (True, False)
    assert body["next_collections"] == [
        {"date": "2026-12-22", "garbage": True, "moved_for": None},
        {"date": "2026-12-29", "garbage": False, "moved_for": None},
    ]
    assert body["message"].startswith(
        "45 Oak Avenue, Pinecrest: your collection day is Tuesday.\nThis week (week of December 21)"
    )


def test_api_offers_the_choices_for_an_ambiguous_street(client: TestClient) -> None:
    body = client.get("/api/v1/collection-day", params={"address": "300 King St", "on": "2026-12-08"}).json()
    assert (body["status"], body["choices"], body["day"], body["next_collections"]) == (
        "ambiguous",
        ["Kestrel Bay", "Northvale"],
        None,
        [],
    )
    chosen = client.get(
        "/api/v1/collection-day", params={"address": "300 King St", "municipality": "Northvale", "on": "2026-12-08"}
    ).json()
    assert (chosen["status"], chosen["day"]) == ("found", "Thursday")


def test_api_without_today_answers_for_today(client: TestClient) -> None:
    body = client.get("/api/v1/collection-day", params={"address": "45 Oak Avenue, Pinecrest"}).json()
    today = dt.date.fromisoformat(body["next_collections"][0]["date"])
    assert body["status"] == "found"
    # The next Tuesday (or the Wednesday after a holiday); the test's clock may be a day ahead of Northvale's.
    assert -1 <= (today - dt.date.today()).days <= 8


def test_api_refuses_bad_input_and_needs_the_service_token(client: TestClient) -> None:
    assert client.get("/api/v1/collection-day", params={"address": ""}).status_code == 422
    assert client.get("/api/v1/collection-day", params={"address": "x" * 301}).status_code == 422
    assert (
        client.get("/api/v1/collection-day", params={"address": "45 Oak Avenue", "on": "tomorrow"}).status_code == 422
    )
    del client.headers["Authorization"]
    assert client.get("/api/v1/collection-day", params={"address": "45 Oak Avenue"}).status_code == 401


def test_api_refuses_a_date_outside_the_century(client: TestClient) -> None:
    for day in ("0001-01-01", "9999-12-31"):
        assert client.get("/api/v1/collection-day", params={"address": "45 Oak Avenue", "on": day}).status_code == 422
