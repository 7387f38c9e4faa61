"""Service requests through the service layer, on SQLite and PostgreSQL."""

from __future__ import annotations

import re

import pytest
from helpers import race
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from civicdesk.contacts import ContactIn
from civicdesk.db import transaction
from civicdesk.errors import InvalidInput
from civicdesk.models import Contact
from civicdesk.service_requests.service import RequestIn, create_request, get_by_reference, update_request
from civicdesk.settings import Settings


@pytest.fixture
def database_url(seeded_database_url: str) -> str:
    return seeded_database_url


@pytest.fixture
def seeded(session_factory: sessionmaker[Session]) -> sessionmaker[Session]:
    return session_factory


def pothole(**overrides: object) -> RequestIn:
    values: dict[str, object] = {
        "service_code": "road_repair",
        "description": "Deep pothole in the eastbound lane, cars swerving around it.",
        "channel": "chat",
        "address": "410 Lakeshore Road, Port Sable",
        "postal_code": "l0k1r0",
        "contact": ContactIn(name="Dana Okafor", email="Dana.Okafor@Example.org", phone="(905) 555-0142"),
    }
    values.update(overrides)
    return RequestIn(**values)  # type: ignore[arg-type]


def required_answers(session: Session, code: str) -> dict[str, object]:
    from civicdesk.service_requests.service import active_service

    answers: dict[str, object] = {}
    for attribute in active_service(session, code).attributes:
        if attribute.required:
            if attribute.values:
                first = attribute.values[0]["key"]
                answers[attribute.code] = [first] if attribute.datatype == "multivaluelist" else first
            elif attribute.datatype == "number":
                answers[attribute.code] = "2"
            elif attribute.datatype == "datetime":
                answers[attribute.code] = "2026-11-23T08:00:00-05:00"
            else:
                answers[attribute.code] = "beside the bus shelter"
    return answers


def test_a_request_gets_reference_due_time_and_history(seeded: sessionmaker[Session]) -> None:
    with transaction(seeded) as session:
        request = create_request(
            session, pothole(attributes=required_answers(session, "road_repair")), actor="chat-assistant"
        )
        reference = request.reference
    assert reference and re.fullmatch(r"SR-20\d\d-\d{6}", reference)
    with seeded() as session:
        stored = get_by_reference(session, reference.lower())
        assert stored.department.code == stored.service.department.code
        assert stored.postal_code == "L0K 1R0"
        assert stored.contact is not None and stored.contact.email == "dana.okafor@example.org"
        assert stored.contact.phone == "9055550142"
        assert stored.due_at > stored.created_at
        assert [(c.field, c.actor) for c in stored.history] == [("created", "chat-assistant")]


def test_contacts_are_deduplicated_by_email_or_phone(seeded: sessionmaker[Session]) -> None:
    with transaction(seeded) as session:
        answers = required_answers(session, "road_repair")
        create_request(session, pothole(attributes=answers), actor="a")
        create_request(
            session,
            pothole(attributes=answers, contact=ContactIn(phone="+1 905 555 0142", preferred_language="fr")),
            actor="a",
        )
    with seeded() as session:
        contacts = session.scalars(select(Contact)).all()
        assert len(contacts) == 1
        assert contacts[0].name == "Dana Okafor" and contacts[0].preferred_language == "fr"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"service_code": "fix_my_lawn"}, "service_code"),
        ({"description": "   "}, "description"),
        ({"address": None}, "address"),
        ({"postal_code": "90210"}, "postal_code"),
        ({"contact": ContactIn(email="not-an-email")}, "contact.email"),
        ({"urgency": "whenever"}, "urgency"),
        ({"attributes": {"colour_of_car": "red"}}, "attribute[colour_of_car]"),
    ],
)
def test_bad_input_names_the_field_and_stores_nothing(
    seeded: sessionmaker[Session], overrides: dict[str, object], field: str
) -> None:
    with pytest.raises(InvalidInput) as error, transaction(seeded) as session:
        answers = {} if "attributes" in overrides else {"attributes": required_answers(session, "road_repair")}
        create_request(session, pothole(**{**answers, **overrides}), actor="a")
    assert error.value.field == field
    with seeded() as session:
        assert session.scalar(select(func.count()).select_from(Contact)) == 0


def test_status_changes_are_checked_and_recorded(seeded: sessionmaker[Session]) -> None:
    with transaction(seeded) as session:
        request = create_request(session, pothole(attributes=required_answers(session, "road_repair")), actor="a")
        reference = request.reference or ""
    with transaction(seeded) as session:
        request = get_by_reference(session, reference)
        update_request(session, request, "agent.li", status="in_progress", assignee="roads-crew-3")
        with pytest.raises(InvalidInput, match="resolution"):
            update_request(session, request, "agent.li", status="closed")
        update_request(session, request, "agent.li", status="closed", resolution="Patched with cold mix on Nov 24.")
        with pytest.raises(InvalidInput, match="cannot become"):
            update_request(session, request, "agent.li", status="in_progress")
        update_request(session, request, "resident-email", status="open")
    with seeded() as session:
        request = get_by_reference(session, reference)
        changes = [(c.field, c.old_value, c.new_value, c.actor) for c in request.history[1:]]
        assert changes == [
            ("assignee", None, "roads-crew-3", "agent.li"),
            ("status", "open", "in_progress", "agent.li"),
            ("resolution", None, "Patched with cold mix on Nov 24.", "agent.li"),
            ("status", "in_progress", "closed", "agent.li"),
            ("status", "closed", "open", "resident-email"),
        ]
        assert request.closed_at is None


def test_urgency_moves_the_due_time(seeded: sessionmaker[Session]) -> None:
    with transaction(seeded) as session:
        request = create_request(session, pothole(attributes=required_answers(session, "road_repair")), actor="a")
        routine_due = request.due_at
        update_request(session, request, "agent", urgency="urgent")
        assert request.due_at < routine_due


def test_two_first_requests_from_one_resident_at_once_make_one_contact(
    seeded: sessionmaker[Session], settings: Settings
) -> None:
    with seeded() as session:
        answers = required_answers(session, "road_repair")

    def attempt(session: Session) -> object:
        return create_request(session, pothole(attributes=answers), actor="open311:test").reference

    outcomes = race(settings.sqlalchemy_url, [attempt] * 8)
    assert all(isinstance(outcome, str) for outcome in outcomes), outcomes
    with seeded() as session:
        assert session.scalar(select(func.count()).select_from(Contact)) == 1


def test_a_name_on_file_is_kept_and_agents_correct_it(seeded: sessionmaker[Session]) -> None:
    from civicdesk.contacts import update_contact, upsert_contact

    with transaction(seeded) as session:
        contact = upsert_contact(session, ContactIn(name="Dana Okafor", email="dana@example.org"))
        again = upsert_contact(session, ContactIn(name="Someone Else", email="DANA@example.org"))
        assert again is contact and contact is not None and contact.name == "Dana Okafor"
        update_contact(session, contact, "agent.li", name="Dana Okafor-Reid", phone="905 555 0177")
        assert (contact.name, contact.phone) == ("Dana Okafor-Reid", "9055550177")
