"""Answers that carry the facts, in a real browser on the real stack (core, Rasa with the trained model, action
server; the fixtures of test_browser.py): the chat answers with the section of the article that answers the question
(a table as one line per row, a list as "•" lines), then the article's link, then asks whether that answered the
question; a "No" is recorded as a knowledge gap with the question and the article given (issue 15).
Screenshots go to var/test-artifacts/."""

from __future__ import annotations

import pytest
from browsing import ARTIFACTS, assert_accessible
from playwright.sync_api import Browser, expect
from sqlalchemy import select
from test_browser import TURN_MS, Stack, browser, press, say, stack  # noqa: F401 (fixtures)

from civicdesk.db import make_engine, make_session_factory
from civicdesk.models import KnowledgeGap

DEPOT_QUESTION = "When is the household hazardous waste depot open?"
PAY_QUESTION = "What are the ways to pay my property tax?"


@pytest.mark.timeout(600)
def test_the_chat_gives_the_depot_hours_and_the_ways_to_pay_and_a_no_becomes_a_knowledge_gap(
    request: pytest.FixtureRequest,
) -> None:
    running: Stack = request.getfixturevalue("stack")  # the real stack of test_browser.py, started for this module
    chromium: Browser = request.getfixturevalue("browser")
    phone = chromium.new_context(base_url=running.url, viewport={"width": 390, "height": 844})
    resident = phone.new_page()
    resident.set_default_timeout(TURN_MS)
    try:
        resident.goto("/")
        resident.get_by_role("button", name="Chat with us").click()
        expect(resident.locator(".nvc-msg-system").first).to_be_visible()

        # The depot hours: the hours table, one line per depot, then the link on its own line.
        depot = say(resident, DEPOT_QUESTION)
        answer = next((a for a in depot if "Household hazardous waste depots" in a), None)
        assert answer is not None, depot
        lines = answer.splitlines()
        assert any("85 Depot Drive" in line and "Tuesday to Saturday, 8:30 a.m. to 4:00 p.m." in line for line in lines)
        assert any(
            "2275 Sideroad 15" in line and "Thursday to Saturday, 8:30 a.m. to 4:00 p.m." in line for line in lines
        )
        assert lines[-1] == "More on northvale.ca: https://www.northvale.ca/waste/hazardous-waste"
        link = resident.locator(".nvc-msg-bot a.nvc-link").last
        expect(link).to_have_attribute("href", "https://www.northvale.ca/waste/hazardous-waste")
        assert "Did that answer your question?" in depot[-1]
        resident.screenshot(path=str(ARTIFACTS / "widget-depot-hours.png"))
        assert_accessible(resident)
        assert any("glad that helped" in a for a in press(resident, "Yes"))

        # The ways to pay: a list, one "•" line per way.
        pay = say(resident, PAY_QUESTION)
        answer = next((a for a in pay if "Ways to pay your property tax" in a), None)
        assert answer is not None, pay
        ways = [line for line in answer.splitlines() if line.startswith("• ")]
        for way in ("Online or telephone banking", "Pre-authorized payments", "In person", "By mail or drop box"):
            assert any(way in line for line in ways), answer
        assert answer.splitlines()[-1] == "More on northvale.ca: https://www.northvale.ca/tax/pay"
        resident.screenshot(path=str(ARTIFACTS / "widget-ways-to-pay.png"))

        # "No": the assistant offers a person, and the question is a knowledge gap with the article it was given.
        offered = press(resident, "No")
        assert any("Would you like me to connect you with a Service First agent?" in a for a in offered), offered
        press(resident, "No, thanks")
    except Exception:
        resident.screenshot(path=str(ARTIFACTS / "failure-answers.png"), full_page=True)
        print(running.tail())
        raise
    finally:
        phone.close()
    engine = make_engine(running.settings.sqlalchemy_url)
    try:
        with make_session_factory(engine)() as session:
            gaps = session.execute(
                select(KnowledgeGap.query, KnowledgeGap.top_slug).where(KnowledgeGap.reason == "not_answered")
            ).all()
    finally:
        engine.dispose()
    assert [tuple(gap) for gap in gaps] == [(PAY_QUESTION, "property-tax-payment-options")]
