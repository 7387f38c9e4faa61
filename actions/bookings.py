"""Public health appointments (book, cancel, reschedule) and RSVPs to public events.

Open times and events come from the core API and are offered as buttons whose payloads carry an id,
so a resident can also type "the second one". A booking is changed only with the email or phone it
was made with; the core checks that, and answers an unknown reference and a wrong contact alike.
"""

from __future__ import annotations

import asyncio
import datetime as dt
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
    Clinic,
    CoreAPIError,
    CoreClient,
    NotFound,
    OpenSlot,
    PublicEvent,
    Refused,
)
from actions.clients.core import Contact as CoreContact
from actions.forms import TaskFormValidation, entity, latest_text, rejected
from actions.handoff import clear_task

logger = logging.getLogger(__name__)

# Times offered at once, spread over days and parts of the day, and how many open times of one clinic are read
# to choose them (a day of 10-minute slots is 42).
TIMES_OFFERED = 4
SLOTS_SEARCHED = 100
EVENTS_LISTED = 6
MAX_PARTY = 10
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
    return parsing.say_time(slot["starts_at"])


def conversation_now(tracker: Tracker) -> dt.datetime:
    """The time of the resident's latest message (days such as "Thursday" are counted from it), Region time."""
    stamp = next((e.get("timestamp") for e in reversed(tracker.events) if e.get("event") == "user"), None)
    moment = dt.datetime.fromtimestamp(stamp, dt.timezone.utc) if stamp else dt.datetime.now(dt.timezone.utc)  # noqa: UP017
    return moment.astimezone(parsing.REGION_TZ)


def _moment(slot: OpenSlot) -> dt.datetime:
    return parsing.parse_time(slot.starts_at)


def _part_of_day(moment: dt.datetime) -> int:
    return 0 if moment.hour < 12 else 1 if moment.hour < 17 else 2


def spread(slots: list[OpenSlot], count: int = TIMES_OFFERED) -> list[OpenSlot]:
    """A few times to choose from, not the next few minutes of one morning: taken in the order given (soonest, or
    nearest what was asked), first one per day and part of the day, then others at least an hour from those
    taken; returned in time order."""
    taken: list[OpenSlot] = []
    seen: set[tuple[dt.date, int]] = set()
    for slot in slots:
        bucket = (_moment(slot).date(), _part_of_day(_moment(slot)))
        if bucket not in seen and len(taken) < count:
            seen.add(bucket)
            taken.append(slot)
    for slot in slots:
        if len(taken) >= count:
            break
        if all(abs((_moment(slot) - _moment(t)).total_seconds()) >= 3600 for t in taken):
            taken.append(slot)
    return sorted(taken, key=lambda s: s.starts_at)


def choose_times(slots: list[OpenSlot], wish: parsing.TimeWish | None) -> tuple[list[OpenSlot], bool]:
    """The times to offer from one clinic's open times, and whether they fit the wish (else: the nearest)."""
    if wish is None:
        return spread(slots), True
    fitting = [s for s in slots if wish.fits(_moment(s))]
    if fitting:
        return spread(fitting), True
    return spread(sorted(slots, key=lambda s: (wish.distance(_moment(s)), s.starts_at))), False


def clinic_for(municipality: str | None, clinics: tuple[Clinic, ...]) -> Clinic | None:
    """The clinic in the resident's area municipality, when the appointment is given there."""
    city = parsing.MAILING_CITIES.get(municipality or "")
    return next((c for c in clinics if city and c.city == city), None)


def short_place(clinic: Clinic) -> str:
    return f"{clinic.name}, {clinic.address}, {clinic.city}"


class AppointmentValidation(TaskFormValidation):
    """Choosing a kind of appointment and one of the open times offered, or saying when and where suits."""

    async def required_slots(
        self, domain_slots: list[str], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[str]:
        # municipality is in the domain's list only so a "Harlow Falls" in any answer chooses the clinic; it is
        # never asked for.
        return [slot for slot in domain_slots if slot != "municipality"]

    def read_answer(self, slot: str, text: str, tracker: Tracker) -> dict[str, Any]:
        """At the time question, "next week" or "Harlow Falls?" answer it whatever intent they were read as."""
        if slot == "appointment_slot" and (
            parsing.time_wish(text, conversation_now(tracker)) or parsing.municipality(text)
        ):
            return {"appointment_slot": text}
        return super().read_answer(slot, text, tracker)

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
            chosen = {"appointment_type": found[0].code, "appointment_slot": None, "offered_slots": None}
            said = parsing.clean(latest_text(tracker))
            if self.first_turn(tracker, domain) and parsing.time_wish(said, conversation_now(tracker)):
                chosen["appointment_wish"] = said  # "a flu shot on Thursday afternoon": asked once
            return chosen
        if self.first_turn(tracker, domain) and not found:
            return {"appointment_type": None}
        dispatcher.utter_message(text="Which kind of appointment do you mean?", buttons=type_buttons(found or types))
        return {"appointment_type": None} if found else rejected("appointment_type")

    def validate_appointment_slot(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """A time offered (button, "the second one", "Tuesday at 10"), or a day, time or place to search."""
        offered = tracker.get_slot("offered_slots") or []
        chosen = entity(tracker, "slot_id") or ""
        ids = [str(slot["id"]) for slot in offered]
        said = str(value or "")
        if chosen not in ids:
            index = parsing.choice_index(said, len(offered))
            chosen = ids[index] if index is not None else ""
        wish = parsing.time_wish(said, conversation_now(tracker))
        if not chosen and wish is not None and wish.at is not None:
            exact = [str(s["id"]) for s in offered if wish.fits(parsing.parse_time(s["starts_at"]))]
            chosen = exact[0] if len(exact) == 1 else ""
        if chosen:
            return {"appointment_slot": chosen, "appointment_wish": None}
        place = parsing.municipality(entity(tracker, "municipality")) or parsing.municipality(said)
        if wish is not None or place is not None:
            # Not a failed answer: the form asks again, and action_ask_appointment_slot offers what fits.
            changes: dict[str, Any] = {"appointment_slot": None, "offered_slots": None}
            if wish is not None:
                changes["appointment_wish"] = parsing.clean(said)
            if place is not None:
                changes["municipality"] = place
            return changes
        dispatcher.utter_message(
            text=(
                "Please choose one of the times offered, or tell me a day, a time or a place that suits you, like "
                '"Thursday afternoon" or "Harlow Falls".'
            )
        )
        return rejected("appointment_slot")


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
    """Offer a few open times at one clinic: the resident's, or the one with the soonest time that fits what
    they said; the other clinics are buttons too, and a day or time can be typed."""

    def name(self) -> str:
        return "action_ask_appointment_slot"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        client = CoreClient.from_env()
        code = str(tracker.get_slot("appointment_type") or "")
        wish = parsing.time_wish(tracker.get_slot("appointment_wish"), conversation_now(tracker))
        first_day = min(wish.days) if wish and wish.days else None
        try:
            kind = next((t for t in await client.appointment_types() if t.code == code), None)
            clinics = kind.locations if kind else ()
            found = await asyncio.gather(
                *(client.open_slots(code, location=c.code, from_date=first_day, limit=SLOTS_SEARCHED) for c in clinics)
            )
        except CoreAPIError as exc:
            logger.warning("open times unavailable: %s", exc)
            dispatcher.utter_message(text=BOOKINGS_DOWN)
            return [ActiveLoop(None), SlotSet("requested_slot", None)]
        by_clinic = {c.code: slots for c, slots in zip(clinics, found, strict=True) if slots}
        if not by_clinic:
            dispatcher.utter_message(
                text=(
                    "Sorry, there are no open times for that appointment in the coming weeks. New times open "
                    "every week; please check again soon or call Northvale Public Health at 905-555-0123."
                )
            )
            # Nothing to choose from: the form ends here and nothing is booked.
            return [ActiveLoop(None), SlotSet("requested_slot", None)]
        open_clinics = [c for c in clinics if c.code in by_clinic]
        asked = tracker.get_slot("municipality")
        clinic = clinic_for(asked, tuple(open_clinics))
        notes = []
        if asked and clinic is None and kind is not None:
            there = clinic_for(asked, clinics)
            notes.append(
                f"There are no open times at {there.name} in the coming weeks."
                if there
                else f"{kind.name} is not offered in {parsing.MAILING_CITIES.get(asked, asked)}."
            )
        if clinic is None:
            # The clinic whose best time is nearest what was asked (or soonest); the core lists clinics by name.
            clinic = min(open_clinics, key=lambda c: _best(by_clinic[c.code], wish))
        times, fits = choose_times(by_clinic[clinic.code], wish)
        where = short_place(clinic)
        if wish is None:
            notes.append(f"These are the soonest open times at {where}.")
        elif fits:
            notes.append(_sentence(f"These open times at {where} fit {wish.said}"))
        else:
            notes.append(f"There are no open times {wish.said} at {clinic.name}. These are the nearest, at {where}.")
        others = [c for c in open_clinics if c.code != clinic.code]
        ask = "Which one works for you? You can also tell me another day or time"
        ask += ", or choose another clinic." if others else "."
        offered = [
            {"id": s.id, "starts_at": s.starts_at, "location_name": s.location_name, "type": s.type} for s in times
        ]
        dispatcher.utter_message(
            text=" ".join([*notes, ask]),
            buttons=[
                *({"title": slot_title(s), "payload": f'/inform{{"slot_id": "{s["id"]}"}}'} for s in offered),
                *(
                    {"title": f"Another clinic: {c.name}", "payload": _clinic_payload(c)}
                    for c in others
                    if _municipality_of(c)
                ),
            ],
        )
        return [SlotSet("offered_slots", offered)]


def _best(slots: list[OpenSlot], wish: parsing.TimeWish | None) -> tuple[float, str]:
    if wish is None:
        return 0.0, slots[0].starts_at
    return min((wish.distance(_moment(s)), s.starts_at) for s in slots)


def _municipality_of(clinic: Clinic) -> str | None:
    return next((name for name, city in parsing.MAILING_CITIES.items() if city == clinic.city), None)


def _clinic_payload(clinic: Clinic) -> str:
    return f'/inform{{"municipality": "{_municipality_of(clinic)}"}}'


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
    """Events meant by a code (button), a topic (synonym: the start of codes) or the words said: one when no real
    choice remains, else those the words match, likeliest first."""
    text = parsing.clean(said).lower()
    if not text or parsing.is_payload(text):
        return []
    exact = [e for e in events if e.code == text]
    if exact:
        return exact
    by_topic = [e for e in events if e.code.startswith(text.replace(" ", "_"))]
    if by_topic:
        return by_topic
    ranked = parsing.rank_by_words(text, [(e.code, (e.title, e.description)) for e in events])
    by_code = {e.code: e for e in events}
    winner = parsing.clear_winner(ranked)
    return [by_code[winner]] if winner else [by_code[m.key] for m in ranked]


def event_buttons(events: list[PublicEvent]) -> list[dict[str, str]]:
    return [
        {"title": f"{e.title}, {parsing.say_day(e.starts_at)}", "payload": f'/rsvp_event{{"event": "{e.code}"}}'}
        for e in events
    ]


class ValidateRsvpForm(TaskFormValidation):
    def name(self) -> str:
        return "validate_rsvp_form"

    async def extract_event(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """The first message's words ("the public consultation on the transit plan") name the event to match."""
        if not self.first_turn(tracker, domain) or tracker.get_slot("event") or self.is_interruption(tracker, domain):
            return {}
        text = parsing.clean(latest_text(tracker))
        return {} if not text or parsing.is_payload(text) else {"event": text}

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
        if self.first_turn(tracker, domain):
            return {"event": None}  # the question lists the events, those the words match first
        if found:
            dispatcher.utter_message(text="Which one?", buttons=event_buttons(found[:EVENTS_LISTED]))
        else:
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
        return await _list_events(dispatcher, "Which event would you like to attend?", latest_text(tracker))


class ActionListEvents(Action):
    def name(self) -> str:
        return "action_list_events"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        return await _list_events(dispatcher, "These public events are coming up. Choose one to save a seat:")


async def _list_events(dispatcher: CollectingDispatcher, intro: str, said: str = "") -> list[EventType]:
    """The coming events as RSVP buttons, those the resident's words match first."""
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
    matched = match_events(said, events)
    likeliest = [*matched, *(e for e in events if e not in matched)]
    dispatcher.utter_message(text=intro, buttons=event_buttons(likeliest[:EVENTS_LISTED]))
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


def _sentence(text: str) -> str:
    """A full stop at the end, unless the text already ends with one ("after 2 p.m.")."""
    return text if text.endswith(".") else text + "."
