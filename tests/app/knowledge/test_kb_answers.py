"""The search answers with the article's section that holds the fact, through the internal API, on the seed articles.

The section weights were chosen on tests/app/data/kb_fact_dev.yaml; these questions are worded apart from it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from civicdesk.app import create_app
from civicdesk.db import transaction
from civicdesk.knowledge.articles import upsert_article
from civicdesk.knowledge.passages import ANSWER_LIMIT, holds
from civicdesk.knowledge.search import KnowledgebaseSearch
from civicdesk.seed_schema import load_articles
from civicdesk.settings import Settings

SEED_KB = Path(__file__).resolve().parents[3] / "civicdesk" / "seed_data" / "kb"


@pytest.fixture
def database_url(seeded_database_url: str) -> str:
    return seeded_database_url


@pytest.fixture
def client(settings: Settings, session_factory: sessionmaker[Session]) -> TestClient:
    client = TestClient(create_app(settings))
    client.headers["Authorization"] = f"Bearer {settings.actions_token.get_secret_value()}"
    return client


def top(client: TestClient, question: str) -> dict[str, object]:
    response = client.get("/api/v1/kb/search", params={"q": question})
    assert response.status_code == 200
    results = response.json()["results"]
    assert all(len(hit["answer"]) <= ANSWER_LIMIT and "**" not in hit["answer"] for hit in results)
    first: dict[str, object] = results[0]
    return first


def test_the_depot_hours_come_as_one_line_per_depot(client: TestClient) -> None:
    hit = top(client, "what are the landfill hours for hazardous waste?")
    assert (hit["slug"], hit["section"]) == ("household-hazardous-waste-depot", "Locations and hours")
    assert str(hit["answer"]).splitlines()[:3] == [
        "Locations and hours",
        "Northvale Environmental Centre: 85 Depot Drive, Northvale; Tuesday to Saturday, 8:30 a.m. to 4:00 p.m.",
        "Elm Ridge Waste Management Centre: 2275 Sideroad 15, Elm Ridge; Thursday to Saturday, 8:30 a.m. to 4:00 p.m.",
    ]
    assert hit["summary"] == str(hit["summary"]) and str(hit["summary"]).startswith("Hazardous products")


def test_ways_to_pay_property_tax_come_as_a_list(client: TestClient) -> None:
    hit = top(client, "how do I pay my property tax?")
    assert (hit["slug"], hit["section"]) == ("property-tax-payment-options", None)
    lines = str(hit["answer"]).splitlines()
    assert {"• Online or telephone banking", "• In person", "• By mail or drop box", "• Credit card"} <= set(lines)


@pytest.mark.parametrize(
    ("question", "slug", "facts"),
    [
        ("how much does it cost to license my cat if she is spayed", "dog-licence", ["Cat, spayed or neutered"]),
        ("what's the convenience fee for paying taxes by credit card", "property-tax-payment-options", ["2.5%"]),
        ("until what time at night are the quiet hours", "noise-bylaw", ["11:00 p.m. to 7:00 a.m."]),
        ("how much is the ticket for an expired parking meter", "parking-tickets-pay", ["expired meter: $40"]),
    ],
)
def test_fact_questions_are_answered_with_the_fact(
    client: TestClient, question: str, slug: str, facts: list[str]
) -> None:
    hit = top(client, question)
    assert hit["slug"] == slug
    assert holds(str(hit["answer"]), facts), hit["answer"]


def test_an_edited_article_is_answered_from_its_new_text(session_factory: sessionmaker[Session]) -> None:
    search = KnowledgebaseSearch()
    question = "what are the hazardous waste depot hours"
    with session_factory() as session:
        assert "8:30 a.m. to 4:00 p.m." in search.search(session, question).hits[0].answer
    (article,) = [a for a in load_articles(SEED_KB) if a.slug == "household-hazardous-waste-depot"]
    edited = article.model_copy(
        update={"body": article.body.replace("8:30 a.m. to 4:00 p.m.", "9:00 a.m. to 3:00 p.m.")}
    )
    with transaction(session_factory) as session:
        assert upsert_article(session, edited, "test") == "updated"
    with session_factory() as session:
        answer = search.search(session, question).hits[0].answer
    assert "9:00 a.m. to 3:00 p.m." in answer and "8:30 a.m." not in answer
