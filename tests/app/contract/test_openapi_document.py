"""The OpenAPI document says what the server does: the errors each operation can answer, the fixed sets of values,
the Open311 date pattern, the methods a path allows, and Open311's error shape for paths and methods it lacks.
(test_schemathesis.py checks the same against generated requests; these pin each point down by name.)"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from helpers import make_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from civicdesk import migrate
from civicdesk.app import create_app
from civicdesk.limits import MAX_BODY_BYTES
from civicdesk.settings import Settings

METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture(scope="module")
def app_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """An empty, migrated SQLite database: nothing here needs the catalogue."""
    migrated = make_settings(tmp_path_factory.mktemp("openapi"))
    migrate.upgrade(migrated.sqlalchemy_url)
    return migrated


@pytest.fixture(scope="module")
def client(app_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(app_settings)) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def document(client: TestClient) -> dict[str, Any]:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def operations(document: dict[str, Any], prefix: str) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        if path.startswith(prefix):
            for method, operation in item.items():
                if method in METHODS:
                    yield method.upper(), path, operation


def test_every_internal_operation_documents_401(document: dict[str, Any]) -> None:
    found = list(operations(document, "/api/v1/"))
    assert len(found) >= 15
    assert [f"{m} {p}" for m, p, op in found if "401" not in op["responses"]] == []


def test_every_operation_with_a_body_documents_its_unparseable_and_too_large_answers(document: dict[str, Any]) -> None:
    with_body = [(m, p, op) for m, p, op in operations(document, "/api/v1/") if "requestBody" in op]
    assert len(with_body) >= 7
    assert [f"{m} {p}" for m, p, op in with_body if not {"400", "413", "422"} <= set(op["responses"])] == []
    body_posts = [op for m, p, op in operations(document, "/open311/v2/") if "requestBody" in op]
    assert body_posts and all("413" in op["responses"] for op in body_posts)


@pytest.mark.parametrize(
    ("method", "path", "statuses"),
    [
        ("GET", "/api/v1/requests/{reference}", {"404"}),
        ("POST", "/api/v1/appointments/bookings", {"409"}),
        ("DELETE", "/api/v1/appointments/bookings/{reference}", {"404", "409"}),
        ("PATCH", "/api/v1/appointments/bookings/{reference}", {"404", "409"}),
        ("POST", "/api/v1/events/{code}/rsvps", {"404", "409"}),
        ("DELETE", "/api/v1/events/rsvps/{reference}", {"404", "409"}),
    ],
)
def test_not_found_and_conflict_are_documented_where_they_happen(
    document: dict[str, Any], method: str, path: str, statuses: set[str]
) -> None:
    responses = document["paths"][path][method.lower()]["responses"]
    assert statuses <= set(responses)
    for status in statuses:
        schema = responses[status]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/ErrorDetail"}
    assert document["components"]["schemas"]["ErrorDetail"]["required"] == ["detail"]


def enum_of(document: dict[str, Any], model: str, field: str) -> list[str]:
    schema = document["components"]["schemas"][model]["properties"][field]
    values: list[str] = schema["enum"]
    return values


def test_fixed_sets_of_values_are_enums(document: dict[str, Any]) -> None:
    assert set(enum_of(document, "RequestBody", "kind")) == {
        "service_request",
        "information_request",
        "complaint",
        "compliment",
        "misdirected",
    }
    assert set(enum_of(document, "RequestBody", "urgency")) == {"emergency", "urgent", "routine"}
    channels = {"chat", "email", "phone", "counter", "web", "open311", "console"}
    for model in ("RequestBody", "BookingBody", "RsvpBody", "FormRequestBody"):
        assert set(enum_of(document, model, "channel")) == channels
    assert "closed" in enum_of(document, "RequestStatusOut", "status")
    assert set(enum_of(document, "BookingOut", "status")) == {"booked", "cancelled"}
    assert set(enum_of(document, "RsvpOut", "status")) == {"attending", "cancelled"}
    assert set(enum_of(document, "FormRequestOut", "status")) == {"requested", "mailed", "cancelled"}


def test_an_unknown_channel_is_refused_by_the_schema_rule(client: TestClient, app_settings: Settings) -> None:
    response = client.post(
        "/api/v1/requests",
        json={"service_code": "road_repair", "description": "x", "channel": "pigeon"},
        headers={"Authorization": f"Bearer {app_settings.actions_token.get_secret_value()}"},
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "channel"]


def date_pattern(document: dict[str, Any], name: str) -> str:
    parameters = document["paths"]["/open311/v2/requests.{format}"]["get"]["parameters"]
    (parameter,) = [p for p in parameters if p["name"] == name]
    pattern: str = parameter["schema"]["pattern"]
    return pattern


def test_the_open311_date_pattern_refuses_dates_that_do_not_exist(document: dict[str, Any]) -> None:
    pattern = re.compile(date_pattern(document, "end_date"))
    for impossible in ("6741-86-69T45:69:97+00:06", "2027-02-29T00:00Z", "2026-04-31T00:00Z", "0000-01-01T00:00Z"):
        assert not pattern.fullmatch(impossible), impossible
    for real in ("2028-02-29T00:00Z", "2026-11-23T09:15:02-05:00", "2026-11-23T09:15:02.5+05:30", ""):
        assert pattern.fullmatch(real), real


def test_every_date_the_open311_schema_allows_is_accepted(client: TestClient, document: dict[str, Any]) -> None:
    patterns = {date_pattern(document, name) for name in ("start_date", "end_date")}
    (pattern,) = patterns

    @given(moment=st.from_regex(re.compile(pattern), fullmatch=True).filter(bool))
    @settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
    def accepted(moment: str) -> None:
        # The same moment at both ends: a range of zero days, so only the parsing can refuse it.
        response = client.get("/open311/v2/requests.json", params={"start_date": moment, "end_date": moment})
        assert response.status_code == 200, (moment, response.text)

    accepted()


def test_options_on_an_open311_path_allows_both_get_and_post(client: TestClient) -> None:
    response = client.options("/open311/v2/requests.json")
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, POST"
    assert response.json() == [{"code": 405, "description": "OPTIONS is not allowed here; use GET, POST"}]
    both = client.request("PUT", "/api/v1/appointments/bookings/AB-1")
    assert both.status_code == 405 and both.headers["Allow"] == "DELETE, PATCH"


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/open311/v2/nothing.json", 404),
        ("GET", "/open311/v2/services/road_repair/extra.json", 404),
        ("DELETE", "/open311/v2/requests.json", 405),
        ("PUT", "/open311/v2/services.json", 405),
    ],
)
def test_open311_answers_unknown_paths_and_methods_with_georeport_errors(
    client: TestClient, method: str, path: str, status: int
) -> None:
    as_json = client.request(method, path)
    assert as_json.status_code == status
    assert as_json.headers["Content-Type"] == "application/json; charset=utf-8"
    [error] = as_json.json()
    assert error["code"] == status and error["description"]
    as_xml = client.request(method, path.replace(".json", ".xml"))
    assert as_xml.status_code == status
    assert as_xml.headers["Content-Type"] == "text/xml; charset=utf-8"
    root = ET.fromstring(as_xml.content)
    assert root.tag == "errors" and root.findtext("error/code") == str(status)


def test_an_open311_post_too_large_gets_a_georeport_413(client: TestClient) -> None:
    body = b"description=" + b"a" * (MAX_BODY_BYTES + 1)
    for fmt in ("json", "xml"):
        response = client.post(
            f"/open311/v2/requests.{fmt}",
            content=body,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert response.status_code == 413
        if fmt == "json":
            [error] = response.json()
            assert error["code"] == 413
        else:
            assert ET.fromstring(response.content).findtext("error/code") == "413"
