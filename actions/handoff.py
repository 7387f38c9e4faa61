"""Handing a conversation to a person, not understanding, and stopping a task.

The core's chat gateway moves a conversation to the agent queue when a bot message carries
``{"handoff": {...}}``. The hand-off responses in the domain carry a bare marker (so a hand-off works
even with this server down); ``action_handoff`` then sends the full one: why, how urgent, a summary
an agent can read in five seconds, and the details collected so far, so the resident never repeats
themselves. It also sets the task under way aside (``resume_loop``) so ``/handback`` resumes it.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.clients.core import CoreAPIError, CoreClient

logger = logging.getLogger(__name__)

# Why the conversation goes to a person, from the intent that led there: (reason, urgency).
REASONS: dict[str, tuple[str, str]] = {
    "request_human": ("resident_request", "routine"),
    "affirm": ("resident_request", "routine"),
    "express_frustration": ("frustration", "routine"),
    "file_complaint": ("complaint", "routine"),
    "damage_claim": ("damage_claim", "routine"),
    "nlu_fallback": ("not_understood", "routine"),
    "mental_health_crisis": ("mental_health_crisis", "emergency"),
}
EMERGENCY_PREFIX = "emergency_"

TASKS = {
    "report_form": "Reporting a problem",
    "status_form": "Checking on a service request",
    "booking_form": "Booking an appointment",
    "cancel_booking_form": "Cancelling an appointment",
    "reschedule_form": "Rescheduling an appointment",
    "rsvp_form": "RSVP to an event",
    "mailed_form_form": "Requesting a form by mail",
}
# What an agent needs from the conversation, in the order it is summarized.
SUMMARY_SLOTS = {
    "service_code": "Service",
    "attribute_answers": "Answers",
    "location": "Location",
    "municipality": "Municipality",
    "description": "Description",
    "reference": "Request reference",
    "appointment_type": "Appointment type",
    "appointment_wish": "Preferred day or time",
    "appointment_slot": "Chosen time (slot id)",
    "booking_reference": "Booking reference",
    "event": "Event",
    "party_size": "People",
    "form_item": "Form",
    "contact_name": "Name",
    "contact": "Contact",
    "mail_street": "Mailing street",
    "mail_city": "Mailing city",
    "postal_code": "Postal code",
}
# Slots of every task: cleared when a task ends or is stopped.
TASK_SLOTS = (
    *SUMMARY_SLOTS,
    "pending_attributes",
    "attribute_labels",
    "service_details",
    "service_inferred",
    "report_urgency",
    "confirm_report",
    "offered_slots",
    "failed_attempts",
)
LAST_MESSAGE_CHARS = 300
STOPPED = "OK, I've stopped, and nothing was sent. What else can I help you with?"


def reason_for(tracker: Tracker) -> tuple[str, str]:
    intent = (tracker.latest_message.get("intent") or {}).get("name") or ""
    if intent.startswith(EMERGENCY_PREFIX):
        return intent, "emergency"
    return REASONS.get(intent, ("resident_request", "routine"))


def collected(tracker: Tracker) -> dict[str, Any]:
    """The task details collected so far (empty values left out)."""
    return {name: tracker.get_slot(name) for name in SUMMARY_SLOTS if tracker.get_slot(name) not in (None, "", [], {})}


def summary(tracker: Tracker, reason: str) -> str:
    lines = [f"Reason: {reason.replace('_', ' ')}."]
    task = tracker.active_loop_name or tracker.get_slot("resume_loop")
    if task in TASKS:
        lines.append(f"Task under way: {TASKS[task]}.")
    for name, value in collected(tracker).items():
        if isinstance(value, dict):
            value = ", ".join(f"{k}: {v}" for k, v in value.items())
        lines.append(f"{SUMMARY_SLOTS[name]}: {value}")
    text = (tracker.latest_message.get("text") or "").strip()
    if text and not text.startswith("/"):
        lines.append(f'Last message: "{text[:LAST_MESSAGE_CHARS]}"')
    return "\n".join(lines)


def hand_off(
    dispatcher: CollectingDispatcher, tracker: Tracker, reason: str | None = None, urgency: str | None = None
) -> list[EventType]:
    """Send the full hand-off marker and set the task under way aside for /handback."""
    default_reason, default_urgency = reason_for(tracker)
    reason, urgency = reason or default_reason, urgency or default_urgency
    dispatcher.utter_message(
        json_message={
            "handoff": {
                "reason": reason,
                "urgency": urgency,
                "summary": summary(tracker, reason),
                "slots": collected(tracker),
            }
        }
    )
    task = tracker.active_loop_name
    events: list[EventType] = [SlotSet("resume_loop", task if task in TASKS else None)]
    if task:
        # The form must not ask its next question while the resident waits for an agent.
        events = [ActiveLoop(None), SlotSet("requested_slot", None), *events]
    return events


class ActionHandoff(Action):
    def name(self) -> str:
        return "action_handoff"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        return hand_off(dispatcher, tracker)


def fallbacks_in_a_row(tracker: Tracker) -> int:
    """How many of the resident's latest messages, counting back from this one, were not understood."""
    count = 0
    for event in reversed(tracker.events):
        if event.get("event") != "user":
            continue
        intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
        if intent != "nlu_fallback":
            break
        count += 1
    return count


class ActionNotUnderstood(Action):
    """Decide between asking to rephrase and, the second time in a row, passing to a person.

    The rules say what follows each outcome (utter_default; utter_handoff_not_understood and
    action_handoff), so the responses stay in the domain and the dialogue stays in the rules.
    """

    def name(self) -> str:
        return "action_not_understood"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        outcome = "handoff" if fallbacks_in_a_row(tracker) >= 2 else "rephrase"
        text = (tracker.latest_message or {}).get("text") or ""
        if text and not text.startswith("/"):  # a button's payload is not something a resident asked
            try:
                await CoreClient.from_env().report_gap(text)
            except CoreAPIError as error:  # the reply must not wait on the knowledge-gap log
                logger.warning("could not record a knowledge gap: %s", error)
        return [SlotSet("fallback_outcome", outcome)]


class ActionStopTask(Action):
    def name(self) -> str:
        return "action_stop_task"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        if not tracker.active_loop_name:
            dispatcher.utter_message(text="There's nothing under way to stop. What can I help you with?")
            return [SlotSet("resume_loop", None)]
        dispatcher.utter_message(text=STOPPED)
        return [ActiveLoop(None), SlotSet("requested_slot", None), *clear_task(), SlotSet("resume_loop", None)]


def clear_task() -> list[EventType]:
    return [SlotSet(name, None) for name in TASK_SLOTS]
