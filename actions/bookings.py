"""Public health appointments (book, cancel, reschedule) and RSVPs to public events.

Open times and events come from the core API and are offered as buttons whose payloads carry an id,
so a resident can also type "the second one". A booking is changed only with the email or phone it
was made with; the core checks that, and answers an unknown reference and a wrong contact alike.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import parsing
from actions.clients.core import (
    AppointmentType,
    Booking,
    CoreAPIError,
    CoreClient,
    NotFound,
    PublicEvent,
    Refused,
)
from actions.clients.core import Contact as CoreContact
from actions.forms import TaskFormValidation, entity, rejected
from actions.handoff import clear_task

logger = logging.getLogger(__name__)

SLOTS_OFFERED = 6
EVENTS_LISTED = 6
MAX_PARTY = 10
# Where each area municipality's residents are seen (appointment location codes).
CLINIC_FOR = {
    "City of Northvale": "northvale_hq",
    "City of Harlow Falls": "harlow_falls_office",
    "Town of Pinecrest": "pinecrest_community_centre",
    "Town of Port Sable": "port_sable_clinic",
    "Township of Elm Ridge": "elm_ridge_office",
}
BOOKINGS_DOWN = (
    "Sorry, I can't reach our booking system right now. Please try again in a few minutes, or call Northvale "
    "Public Health at 905-555-0123, Monday to Friday, 8:30 a.m. to 4:30 p.m."
)
EVENTS_DOWN = (
    "Sorry, I can't reach our events calendar right now. Please try again in a few minutes, or see "
    "https://www.northvale.ca/events."
)
NOT_FOUND = (
    "I couldn't find a booking with that reference for that email address or phone number. Please check both "
    'in your confirmation, or type "agent" and a Service First agent will help.'
)


def match_type(said: str | None, types: list[AppointmentType]) -> list[AppointmentType]:
    """Appointment types meant by a code (button, synonym) or words of their name ("dental")."""
    text = parsing.clean(said).lower()
    if not text or parsing.is_payload(text):
        return []
    exact = [t for t in types if text in (t.code, t.name.lower())]
    if exact:
        return exact
    words = [w for w in text.replace("-", " ").split() if len(w) > 2]
    return [t for t in types if words and all(w in f"{t.name} {t.code}".lower().replace("_", " ") for w in words)]


def type_buttons(types: list[AppointmentType]) -> list[dict[str, str]]:
    return [{"title": t.name, "payload": f'/inform{{"appointment_type": "{t.code}"}}'} for t in types]


def slot_title(slot: dict[str, Any]) -> str:
    return f"{parsing.say_time(slot['starts_at'])}, {slot['location_name']}"


class AppointmentValidation(TaskFormValidation):
    """Choosing a kind of appointment and one of the open times offered."""

    async def required_slots(
        self, domain_slots: list[str], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[str]:
        # municipality is in the domain's list only so a "Harlow Falls" in any answer narrows the clinics
        # offered; it is never asked for.
        return [slot for slot in domain_slots if slot != "municipality"]

    async def validate_appointment_type(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        try:
            types = await CoreClient.from_env().appointment_types()
        except CoreAPIError as exc:
            logger.warning("appointment types unavailable: %s", exc)
            dispatcher.utter_message(text=BOOKINGS_DOWN)
            return {"appointment_type": None}
        found = match_type(str(value or ""), types)
        if len(found) == 1:
            return {"appointment_type": found[0].code, "appointment_slot": None, "offered_slots": None}
        if self.first_turn(tracker, domain) and not found:
            return {"appointment_type": None}
        dispatcher.utter_message(text="Which kind of appointment do you mean?", buttons=type_buttons(found or types))
        return {"appointment_type": None} if found else rejected("appointment_type")

    def validate_appointment_slot(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        offered = tracker.get_slot("offered_slots") or []
        chosen = entity(tracker, "slot_id") or ""
        ids = [str(slot["id"]) for slot in offered]
        if chosen not in ids:
            index = parsing.choice_index(str(value or ""), len(offered))
            chosen = ids[index] if index is not None else ""
        if not chosen:
            dispatcher.utter_message(text="Please choose one of the times offered, using the buttons.")
            return rejected("appointment_slot")
        return {"appointment_slot": chosen}


class ValidateBookingForm(AppointmentValidation):
    def name(self) -> str:
        return "validate_booking_form"


class ValidateRescheduleForm(AppointmentValidation):
    def name(self) -> str:
        return "validate_reschedule_form"

    def validate_booking_reference(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return _booking_reference(value, dispatcher, self.first_turn(tracker, domain))


class ValidateCancelBookingForm(TaskFormValidation):
    def name(self) -> str:
        return "validate_cancel_booking_form"

    def validate_booking_reference(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        return _booking_reference(value, dispatcher, self.first_turn(tracker, domain))


def _booking_reference(value: Any, dispatcher: CollectingDispatcher, first_turn: bool) -> dict[str, Any]:
    reference = parsing.booking_reference(str(value or ""))
    if reference is None and not first_turn:
        dispatcher.utter_message(
            text="A booking reference starts with AP and has six letters and digits, like AP-7K3QX9."
        )
        return rejected("booking_reference")
    return {"booking_reference": reference}


class ActionAskAppointmentType(Action):
    def name(self) -> str:
        return "action_ask_appointment_type"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        try:
            types = await CoreClient.from_env().appointment_types()
        except CoreAPIError as exc:
            logger.warning("appointment types unavailable: %s", exc)
            dispatcher.utter_message(text=BOOKINGS_DOWN)
            return []
        dispatcher.utter_message(text="What kind of appointment is it for?", buttons=type_buttons(types))
        return []


class ActionAskAppointmentSlot(Action):
    """Offer the soonest open times, near the resident when their municipality is known."""

    def name(self) -> str:
        return "action_ask_appointment_slot"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        client = CoreClient.from_env()
        kind = tracker.get_slot("appointment_type")
        clinic = CLINIC_FOR.get(tracker.get_slot("municipality") or "")
        try:
            slots = await client.open_slots(kind, location=clinic, limit=SLOTS_OFFERED) if clinic else []
            if not slots:
                slots = await client.open_slots(kind, limit=SLOTS_OFFERED)
        except CoreAPIError as exc:
            logger.warning("open times unavailable: %s", exc)
            dispatcher.utter_message(text=BOOKINGS_DOWN)
            return [ActiveLoop(None), SlotSet("requested_slot", None)]
        if not slots:
            dispatcher.utter_message(
                text=(
                    "Sorry, there are no open times for that appointment in the coming weeks. New times open "
                    "every week; please check again soon or call Northvale Public Health at 905-555-0123."
                )
            )
            # Nothing to choose from: the form ends here and nothing is booked.
            return [ActiveLoop(None), SlotSet("requested_slot", None)]
        offered = [
            {"id": s.id, "starts_at": s.starts_at, "location_name": s.location_name, "type": s.type} for s in slots
        ]
        dispatcher.utter_message(
            text="These are the soonest open times. Which one works for you?",
            buttons=[{"title": slot_title(s), "payload": f'/inform{{"slot_id": "{s["id"]}"}}'} for s in offered],
        )
        return [SlotSet("offered_slots", offered)]


def _contact(tracker: Tracker) -> CoreContact:
    value = tracker.get_slot("contact") or ""
    name = tracker.get_slot("contact_name")
    return CoreContact(name=name, email=value if "@" in value else None, phone=None if "@" in value else value)


class ActionBookAppointment(Action):
    def name(self) -> str:
        return "action_book_appointment"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        slot_id = tracker.get_slot("appointment_slot")
        if not slot_id or not tracker.get_slot("contact"):
            return []  # the form ended without a time chosen (none open, or handed to an agent)
        done = [*clear_task(), SlotSet("resume_loop", None)]
        try:
            booking = await CoreClient.from_env().book(int(slot_id), _contact(tracker))
        except Refused as refusal:
            dispatcher.utter_message(
                text=f"Sorry, I couldn't book that: {refusal}. You can start again to pick another time."
            )
            return done
        except CoreAPIError as exc:
            logger.warning("booking failed: %s", exc)
            dispatcher.utter_message(text=BOOKINGS_DOWN)
            return done
        dispatcher.utter_message(
            text=(
                f"You're booked: {booking.type_name}, {parsing.say_time(booking.starts_at)}, at "
                f"{booking.location_name}, {booking.address}. Your booking reference is {booking.reference}; "
                "keep it to cancel or change the appointment."
            )
        )
        return done


async def _change_booking(
    dispatcher: CollectingDispatcher,
    change: Callable[[CoreClient], Awaitable[Booking]],
    *,
    verb: str,
    action: str,
) -> Booking | None:
    """Cancel or move a booking; when the core cannot, tell the resident why and return None."""
    try:
        return await change(CoreClient.from_env())
    except NotFound:
        dispatcher.utter_message(text=NOT_FOUND)
    except Refused as refusal:
        dispatcher.utter_message(text=f"I couldn't {verb} it: {refusal}.")
    except CoreAPIError as exc:
        logger.warning("%s failed: %s", action, exc)
        dispatcher.utter_message(text=BOOKINGS_DOWN)
    return None


class ActionCancelAppointment(Action):
    def name(self) -> str:
        return "action_cancel_appointment"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        reference, contact = tracker.get_slot("booking_reference"), tracker.get_slot("contact")
        if not reference or not contact:
            return []
        done = [*clear_task(), SlotSet("resume_loop", None)]
        booking = await _change_booking(
            dispatcher, lambda core: core.cancel_booking(reference, contact), verb="cancel", action="cancelling"
        )
        if booking is None:
            return done
        dispatcher.utter_message(
            text=(
                f"Your {booking.type_name} appointment on {parsing.say_time(booking.starts_at)} "
                f"({booking.reference}) is cancelled, and the time is offered to others."
            )
        )
        return done


class ActionRescheduleAppointment(Action):
    def name(self) -> str:
        return "action_reschedule_appointment"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        reference, contact = tracker.get_slot("booking_reference"), tracker.get_slot("contact")
        slot_id = tracker.get_slot("appointment_slot")
        if not reference or not contact or not slot_id:
            return []
        done = [*clear_task(), SlotSet("resume_loop", None)]
        booking = await _change_booking(
            dispatcher,
            lambda core: core.reschedule_booking(reference, int(slot_id), contact),
            verb="move",
            action="rescheduling",
        )
        if booking is None:
            return done
        dispatcher.utter_message(
            text=(
                f"Done. Your {booking.type_name} appointment ({booking.reference}) is now "
                f"{parsing.say_time(booking.starts_at)} at {booking.location_name}, {booking.address}."
            )
        )
        return done


# -------------------------------------------------------------------------------------------- events


def match_events(said: str | None, events: list[PublicEvent]) -> list[PublicEvent]:
    """Events meant by a code (button), a topic (synonym: the start of codes) or words of the title."""
    text = parsing.clean(said).lower()
    if not text or parsing.is_payload(text):
        return []
    exact = [e for e in events if e.code == text]
    if exact:
        return exact
    by_topic = [e for e in events if e.code.startswith(text.replace(" ", "_"))]
    if by_topic:
        return by_topic
    words = [w for w in text.split() if len(w) > 3]
    return [e for e in events if words and all(w in e.title.lower() for w in words)]


def event_buttons(events: list[PublicEvent]) -> list[dict[str, str]]:
    return [
        {"title": f"{e.title}, {parsing.say_day(e.starts_at)}", "payload": f'/rsvp_event{{"event": "{e.code}"}}'}
        for e in events
    ]


class ValidateRsvpForm(TaskFormValidation):
    def name(self) -> str:
        return "validate_rsvp_form"

    async def validate_event(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        try:
            events = await CoreClient.from_env().events()
        except CoreAPIError as exc:
            logger.warning("events unavailable: %s", exc)
            dispatcher.utter_message(text=EVENTS_DOWN)
            return {"event": None}
        found = match_events(str(value or ""), events)
        if len(found) == 1:
            if found[0].seats_left < 1 and not found[0].online_option:
                dispatcher.utter_message(text=f"Sorry, {found[0].title} is full.")
                return {"event": None}
            return {"event": found[0].code}
        if found:
            dispatcher.utter_message(text="Which one?", buttons=event_buttons(found))
        elif not self.first_turn(tracker, domain):
            dispatcher.utter_message(
                text="I couldn't find that event. Please choose one below.",
                buttons=event_buttons(events[:EVENTS_LISTED]),
            )
            return rejected("event")
        return {"event": None}

    def validate_party_size(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        size = parsing.count(entity(tracker, "number") or str(value or ""), most=MAX_PARTY)
        if size is None:
            dispatcher.utter_message(text=f"Please give a number of people from 1 to {MAX_PARTY}.")
            return rejected("party_size")
        return {"party_size": str(size)}


class ActionAskEvent(Action):
    def name(self) -> str:
        return "action_ask_event"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        return await _list_events(dispatcher, "Which event would you like to attend?")


class ActionListEvents(Action):
    def name(self) -> str:
        return "action_list_events"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        return await _list_events(dispatcher, "These public events are coming up. Choose one to save a seat:")


async def _list_events(dispatcher: CollectingDispatcher, intro: str) -> list[EventType]:
    try:
        events = await CoreClient.from_env().events()
    except CoreAPIError as exc:
        logger.warning("events unavailable: %s", exc)
        dispatcher.utter_message(text=EVENTS_DOWN)
        return []
    if not events:
        dispatcher.utter_message(
            text="There are no public events scheduled right now. New ones are posted at https://www.northvale.ca/events."
        )
        return []
    dispatcher.utter_message(text=intro, buttons=event_buttons(events[:EVENTS_LISTED]))
    return []


class ActionRsvpEvent(Action):
    def name(self) -> str:
        return "action_rsvp_event"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        code, size = tracker.get_slot("event"), tracker.get_slot("party_size")
        if not code or not size or not tracker.get_slot("contact"):
            return []
        done = [*clear_task(), SlotSet("resume_loop", None)]
        try:
            rsvp = await CoreClient.from_env().rsvp(code, _contact(tracker), int(size))
        except Refused as refusal:
            dispatcher.utter_message(text=f"Sorry, I couldn't save your seats: {refusal}.")
            return done
        except CoreAPIError as exc:
            logger.warning("RSVP failed: %s", exc)
            dispatcher.utter_message(text=EVENTS_DOWN)
            return done
        people = "1 person" if rsvp.party_size == 1 else f"{rsvp.party_size} people"
        text = (
            f"You're registered for {rsvp.title}, {parsing.say_time(rsvp.starts_at)}, at {rsvp.venue}, "
            f"{rsvp.address}, for {people}. Your reference is {rsvp.reference}."
        )
        if rsvp.online_option:
            text += f" You can also join online: {rsvp.online_option}"
        dispatcher.utter_message(text=text)
        return done
