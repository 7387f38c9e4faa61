"""The chat gateway without the assistant: ids, history, the queue, ownership, bad input, Rasa being down."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from civicdesk.app import create_app
from civicdesk.chat import service as chat
from civicdesk.db import transaction
from civicdesk.models import Conversation
from civicdesk.settings import Settings


@pytest.fixture
def client(settings: Settings, session_factory: sessionmaker[Session]) -> Iterator[TestClient]:
    # settings.rasa_url points at a free port nobody listens on: the assistant is "down".
    with TestClient(create_app(settings)) as client:
        yield client


def test_each_visitor_gets_an_unguessable_conversation_and_resumes_it(client: TestClient) -> None:
    with client.websocket_connect("/chat/ws") as first, client.websocket_connect("/chat/ws") as second:
        one, two = first.receive_json(), second.receive_json()
    assert one["type"] == "conversation" and one["history"] == [] and one["owner"] == "bot"
    assert one["id"] != two["id"] and len(one["id"]) >= 32
    with client.websocket_connect(f"/chat/ws?conversation={one['id']}") as again:
        one = again.receive_json()  # nothing said: nothing was kept to resume
        again.send_json({"type": "end"})  # the first input writes the conversation under the id just given
        again.receive_json()
    with client.websocket_connect(f"/chat/ws?conversation={one['id']}") as again:
        assert again.receive_json()["id"] == one["id"]
    with client.websocket_connect("/chat/ws?conversation=guessed-id") as stranger:
        assert stranger.receive_json()["id"] not in (one["id"], two["id"])


def test_when_the_assistant_is_down_the_message_is_kept_and_queued(client: TestClient) -> None:
    with client.websocket_connect("/chat/ws") as socket:
        conversation = socket.receive_json()["id"]
        socket.send_json({"type": "message", "text": "Is my street being plowed tonight?"})
        assert socket.receive_json() == {"type": "typing"}
        down, queued = socket.receive_json(), socket.receive_json()
    assert down["author"] == "system" and "not available right now" in down["text"]
    assert queued["author"] == "system" and "number 1 in the queue" in queued["text"]
    with client.websocket_connect(f"/chat/ws?conversation={conversation}") as socket:
        resumed = socket.receive_json()
    assert resumed["owner"] == "waiting"
    assert [(m["author"], m["text"][:20]) for m in resumed["history"]][0] == ("resident", "Is my street being p")
    assert len(resumed["history"]) == 3


def test_bad_input_is_explained_and_the_socket_stays_open(client: TestClient) -> None:
    with client.websocket_connect("/chat/ws") as socket:
        socket.receive_json()
        socket.send_text("not json")
        assert socket.receive_json()["type"] == "error"
        socket.send_json({"type": "message", "text": "   "})
        assert socket.receive_json() == {"type": "error", "message": "the message is empty"}
        socket.send_json({"type": "message", "text": "x" * 2001})
        assert "limited to 2000" in socket.receive_json()["message"]


def test_the_queue_claim_hand_back_and_close(session_factory: sessionmaker[Session]) -> None:
    with transaction(session_factory) as session:
        first, second = chat.start(session), chat.start(session)
        chat.to_queue(session, first, "resident_request")
        chat.to_queue(session, second, "resident_request")
        assert (chat.queue_position(session, first), chat.queue_position(session, second)) == (1, 2)
        with pytest.raises(chat.NotAllowed):
            chat.hand_back(session, first, "agent.patel")
        chat.claim(session, first, "agent.patel")
        assert chat.queue_position(session, second) == 1
        with pytest.raises(chat.NotAllowed):
            chat.claim(session, first, "agent.wong")
        with pytest.raises(chat.NotAllowed):
            chat.hand_back(session, first, "agent.wong")
        chat.hand_back(session, first, "agent.patel")
        chat.close(session, second, "agent.wong")
        assert (first.owner, second.owner) == ("bot", "closed")
        # Queued and claimed; handing back adds no notice of its own (the assistant's answer is the one notice).
        authors = [m.author for m in chat.history(session, first)]
        assert authors == ["system", "system"]


def test_rasa_replies_become_messages_and_a_handoff_request_is_seen() -> None:
    replies, handoff = chat.replies_from_rasa(
        [
            {
                "recipient_id": "x",
                "text": "Did that answer your question?",
                "buttons": [{"title": "Yes", "payload": "/affirm"}],
            },
            {"recipient_id": "x", "text": "I'm passing our conversation to an agent."},
            {"recipient_id": "x", "custom": {"handoff": {"reason": "resident_request"}}},
        ]
    )
    assert [r.text[:10] for r in replies] == ["Did that a", "I'm passin"]
    assert replies[0].buttons == [{"title": "Yes", "payload": "/affirm"}]
    assert handoff == "resident_request"


def test_ending_the_chat_with_the_survey_closes_it_and_keeps_the_rating(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    with client.websocket_connect("/chat/ws") as socket:
        conversation = socket.receive_json()["id"]
        socket.send_json({"type": "message", "text": "Is my street being plowed tonight?"})
        for _ in range(3):  # typing, then the assistant is down and the chat is queued
            socket.receive_json()
        for wrong, message in (
            ({"type": "end", "rating": 6}, "from 1 (poor) to 5"),
            ({"type": "end", "rating": True}, "from 1 (poor) to 5"),
            ({"type": "end", "rating": 4, "comment": 7}, "the comment must be text"),
        ):
            socket.send_json(wrong)
            assert message in socket.receive_json()["message"]
        socket.send_json({"type": "end", "rating": 4, "comment": "  Quick answer, thanks!  "})
        ended = socket.receive_json()
    assert ended["author"] == "system" and ended["text"] == "You ended the chat. Thank you for your feedback."
    with session_factory() as session:
        stored = chat.find(session, conversation)
        assert (stored.owner, stored.rating, stored.rating_comment) == ("closed", 4, "Quick answer, thanks!")
        assert chat.waiting(session) == []  # it left the agents' queue
    with client.websocket_connect("/chat/ws") as socket:
        socket.receive_json()
        socket.send_json({"type": "end"})  # no rating: the survey is optional
        assert socket.receive_json()["text"] == "You ended the chat. Thank you for contacting Northvale Service First."


def test_a_tab_flooding_the_socket_is_slowed_down_and_told_why(client: TestClient, settings: Settings) -> None:
    with client.websocket_connect("/chat/ws") as socket:
        socket.receive_json()
        for _ in range(settings.chat_messages_per_minute):  # each is answered
            socket.send_json({"type": "end"})
            assert socket.receive_json()["author"] == "system"
        socket.send_json({"type": "message", "text": "one more"})
        assert "sending messages very quickly" in socket.receive_json()["message"]


def test_a_binary_frame_is_refused_with_an_error_and_no_traceback(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with client.websocket_connect("/chat/ws") as socket:
        socket.receive_json()
        socket.send_bytes(b'{"type": "end"}')
        assert socket.receive_json() == {
            "type": "error",
            "message": "send JSON in text frames; binary frames are not accepted",
        }
        socket.send_json({"type": "end"})  # the socket still works
        assert socket.receive_json()["author"] == "system"
    assert [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR] == []


def test_lone_surrogates_are_refused_and_the_socket_stays_usable(
    client: TestClient, session_factory: sessionmaker[Session], caplog: pytest.LogCaptureFixture
) -> None:
    # JSON may spell half of a UTF-16 pair ("\ud800"); no database can store it, so it must not get that far.
    with client.websocket_connect("/chat/ws") as socket:
        conversation = socket.receive_json()["id"]
        for frame, field in (
            ('{"type": "message", "text": "my street \\ud800"}', "text"),
            ('{"type": "end", "rating": 2, "comment": "slow \\udfff"}', "comment"),
            ('{"type": "leave_message", "choice": "message", "text": "hi", "name": "Mei \\ud83d"}', "name"),
        ):
            socket.send_text(frame)
            error = socket.receive_json()
            assert error["type"] == "error" and f"the {field} contains a character" in error["message"]
        socket.send_json({"type": "end", "rating": 3, "comment": "fine"})
        assert socket.receive_json()["text"] == "You ended the chat. Thank you for your feedback."
    with session_factory() as session:
        stored = chat.find(session, conversation)
        assert (stored.rating, stored.rating_comment) == (3, "fine")
        assert [m.author for m in chat.history(session, stored)] == ["system"]
    assert [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR] == []


def conversation_count(session_factory: sessionmaker[Session]) -> int:
    with session_factory() as session:
        return session.scalar(select(func.count()).select_from(Conversation)) or 0


def test_bare_connections_write_no_conversation_until_the_first_message(
    client: TestClient, session_factory: sessionmaker[Session]
) -> None:
    before = conversation_count(session_factory)
    ids = []
    for _ in range(5):
        with client.websocket_connect("/chat/ws") as socket:
            ids.append(socket.receive_json()["id"])
    assert conversation_count(session_factory) == before and len(set(ids)) == 5
    with client.websocket_connect(f"/chat/ws?conversation={ids[0]}") as socket:
        fresh = socket.receive_json()["id"]  # nothing was said under that id: there is nothing to resume
        assert fresh != ids[0]
        socket.send_json({"type": "message", "text": "Is my street being plowed tonight?"})
        for _ in range(3):  # typing, then the assistant is down and the chat is queued
            socket.receive_json()
    assert conversation_count(session_factory) == before + 1
    with client.websocket_connect(f"/chat/ws?conversation={fresh}") as socket:  # the id the widget was given
        resumed = socket.receive_json()
    assert resumed["id"] == fresh and resumed["history"][0]["text"] == "Is my street being plowed tonight?"


def limited(settings: Settings, **limits: int) -> TestClient:
    return TestClient(create_app(settings.model_copy(update=limits)))


def test_reconnecting_does_not_reset_the_conversations_rate_limit(
    settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    with limited(settings, chat_messages_per_minute=3) as client:
        with client.websocket_connect("/chat/ws") as socket:
            conversation = socket.receive_json()["id"]
            for _ in range(3):
                socket.send_json({"type": "end"})
                assert socket.receive_json()["author"] == "system"
        with client.websocket_connect(f"/chat/ws?conversation={conversation}") as socket:
            assert socket.receive_json()["id"] == conversation
            socket.send_json({"type": "end"})
            assert "sending messages very quickly" in socket.receive_json()["message"]


def test_one_address_is_limited_in_messages_and_in_new_conversations(
    settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    with (
        limited(settings, chat_messages_per_address_per_minute=4) as client,
        client.websocket_connect("/chat/ws") as first,
        client.websocket_connect("/chat/ws") as second,
    ):
        first.receive_json()
        second.receive_json()
        for _ in range(3):
            first.send_json({"type": "end"})
            assert first.receive_json()["author"] == "system"
        second.send_json({"type": "end"})
        assert second.receive_json()["author"] == "system"
        second.send_json({"type": "end"})  # the fifth message from this address within the minute
        assert "sending messages very quickly" in second.receive_json()["message"]
    with limited(settings, chat_conversations_per_address_per_minute=2) as client:
        started = []
        for _ in range(2):
            with client.websocket_connect("/chat/ws") as socket:
                started.append(socket.receive_json()["id"])
                socket.send_json({"type": "end"})
                assert socket.receive_json()["author"] == "system"
        before = conversation_count(session_factory)
        with client.websocket_connect("/chat/ws") as third:
            third.receive_json()
            third.send_json({"type": "end"})  # a third new conversation from this address within the minute
            assert "too many new chats" in third.receive_json()["message"]
        assert conversation_count(session_factory) == before
        with client.websocket_connect(f"/chat/ws?conversation={started[0]}") as socket:
            socket.receive_json()
            socket.send_json({"type": "end"})  # an existing conversation goes on
            assert socket.receive_json()["author"] == "system"
