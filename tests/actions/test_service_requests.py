"""The report form's validation and the request actions, against a local stand-in for the core API."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from rasa_sdk import Tracker
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.service_requests import (
    ActionAskConfirmReport,
    ActionAskServiceCode,
    ActionRequestStatus,
    ActionSubmitServiceRequest,
    ValidateReportForm,
    ValidateStatusForm,
)

pytestmark = pytest.mark.asyncio

FormTracker = Callable[..., Tracker]
JsonLoader = Callable[[str], Any]
POTHOLE = "there's a big pothole in front of 125 Maple Crescent"
ROAD_REPAIR_DETAILS = {
    "name": "Pothole or road damage",
    "location_required": True,
    "can_be_emergency": True,
    "emergency_instruction": (
        "If the road has collapsed or a hole is causing crashes or blocking a lane, call 311 now, or "
        "905-555-0111 after hours. If anyone is hurt, call 911."
    ),
}
QUESTIONS = [
    {
        "code": "hole_size",
        "datatype": "singlevaluelist",
        "description": "About how big is the pothole or damaged area?",
        "help": None,
        "values": [
            {"key": "smaller_than_plate", "name": "Smaller than a dinner plate"},
            {"key": "plate_to_tire", "name": "Between a dinner plate and a car tire"},
            {"key": "larger_than_tire", "name": "Larger than a car tire"},
        ],
    },
    {
        "code": "position",
        "datatype": "singlevaluelist",
        "description": "Where on the road is it?",
        "help": None,
        "values": [
            {"key": "driving_lane", "name": "In a driving lane"},
            {"key": "bike_lane", "name": "In a bike lane"},
            {"key": "shoulder_or_curb", "name": "On the shoulder or at the curb"},
            {"key": "intersection", "name": "In an intersection"},
        ],
    },
]
FILLED = {
    "service_code": "road_repair",
    "service_details": ROAD_REPAIR_DETAILS,
    "pending_attributes": [],
    "attribute_answers": {"hole_size": "plate_to_tire", "position": "driving_lane"},
    "attribute_labels": {
        "About how big is the pothole or damaged area?": "Between a dinner plate and a car tire",
        "Where on the road is it?": "In a driving lane",
    },
    "location": "125 Maple Crescent",
    "municipality": "City of Harlow Falls",
    "description": "A deep pothole in the eastbound lane; cars swerve around it.",
    "contact": "dana.whitfield@example.ca",
}


def slots_set(events: list[dict[str, Any]]) -> dict[str, Any]:
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


@pytest.fixture
def catalogue(core: HTTPServer, auth_header: dict[str, str], load_fixture: JsonLoader) -> HTTPServer:
    core.expect_request("/api/v1/services", method="GET", headers=auth_header).respond_with_json(
        load_fixture("services.json")
    )
    core.expect_request("/open311/v2/services/road_repair.json", method="GET").respond_with_json(
        load_fixture("definition_road_repair.json")
    )
    return core


async def validate(tracker: Tracker, dispatcher: CollectingDispatcher, domain: dict[str, Any]) -> list[dict[str, Any]]:
    return await ValidateReportForm().run(dispatcher, tracker, domain)


# ------------------------------------------------------------------------- the kind of problem


async def test_a_named_problem_sets_the_service_its_required_questions_and_the_description(
    catalogue: HTTPServer, form_tracker: FormTracker, dispatcher: CollectingDispatcher, domain: dict[str, Any]
) -> None:
    pothole = {"entity": "service_type", "value": "road_repair", "start": 16, "end": 23}
    tracker = form_tracker(
        POTHOLE, "report_problem", [pothole], candidates={"location": "125 Maple Crescent"}, requested_slot=None
    )

    events = await validate(tracker, dispatcher, domain)

    slots = slots_set(events)
    assert slots["service_code"] == "road_repair"
    assert slots["service_details"] == ROAD_REPAIR_DETAILS
    # Only the required questions, in the service's order (hole_size is order 1 in the definition).
    assert slots["pending_attributes"] == QUESTIONS
    assert slots["location"] == "125 Maple Crescent"
    assert slots["description"] == POTHOLE
    assert slots["requested_slot"] == "attribute_answer"
    assert dispatcher.messages == []
    assert not any(path == "/api/v1/classify" for path in (r.path for r, _ in catalogue.log))


async def test_the_classifier_infers_the_service_from_the_first_message_and_the_resident_is_told(
    catalogue: HTTPServer,
    auth_header: dict[str, str],
    form_tracker: FormTracker,
    dispatcher: CollectingDispatcher,
    domain: dict[str, Any],
) -> None:
    text = "the light outside my house has been dark for three nights"
    catalogue.expect_oneshot_request(
        "/api/v1/classify", method="POST", json={"text": text}, headers=auth_header
    ).respond_with_json(
        {
            "service_code": {"label": "streetlight_out", "confidence": 0.91, "abstain": False},
            "kind": {"label": "service_request", "confidence": 0.88, "abstain": False},
            "urgency": {"label": "routine", "confidence": 0.8, "abstain": False},
            "entities": [],
        }
    )
    catalogue.expect_request("/open311/v2/services/streetlight_out.json").respond_with_json(
        {"service_code": "streetlight_out", "attributes": []}
    )

    events = await validate(form_tracker(text, "report_problem", requested_slot=None), dispatcher, domain)

    slots = slots_set(events)
    assert slots["service_code"] == "streetlight_out"
    assert slots["report_urgency"] == "routine"
    assert slots["requested_slot"] == "location"
    [told] = dispatcher.messages
    assert "Streetlight out or damaged" in told["text"] and "change" in told["text"]


@pytest.mark.parametrize(
    "answer",
    [
        {"status": 404, "body": {"detail": "Not Found"}},
        {"status": 200, "body": {"service_code": {"label": "graffiti", "confidence": 0.41, "abstain": True}}},
    ],
    ids=["no-classifier-yet", "classifier-unsure"],
)
async def test_without_a_sure_classifier_the_resident_is_asked_to_choose(
    answer: dict[str, Any],
    catalogue: HTTPServer,
    form_tracker: FormTracker,
    dispatcher: CollectingDispatcher,
    domain: dict[str, Any],
) -> None:
    catalogue.expect_request("/api/v1/classify", method="POST").respond_with_json(
        answer["body"], status=answer["status"]
    )
    text = "something is wrong on the road near my place"

    events = await validate(form_tracker(text, "report_problem", requested_slot=None), dispatcher, domain)

    slots = slots_set(events)
    assert slots.get("service_code") is None
    assert slots["requested_slot"] == "service_code"
    assert dispatcher.messages == []


async def test_with_the_classifier_unsure_the_catalogues_own_words_can_still_name_the_problem(
    catalogue: HTTPServer, form_tracker: FormTracker, dispatcher: CollectingDispatcher, domain: dict[str, Any]
) -> None:
    catalogue.expect_request("/api/v1/classify", method="POST").respond_with_json(
        {"service_code": {"label": "animal_services", "confidence": 0.44, "abstain": True}}
    )
    catalogue.expect_request("/open311/v2/services/noise_complaint.json").respond_with_json(
        {"service_code": "noise_complaint", "attributes": []}
    )
    text = "my neighbour's dog barks all night"

    events = await validate(form_tracker(text, "report_problem", requested_slot=None), dispatcher, domain)

    # Noise complaint's keywords ("barking dog", "loud neighbours") cover more than Animal concern's ("stray dog").
    assert slots_set(events)["service_code"] == "noise_complaint"
    assert "Noise complaint" in dispatcher.messages[0]["text"]


async def test_the_kinds_of_problem_are_listed_likeliest_first(
    catalogue: HTTPServer, form_tracker: FormTracker, dispatcher: CollectingDispatcher
) -> None:
    tracker = form_tracker("a dog outside my place", "report_problem", requested_slot=None)

    await ActionAskServiceCode().run(dispatcher, tracker, {})

    titles = [b["title"] for b in dispatcher.messages[0]["buttons"]]
    # "dog" is in both: a real choice, the two that name it first, then the rest of the catalogue.
    assert set(titles[:2]) == {"Noise complaint", "Animal concern"} and len(titles) == 5


async def test_a_typed_answer_that_matches_no_service_offers_the_catalogue_as_buttons(
    catalogue: HTTPServer, form_tracker: FormTracker, dispatcher: CollectingDispatcher, domain: dict[str, Any]
) -> None:
    catalogue.expect_request("/api/v1/classify", method="POST").respond_with_json({"detail": "Not Found"}, status=404)
    tracker = form_tracker("the thing", requested_slot="service_code")

    events = await validate(tracker, dispatcher, domain)

    assert slots_set(events)["service_code"] is None
    [message] = dispatcher.messages
    assert "closest" in message["text"]
    assert {"title": "Northvale Transit feedback", "payload": '/inform{"service_type": "transit"}'} in message[
        "buttons"
    ]


async def test_an_interruption_extracts_nothing_so_the_form_steps_aside(
    core: HTTPServer, form_tracker: FormTracker, dispatcher: CollectingDispatcher, domain: dict[str, Any]
) -> None:
    tracker = form_tracker("I smell gas in the basement", "emergency_gas_smell", requested_slot="description")

    events = await validate(tracker, dispatcher, domain)

    assert events == []
    assert core.log == []


# ------------------------------------------------------------------------- the service's questions


async def test_an_answer_moves_to_the_next_question_and_the_last_one_ends_them(
    core: HTTPServer, form_tracker: FormTracker, dispatcher: CollectingDispatcher, domain: dict[str, Any]
) -> None:
    base = {"service_code": "road_repair", "service_details": ROAD_REPAIR_DETAILS, "attribute_answers": {}}
    option = [{"entity": "option", "value": "plate_to_tire"}]
    tracker = form_tracker(
        '/inform{"option": "plate_to_tire"}',
        entities=option,
        slots={**base, "pending_attributes": QUESTIONS},
        candidates={"attribute_answer": '/inform{"option": "plate_to_tire"}'},
        requested_slot="attribute_answer",
    )

    first = slots_set(await validate(tracker, dispatcher, domain))

    assert first["attribute_answers"] == {"hole_size": "plate_to_tire"}
    assert first["attribute_labels"] == {
        "About how big is the pothole or damaged area?": "Between a dinner plate and a car tire"
    }
    assert first["pending_attributes"] == QUESTIONS[1:]
    assert first["requested_slot"] == "attribute_answer"

    tracker = form_tracker(
        "in a driving lane",
        slots={**base, "pending_attributes": QUESTIONS[1:], "attribute_answers": first["attribute_answers"]},
        candidates={"attribute_answer": "in a driving lane"},
        requested_slot="attribute_answer",
    )
    second = slots_set(await validate(tracker, CollectingDispatcher(), domain))

    assert second["attribute_answers"] == {"hole_size": "plate_to_tire", "position": "driving_lane"}
    assert second["pending_attributes"] == []
    assert second["requested_slot"] == "location"


async def test_good_answers_in_a_row_never_count_as_failures(
    core: HTTPServer, form_tracker: FormTracker, dispatcher: CollectingDispatcher, domain: dict[str, Any]
) -> None:
    # The question slot is emptied after every good answer; that is not a failed answer.
    tracker = form_tracker(
        "in a driving lane",
        slots={
            "service_code": "road_repair",
            "service_details": ROAD_REPAIR_DETAILS,
            "pending_attributes": QUESTIONS[1:],
            "attribute_answers": {"hole_size": "larger_than_tire"},
            "failed_attempts": 1,
        },
        candidates={"attribute_answer": "in a driving lane"},
        requested_slot="attribute_answer",
    )

    events = await validate(tracker, dispatcher, domain)

    assert slots_set(events)["failed_attempts"] == 0
    assert not any(e.get("event") == "active_loop" for e in events)
    assert dispatcher.messages == []


# ------------------------------------------------------------------------- where


async def test_an_intersection_is_accepted_and_its_municipality_kept(
    core: HTTPServer, form_tracker: FormTracker, dispatcher: CollectingDispatcher, domain: dict[str, Any]
) -> None:
    tracker = form_tracker(
        "King St and Sable Rd in Port Sable",
        slots={"service_code": "road_repair", "service_details": ROAD_REPAIR_DETAILS, "pending_attributes": []},
        candidates={"location": "King St and Sable Rd in Port Sable"},
        requested_slot="location",
    )

    slots = slots_set(await validate(tracker, dispatcher, domain))

    assert slots["location"] == "King Street and Sable Road in Port Sable"
    assert slots["municipality"] == "Town of Port Sable"
    assert slots["requested_slot"] == "description"
    assert slots["failed_attempts"] == 0


async def test_a_place_a_crew_cannot_find_is_asked_again_with_an_example(
    core: HTTPServer, form_tracker: FormTracker, dispatcher: CollectingDispatcher, domain: dict[str, Any]
) -> None:
    tracker = form_tracker(
        "by the big tree",
        slots={"service_code": "road_repair", "service_details": ROAD_REPAIR_DETAILS, "pending_attributes": []},
        candidates={"location": "by the big tree"},
        requested_slot="location",
    )

    events = await validate(tracker, dispatcher, domain)

    slots = slots_set(events)
    assert slots["location"] is None
    assert slots["requested_slot"] == "location"
    assert slots["failed_attempts"] == 1
    assert "125 Maple Crescent" in dispatcher.messages[0]["text"]
    assert not any(e.get("event") == "active_loop" for e in events)


async def test_a_second_unusable_answer_in_a_row_passes_the_report_to_an_agent(
    core: HTTPServer, form_tracker: FormTracker, dispatcher: CollectingDispatcher, domain: dict[str, Any]
) -> None:
    collected = {
        "service_code": "road_repair",
        "service_details": ROAD_REPAIR_DETAILS,
        "pending_attributes": [],
        "attribute_answers": {"hole_size": "larger_than_tire"},
        "failed_attempts": 1,
    }
    tracker = form_tracker(
        "behind the plaza", slots=collected, candidates={"location": "behind the plaza"}, requested_slot="location"
    )

    events = await validate(tracker, dispatcher, domain)

    assert ActiveLoop(None) in events
    assert SlotSet("resume_loop", "report_form") in events
    assert slots_set(events)["requested_slot"] is None
    said, marker = dispatcher.messages
    assert said["response"] == "utter_handoff_not_understood"
    handoff = marker["custom"]["handoff"]
    assert handoff["reason"] == "not_understood"
    assert handoff["urgency"] == "routine"
    assert handoff["slots"]["service_code"] == "road_repair"
    assert handoff["slots"]["attribute_answers"] == {"hole_size": "larger_than_tire"}
    assert "Reporting a problem" in handoff["summary"]
    assert 'Last message: "behind the plaza"' in handoff["summary"]


async def test_a_service_without_a_place_does_not_ask_where(
    core: HTTPServer, form_tracker: FormTracker, dispatcher: CollectingDispatcher, domain: dict[str, Any]
) -> None:
    transit = {"name": "Northvale Transit feedback", "location_required": False}
    tracker = form_tracker(
        "the driver on route 12 was rude to my son",
        slots={"service_code": "transit", "service_details": transit, "pending_attributes": []},
        candidates={"description": "the driver on route 12 was rude to my son"},
        requested_slot="description",
    )

    slots = slots_set(await validate(tracker, dispatcher, domain))

    assert slots["requested_slot"] == "contact"


# ------------------------------------------------------------------------- contact, confirm and change


@pytest.mark.parametrize(
    ("said", "stored"),
    [("none", "none"), ("you can email Dana.W@Example.ca", "dana.w@example.ca"), ("(905) 555-0121", "905-555-0121")],
)
async def test_contact_details_are_optional_and_normalized(
    said: str, stored: str, core: HTTPServer, form_tracker: FormTracker, domain: dict[str, Any]
) -> None:
    filled = {k: v for k, v in FILLED.items() if k != "contact"}
    tracker = form_tracker(said, slots=filled, candidates={"contact": said}, requested_slot="contact")

    slots = slots_set(await validate(tracker, CollectingDispatcher(), domain))

    assert slots["contact"] == stored
    assert slots["requested_slot"] == "confirm_report"


async def test_changing_the_location_from_the_confirmation_asks_for_it_again(
    core: HTTPServer, form_tracker: FormTracker, dispatcher: CollectingDispatcher, domain: dict[str, Any]
) -> None:
    detail = [{"entity": "detail", "value": "location"}]
    tracker = form_tracker(
        "wrong address",
        "change_detail",
        detail,
        slots=FILLED,
        candidates={"confirm_report": "location"},
        requested_slot="confirm_report",
    )

    slots = slots_set(await validate(tracker, dispatcher, domain))

    assert slots["location"] is None and slots["municipality"] is None
    assert slots["confirm_report"] is None
    assert slots["requested_slot"] == "location"
    assert dispatcher.messages[0]["text"] == "OK, let's change the location."


async def test_the_confirmation_shows_every_answer(
    form_tracker: FormTracker, dispatcher: CollectingDispatcher, domain: dict[str, Any]
) -> None:
    await ActionAskConfirmReport().run(dispatcher, form_tracker("", slots=FILLED), domain)

    [message] = dispatcher.messages
    assert message["text"].splitlines()[1:7] == [
        "Problem: Pothole or road damage",
        "About how big is the pothole or damaged area? Between a dinner plate and a car tire",
        "Where on the road is it? In a driving lane",
        "Location: 125 Maple Crescent, City of Harlow Falls",
        "Description: A deep pothole in the eastbound lane; cars swerve around it.",
        "Updates to: dana.whitfield@example.ca",
    ]
    assert [b["payload"] for b in message["buttons"]] == ["/affirm", "/change_detail", "/stop"]


# ------------------------------------------------------------------------- sending it


async def test_a_confirmed_report_is_created_and_the_resident_gets_the_reference_and_target(
    core: HTTPServer,
    auth_header: dict[str, str],
    form_tracker: FormTracker,
    dispatcher: CollectingDispatcher,
    load_fixture: JsonLoader,
) -> None:
    core.expect_oneshot_request(
        "/api/v1/requests",
        method="POST",
        headers=auth_header,
        json={
            "service_code": "road_repair",
            "description": "A deep pothole in the eastbound lane; cars swerve around it.",
            "channel": "chat",
            "address": "125 Maple Crescent, City of Harlow Falls",
            "postal_code": None,
            "attributes": {"hole_size": "plate_to_tire", "position": "driving_lane"},
            "kind": "service_request",
            "urgency": "routine",
            "contact": {"name": None, "email": "dana.whitfield@example.ca", "phone": None, "consent": True},
        },
    ).respond_with_json(load_fixture("request_created.json"), status=201)
    tracker = form_tracker("yes", "affirm", slots={**FILLED, "confirm_report": "yes"}, form=None)

    events = await ActionSubmitServiceRequest().run(dispatcher, tracker, {})

    core.check_assertions()
    [message] = dispatcher.messages
    assert "SR-2026-000318" in message["text"]
    assert "Transportation Services" in message["text"]
    # 20:30 UTC on November 30 is 3:30 p.m. in Northvale (EST).
    assert "Monday, November 30 at 3:30 p.m." in message["text"]
    assert SlotSet("service_code", None) in events and SlotSet("contact", None) in events


async def test_a_report_the_core_cannot_take_goes_to_an_agent_with_everything_collected(
    core: HTTPServer, form_tracker: FormTracker, dispatcher: CollectingDispatcher
) -> None:
    core.expect_oneshot_request("/api/v1/requests", method="POST").respond_with_json(
        {"detail": [{"loc": ["body", "attribute[hole_size]"], "msg": "required", "type": "invalid_input"}]},
        status=422,
    )
    tracker = form_tracker("yes", "affirm", slots={**FILLED, "confirm_report": "yes"}, form=None)

    events = await ActionSubmitServiceRequest().run(dispatcher, tracker, {})

    apology, marker = dispatcher.messages
    assert "couldn't file your report" in apology["text"]
    assert marker["custom"]["handoff"]["reason"] == "submission_failed"
    assert marker["custom"]["handoff"]["slots"]["location"] == "125 Maple Crescent"
    assert SlotSet("resume_loop", None) in events


async def test_an_unconfirmed_report_is_never_sent(
    core: HTTPServer, form_tracker: FormTracker, dispatcher: CollectingDispatcher
) -> None:
    events = await ActionSubmitServiceRequest().run(dispatcher, form_tracker("", slots=FILLED, form=None), {})

    assert events == [] and dispatcher.messages == [] and core.log == []


# ------------------------------------------------------------------------- status


async def test_a_reference_typed_loosely_is_normalized(form_tracker: FormTracker, domain: dict[str, Any]) -> None:
    tracker = form_tracker(
        "sr 2026 000412", form="status_form", candidates={"reference": "sr 2026 000412"}, requested_slot="reference"
    )

    events = await ValidateStatusForm().run(CollectingDispatcher(), tracker, domain)

    assert slots_set(events)["reference"] == "SR-2026-000412"


async def test_status_of_a_known_request(
    core: HTTPServer, form_tracker: FormTracker, dispatcher: CollectingDispatcher, load_fixture: JsonLoader
) -> None:
    found = {**load_fixture("request_created.json"), "status": "in_progress", "updated_at": "2026-11-25T16:00:00Z"}
    core.expect_oneshot_request("/api/v1/requests/SR-2026-000318", method="GET").respond_with_json(found)

    events = await ActionRequestStatus().run(
        dispatcher, form_tracker("", slots={"reference": "SR-2026-000318"}, form=None), {}
    )

    [message] = dispatcher.messages
    assert message["text"] == (
        "SR-2026-000318 (Pothole or road damage) is in progress; last updated Wednesday, November 25. "
        "Transportation Services aims to deal with it by Monday, November 30 at 3:30 p.m."
    )
    assert SlotSet("reference", None) in events


async def test_status_of_an_unknown_request_says_so_and_offers_a_person(
    core: HTTPServer, form_tracker: FormTracker, dispatcher: CollectingDispatcher
) -> None:
    core.expect_oneshot_request("/api/v1/requests/SR-2026-999999").respond_with_json({"detail": "nope"}, status=404)

    await ActionRequestStatus().run(dispatcher, form_tracker("", slots={"reference": "SR-2026-999999"}, form=None), {})

    [message] = dispatcher.messages
    assert "couldn't find a request with the reference SR-2026-999999" in message["text"]
    assert "agent" in message["text"]
