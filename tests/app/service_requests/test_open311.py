"""The Open311 GeoReport v2 endpoint, on SQLite and PostgreSQL: catalogue, filing, reading, tokens and errors.

XML answers are parsed with the standard library and must carry exactly what the JSON answer carries.
The last test drives the endpoint with a GeoReport client library from PyPI over a real socket.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from helpers import free_port
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from civicdesk.app import create_app
from civicdesk.contacts import ContactIn
from civicdesk.db import transaction, utcnow
from civicdesk.limits import LIMITS
from civicdesk.models import Contact, Service, ServiceRequest, ServiceRequestNote
from civicdesk.service_requests import open311
from civicdesk.service_requests.service import RequestIn, create_request, get_by_reference, update_request
from civicdesk.settings import Settings
from civicdesk.staff import api_clients

BASE = "/open311/v2"
DESIGN_CODES = {
    "road_repair", "sidewalk_repair", "streetlight_out", "traffic_signs_signals", "road_obstruction",
    "illegal_dumping", "graffiti", "litter_street_cleaning", "missed_collection", "bin_repair_replacement",
    "water_main_break", "sewer_backup", "drainage_flooding", "spill_hazard", "tree_maintenance",
    "parks_maintenance", "abandoned_vehicle", "parking_enforcement", "noise_complaint", "animal_services",
    "snow_ice", "property_standards", "public_health", "transit", "property_tax_billing", "general_inquiry",
}  # fmt: skip
XML_LISTS = {"services", "attributes", "values", "service_requests", "errors"}
RESIDENT = {"first_name": "Dana", "last_name": "Okafor", "email": "Dana.Okafor@example.org", "phone": "905-555-0142"}


# ----------------------------------------------------------------------------- fixtures and helpers


@pytest.fixture
def database_url(seeded_database_url: str) -> str:
    """A copy of the database seeded with the catalogue (conftest), on each backend."""
    return seeded_database_url


@pytest.fixture
def seeded(session_factory: sessionmaker[Session]) -> sessionmaker[Session]:
    return session_factory


def open311_app(settings: Settings) -> FastAPI:
    app = create_app(settings)
    if not any(getattr(route, "path", "").startswith(BASE) for route in app.routes):
        app.include_router(open311.router)  # until the lead mounts the router in create_app
    return app


@pytest.fixture
def client(settings: Settings, seeded: sessionmaker[Session]) -> Iterator[TestClient]:
    with TestClient(open311_app(settings)) as test_client:
        yield test_client


@pytest.fixture
def api_key(seeded: sessionmaker[Session]) -> str:
    with transaction(seeded) as session:
        return api_clients.create_client(session, "northvale-fixit", "open311")


def pothole(api_key: str, /, **fields: Any) -> dict[str, Any]:
    form: dict[str, Any] = {
        "api_key": api_key,
        "service_code": "road_repair",
        "lat": "43.8561",
        "long": "-79.3370",
        "description": "Deep pothole in the eastbound lane; cars swerve into the bike lane to avoid it.",
        "attribute[hole_size]": "larger_than_tire",
        "attribute[position]": "driving_lane",
    }
    form.update(fields)
    return {key: value for key, value in form.items() if value is not None}


def file(client: TestClient, form: dict[str, Any], fmt: str = "json") -> httpx.Response:
    return client.post(f"{BASE}/requests.{fmt}", data=form)


def filed_reference(client: TestClient, form: dict[str, Any]) -> str:
    response = file(client, form)
    assert response.status_code == 200, response.text
    reference: str = response.json()[0]["service_request_id"]
    return reference


def xml_data(element: ET.Element) -> Any:
    """The spec's XML read back into the JSON shape: list containers become lists, leaves their text."""
    if element.tag in XML_LISTS:
        return [xml_data(child) for child in element]
    if len(element):
        return {child.tag: xml_data(child) for child in element}
    return element.text


def as_text(value: Any) -> Any:
    """JSON data as XML text would carry it."""
    if isinstance(value, list):
        return [as_text(item) for item in value]
    if isinstance(value, dict):
        return {key: as_text(item) for key, item in value.items()}
    if isinstance(value, bool):
        return "true" if value else "false"
    return None if value in (None, "") else str(value)


def same_in_both_formats(client: TestClient, path: str, root: str) -> Any:
    """GET path in JSON and in XML; the two must carry the same data. Returns the JSON."""
    as_json = client.get(f"{BASE}/{path}.json")
    as_xml = client.get(f"{BASE}/{path}.xml")
    assert as_json.headers["content-type"] == "application/json; charset=utf-8"
    assert as_xml.headers["content-type"] == "text/xml; charset=utf-8"
    assert as_xml.text.startswith('<?xml version="1.0" encoding="utf-8"?>')
    document = ET.fromstring(as_xml.content)
    assert document.tag == root
    assert xml_data(document) == as_text(as_json.json())
    return as_json.json()


def errors(response: httpx.Response) -> list[str]:
    body = response.json()
    assert all(error["code"] == response.status_code for error in body)
    return [error["description"] for error in body]


def request_count(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        return int(session.scalar(select(func.count()).select_from(ServiceRequest)) or 0)


# ----------------------------------------------------------------------------- services


def test_service_list_in_json_and_xml(client: TestClient) -> None:
    services = same_in_both_formats(client, "services", "services")
    by_code = {service["service_code"]: service for service in services}
    assert set(by_code) >= DESIGN_CODES
    pothole_service = by_code["road_repair"]
    assert pothole_service["service_name"] == "Pothole or road damage"
    assert pothole_service["metadata"] is True and pothole_service["type"] == "realtime"
    assert pothole_service["group"] == "Roads and Traffic" and "pothole" in pothole_service["keywords"].split(", ")
    assert set(pothole_service) == {
        "service_code", "service_name", "description", "metadata", "type", "keywords", "group",
    }  # fmt: skip


def test_service_definition_in_json_and_xml(client: TestClient) -> None:
    definition = same_in_both_formats(client, "services/road_repair", "service_definition")
    assert definition["service_code"] == "road_repair"
    attributes = definition["attributes"]
    assert [a["order"] for a in attributes] == sorted(a["order"] for a in attributes)
    hole = attributes[0]
    assert hole["code"] == "hole_size" and hole["datatype"] == "singlevaluelist"
    assert hole["required"] is True and hole["variable"] is True and hole["datatype_description"] is None
    assert {"key": "larger_than_tire", "name": "Larger than a car tire"} in hole["values"]
    assert set(hole) == {
        "variable", "code", "datatype", "required", "datatype_description", "order", "description", "values",
    }  # fmt: skip
    dumping = client.get(f"{BASE}/services/illegal_dumping.json").json()
    assert dumping["attributes"][0]["datatype"] == "multivaluelist"


def test_unknown_service_is_404_in_the_requested_format(client: TestClient) -> None:
    response = client.get(f"{BASE}/services/fix_my_lawn.json")
    assert response.status_code == 404 and "fix_my_lawn" in errors(response)[0]
    as_xml = client.get(f"{BASE}/services/fix_my_lawn.xml")
    assert as_xml.status_code == 404 and as_xml.headers["content-type"] == "text/xml; charset=utf-8"
    document = ET.fromstring(as_xml.content)
    assert document.tag == "errors" and document.findtext("error/code") == "404"
    assert "fix_my_lawn" in (document.findtext("error/description") or "")


def test_an_unsupported_format_is_a_400_in_json(client: TestClient) -> None:
    response = client.get(f"{BASE}/services.html")
    assert response.status_code == 400 and errors(response)[0].startswith("format:")


# ----------------------------------------------------------------------------- filing and reading back


def test_a_filed_request_reads_back_without_personal_details(
    client: TestClient, api_key: str, seeded: sessionmaker[Session]
) -> None:
    form = pothole(
        api_key,
        **RESIDENT,
        address_string="410 Lakeshore Road, Port Sable, ON L0K 1R0",
        media_url="https://photos.example.org/pothole-410.jpg",
        device_id="a1b2c3",
        account_id="acct-77",
    )
    created = file(client, form, "xml")
    assert created.status_code == 200, created.text
    receipt = ET.fromstring(created.content)
    assert receipt.tag == "service_requests"
    reference = receipt.findtext("request/service_request_id") or ""
    assert reference.startswith("SR-2026-")
    assert receipt.findtext("request/account_id") == "acct-77"
    assert "Transportation Services aims to respond by" in (receipt.findtext("request/service_notice") or "")
    assert "911" in (receipt.findtext("request/service_notice") or "")  # the pothole emergency instruction
    assert receipt.find("request/token") is None  # a realtime service returns the id, not a token (spec)

    with seeded() as session:
        stored = get_by_reference(session, reference)
        assert stored.channel == "open311" and stored.kind == "service_request"
        assert stored.api_client_id is not None
        assert stored.contact is not None and stored.contact.email == "dana.okafor@example.org"
        assert stored.contact.name == "Dana Okafor" and stored.contact.phone == "9055550142"
        assert stored.postal_code == "L0K 1R0"
        assert stored.attributes == {"hole_size": "larger_than_tire", "position": "driving_lane"}
        assert [c.actor for c in stored.history] == ["open311:northvale-fixit"]
        note = session.scalar(select(ServiceRequestNote).where(ServiceRequestNote.request_id == stored.id))
        assert note is not None and note.internal and "a1b2c3" in note.body and "acct-77" in note.body

    [shown] = same_in_both_formats(client, f"requests/{reference}", "service_requests")
    assert shown["service_request_id"] == reference and shown["status"] == "open"
    assert shown["service_code"] == "road_repair" and shown["agency_responsible"] == "Transportation Services"
    assert shown["address"] == "410 Lakeshore Road, Port Sable, ON L0K 1R0" and shown["zipcode"] == "L0K 1R0"
    assert shown["lat"] == pytest.approx(43.8561) and shown["long"] == pytest.approx(-79.3370)
    assert shown["media_url"] == "https://photos.example.org/pothole-410.jpg"
    assert shown["requested_datetime"].endswith(("-05:00", "-04:00"))
    assert dt.datetime.fromisoformat(shown["expected_datetime"]) > dt.datetime.fromisoformat(
        shown["requested_datetime"]
    )
    for listing in (client.get(f"{BASE}/requests/{reference.lower()}.json"), client.get(f"{BASE}/requests.xml")):
        assert listing.status_code == 200
        for private in ("Okafor", "Dana", "dana.okafor", "555-0142", "5550142", "acct-77", "a1b2c3"):
            assert private.lower() not in listing.text.lower()


def test_personal_details_typed_into_free_text_are_not_published(
    client: TestClient, seeded: sessionmaker[Session]
) -> None:
    with transaction(seeded) as session:
        request = create_request(
            session,
            RequestIn(
                service_code="noise_complaint",
                description="This is Priya Raman, call me at (289) 555-0187 or priya.r@example.ca; loud music nightly.",
                channel="email",
                address="77 Orchard Crescent, Elm Ridge",
                attributes={"noise_source": "amplified_music", "happening_now": "no"},
                contact=ContactIn(name="Priya Raman", email="priya.r@example.ca"),
            ),
            actor="ingester",
        )
        reference = request.reference
    response = client.get(f"{BASE}/requests/{reference}.json")
    assert response.status_code == 200, response.text
    description = response.json()[0]["description"]
    assert "Priya" not in description and "555-0187" not in description and "example.ca" not in description
    assert "loud music nightly" in description


def test_only_service_requests_are_public(client: TestClient, seeded: sessionmaker[Session]) -> None:
    with transaction(seeded) as session:
        complaint = create_request(
            session,
            RequestIn(
                service_code="road_repair",
                description="The crew that patched my street on Tuesday left gravel all over my driveway.",
                channel="email",
                address="12 Birch Lane, Pinecrest",
                attributes={"hole_size": "plate_to_tire", "position": "shoulder_or_curb"},
                kind="complaint",
            ),
            actor="ingester",
        )
        reference = complaint.reference
    assert client.get(f"{BASE}/requests/{reference}.json").status_code == 404
    assert client.get(f"{BASE}/requests.json").json() == []


def test_a_closed_request_shows_its_resolution(client: TestClient, api_key: str, seeded: sessionmaker[Session]) -> None:
    reference = filed_reference(client, pothole(api_key))
    with transaction(seeded) as session:
        request = get_by_reference(session, reference)
        update_request(session, request, "j.tremblay", status="in_progress")
        update_request(session, request, "j.tremblay", status="closed", resolution="Patched with hot asphalt.")
        closed_at = request.closed_at
    assert closed_at is not None
    [shown] = client.get(f"{BASE}/requests/{reference}.json").json()
    assert shown["status"] == "closed" and shown["status_notes"] == "Patched with hot asphalt."
    assert shown["service_notice"] is None
    assert dt.datetime.fromisoformat(shown["updated_datetime"]) == closed_at.replace(microsecond=0)


def test_a_description_is_written_from_the_answers_when_the_app_sends_none(client: TestClient, api_key: str) -> None:
    reference = filed_reference(client, pothole(api_key, description=""))
    [shown] = client.get(f"{BASE}/requests/{reference}.json").json()
    assert shown["description"].startswith("Pothole or road damage.")
    assert "Larger than a car tire" in shown["description"] and "In a driving lane" in shown["description"]


def test_a_service_without_a_location_needs_none(client: TestClient, api_key: str) -> None:
    form = {
        "api_key": api_key,
        "service_code": "property_tax_billing",
        "description": "My February payment is not showing on my account.",
        "attribute[roll_number]": "1936 010 020 12345 0000",
        "attribute[topic]": "payment_missing",
        "attribute[amount]": "1250.40",
    }
    reference = filed_reference(client, form)
    [shown] = client.get(f"{BASE}/requests/{reference}.json").json()
    assert shown["address"] is None and shown["lat"] is None and shown["zipcode"] is None


def test_an_address_id_alone_is_a_location(client: TestClient, api_key: str, seeded: sessionmaker[Session]) -> None:
    reference = filed_reference(client, pothole(api_key, lat=None, long=None, address_id="545483"))
    [shown] = client.get(f"{BASE}/requests/{reference}.json").json()
    assert shown["address"] == "Address ID 545483"
    with seeded() as session:
        request = get_by_reference(session, reference)
        note = session.scalar(select(ServiceRequestNote).where(ServiceRequestNote.request_id == request.id))
        assert note is not None and "address ID 545483" in note.body


# ----------------------------------------------------------------------------- multivaluelist attributes


@pytest.mark.parametrize(
    ("items", "stored"),
    [
        ({"attribute[items][]": ["furniture", "tires"]}, ["furniture", "tires"]),
        ({"attribute[items]": ["furniture", "tires"]}, ["furniture", "tires"]),
        ({"attribute[items]": "mattress"}, ["mattress"]),
    ],
    ids=["brackets", "repeated", "one"],
)
def test_multivaluelist_answers_are_stored_as_lists(
    client: TestClient, api_key: str, seeded: sessionmaker[Session], items: dict[str, Any], stored: list[str]
) -> None:
    form = {
        "api_key": api_key,
        "service_code": "illegal_dumping",
        "address_string": "Lane behind 20 Mill Street, Harlow Falls",
        "description": "A couch and four tires dumped in the lane.",
        "attribute[land_type]": "roadside",
        **items,
    }
    reference = filed_reference(client, form)
    with seeded() as session:
        assert get_by_reference(session, reference).attributes["items"] == stored


def test_multivaluelist_rejects_a_choice_that_is_not_offered(client: TestClient, api_key: str) -> None:
    form = {
        "api_key": api_key,
        "service_code": "illegal_dumping",
        "address_string": "Lane behind 20 Mill Street, Harlow Falls",
        "attribute[items][]": ["furniture", "a_piano"],
        "attribute[land_type]": "roadside",
    }
    response = file(client, form)
    assert response.status_code == 400 and errors(response)[0].startswith("attribute[items]:")


# ----------------------------------------------------------------------------- errors when filing


BAD_FILINGS: list[tuple[dict[str, Any], int, str]] = [
    ({"api_key": None}, 403, "api_key"),
    ({"api_key": "not-a-key"}, 403, "api_key"),
    ({"api_key": "not-a-key\x00"}, 403, "api_key"),
    ({"service_code": None}, 400, "service_code"),
    ({"service_code": "fix_my_lawn"}, 404, "service_code"),
    ({"lat": None, "long": None}, 400, "address_string"),
    ({"long": None}, 400, "long"),
    ({"lat": "north"}, 400, "lat"),
    ({"lat": "nan"}, 400, "lat"),
    ({"lat": "91"}, 400, "lat"),
    ({"email": "dana-at-example"}, 400, "email"),
    ({"phone": "555"}, 400, "phone"),
    ({"attribute[hole_size]": None}, 400, "attribute[hole_size]"),
    ({"attribute[hole_size]": "sinkhole"}, 400, "attribute[hole_size]"),
    ({"attribute[hole_size]": ["smaller_than_plate", "larger_than_tire"]}, 400, "attribute[hole_size]"),
    ({"attribute[colour]": "red"}, 400, "attribute[colour]"),
    ({"attribute[]": "x"}, 400, "attribute[]"),
    ({"description": "x" * 4001}, 400, "description"),
    ({"description": "pothole\x00"}, 400, "description"),
    ({"first_name": "D" * (LIMITS["name"] + 1)}, 400, "first_name"),
    ({"first_name": "D" * 100, "last_name": "O" * 100}, 400, "last_name"),
    ({"media_url": "javascript:alert(1)"}, 400, "media_url"),
    ({"media_url": "https://example.org/" + "a" * 300}, 400, "media_url"),
]


def test_bad_input_is_refused_naming_the_field_and_stores_nothing(
    client: TestClient, api_key: str, seeded: sessionmaker[Session], subtests: pytest.Subtests
) -> None:
    for fields, status, named in BAD_FILINGS:
        with subtests.test(named=named, fields=str(fields)[:60]):
            response = file(client, pothole(api_key, **fields))
            assert response.status_code == status, response.text
            [description] = errors(response)
            assert description.startswith(f"{named}:")
    assert request_count(seeded) == 0
    with seeded() as session:
        assert session.scalar(select(func.count()).select_from(Contact)) == 0


@pytest.mark.parametrize("scope", ["revoked", "internal"])
def test_a_revoked_or_internal_key_is_refused(
    client: TestClient, seeded: sessionmaker[Session], api_key: str, scope: str
) -> None:
    with transaction(seeded) as session:
        if scope == "revoked":
            api_clients.revoke(session, "northvale-fixit")
            key = api_key
        else:
            key = api_clients.create_client(session, "action-server", "internal")
    response = file(client, pothole(key), "xml")
    assert response.status_code == 403
    assert ET.fromstring(response.content).findtext("error/code") == "403"
    assert request_count(seeded) == 0


def test_a_body_that_is_not_form_encoded_is_refused(client: TestClient, api_key: str) -> None:
    as_json = client.post(f"{BASE}/requests.json", json=pothole(api_key))
    assert as_json.status_code == 400 and "form-encoded" in errors(as_json)[0]
    not_utf8 = client.post(
        f"{BASE}/requests.json",
        content=b"api_key=" + api_key.encode() + b"&service_code=road_repair&description=%ff%fe",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert not_utf8.status_code == 400 and "UTF-8" in errors(not_utf8)[0]


# ----------------------------------------------------------------------------- listing with filters and limits


def backdate(factory: sessionmaker[Session], reference: str, days: float) -> None:
    with transaction(factory) as session:
        request = get_by_reference(session, reference)
        request.created_at = utcnow() - dt.timedelta(days=days)


def listed(client: TestClient, **params: str) -> list[str]:
    response = client.get(f"{BASE}/requests.json", params=params)
    assert response.status_code == 200, response.text
    return [request["service_request_id"] for request in response.json()]


def test_filters_by_id_code_status_and_dates(client: TestClient, api_key: str, seeded: sessionmaker[Session]) -> None:
    recent = filed_reference(client, pothole(api_key))
    old = filed_reference(client, pothole(api_key))
    ancient = filed_reference(client, pothole(api_key))
    light = filed_reference(
        client,
        {
            "api_key": api_key,
            "service_code": "streetlight_out",
            "address_string": "Queen Street at Pine Avenue, Pinecrest",
            "description": "The light on the north-east corner is out.",
            "attribute[problem]": "out",
        },
    )
    backdate(seeded, old, 30)
    backdate(seeded, ancient, 120)
    with transaction(seeded) as session:
        request = get_by_reference(session, light)
        update_request(session, request, "m.chen", status="closed", resolution="Replaced the lamp.")

    assert listed(client) == [light, recent, old]  # newest first, the last 90 days only
    assert listed(client, status="open") == [recent, old]
    assert listed(client, status="closed") == [light]
    assert listed(client, status="open,closed") == [light, recent, old]
    assert listed(client, service_code="streetlight_out") == [light]
    assert listed(client, service_code="streetlight_out,road_repair", status="") == [light, recent, old]
    # service_request_id overrides every other argument, even a range that excludes the request
    assert set(listed(client, service_request_id=f"{ancient}, {light.lower()}", status="open")) == {ancient, light}
    since = (utcnow() - dt.timedelta(days=20)).isoformat(timespec="seconds")
    assert listed(client, start_date=since) == [light, recent]  # the 90 days after start_date
    until = (utcnow() - dt.timedelta(days=10)).isoformat(timespec="seconds")
    assert listed(client, end_date=until) == [old]  # the 90 days before end_date
    start = (utcnow() - dt.timedelta(days=130)).astimezone(dt.timezone(dt.timedelta(hours=-5)))
    end = start + dt.timedelta(days=89)
    assert listed(client, start_date=start.isoformat(), end_date=end.isoformat()) == [ancient]


BAD_FILTERS: list[tuple[dict[str, str], str]] = [
    ({"status": "pending"}, "status"),
    ({"start_date": "2026-11-01"}, "start_date"),
    ({"start_date": "2026-11-01T00:00:00"}, "start_date"),
    ({"end_date": "yesterday"}, "end_date"),
    ({"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-06-01T00:00:00Z"}, "end_date"),
    ({"start_date": "2026-06-01T00:00:00Z", "end_date": "2026-01-01T00:00:00Z"}, "end_date"),
    ({"end_date": "0001-01-01T00:00:00Z"}, "end_date"),
    ({"service_code": "road\x00repair"}, "service_code"),
]


def test_bad_filters_are_a_400_naming_the_argument(client: TestClient, subtests: pytest.Subtests) -> None:
    for params, named in BAD_FILTERS:
        with subtests.test(params=str(params)):
            response = client.get(f"{BASE}/requests.json", params=params)
            assert response.status_code == 400, response.text
            assert errors(response)[0].startswith(f"{named}:")


def test_at_most_1000_requests_are_returned(client: TestClient, seeded: sessionmaker[Session]) -> None:
    with transaction(seeded) as session:
        service = session.scalars(select(Service).where(Service.code == "graffiti")).one()
        now = utcnow()
        session.add_all(
            ServiceRequest(
                reference=f"SR-2026-{900000 + n:06d}",
                service_id=service.id,
                department_id=service.department_id,
                description=f"Tag number {n} on the underpass wall.",
                address="Highway 7 underpass at Main Street, Northvale",
                channel="open311",
                status="open",
                created_at=now - dt.timedelta(minutes=n),
                updated_at=now - dt.timedelta(minutes=n),
                due_at=now + dt.timedelta(days=3),
            )
            for n in range(1005)
        )
    references = listed(client)
    assert len(references) == 1000
    assert references[0] == "SR-2026-900000" and references[-1] == "SR-2026-900999"


# ----------------------------------------------------------------------------- tokens


def test_a_token_leads_to_its_request(client: TestClient, api_key: str, seeded: sessionmaker[Session]) -> None:
    reference = filed_reference(client, pothole(api_key))
    with seeded() as session:
        token = get_by_reference(session, reference).token
    assert token
    [answer] = same_in_both_formats(client, f"tokens/{token}", "service_requests")
    assert answer == {"service_request_id": reference, "token": token}
    missing = client.get(f"{BASE}/tokens/{'0' * 32}.xml")
    assert missing.status_code == 404 and ET.fromstring(missing.content).findtext("error/code") == "404"


def test_an_unknown_request_is_404(client: TestClient) -> None:
    response = client.get(f"{BASE}/requests/SR-2026-999999.json")
    assert response.status_code == 404 and errors(response)[0].startswith("service_request_id:")


# ----------------------------------------------------------------------------- a real Open311 client library


@pytest.fixture
def live_server(settings: Settings, seeded: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The app under uvicorn on a free loopback port, for clients that speak real HTTP."""
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")  # a proxy set in the environment must not catch loopback calls
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(open311_app(settings), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}{BASE}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_the_georeport_client_library_reads_our_endpoint(live_server: str, api_key: str, fmt: str) -> None:
    from georeport import GeoReport

    # The library has no POST (its README says so): file the request with a plain form post.
    created = httpx.post(f"{live_server}/requests.{fmt}", data=pothole(api_key), timeout=10)
    assert created.status_code == 200, created.text
    reader = GeoReport(live_server, output_format=fmt)
    services = reader.get_service_list()
    assert {service["service_code"] for service in services} >= DESIGN_CODES
    definition = reader.get_service_definition("road_repair")
    assert definition["service_code"] == "road_repair"
    requests = reader.get_service_requests(service_code="road_repair", status="open")
    # xmltodict gives a single <request> as a dict, several as a list
    [listed_request] = requests if isinstance(requests, list) else [requests]
    reference = listed_request["service_request_id"]
    one = reader.get_service_request(reference)
    assert one["service_code"] == "road_repair" and one["status"] == "open"
    assert "email" not in one and "phone" not in one
