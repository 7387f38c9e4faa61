"""The chat widget in a real browser (Debian's Chromium through Playwright), against the core web app and a
scripted fake Rasa: keyboard use, quick replies, resuming after a reload, markup shown as text, the callback
offer, phones, and axe-core's WCAG 2.1 AA checks. The full stack with the real assistant is test_browser.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from browsing import ARTIFACTS, PHONE, ThreadedServer, assert_accessible, launch, seeded_sqlite
from helpers import SCRIPT, FakeRasa
from playwright.sync_api import Browser, Page, expect, sync_playwright
from sqlalchemy import delete, select

from civicdesk.chat import service as chat
from civicdesk.db import make_engine, make_session_factory, transaction
from civicdesk.models import ChatMessage, Department, Holiday
from civicdesk.settings import Settings


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settings]:
    fake = FakeRasa()
    settings = seeded_sqlite(tmp_path_factory.mktemp("widget"))
    engine = make_engine(settings.sqlalchemy_url)
    with transaction(make_session_factory(engine)) as session:
        # Agents always at work: the offer test needs the wait, not the clock, to trigger the offer.
        centre = session.scalars(select(Department).where(Department.code == "service_first")).one()
        centre.business_hours = {day: "00:00-24:00" for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
        session.execute(delete(Holiday))
    engine.dispose()
    yield settings.model_copy(update={"rasa_url": fake.url, "chat_agent_wait_seconds": 1.0, "chat_poll_seconds": 0.3})
    fake.server.shutdown()


@pytest.fixture(scope="module")
def core(settings: Settings) -> Iterator[str]:
    with ThreadedServer(settings) as server:
        yield server.url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = launch(playwright)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser, core: str) -> Iterator[Page]:
    context = browser.new_context(base_url=core, viewport=PHONE)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto("/")
    yield page
    context.close()


def bot_says(page: Page, text: str) -> None:
    expect(page.locator(".nvc-msg-bot .nvc-text").filter(has_text=text).last).to_be_visible()


@pytest.mark.timeout(180)
def test_keyboard_only_chat_with_quick_replies(page: Page) -> None:
    for _ in range(40):  # Tab through the page to the launcher, as a keyboard user would
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.className") == "nvc-launcher":
            break
    else:
        pytest.fail("the chat launcher cannot be reached with Tab")
    page.keyboard.press("Enter")
    expect(page.locator("#nvc-input")).to_be_focused()
    page.keyboard.type("menu")
    page.keyboard.press("Enter")
    bot_says(page, "Pick a topic.")
    page.keyboard.press("Shift+Tab")  # from the message box back to the suggested reply
    expect(page.locator(".nvc-reply")).to_be_focused()
    page.keyboard.press("Enter")
    bot_says(page, 'You said: /ask_question{"kb_query": "garbage day"}')
    expect(page.locator(".nvc-msg-resident .nvc-text").nth(1)).to_have_text("Garbage and recycling")
    focus_ring = page.locator("#nvc-input").evaluate("e => (e.focus(), getComputedStyle(e).outlineStyle)")
    assert focus_ring == "solid"
    page.keyboard.press("Escape")
    expect(page.locator(".nvc-launcher")).to_be_focused()


@pytest.mark.timeout(180)
def test_the_conversation_resumes_after_a_reload_and_is_private_to_its_tab(
    page: Page, browser: Browser, core: str
) -> None:
    page.get_by_role("button", name="Chat with us").click()
    page.locator("#nvc-input").fill("Is the landfill open on Saturday?")
    page.locator("#nvc-input").press("Enter")
    bot_says(page, "You said: Is the landfill open on Saturday?")
    page.reload()
    expect(page.locator("#nvc-panel")).to_be_visible()  # still open, same conversation
    bot_says(page, "You said: Is the landfill open on Saturday?")
    other = browser.new_context(base_url=core)
    stranger = other.new_page()
    stranger.goto("/")
    stranger.get_by_role("button", name="Chat with us").click()
    expect(stranger.locator(".nvc-msg-system")).to_have_count(1)  # a new conversation: only the greeting
    expect(stranger.locator(".nvc-log")).not_to_contain_text("landfill")
    other.close()


@pytest.mark.timeout(180)
def test_markup_from_residents_and_the_assistant_stays_text(page: Page) -> None:
    page.get_by_role("button", name="Chat with us").click()
    typed = '<img src=x onerror="window.pwned=1"><b>bold</b>'
    page.locator("#nvc-input").fill(typed)
    page.locator("#nvc-input").press("Enter")
    bot_says(page, "You said: <img src=x")
    page.locator("#nvc-input").fill("markup please")
    page.locator("#nvc-input").press("Enter")
    expect(page.locator(".nvc-msg-bot .nvc-text").last).to_have_text(SCRIPT)
    expect(page.locator(".nvc-msg-resident .nvc-text").first).to_have_text(typed)
    assert page.locator(".nvc-log img, .nvc-log b, .nvc-log script").count() == 0
    assert page.evaluate("window.pwned === undefined && window.__pwned === undefined")


@pytest.mark.timeout(180)
def test_a_waiting_resident_can_leave_a_message_instead(page: Page, settings: Settings) -> None:
    page.get_by_role("button", name="Chat with us").click()
    page.locator("#nvc-input").fill("I would like to talk to a person")
    page.locator("#nvc-input").press("Enter")
    expect(page.locator(".nvc-msg-system").filter(has_text="number 1 in the queue")).to_be_visible()
    page.get_by_role("button", name="Leave a message").click()  # offered after chat_agent_wait_seconds
    expect(page.get_by_label("Your name")).to_be_focused()
    page.get_by_label("Your name").fill("Amrit Gill")
    page.get_by_label("Email").fill("amrit.gill@example.org")
    page.get_by_label("Your message (required)").fill("My green bin was missed on Tuesday on Cedar Crescent.")
    page.get_by_role("button", name="Send the message").click()
    expect(page.locator(".nvc-msg-system").filter(has_text="as service request SR-")).to_be_visible()
    engine = make_engine(settings.sqlalchemy_url)
    with make_session_factory(engine)() as session:
        texts = session.scalars(select(ChatMessage.text).where(ChatMessage.author == "system")).all()
    engine.dispose()
    assert any("as service request SR-" in t for t in texts)


@pytest.mark.timeout(180)
def test_the_widget_and_the_page_pass_axe_on_a_phone(page: Page) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    assert_accessible(page)  # the page with the closed launcher
    page.get_by_role("button", name="Chat with us").click()
    page.locator("#nvc-input").fill("menu")
    page.locator("#nvc-input").press("Enter")
    bot_says(page, "Pick a topic.")
    box = page.locator("#nvc-panel").bounding_box()
    assert box is not None and box["width"] >= PHONE["width"] - 1  # the panel fills a phone's screen
    page.screenshot(path=str(ARTIFACTS / "widget-phone.png"))
    assert_accessible(page)


@pytest.mark.timeout(180)
def test_ending_the_chat_asks_for_a_rating_and_the_next_message_starts_afresh(page: Page, settings: Settings) -> None:
    page.get_by_role("button", name="Chat with us").click()
    page.locator("#nvc-input").fill("When is the landfill open?")
    page.locator("#nvc-input").press("Enter")
    bot_says(page, "You said: When is the landfill open?")
    first = page.evaluate("sessionStorage.getItem('northvale-chat-conversation')")
    page.get_by_role("button", name="End chat").click()
    survey = page.get_by_role("group", name="Before you go: how did we do? (optional)")
    expect(survey).to_be_visible()
    assert_accessible(page)
    page.keyboard.press("ArrowRight")  # from "1 Poor" (focused) to "2 Fair", as radio groups do
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    expect(page.get_by_label("4 Very good")).to_be_checked()
    page.get_by_label("Anything we could do better? (optional)").fill("Clear answer.")
    page.get_by_role("button", name="End the chat").click()
    expect(page.locator(".nvc-msg-system").filter(has_text="Thank you for your feedback.")).to_be_visible()
    engine = make_engine(settings.sqlalchemy_url)
    with make_session_factory(engine)() as session:
        ended = chat.find(session, first)
        assert (ended.owner, ended.rating, ended.rating_comment) == ("closed", 4, "Clear answer.")
    engine.dispose()
    expect(page.locator("#nvc-input")).to_be_disabled()  # an ended chat takes no more; a new one is started
    page.get_by_role("button", name="Start a new chat").click()
    page.locator("#nvc-input").fill("And the hazardous waste depot?")
    page.locator("#nvc-input").press("Enter")
    bot_says(page, "You said: And the hazardous waste depot?")
    second = page.evaluate("sessionStorage.getItem('northvale-chat-conversation')")
    assert second and second != first  # a new conversation; the ended one is not resumed
