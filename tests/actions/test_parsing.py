"""Reading what residents type: places, contacts, references, numbers, dates; writing times back."""

from __future__ import annotations

import datetime as dt

import pytest

from actions import parsing


@pytest.mark.parametrize(
    ("typed", "place"),
    [
        ("125 Maple Cres", "125 Maple Crescent"),
        ("it's at 42 Victoria Avenue", "42 Victoria Avenue"),
        ("King St and Sable Rd", "King Street and Sable Road"),
        ("Orchard Way at Cedar Court", "Orchard Way at Cedar Court"),
        ("Regional Road 24 just north of the bridge", "Regional Road 24 just north of the bridge"),
        ("3550 Concession Road, Elm Ridge", "3550 Concession Road, Elm Ridge"),
        ("Atlantic Avenue and Ontario Street", "Atlantic Avenue and Ontario Street"),
        ("Maple Crescent", None),  # a whole street: the crew needs a number or a cross street
        ("by the big tree", None),
        ("/affirm", None),
    ],
)
def test_a_location_a_crew_can_find(typed: str, place: str | None) -> None:
    assert parsing.location(typed) == place


@pytest.mark.parametrize(
    ("typed", "name"),
    [
        ("Harlow", "City of Harlow Falls"),
        ("in harlow falls.", "City of Harlow Falls"),
        ("Town of Port Sable", "Town of Port Sable"),
        ("elm ridge", "Township of Elm Ridge"),
        ("Toronto", None),
    ],
)
def test_area_municipalities_by_any_of_their_names(typed: str, name: str | None) -> None:
    assert parsing.municipality(typed) == name


def test_contact_details_and_references_are_normalized() -> None:
    assert parsing.contact("email me at Dana.W@Example.CA") == ("dana.w@example.ca", None)
    assert parsing.contact("+1 (905) 555-0121") == (None, "905-555-0121")
    assert parsing.contact("no thanks") == (None, None)
    assert parsing.sr_reference("sr 2026 000123") == "SR-2026-000123"
    assert parsing.sr_reference("SR-26-123") is None
    assert parsing.booking_reference("ap7k3qx9") == "AP-7K3QX9"
    assert parsing.postal_code("l3x2b7") == "L3X 2B7"
    assert parsing.postal_code("D3X 2B7") is None  # Canada Post never uses D


@pytest.mark.parametrize(
    ("typed", "name"),
    [("my name is Dana Whitfield", "Dana Whitfield"), ("Jean-Luc Arsenault", "Jean-Luc Arsenault"), ("R2D2", None)],
)
def test_names(typed: str, name: str | None) -> None:
    assert parsing.person_name(typed) == name


@pytest.mark.parametrize(
    ("typed", "number"), [("2", 2), ("two of us", 2), ("just me", 1), ("me and my wife", 2), ("12", None)]
)
def test_small_counts(typed: str, number: int | None) -> None:
    assert parsing.count(typed) == number


def test_choices_by_position() -> None:
    assert parsing.choice_index("the second one", 3) == 1
    assert parsing.choice_index("last", 3) == 2
    assert parsing.choice_index("4", 3) is None


def test_recent_days() -> None:
    wednesday = dt.date(2026, 11, 25)
    assert parsing.past_date("yesterday", wednesday) == dt.date(2026, 11, 24)
    assert parsing.past_date("on Monday", wednesday) == dt.date(2026, 11, 23)
    assert parsing.past_date("Nov 20", wednesday) == dt.date(2026, 11, 20)
    assert parsing.past_date("Dec 30", dt.date(2027, 1, 2)) == dt.date(2026, 12, 30)
    assert parsing.past_date("soon", wednesday) is None


def test_times_in_the_regions_zone_canadian_press_style() -> None:
    assert parsing.say_time("2026-11-24T15:30:00Z") == "Tuesday, November 24 at 10:30 a.m."
    assert parsing.say_time("2026-07-02T16:00:00+00:00") == "Thursday, July 2 at noon"


def test_a_time_without_an_offset_is_read_as_utc() -> None:
    assert parsing.say_time("2026-11-24T15:30:00") == "Tuesday, November 24 at 10:30 a.m."
