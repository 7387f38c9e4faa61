"""Hand-off, not understanding, and stopping a task."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from rasa_sdk import Tracker
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.handoff import ActionHandoff, ActionNotUnderstood, ActionStopTask

pytestmark = pytest.mark.asyncio

FormTracker = Callable[..., Tracker]


def fallback_turn(text: str) -> dict[str, Any]:
    return {
        "event": "user",
        "timestamp": 1795000995.0,
        "text": text,
        "parse_data": {"intent": {"name": "nlu_fallback", "confidence": 0.31}, "entities": []},
    }


async def test_an_emergency_in_a_report_goes_first_in_the_queue_with_what_was_collected(
    form_tracker: FormTracker, dispatcher: CollectingDispatcher
) -> None:
    tracker = form_tracker(
        "I smell gas now, really strong",
        "emergency_gas_smell",
        slots={"service_code": "road_repair", "location": "125 Maple Crescent", "contact": "905-555-0147"},
        requested_slot="description",
    )

    events = await ActionHandoff().run(dispatcher, tracker, {})

    assert events == [ActiveLoop(None), SlotSet("requested_slot", None), SlotSet("resume_loop", "report_form")]
    [message] = dispatcher.messages
    handoff = message["custom"]["handoff"]
    assert handoff["reason"] == "emergency_gas_smell"
    assert handoff["urgency"] == "emergency"
    assert handoff["slots"] == {
        "service_code": "road_repair",
        "location": "125 Maple Crescent",
        "contact": "905-555-0147",
    }
    assert handoff["summary"].splitlines() == [
        "Reason: emergency gas smell.",
        "Task under way: Reporting a problem.",
        "Service: road_repair",
        "Location: 125 Maple Crescent",
        "Contact: 905-555-0147",
        'Last message: "I smell gas now, really strong"',
    ]
    # Only the marker: the response before it already told the resident what happens.
    assert message["text"] is None


@pytest.mark.parametrize(
    ("intent", "reason", "urgency"),
    [
        ("request_human", "resident_request", "routine"),
        ("express_frustration", "frustration", "routine"),
        ("file_complaint", "complaint", "routine"),
        ("damage_claim", "damage_claim", "routine"),
        ("mental_health_crisis", "mental_health_crisis", "emergency"),
        ("emergency_downed_lines", "emergency_downed_lines", "emergency"),
    ],
)
async def test_the_reason_and_urgency_follow_what_the_resident_said(
    intent: str, reason: str, urgency: str, form_tracker: FormTracker, dispatcher: CollectingDispatcher
) -> None:
    events = await ActionHandoff().run(dispatcher, form_tracker("some words", intent, form=None), {})

    handoff = dispatcher.messages[0]["custom"]["handoff"]
    assert (handoff["reason"], handoff["urgency"]) == (reason, urgency)
    # Nothing under way: no loop to end, nothing to resume.
    assert events == [SlotSet("resume_loop", None)]


async def test_a_button_payload_is_not_quoted_as_the_last_message(
    form_tracker: FormTracker, dispatcher: CollectingDispatcher
) -> None:
    await ActionHandoff().run(dispatcher, form_tracker("/request_human", "request_human", form=None), {})

    assert "Last message" not in dispatcher.messages[0]["custom"]["handoff"]["summary"]


async def test_a_message_not_understood_asks_to_rephrase_and_becomes_a_knowledge_gap(
    core: HTTPServer, auth_header: dict[str, str], form_tracker: FormTracker, dispatcher: CollectingDispatcher
) -> None:
    core.expect_oneshot_request(
        "/api/v1/kb/gaps",
        method="POST",
        headers=auth_header,
        json={"query": "zorp the blingle", "channel": "chat", "reason": "not_understood"},
    ).respond_with_json({"status": "recorded"}, status=201)
    tracker = form_tracker("zorp the blingle", "nlu_fallback", form=None)

    assert await ActionNotUnderstood().run(dispatcher, tracker, {}) == [SlotSet("fallback_outcome", "rephrase")]
    core.check_assertions()


async def test_the_reply_does_not_wait_on_the_knowledge_gap_log(
    core_refusing: str, form_tracker: FormTracker, dispatcher: CollectingDispatcher
) -> None:
    tracker = form_tracker("zorp the blingle", "nlu_fallback", form=None)

    assert await ActionNotUnderstood().run(dispatcher, tracker, {}) == [SlotSet("fallback_outcome", "rephrase")]


async def test_the_second_message_in_a_row_not_understood_hands_off(
    core_refusing: str, form_tracker: FormTracker, dispatcher: CollectingDispatcher
) -> None:
    tracker = form_tracker("flurb again", "nlu_fallback", form=None, history=[fallback_turn("zorp the blingle")])

    assert await ActionNotUnderstood().run(dispatcher, tracker, {}) == [SlotSet("fallback_outcome", "handoff")]


async def test_an_understood_message_in_between_starts_the_count_again(
    core_refusing: str, form_tracker: FormTracker, dispatcher: CollectingDispatcher
) -> None:
    understood = {**fallback_turn("help"), "parse_data": {"intent": {"name": "help", "confidence": 0.9}}}
    history = [fallback_turn("zorp"), understood]
    tracker = form_tracker("flurb", "nlu_fallback", form=None, history=history)

    assert await ActionNotUnderstood().run(dispatcher, tracker, {}) == [SlotSet("fallback_outcome", "rephrase")]


async def test_stopping_a_form_ends_it_and_forgets_its_answers(
    form_tracker: FormTracker, dispatcher: CollectingDispatcher
) -> None:
    tracker = form_tracker("stop", "stop", slots={"location": "125 Maple Crescent"}, requested_slot="description")

    events = await ActionStopTask().run(dispatcher, tracker, {})

    assert events[:2] == [ActiveLoop(None), SlotSet("requested_slot", None)]
    assert SlotSet("location", None) in events and SlotSet("resume_loop", None) in events
    assert "nothing was sent" in dispatcher.messages[0]["text"]


async def test_stopping_with_nothing_under_way_says_so(
    form_tracker: FormTracker, dispatcher: CollectingDispatcher
) -> None:
    events = await ActionStopTask().run(dispatcher, form_tracker("stop", "stop", form=None), {})

    assert events == [SlotSet("resume_loop", None)]
    assert "nothing under way" in dispatcher.messages[0]["text"]
