"""The chat gateway's service layer: the core owns every conversation (DESIGN.md, "The chat path").

A conversation belongs to the bot, the queue (waiting for an agent), one agent, or nobody (closed). Every message
is stored before anything else happens, so nothing a resident typed is lost; only while the bot owns the
conversation is the message passed to Rasa's REST webhook. A reply asking for a handoff (a custom payload
`{"handoff": {"reason": ...}}`), or Rasa being unreachable, moves the conversation to the queue.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from civicdesk.db import transaction, utcnow
from civicdesk.models import ChatMessage, Conversation

log = logging.getLogger(__name__)

RASA_TIMEOUT_SECONDS = 10.0
ASSISTANT_DOWN = (
    "Our virtual assistant is not available right now. Your message is saved and a Service First agent will "
    "answer you here. You can also call 311, or 905-555-0100 from outside the region."
)


class ConversationNotFound(LookupError):
    pass


class NotAllowed(Exception):
    """The conversation is not in a state where this can happen (e.g. claiming one the bot owns)."""


@dataclass(frozen=True)
class Reply:
    author: str
    text: str
    buttons: list[dict[str, str]]


def start(session: Session, channel: str = "web") -> Conversation:
    conversation = Conversation(public_id=secrets.token_urlsafe(24), channel=channel, owner="bot", slots={})
    session.add(conversation)
    session.flush()
    return conversation


def find(session: Session, public_id: str) -> Conversation:
    conversation = session.scalar(select(Conversation).where(Conversation.public_id == public_id))
    if conversation is None:
        raise ConversationNotFound("no such conversation")
    return conversation


def record(
    session: Session, conversation: Conversation, author: str, text: str, payload: dict[str, Any] | None = None
) -> ChatMessage:
    message = ChatMessage(conversation=conversation, author=author, text=text, payload=payload or {}, at=utcnow())
    session.add(message)
    conversation.updated_at = message.at
    session.flush()
    return message


def history(session: Session, conversation: Conversation) -> list[ChatMessage]:
    return list(
        session.scalars(
            select(ChatMessage).where(ChatMessage.conversation_id == conversation.id).order_by(ChatMessage.id)
        )
    )


def queue_position(session: Session, conversation: Conversation) -> int | None:
    """1 for the longest-waiting conversation; None when not waiting."""
    if conversation.owner != "waiting" or conversation.waiting_since is None:
        return None
    ahead = session.scalar(
        select(func.count())
        .select_from(Conversation)
        .where(Conversation.owner == "waiting", Conversation.waiting_since < conversation.waiting_since)
    )
    return int(ahead or 0) + 1


def to_queue(session: Session, conversation: Conversation, reason: str, summary: str | None = None) -> ChatMessage:
    conversation.owner = "waiting"
    conversation.handoff_reason = reason
    conversation.summary = summary or conversation.summary
    conversation.waiting_since = utcnow()
    session.flush()
    position = queue_position(session, conversation)
    return record(
        session,
        conversation,
        "system",
        f"You are number {position} in the queue for a Service First agent. Please keep this window open.",
        {"queue_position": position},
    )


def claim(session: Session, conversation: Conversation, agent: str) -> ChatMessage:
    if conversation.owner != "waiting":
        raise NotAllowed(f"only a waiting conversation can be claimed; this one is {conversation.owner}")
    conversation.owner, conversation.agent, conversation.waiting_since = "agent", agent, None
    return record(session, conversation, "system", f"{agent} from Service First has joined the conversation.")


def hand_back(session: Session, conversation: Conversation, agent: str) -> ChatMessage:
    if conversation.owner != "agent" or conversation.agent != agent:
        raise NotAllowed("only the agent who holds a conversation can hand it back to the assistant")
    conversation.owner, conversation.agent = "bot", None
    return record(session, conversation, "system", "You are chatting with the virtual assistant again.")


def close(session: Session, conversation: Conversation, actor: str) -> ChatMessage:
    conversation.owner, conversation.waiting_since = "closed", None
    return record(session, conversation, "system", "This conversation has ended. Thank you for contacting us.")


def replies_from_rasa(messages: list[dict[str, Any]]) -> tuple[list[Reply], str | None]:
    """Rasa's REST answer as replies to show, and the handoff reason if the bot asked for one."""
    replies: list[Reply] = []
    handoff: str | None = None
    for message in messages:
        custom = message.get("custom")
        if isinstance(custom, dict) and isinstance(custom.get("handoff"), dict):
            handoff = str(custom["handoff"].get("reason") or "bot_request")
        buttons = [
            {"title": str(b.get("title", "")), "payload": str(b.get("payload", ""))}
            for b in message.get("buttons") or []
            if isinstance(b, dict)
        ]
        if message.get("text") or buttons:
            replies.append(Reply("bot", str(message.get("text") or ""), buttons))
    return replies, handoff


def _assistant_failed(factory: sessionmaker[Session], public_id: str, reason: str) -> list[ChatMessage]:
    with transaction(factory) as session:
        conversation = find(session, public_id)
        down = record(session, conversation, "system", ASSISTANT_DOWN)
        queued = to_queue(session, conversation, reason)
        return [down, queued]


async def ask_rasa(client: httpx.AsyncClient, rasa_url: str, sender: str, text: str) -> list[dict[str, Any]]:
    response = await client.post(
        rasa_url.rstrip("/") + "/webhooks/rest/webhook",
        json={"sender": sender, "message": text},
        timeout=RASA_TIMEOUT_SECONDS,
    )
    response.raise_for_status()
    body = response.json()
    if not isinstance(body, list):
        raise ValueError("Rasa answered with something other than a list of messages")
    return body


async def resident_says(
    factory: sessionmaker[Session], client: httpx.AsyncClient, rasa_url: str, public_id: str, text: str
) -> list[ChatMessage]:
    """Store the resident's message, then let the owner of the conversation answer. Returns the new messages
    to show the resident (the bot's replies, or a system message), not the resident's own."""
    with transaction(factory) as session:
        conversation = find(session, public_id)
        if conversation.owner == "closed":
            conversation.owner = "bot"  # writing again reopens it with the assistant
        record(session, conversation, "resident", text)
        owner = conversation.owner
    if owner != "bot":
        return []  # the agent (or the queue) sees it in the console
    try:
        answer = await ask_rasa(client, rasa_url, public_id, text)
    except (httpx.HTTPError, ValueError) as error:
        log.warning("Rasa unavailable for a conversation: %s", type(error).__name__)
        return _assistant_failed(factory, public_id, "assistant_unavailable")
    replies, handoff = replies_from_rasa(answer)
    if not replies and not handoff:
        # Rasa answers nothing when a custom action fails (e.g. the action server is down): the resident must
        # not be left waiting in silence.
        log.warning("Rasa gave no reply in a conversation; queuing it for an agent")
        return _assistant_failed(factory, public_id, "assistant_no_reply")
    with transaction(factory) as session:
        conversation = find(session, public_id)
        stored = [record(session, conversation, r.author, r.text, {"buttons": r.buttons}) for r in replies]
        if handoff and conversation.owner == "bot":
            stored.append(to_queue(session, conversation, handoff))
        return stored
