"""The collection day by address in a real browser on the real stack (core, Rasa with the trained model, action
server; the fixtures of test_browser.py): "when is garbage day on 45 Oak Avenue in Pinecrest?" is answered from the
zone table in one reply, and a question without an address gets the question for it, then the answer (issue 15).
Screenshots go to var/test-artifacts/."""

from __future__ import annotations

import datetime as dt

import pytest
from browsing import ARTIFACTS, assert_accessible
from playwright.sync_api import Browser, expect
from test_browser import TURN_MS, Stack, browser, say, stack  # noqa: F401 (fixtures)

from civicdesk.business_time import REGION_TZ
from civicdesk.knowledge.collection import CollectionDays


@pytest.mark.timeout(600)
def test_the_collection_day_for_an_address_appears_in_the_chat(request: pytest.FixtureRequest) -> None:
    running: Stack = request.getfixturevalue("stack")  # the real stack of test_browser.py, started for this module
    chromium: Browser = request.getfixturevalue("browser")
    table = CollectionDays.from_seed()
    phone = chromium.new_context(base_url=running.url, viewport={"width": 390, "height": 844})
    resident = phone.new_page()
    resident.set_default_timeout(TURN_MS)
    try:
        resident.goto("/")
        resident.get_by_role("button", name="Chat with us").click()
        expect(resident.locator(".nvc-msg-system").first).to_be_visible()

        question = "when is garbage day on 45 Oak Avenue in Pinecrest?"
        answers = say(resident, question)
        # What the table says for Northvale's today, so the test holds on any day of the year.
        expected = table.lookup(question, dt.datetime.now(REGION_TZ).date())
        assert expected.status == "found" and expected.answer is not None and expected.answer.day == "Tuesday"
        day_and_weeks = expected.message.splitlines()[:2]
        assert any(answer.splitlines()[:2] == day_and_weeks for answer in answers), answers
        bubble = resident.locator(".nvc-msg-bot .nvc-text").filter(has_text="your collection day is Tuesday")
        expect(bubble).to_be_visible()
        resident.screenshot(path=str(ARTIFACTS / "widget-collection-day.png"))
        assert_accessible(resident)

        asked = say(resident, "what day is bin day?")
        assert any("What is your street address?" in a for a in asked), asked
        answered = say(resident, "12 Birch Crescent, Harlow Falls")
        wanted = "12 Birch Crescent, Harlow Falls: your collection day is Wednesday."
        assert any(a.startswith(wanted) for a in answered), answered
    except Exception:
        resident.screenshot(path=str(ARTIFACTS / "failure-collection-day.png"), full_page=True)
        print(running.tail())
        raise
    finally:
        phone.close()
