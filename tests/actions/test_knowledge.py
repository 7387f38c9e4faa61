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
from actions.knowledge import ActionRecordUnanswered, ActionSearchKnowledgebase

# Explicit, so these run under any asyncio mode (the root pyproject's config does not set one).
pytestmark = pytest.mark.asyncio

SEARCH = "/api/v1/kb/search"
GAPS = "/api/v1/kb/gaps"
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
    assert events == [
        SlotSet("kb_question", QUESTION),
        SlotSet("kb_outcome", "unavailable"),
        SlotSet("kb_choices", None),
    ]
    [message] = dispatcher.messages
    assert "can't reach our knowledgebase" in message["text"]
    assert "311" in message["text"] and "905-555-0100" in message["text"]
    assert message["buttons"] == []
    for leak in ("Traceback", "Error", "Exception", "127.0.0.1", "HTTP"):
        assert leak not in message["text"]


async def test_confident_answer_gives_the_passage_that_answers_then_the_link_and_asks_if_it_helped(
    core: HTTPServer,
    tracker_from: TrackerFrom,
    dispatcher: CollectingDispatcher,
    expect_search: ExpectSearch,
    load_fixture: JsonLoader,
) -> None:
    found = load_fixture("kb_search_confident.json")
    expect_search(QUESTION).respond_with_json(found)

    events = await run(dispatcher, tracker_from("question"))

    core.check_assertions()
    # The question and the article given are kept, for a "no" to become a knowledge gap.
    assert events == [
        SlotSet("kb_question", QUESTION),
        SlotSet("kb_outcome", "answered"),
        SlotSet("kb_article", "garbage-collection-day"),
        SlotSet("kb_choices", None),
    ]
    answer, question = dispatcher.messages
    lines = answer["text"].splitlines()
    # The article, the passage as the core rendered it (its section's heading, then a list, one line per item),
    # and the link on its own line.
    assert lines[0] == "Find your garbage and recycling day"
    assert lines[1:-1] == found["results"][0]["answer"].splitlines()
    assert lines[1] == "Look up your day"
    assert lines[2].startswith("• Online: enter your address at northvale.ca/collectionday")
    assert lines[-1] == "More on northvale.ca: https://www.northvale.ca/kb/garbage-collection-day"
    assert found["results"][0]["summary"] not in answer["text"]  # the passage replaces the opening lines
    # Only the best result is shown when the core is confident.
    assert "holiday-collection-schedule" not in answer["text"] and len(dispatcher.messages) == 2
    assert question["text"] == "Did that answer your question?"
    assert question["buttons"] == [
        {"title": "Yes", "payload": "/affirm"},
        {"title": "No", "payload": "/deny"},
    ]


@pytest.mark.parametrize("passage", [{}, {"answer": None, "section": None}, {"answer": "  ", "section": ""}])
async def test_without_a_passage_the_summary_answers(
    passage: dict[str, Any],
    core: HTTPServer,
    tracker_from: TrackerFrom,
    dispatcher: CollectingDispatcher,
    expect_search: ExpectSearch,
    load_fixture: JsonLoader,
) -> None:
    """A core from before passages (no fields), or an answer from the article's opening (null section)."""
    found = load_fixture("kb_search_confident.json")
    top = {k: v for k, v in found["results"][0].items() if k not in ("answer", "section")}
    found["results"] = [{**top, **passage}]
    expect_search(QUESTION).respond_with_json(found)

    await run(dispatcher, tracker_from("question"))

    answer, _ = dispatcher.messages
    assert answer["text"].splitlines() == [
        "Find your garbage and recycling day",
        top["summary"],
        "More on northvale.ca: https://www.northvale.ca/kb/garbage-collection-day",
    ]


async def test_a_passage_without_its_heading_is_headed_with_the_section(
    core: HTTPServer,
    tracker_from: TrackerFrom,
    dispatcher: CollectingDispatcher,
    expect_search: ExpectSearch,
    load_fixture: JsonLoader,
) -> None:
    """The core's passages open with their heading; one that does not is named after the article's title."""
    found = load_fixture("kb_search_confident.json")
    top = found["results"][0]
    top["answer"] = top["answer"].removeprefix(f"{top['section']}\n")
    expect_search(QUESTION).respond_with_json(found)

    await run(dispatcher, tracker_from("question"))

    lines = dispatcher.messages[0]["text"].splitlines()
    assert lines[0] == "Find your garbage and recycling day: Look up your day"
    assert lines[1].startswith("• Online:") and "Look up your day" not in lines[1:]


@pytest.mark.parametrize("field", ["answer", "section"])
async def test_a_passage_that_is_not_text_is_outside_the_contract(
    field: str,
    core: HTTPServer,
    tracker_from: TrackerFrom,
    dispatcher: CollectingDispatcher,
    expect_search: ExpectSearch,
    load_fixture: JsonLoader,
) -> None:
    found = load_fixture("kb_search_confident.json")
    found["results"][0][field] = ["• a list, not a text"]
    expect_search(QUESTION).respond_with_json(found)

    events = await run(dispatcher, tracker_from("question"))

    assert_unavailable(dispatcher, events)


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
    assert events[:2] == [SlotSet("kb_question", QUESTION), SlotSet("kb_outcome", "choices")]
    assert events[2]["name"] == "kb_choices"
    assert [c["slug"] for c in events[2]["value"]] == slugs
    assert events[2]["value"][1]["summary"] == weak["results"][1]["summary"]


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
    assert events == [
        SlotSet("kb_question", QUESTION),
        SlotSet("kb_outcome", "no_results"),
        SlotSet("kb_choices", None),
    ]
    [message] = dispatcher.messages
    assert "couldn't find an answer" in message["text"]
    assert "agent" in message["text"]
    assert [b["payload"] for b in message["buttons"]] == ["/affirm", "/deny"]


async def test_confident_flag_without_results_counts_as_no_results(
    core: HTTPServer, tracker_from: TrackerFrom, dispatcher: CollectingDispatcher, expect_search: ExpectSearch
) -> None:
    expect_search(QUESTION).respond_with_json({"query": QUESTION, "confident": True, "results": []})

    events = await run(dispatcher, tracker_from("question"))

    assert events[1] == SlotSet("kb_outcome", "no_results")


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
    assert events[1] == SlotSet("kb_outcome", "answered")


async def test_chosen_article_is_answered_from_the_offered_choices_without_a_search(
    core: HTTPServer, tracker_from: TrackerFrom, dispatcher: CollectingDispatcher
) -> None:
    events = await run(dispatcher, tracker_from("choice_picked"))

    assert core.log == []
    # The choices stay, so another button from the same list still works; the question asked before stays too.
    assert events == [SlotSet("kb_outcome", "answered"), SlotSet("kb_article", "property-tax-payment-options")]
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
    assert events[1] == SlotSet("kb_outcome", "answered")


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


# ---- "No, that did not answer my question" ---------------------------------------------------------------


def said_no(tracker_from: TrackerFrom, slots: dict[str, Any]) -> Tracker:
    """The resident pressed "No" under an answer; the slots are what the search left."""
    latest = {"text": "/deny", "intent": {"name": "deny", "confidence": 1.0}, "entities": []}
    return tracker_from("question", latest_message=latest, slots={"kb_outcome": "answered", **slots})


async def test_a_no_records_the_question_asked_and_the_article_given_as_a_knowledge_gap(
    core: HTTPServer,
    tracker_from: TrackerFrom,
    dispatcher: CollectingDispatcher,
    expect_search: ExpectSearch,
    load_fixture: JsonLoader,
    auth_header: dict[str, str],
) -> None:
    # The question goes through the search first: the slots it sets are the ones the "no" reads.
    expect_search(QUESTION).respond_with_json(load_fixture("kb_search_confident.json"))
    searched = await run(CollectingDispatcher(), tracker_from("question"))
    slots = {event["name"]: event["value"] for event in searched}
    gap = {"query": QUESTION, "channel": "chat", "reason": "not_answered", "article": "garbage-collection-day"}
    core.expect_oneshot_request(GAPS, method="POST", json=gap, headers=auth_header).respond_with_json(
        {"status": "recorded"}, status=201
    )

    events = await ActionRecordUnanswered().run(dispatcher, said_no(tracker_from, slots), {})

    core.check_assertions()
    assert events == []
    assert dispatcher.messages == []  # the offer of an agent that follows is the rules' (utter_offer_agent)


async def test_a_no_after_an_article_picked_from_choices_records_the_question_typed_before(
    core: HTTPServer,
    tracker_from: TrackerFrom,
    dispatcher: CollectingDispatcher,
    auth_header: dict[str, str],
    load_fixture: JsonLoader,
) -> None:
    picked = load_fixture("tracker_choice_picked.json")
    question = "question about paying my tax"
    searched = await run(
        CollectingDispatcher(), tracker_from("choice_picked", slots={**picked["slots"], "kb_question": question})
    )
    slots = {**picked["slots"], "kb_question": question, **{e["name"]: e["value"] for e in searched}}
    gap = {"query": question, "channel": "chat", "reason": "not_answered", "article": "property-tax-payment-options"}
    core.expect_oneshot_request(GAPS, method="POST", json=gap, headers=auth_header).respond_with_json(
        {"status": "recorded"}, status=201
    )

    await ActionRecordUnanswered().run(dispatcher, said_no(tracker_from, slots), {})

    core.check_assertions()


async def test_a_no_without_a_question_kept_records_nothing(
    core: HTTPServer, tracker_from: TrackerFrom, dispatcher: CollectingDispatcher
) -> None:
    events = await ActionRecordUnanswered().run(dispatcher, said_no(tracker_from, {"kb_question": None}), {})

    assert events == [] and core.log == []


async def test_a_gap_the_core_cannot_take_does_not_hold_up_the_conversation(
    core_refusing: str,
    tracker_from: TrackerFrom,
    dispatcher: CollectingDispatcher,
    caplog: pytest.LogCaptureFixture,
) -> None:
    slots = {"kb_question": QUESTION, "kb_article": "garbage-collection-day"}

    events = await ActionRecordUnanswered().run(dispatcher, said_no(tracker_from, slots), {})

    assert events == [] and dispatcher.messages == []
    assert "could not record a knowledge gap" in caplog.text
    assert QUESTION not in caplog.text  # the resident's words stay out of the log
