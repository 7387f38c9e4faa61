"""The widget's states in a real browser (issue 15, part 3), against the core web app and a scripted fake Rasa:
"typing" only while the assistant works (and never for ever), waiting with the place in the queue (two
residents: 1 and 2, then 2 moves to 1), an agent who joins from the console and hands back, the end by the agent
and by the resident (old buttons and the message box disabled, a new chat offered), the header's buttons whole at
a narrow width and at 200% zoom, and the favicon. axe-core checks each state; a screenshot of each goes to
var/test-artifacts/widget-state-*.png.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from browsing import ARTIFACTS, PHONE, assert_accessible
from helpers import SLOW_ANSWER_SECONDS
from playwright.sync_api import Browser, Locator, Page, expect
from test_widget import bot_says, browser, core, settings  # noqa: F401 (fixtures)

from civicdesk.chat import service as chat
from civicdesk.db import make_engine, make_session_factory, transaction
from civicdesk.settings import Settings
from civicdesk.staff import auth

AGENT = ("dana.kowalski@northvale.ca", "Dana Kowalski", "harbour lights at dusk 2026")
TYPING = "The assistant is typing…"


def shot(tab: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=str(ARTIFACTS / f"widget-state-{name}.png"))


def status(tab: Page) -> Locator:
    return tab.get_by_role("status")


def send(tab: Page, text: str) -> None:
    tab.locator("#nvc-input").fill(text)
    tab.locator("#nvc-input").press("Enter")


@pytest.fixture
def resident(browser: Browser, core: str) -> Iterator[Page]:  # noqa: F811 (the fixtures imported above)
    context = browser.new_context(base_url=core, viewport=PHONE)
    tab = context.new_page()
    tab.set_default_timeout(15_000)
    tab.goto("/")
    yield tab
    context.close()


@pytest.fixture(scope="module")
def agent_account(settings: Settings) -> str:  # noqa: F811 (the fixture imported above)
    engine = make_engine(settings.sqlalchemy_url)
    with transaction(make_session_factory(engine)) as session:
        auth.create_user(session, *AGENT, "agent")
    engine.dispose()
    return AGENT[0]


@pytest.fixture
def desk(browser: Browser, core: str, agent_account: str) -> Iterator[Page]:  # noqa: F811
    context = browser.new_context(base_url=core, viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    tab.set_default_timeout(15_000)
    tab.goto("/console/login")
    tab.get_by_label("Email").fill(AGENT[0])
    tab.get_by_label("Password").fill(AGENT[2])
    tab.get_by_role("button", name="Sign in").click()
    expect(tab.get_by_role("heading", level=1)).to_be_visible()
    yield tab
    context.close()


def conversation_id(tab: Page, settings: Settings) -> int:  # noqa: F811
    """The database id of the conversation in this tab (the widget keeps its public id in sessionStorage)."""
    public_id = tab.evaluate("sessionStorage.getItem('northvale-chat-conversation')")
    engine = make_engine(settings.sqlalchemy_url)
    with make_session_factory(engine)() as session:
        found = chat.find(session, public_id).id
    engine.dispose()
    return found


@pytest.mark.timeout(180)
def test_typing_shows_while_the_assistant_works_then_goes(resident: Page) -> None:
    resident.get_by_role("button", name="Chat with us").click()
    send(resident, "slowly: where do I pay a parking ticket?")
    expect(status(resident)).to_have_text(TYPING)  # the fake assistant takes SLOW_ANSWER_SECONDS to answer
    shot(resident, "typing")
    assert_accessible(resident)
    bot_says(resident, "You said: slowly: where do I pay a parking ticket?")
    expect(status(resident)).to_have_text("")  # the answer ends it
    expect(resident.locator("#nvc-panel")).not_to_have_class(re.compile(r"\bnvc-busy\b"))


@pytest.mark.timeout(180)
def test_typing_stops_by_itself_when_no_answer_comes(browser: Browser, core: str) -> None:  # noqa: F811
    context = browser.new_context(base_url=core, viewport=PHONE)
    tab = context.new_page()
    tab.clock.install()  # the widget's timers run on a clock the test moves
    tab.goto("/")
    tab.get_by_role("button", name="Chat with us").click()
    send(tab, "slowly: is the pool open today?")
    expect(status(tab)).to_have_text(TYPING)
    tab.clock.run_for(20_000)  # the widget's time-out, while the answer is still SLOW_ANSWER_SECONDS away
    expect(status(tab)).not_to_have_text(TYPING, timeout=int(SLOW_ANSWER_SECONDS * 1000) // 2)
    bot_says(tab, "You said: slowly: is the pool open today?")  # a late answer is still shown
    context.close()


@pytest.mark.timeout(240)
def test_queue_places_move_an_agent_joins_hands_back_and_ends(
    browser: Browser,  # noqa: F811
    core: str,  # noqa: F811
    desk: Page,
    settings: Settings,  # noqa: F811
) -> None:
    phones = [browser.new_context(base_url=core, viewport=PHONE) for _ in range(2)]
    first, second = (context.new_page() for context in phones)
    try:
        for resident in (first, second):
            resident.set_default_timeout(15_000)
            resident.goto("/")
            resident.get_by_role("button", name="Chat with us").click()
        send(first, "I need to talk to a person about my water bill")
        expect(status(first)).to_contain_text("Waiting for a Service First agent. You are number 1 in the queue.")
        # No chat has been answered in this database yet: no wait is made up.
        expect(status(first)).to_contain_text("An agent will be with you as soon as possible.")
        expect(status(first)).not_to_contain_text("typing")
        send(second, "Can I speak to an agent about a tree on my street?")
        expect(status(second)).to_contain_text("You are number 2 in the queue.")
        shot(second, "waiting-2")
        assert_accessible(second)

        # Waiting long enough brings the callback offer, which stays while the resident waits and writes.
        offer = first.get_by_role("button", name="Leave a message")
        expect(offer).to_be_visible()
        send(first, "I'm still here.")  # while queued nobody is typing
        expect(first.locator(".nvc-msg-resident").last).to_have_text(re.compile("I'm still here."))
        first.wait_for_timeout(500)
        expect(status(first)).not_to_contain_text("typing")
        expect(offer).to_be_enabled()
        shot(first, "waiting-1")
        assert_accessible(first)

        desk.goto(f"/console/chats/{conversation_id(first, settings)}")
        desk.get_by_role("button", name="Claim this conversation").click()
        expect(status(first)).to_have_text("An agent has joined: you are chatting with Dana from Service First.")
        expect(first.locator(".nvc-msg-system").filter(has_text="Dana from Service First has joined")).to_be_visible()
        expect(first.locator(".nvc-log")).not_to_contain_text("Kowalski")
        expect(status(second)).to_contain_text("You are number 1 in the queue.")  # the queue moved
        expect(offer).to_be_disabled()  # no longer waiting: the offer is moot, and says so
        expect(first.locator(".nvc-offer")).to_have_attribute("aria-label", re.compile("no longer needed"))
        shot(first, "agent-joined")
        assert_accessible(first)
        shot(second, "moved-to-1")

        desk.goto(f"/console/chats/{conversation_id(second, settings)}")
        desk.get_by_role("button", name="Claim this conversation").click()
        expect(status(second)).to_contain_text("chatting with Dana")
        send(second, "The tree is leaning over the sidewalk.")  # with an agent: no typing either
        expect(desk.locator("#transcript")).to_contain_text("leaning over the sidewalk")
        expect(status(second)).to_contain_text("chatting with Dana")
        desk.get_by_role("button", name="Hand back to the assistant").click()
        expect(status(second)).to_have_text("You are chatting with the virtual assistant again.")
        bot_says(second, "Thanks for waiting.")
        shot(second, "back-with-assistant")
        assert_accessible(second)

        desk.goto(f"/console/chats/{conversation_id(first, settings)}")
        desk.get_by_role("button", name="Close the conversation").click()
        expect(status(first)).to_contain_text("This chat has ended.")
        expect(first.locator(".nvc-log button")).not_to_have_count(0)
        expect(first.locator(".nvc-log button:enabled")).to_have_count(0)
        expect(first.locator("#nvc-input")).to_be_disabled()
        expect(first.get_by_role("button", name="Send", exact=True)).to_be_disabled()
        expect(first.get_by_role("button", name="End chat")).to_be_hidden()
        expect(first.get_by_role("button", name="Start a new chat")).to_be_visible()
        shot(first, "ended-by-agent")
        assert_accessible(first)
    finally:
        for context in phones:
            context.close()


@pytest.mark.timeout(180)
def test_after_the_resident_ends_old_buttons_are_disabled_and_a_new_chat_starts(resident: Page) -> None:
    resident.get_by_role("button", name="Chat with us").click()
    send(resident, "menu")
    bot_says(resident, "Pick a topic.")
    choice = resident.get_by_role("button", name="Garbage and recycling")
    expect(choice).to_be_enabled()
    first = resident.evaluate("sessionStorage.getItem('northvale-chat-conversation')")
    resident.get_by_role("button", name="End chat").click()
    resident.get_by_role("button", name="End the chat").click()
    expect(resident.locator(".nvc-msg-system").filter(has_text="You ended the chat.")).to_be_visible()
    expect(choice).to_be_disabled()  # announced as unavailable; its group says why
    expect(resident.get_by_role("listitem", name=re.compile("Suggested replies, no longer available"))).to_be_visible()
    expect(resident.locator("#nvc-input")).to_be_disabled()
    restart = resident.get_by_role("button", name="Start a new chat")
    expect(restart).to_be_focused()  # focus was on a control that no longer works
    expect(status(resident)).to_have_text(
        "This chat has ended. Its buttons no longer work. To ask something else, start a new chat."
    )
    shot(resident, "ended-by-resident")
    assert_accessible(resident)

    resident.reload()  # the ended chat is resumed as ended
    expect(resident.locator("#nvc-input")).to_be_disabled()
    expect(resident.locator(".nvc-log button:enabled")).to_have_count(0)
    resident.get_by_role("button", name="Start a new chat").click()
    expect(resident.locator("#nvc-input")).to_be_enabled()
    expect(resident.locator("#nvc-input")).to_be_focused()
    expect(resident.locator(".nvc-msg")).to_have_count(1)  # the greeting of a new chat
    send(resident, "menu")
    bot_says(resident, "Pick a topic.")
    expect(resident.get_by_role("button", name="Garbage and recycling")).to_be_enabled()
    second = resident.evaluate("sessionStorage.getItem('northvale-chat-conversation')")
    assert second and second != first


@pytest.mark.timeout(180)
@pytest.mark.parametrize(
    ("name", "viewport", "scale"),
    [("narrow-320", {"width": 320, "height": 640}, 1), ("zoom-200", {"width": 640, "height": 450}, 2)],
)
def test_the_header_buttons_are_whole_at_a_narrow_width_and_at_200_percent_zoom(
    browser: Browser,  # noqa: F811
    core: str,  # noqa: F811
    name: str,
    viewport: dict[str, int],
    scale: int,
) -> None:
    """200% zoom of a 1280 x 900 window is a 640 px wide layout drawn at twice the pixels."""
    context = browser.new_context(base_url=core, viewport=viewport, device_scale_factor=scale)
    tab = context.new_page()
    tab.goto("/")
    tab.get_by_role("button", name="Chat with us").click()
    panel = tab.locator("#nvc-panel").bounding_box()
    assert panel is not None
    for label in ("Minimize the chat", "End chat"):
        button = tab.get_by_role("button", name=label)
        overflow = button.evaluate("e => e.scrollWidth - e.clientWidth")
        assert overflow <= 0, f"{label}'s words overflow by {overflow} px at {name}"
        box = button.bounding_box()
        assert box is not None
        assert panel["x"] <= box["x"] and box["x"] + box["width"] <= panel["x"] + panel["width"], label
    expect(tab.get_by_role("button", name="Minimize the chat")).to_have_text("Minimize")
    tab.screenshot(path=str(ARTIFACTS / f"widget-header-{name}.png"))
    assert_accessible(tab)
    context.close()


def test_the_favicon_is_served_as_an_image(resident: Page) -> None:
    icon = resident.request.get("/favicon.ico")
    assert icon.status == 200 and icon.headers["content-type"] == "image/x-icon"
    assert icon.body()[:4] == b"\x00\x00\x01\x00"  # an ICO file's header
    vector = resident.request.get("/static/favicon.svg")
    assert vector.status == 200 and vector.headers["content-type"].startswith("image/svg+xml")
    hrefs = resident.locator("link[rel=icon]").evaluate_all("links => links.map(l => l.getAttribute('href'))")
    assert hrefs == ["/favicon.ico", "/static/favicon.svg"]
