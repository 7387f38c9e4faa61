"""action_search_knowledgebase against a local stand-in for the core's knowledgebase search."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from werkzeug import Request, Response

from actions.clients.core import CoreClient
from actions.knowledge import ActionSearchKnowledgebase

# Explicit, so these run under any asyncio mode (the root pyproject's config does not set one).
pytestmark = pytest.mark.asyncio

SEARCH = "/api/v1/kb/search"
QUESTION = "When is garbage day on Maple Crescent in Harlow Falls?"
TrackerFrom = Callable[..., Tracker]
JsonLoader = Callable[[str], Any]
ExpectSearch = Callable[[str], Any]


@pytest.fixture
def expect_search(core: HTTPServer, auth_header: dict[str, str]) -> ExpectSearch:
    """Match only requests that follow the contract: query, channel, limit and the service token."""

    def expect(q: str) -> Any:
        query = {"q": q, "channel": "chat", "limit": "3"}
        return core.expect_oneshot_request(SEARCH, method="GET", query_string=query, headers=auth_header)

    return expect


async def run(dispatcher: CollectingDispatcher, tracker: Tracker) -> list[dict[str, Any]]:
    return await ActionSearchKnowledgebase().run(dispatcher, tracker, {})


def assert_unavailable(dispatcher: CollectingDispatcher, events: list[dict[str, Any]]) -> None:
    assert events == [SlotSet("kb_outcome", "unavailable"), SlotSet("kb_choices", None)]
    [message] = dispatcher.messages
    assert "can't reach our knowledgebase" in message["text"]
    assert "311" in message["text"] and "905-555-0100" in message["text"]
    assert message["buttons"] == []
    for leak in ("Traceback", "Error", "Exception", "127.0.0.1", "HTTP"):
        assert leak not in message["text"]


async def test_confident_answer_shows_summary_link_and_asks_if_it_helped(
    core: HTTPServer,
    tracker_from: TrackerFrom,
    dispatcher: CollectingDispatcher,
    expect_search: ExpectSearch,
    load_fixture: JsonLoader,
) -> None:
    expect_search(QUESTION).respond_with_json(load_fixture("kb_search_confident.json"))

    events = await run(dispatcher, tracker_from("question"))

    core.check_assertions()
    assert events == [SlotSet("kb_outcome", "answered"), SlotSet("kb_choices", None)]
    answer, question = dispatcher.messages
    assert answer["text"].splitlines() == [
        "Find your garbage and recycling day",
        "Garbage, blue box and green bin are collected on the same weekday every week; "
        "enter your address in the collection calendar to see yours.",
        "More information: https://www.northvale.ca/kb/garbage-collection-day",
    ]
    # Only the best result is shown when the core is confident.
    assert "holiday" not in answer["text"].lower()
    assert question["text"] == "Did that answer your question?"
    assert question["buttons"] == [
        {"title": "Yes", "payload": "/affirm"},
        {"title": "No", "payload": "/deny"},
    ]


async def test_weak_results_are_offered_as_buttons_in_rank_order(
    core: HTTPServer,
    tracker_from: TrackerFrom,
    dispatcher: CollectingDispatcher,
    expect_search: ExpectSearch,
    load_fixture: JsonLoader,
) -> None:
    weak = load_fixture("kb_search_weak.json")
    expect_search(QUESTION).respond_with_json(weak)

    events = await run(dispatcher, tracker_from("question"))

    core.check_assertions()
    [message] = dispatcher.messages
    assert "Which one is closest" in message["text"]
    buttons = message["buttons"]
    assert [b["title"] for b in buttons] == [
        "Property tax due dates",
        "Ways to pay your property tax",
        "Property tax deferral for low-income seniors",
        "None of these",
    ]
    slugs = [json.loads(b["payload"].removeprefix("/ask_question"))["kb_slug"] for b in buttons[:3]]
    assert slugs == ["property-tax-due-dates", "property-tax-payment-options", "seniors-tax-deferral"]
    assert all(b["payload"].startswith("/ask_question{") for b in buttons[:3])
    assert buttons[3]["payload"] == "/deny"
    assert events[0] == SlotSet("kb_outcome", "choices")
    assert events[1]["name"] == "kb_choices"
    assert [c["slug"] for c in events[1]["value"]] == slugs
    assert events[1]["value"][1]["summary"] == weak["results"][1]["summary"]


async def test_no_results_says_so_and_offers_an_agent(
    core: HTTPServer,
    tracker_from: TrackerFrom,
    dispatcher: CollectingDispatcher,
    expect_search: ExpectSearch,
    load_fixture: JsonLoader,
) -> None:
    expect_search(QUESTION).respond_with_json(load_fixture("kb_search_none.json"))

    events = await run(dispatcher, tracker_from("question"))

    core.check_assertions()
    assert events == [SlotSet("kb_outcome", "no_results"), SlotSet("kb_choices", None)]
    [message] = dispatcher.messages
    assert "couldn't find an answer" in message["text"]
    assert "agent" in message["text"]
    assert [b["payload"] for b in message["buttons"]] == ["/affirm", "/deny"]


async def test_confident_flag_without_results_counts_as_no_results(
    core: HTTPServer, tracker_from: TrackerFrom, dispatcher: CollectingDispatcher, expect_search: ExpectSearch
) -> None:
    expect_search(QUESTION).respond_with_json({"query": QUESTION, "confident": True, "results": []})

    events = await run(dispatcher, tracker_from("question"))

    assert events[0] == SlotSet("kb_outcome", "no_results")


@pytest.mark.parametrize("status", [500, 503, 401, 404])
async def test_error_status_from_core_tells_resident_to_call(
    status: int,
    core: HTTPServer,
    tracker_from: TrackerFrom,
    dispatcher: CollectingDispatcher,
    expect_search: ExpectSearch,
) -> None:
    expect_search(QUESTION).respond_with_json({"detail": "boom"}, status=status)

    events = await run(dispatcher, tracker_from("question"))

    core.check_assertions()
    assert_unavailable(dispatcher, events)


async def test_connection_refused_tells_resident_to_call(
    core_refusing: str, tracker_from: TrackerFrom, dispatcher: CollectingDispatcher
) -> None:
    events = await run(dispatcher, tracker_from("question"))

    assert_unavailable(dispatcher, events)


async def test_unexpected_failure_still_answers_the_resident(
    core: HTTPServer,
    monkeypatch: pytest.MonkeyPatch,
    tracker_from: TrackerFrom,
    dispatcher: CollectingDispatcher,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def broken(self: CoreClient, query: str, **kwargs: Any) -> None:
        raise RuntimeError("a bug in the client")

    monkeypatch.setattr(CoreClient, "search_knowledgebase", broken)

    events = await run(dispatcher, tracker_from("question"))

    assert_unavailable(dispatcher, events)
    assert "a bug in the client" in caplog.text


async def test_slow_core_times_out_and_tells_resident_to_call(
    core: HTTPServer,
    monkeypatch: pytest.MonkeyPatch,
    tracker_from: TrackerFrom,
    dispatcher: CollectingDispatcher,
    expect_search: ExpectSearch,
    load_fixture: JsonLoader,
) -> None:
    monkeypatch.setenv("CIVICDESK_CORE_TIMEOUT", "0.3")

    def slow(request: Request) -> Response:
        time.sleep(1.0)
        return Response(json.dumps(load_fixture("kb_search_confident.json")), content_type="application/json")

    expect_search(QUESTION).respond_with_handler(slow)

    started = time.monotonic()
    events = await run(dispatcher, tracker_from("question"))

    assert time.monotonic() - started < 0.9
    assert_unavailable(dispatcher, events)


@pytest.mark.parametrize(
    "body",
    [
        "<html><body>502 Bad Gateway</body></html>",
        json.dumps({"query": QUESTION, "confident": True}),
        json.dumps({"query": QUESTION, "confident": "yes", "results": []}),
        json.dumps({"query": QUESTION, "confident": True, "results": [{"slug": "x", "title": "X"}]}),
    ],
    ids=["html", "no-results-key", "confident-not-bool", "result-missing-fields"],
)
async def test_body_outside_the_contract_tells_resident_to_call(
    body: str,
    core: HTTPServer,
    tracker_from: TrackerFrom,
    dispatcher: CollectingDispatcher,
    expect_search: ExpectSearch,
) -> None:
    expect_search(QUESTION).respond_with_data(body, content_type="application/json")

    events = await run(dispatcher, tracker_from("question"))

    assert_unavailable(dispatcher, events)


async def test_help_menu_topic_is_searched_instead_of_the_payload(
    core: HTTPServer,
    tracker_from: TrackerFrom,
    dispatcher: CollectingDispatcher,
    expect_search: ExpectSearch,
    load_fixture: JsonLoader,
) -> None:
    expect_search("water and wastewater bill").respond_with_json(load_fixture("kb_search_confident.json"))

    events = await run(dispatcher, tracker_from("help_topic"))

    core.check_assertions()
    assert events[0] == SlotSet("kb_outcome", "answered")


async def test_chosen_article_is_answered_from_the_offered_choices_without_a_search(
    core: HTTPServer, tracker_from: TrackerFrom, dispatcher: CollectingDispatcher
) -> None:
    events = await run(dispatcher, tracker_from("choice_picked"))

    assert core.log == []
    # The choices stay, so another button from the same list still works.
    assert events == [SlotSet("kb_outcome", "answered")]
    answer, question = dispatcher.messages
    assert answer["text"].startswith("Ways to pay your property tax\n")
    assert "https://www.northvale.ca/kb/property-tax-payment-options" in answer["text"]
    assert question["text"] == "Did that answer your question?"


async def test_chosen_article_no_longer_offered_is_searched_by_its_slug(
    core: HTTPServer,
    tracker_from: TrackerFrom,
    dispatcher: CollectingDispatcher,
    expect_search: ExpectSearch,
    load_fixture: JsonLoader,
) -> None:
    expect_search("property tax payment options").respond_with_json(load_fixture("kb_search_confident.json"))
    state = load_fixture("tracker_choice_picked.json")

    events = await run(dispatcher, tracker_from("choice_picked", slots={**state["slots"], "kb_choices": None}))

    core.check_assertions()
    assert events[0] == SlotSet("kb_outcome", "answered")


async def test_long_message_is_cut_before_searching(
    core: HTTPServer,
    tracker_from: TrackerFrom,
    dispatcher: CollectingDispatcher,
    expect_search: ExpectSearch,
    load_fixture: JsonLoader,
) -> None:
    long_text = "My green bin was not collected this week and " * 30
    assert len(long_text) > 500
    expect_search(long_text.strip()[:500]).respond_with_json(load_fixture("kb_search_none.json"))
    latest = {**load_fixture("tracker_question.json")["latest_message"], "text": long_text}

    await run(dispatcher, tracker_from("question", latest_message=latest))

    core.check_assertions()


@pytest.mark.parametrize("text", ["", "   ", "/ask_question"])
async def test_nothing_to_search_for_asks_no_one(
    text: str, core: HTTPServer, tracker_from: TrackerFrom, dispatcher: CollectingDispatcher, load_fixture: JsonLoader
) -> None:
    latest = {**load_fixture("tracker_question.json")["latest_message"], "text": text}

    events = await run(dispatcher, tracker_from("question", latest_message=latest))

    assert core.log == []
    assert events[0] == SlotSet("kb_outcome", "no_results")
