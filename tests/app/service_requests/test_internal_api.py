"""The internal API the assistant's actions call: token, knowledgebase search, knowledge gaps, service requests."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from civicdesk.app import create_app
from civicdesk.db import transaction
from civicdesk.models import KnowledgeGap
from civicdesk.settings import Settings


@pytest.fixture
def database_url(seeded_database_url: str) -> str:
    return seeded_database_url


@pytest.fixture
def client(settings: Settings, session_factory: sessionmaker[Session]) -> TestClient:
    client = TestClient(create_app(settings))
    client.headers["Authorization"] = f"Bearer {settings.actions_token.get_secret_value()}"
    return client


def test_search_needs_the_service_token(client: TestClient) -> None:
    for headers in ({"Authorization": ""}, {"Authorization": "Bearer not-the-token"}):
        response = client.get("/api/v1/kb/search", params={"q": "garbage day"}, headers=headers)
        assert response.status_code == 401


def test_a_clear_question_gets_a_confident_answer(client: TestClient, session_factory: sessionmaker[Session]) -> None:
    body = client.get("/api/v1/kb/search", params={"q": "how do I book a flu shot"}).json()
    assert body["confident"] is True
    top = body["results"][0]
    assert top["slug"] == "flu-covid-vaccine-clinics"
    assert 0 < top["score"] <= 1 and top["url"].startswith("https://www.northvale.ca/") and top["summary"]
    assert [r["score"] for r in body["results"]] == sorted((r["score"] for r in body["results"]), reverse=True)
    with session_factory() as session:
        assert session.scalars(select(KnowledgeGap)).all() == []


def test_an_unanswerable_question_is_recorded_as_a_knowledge_gap(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    body = client.get("/api/v1/kb/search", params={"q": "what is the meaning of life", "channel": "chat"}).json()
    assert body == {"query": "what is the meaning of life", "confident": False, "results": []}
    with session_factory() as session:
        gap = session.scalars(select(KnowledgeGap)).one()
        assert (gap.query, gap.channel, gap.top_slug) == ("what is the meaning of life", "chat", None)
        assert gap.reason == "unsure_search"


def test_a_message_the_assistant_did_not_understand_is_a_redacted_knowledge_gap(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    text = "zorp blingle, call me at 905-555-0143 or jo.smith@example.org"
    response = client.post("/api/v1/kb/gaps", json={"query": text, "reason": "not_understood"})
    assert response.status_code == 201 and response.json() == {"status": "recorded"}
    with session_factory() as session:
        gap = session.scalars(select(KnowledgeGap)).one()
        assert (gap.query, gap.channel, gap.reason) == (
            "zorp blingle, call me at <PHONE> or <EMAIL>",
            "chat",
            "not_understood",
        )


def test_an_answer_the_resident_said_did_not_help_is_a_knowledge_gap_with_its_article(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    gap = {"query": "what hours can I run a table saw", "reason": "not_answered", "article": "noise-bylaw"}
    assert client.post("/api/v1/kb/gaps", json=gap).status_code == 201
    with session_factory() as session:
        stored = session.scalars(select(KnowledgeGap)).one()
        assert (stored.query, stored.reason, stored.top_slug, stored.top_score) == (
            "what hours can I run a table saw",
            "not_answered",
            "noise-bylaw",
            None,
        )


def test_a_knowledge_gap_without_text_or_with_an_unknown_reason_is_refused(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    response = client.post("/api/v1/kb/gaps", json={"query": "", "reason": "bored"})
    assert response.status_code == 422
    assert {tuple(item["loc"]) for item in response.json()["detail"]} == {("body", "query"), ("body", "reason")}
    assert client.post("/api/v1/kb/gaps", json={"query": "x"}, headers={"Authorization": ""}).status_code == 401
    with session_factory() as session:
        assert session.scalars(select(KnowledgeGap)).all() == []


def test_bad_parameters_are_explained(client: TestClient) -> None:
    response = client.get("/api/v1/kb/search", params={"q": "", "limit": 50})
    assert response.status_code == 422
    problems = {tuple(item["loc"]) for item in response.json()["detail"]}
    assert problems == {("query", "q"), ("query", "limit")}


def test_a_request_created_through_the_api_can_be_looked_up(client: TestClient) -> None:
    created = client.post(
        "/api/v1/requests",
        json={
            "service_code": "graffiti",
            "description": "Spray paint tags across the bus shelter glass.",
            "address": "King St W and Mill St, Harlow Falls",
            "attributes": {"surface": "bus_shelter", "offensive": "no"},
            "contact": {"email": "m.tremblay@example.org", "consent": True},
        },
    )
    assert created.status_code == 201, created.json()
    reference = created.json()["reference"]
    status = client.get(f"/api/v1/requests/{reference}").json()
    assert status["status"] == "open" and status["service_code"] == "graffiti"
    assert "contact" not in status and "m.tremblay" not in str(status)


def test_api_errors_name_the_field_and_unknown_references_are_404(client: TestClient) -> None:
    response = client.post(
        "/api/v1/requests",
        json={"service_code": "graffiti", "description": "tags", "address": "1 Main St", "postal_code": "12345"},
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "postal_code"]
    unanswered = client.post(
        "/api/v1/requests", json={"service_code": "graffiti", "description": "tags", "address": "1 Main St"}
    )
    assert unanswered.status_code == 422
    assert unanswered.json()["detail"][0]["loc"] == ["body", "attribute[surface]"]
    assert client.get("/api/v1/requests/SR-2026-999999").status_code == 404


def test_an_issued_internal_key_works_until_revoked(client: TestClient, session_factory: sessionmaker[Session]) -> None:
    from civicdesk.staff import api_clients

    with transaction(session_factory) as session:
        key = api_clients.create_client(session, "agent-console", "internal")
        open311_key = api_clients.create_client(session, "fixmystreet-northvale", "open311")
    search = {"q": "garbage day"}
    assert client.get("/api/v1/kb/search", params=search, headers={"Authorization": f"Bearer {key}"}).status_code == 200
    wrong_scope = client.get("/api/v1/kb/search", params=search, headers={"Authorization": f"Bearer {open311_key}"})
    assert wrong_scope.status_code == 401
    with transaction(session_factory) as session:
        api_clients.revoke(session, "agent-console")
    assert client.get("/api/v1/kb/search", params=search, headers={"Authorization": f"Bearer {key}"}).status_code == 401
