"""Appointments and event RSVPs against a local stand-in for the core API."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from rasa_sdk import Tracker
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from werkzeug import Request, Response

from actions.bookings import (
    ActionAskAppointmentSlot,
    ActionAskEvent,
    ActionBookAppointment,
    ActionCancelAppointment,
    ActionListEvents,
    ActionRescheduleAppointment,
    ActionRsvpEvent,
    ValidateBookingForm,
    ValidateCancelBookingForm,
    ValidateRsvpForm,
)
from actions.parsing import REGION_TZ

pytestmark = pytest.mark.asyncio

FormTracker = Callable[..., Tracker]
JsonLoader = Callable[[str], Any]
OFFERED = [
    {"id": 412, "starts_at": "2026-11-24T15:00:00Z", "location_name": "Harlow Falls Health Office", "type": "flu"},
    {"id": 413, "starts_at": "2026-11-24T15:15:00Z", "location_name": "Harlow Falls Health Office", "type": "flu"},
]


def slots_set(events: list[dict[str, Any]]) -> dict[str, Any]:
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


def clinic_schedule(request: Request) -> Response:
    """The core's open times of the fixture's flu clinics: Tuesday to Thursday, 9:00 to 16:00 every 10 minutes,
    for two weeks from the conversation's day (Wednesday, November 18, 2026), soonest first, as the core filters
    them by location and first day."""
    location, limit = request.args["location"], int(request.args["limit"])
    first = dt.date.fromisoformat(request.args.get("from_date", "2026-11-18"))
    names = {"harlow_falls_office": "Harlow Falls Health Office", "northvale_hq": "Northvale Public Health"}
    slots = []
    for offset in range(14):
        day = dt.date(2026, 11, 18) + dt.timedelta(days=offset)
        if day < first or day.weekday() not in (1, 2, 3) or location not in names:
            continue
        for minutes in range(9 * 60, 16 * 60, 10):
            starts = dt.datetime.combine(day, dt.time(minutes // 60, minutes % 60), REGION_TZ)
            if starts <= NOW:
                continue
            slot_id = int(f"{offset:02d}{minutes:04d}") + (0 if location == "northvale_hq" else 500000)
            slots.append(
                {"id": slot_id, "type": "flu_covid_vaccine", "location": location, "location_name": names[location],
                 "starts_at": starts.isoformat(), "ends_at": (starts + dt.timedelta(minutes=10)).isoformat(),
                 "seats_left": 4}
            )  # fmt: skip
    return Response(json.dumps(slots[:limit]), content_type="application/json")


NOW = dt.datetime(2026, 11, 18, 6, 23, tzinfo=REGION_TZ)  # tracker_form.json's user message


async def offer(
    core: HTTPServer, form_tracker: FormTracker, load_fixture: JsonLoader, **slots: Any
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Ask for a time with these slots set; the message sent and the times offered."""
    core.expect_request("/api/v1/appointments/types").respond_with_json(load_fixture("appointment_types.json"))
    core.expect_request("/api/v1/appointments/slots").respond_with_handler(clinic_schedule)
    dispatcher = CollectingDispatcher()
    tracker = form_tracker("", slots={"appointment_type": "flu_covid_vaccine", **slots}, form="booking_form")
    events = await ActionAskAppointmentSlot().run(dispatcher, tracker, {})
    [message] = dispatcher.messages
    return message, slots_set(events)["offered_slots"]


def local(slot: dict[str, Any]) -> dt.datetime:
    return dt.datetime.fromisoformat(slot["starts_at"]).astimezone(REGION_TZ)


async def test_a_few_spread_times_at_one_clinic_are_offered_with_the_other_clinics(
    core: HTTPServer, form_tracker: FormTracker, load_fixture: JsonLoader
) -> None:
    message, offered = await offer(core, form_tracker, load_fixture)

    # Not the same 9:00 at every clinic: four times at one clinic, on different days or parts of the day.
    assert len({s["location_name"] for s in offered}) == 1 and len(offered) == 4
    assert len({(local(s).date(), local(s).hour < 12) for s in offered}) == 4
    assert local(offered[0]) == dt.datetime(2026, 11, 18, 9, 0, tzinfo=REGION_TZ)
    # Both clinics open at 9:00: the first the core lists is offered; Pinecrest has no open times.
    assert "soonest open times at Harlow Falls Health Office, 215 Mill Street" in message["text"]
    clinics = [b["title"] for b in message["buttons"] if b["title"].startswith("Another clinic")]
    assert clinics == ["Another clinic: Northvale Public Health, Regional Headquarters"]
    assert "Thursday afternoon" not in message["text"] and "another day or time" in message["text"]


async def test_thursday_after_2pm_offers_thursday_afternoon_times(
    core: HTTPServer, form_tracker: FormTracker, load_fixture: JsonLoader
) -> None:
    message, offered = await offer(
        core, form_tracker, load_fixture, appointment_wish="I can only come Thursday after 2pm"
    )

    assert offered and all(local(s).date() == dt.date(2026, 11, 19) and local(s).hour >= 14 for s in offered)
    assert "fit Thursday, November 19, after 2 p.m. Which one" in message["text"]  # one full stop, not two
    assert message["buttons"][0]["title"] == "Thursday, November 19 at 2:00 p.m."


async def test_a_place_named_chooses_the_clinic(
    core: HTTPServer, form_tracker: FormTracker, load_fixture: JsonLoader
) -> None:
    message, offered = await offer(
        core, form_tracker, load_fixture, municipality="City of Harlow Falls", appointment_wish="thursday afternoon"
    )

    assert {s["location_name"] for s in offered} == {"Harlow Falls Health Office"}
    assert all(12 <= local(s).hour < 17 and local(s).weekday() == 3 for s in offered)
    assert "Harlow Falls Health Office, 215 Mill Street, Harlow Falls" in message["text"]
    assert message["buttons"][-1] == {
        "title": "Another clinic: Northvale Public Health, Regional Headquarters",
        "payload": '/inform{"municipality": "City of Northvale"}',
    }


async def test_a_wish_nothing_fits_gets_the_nearest_times_and_says_so(
    core: HTTPServer, form_tracker: FormTracker, load_fixture: JsonLoader
) -> None:
    message, offered = await offer(core, form_tracker, load_fixture, appointment_wish="Saturday morning")

    assert message["text"].startswith("There are no open times Saturday, November 21, in the morning")
    # The nearest: the next Tuesday's morning first (nothing before), then other days and parts of the day.
    assert local(offered[0]) == dt.datetime(2026, 11, 24, 9, 0, tzinfo=REGION_TZ)
    assert all(local(s).date() >= dt.date(2026, 11, 24) for s in offered) and len(offered) == 4


@pytest.mark.parametrize(
    ("said", "entities", "wish", "municipality"),
    [
        ("I can only come Thursday after 2pm", [], "I can only come Thursday after 2pm", None),
        (
            "Can I go to Harlow Falls on Thursday afternoon?",
            [{"entity": "municipality", "value": "City of Harlow Falls"}],
            "Can I go to Harlow Falls on Thursday afternoon?",
            "City of Harlow Falls",
        ),
        ("next week", [], "next week", None),
        ("Harlow Falls", [], None, "City of Harlow Falls"),
        ('/inform{"municipality": "City of Pinecrest"}', [{"entity": "municipality", "value": "Pinecrest"}], None,
         "Town of Pinecrest"),
    ],
)  # fmt: skip
async def test_a_day_time_or_place_at_the_time_question_searches_again_without_counting_a_failure(
    said: str,
    entities: list[dict[str, Any]],
    wish: str | None,
    municipality: str | None,
    form_tracker: FormTracker,
    dispatcher: CollectingDispatcher,
    domain: dict[str, Any],
) -> None:
    tracker = form_tracker(
        said,
        entities=entities,
        slots={"appointment_type": "flu_covid_vaccine", "offered_slots": OFFERED, "failed_attempts": 1},
        form="booking_form",
        candidates={"appointment_slot": said},
        requested_slot="appointment_slot",
    )

    events = await ValidateBookingForm().run(dispatcher, tracker, domain)

    changed = slots_set(events)
    assert changed["appointment_slot"] is None and changed["requested_slot"] == "appointment_slot"
    assert changed.get("appointment_wish") == wish and changed.get("municipality") == municipality
    assert changed["failed_attempts"] == 0 and dispatcher.messages == []  # no handoff: the question is asked again


async def test_next_week_read_as_a_question_about_events_still_answers_the_time_question(
    form_tracker: FormTracker, dispatcher: CollectingDispatcher, domain: dict[str, Any]
) -> None:
    # ask_events is an intent the booking form ignores: Rasa extracts nothing, the validation reads the answer.
    tracker = form_tracker(
        "next week",
        intent="ask_events",
        slots={"appointment_type": "flu_covid_vaccine", "offered_slots": OFFERED},
        form="booking_form",
        requested_slot="appointment_slot",
    )

    events = await ValidateBookingForm().run(dispatcher, tracker, domain)

    assert slots_set(events)["appointment_wish"] == "next week"


async def test_a_time_that_is_neither_offered_nor_a_day_time_or_place_is_refused_with_examples(
    form_tracker: FormTracker, dispatcher: CollectingDispatcher, domain: dict[str, Any]
) -> None:
    tracker = form_tracker(
        "whatever",
        slots={"appointment_type": "flu_covid_vaccine", "offered_slots": OFFERED},
        form="booking_form",
        candidates={"appointment_slot": "whatever"},
        requested_slot="appointment_slot",
    )

    events = await ValidateBookingForm().run(dispatcher, tracker, domain)

    assert slots_set(events)["failed_attempts"] == 1
    assert '"Thursday afternoon" or "Harlow Falls"' in dispatcher.messages[0]["text"]


async def test_no_open_time_ends_the_booking_with_a_phone_number(
    core: HTTPServer, form_tracker: FormTracker, dispatcher: CollectingDispatcher
) -> None:
    core.expect_request("/api/v1/appointments/slots").respond_with_json([])

    events = await ActionAskAppointmentSlot().run(
        dispatcher, form_tracker("", slots={"appointment_type": "travel_health"}, form="booking_form"), {}
    )

    assert events == [ActiveLoop(None), SlotSet("requested_slot", None)]
    assert "905-555-0123" in dispatcher.messages[0]["text"]


@pytest.mark.parametrize(
    ("text", "entities", "chosen"),
    [
        ('/inform{"slot_id": "413"}', [{"entity": "slot_id", "value": "413"}], "413"),
        ("the second one", [], "413"),
        ("Tuesday at 10:15", [], "413"),  # one of the times offered, typed
        ('/inform{"slot_id": "999"}', [{"entity": "slot_id", "value": "999"}], None),
    ],
)
async def test_a_time_is_chosen_only_among_those_offered(
    text: str,
    entities: list[dict[str, Any]],
    chosen: str | None,
    form_tracker: FormTracker,
    dispatcher: CollectingDispatcher,
    domain: dict[str, Any],
) -> None:
    tracker = form_tracker(
        text,
        entities=entities,
        slots={"appointment_type": "flu_covid_vaccine", "offered_slots": OFFERED},
        form="booking_form",
        candidates={"appointment_slot": text},
        requested_slot="appointment_slot",
    )

    events = await ValidateBookingForm().run(dispatcher, tracker, domain)

    assert slots_set(events)["appointment_slot"] == chosen
    # The municipality only narrows the clinics; it is never asked for.
    assert slots_set(events)["requested_slot"] == ("contact_name" if chosen else "appointment_slot")


async def test_an_ambiguous_kind_of_appointment_offers_the_matches(
    core: HTTPServer,
    form_tracker: FormTracker,
    dispatcher: CollectingDispatcher,
    domain: dict[str, Any],
    load_fixture: JsonLoader,
) -> None:
    core.expect_request("/api/v1/appointments/types").respond_with_json(load_fixture("appointment_types.json"))
    tracker = form_tracker(
        "dental", form="booking_form", candidates={"appointment_type": "dental"}, requested_slot="appointment_type"
    )

    events = await ValidateBookingForm().run(dispatcher, tracker, domain)

    assert slots_set(events)["appointment_type"] is None
    titles = [b["title"] for b in dispatcher.messages[0]["buttons"]]
    assert titles == ["Seniors dental clinic (Ontario Seniors Dental Care Program)", "Children's dental screening"]


async def test_a_day_in_the_first_message_is_kept_for_the_time_question(
    core: HTTPServer,
    form_tracker: FormTracker,
    dispatcher: CollectingDispatcher,
    domain: dict[str, Any],
    load_fixture: JsonLoader,
) -> None:
    core.expect_request("/api/v1/appointments/types").respond_with_json(load_fixture("appointment_types.json"))
    said = "can I get a flu shot on Thursday afternoon"
    tracker = form_tracker(
        said, "book_appointment", form="booking_form", candidates={"appointment_type": "flu_covid_vaccine"}
    )

    events = await ValidateBookingForm().run(dispatcher, tracker, domain)

    assert slots_set(events)["appointment_type"] == "flu_covid_vaccine"
    assert slots_set(events)["appointment_wish"] == said


async def test_a_booking_is_made_with_the_residents_contact(
    core: HTTPServer,
    auth_header: dict[str, str],
    form_tracker: FormTracker,
    dispatcher: CollectingDispatcher,
    load_fixture: JsonLoader,
) -> None:
    core.expect_oneshot_request(
        "/api/v1/appointments/bookings",
        method="POST",
        headers=auth_header,
        json={
            "slot_id": 413,
            "contact": {"name": "Priya Raman", "email": None, "phone": "289-555-0163", "consent": True},
            "channel": "chat",
        },
    ).respond_with_json(load_fixture("booking.json"), status=201)
    slots = {"appointment_slot": "413", "contact_name": "Priya Raman", "contact": "289-555-0163"}

    events = await ActionBookAppointment().run(dispatcher, form_tracker("", slots=slots, form=None), {})

    core.check_assertions()
    text = dispatcher.messages[0]["text"]
    assert "AP-7K3QX9" in text and "Tuesday, November 24 at 10:15 a.m." in text
    assert "12 Birch Avenue, Harlow Falls, ON L3X 2B7" in text
    assert SlotSet("appointment_slot", None) in events


async def test_a_time_that_just_filled_is_explained(
    core: HTTPServer, form_tracker: FormTracker, dispatcher: CollectingDispatcher
) -> None:
    core.expect_oneshot_request("/api/v1/appointments/bookings", method="POST").respond_with_json(
        {"detail": "that time has just filled"}, status=409
    )
    slots = {"appointment_slot": "413", "contact_name": "Priya Raman", "contact": "289-555-0163"}

    await ActionBookAppointment().run(dispatcher, form_tracker("", slots=slots, form=None), {})

    assert "that time has just filled" in dispatcher.messages[0]["text"]


async def test_a_booking_reference_is_normalized(form_tracker: FormTracker, domain: dict[str, Any]) -> None:
    tracker = form_tracker(
        "ap 7k3qx9",
        form="cancel_booking_form",
        candidates={"booking_reference": "ap 7k3qx9"},
        requested_slot="booking_reference",
    )

    events = await ValidateCancelBookingForm().run(CollectingDispatcher(), tracker, domain)

    assert slots_set(events)["booking_reference"] == "AP-7K3QX9"
    assert slots_set(events)["requested_slot"] == "contact"


async def test_cancelling_sends_the_contact_as_proof_in_the_body(
    core: HTTPServer,
    form_tracker: FormTracker,
    dispatcher: CollectingDispatcher,
    load_fixture: JsonLoader,
) -> None:
    cancelled = {**load_fixture("booking.json"), "status": "cancelled"}
    core.expect_oneshot_request(
        "/api/v1/appointments/bookings/AP-7K3QX9", method="DELETE", json={"contact": "sam@example.ca"}
    ).respond_with_json(cancelled)
    slots = {"booking_reference": "AP-7K3QX9", "contact": "sam@example.ca"}

    await ActionCancelAppointment().run(dispatcher, form_tracker("", slots=slots, form=None), {})

    core.check_assertions()
    assert "is cancelled" in dispatcher.messages[0]["text"]


async def test_an_unknown_booking_or_wrong_contact_gets_one_answer(
    core: HTTPServer, form_tracker: FormTracker, dispatcher: CollectingDispatcher
) -> None:
    core.expect_oneshot_request("/api/v1/appointments/bookings/AP-7K3QX9", method="DELETE").respond_with_json(
        {"detail": "no appointment with that reference for that email address or phone number"}, status=404
    )
    slots = {"booking_reference": "AP-7K3QX9", "contact": "905-555-0100"}

    await ActionCancelAppointment().run(dispatcher, form_tracker("", slots=slots, form=None), {})

    assert "couldn't find a booking with that reference" in dispatcher.messages[0]["text"]


async def test_rescheduling_moves_the_booking_to_the_chosen_time(
    core: HTTPServer, form_tracker: FormTracker, dispatcher: CollectingDispatcher, load_fixture: JsonLoader
) -> None:
    core.expect_oneshot_request(
        "/api/v1/appointments/bookings/AP-7K3QX9", method="PATCH", json={"contact": "sam@example.ca", "slot_id": 412}
    ).respond_with_json(load_fixture("booking.json"))
    slots = {"booking_reference": "AP-7K3QX9", "contact": "sam@example.ca", "appointment_slot": "412"}

    await ActionRescheduleAppointment().run(dispatcher, form_tracker("", slots=slots, form=None), {})

    core.check_assertions()
    assert dispatcher.messages[0]["text"].startswith("Done. Your Flu and COVID-19 vaccine clinic appointment")


CHANGES = {
    "cancel": (ActionCancelAppointment, "DELETE", {}),
    "reschedule": (ActionRescheduleAppointment, "PATCH", {"appointment_slot": "412"}),
}


@pytest.mark.parametrize("change", sorted(CHANGES))
@pytest.mark.parametrize(
    ("status", "answer", "told"),
    [
        (404, {"detail": "not found"}, "couldn't find a booking with that reference"),
        (409, {"detail": "the appointment has already taken place"}, "the appointment has already taken place"),
        (503, {"detail": "maintenance"}, "can't reach our booking system"),
    ],
)
async def test_a_booking_the_core_cannot_change_is_explained_and_the_task_ends(
    core: HTTPServer,
    form_tracker: FormTracker,
    dispatcher: CollectingDispatcher,
    change: str,
    status: int,
    answer: dict[str, str],
    told: str,
) -> None:
    action, method, extra_slots = CHANGES[change]
    core.expect_oneshot_request("/api/v1/appointments/bookings/AP-7K3QX9", method=method).respond_with_json(
        answer, status=status
    )
    slots = {"booking_reference": "AP-7K3QX9", "contact": "sam@example.ca", **extra_slots}

    events = await action().run(dispatcher, form_tracker("", slots=slots, form=None), {})

    core.check_assertions()
    assert len(dispatcher.messages) == 1 and told in dispatcher.messages[0]["text"]
    assert slots_set(events)["booking_reference"] is None


# ------------------------------------------------------------------------------------------ events


async def test_upcoming_events_are_listed_with_rsvp_buttons(
    core: HTTPServer, form_tracker: FormTracker, dispatcher: CollectingDispatcher, load_fixture: JsonLoader
) -> None:
    core.expect_request("/api/v1/events").respond_with_json(load_fixture("events.json"))

    await ActionListEvents().run(dispatcher, form_tracker("what's on", "ask_events", form=None), {})

    buttons = dispatcher.messages[0]["buttons"]
    assert buttons[0] == {
        "title": "2027 Regional Budget Town Hall, Wednesday, December 2",
        "payload": '/rsvp_event{"event": "budget_town_hall_northvale"}',
    }
    assert len(buttons) == 5


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        ("water_rate_open_house", "water_rate_open_house"),
        ("water_rate", "water_rate_open_house"),
        ("I'd like to come to the public consultation on the transit plan", "transit_plan_harlow_falls"),
        ("can I join the transit plan consultation online", "transit_plan_online"),
        ("budget_town_hall", None),  # two town halls: the resident picks one
        ("I'd like to go to the transit plan consultation", None),  # in person or online: a real choice
    ],
)
async def test_the_first_message_names_the_event_when_no_real_choice_remains(
    said: str,
    expected: str | None,
    core: HTTPServer,
    form_tracker: FormTracker,
    dispatcher: CollectingDispatcher,
    domain: dict[str, Any],
    load_fixture: JsonLoader,
) -> None:
    core.expect_request("/api/v1/events").respond_with_json(load_fixture("events.json"))
    tracker = form_tracker(said, "rsvp_event", form="rsvp_form", requested_slot=None)

    events = await ValidateRsvpForm().run(dispatcher, tracker, domain)

    assert slots_set(events)["event"] == expected
    assert dispatcher.messages == []  # when a choice remains, the question lists the events


@pytest.mark.parametrize(
    ("said", "first"),
    [
        ("budget town hall", {"budget_town_hall_northvale", "budget_town_hall_port_sable"}),
        ("I'd like to go to the transit plan consultation", {"transit_plan_harlow_falls", "transit_plan_online"}),
    ],
)
async def test_the_events_question_lists_the_likeliest_first(
    said: str,
    first: set[str],
    core: HTTPServer,
    form_tracker: FormTracker,
    dispatcher: CollectingDispatcher,
    load_fixture: JsonLoader,
) -> None:
    core.expect_request("/api/v1/events").respond_with_json(load_fixture("events.json"))

    await ActionAskEvent().run(dispatcher, form_tracker(said, "rsvp_event", form="rsvp_form"), {})

    codes = [b["payload"].split('"')[3] for b in dispatcher.messages[0]["buttons"]]
    assert set(codes[:2]) == first and len(codes) == 5


async def test_a_full_event_without_an_online_option_is_refused(
    core: HTTPServer,
    form_tracker: FormTracker,
    dispatcher: CollectingDispatcher,
    domain: dict[str, Any],
    load_fixture: JsonLoader,
) -> None:
    core.expect_request("/api/v1/events").respond_with_json(load_fixture("events.json"))
    said = "budget_town_hall_port_sable"
    tracker = form_tracker(said, "rsvp_event", form="rsvp_form", candidates={"event": said}, requested_slot=None)

    events = await ValidateRsvpForm().run(dispatcher, tracker, domain)

    assert slots_set(events)["event"] is None
    assert "is full" in dispatcher.messages[0]["text"]


async def test_an_rsvp_reserves_the_seats(
    core: HTTPServer, form_tracker: FormTracker, dispatcher: CollectingDispatcher
) -> None:
    core.expect_oneshot_request(
        "/api/v1/events/water_rate_open_house/rsvps",
        method="POST",
        json={
            "contact": {"name": "Marc Belanger", "email": "marc.b@example.com", "phone": None, "consent": True},
            "party_size": 2,
            "channel": "chat",
        },
    ).respond_with_json(
        {
            "reference": "EV-4HT9KW",
            "status": "confirmed",
            "event": "water_rate_open_house",
            "title": "Water and Wastewater Rate Review Open House",
            "venue": "Harlow Falls Arena Hall",
            "address": "215 Mill Street, Harlow Falls, ON L3X 2B7",
            "starts_at": "2026-12-05T18:00:00Z",
            "party_size": 2,
            "online_option": None,
        },
        status=201,
    )
    slots = {
        "event": "water_rate_open_house",
        "party_size": "2",
        "contact_name": "Marc Belanger",
        "contact": "marc.b@example.com",
    }

    await ActionRsvpEvent().run(dispatcher, form_tracker("", slots=slots, form=None), {})

    core.check_assertions()
    text = dispatcher.messages[0]["text"]
    assert "EV-4HT9KW" in text and "for 2 people" in text and "Saturday, December 5 at 1:00 p.m." in text
