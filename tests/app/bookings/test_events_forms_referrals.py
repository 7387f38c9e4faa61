"""Event RSVPs, mailed forms and referral lookups through the service layer, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

# A seeded copy of the database per test (and the seeded original for read-only tests), and the racing helper.
from helpers import race, resident
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker
from test_appointments import NOW

from civicdesk.bookings import events, mailed_forms
from civicdesk.bookings.events import EventFull
from civicdesk.catalogue import referrals
from civicdesk.contacts import ContactIn
from civicdesk.db import make_engine, make_session_factory, transaction
from civicdesk.errors import Conflict, InvalidInput, NotFound
from civicdesk.models import EventRsvp, FormRequest, PublicEvent
from civicdesk.settings import Settings


@pytest.fixture
def database_url(seeded_database_url: str) -> str:
    return seeded_database_url


def reserved(session: Session, code: str) -> int:
    return int(session.scalar(select(PublicEvent.reserved).where(PublicEvent.code == code)) or 0)


def fill(session_factory: sessionmaker[Session], code: str, seats_left: int) -> None:
    with transaction(session_factory) as session:
        session.execute(
            update(PublicEvent).where(PublicEvent.code == code).values(reserved=PublicEvent.capacity - seats_left)
        )


# --------------------------------------------------------------------------------------------------- events


def test_upcoming_events_are_listed_soonest_first(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        upcoming = events.upcoming(session, now=NOW)
        assert len(upcoming) == 11
        assert [e.starts_at for e in upcoming] == sorted(e.starts_at for e in upcoming)
        first = upcoming[0]
        assert first.code == "budget_town_hall_northvale" and events.seats_left(first) == 180
        later = events.upcoming(session, now=first.starts_at)
        assert first.code not in {e.code for e in later} and len(later) == 10


def test_an_rsvp_reserves_the_party_and_cancelling_gives_the_seats_back(
    session_factory: sessionmaker[Session],
) -> None:
    with transaction(session_factory) as session:
        reservation = events.rsvp(session, "transit_plan_online", resident(), 3, "chat", now=NOW)
        reference = reservation.reference
    assert re.fullmatch(r"EV-[ACDEFGHJKMNPQRTWXY34679]{6}", reference)
    with session_factory() as session:
        assert reserved(session, "transit_plan_online") == 3

    with pytest.raises(Conflict, match=reference), transaction(session_factory) as session:
        events.rsvp(session, "transit_plan_online", ContactIn(email="RESIDENT1@example.org"), 1, "web", now=NOW)
    with pytest.raises(NotFound), transaction(session_factory) as session:
        events.cancel(session, reference, "905-555-0199", now=NOW)

    with transaction(session_factory) as session:
        assert events.cancel(session, reference.lower(), "905-555-0001", now=NOW).status == "cancelled"
    with pytest.raises(Conflict, match="already cancelled"), transaction(session_factory) as session:
        events.cancel(session, reference, "905-555-0001", now=NOW)
    with session_factory() as session:
        assert reserved(session, "transit_plan_online") == 0


def test_a_party_larger_than_the_seats_left_is_refused_with_the_count(
    session_factory: sessionmaker[Session],
) -> None:
    fill(session_factory, "transit_plan_online", seats_left=2)
    with pytest.raises(EventFull, match="only 2 seats left.*northvale.ca/transit"), transaction(session_factory) as s:
        events.rsvp(s, "transit_plan_online", resident(1), 3, "chat", now=NOW)
    with transaction(session_factory) as session:
        events.rsvp(session, "transit_plan_online", resident(1), 2, "chat", now=NOW)
    with pytest.raises(EventFull, match="fully booked"), transaction(session_factory) as session:
        events.rsvp(session, "transit_plan_online", resident(2), 1, "chat", now=NOW)
    with session_factory() as session:
        assert reserved(session, "transit_plan_online") == 40


@pytest.mark.parametrize(
    ("event_code", "party_size", "error", "field"),
    [
        ("budget_town_hall_port_sable", 0, InvalidInput, "party_size"),
        ("budget_town_hall_port_sable", 7, InvalidInput, "party_size"),
        ("no_such_event", 1, NotFound, None),
    ],
)
def test_bad_rsvps_are_refused(
    session_factory: sessionmaker[Session], event_code: str, party_size: int, error: type[Exception], field: str
) -> None:
    with pytest.raises(error) as refused, transaction(session_factory) as session:
        events.rsvp(session, event_code, resident(), party_size, "chat", now=NOW)
    assert getattr(refused.value, "field", None) == field
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(EventRsvp)) == 0


def test_a_past_event_takes_no_rsvp_and_no_cancellation(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        starts = events.get_event(session, "budget_town_hall_northvale").starts_at
    with pytest.raises(Conflict, match="already taken place"), transaction(session_factory) as session:
        events.rsvp(session, "budget_town_hall_northvale", resident(), 1, "chat", now=starts)
    with transaction(session_factory) as session:
        reference = events.rsvp(session, "budget_town_hall_northvale", resident(), 1, "chat", now=NOW).reference
    with pytest.raises(Conflict, match="already taken place"), transaction(session_factory) as session:
        events.cancel(session, reference, "resident1@example.org", now=starts)


def test_fifty_residents_racing_for_the_last_seat_give_one_rsvp(
    settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    fill(session_factory, "water_rate_open_house", seats_left=1)

    def attempt(number: int) -> Callable[[Session], object]:
        return lambda session: (
            events.rsvp(session, "water_rate_open_house", resident(number), 1, "web", now=NOW).reference
        )

    outcomes = race(settings.sqlalchemy_url, [attempt(number) for number in range(1, 51)])

    references = [outcome for outcome in outcomes if isinstance(outcome, str)]
    refusals = [outcome for outcome in outcomes if isinstance(outcome, EventFull)]
    assert len(references) == 1 and len(refusals) == 49, [o for o in outcomes if not isinstance(o, str | EventFull)]
    assert "fully booked" in str(refusals[0])
    with session_factory() as session:
        event = events.get_event(session, "water_rate_open_house")
        assert event.reserved == event.capacity == 150
        assert session.scalars(select(EventRsvp.reference)).all() == references


# ---------------------------------------------------------------------------------------------- mailed forms


def mailing(**changes: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "item_code": "green_bin_guide",
        "contact": ContactIn(name="Priya Raman", email="priya.raman@example.org"),
        "copies": 2,
        "language": "PA",
        "recipient": "  Priya   Raman ",
        "street": "27 Larch Crescent, Apt 4",
        "city": "Pinecrest",
        "province": "on",
        "postal_code": "l0g1m0",
        "channel": "chat",
    }
    values.update(changes)
    return values


def test_a_form_is_requested_listed_for_the_mail_room_and_mailed_once(
    session_factory: sessionmaker[Session],
) -> None:
    with session_factory() as session:
        catalogue = {item.code: item for item in mailed_forms.catalogue(session)}
        assert len(catalogue) == 17 and catalogue["green_bin_guide"].max_copies == 5
    with transaction(session_factory) as session:
        reference = mailed_forms.request_form(session, **mailing()).reference
    assert re.fullmatch(r"FM-[ACDEFGHJKMNPQRTWXY34679]{6}", reference)
    with session_factory() as session:
        (waiting,) = mailed_forms.pending(session)
        assert (waiting.reference, waiting.status, waiting.item.code) == (reference, "requested", "green_bin_guide")
        assert (waiting.recipient, waiting.language, waiting.province, waiting.postal_code) == (
            "Priya Raman",
            "pa",
            "ON",
            "L0G 1M0",
        )
        assert waiting.contact.email == "priya.raman@example.org"

    with transaction(session_factory) as session:
        mailed = mailed_forms.mark_mailed(session, reference, actor="mailroom:jsingh", now=NOW)
        assert (mailed.status, mailed.mailed_at) == ("mailed", NOW)
    with pytest.raises(Conflict, match="already mailed"), transaction(session_factory) as session:
        mailed_forms.mark_mailed(session, reference, actor="mailroom:jsingh")
    with pytest.raises(NotFound), transaction(session_factory) as session:
        mailed_forms.mark_mailed(session, "FM-XXXXXX", actor="mailroom:jsingh")
    with session_factory() as session:
        assert mailed_forms.pending(session) == []


BAD_MAILINGS = [
    ({"item_code": "passport_application"}, "item_code"),
    ({"copies": 0}, "copies"),
    ({"copies": 6}, "copies"),  # the green bin guide: at most 5
    ({"language": "de"}, "language"),
    ({"postal_code": "90210"}, "postal_code"),
    ({"postal_code": "L0G 1M"}, "postal_code"),
    ({"postal_code": "D3X 2B7"}, "postal_code"),  # no postal code uses D
    ({"postal_code": "H2X 1Y4"}, "postal_code"),  # a Montréal code with province ON
    ({"province": "Ontario"}, "province"),
    ({"province": "NY", "postal_code": "L3X 2B7"}, "province"),
    ({"street": "   "}, "street"),
    ({"city": ""}, "city"),
    ({"recipient": "x" * 201}, "recipient"),
    ({"street": "12 Main St\x00"}, "street"),
    ({"contact": ContactIn(name="Priya")}, "contact"),
    ({"channel": "fax"}, "channel"),
]


def test_bad_mailings_name_the_field_and_store_nothing(session_factory: sessionmaker[Session]) -> None:
    for changes, field in BAD_MAILINGS:
        with pytest.raises(InvalidInput) as refused, transaction(session_factory) as session:
            mailed_forms.request_form(session, **mailing(**changes))
        assert refused.value.field == field, (changes, refused.value)
    # A Quebec address with a Quebec code is fine: residents may live outside Ontario.
    with transaction(session_factory) as session:
        mailed_forms.request_form(session, **mailing(province="QC", postal_code="H2X 1Y4", city="Montréal"))
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(FormRequest)) == 1


# ------------------------------------------------------------------------------------------------- referrals


@pytest.fixture
def directory(seeded_template: str) -> Any:  # noqa: F811 (the fixture imported above)
    """Lookups only read, so they run on the seeded original rather than a copy."""
    engine = make_engine(seeded_template)
    with make_session_factory(engine)() as session:
        yield session
    engine.dispose()


MISDIRECTED = [
    ("How do I renew my passport?", "service_canada"),
    ("The power is out on our whole street", "northvale_hydro"),
    ("who do I call about my electricity bill", "northvale_hydro"),
    ("There is a huge pothole on the 401 near the Harlow Falls exit", "ministry_of_transportation"),
    ("My landlord is raising my rent by 10 percent, is that allowed?", "landlord_tenant_board"),
    ("My landlord won't fix the heat in my apartment", "landlord_tenant_board"),
    ("I'm being evicted and can't afford a lawyer", "northvale_legal_clinic"),
    ("I need to renew my driver's license", "serviceontario"),
    ("How do I get a new health card?", "serviceontario"),
    ("Is the school bus running today?", "northvale_district_school_board"),
    ("Who marks the underground lines before I dig holes for a fence?", "ontario_one_call"),
    ("My property assessment went way up, I think it's wrong", "mpac"),
    ("Our community mailbox is broken and my mail is missing", "canada_post"),
    ("Where is my income tax refund?", "canada_revenue_agency"),
    ("Someone stole my bike from the garage", "northvale_police_non_emergency"),
    ("How do I get a marriage licence in Harlow Falls?", "city_of_harlow_falls"),
    ("I need a burn permit to burn brush on my farm in Elm Ridge", "township_of_elm_ridge"),
    ("The creek behind my house is rising, is there a flood warning?", "sable_river_conservation"),
    ("Is there a food bank near me?", "ontario_211"),
    ("Where do I apply for employment insurance?", "service_canada"),
]


@pytest.mark.parametrize(("question", "expected"), MISDIRECTED, ids=[code for _, code in MISDIRECTED])
def test_a_misdirected_question_finds_the_right_organization_first(
    directory: Session, question: str, expected: str
) -> None:
    found = referrals.lookup(directory, question)
    assert found, f"nothing found for {question!r}"
    assert found[0].code == expected, [(r.code, r.score) for r in found]
    assert found[0].name and (found[0].phone or found[0].website) and found[0].description
    assert [r.score for r in found] == sorted((r.score for r in found), reverse=True) and len(found) <= 3


def test_a_landlord_dispute_offers_the_board_and_the_legal_clinic(directory: Session) -> None:
    found = referrals.lookup(directory, "I have a dispute with my landlord", limit=2)
    assert {r.code for r in found} == {"landlord_tenant_board", "northvale_legal_clinic"}


@pytest.mark.parametrize("question", ["what is the meaning of life", "garbage day", "hello", "", "I need help"])
def test_nothing_is_offered_for_questions_no_organization_matches(directory: Session, question: str) -> None:
    assert referrals.lookup(directory, question) == []
