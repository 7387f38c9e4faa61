"""What the widget is told about who answers (issue 15, part 3), without a browser: "typing" only while the
assistant works, the queue state with position and an expected wait taken from real waits (and none without a
basis), the agent's first name when they join, the end, and the return to the assistant. FakeRasa stands in for
the assistant; the browser side is tests/app/browser/test_widget_states.py.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker
from test_console import (  # noqa: F401 (fixtures)
    app,
    app_settings,
    browser,
    database_url,
    rasa,
    receive_until,
    signed_in,
    staff,
    text_is,
)

from civicdesk.chat import service as chat
from civicdesk.db import transaction
from civicdesk.models import Department, Holiday

MONDAY_NOON = dt.datetime(2026, 11, 23, 17, 0, tzinfo=dt.UTC)  # 12:00 in Northvale, agents at work


def always_open(session: Session) -> None:
    centre = session.scalars(select(Department).where(Department.code == "service_first")).one()
    centre.business_hours = {day: "00:00-24:00" for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
    session.execute(delete(Holiday))


def answered(session: Session, waited_minutes: float, claimed: dt.datetime, channel: str = "web") -> None:
    """A past chat an agent claimed at `claimed` after waiting `waited_minutes` in the queue."""
    past = chat.start(session, channel=channel)
    past.owner, past.claimed_at = "closed", claimed
    past.queued_at = claimed - dt.timedelta(minutes=waited_minutes)
    session.flush()


def test_the_expected_wait_is_the_median_of_recent_real_waits_or_nothing(
    session_factory: sessionmaker[Session],
) -> None:
    with transaction(session_factory) as session:
        waiting = chat.start(session)
        chat.to_queue(session, waiting, "resident_request", now=MONDAY_NOON)
        assert chat.expected_wait(session, waiting, MONDAY_NOON) is None  # no chat answered yet: no basis
        answered(session, 2, MONDAY_NOON - dt.timedelta(minutes=30))
        answered(session, 9, MONDAY_NOON - dt.timedelta(minutes=20))
        answered(session, 60, MONDAY_NOON - dt.timedelta(hours=3))  # too long ago to say anything about now
        answered(session, 45, MONDAY_NOON - dt.timedelta(minutes=5), channel="sms")  # another channel's queue
        assert chat.expected_wait(session, waiting, MONDAY_NOON) is None  # two recent waits are too few
        answered(session, 4, MONDAY_NOON - dt.timedelta(minutes=10))
        assert chat.expected_wait(session, waiting, MONDAY_NOON) == dt.timedelta(minutes=4)  # of 2, 4 and 9
        answered(session, 6, MONDAY_NOON - dt.timedelta(minutes=1))
        assert chat.expected_wait(session, waiting, MONDAY_NOON) == dt.timedelta(minutes=5)  # of 2, 4, 6 and 9
        saturday = dt.datetime(2026, 11, 28, 17, 0, tzinfo=dt.UTC)
        assert chat.expected_wait(session, waiting, saturday) is None  # agents are away: no number is promised
        chat.claim(session, waiting, "priya.raman@northvale.ca", "Priya")
        assert chat.expected_wait(session, waiting, MONDAY_NOON) is None  # no longer waiting


def test_the_join_notice_gives_a_first_name_or_none_never_the_sign_in(
    session_factory: sessionmaker[Session],
) -> None:
    with transaction(session_factory) as session:
        named, unnamed = chat.start(session), chat.start(session)
        for conversation in (named, unnamed):
            chat.to_queue(session, conversation, "resident_request")
        assert chat.agent_name(session, named) is None  # nobody holds it yet
        joined = chat.claim(session, named, "priya.raman@northvale.ca", "Priya")
        assert joined.text == "Priya from Service First has joined the conversation."
        assert chat.agent_name(session, named) == "Priya"
        anonymous = chat.claim(session, unnamed, "tom.wong@northvale.ca")
        assert anonymous.text == "A Service First agent has joined the conversation."
        assert chat.agent_name(session, unnamed) is None


def state_of(frame: dict[str, Any]) -> dict[str, Any] | None:
    """The state a frame carries: a state frame itself, or the state riding on a message."""
    return frame if frame.get("type") == "state" else frame.get("state")


@pytest.mark.parametrize("seeded_template", ["sqlite"], indirect=True)
@pytest.mark.timeout(120)
def test_the_widget_is_told_typing_queue_places_the_agent_the_end_and_the_return(
    app: Any,  # noqa: F811
    staff: dict[str, str],  # noqa: F811
    session_factory: sessionmaker[Session],
) -> None:
    with transaction(session_factory) as session:
        always_open(session)
    agent, csrf = signed_in(app, staff["agent"])
    fetch = {"accept": "application/json", "x-csrf-token": csrf}
    with browser(app).websocket_connect("/chat/ws") as first, browser(app).websocket_connect("/chat/ws") as second:
        opened = first.receive_json()
        assert opened["state"] == {"type": "state", "owner": "bot"}
        second_opened = second.receive_json()

        first.send_json({"type": "message", "text": "menu"})  # the assistant works: typing, then its answer
        assert first.receive_json() == {"type": "typing"}
        menu = first.receive_json()
        assert menu["text"] == "Pick a topic." and "state" not in menu  # still the assistant: no change to tell

        first.send_json({"type": "message", "text": "I need a person"})
        assert first.receive_json() == {"type": "typing"}
        queued = receive_until(first, text_is("in the queue"))[-1]
        waiting = {"type": "state", "owner": "waiting", "position": 1, "wait_minutes": None, "away": False}
        assert queued["state"] == waiting  # no chat answered yet: no expected wait is made up
        second.send_json({"type": "message", "text": "an agent please"})
        second_queued = receive_until(second, text_is("in the queue"))[-1]
        assert state_of(second_queued) == {**waiting, "position": 2}

        second.send_json({"type": "message", "text": "Are you still there?"})  # queued: nobody is typing
        with session_factory() as session:
            first_id = chat.find(session, opened["id"]).id
            second_id = chat.find(session, second_opened["id"]).id
        assert agent.post(f"/console/chats/{first_id}/claim", headers=fetch).json() == {"ok": True}
        joined = receive_until(first, text_is("has joined"))[-1]
        assert joined["text"] == "Priya from Service First has joined the conversation."
        assert joined["state"] == {"type": "state", "owner": "agent", "agent": "Priya"}
        moved = second.receive_json()  # the next frame: the queue moved (and no "typing" came before it)
        assert moved == {**waiting, "position": 1}

        first.send_json({"type": "message", "text": "Thanks for taking this."})  # with an agent: no typing
        agent.post(f"/console/chats/{first_id}/reply", data={"text": "Happy to help."}, headers=fetch)
        assert first.receive_json()["text"] == "Happy to help."

        handed = agent.post(f"/console/chats/{first_id}/handback", headers=fetch)
        assert handed.json() == {"ok": True}
        # The owner changes before the assistant answers: the state may come alone or on the answer.
        frames = receive_until(first, text_is("Thanks for waiting"))
        assert frames[-1]["author"] == "bot"
        assert {"type": "state", "owner": "bot"} in [state_of(f) for f in frames]

        agent.post(f"/console/chats/{second_id}/claim", headers=fetch)
        receive_until(second, text_is("has joined"))
        agent.post(f"/console/chats/{second_id}/close", headers=fetch)
        closed = receive_until(second, text_is("has ended"))[-1]
        assert closed["state"] == {"type": "state", "owner": "closed"}

        first.send_json({"type": "message", "text": "menu"})
        buttons = receive_until(first, text_is("Pick a topic."))[-1]["buttons"]
        first.send_json({"type": "end"})
        ended = receive_until(first, text_is("You ended the chat"))[-1]
        assert ended["state"] == {"type": "state", "owner": "closed"}
        first.send_json({"type": "message", "text": buttons[0]["title"], "payload": buttons[0]["payload"]})
        assert first.receive_json() == {"type": "error", "message": "that button is no longer available"}
