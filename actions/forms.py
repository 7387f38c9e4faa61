"""What every task form shares: interruptions, contact details, and two failed answers in a row.

Each form's validation action subclasses ``TaskFormValidation``. Rasa fills a form's slots from the
resident's messages (mappings in the domain); the ``validate_<slot>`` methods here decide whether a
value can be used, normalize it, and explain what is wrong when it cannot. A value that cannot be
used twice in a row for the same question passes the conversation to an agent with what was
collected, like two messages not understood outside a form (``action_not_understood``).
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction
from rasa_sdk.types import DomainDict

from actions import parsing
from actions.handoff import hand_off

FAILED_ATTEMPTS_SLOT = "failed_attempts"
MAX_FAILED_ATTEMPTS = 2
# What a validate_<slot> method returns with the slot's None when the answer could not be used (not when
# a slot is merely cleared, e.g. for a change): run() turns it into the count of failures in a row.
REJECTED = "rejected"


def rejected(slot: str) -> dict[str, Any]:
    """The answer to `slot` could not be used: ask again, and count it."""
    return {slot: None, FAILED_ATTEMPTS_SLOT: REJECTED}


def _is_rejection(event: dict[str, Any]) -> bool:
    return event.get("event") == "slot" and event.get("name") == FAILED_ATTEMPTS_SLOT and event.get("value") == REJECTED


CONTACT_HELP = "That doesn't look like an email address or a phone number. Please type one, like 905-555-0100."
NAME_HELP = (
    "Sorry, I couldn't find a name in that. Please type the person's first and last name, using letters only, "
    "for example Dana Whitfield."
)
# The parse key the emergency gate (bot/components/emergency_gate.py) sets when it read an emergency intent
# without any emergency content and set it aside.
GATE_KEY = "emergency_gate"
# Intents that interrupt a form whatever the message also holds: a person asked for, a stop, an emergency
# that kept its cue. Any other intent the form ignores yields to an answer the current question can use.
ALWAYS_INTERRUPT = frozenset(
    {
        "request_human",
        "stop",
        "express_frustration",
        "file_complaint",
        "damage_claim",
        "handback",
        "mental_health_crisis",
    }
)


def latest_intent(tracker: Tracker) -> str:
    return str((tracker.latest_message.get("intent") or {}).get("name") or "")


def latest_text(tracker: Tracker) -> str:
    return str(tracker.latest_message.get("text") or "")


def entity(tracker: Tracker, name: str) -> str | None:
    value = next(tracker.get_latest_entity_values(name), None)
    return str(value).strip() if value not in (None, "") else None


class TaskFormValidation(FormValidationAction):
    """Base for the forms' validation actions."""

    @abstractmethod
    def name(self) -> str:
        """validate_<form name>."""

    def is_interruption(self, tracker: Tracker, domain: DomainDict) -> bool:
        """The message is one the form ignores (an emergency, a question, "agent") and no answer to the question."""
        ignored = (domain.get("forms", {}).get(self.form_name(), {}) or {}).get("ignored_intents", [])
        return latest_intent(tracker) in ignored and not self.answer_despite_intent(tracker, domain)

    def answer_despite_intent(self, tracker: Tracker, domain: DomainDict) -> dict[str, Any]:
        """What the message answers when its intent is one the form would let interrupt, else {}.

        "Rita Resident" at the name prompt was read as an outbreak: the gate set the emergency aside (no
        emergency words), and the routine intent it fell back to must not start another task either. At a
        question answered in free text, such a message is the answer. An emergency that kept its cue, a stop
        or a request for a person always interrupts.
        """
        intent = latest_intent(tracker)
        requested = tracker.get_slot("requested_slot")
        if not requested or intent.startswith("emergency_") or intent in ALWAYS_INTERRUPT:
            return {}
        text = parsing.clean(latest_text(tracker))
        if not text or parsing.is_payload(text):
            return {}
        if tracker.latest_message.get(GATE_KEY) and self.takes_free_text(requested, domain):
            return {requested: text}
        return self.read_answer(requested, text, tracker)

    def read_answer(self, slot: str, text: str, tracker: Tracker) -> dict[str, Any]:
        """A form's own reading of `text` as the answer to `slot` whatever its intent ({}: none).

        At the name question, a short text written as a name ("Rita Resident": every word capitalized) is one.
        """
        words = text.split()
        if slot == "contact_name" and len(words) <= 4 and all(w[:1].isupper() for w in words):
            name = parsing.person_name(text)
            return {slot: name} if name else {}
        return {}

    def takes_free_text(self, slot: str, domain: DomainDict) -> bool:
        """The slot is filled from the whole message when it is the question asked (a from_text mapping)."""
        mappings = ((domain.get("slots") or {}).get(slot) or {}).get("mappings") or []
        for mapping in mappings:
            if mapping.get("type") != "from_text":
                continue
            conditions = mapping.get("conditions") or []
            if not conditions or any(
                c.get("active_loop") == self.form_name() and c.get("requested_slot") in (None, slot) for c in conditions
            ):
                return True
        return False

    async def get_extraction_events(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """Rasa extracts nothing for an intent the form ignores; an answer read despite that intent is added here."""
        events = await super().get_extraction_events(dispatcher, tracker, domain)
        ignored = (domain.get("forms", {}).get(self.form_name(), {}) or {}).get("ignored_intents", [])
        if latest_intent(tracker) in ignored:
            answer = self.answer_despite_intent(tracker, domain)
            events += [SlotSet(slot, value) for slot, value in answer.items()]
        return events

    def first_turn(self, tracker: Tracker, domain: DomainDict) -> bool:
        """The form was started by this message (no question of this form has been asked yet)."""
        requested = tracker.get_slot("requested_slot")
        return requested is None or requested not in self.domain_slots(domain)

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        if self.is_interruption(tracker, domain):
            return []
        failed_before = int(tracker.get_slot(FAILED_ATTEMPTS_SLOT) or 0)
        events = await super().run(dispatcher, tracker, domain)
        rejected = any(_is_rejection(e) for e in events)
        events = [e for e in events if not (e.get("event") == "slot" and e.get("name") == FAILED_ATTEMPTS_SLOT)]
        if self.first_turn(tracker, domain):
            return events
        if not rejected:
            return [*events, SlotSet(FAILED_ATTEMPTS_SLOT, 0)]
        failed = failed_before + 1
        if failed < MAX_FAILED_ATTEMPTS:
            return [*events, SlotSet(FAILED_ATTEMPTS_SLOT, failed)]
        # Two answers in a row could not be used: a person takes over, with everything collected so far;
        # /handback resumes the form at this question.
        dispatcher.messages.clear()
        dispatcher.utter_message(response="utter_handoff_not_understood")
        return [*events, SlotSet(FAILED_ATTEMPTS_SLOT, 0), *hand_off(dispatcher, tracker, "not_understood", "routine")]

    async def next_requested_slot(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> EventType | None:
        """Always name the next question (the SDK leaves it to Rasa when the list is the domain's)."""
        required = await self.required_slots(self.domain_slots(domain), dispatcher, tracker, domain)
        missing = next((slot for slot in required if tracker.slots.get(slot) is None), None)
        return SlotSet("requested_slot", missing)

    # Shared slot validations.

    def validate_contact_name(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        name = parsing.person_name(str(value or ""))
        if name is None:
            dispatcher.utter_message(text=NAME_HELP)
            return rejected("contact_name")
        return {"contact_name": name}

    def validate_contact(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """An email or a phone number, normalized; required unless the form allows "none"."""
        if value == "none" and self.contact_optional:
            return {"contact": "none"}
        email, phone = parsing.contact(str(value or ""))
        if email or phone:
            return {"contact": email or phone}
        dispatcher.utter_message(text=CONTACT_HELP)
        return rejected("contact")

    contact_optional = False


def contact_fields(contact: str | None, name: str | None = None) -> dict[str, Any]:
    """The core's contact object from the contact slot ("none" or empty: no contact)."""
    if not contact or contact == "none":
        return {}
    if "@" in contact:
        return {"name": name, "email": contact, "phone": None, "consent": True}
    return {"name": name, "email": None, "phone": contact, "consent": True}
