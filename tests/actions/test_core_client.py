"""The core API client: configuration from the environment, the request it sends, its one error type."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from actions.clients.core import (
    DEFAULT_CORE_URL,
    DEFAULT_TIMEOUT_SECONDS,
    Contact,
    CoreAPIError,
    CoreClient,
    CoreSettings,
    Invalid,
    KBArticle,
    NotFound,
    Prediction,
    Refused,
)


def test_settings_defaults_when_environment_is_empty() -> None:
    settings = CoreSettings.from_env({})

    assert settings == CoreSettings(base_url=DEFAULT_CORE_URL, token="", timeout_seconds=DEFAULT_TIMEOUT_SECONDS)
    assert DEFAULT_CORE_URL == "http://127.0.0.1:8000"


def test_settings_read_from_environment() -> None:
    settings = CoreSettings.from_env(
        {
            "CIVICDESK_CORE_URL": "http://127.0.0.1:8123/",
            "CIVICDESK_ACTIONS_TOKEN": " s3cret ",
            "CIVICDESK_CORE_TIMEOUT": "2.5",
        }
    )

    assert settings == CoreSettings(base_url="http://127.0.0.1:8123/", token="s3cret", timeout_seconds=2.5)


@pytest.mark.parametrize("value", ["soon", "0", "-1"])
def test_bad_timeout_is_a_core_api_error(value: str) -> None:
    with pytest.raises(CoreAPIError, match="CIVICDESK_CORE_TIMEOUT"):
        CoreSettings.from_env({"CIVICDESK_CORE_TIMEOUT": value})


@pytest.mark.asyncio
async def test_search_sends_contract_request_and_parses_results(
    core: HTTPServer, auth_header: dict[str, str], load_fixture: Callable[[str], Any]
) -> None:
    core.expect_oneshot_request(
        "/api/v1/kb/search",
        method="GET",
        query_string={"q": "green bin & recycling?", "channel": "chat", "limit": "3"},
        headers={**auth_header, "Accept": "application/json"},
    ).respond_with_json(load_fixture("kb_search_confident.json"))

    found = await CoreClient.from_env().search_knowledgebase("green bin & recycling?")

    core.check_assertions()
    assert found.confident is True
    assert found.query == "When is garbage day on Maple Crescent in Harlow Falls?"
    assert [a.slug for a in found.results] == ["garbage-collection-day", "holiday-collection-schedule"]
    assert found.results[1] == KBArticle(
        slug="holiday-collection-schedule",
        title="Collection after statutory holidays",
        summary=(
            "When a statutory holiday falls on a weekday, collection for the rest of that week moves one day later."
        ),
        url="https://www.northvale.ca/kb/holiday-collection-schedule",
        score=0.47,
        answer=(
            "Christmas Day and New Year's Day\nCollection moves one day later only on these two days:\n"
            "Christmas Day 2026: Friday, December 25; Saturday, December 26"
        ),
        section="Christmas Day and New Year's Day",
    )


@pytest.mark.asyncio
async def test_no_token_sends_no_authorization_header(
    core: HTTPServer, monkeypatch: pytest.MonkeyPatch, load_fixture: Callable[[str], Any]
) -> None:
    monkeypatch.delenv("CIVICDESK_ACTIONS_TOKEN")
    core.expect_oneshot_request("/api/v1/kb/search").respond_with_json(load_fixture("kb_search_none.json"))

    await CoreClient.from_env().search_knowledgebase("anything")

    [(request, _response)] = core.log
    assert "Authorization" not in request.headers


@pytest.mark.asyncio
@pytest.mark.parametrize("status", [201, 301, 401, 503])
async def test_any_status_but_200_raises_core_api_error_naming_it(status: int, core: HTTPServer) -> None:
    # A well-formed body must not hide a refused token or a redirect to a login page.
    core.expect_oneshot_request("/api/v1/kb/search").respond_with_json(
        {"query": "water bill", "confident": False, "results": []}, status=status
    )

    with pytest.raises(CoreAPIError, match=f"HTTP {status}"):
        await CoreClient.from_env().search_knowledgebase("water bill")


@pytest.mark.asyncio
async def test_connection_refused_raises_core_api_error(core_refusing: str) -> None:
    with pytest.raises(CoreAPIError, match="failed"):
        await CoreClient.from_env().search_knowledgebase("water bill")


@pytest.mark.asyncio
async def test_classify_sends_the_text_and_reads_the_service_and_urgency(
    core: HTTPServer, auth_header: dict[str, str]
) -> None:
    core.expect_oneshot_request(
        "/api/v1/classify", method="POST", json={"text": "streetlight out"}, headers=auth_header
    ).respond_with_json(
        {
            "service_code": {"label": "streetlight_out", "confidence": 0.93, "abstain": False},
            "kind": {"label": "service_request", "confidence": 0.9, "abstain": False},
            "urgency": {"label": "routine", "confidence": 0.7, "abstain": False},
            "entities": [{"label": "ADDRESS", "text": "Mill Street", "start": 0, "end": 11}],
        }
    )

    found = await CoreClient.from_env().classify("streetlight out")

    core.check_assertions()
    assert found.service_code == Prediction(label="streetlight_out", confidence=0.93, abstain=False)
    assert found.urgency == Prediction(label="routine", confidence=0.7, abstain=False)


@pytest.mark.asyncio
async def test_an_endpoint_the_core_does_not_have_yet_is_not_found(core: HTTPServer) -> None:
    core.expect_oneshot_request("/api/v1/classify", method="POST").respond_with_json(
        {"detail": "Not Found"}, status=404
    )

    with pytest.raises(NotFound):
        await CoreClient.from_env().classify("anything")


@pytest.mark.asyncio
async def test_a_refusal_carries_the_cores_reason(core: HTTPServer) -> None:
    core.expect_oneshot_request("/api/v1/appointments/bookings", method="POST").respond_with_json(
        {"detail": "only 1 seat left"}, status=409
    )

    with pytest.raises(Refused, match="only 1 seat left"):
        await CoreClient.from_env().book(7, Contact(email="a@example.ca"))


@pytest.mark.asyncio
async def test_an_invalid_value_names_its_field(core: HTTPServer) -> None:
    core.expect_oneshot_request("/api/v1/requests", method="POST").respond_with_json(
        {"detail": [{"loc": ["body", "address"], "msg": "needs a location", "type": "invalid_input"}]}, status=422
    )

    with pytest.raises(Invalid) as raised:
        await CoreClient.from_env().create_request({"service_code": "road_repair", "description": "x"})

    assert raised.value.field == "address"
    assert str(raised.value) == "needs a location"


@pytest.mark.asyncio
async def test_a_created_request_must_answer_201(core: HTTPServer, load_fixture: Callable[[str], Any]) -> None:
    core.expect_oneshot_request("/api/v1/requests", method="POST").respond_with_json(
        load_fixture("request_created.json"), status=200
    )

    with pytest.raises(CoreAPIError, match="HTTP 200"):
        await CoreClient.from_env().create_request({"service_code": "road_repair", "description": "x"})


@pytest.mark.asyncio
async def test_a_body_missing_a_required_field_is_a_core_api_error(core: HTTPServer) -> None:
    core.expect_oneshot_request("/api/v1/services").respond_with_json([{"code": "graffiti", "name": "Graffiti"}])

    with pytest.raises(CoreAPIError, match="missing 'description'"):
        await CoreClient.from_env().services()
