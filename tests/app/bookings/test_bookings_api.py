"""The internal bookings API (appointments, RSVPs, mailed forms, referrals), on SQLite and PostgreSQL.

The API books against the real clock, so each test adds two appointment times and moves one event a month
ahead of now instead of relying on the seeded dates.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from civicdesk.app import create_app

# A seeded copy of the database per test.
from civicdesk.business_time import REGION_TZ
from civicdesk.db import transaction
from civicdesk.models import AppointmentLocation, AppointmentSlot, AppointmentType, PublicEvent
from civicdesk.settings import Settings

EVENT = "budget_town_hall_port_sable"


@pytest.fixture
def database_url(seeded_database_url: str) -> str:
    return seeded_database_url


def build_app(settings: Settings) -> FastAPI:
    return create_app(settings)


@pytest.fixture
def client(settings: Settings) -> TestClient:
    client = TestClient(build_app(settings))
    client.headers["Authorization"] = f"Bearer {settings.actions_token.get_secret_value()}"
    return client


@pytest.fixture
def ahead(session_factory: sessionmaker[Session]) -> dict[str, Any]:
    """Two seniors' dental times (one seat each) a month from now, before the seeded clinic hours of that day,
    and a Port Sable town hall moved to that evening with 2 seats."""
    day = dt.datetime.now(REGION_TZ).date() + dt.timedelta(days=30)
    early = dt.datetime.combine(day, dt.time(7, 5), REGION_TZ)
    with transaction(session_factory) as session:
        kind = session.scalars(select(AppointmentType).where(AppointmentType.code == "seniors_dental")).one()
        hq = session.scalars(select(AppointmentLocation).where(AppointmentLocation.code == "northvale_hq")).one()
        slots = [
            AppointmentSlot(
                type=kind,
                location=hq,
                starts_at=early + dt.timedelta(minutes=45 * n),
                ends_at=early + dt.timedelta(minutes=45 * (n + 1)),
                capacity=1,
                booked=0,
            )
            for n in range(2)
        ]
        session.add_all(slots)
        evening = dt.datetime.combine(day, dt.time(18, 30), REGION_TZ)
        session.execute(
            update(PublicEvent)
            .where(PublicEvent.code == EVENT)
            .values(starts_at=evening, ends_at=evening + dt.timedelta(hours=2), capacity=2, reserved=0)
        )
        session.flush()
        return {"day": day, "slots": [slot.id for slot in slots]}


def contact(number: int) -> dict[str, Any]:
    return {"name": f"Resident {number}", "email": f"resident{number}@example.org", "consent": True}


def open_slot_ids(client: TestClient, ahead: dict[str, Any]) -> list[int]:
    params = {"type": "seniors_dental", "location": "northvale_hq", "from_date": ahead["day"].isoformat()}
    return [slot["id"] for slot in client.get("/api/v1/appointments/slots", params=params).json()]


def field_of(response: Any) -> list[str]:
    assert response.status_code == 422, response.json()
    return list(response.json()["detail"][0]["loc"])


ENDPOINTS = [
    ("GET", "/api/v1/appointments/types", None),
    ("GET", "/api/v1/appointments/slots?type=seniors_dental", None),
    ("POST", "/api/v1/appointments/bookings", {"slot_id": 1, "contact": contact(1)}),
    ("DELETE", "/api/v1/appointments/bookings/AP-XXXXXX", {"contact": "resident1@example.org"}),
    ("PATCH", "/api/v1/appointments/bookings/AP-XXXXXX", {"contact": "resident1@example.org", "slot_id": 1}),
    ("GET", "/api/v1/events", None),
    ("POST", f"/api/v1/events/{EVENT}/rsvps", {"contact": contact(1)}),
    ("DELETE", "/api/v1/events/rsvps/EV-XXXXXX", {"contact": "resident1@example.org"}),
    ("GET", "/api/v1/forms", None),
    ("POST", "/api/v1/forms/requests", {"item_code": "green_bin_guide"}),
    ("GET", "/api/v1/referrals/lookup?q=passport", None),
]


def test_every_endpoint_needs_the_service_token(client: TestClient) -> None:
    for method, path, body in ENDPOINTS:
        for authorization in ("", "Bearer not-the-token"):
            response = client.request(method, path, json=body, headers={"Authorization": authorization})
            assert response.status_code == 401, (method, path, authorization)


def test_types_and_open_slots(client: TestClient, ahead: dict[str, Any]) -> None:
    types = {t["code"]: t for t in client.get("/api/v1/appointments/types").json()}
    assert len(types) == 7
    dental = types["seniors_dental"]
    assert dental["duration_minutes"] == 45 and dental["department"] == "public_health"
    assert {loc["code"] for loc in dental["locations"]} == {"northvale_hq", "harlow_falls_office"}
    assert all(loc["accessibility"] for loc in dental["locations"])

    params = {"type": "seniors_dental", "location": "northvale_hq", "from_date": ahead["day"].isoformat(), "limit": 3}
    slots = client.get("/api/v1/appointments/slots", params=params).json()
    assert [slot["id"] for slot in slots[:2]] == ahead["slots"]
    assert slots[0]["seats_left"] == 1 and slots[0]["location_name"].startswith("Northvale Public Health")

    assert field_of(client.get("/api/v1/appointments/slots", params={"type": "botox"})) == ["query", "type"]
    unoffered = {"type": "travel_health", "location": "elm_ridge_office"}
    assert field_of(client.get("/api/v1/appointments/slots", params=unoffered)) == ["query", "location"]
    bad_date = {"type": "seniors_dental", "from_date": "next tuesday"}
    assert field_of(client.get("/api/v1/appointments/slots", params=bad_date)) == ["query", "from_date"]
    assert field_of(client.get("/api/v1/appointments/slots")) == ["query", "type"]


def test_booking_rescheduling_and_cancelling(client: TestClient, ahead: dict[str, Any]) -> None:
    first, second = ahead["slots"]
    created = client.post("/api/v1/appointments/bookings", json={"slot_id": first, "contact": contact(1)})
    assert created.status_code == 201, created.json()
    booking = created.json()
    reference = booking["reference"]
    assert booking["status"] == "booked" and booking["type"] == "seniors_dental"
    assert booking["address"] == "40 Commerce Street, 2nd floor, Northvale, ON L3X 2B7"
    assert "resident1" not in created.text  # contact details are never echoed back

    full = client.post("/api/v1/appointments/bookings", json={"slot_id": first, "contact": contact(2)})
    assert full.status_code == 409 and "fully booked" in full.json()["detail"]
    twice = client.post("/api/v1/appointments/bookings", json={"slot_id": second, "contact": contact(1)})
    assert twice.status_code == 409 and reference in twice.json()["detail"]

    moved = client.patch(
        f"/api/v1/appointments/bookings/{reference}", json={"slot_id": second, "contact": "resident1@example.org"}
    )
    assert moved.status_code == 200, moved.json()
    assert moved.json()["reference"] == reference and moved.json()["starts_at"] != booking["starts_at"]
    # The first time is free again; the second is now full.
    assert (
        client.post("/api/v1/appointments/bookings", json={"slot_id": first, "contact": contact(2)}).status_code == 201
    )
    back = client.patch(
        f"/api/v1/appointments/bookings/{reference}", json={"slot_id": first, "contact": "resident1@example.org"}
    )
    assert back.status_code == 409

    url = f"/api/v1/appointments/bookings/{reference}"
    assert client.request("DELETE", url, json={"contact": "resident2@example.org"}).status_code == 404
    cancelled = client.request("DELETE", url, json={"contact": "resident1@example.org"})
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert client.request("DELETE", url, json={"contact": "resident1@example.org"}).status_code == 409
    unknown = {"contact": "resident1@example.org", "slot_id": first}
    assert client.patch("/api/v1/appointments/bookings/AP-XXXXXX", json=unknown).status_code == 404
    assert second in open_slot_ids(client, ahead)


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"contact": contact(1)}, ["body", "slot_id"]),
        ({"slot_id": "the 9 o'clock", "contact": contact(1)}, ["body", "slot_id"]),
        ({"slot_id": 10**20, "contact": contact(1)}, ["body", "slot_id"]),
        ({"slot_id": 987654321, "contact": contact(1)}, ["body", "slot_id"]),
        ({"slot_id": "FIRST", "contact": {"name": "Resident 1"}}, ["body", "contact"]),
        ({"slot_id": "FIRST", "contact": {"email": "resident1 at example.org"}}, ["body", "contact", "email"]),
        (
            {"slot_id": "FIRST", "contact": {"name": "Resident\x00", "email": "r@example.org"}},
            ["body", "contact", "name"],
        ),
        ({"slot_id": "FIRST", "contact": contact(1), "channel": "telepathy"}, ["body", "channel"]),
    ],
)
def test_bad_booking_input_names_the_field(
    client: TestClient, ahead: dict[str, Any], body: dict[str, Any], loc: list[str]
) -> None:
    if body.get("slot_id") == "FIRST":
        body = {**body, "slot_id": ahead["slots"][0]}
    assert field_of(client.post("/api/v1/appointments/bookings", json=body)) == loc
    assert ahead["slots"][0] in open_slot_ids(client, ahead)  # no seat was taken


def test_event_rsvps(client: TestClient, ahead: dict[str, Any]) -> None:
    listed = {e["code"]: e for e in client.get("/api/v1/events").json()}
    assert listed[EVENT]["seats_left"] == 2 and listed[EVENT]["venue"] == "Port Sable Public Library, Harbour Room"

    url = f"/api/v1/events/{EVENT}/rsvps"
    created = client.post(url, json={"contact": contact(1), "party_size": 2, "channel": "web"})
    assert created.status_code == 201, created.json()
    reference = created.json()["reference"]
    assert created.json()["party_size"] == 2 and reference.startswith("EV-")
    full = client.post(url, json={"contact": contact(2)})
    assert full.status_code == 409 and "fully booked" in full.json()["detail"]
    assert {e["code"]: e for e in client.get("/api/v1/events").json()}[EVENT]["seats_left"] == 0

    assert field_of(client.post(url, json={"contact": contact(3), "party_size": 9})) == ["body", "party_size"]
    assert field_of(client.post(url, json={"contact": contact(3), "party_size": "two"})) == ["body", "party_size"]
    assert client.post("/api/v1/events/ice_sculpture_gala/rsvps", json={"contact": contact(3)}).status_code == 404
    assert client.post("/api/v1/events/gala%00/rsvps", json={"contact": contact(3)}).status_code == 404

    cancel = f"/api/v1/events/rsvps/{reference}"
    assert client.request("DELETE", cancel, json={"contact": "905-555-0100"}).status_code == 404
    cancelled = client.request("DELETE", cancel, json={"contact": "resident1@example.org"})
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert {e["code"]: e for e in client.get("/api/v1/events").json()}[EVENT]["seats_left"] == 2


def mailing(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "item_code": "basement_flooding_guide",
        "contact": {"name": "Tomasz Nowak", "phone": "289-555-0177"},
        "copies": 1,
        "language": "fr",
        "recipient": "Tomasz Nowak",
        "street": "1180 Sideroad 15",
        "city": "Elm Ridge",
        "province": "ON",
        "postal_code": "L0R 1T0",
        "channel": "chat",
    }
    return {**body, **changes}


def test_mailed_forms(client: TestClient) -> None:
    catalogue = {f["code"]: f for f in client.get("/api/v1/forms").json()}
    assert len(catalogue) == 17 and catalogue["basement_flooding_guide"]["languages"] == ["en", "fr", "zh", "pa"]

    created = client.post("/api/v1/forms/requests", json=mailing())
    assert created.status_code == 201, created.json()
    assert created.json()["reference"].startswith("FM-") and created.json()["status"] == "requested"
    assert created.json()["mailing_address"] == "Tomasz Nowak\n1180 Sideroad 15\nElm Ridge ON  L0R 1T0"

    assert field_of(client.post("/api/v1/forms/requests", json=mailing(postal_code="L0R"))) == ["body", "postal_code"]
    mismatch = mailing(province="BC", postal_code="L0R 1T0")
    assert field_of(client.post("/api/v1/forms/requests", json=mismatch)) == ["body", "postal_code"]
    assert field_of(client.post("/api/v1/forms/requests", json=mailing(province="Ont."))) == ["body", "province"]
    assert field_of(client.post("/api/v1/forms/requests", json=mailing(copies=4))) == ["body", "copies"]
    assert field_of(client.post("/api/v1/forms/requests", json=mailing(language="ar"))) == ["body", "language"]
    assert field_of(client.post("/api/v1/forms/requests", json=mailing(item_code="x\x00"))) == ["body", "item_code"]
    assert field_of(client.post("/api/v1/forms/requests", json=mailing(street="1 Main\x00"))) == ["body", "street"]
    assert field_of(client.post("/api/v1/forms/requests", json=mailing(recipient=None))) == ["body", "recipient"]


def test_referral_lookup(client: TestClient) -> None:
    body = client.get("/api/v1/referrals/lookup", params={"q": "where do I renew my passport"}).json()
    assert body["query"] == "where do I renew my passport"
    top = body["results"][0]
    assert top["code"] == "service_canada" and top["website"].startswith("https://www.canada.ca/")
    assert client.get("/api/v1/referrals/lookup", params={"q": "what is the meaning of life"}).json()["results"] == []
    assert field_of(client.get("/api/v1/referrals/lookup", params={"q": ""})) == ["query", "q"]
    assert field_of(client.get("/api/v1/referrals/lookup", params={"q": "hydro", "limit": 0})) == ["query", "limit"]


ODD_REQUESTS: list[tuple[str, str, Any]] = [
    ("GET", "/api/v1/appointments/slots?type=%00", None),
    ("GET", "/api/v1/appointments/slots?type=seniors_dental&location=%00", None),
    ("GET", "/api/v1/appointments/slots?type=seniors_dental&limit=lots", None),
    ("POST", "/api/v1/appointments/bookings", "slot 12 please"),
    ("POST", "/api/v1/appointments/bookings", {"slot_id": 1, "contact": {"email": "a@example.org\x00"}}),
    ("POST", "/api/v1/appointments/bookings", {"slot_id": 1, "contact": {"phone": "9055550100", "name": "é" * 500}}),
    (
        "POST",
        "/api/v1/appointments/bookings",
        {"slot_id": 1, "contact": {"phone": "9055550100", "preferred_language": "\x00"}},
    ),
    ("DELETE", "/api/v1/appointments/bookings/%00", {"contact": "resident1@example.org"}),
    ("DELETE", "/api/v1/appointments/bookings/AP-XXXXXX", None),
    ("PATCH", "/api/v1/appointments/bookings/AP-XXXXXX", {"contact": "x", "slot_id": -1}),
    ("POST", f"/api/v1/events/{EVENT}/rsvps", {"contact": contact(1), "party_size": 10**30}),
    ("DELETE", "/api/v1/events/rsvps/EV-XXXXXX", {"contact": "\x00"}),
    ("POST", "/api/v1/forms/requests", mailing(copies=10**30)),
    ("POST", "/api/v1/forms/requests", mailing(language="\x00", province="\x00")),
    ("POST", "/api/v1/forms/requests", mailing(city="Elm Ridge " * 1000)),
    ("POST", "/api/v1/forms/requests", mailing(contact={"name": "Tomasz Nowak"})),
    ("GET", "/api/v1/referrals/lookup?q=%00", None),
    ("GET", "/api/v1/referrals/lookup?q=" + "hydro " * 80, None),
]


def test_odd_input_never_causes_a_server_error(settings: Settings, ahead: dict[str, Any]) -> None:
    client = TestClient(build_app(settings), raise_server_exceptions=False)
    client.headers["Authorization"] = f"Bearer {settings.actions_token.get_secret_value()}"
    for method, path, body in ODD_REQUESTS:
        options = {"content": body} if isinstance(body, str) else {"json": body}
        response = client.request(method, path, **options)
        assert response.status_code in {200, 404, 409, 422}, (method, path, response.status_code, response.text)
