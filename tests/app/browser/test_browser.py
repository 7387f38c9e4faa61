"""The whole chat path in a real browser, on the real stack: the core web app (`civicdesk serve`), the Rasa server
with the trained model (`civicdesk rasa`) and the action server (`civicdesk actions`), all on loopback.

A resident (a phone-sized browser context) asks a knowledgebase question, reports a pothole through the
assistant's form and gets a reference, and asks for a person. An agent (a second context) signs in, sees the chat
in the queue, claims it; they exchange messages; the agent hands back and the assistant answers the next
question. Screenshots go to var/test-artifacts/; axe-core checks the widget and the console pages.
Rasa takes a minute or more to load, so the stack starts once for the module.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from browsing import ARTIFACTS, assert_accessible, launch, seeded_sqlite
from helpers import free_port
from playwright.sync_api import Browser, Page, expect, sync_playwright
from sqlalchemy import select

from civicdesk.db import make_engine, make_session_factory, transaction
from civicdesk.models import KnowledgeGap
from civicdesk.settings import PROJECT_ROOT, Settings
from civicdesk.staff import auth

STARTUP_SECONDS = 300
AGENT = ("dana.kowalski@northvale.ca", "Dana Kowalski", "pothole patrol 2026 spring")
REFERENCE = re.compile(r"SR-\d{4}-\d{6}")
TURN_MS = 30_000  # the assistant's slowest turns (first use of a policy, a cold action) stay well under this


@dataclass
class Stack:
    url: str
    settings: Settings
    logs: Path

    def tail(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text()[-2500:]}" for p in sorted(self.logs.glob("*.log")))


def _wait_until_up(url: str, process: subprocess.Popen[bytes], deadline: float) -> bool:
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(1)
    return False


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    folder = tmp_path_factory.mktemp("stack")
    settings = seeded_sqlite(folder)
    # CIVICDESK_MODELS_DIR, when set, picks another trained model (e.g. one being tried out); default var/models.
    models_dir = Path(os.environ.get("CIVICDESK_MODELS_DIR") or settings.models_dir)
    settings = settings.model_copy(update={"port": free_port(), "models_dir": models_dir})
    model = settings.models_dir / "civicdesk.tar.gz"
    assert model.exists(), f"{model} is missing: `make test` trains it before the suite (make models)"
    engine = make_engine(settings.sqlalchemy_url)
    with transaction(make_session_factory(engine)) as session:
        auth.create_user(session, AGENT[0], AGENT[1], AGENT[2], "agent")
    engine.dispose()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CIVICDESK_")}
    env.update(
        CIVICDESK_ENV="test",
        CIVICDESK_VAR_DIR=str(settings.var_dir),
        CIVICDESK_HOST="127.0.0.1",
        CIVICDESK_PORT=str(settings.port),
        CIVICDESK_RASA_URL=settings.rasa_url,
        CIVICDESK_ACTION_SERVER_URL=settings.action_server_url,
        CIVICDESK_SECRET_KEY=settings.secret_key.get_secret_value(),
        CIVICDESK_ACTIONS_TOKEN=settings.actions_token.get_secret_value(),
        CIVICDESK_CHAT_POLL_SECONDS="0.3",
        CIVICDESK_MODELS_DIR=str(models_dir),
    )
    logs = folder / "logs"
    logs.mkdir()
    processes: list[subprocess.Popen[bytes]] = []
    for name in ("serve", "rasa", "actions"):  # all three load at once; Rasa is the slow one
        with (logs / f"{name}.log").open("w") as log:
            processes.append(
                subprocess.Popen(
                    [str(PROJECT_ROOT / ".venv" / "bin" / "civicdesk"), name],
                    cwd=PROJECT_ROOT,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
    running = Stack(settings.public_core_url, settings, logs)
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        for process, url in zip(
            processes,
            (running.url + "/widget.js", settings.rasa_url + "/", settings.action_server_url + "/health"),
            strict=True,
        ):
            if not _wait_until_up(url, process, deadline):
                pytest.fail(f"{url} did not come up:\n{running.tail()}")
        yield running
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = launch(playwright)
        yield browser
        browser.close()


def replies(page: Page) -> int:
    return page.locator(".nvc-msg-bot, .nvc-msg-system, .nvc-msg-agent").count()


def say(page: Page, text: str) -> list[str]:
    """Type a message, then return what the assistant (or the system) answered to it."""
    before = replies(page)
    page.locator("#nvc-input").fill(text)
    page.locator("#nvc-input").press("Enter")
    return _answers(page, before)


def press(page: Page, title: str) -> list[str]:
    before = replies(page)
    page.locator(".nvc-replies .nvc-reply").filter(has_text=title).first.click()
    return _answers(page, before)


def _answers(page: Page, before: int) -> list[str]:
    page.wait_for_function(
        "n => document.querySelectorAll('.nvc-msg-bot, .nvc-msg-system, .nvc-msg-agent').length > n",
        arg=before,
        timeout=TURN_MS,
    )
    page.wait_for_timeout(400)  # the rest of the same turn arrives together, within milliseconds
    texts = page.locator(".nvc-msg-bot .nvc-text, .nvc-msg-system .nvc-text, .nvc-msg-agent .nvc-text")
    return texts.all_inner_texts()[before:]


# How a resident answers the report form, by what the assistant asks. Buttons are preferred where offered.
PREFERRED_BUTTONS = (
    "Yes, send it",
    "Pothole",
    "Road",
    "Between a dinner plate and a car tire",
    "In a driving lane",
    "City of Harlow Falls",
    "No contact details",
    "No",
)
TYPED_ANSWERS = (
    ("where is it", "Harlow Road and Elm Street"),
    ("municipality", "City of Harlow Falls"),
    ("describe", "A deep pothole in the eastbound lane by the bus stop, about 40 cm across."),
    ("email address or phone", "no"),
)


def report_a_pothole(page: Page) -> str:
    """Go through the assistant's report form; returns the reference it gives. Bounded: a form that never
    ends fails the test with the conversation so far."""
    answers = say(page, "I want to report a pothole on Harlow Road")
    transcript = list(answers)
    for _ in range(12):
        found = REFERENCE.search(" ".join(answers))
        if found:
            return found.group(0)
        buttons = page.locator(".nvc-replies .nvc-reply").all_inner_texts()
        choice = next((b for wanted in PREFERRED_BUTTONS for b in buttons if b.startswith(wanted)), None)
        asked = answers[-1].lower() if answers else ""
        typed = next((reply for cue, reply in TYPED_ANSWERS if cue in asked), None)
        if choice is not None and (typed is None or "email address or phone" in asked):
            answers = press(page, choice)
        elif typed is not None:
            answers = say(page, typed)
        elif buttons:
            answers = press(page, buttons[0])
        else:
            pytest.fail(
                "the report form asked something unexpected (is var/models trained from the current bot/ data? "
                "`make models`):\n" + "\n".join(transcript)
            )
        transcript.extend(answers)
    pytest.fail("the report form gave no reference:\n" + "\n".join(transcript))


@pytest.mark.timeout(900)
def test_a_resident_and_an_agent_share_a_conversation_end_to_end(stack: Stack, browser: Browser) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    phone = browser.new_context(base_url=stack.url, viewport={"width": 390, "height": 844})
    desk = browser.new_context(base_url=stack.url, viewport={"width": 1366, "height": 900})
    resident, agent = phone.new_page(), desk.new_page()
    for page in (resident, agent):
        page.set_default_timeout(TURN_MS)
    try:
        # The resident asks the knowledgebase.
        resident.goto("/")
        resident.get_by_role("button", name="Chat with us").click()
        expect(resident.locator(".nvc-msg-system").first).to_be_visible()  # connected: the widget's greeting
        answer = say(resident, "Can I get a Regional document in large print or braille?")
        assert any("Accessible formats" in a and "https://www.northvale.ca/" in a for a in answer), answer
        expect(resident.locator(".nvc-msg-bot a.nvc-link").last).to_have_attribute("href", re.compile("^https://"))
        press(resident, "Yes")

        # ... reports a pothole through the form and gets a reference ...
        reference = report_a_pothole(resident)

        # ... and asks for a person.
        handed = say(resident, "I would like to talk to a real person please")
        assert any("in the queue" in a for a in handed), handed
        resident.screenshot(path=str(ARTIFACTS / "widget-waiting.png"))
        assert_accessible(resident)

        # An agent signs in and sees the chat in the queue.
        agent.goto("/console/login")
        assert_accessible(agent)
        agent.get_by_label("Email").fill(AGENT[0])
        agent.get_by_label("Password").fill(AGENT[2])
        agent.get_by_role("button", name="Sign in").click()
        expect(agent.get_by_role("heading", name="Work queue")).to_be_visible()
        waiting = agent.locator("#queue tbody a").first
        expect(waiting).to_be_visible()
        agent.screenshot(path=str(ARTIFACTS / "console-queue.png"))
        assert_accessible(agent)
        waiting.click()
        expect(agent.get_by_role("heading", name="Handoff")).to_be_visible()
        agent.get_by_role("button", name="Claim this conversation").click()
        expect(
            resident.locator(".nvc-msg-system").filter(has_text="Dana from Service First has joined")
        ).to_be_visible()

        # They exchange messages, both ways, live; markup stays text on both sides.
        agent.get_by_label("Reply to the resident").fill(f"Hello, this is Dana. I see your report {reference}.")
        agent.get_by_role("button", name="Send").click()
        expect(resident.locator(".nvc-msg-agent").filter(has_text=f"I see your report {reference}")).to_be_visible()
        typed = 'Thanks! <img src=x onerror="window.pwned=1"> It is a deep one.'
        resident.locator("#nvc-input").fill(typed)
        resident.locator("#nvc-input").press("Enter")
        expect(agent.locator("#transcript .msg-resident .text").filter(has_text="It is a deep one.")).to_have_text(
            typed
        )
        assert agent.evaluate("window.pwned === undefined") and resident.evaluate("window.pwned === undefined")
        agent.screenshot(path=str(ARTIFACTS / "console-conversation.png"), full_page=True)
        assert_accessible(agent)

        # The agent hands back, and the assistant answers the next question.
        agent.get_by_role("button", name="Hand back to the assistant").click()
        # One notice, the assistant's own (the core adds no second, near-identical one).
        back = resident.locator(".nvc-msg").filter(has_text="chatting with the virtual assistant again")
        expect(back).to_have_count(1)
        expect(back).to_have_class(re.compile(r"\bnvc-msg-bot\b"))
        answer = say(resident, "How can I pay my property tax?")
        assert any("https://www.northvale.ca/" in a for a in answer), answer
        resident.screenshot(path=str(ARTIFACTS / "widget-after-handback.png"))
        assert_accessible(resident)

        agent.goto("/console/requests")
        expect(agent.get_by_role("link", name=reference)).to_be_visible()
        assert_accessible(agent)
    except Exception:
        for name, page in (("resident", resident), ("agent", agent)):
            page.screenshot(path=str(ARTIFACTS / f"failure-{name}.png"), full_page=True)
        print(stack.tail())
        raise
    finally:
        phone.close()
        desk.close()


def test_what_the_assistant_did_not_understand_becomes_a_knowledge_gap(stack: Stack, browser: Browser) -> None:
    """'I'm not sure' offers the next steps; each message not understood is a knowledge gap for trainers (stored
    redacted: tests/app/service_requests/test_internal_api.py)."""
    phone = browser.new_context(base_url=stack.url, viewport={"width": 390, "height": 844})
    resident = phone.new_page()
    resident.set_default_timeout(TURN_MS)
    try:
        resident.goto("/")
        resident.get_by_role("button", name="Chat with us").click()
        expect(resident.locator(".nvc-msg-system").first).to_be_visible()
        first = say(resident, "zorp flimbly quaxen")
        assert any("not sure I understood" in a for a in first), first
        for offered in ("Report a problem", "See everything I can do", "Talk to a person"):
            expect(resident.locator(".nvc-replies .nvc-reply").filter(has_text=offered)).to_be_visible()
        resident.screenshot(path=str(ARTIFACTS / "widget-not-understood.png"))
        assert_accessible(resident)
        second = say(resident, "blorptic wexhammer")
        assert any("in the queue" in a for a in second), second  # the second in a row goes to a person
    except Exception:
        resident.screenshot(path=str(ARTIFACTS / "failure-not-understood.png"), full_page=True)
        print(stack.tail())
        raise
    finally:
        phone.close()
    engine = make_engine(stack.settings.sqlalchemy_url)
    try:
        with make_session_factory(engine)() as session:
            gaps = session.execute(select(KnowledgeGap.query, KnowledgeGap.reason).order_by(KnowledgeGap.id)).all()
    finally:
        engine.dispose()
    # the last two messages not understood (the first test's conversation may have left others before them)
    assert [tuple(gap) for gap in gaps if gap.reason == "not_understood"][-2:] == [
        ("zorp flimbly quaxen", "not_understood"),
        ("blorptic wexhammer", "not_understood"),
    ]
