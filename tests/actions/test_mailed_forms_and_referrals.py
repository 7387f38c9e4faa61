"""Forms by mail and referrals to other organizations, against a local stand-in for the core API."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.mailed_forms import ActionAskFormItem, ActionRequestMailedForm, ValidateMailedFormForm
from actions.referrals import ActionRefer

pytestmark = pytest.mark.asyncio

FormTracker = Callable[..., Tracker]
FORMS = [
    {
        "code": "waste_collection_calendar",
        "title": "Waste collection calendar",
        "description": "Your collection days for the year.",
        "department": "waste",
        "format": "brochure",
        "languages": ["en", "fr"],
        "max_copies": 5,
    },
    {
        "code": "green_bin_guide",
        "title": "Getting started with your green bin",
        "description": "What goes in the green bin.",
        "department": "waste",
        "format": "guide",
        "languages": ["en"],
        "max_copies": 5,
    },
    {
        "code": "pap_tax_application",
        "title": "Property tax pre-authorized payment application",
        "description": "Sign up for monthly or instalment-date withdrawals of your property tax.",
        "department": "finance_tax",
        "format": "form",
        "languages": ["en", "fr"],
        "max_copies": 2,
    },
    {
        "code": "dog_licence_application",
        "title": "Dog and cat licence application",
        "description": "Licence a dog or cat by mail: the form, fees, and the discount for spayed or neutered pets.",
        "department": "bylaw",
        "format": "form",
        "languages": ["en", "fr"],
        "max_copies": 2,
    },
    {
        "code": "community_housing_application",
        "title": "Application for rent-geared-to-income housing",
        "description": "Apply for community housing where rent is based on household income.",
        "department": "housing",
        "format": "form",
        "languages": ["en", "fr"],
        "max_copies": 1,
    },
]


def slots_set(events: list[dict[str, Any]]) -> dict[str, Any]:
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


@pytest.mark.parametrize(
    ("said", "code"), [("waste_collection_calendar", "waste_collection_calendar"), ("green bin", "green_bin_guide")]
)
async def test_a_form_is_matched_by_code_or_by_words(
    said: str, code: str, core: HTTPServer, form_tracker: FormTracker, domain: dict[str, Any]
) -> None:
    core.expect_request("/api/v1/forms").respond_with_json(FORMS)
    tracker = form_tracker(said, form="mailed_form_form", candidates={"form_item": said}, requested_slot="form_item")

    events = await ValidateMailedFormForm().run(CollectingDispatcher(), tracker, domain)

    assert slots_set(events)["form_item"] == code
    assert slots_set(events)["requested_slot"] == "contact_name"


@pytest.mark.parametrize(
    ("said", "code"),
    [
        ("can you mail me a form to apply for a dog licence", "dog_licence_application"),
        ("could you send me the green bin guide", "green_bin_guide"),
        ("I need an application form mailed to me", None),  # three applications: the resident chooses
        ("can you mail me a form", None),
    ],
)
async def test_the_first_message_names_the_form_when_no_real_choice_remains(
    said: str, code: str | None, core: HTTPServer, form_tracker: FormTracker, domain: dict[str, Any]
) -> None:
    core.expect_request("/api/v1/forms").respond_with_json(FORMS)
    tracker = form_tracker(said, "request_mailed_form", form="mailed_form_form", requested_slot=None)
    dispatcher = CollectingDispatcher()

    events = await ValidateMailedFormForm().run(dispatcher, tracker, domain)

    assert slots_set(events)["form_item"] == code
    assert slots_set(events)["requested_slot"] == ("contact_name" if code else "form_item")
    assert dispatcher.messages == []  # no "Which form...?" when the form is known; the question asks otherwise


async def test_the_forms_question_lists_the_likeliest_first(
    core: HTTPServer, form_tracker: FormTracker, dispatcher: CollectingDispatcher
) -> None:
    core.expect_request("/api/v1/forms").respond_with_json(FORMS)
    tracker = form_tracker("I need an application form mailed to me", "request_mailed_form", form="mailed_form_form")

    await ActionAskFormItem().run(dispatcher, tracker, {})

    codes = [b["payload"].split('"')[3] for b in dispatcher.messages[0]["buttons"]]
    assert set(codes[:3]) == {"pap_tax_application", "dog_licence_application", "community_housing_application"}
    assert len(codes) == len(FORMS)


@pytest.mark.parametrize(
    ("slot", "said", "stored"),
    [
        ("mail_street", "56 Tamarack Drive, unit 4", "56 Tamarack Drive, unit 4"),
        ("mail_street", "the blue house", None),
        ("mail_city", "harlow", "Harlow Falls"),
        ("mail_city", "Kingston", "Kingston"),
        ("postal_code", "l3x2b7", "L3X 2B7"),
        ("postal_code", "90210", None),
    ],
)
async def test_the_mailing_address_is_checked_line_by_line(
    slot: str, said: str, stored: str | None, form_tracker: FormTracker, domain: dict[str, Any]
) -> None:
    filled = {"form_item": "green_bin_guide", "contact_name": "Mary O'Brien"}
    tracker = form_tracker(said, slots=filled, form="mailed_form_form", candidates={slot: said}, requested_slot=slot)

    events = await ValidateMailedFormForm().run(CollectingDispatcher(), tracker, domain)

    assert slots_set(events)[slot] == stored


async def test_the_request_is_sent_with_the_whole_address(
    core: HTTPServer, auth_header: dict[str, str], form_tracker: FormTracker, dispatcher: CollectingDispatcher
) -> None:
    core.expect_oneshot_request(
        "/api/v1/forms/requests",
        method="POST",
        headers=auth_header,
        json={
            "item_code": "waste_collection_calendar",
            "contact": {"name": "Mary O'Brien", "email": None, "phone": "905-555-0188", "consent": True},
            "copies": 1,
            "language": "en",
            "recipient": "Mary O'Brien",
            "street": "56 Tamarack Drive",
            "city": "Harlow Falls",
            "province": "ON",
            "postal_code": "L3X 2B7",
            "channel": "chat",
        },
    ).respond_with_json(
        {
            "reference": "FM-8PQ2RT",
            "status": "queued",
            "item": "waste_collection_calendar",
            "title": "Waste collection calendar",
            "copies": 1,
            "language": "en",
            "mailing_address": "Mary O'Brien\n56 Tamarack Drive\nHarlow Falls ON  L3X 2B7",
        },
        status=201,
    )
    slots = {
        "form_item": "waste_collection_calendar",
        "contact_name": "Mary O'Brien",
        "mail_street": "56 Tamarack Drive",
        "mail_city": "Harlow Falls",
        "postal_code": "L3X 2B7",
        "contact": "905-555-0188",
    }

    await ActionRequestMailedForm().run(dispatcher, form_tracker("", slots=slots, form=None), {})

    core.check_assertions()
    assert dispatcher.messages[0]["text"] == (
        "Done. We'll mail Waste collection calendar to Mary O'Brien, 56 Tamarack Drive, Harlow Falls ON  L3X 2B7. "
        "Your reference is FM-8PQ2RT."
    )


# --------------------------------------------------------------------------------------- referrals

PASSPORT = {
    "code": "service_canada",
    "name": "Service Canada",
    "level": "federal",
    "description": "Passports, employment insurance, the Canada Pension Plan and Old Age Security.",
    "phone": None,
    "website": "https://www.canada.ca/en/employment-social-development/corporate/portfolio/service-canada.html",
    "hours": None,
    "score": 14.2,
}


async def test_a_misdirected_request_is_referred_to_the_best_match(
    core: HTTPServer, auth_header: dict[str, str], form_tracker: FormTracker, dispatcher: CollectingDispatcher
) -> None:
    question = "how do I renew my passport"
    core.expect_oneshot_request(
        "/api/v1/referrals/lookup", query_string={"q": question, "limit": "3"}, headers=auth_header
    ).respond_with_json({"query": question, "results": [PASSPORT]})

    await ActionRefer().run(dispatcher, form_tracker(question, "misdirected_request", form=None), {})

    core.check_assertions()
    assert core.log and all("/kb/search" not in str(request.url) for request, _ in core.log)  # a match: no search
    [message] = dispatcher.messages
    assert message["text"].startswith(
        "That isn't handled by the Region, but this organization can help. Service Canada:"
    )
    assert "https://www.canada.ca/" in message["text"]


@pytest.mark.parametrize("status", [200, 503])
@pytest.mark.parametrize("knowledgebase", [{"confident": False, "results": []}, None], ids=["unsure", "down"])
async def test_no_referral_found_and_no_confident_article_offers_a_person(
    status: int,
    knowledgebase: dict[str, Any] | None,
    core: HTTPServer,
    form_tracker: FormTracker,
    dispatcher: CollectingDispatcher,
    load_fixture: Callable[[str], Any],
) -> None:
    question = "who fixes my cell phone"
    core.expect_oneshot_request("/api/v1/referrals/lookup").respond_with_json(
        {"query": "x", "results": []}, status=status
    )
    search = core.expect_oneshot_request(
        "/api/v1/kb/search", query_string={"q": question, "channel": "chat", "limit": "3"}
    )
    if knowledgebase is None:
        search.respond_with_json({"detail": "down"}, status=503)
    else:
        search.respond_with_json({"query": question, **knowledgebase})

    events = await ActionRefer().run(dispatcher, form_tracker(question, "misdirected_request", form=None), {})

    core.check_assertions()
    [message] = dispatcher.messages
    assert message["text"].startswith("That may be handled by another organization")
    assert message["buttons"] == [{"title": "Talk to a person", "payload": "/request_human"}]
    assert events == [SlotSet("kb_outcome", None)]


async def test_a_question_taken_for_a_referral_is_answered_when_an_article_answers_it_with_confidence(
    core: HTTPServer, form_tracker: FormTracker, dispatcher: CollectingDispatcher
) -> None:
    """No organization in the directory, a confident article: it was a question about the Region's services."""
    question = "what hours can my neighbour use power tools"
    core.expect_oneshot_request("/api/v1/referrals/lookup").respond_with_json({"query": question, "results": []})
    noise = {
        "slug": "noise-bylaw",
        "title": "Noise by-law and quiet hours",
        "summary": "The noise by-law is the same in all five area municipalities.",
        "url": "https://www.northvale.ca/bylaw/noise",
        "score": 0.83,
        "answer": "Construction, renovation, using power tools: Monday to Saturday, 7:00 a.m. to 7:00 p.m.",
        "section": "Construction and yard work",
    }
    core.expect_oneshot_request("/api/v1/kb/search").respond_with_json(
        {"query": question, "confident": True, "results": [noise]}
    )

    events = await ActionRefer().run(dispatcher, form_tracker(question, "misdirected_request", form=None), {})

    core.check_assertions()
    answer, asked = dispatcher.messages
    assert "Monday to Saturday, 7:00 a.m. to 7:00 p.m." in answer["text"]
    assert answer["text"].endswith("More on northvale.ca: https://www.northvale.ca/bylaw/noise")
    assert "another organization" not in answer["text"]
    assert asked["text"] == "Did that answer your question?"
    assert SlotSet("kb_outcome", "answered") in events and SlotSet("kb_question", question) in events
