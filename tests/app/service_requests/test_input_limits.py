"""What the doors refuse (issue 17): text over the table's maxima, lone surrogates, bodies over MAX_BODY_BYTES and
forms over MAX_FORM_FIELDS; and that what is just within each limit still gets in."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from browsing import ThreadedServer
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from civicdesk.app import create_app
from civicdesk.db import transaction
from civicdesk.limits import LIMITS, MAX_BODY_BYTES, MAX_FORM_FIELDS
from civicdesk.settings import Settings
from civicdesk.staff import api_clients

OPEN311 = "/open311/v2/requests.json"


@pytest.fixture
def database_url(seeded_database_url: str) -> str:
    return seeded_database_url


@pytest.fixture
def client(settings: Settings, session_factory: sessionmaker[Session]) -> TestClient:
    client = TestClient(create_app(settings))
    client.headers["Authorization"] = f"Bearer {settings.actions_token.get_secret_value()}"
    return client


@pytest.fixture
def api_key(session_factory: sessionmaker[Session]) -> str:
    with transaction(session_factory) as session:
        return api_clients.create_client(session, "northvale-fixit", "open311")


def graffiti(**changes: Any) -> dict[str, Any]:
    body = {
        "service_code": "graffiti",
        "description": "Spray paint tags across the bus shelter glass.",
        "address": "King St W and Mill St, Harlow Falls",
        "attributes": {"surface": "bus_shelter", "offensive": "no"},
    }
    return {**body, **changes}


def pothole(api_key: str, **changes: str) -> dict[str, str]:
    form = {
        "api_key": api_key,
        "service_code": "road_repair",
        "lat": "43.8561",
        "long": "-79.3370",
        "description": "Deep pothole in the eastbound lane.",
        "attribute[hole_size]": "larger_than_tire",
        "attribute[position]": "driving_lane",
    }
    return {**form, **changes}


def problem(response: httpx.Response) -> tuple[list[str], str]:
    detail = response.json()["detail"][0]
    return detail["loc"], detail["msg"]


# ----------------------------------------------------------------------------- lengths from the one table


def test_a_description_over_the_limit_is_refused_and_one_at_the_limit_accepted(client: TestClient) -> None:
    longest = LIMITS["description"]
    refused = client.post("/api/v1/requests", json=graffiti(description="x" * (longest + 1)))
    assert refused.status_code == 422
    assert problem(refused) == (["body", "description"], f"String should have at most {longest} characters")
    accepted = client.post("/api/v1/requests", json=graffiti(description="x" * longest))
    assert accepted.status_code == 201, accepted.text


def test_every_text_field_of_a_request_body_is_capped(client: TestClient) -> None:
    long_answer = "x" * (LIMITS["attribute"] + 1)
    cases = {
        ("body", "address"): graffiti(address="x" * (LIMITS["address"] + 1)),
        ("body", "service_code"): graffiti(service_code="x" * (LIMITS["code"] + 1)),
        ("body", "channel"): graffiti(channel="x" * (LIMITS["code"] + 1)),
        ("body", "attributes", "surface"): graffiti(attributes={"surface": long_answer}),
        ("body", "contact", "name"): graffiti(contact={"name": "x" * (LIMITS["name"] + 1)}),
    }
    for location, body in cases.items():
        response = client.post("/api/v1/requests", json=body)
        given = tuple(problem(response)[0])[: len(location)]  # an answer's location goes on to name its type
        assert response.status_code == 422 and given == location, (location, response.text[:300])


def test_open311_refuses_a_description_over_the_limit_and_accepts_one_at_it(client: TestClient, api_key: str) -> None:
    longest = LIMITS["description"]
    refused = client.post(OPEN311, data=pothole(api_key, description="x" * (longest + 1)))
    assert refused.status_code == 400
    assert refused.json() == [{"code": 400, "description": f"description: at most {longest:,} characters"}]
    accepted = client.post(OPEN311, data=pothole(api_key, description="x" * longest))
    assert accepted.status_code == 200, accepted.text


# ----------------------------------------------------------------------------- lone surrogates


def raw_json(body: dict[str, Any], field: str) -> str:
    """The body as JSON text, with `field` ending in the escape of a lone surrogate (json.dumps cannot write one)."""
    return json.dumps({**body, field: body[field] + "LONE"}).replace("LONE", "\\ud800")


def test_a_lone_surrogate_in_a_request_is_refused_naming_the_field(client: TestClient) -> None:
    content = raw_json(graffiti(), "description")
    response = client.post("/api/v1/requests", content=content, headers={"Content-Type": "application/json"})
    assert response.status_code == 422, response.text
    location, message = problem(response)
    assert location == ["body", "description"] and "lone UTF-16 surrogate" in message


def test_a_lone_surrogate_in_a_form_request_is_refused_naming_the_field(client: TestClient) -> None:
    body = {
        "item_code": "basement_flooding_guide",
        "contact": {"name": "Tomasz Nowak", "phone": "289-555-0177"},
        "recipient": "Tomasz Nowak",
        "street": "1180 Sideroad 15",
        "city": "Elm Ridge",
        "postal_code": "L0R 1T0",
    }
    for field in ("recipient", "street"):
        content = raw_json(body, field)
        response = client.post("/api/v1/forms/requests", content=content, headers={"Content-Type": "application/json"})
        assert response.status_code == 422, response.text
        location, message = problem(response)
        assert location == ["body", field] and "lone UTF-16 surrogate" in message


def test_open311_refuses_a_lone_surrogate_naming_the_field(client: TestClient, api_key: str) -> None:
    fields = pothole(api_key)
    del fields["description"]
    form = str(httpx.QueryParams(fields)) + "&description=Deep+pothole%ED%A0%80"
    response = client.post(OPEN311, content=form, headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status_code == 400
    assert response.json() == [
        {"code": 400, "description": "description: must not contain a lone UTF-16 surrogate (half of a character)"}
    ]


# ----------------------------------------------------------------------------- body size, enforced while reading


def test_a_declared_body_over_the_limit_is_refused_before_it_is_read(client: TestClient, api_key: str) -> None:
    too_large = b"x" * (MAX_BODY_BYTES + 1)
    response = client.post("/api/v1/requests", content=too_large, headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.json() == {
        "detail": f"the request body is larger than {MAX_BODY_BYTES:,} bytes, the most this server accepts"
    }
    open311 = client.post(OPEN311, content=too_large, headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert open311.status_code == 413
    assert open311.json() == [{"code": 413, "description": response.json()["detail"]}]
    as_xml = client.post(OPEN311.replace(".json", ".xml"), content=too_large)
    assert as_xml.status_code == 413 and "<code>413</code>" in as_xml.text


@pytest.fixture
def server(settings: Settings, session_factory: sessionmaker[Session]) -> Iterator[ThreadedServer]:
    with ThreadedServer(settings) as running:
        yield running


def chunks(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    """A body sent chunked (no Content-Length): the server learns its size only by reading it."""
    sent = 0
    while sent < total:
        piece = min(size, total - sent)
        sent += piece
        yield b" " * piece


def test_a_chunked_body_over_the_limit_is_cut_off_at_the_limit(server: ThreadedServer, settings: Settings) -> None:
    token = settings.actions_token.get_secret_value()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=30) as http:
        refused = http.post("/api/v1/requests", content=chunks(3 * MAX_BODY_BYTES))
        assert refused.status_code == 413, refused.text
        assert refused.json()["detail"].startswith("the request body is larger than")
        # just under the limit: JSON padded with spaces, read to the end and filed
        body = json.dumps(graffiti()).encode()
        padded = body + b" " * (MAX_BODY_BYTES - len(body))
        accepted = http.post("/api/v1/requests", content=iter([padded[:500_000], padded[500_000:]]))
        assert accepted.status_code == 201, accepted.text


# ----------------------------------------------------------------------------- form fields


def test_open311_says_when_a_form_has_too_many_fields(client: TestClient, api_key: str) -> None:
    form = [*pothole(api_key).items(), *((f"extra{n}", "x") for n in range(MAX_FORM_FIELDS))]
    response = client.post(OPEN311, data=dict(form))
    assert response.status_code == 400
    assert response.json() == [{"code": 400, "description": f"a form may have at most {MAX_FORM_FIELDS} fields"}]
    within = [*pothole(api_key).items(), *((f"extra{n}", "x") for n in range(MAX_FORM_FIELDS - 7))]
    assert client.post(OPEN311, data=dict(within)).status_code == 200


def test_a_console_form_with_too_many_fields_is_refused_saying_so(client: TestClient) -> None:
    form = {f"field{n}": "x" for n in range(MAX_FORM_FIELDS + 1)}
    response = client.post("/console/login", data={"email": "a@example.org", "password": "x", **form})
    assert response.status_code == 400
    assert response.json() == {"detail": f"Too many fields. Maximum number of fields is {MAX_FORM_FIELDS}."}
