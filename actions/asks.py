"""The questions the forms ask, one small action each (``action_ask_<slot>`` or ``action_ask_<form>_<slot>``).

They are actions rather than ``utter_ask_*`` responses because ``rasa data validate --fail-on-warnings``
counts a response that no story or rule names as unused, and a form's questions are asked by the form,
never named in a story. Questions that need the core (a list of services, open times, events) are in
the module of their task.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict


class Ask(Action, ABC):
    """Ask one question: each subclass gives its action name, ``text`` and buttons if any."""

    text: str
    buttons: tuple[tuple[str, str], ...] = ()

    @abstractmethod
    def name(self) -> str:
        """action_ask_<slot> or action_ask_<form>_<slot>."""

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        dispatcher.utter_message(text=self.text, buttons=[{"title": t, "payload": p} for t, p in self.buttons])
        return []


class AskLocation(Ask):
    def name(self) -> str:
        return "action_ask_location"

    text = (
        'Where is it? Please give a street address, like "125 Maple Crescent", or an intersection, like '
        '"King Street and Sable Road".'
    )


class AskDescription(Ask):
    def name(self) -> str:
        return "action_ask_description"

    text = (
        "Please describe the problem in a sentence or two: what you see, how big it is and anything that makes "
        "it dangerous."
    )


class AskReportContact(Ask):
    def name(self) -> str:
        return "action_ask_report_form_contact"

    text = (
        "Would you like updates on this request? Give me an email address or phone number, or say no to report "
        "it without contact details."
    )
    buttons = (("No contact details", "/deny"),)


class AskReference(Ask):
    def name(self) -> str:
        return "action_ask_reference"

    text = "What is the reference number? It looks like SR-2026-000123 and is in the confirmation we sent you."


class AskContactName(Ask):
    def name(self) -> str:
        return "action_ask_contact_name"

    text = "What name should the booking be under?"


class AskRsvpName(Ask):
    def name(self) -> str:
        return "action_ask_rsvp_form_contact_name"

    text = "What name should the reservation be under?"


class AskRecipient(Ask):
    def name(self) -> str:
        return "action_ask_mailed_form_form_contact_name"

    text = "Who should we address the envelope to?"


class AskContact(Ask):
    def name(self) -> str:
        return "action_ask_contact"

    text = (
        "What email address or phone number should we use? We use it only for this, for example to tell you if "
        "something changes."
    )


class AskBookingContactForCancel(Ask):
    def name(self) -> str:
        return "action_ask_cancel_booking_form_contact"

    text = "For your security, what email address or phone number did you book with?"


class AskBookingContactForReschedule(Ask):
    def name(self) -> str:
        return "action_ask_reschedule_form_contact"

    text = "For your security, what email address or phone number did you book with?"


class AskMailingContact(Ask):
    def name(self) -> str:
        return "action_ask_mailed_form_form_contact"

    text = "What email address or phone number can we reach you at if there's a problem with the mailing?"


class AskBookingReference(Ask):
    def name(self) -> str:
        return "action_ask_booking_reference"

    text = "What is your booking reference? It looks like AP-7K3QX9 and is in your confirmation."


class AskPartySize(Ask):
    def name(self) -> str:
        return "action_ask_party_size"

    text = "How many people, including you, will attend?"
    buttons = (
        ("Just me", '/inform{"number": "1"}'),
        ("2", '/inform{"number": "2"}'),
        ("3", '/inform{"number": "3"}'),
        ("4", '/inform{"number": "4"}'),
    )


class AskMailStreet(Ask):
    def name(self) -> str:
        return "action_ask_mail_street"

    text = "What street address should we mail it to? Include the unit number if there is one."


class AskMailCity(Ask):
    def name(self) -> str:
        return "action_ask_mail_city"

    text = "Which city or town?"


class AskPostalCode(Ask):
    def name(self) -> str:
        return "action_ask_postal_code"

    text = "And the postal code? For example, L3X 2B7."
