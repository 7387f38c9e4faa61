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
    [
        ("my name is Dana Whitfield", "Dana Whitfield"),
        ("Jean-Luc Arsenault", "Jean-Luc Arsenault"),
        ("R2D2", None),
        ("it is for my mother, Rose Gallant", "Rose Gallant"),
        ("this is for Sam Ng", "Sam Ng"),
        ("for my dad Paul Ng", "Paul Ng"),
        ("Rose Gallant, my mother", "Rose Gallant"),
        ("book it under Omar Haddad please", "Omar Haddad"),
        ("under the name Declan Murphy", "Declan Murphy"),
        ("Marie-Ève De La Cruz", "Marie-Ève De La Cruz"),
        ("rose gallant", "Rose Gallant"),
        ("it's for my son", None),
        ("I don't know", None),
        ("why do you need my name", None),
        ("the first one", None),
    ],
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


NOW = dt.datetime(2026, 12, 8, 10, 0, tzinfo=parsing.REGION_TZ)  # a Tuesday morning


@pytest.mark.parametrize(
    ("typed", "days", "start", "end", "at", "said"),
    [
        ("I can only come Thursday after 2pm", [dt.date(2026, 12, 10)], dt.time(14), None, None,
         "Thursday, December 10, after 2 p.m."),
        ("Can I go to Harlow Falls on Thursday afternoon?", [dt.date(2026, 12, 10)], dt.time(12), dt.time(17), None,
         "Thursday, December 10, in the afternoon"),
        ("thursday after 2", [dt.date(2026, 12, 10)], dt.time(14), None, None, "Thursday, December 10, after 2 p.m."),
        ("next week", [dt.date(2026, 12, 14) + dt.timedelta(days=i) for i in range(7)], None, None, None, "next week"),
        ("Tuesday next week", [dt.date(2026, 12, 15)], None, None, None, "Tuesday, December 15"),
        ("today", [dt.date(2026, 12, 8)], None, None, None, "today"),
        ("wed or fri morning", [dt.date(2026, 12, 9), dt.date(2026, 12, 11)], dt.time(0), dt.time(12), None,
         "Wednesday, December 9 or Friday, December 11, in the morning"),
        ("Jan 5 at 10:30", [dt.date(2027, 1, 5)], None, None, dt.time(10, 30), "Tuesday, January 5, at 10:30 a.m."),
        ("between 1 and 3", None, dt.time(13), dt.time(15), None, "between 1 p.m. and 3 p.m."),
        ("before 11", None, None, dt.time(11), None, "before 11 a.m."),
        ("Friday at noon", [dt.date(2026, 12, 11)], None, None, dt.time(12), "Friday, December 11, at noon"),
    ],
)  # fmt: skip
def test_when_a_resident_can_come(
    typed: str,
    days: list[dt.date] | None,
    start: dt.time | None,
    end: dt.time | None,
    at: dt.time | None,
    said: str,
) -> None:
    wish = parsing.time_wish(typed, NOW)
    assert wish is not None
    assert (list(wish.days) if wish.days is not None else None, wish.start, wish.end, wish.at) == (days, start, end, at)
    assert wish.said == said


@pytest.mark.parametrize("typed", ["Rita Resident", "my friend", "the second one", "Harlow Falls", "/affirm", ""])
def test_words_that_name_no_day_or_time(typed: str) -> None:
    assert parsing.time_wish(typed, NOW) is None


def test_a_wish_fits_times_inside_it_and_measures_how_far_others_are() -> None:
    wish = parsing.time_wish("Thursday after 2pm", NOW)
    assert wish is not None
    thursday = dt.datetime(2026, 12, 10, 14, 0, tzinfo=parsing.REGION_TZ)
    assert wish.fits(thursday) and wish.distance(thursday) == 0
    assert (
        not wish.fits(thursday.replace(hour=13, minute=50))
        and wish.distance(thursday.replace(hour=13, minute=50)) == 10
    )
    assert wish.distance(thursday + dt.timedelta(days=1)) == 24 * 60


CATALOGUE = [
    ("dog_licence_application", ["Dog and cat licence application", "Licence your dog or cat every year."]),
    ("community_housing_application", ["Application for rent-geared-to-income housing", "Apply for housing."]),
    ("pap_tax_application", ["Property tax pre-authorized payment application", "Pay your tax monthly."]),
    ("green_bin_guide", ["Getting started with your green bin", "What goes in the green bin."]),
]


def test_the_catalogue_entry_the_words_mean_and_when_a_choice_remains() -> None:
    ranked = parsing.rank_by_words("can you mail me a form to apply for a dog license", CATALOGUE)
    assert ranked[0].key == "dog_licence_application" and parsing.clear_winner(ranked) == "dog_licence_application"
    # "application" is in three entries: it alone leaves a choice.
    assert parsing.clear_winner(parsing.rank_by_words("an application form", CATALOGUE)) is None
    assert parsing.rank_by_words("a parking ticket", CATALOGUE) == []
