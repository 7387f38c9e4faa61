"""Answers inside a form that the intent classifier read as something else (issue 15).

"Rita Resident" typed at the booking's name prompt was read as a suspected outbreak: the resident got the
emergency text and an emergency queue entry. The emergency gate now sets such an emergency aside (no emergency
words) and falls back to a routine intent, which the form would still let interrupt: these tests hold that a
free-text answer is the answer, and that a real emergency, a stop or a request for a person still interrupts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.bookings import ValidateBookingForm
from actions.mailed_forms import ValidateMailedFormForm

pytestmark = pytest.mark.asyncio

FormTracker = Callable[..., Tracker]
SET_ASIDE = {"set_aside": "emergency_outbreak", "confidence": 0.52}
BOOKING = {"appointment_type": "flu_covid_vaccine", "appointment_slot": "413"}


def slots_set(events: list[dict[str, Any]]) -> dict[str, Any]:
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


def at_name_prompt(form_tracker: FormTracker, text: str, intent: str, gate: dict[str, Any] | None) -> Tracker:
    tracker = form_tracker(text, intent, slots=BOOKING, form="booking_form", requested_slot="contact_name")
    if gate:
        tracker.latest_message["emergency_gate"] = gate
    return tracker


@pytest.mark.parametrize(
    ("text", "intent", "gate", "name"),
    [
        ("Rita Resident", "report_problem", SET_ASIDE, "Rita Resident"),  # the gate set an outbreak aside
        ("Rita Resident", "report_problem", None, "Rita Resident"),  # written as a name: a name
        ("it is for my mother, Rose Gallant", "misdirected_request", None, None),  # not capitalized as a name
    ],
)
async def test_a_name_read_as_another_intent_is_still_the_answer(
    text: str,
    intent: str,
    gate: dict[str, Any] | None,
    name: str | None,
    form_tracker: FormTracker,
    dispatcher: CollectingDispatcher,
    domain: dict[str, Any],
) -> None:
    events = await ValidateBookingForm().run(dispatcher, at_name_prompt(form_tracker, text, intent, gate), domain)

    if name is None:
        assert events == []  # the form steps aside: Rasa's rules answer the intent
    else:
        assert slots_set(events)["contact_name"] == name
        assert slots_set(events)["requested_slot"] == "contact"
        assert dispatcher.messages == []


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("I smell gas in my kitchen", "emergency_gas_smell"),  # the gate kept it: an emergency
        ("Rita Resident", "emergency_outbreak"),  # were the gate to keep one, it still interrupts
        ("Agent Please", "request_human"),
        ("Stop", "stop"),
    ],
)
async def test_an_emergency_a_stop_or_a_person_asked_for_still_interrupts(
    text: str, intent: str, form_tracker: FormTracker, dispatcher: CollectingDispatcher, domain: dict[str, Any]
) -> None:
    events = await ValidateBookingForm().run(dispatcher, at_name_prompt(form_tracker, text, intent, None), domain)

    assert events == []


async def test_a_set_aside_emergency_at_a_free_text_question_of_another_form_is_its_answer(
    form_tracker: FormTracker, dispatcher: CollectingDispatcher, domain: dict[str, Any]
) -> None:
    tracker = form_tracker(
        "14 Sickle Court, Unit 2",
        "report_problem",
        slots={"form_item": "dog_licence_application", "contact_name": "Rita Resident"},
        form="mailed_form_form",
        requested_slot="mail_street",
    )
    tracker.latest_message["emergency_gate"] = SET_ASIDE

    events = await ValidateMailedFormForm().run(dispatcher, tracker, domain)

    assert slots_set(events)["mail_street"] == "14 Sickle Court, Unit 2"


@pytest.mark.parametrize(
    ("said", "name"),
    [
        ("it is for my mother, Rose Gallant", "Rose Gallant"),
        ("this is for Sam Ng", "Sam Ng"),
        ("my name is Dana Whitfield", "Dana Whitfield"),
    ],
)
async def test_a_name_given_with_context_is_taken(
    said: str, name: str, form_tracker: FormTracker, dispatcher: CollectingDispatcher, domain: dict[str, Any]
) -> None:
    tracker = form_tracker(
        said, slots=BOOKING, form="booking_form", candidates={"contact_name": said}, requested_slot="contact_name"
    )

    events = await ValidateBookingForm().run(dispatcher, tracker, domain)

    assert slots_set(events)["contact_name"] == name


async def test_what_is_not_a_name_is_refused_with_a_clear_message(
    form_tracker: FormTracker, dispatcher: CollectingDispatcher, domain: dict[str, Any]
) -> None:
    said = "it's for my son"
    tracker = form_tracker(
        said, slots=BOOKING, form="booking_form", candidates={"contact_name": said}, requested_slot="contact_name"
    )

    events = await ValidateBookingForm().run(dispatcher, tracker, domain)

    assert slots_set(events)["contact_name"] is None
    assert dispatcher.messages[0]["text"].startswith("Sorry, I couldn't find a name in that.")
