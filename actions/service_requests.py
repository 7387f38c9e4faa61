"""Reporting a problem (report_form) and checking on a request (status_form).

The report form asks, in order: the kind of problem (from the core's catalogue; inferred from what
the resident wrote when the core's classifier is sure), the service's own questions (its Open311
attributes), where it is, a description, optional contact details, and a confirmation where any
answer can be changed. The request is then created through the core API, and the resident gets the
reference number and the target date.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import parsing
from actions.clients.core import Attribute, CoreAPIError, CoreClient, Invalid, NotFound, Service
from actions.forms import TaskFormValidation, contact_fields, entity, latest_intent, latest_text, rejected
from actions.handoff import clear_task, hand_off

logger = logging.getLogger(__name__)

# The classifier's answer is used without asking only when it is this sure.
CLASSIFY_MIN_CONFIDENCE = 0.6
# A first message shorter than this is a request to report ("report a problem"), not a description.
MIN_DESCRIPTION_WORDS = 4
MAX_DESCRIPTION_CHARS = 2000
URGENCIES = ("emergency", "urgent", "routine")
CHANGEABLE = {
    "service_code": "the kind of problem",
    "location": "the location",
    "description": "the description",
    "contact": "the contact details",
}
STATUS_WORDS = {
    "open": "received and waiting to be assigned",
    "acknowledged": "acknowledged by the team responsible",
    "in_progress": "in progress",
    "referred": "referred to another organization",
    "closed": "closed",
}
CORE_DOWN = (
    "Sorry, I can't reach our service request system right now. Please try again in a few minutes, or call "
    "311 (905-555-0100 from outside the region), Monday to Friday, 8:00 a.m. to 6:00 p.m."
)


def service_buttons(services: list[Service]) -> list[dict[str, str]]:
    return [{"title": s.name, "payload": f'/inform{{"service_type": "{s.code}"}}'} for s in services]


def rank_services(said: str | None, services: list[Service]) -> list[parsing.Match]:
    """Services by how well their name, description and residents' keywords cover what was said."""
    return parsing.rank_by_words(said, [(s.code, (s.name, s.description, *s.keywords)) for s in services])


def likeliest_first(said: str | None, services: list[Service]) -> list[Service]:
    """Every service, those the words match first ("my neighbour's dog barks" -> Noise complaint first)."""
    order = {m.key: index for index, m in enumerate(rank_services(said, services))}
    return sorted(services, key=lambda s: order.get(s.code, len(order)))


def match_service(said: str | None, services: list[Service]) -> Service | None:
    """A catalogue entry from a code (button, synonym) or from words of its name ("streetlight")."""
    if not said:
        return None
    text = parsing.clean(said).lower()
    by_code = {s.code: s for s in services}
    if text in by_code:
        return by_code[text]
    named = [s for s in services if text and (text == s.name.lower() or text in s.name.lower())]
    return named[0] if len(named) == 1 else None


def questions_to_ask(attributes: list[Attribute]) -> list[dict[str, Any]]:
    """The service's required questions, as slot-friendly dicts, in display order."""
    return [
        {
            "code": a.code,
            "datatype": a.datatype,
            "description": a.description,
            "help": a.datatype_description,
            "values": [{"key": v.key, "name": v.name} for v in a.values],
        }
        for a in attributes
        if a.required and a.variable
    ]


def read_answer(question: dict[str, Any], said: str, option: str | None) -> Any:
    """The resident's answer in the core's terms (a key, a list of keys, a number, a date), or None."""
    datatype = question["datatype"]
    values = question.get("values") or []
    if datatype in ("singlevaluelist", "multivaluelist"):
        keys = {v["key"]: v["key"] for v in values}
        chosen = keys.get(option or "") or _value_from_words(said, values)
        if chosen is None:
            return None
        return [chosen] if datatype == "multivaluelist" else chosen
    text = parsing.clean(said)
    if not text or parsing.is_payload(text):
        return None
    if datatype == "number":
        try:
            return float(text.replace(",", ""))
        except ValueError:
            return None
    if datatype == "datetime":
        day = parsing.past_date(text, today=_today())
        return day.isoformat() if day else None
    return text[:500]


def _label(question: dict[str, Any], answer: Any) -> str:
    """The answer as the resident saw it ("Larger than a car tire"), for the summary."""
    names = {v["key"]: v["name"] for v in question.get("values") or []}
    keys = answer if isinstance(answer, list) else [answer]
    return ", ".join(names.get(str(k), str(k)) for k in keys)


def _value_from_words(said: str, values: list[dict[str, str]]) -> str | None:
    text = parsing.clean(said).lower()
    if not text or parsing.is_payload(text):
        return None
    index = parsing.choice_index(text, len(values))
    if index is not None:
        return values[index]["key"]
    yes_no = {"yes": ("yes", "yep", "yeah", "y"), "no": ("no", "nope", "nah", "n")}
    for key, words in yes_no.items():
        if text in words and any(v["key"] == key for v in values):
            return key
    matches = [v["key"] for v in values if text == v["name"].lower() or text == v["key"].replace("_", " ")]
    if not matches:
        matches = [v["key"] for v in values if text in v["name"].lower()]
    return matches[0] if len(matches) == 1 else None


def _today() -> dt.date:
    return dt.datetime.now(parsing.REGION_TZ).date()


class ValidateReportForm(TaskFormValidation):
    def name(self) -> str:
        return "validate_report_form"

    contact_optional = True

    async def required_slots(
        self, domain_slots: list[str], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[str]:
        slots = ["service_code"]
        if tracker.get_slot("service_code") is None:
            return [*slots, "location", "municipality", "description", "contact", "confirm_report"]
        if tracker.get_slot("pending_attributes"):
            slots.append("attribute_answer")
        details = tracker.get_slot("service_details") or {}
        if details.get("location_required", True):
            slots += ["location", "municipality"]
        return [*slots, "description", "contact", "confirm_report"]

    # the kind of problem

    async def extract_service_code(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """A named problem (entity or button), or the resident's words for validation to match or classify."""
        if self.is_interruption(tracker, domain):
            return {}
        first = self.first_turn(tracker, domain)
        if not first and tracker.get_slot("requested_slot") != "service_code":
            return {}
        named = entity(tracker, "service_type")
        if named:
            return {"service_code": named}
        text = parsing.clean(latest_text(tracker))
        if parsing.is_payload(text) or (first and len(text.split()) < MIN_DESCRIPTION_WORDS):
            return {}
        return {"service_code": text}

    async def validate_service_code(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        first = self.first_turn(tracker, domain)
        urgency = None
        try:
            client = CoreClient.from_env()
            services = await client.services()
            service = match_service(str(value or ""), services)
            inferred = service is None
            if service is None:
                code, urgency = await _classify(str(value or ""))
                service = match_service(code, services)
            if service is None:
                # The classifier is unsure: the catalogue's own words may still leave no real choice.
                by_words = parsing.clear_winner(rank_services(str(value or ""), services))
                service = next((s for s in services if s.code == by_words), None)
            if service is None:
                if first:
                    return {"service_code": None}
                dispatcher.utter_message(
                    text="Sorry, I couldn't match that to one of our services. Please choose the closest one:",
                    buttons=service_buttons(likeliest_first(str(value or ""), services)),
                )
                return rejected("service_code")
            questions = questions_to_ask(await client.service_questions(service.code))
        except CoreAPIError as exc:
            logger.warning("service catalogue unavailable: %s", exc)
            dispatcher.utter_message(text=CORE_DOWN)
            return {"service_code": None}
        if inferred and first:
            dispatcher.utter_message(
                text=f"It sounds like this is about: {service.name}. You can change that before the report is sent."
            )
        return {
            "service_code": service.code,
            "service_details": {
                "name": service.name,
                "location_required": service.location_required,
                "can_be_emergency": service.can_be_emergency,
                "emergency_instruction": service.emergency_instruction,
            },
            "pending_attributes": questions,
            "attribute_answers": {},
            "attribute_labels": {},
            "attribute_answer": None,
            "service_inferred": inferred,
            "report_urgency": urgency,
        }

    # the service's own questions

    async def validate_attribute_answer(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        pending = list(tracker.get_slot("pending_attributes") or [])
        if not pending or value is None:
            return {"attribute_answer": None}
        question = pending[0]
        answer = read_answer(question, str(value), entity(tracker, "option"))
        if answer is None:
            dispatcher.utter_message(text="Sorry, I didn't get that. Please pick one of the answers below.")
            return rejected("attribute_answer")
        answers = {**(tracker.get_slot("attribute_answers") or {}), question["code"]: answer}
        labels = {**(tracker.get_slot("attribute_labels") or {}), question["description"]: _label(question, answer)}
        # The slot stays empty while questions remain, so the form asks the next one.
        return {
            "attribute_answers": answers,
            "attribute_labels": labels,
            "pending_attributes": pending[1:],
            "attribute_answer": None,
        }

    # where

    def validate_location(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        place = parsing.location(str(value or ""))
        if place is None:
            dispatcher.utter_message(
                text=(
                    "Sorry, I couldn't find a location in that. Please give a house number and street, like "
                    '"125 Maple Crescent", or two streets that cross, like "King Street and Sable Road".'
                )
            )
            return rejected("location")
        slots: dict[str, Any] = {"location": place}
        named = parsing.municipality(str(value)) or parsing.municipality(entity(tracker, "municipality"))
        if named:
            slots["municipality"] = named
        postal = parsing.postal_code(str(value))
        if postal:
            slots["postal_code"] = postal
        if tracker.get_slot("requested_slot") not in (None, "location") and not self.first_turn(tracker, domain):
            dispatcher.utter_message(text=f"Thanks, I've changed the location to {place}.")
        return slots

    def validate_municipality(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        named = parsing.municipality(str(value or ""))
        if named is None:
            dispatcher.utter_message(text="Please choose one of the five area municipalities.")
            return rejected("municipality")
        return {"municipality": named}

    # what

    async def extract_description(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """A first message that already describes the problem is used as the description."""
        if tracker.get_slot("description") or not self.first_turn(tracker, domain):
            return {}
        if self.is_interruption(tracker, domain) or latest_intent(tracker) != "report_problem":
            return {}
        text = parsing.clean(latest_text(tracker))
        has_substance = entity(tracker, "service_type") or entity(tracker, "address")
        if parsing.is_payload(text) or len(text.split()) < MIN_DESCRIPTION_WORDS or not has_substance:
            return {}
        return {"description": text}

    def validate_description(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = parsing.clean(str(value or ""))
        if parsing.is_payload(text) or len(text) < 8 or len(text.split()) < 2:
            dispatcher.utter_message(text="Could you tell me a little more, in a sentence or two?")
            return rejected("description")
        return {"description": text[:MAX_DESCRIPTION_CHARS]}

    # confirm and change

    def validate_confirm_report(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        if value == "yes":
            return {"confirm_report": "yes"}
        changed_now = [name for name in CHANGEABLE if name in tracker.slots_to_validate()]
        if changed_now:
            # "Actually it's at 44 Maple Crescent": already changed; show the summary again.
            return {"confirm_report": None}
        detail = entity(tracker, "detail") or (value if value in CHANGEABLE else None)
        if detail in CHANGEABLE:
            dispatcher.utter_message(text=f"OK, let's change {CHANGEABLE[detail]}.")
            return {"confirm_report": None, **_cleared(detail)}
        dispatcher.utter_message(
            text="What would you like to change?",
            buttons=[
                *(
                    {"title": f"Change {label}", "payload": f'/change_detail{{"detail": "{name}"}}'}
                    for name, label in CHANGEABLE.items()
                ),
                {"title": "Cancel the report", "payload": "/stop"},
            ],
        )
        return {"confirm_report": None}


def _cleared(detail: str) -> dict[str, Any]:
    if detail == "service_code":
        return {
            "service_code": None,
            "service_details": None,
            "pending_attributes": None,
            "attribute_answers": None,
            "attribute_labels": None,
            "service_inferred": None,
        }
    if detail == "location":
        return {"location": None, "municipality": None, "postal_code": None}
    return {detail: None}


async def _classify(text: str) -> tuple[str | None, str | None]:
    """The core classifier's (service code, urgency), each None when it is unsure or not available."""
    if not text.strip():
        return None, None
    try:
        found = await CoreClient.from_env().classify(text[:MAX_DESCRIPTION_CHARS])
    except NotFound:
        return None, None  # this core has no classifier endpoint yet: the resident chooses
    except CoreAPIError as exc:
        logger.warning("classifier unavailable: %s", exc)
        return None, None
    service, urgency = found.service_code, found.urgency
    code = None if service.abstain or service.confidence < CLASSIFY_MIN_CONFIDENCE else service.label
    level = urgency.label if urgency and not urgency.abstain and urgency.label in URGENCIES else None
    return code, level


class ActionAskServiceCode(Action):
    def name(self) -> str:
        return "action_ask_service_code"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        try:
            services = await CoreClient.from_env().services()
        except CoreAPIError as exc:
            logger.warning("service catalogue unavailable: %s", exc)
            dispatcher.utter_message(text=CORE_DOWN)
            return []
        dispatcher.utter_message(
            text="What kind of problem is it? Choose the closest one, or describe it in a few words.",
            buttons=service_buttons(likeliest_first(latest_text(tracker), services)),
        )
        return []


class ActionAskAttributeAnswer(Action):
    def name(self) -> str:
        return "action_ask_attribute_answer"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        pending = tracker.get_slot("pending_attributes") or []
        if not pending:
            return []
        question = pending[0]
        text = question["description"]
        if question.get("help"):
            text += f"\n{question['help']}"
        if question["datatype"] == "datetime":
            text += "\nFor example: today, yesterday, Monday or November 23."
        buttons = [
            {"title": v["name"], "payload": f'/inform{{"option": "{v["key"]}"}}'} for v in question.get("values") or []
        ]
        dispatcher.utter_message(text=text, buttons=buttons)
        return []


class ActionAskMunicipality(Action):
    def name(self) -> str:
        return "action_ask_municipality"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        dispatcher.utter_message(
            text="Which area municipality is that in?",
            buttons=[
                {"title": name, "payload": f'/inform{{"municipality": "{name}"}}'} for name in parsing.MUNICIPALITIES
            ],
        )
        return []


def report_summary(tracker: Tracker) -> str:
    details = tracker.get_slot("service_details") or {}
    lines = [f"Problem: {details.get('name') or tracker.get_slot('service_code')}"]
    for question, answer in (tracker.get_slot("attribute_labels") or {}).items():
        lines.append(f"{question} {answer}")
    if tracker.get_slot("location"):
        where = ", ".join(str(p) for p in (tracker.get_slot("location"), tracker.get_slot("municipality")) if p)
        lines.append(f"Location: {where}")
    lines.append(f"Description: {tracker.get_slot('description')}")
    contact = tracker.get_slot("contact")
    lines.append(f"Updates to: {contact}" if contact and contact != "none" else "Updates: none (no contact details)")
    return "\n".join(lines)


class ActionAskConfirmReport(Action):
    def name(self) -> str:
        return "action_ask_confirm_report"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        dispatcher.utter_message(
            text=f"Here is your report:\n{report_summary(tracker)}\nShall I send it?",
            buttons=[
                {"title": "Yes, send it", "payload": "/affirm"},
                {"title": "Change something", "payload": "/change_detail"},
                {"title": "Cancel", "payload": "/stop"},
            ],
        )
        return []


class ActionSubmitServiceRequest(Action):
    def name(self) -> str:
        return "action_submit_service_request"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        if tracker.get_slot("confirm_report") != "yes":
            # The form ended without a confirmation (it was handed to an agent): nothing to send.
            return []
        body = request_body(tracker)
        try:
            created = await CoreClient.from_env().create_request(body)
        except (Invalid, CoreAPIError) as exc:
            # Nothing the resident typed may be lost: an agent gets the report as collected.
            logger.warning("creating a service request failed: %s", exc)
            dispatcher.utter_message(
                text=(
                    "Sorry, I couldn't file your report just now. I'm passing it, with everything you told me, "
                    "to a Service First agent, who will file it and reply here."
                )
            )
            return hand_off(dispatcher, tracker, "submission_failed", "routine")
        details = tracker.get_slot("service_details") or {}
        dispatcher.utter_message(
            text=(
                f"Thank you. Your report is filed with {created.department}. Your reference number is "
                f"{created.reference}; keep it to check on the request. "
                f"Our target is to deal with it by {parsing.say_time(created.due_at)}"
            )
        )
        if body["urgency"] == "emergency" and details.get("emergency_instruction"):
            dispatcher.utter_message(text=str(details["emergency_instruction"]))
        return [*clear_task(), SlotSet("resume_loop", None)]


def request_body(tracker: Tracker) -> dict[str, Any]:
    where = ", ".join(str(p) for p in (tracker.get_slot("location"), tracker.get_slot("municipality")) if p)
    body: dict[str, Any] = {
        "service_code": tracker.get_slot("service_code"),
        "description": tracker.get_slot("description"),
        "channel": "chat",
        "address": where or None,
        "postal_code": tracker.get_slot("postal_code"),
        "attributes": tracker.get_slot("attribute_answers") or {},
        "kind": "service_request",
        "urgency": tracker.get_slot("report_urgency") or "routine",
    }
    contact = contact_fields(tracker.get_slot("contact"))
    if contact:
        body["contact"] = contact
    return body


# ------------------------------------------------------------------------------------------ status


class ValidateStatusForm(TaskFormValidation):
    def name(self) -> str:
        return "validate_status_form"

    def validate_reference(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        reference = parsing.sr_reference(str(value or ""))
        if reference is None and not self.first_turn(tracker, domain):
            dispatcher.utter_message(
                text="That doesn't look like a reference number. It starts with SR, like SR-2026-000123."
            )
            return rejected("reference")
        return {"reference": reference}


class ActionRequestStatus(Action):
    def name(self) -> str:
        return "action_request_status"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        reference = tracker.get_slot("reference")
        if not reference:
            return []
        done = [SlotSet("reference", None), SlotSet("resume_loop", None)]
        try:
            found = await CoreClient.from_env().request_status(reference)
        except NotFound:
            dispatcher.utter_message(
                text=(
                    f"I couldn't find a request with the reference {reference}. Please check the number in your "
                    'confirmation, or type "agent" and a Service First agent will look it up with you.'
                )
            )
            return done
        except CoreAPIError as exc:
            logger.warning("request status unavailable: %s", exc)
            dispatcher.utter_message(text=CORE_DOWN)
            return done
        dispatcher.utter_message(
            text=status_text(
                found.reference,
                found.service_name,
                found.department,
                found.status,
                found.due_at,
                found.updated_at,
                found.resolution,
            )
        )
        return done


def status_text(
    reference: str, service: str, department: str, status: str, due_at: str, updated_at: str, resolution: str | None
) -> str:
    state = STATUS_WORDS.get(status, status.replace("_", " "))
    text = f"{reference} ({service}) is {state}; last updated {parsing.say_day(updated_at)}."
    if status == "closed":
        return text + (f" What was done: {resolution}" if resolution else "")
    return text + f" {department} aims to deal with it by {parsing.say_time(due_at)}"
