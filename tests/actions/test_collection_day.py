"""The collection day by address: the form's address check and action_collection_day against a local stand-in
for the core's GET /api/v1/collection-day (fixtures generated from the core's own answer, checked by the
contract test in tests/app/contract)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.collection_day import ActionCollectionDay, AskCollectionAddress, ValidateCollectionForm

pytestmark = pytest.mark.asyncio

FormTracker = Callable[..., Tracker]
JsonLoader = Callable[[str], Any]
LOOKUP = "/api/v1/collection-day"
QUESTION = "when is garbage day on 45 Oak Avenue in Pinecrest?"


def slots_set(events: list[dict[str, Any]]) -> dict[str, Any]:
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


# ------------------------------------------------------------------------------------------------------ the form


async def test_a_question_with_an_address_fills_the_form_at_once(
    form_tracker: FormTracker, domain: dict[str, Any]
) -> None:
    tracker = form_tracker(
        QUESTION, intent="ask_collection_day", form="collection_form", candidates={"collection_address": QUESTION}
    )
    dispatcher = CollectingDispatcher()

    events = await ValidateCollectionForm().run(dispatcher, tracker, domain)

    assert slots_set(events) == {"collection_address": QUESTION, "requested_slot": None}
    assert dispatcher.messages == []


async def test_a_question_without_an_address_asks_for_it(form_tracker: FormTracker, domain: dict[str, Any]) -> None:
    text = "when is bin day?"
    tracker = form_tracker(
        text, intent="ask_collection_day", form="collection_form", candidates={"collection_address": text}
    )
    dispatcher = CollectingDispatcher()

    events = await ValidateCollectionForm().run(dispatcher, tracker, domain)

    # No complaint on the first turn: the form's question comes next.
    assert slots_set(events) == {"collection_address": None, "requested_slot": "collection_address"}
    assert dispatcher.messages == []
    ask = CollectingDispatcher()
    await AskCollectionAddress().run(ask, tracker, domain)
    assert "street address" in ask.messages[0]["text"] and "45 Oak Avenue, Pinecrest" in ask.messages[0]["text"]


async def test_an_answer_without_a_house_number_is_asked_again(
    form_tracker: FormTracker, domain: dict[str, Any]
) -> None:
    tracker = form_tracker(
        "Oak Avenue",
        form="collection_form",
        requested_slot="collection_address",
        candidates={"collection_address": "Oak Avenue"},
    )
    dispatcher = CollectingDispatcher()

    events = await ValidateCollectionForm().run(dispatcher, tracker, domain)

    assert slots_set(events)["collection_address"] is None
    assert slots_set(events)["failed_attempts"] == 1
    [message] = dispatcher.messages
    assert message["text"].startswith("Please type the house number and street")


async def test_an_address_typed_at_the_question_is_kept(form_tracker: FormTracker, domain: dict[str, Any]) -> None:
    tracker = form_tracker(
        "12 Birch Cres, Harlow Falls",
        form="collection_form",
        requested_slot="collection_address",
        candidates={"collection_address": "12 Birch Cres, Harlow Falls"},
    )

    events = await ValidateCollectionForm().run(CollectingDispatcher(), tracker, domain)

    assert slots_set(events)["collection_address"] == "12 Birch Cres, Harlow Falls"


# ------------------------------------------------------------------------------------------------------ the answer


async def test_the_core_answer_is_shown_with_the_day_and_the_week(
    core: HTTPServer,
    form_tracker: FormTracker,
    dispatcher: CollectingDispatcher,
    load_fixture: JsonLoader,
    auth_header: dict[str, str],
) -> None:
    found = load_fixture("collection_day_found.json")
    core.expect_oneshot_request(
        LOOKUP, method="GET", query_string={"address": QUESTION}, headers=auth_header
    ).respond_with_json(found)

    events = await ActionCollectionDay().run(
        dispatcher, form_tracker(QUESTION, slots={"collection_address": QUESTION}, form=None), {}
    )

    core.check_assertions()
    assert events == [SlotSet("collection_address", None)]
    [message] = dispatcher.messages
    assert message["text"] == found["message"]
    assert message["text"].startswith("45 Oak Avenue, Pinecrest: your collection day is Tuesday.")
    assert message["buttons"] == []


async def test_a_street_in_two_towns_offers_a_button_for_each(
    core: HTTPServer, form_tracker: FormTracker, dispatcher: CollectingDispatcher, load_fixture: JsonLoader
) -> None:
    core.expect_oneshot_request(LOOKUP, method="GET").respond_with_json(load_fixture("collection_day_ambiguous.json"))

    await ActionCollectionDay().run(
        dispatcher, form_tracker("45 Oak Avenue", slots={"collection_address": "45 Oak Avenue"}, form=None), {}
    )

    [message] = dispatcher.messages
    assert message["text"] == "Oak Avenue is in both Elm Ridge and Pinecrest: which one do you live in?"
    assert [b["title"] for b in message["buttons"]] == ["Elm Ridge", "Pinecrest"]
    payload = message["buttons"][1]["payload"]
    assert payload.startswith("/ask_collection_day{")
    assert json.loads(payload.removeprefix("/ask_collection_day")) == {"collection_address": "45 Oak Avenue, Pinecrest"}


async def test_an_address_the_table_lacks_gets_the_core_words(
    core: HTTPServer, form_tracker: FormTracker, dispatcher: CollectingDispatcher, load_fixture: JsonLoader
) -> None:
    message = (
        "I couldn't find 45 Oak Street in Pinecrest in the collection calendar. Did you mean Oak Avenue? You can "
        "also look up your address at https://www.northvale.ca/waste/collection-day or call Service First at 311 "
        "(905-555-0100)."
    )
    body = {**load_fixture("collection_day_ambiguous.json"), "status": "not_found", "message": message, "choices": []}
    core.expect_oneshot_request(LOOKUP, method="GET").respond_with_json(body)

    await ActionCollectionDay().run(
        dispatcher, form_tracker("", slots={"collection_address": "45 Oak Street, Pinecrest"}, form=None), {}
    )

    [shown] = dispatcher.messages
    assert shown["text"] == message and shown["buttons"] == []


@pytest.mark.parametrize("answer", [{"detail": "boom"}, "not an object"])
async def test_a_core_failure_points_to_the_lookup_page_and_311(
    core: HTTPServer, form_tracker: FormTracker, dispatcher: CollectingDispatcher, answer: Any
) -> None:
    status = 500 if isinstance(answer, dict) else 200
    core.expect_oneshot_request(LOOKUP, method="GET").respond_with_json(answer, status=status)

    events = await ActionCollectionDay().run(
        dispatcher, form_tracker("", slots={"collection_address": QUESTION}, form=None), {}
    )

    assert events == [SlotSet("collection_address", None)]
    [message] = dispatcher.messages
    assert "can't reach the collection calendar" in message["text"]
    assert "northvale.ca/waste/collection-day" in message["text"] and "311" in message["text"]
    for leak in ("Traceback", "HTTP", "127.0.0.1"):
        assert leak not in message["text"]


async def test_an_unreachable_core_is_said_plainly(
    core_refusing: str, form_tracker: FormTracker, dispatcher: CollectingDispatcher
) -> None:
    await ActionCollectionDay().run(dispatcher, form_tracker("", slots={"collection_address": QUESTION}, form=None), {})

    [message] = dispatcher.messages
    assert "can't reach the collection calendar" in message["text"]
