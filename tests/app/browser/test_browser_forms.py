"""Forms that take what residents say, in a real browser on the real stack (core, Rasa, actions) (issue 15).

At the booking's time question a resident types when they can come ("Thursday after 2pm") and gets Thursday
afternoon times; at the name question "Rita Resident" is a name, not a suspected outbreak, and the booking is
made; "mail me a form to apply for a dog licence" goes straight to that form's next question.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from browsing import ARTIFACTS, assert_accessible
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select
from test_browser import TURN_MS, Stack, browser, press, say, stack  # noqa: F401 (fixtures)

from civicdesk.db import make_engine, make_session_factory
from civicdesk.models import Conversation

BOOKING_REFERENCE = re.compile(r"AP-[A-Z0-9]{6}")
TIME_BUTTON = re.compile(
    r"^(\w+day), \w+ \d{1,2} at (\d{1,2})(?::(\d{2}))? ([ap])\.m\.$|^(\w+day), \w+ \d{1,2} at noon$"
)


@pytest.fixture
def resident(stack: Stack, browser: Browser) -> Iterator[Page]:  # noqa: F811 (the fixtures imported above)
    phone = browser.new_context(base_url=stack.url, viewport={"width": 390, "height": 844})
    page = phone.new_page()
    page.set_default_timeout(TURN_MS)
    page.goto("/")
    page.get_by_role("button", name="Chat with us").click()
    expect(page.locator(".nvc-msg-system").first).to_be_visible()
    try:
        yield page
    except Exception:
        page.screenshot(path=str(ARTIFACTS / "failure-forms.png"), full_page=True)
        print(stack.tail())
        raise
    finally:
        phone.close()


def buttons(page: Page) -> list[str]:
    return page.locator(".nvc-replies .nvc-reply").all_inner_texts()


def hour_of(title: str) -> tuple[str, int]:
    """('Thursday', 14) from 'Thursday, December 10 at 2:00 p.m.'."""
    found = TIME_BUTTON.match(title)
    assert found, title
    if found.group(5):
        return found.group(5), 12
    hour = int(found.group(2)) % 12 + (12 if found.group(4) == "p" else 0)
    return found.group(1), hour


def test_thursday_after_2pm_offers_thursday_afternoon_and_rita_resident_books(
    stack: Stack,  # noqa: F811 (the fixture imported above)
    resident: Page,
) -> None:
    first = say(resident, "I'd like to book a flu shot")
    assert any("soonest open times" in a for a in first), first
    times = [b for b in buttons(resident) if not b.startswith("Another clinic")]
    # A few times spread over days and parts of the day at one clinic, not one 9:00 at five clinics.
    assert len(times) >= 2 and len(set(times)) == len(times), times
    assert any(b.startswith("Another clinic") for b in buttons(resident))

    offered = say(resident, "I can only come Thursday after 2pm")
    assert not any("Please choose one of the times offered" in a for a in offered), offered
    assert any("after 2 p.m." in a for a in offered), offered
    thursday = [b for b in buttons(resident) if not b.startswith("Another clinic")]
    if any(" fit " in a for a in offered):  # (on a Thursday evening, the nearest times are offered instead)
        assert thursday and all(hour_of(b)[0] == "Thursday" and hour_of(b)[1] >= 14 for b in thursday), thursday
    resident.screenshot(path=str(ARTIFACTS / "widget-booking-thursday-afternoon.png"))
    assert_accessible(resident)

    asked = press(resident, thursday[0])
    assert any("What name should the booking be under?" in a for a in asked), asked
    after_name = say(resident, "Rita Resident")
    assert not any("outbreak" in a or "alerting a Service First agent" in a for a in after_name), after_name
    assert any("email address or phone number" in a for a in after_name), after_name
    booked = say(resident, "rita.resident@example.ca")
    assert BOOKING_REFERENCE.search(" ".join(booked)), booked
    assert any("You're booked" in a and "Thursday" in a for a in booked), booked

    engine = make_engine(stack.settings.sqlalchemy_url)
    try:
        with make_session_factory(engine)() as session:
            latest = session.scalars(select(Conversation).order_by(Conversation.id.desc()).limit(1)).one()
            # No emergency queue entry: the assistant kept the conversation, nobody was alerted.
            assert latest.urgency != "emergency" and latest.handoff_reason is None
    finally:
        engine.dispose()


def test_a_form_named_in_the_first_message_is_not_asked_for_again(resident: Page) -> None:
    answers = say(resident, "can you mail me a form to apply for a dog licence")
    assert not any("Which form or guide" in a for a in answers), answers
    assert any("Who should we address the envelope to?" in a for a in answers), answers
    say(resident, "Rita Resident")
    say(resident, "14 Sickle Court")
    say(resident, "Northvale")
    say(resident, "L3X 2B7")
    done = say(resident, "rita.resident@example.ca")
    assert any("Dog and cat licence application" in a and "Your reference is" in a for a in done), done
