"""Contract between the action server's HTTP client and the core, through the action tests' JSON fixtures.

The action server (`actions/`) talks to the core only over HTTP, and its tests (`tests/actions/`, another Python
environment) replace the core with the JSON bodies in `tests/actions/fixtures/`. Those tests prove the client
handles the fixtures; nothing there proves the fixtures are what the core answers. This module closes the loop: each
response fixture must validate against the pydantic response model of the endpoint it stands for, with no field
missing, renamed or of the wrong JSON type, and with no key the model lacks (pydantic ignores unknown keys, but a
fixture key the core does not have means the client reads something the core never sends). The mapping is checked
against the routers too, so a moved endpoint or a changed response model shows up here.

Files named `tracker_*.json` are Rasa trackers (what Rasa sends the action server), not core responses; every other
fixture must be mapped, so a new one cannot be forgotten.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import APIRouter
from fastapi.routing import APIRoute
from pydantic import BaseModel, TypeAdapter, ValidationError

from civicdesk.bookings import api as bookings_api
from civicdesk.catalogue import api as catalogue_api
from civicdesk.knowledge import api as knowledge_api
from civicdesk.knowledge import collection_api
from civicdesk.service_requests import api as requests_api
from civicdesk.service_requests import open311
from civicdesk.service_requests.open311 import serializers as open311_serializers
from civicdesk.service_requests.open311 import services as open311_services

FIXTURES = Path(__file__).resolve().parents[2] / "actions" / "fixtures"
# (prefix, router): Open311's endpoint groups are routers of their own, mounted under /open311/v2.
ROUTERS: tuple[tuple[str, APIRouter], ...] = (
    ("", catalogue_api.router),
    ("", knowledge_api.router),
    ("", collection_api.router),
    ("", requests_api.router),
    ("", bookings_api.router),
    (open311.router.prefix, open311_services.router),
)


def is_tracker(name: str) -> bool:
    """A Rasa tracker fixture: the action server's input from Rasa, not a body the core answers with."""
    return name.startswith("tracker_")


@dataclass(frozen=True)
class Endpoint:
    """The core endpoint a fixture stands for, as `actions/clients/core.py` calls it, and its response type."""

    method: str
    path: str  # as the router declares it (with its prefix)
    response: Any  # a pydantic model, or list[model] for a list response

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


RESPONSES: dict[str, Endpoint] = {
    "services.json": Endpoint("GET", "/api/v1/services", list[catalogue_api.ServiceOut]),
    "kb_search_confident.json": Endpoint("GET", "/api/v1/kb/search", knowledge_api.KbSearchOut),
    "kb_search_none.json": Endpoint("GET", "/api/v1/kb/search", knowledge_api.KbSearchOut),
    "kb_search_weak.json": Endpoint("GET", "/api/v1/kb/search", knowledge_api.KbSearchOut),
    "collection_day_found.json": Endpoint("GET", "/api/v1/collection-day", collection_api.CollectionDayOut),
    "collection_day_ambiguous.json": Endpoint("GET", "/api/v1/collection-day", collection_api.CollectionDayOut),
    "request_created.json": Endpoint("POST", "/api/v1/requests", requests_api.RequestStatusOut),
    "appointment_types.json": Endpoint("GET", "/api/v1/appointments/types", list[bookings_api.AppointmentTypeOut]),
    "open_slots.json": Endpoint("GET", "/api/v1/appointments/slots", list[bookings_api.SlotOut]),
    "booking.json": Endpoint("POST", "/api/v1/appointments/bookings", bookings_api.BookingOut),
    "events.json": Endpoint("GET", "/api/v1/events", list[bookings_api.EventOut]),
    "definition_road_repair.json": Endpoint(
        "GET", "/open311/v2/services/{service_code}.{format}", open311_serializers.ServiceDefinitionOut
    ),
}


def unknown_keys(value: Any, data: Any, where: str = "$") -> list[str]:
    """JSON keys in `data` that the validated `value`'s model (or dataclass) has no field for, at any depth."""
    if isinstance(value, BaseModel):
        fields = list(type(value).model_fields)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = [field.name for field in dataclasses.fields(value)]
    elif isinstance(value, list):
        return [
            problem
            for position, (item, raw) in enumerate(zip(value, data, strict=True))
            for problem in unknown_keys(item, raw, f"{where}[{position}]")
        ]
    else:
        return []
    found = [f"{where}.{key}" for key in data if key not in fields]
    for name in fields:
        if name in data:
            found += unknown_keys(getattr(value, name), data[name], f"{where}.{name}")
    return found


def check_against_core(endpoint: Endpoint, raw: str) -> None:
    """Raise ValidationError (missing, renamed or mistyped field) or AssertionError (a key the core never sends).

    Strict validation of the JSON text: a fixture is a JSON body, so a value counts only in the JSON type the core
    emits ("3" is not an int, "true" not a bool); datetimes are RFC 3339 strings, as in JSON.
    """
    value = TypeAdapter(endpoint.response).validate_json(raw, strict=True)
    unknown = unknown_keys(value, json.loads(raw))
    assert not unknown, f"keys the core's {endpoint} response model does not have: {unknown}"


def read(fixture: str) -> str:
    return (FIXTURES / fixture).read_text(encoding="utf-8")


def _declared_response(route: APIRoute) -> Any:
    """The route's response model; Open311 routes render their own Response and document the model instead."""
    return route.response_model if route.response_model is not None else route.responses[200]["model"]


def test_every_response_fixture_is_mapped() -> None:
    present = {path.name for path in FIXTURES.glob("*.json")}
    responses = {name for name in present if not is_tracker(name)}
    assert responses, f"no response fixtures found in {FIXTURES}"
    unmapped = sorted(responses - set(RESPONSES))
    assert not unmapped, f"fixtures with no core endpoint in RESPONSES (map them, or name them tracker_*): {unmapped}"
    stale = sorted(set(RESPONSES) - present)
    assert not stale, f"RESPONSES names fixtures that no longer exist: {stale}"
    assert not [name for name in RESPONSES if is_tracker(name)], "a tracker fixture is mapped as a core response"


@pytest.mark.parametrize("fixture", sorted(RESPONSES))
def test_fixture_endpoint_serves_the_mapped_model(fixture: str) -> None:
    endpoint = RESPONSES[fixture]
    routes = [
        route
        for prefix, router in ROUTERS
        for route in router.routes
        if isinstance(route, APIRoute) and prefix + route.path == endpoint.path and endpoint.method in route.methods
    ]
    assert len(routes) == 1, f"the core has {len(routes)} routes for {endpoint}"
    assert _declared_response(routes[0]) == endpoint.response, f"{endpoint} no longer answers {endpoint.response}"


@pytest.mark.parametrize("fixture", sorted(RESPONSES))
def test_fixture_matches_core_response_model(fixture: str) -> None:
    check_against_core(RESPONSES[fixture], read(fixture))


# ------------------------------------------------------------------- the checks above can fail


def _first_object(data: Any) -> dict[str, Any]:
    return data[0] if isinstance(data, list) else data


@pytest.mark.parametrize("fixture", sorted(RESPONSES))
def test_a_renamed_required_field_fails(fixture: str) -> None:
    data = json.loads(read(fixture))
    target = _first_object(data)
    key = next(iter(target))
    target[f"{key}_renamed"] = target.pop(key)
    with pytest.raises(ValidationError) as caught:
        check_against_core(RESPONSES[fixture], json.dumps(data))
    assert any(error["type"] == "missing" and error["loc"][-1] == key for error in caught.value.errors())


@pytest.mark.parametrize(
    ("fixture", "path", "key"),
    [
        ("booking.json", (), "room"),
        ("kb_search_confident.json", ("results", 0), "rank"),
        ("definition_road_repair.json", ("attributes", 0, "values", 1), "code"),
    ],
)
def test_a_key_the_core_never_sends_fails(fixture: str, path: tuple[str | int, ...], key: str) -> None:
    data = json.loads(read(fixture))
    target = data
    for step in path:
        target = target[step]
    target[key] = "x"
    where = "$" + "".join(f"[{step}]" if isinstance(step, int) else f".{step}" for step in path)
    with pytest.raises(AssertionError, match=re.escape(f"'{where}.{key}'")):
        check_against_core(RESPONSES[fixture], json.dumps(data))


@pytest.mark.parametrize(
    ("fixture", "key", "value"),
    [
        ("open_slots.json", "seats_left", "3"),  # lax validation would take the string for an int
        ("kb_search_weak.json", "confident", "false"),  # and this one for a bool
        ("booking.json", "starts_at", "next Tuesday"),
        ("request_created.json", "reference", None),
    ],
)
def test_a_wrongly_typed_value_fails(fixture: str, key: str, value: Any) -> None:
    data = json.loads(read(fixture))
    _first_object(data)[key] = value
    with pytest.raises(ValidationError) as caught:
        check_against_core(RESPONSES[fixture], json.dumps(data))
    assert any(error["loc"][-1] == key for error in caught.value.errors())
