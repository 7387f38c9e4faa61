"""Printed forms, brochures and guides mailed to a resident (mailed_form_form)."""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import parsing
from actions.clients.core import CoreAPIError, CoreClient, Invalid, MailableForm
from actions.forms import TaskFormValidation, contact_fields, latest_text, rejected
from actions.handoff import clear_task

logger = logging.getLogger(__name__)

FORMS_DOWN = (
    "Sorry, I can't reach our forms catalogue right now. Please try again in a few minutes, or call 311 "
    "(905-555-0100 from outside the region)."
)


def match_forms(said: str | None, forms: list[MailableForm]) -> list[MailableForm]:
    """The forms meant: one when a code, a title or the words said leave no real choice, else the forms
    the words match, likeliest first (empty: nothing matched)."""
    text = parsing.clean(said).lower()
    if not text or parsing.is_payload(text):
        return []
    exact = [f for f in forms if text in (f.code, f.title.lower())]
    if exact:
        return exact
    ranked = parsing.rank_by_words(text, [(f.code, (f.title, f.description)) for f in forms])
    by_code = {f.code: f for f in forms}
    winner = parsing.clear_winner(ranked)
    return [by_code[winner]] if winner else [by_code[m.key] for m in ranked]


def likeliest_first(said: str | None, forms: list[MailableForm]) -> list[MailableForm]:
    """Every form, those the words match first."""
    matched = match_forms(said, forms)
    return [*matched, *(f for f in forms if f not in matched)]


def form_buttons(forms: list[MailableForm]) -> list[dict[str, str]]:
    return [{"title": f.title, "payload": f'/inform{{"form_item": "{f.code}"}}'} for f in forms]


class ValidateMailedFormForm(TaskFormValidation):
    def name(self) -> str:
        return "validate_mailed_form_form"

    async def extract_form_item(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """The first message's words ("mail me a form to apply for a dog licence") name the form to match."""
        if (
            not self.first_turn(tracker, domain)
            or tracker.get_slot("form_item")
            or self.is_interruption(tracker, domain)
        ):
            return {}
        text = parsing.clean(latest_text(tracker))
        return {} if not text or parsing.is_payload(text) else {"form_item": text}

    async def validate_form_item(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        try:
            forms = await CoreClient.from_env().mailable_forms()
        except CoreAPIError as exc:
            logger.warning("forms catalogue unavailable: %s", exc)
            dispatcher.utter_message(text=FORMS_DOWN)
            return {"form_item": None}
        found = match_forms(str(value or ""), forms)
        if len(found) == 1:
            return {"form_item": found[0].code}
        if self.first_turn(tracker, domain):
            return {"form_item": None}  # the question lists the forms, those the words match first
        dispatcher.utter_message(text="Which one do you mean?", buttons=form_buttons(found or forms))
        return {"form_item": None} if found else rejected("form_item")

    def validate_mail_street(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        street = parsing.clean(str(value or ""))
        if parsing.is_payload(street) or not any(ch.isdigit() for ch in street) or len(street) > 200:
            dispatcher.utter_message(text="Please type the street address with its number, like 125 Maple Crescent.")
            return rejected("mail_street")
        slots: dict[str, Any] = {"mail_street": street}
        postal = parsing.postal_code(street)
        if postal:
            slots["postal_code"] = postal
        return slots

    def validate_mail_city(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        named = parsing.municipality(str(value or ""))
        city = parsing.MAILING_CITIES[named] if named else parsing.clean(str(value or ""))
        if not city or parsing.is_payload(city) or any(ch.isdigit() for ch in city) or len(city) > 60:
            dispatcher.utter_message(text="Please type the name of the city or town.")
            return rejected("mail_city")
        return {"mail_city": city}

    def validate_postal_code(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        postal = parsing.postal_code(str(value or ""))
        if postal is None:
            dispatcher.utter_message(text="That doesn't look like a Canadian postal code. It looks like L3X 2B7.")
            return rejected("postal_code")
        return {"postal_code": postal}


class ActionAskFormItem(Action):
    def name(self) -> str:
        return "action_ask_form_item"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        try:
            forms = await CoreClient.from_env().mailable_forms()
        except CoreAPIError as exc:
            logger.warning("forms catalogue unavailable: %s", exc)
            dispatcher.utter_message(text=FORMS_DOWN)
            return []
        dispatcher.utter_message(
            text="Which form or guide would you like us to mail?",
            buttons=form_buttons(likeliest_first(latest_text(tracker), forms)),
        )
        return []


class ActionRequestMailedForm(Action):
    def name(self) -> str:
        return "action_request_mailed_form"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        needed = ("form_item", "contact_name", "mail_street", "mail_city", "postal_code", "contact")
        if any(not tracker.get_slot(name) for name in needed):
            return []
        done = [*clear_task(), SlotSet("resume_loop", None)]
        name = tracker.get_slot("contact_name")
        body = {
            "item_code": tracker.get_slot("form_item"),
            "contact": contact_fields(tracker.get_slot("contact"), name),
            "copies": 1,
            "language": "en",
            "recipient": name,
            "street": tracker.get_slot("mail_street"),
            "city": tracker.get_slot("mail_city"),
            "province": "ON",
            "postal_code": tracker.get_slot("postal_code"),
        }
        try:
            sent = await CoreClient.from_env().request_form(body)
        except Invalid as invalid:
            dispatcher.utter_message(text=f"Sorry, I couldn't send that request: {invalid}. Please start again.")
            return done
        except CoreAPIError as exc:
            logger.warning("form request failed: %s", exc)
            dispatcher.utter_message(text=FORMS_DOWN)
            return done
        address = sent.mailing_address.replace("\n", ", ")
        dispatcher.utter_message(
            text=f"Done. We'll mail {sent.title} to {address}. Your reference is {sent.reference}."
        )
        return done
