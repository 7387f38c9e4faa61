"""Appointments and event RSVPs against a local stand-in for the core API."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from rasa_sdk import Tracker
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.bookings import (
    ActionAskAppointmentSlot,
    ActionBookAppointment,
    ActionCancelAppointment,
    ActionListEvents,
    ActionRescheduleAppointment,
    ActionRsvpEvent,
    ValidateBookingForm,
    ValidateCancelBookingForm,
    ValidateRsvpForm,
)

pytestmark = pytest.mark.asyncio

FormTracker = Callable[..., Tracker]
JsonLoader = Callable[[str], Any]
OFFERED = [
    {"id": 412, "starts_at": "2026-11-24T15:00:00Z", "location_name": "Harlow Falls Health Office", "type": "flu"},
    {"id": 413, "starts_at": "2026-11-24T15:15:00Z", "location_name": "Harlow Falls Health Office", "type": "flu"},
]


def slots_set(events: list[dict[str, Any]]) -> dict[str, Any]:
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


async def test_open_times_near_the_resident_are_offered_as_buttons(
    core: HTTPServer,
    auth_header: dict[str, str],
    form_tracker: FormTracker,
    dispatcher: CollectingDispatcher,
    load_fixture: JsonLoader,
) -> None:
    core.expect_oneshot_request(
        "/api/v1/appointments/slots",
        query_string={"type": "flu_covid_vaccine", "limit": "6", "location": "harlow_falls_office"},
        headers=auth_header,
    ).respond_with_json(load_fixture("open_slots.json"))
    slots = {"appointment_type": "flu_covid_vaccine", "municipality": "City of Harlow Falls"}

    events = await ActionAskAppointmentSlot().run(dispatcher, form_tracker("", slots=slots, form="booking_form"), {})

    core.check_assertions()
    [message] = dispatcher.messages
    assert message["buttons"][0] == {
        "title": "Tuesday, November 24 at 10:00 a.m., Harlow Falls Health Office",
        "payload": '/inform{"slot_id": "412"}',
    }
    assert [s["id"] for s in slots_set(events)["offered_slots"]] == [412, 413]


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
    assert len(buttons) == 3


@pytest.mark.parametrize(
    ("said", "expected", "buttons"),
    [
        ("water_rate_open_house", "water_rate_open_house", 0),
        ("water_rate", "water_rate_open_house", 0),
        ("budget_town_hall", None, 2),  # two town halls: the resident picks one
    ],
)
async def test_an_event_is_matched_from_a_button_or_a_topic(
    said: str,
    expected: str | None,
    buttons: int,
    core: HTTPServer,
    form_tracker: FormTracker,
    dispatcher: CollectingDispatcher,
    domain: dict[str, Any],
    load_fixture: JsonLoader,
) -> None:
    core.expect_request("/api/v1/events").respond_with_json(load_fixture("events.json"))
    tracker = form_tracker(said, "rsvp_event", form="rsvp_form", candidates={"event": said}, requested_slot=None)

    events = await ValidateRsvpForm().run(dispatcher, tracker, domain)

    assert slots_set(events)["event"] == expected
    if buttons:
        assert len(dispatcher.messages[0]["buttons"]) == buttons
    else:
        assert dispatcher.messages == []


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
