"""The chat gateway's service layer: the core owns every conversation (DESIGN.md, "The chat path").

A conversation belongs to the bot, the queue (waiting for an agent), one agent, or nobody (closed). Every message
is stored before anything else happens, so nothing a resident typed is lost; only while the bot owns the
conversation is the message passed to Rasa's REST webhook. A reply asking for a handoff (a custom payload
`{"handoff": {"reason", "summary", "urgency", "slots"}}`), or Rasa being unreachable, moves the conversation to
the queue, which agents work through by urgency, then by waiting time. When the agent hands the conversation
back, Rasa is told with `/handback`, so a half-filled form continues where it stopped.

Outside Service First's business hours, or when nobody claims a conversation in time, the resident is offered a
callback or to leave a message; either becomes a service request, so nothing is lost.

The synchronous functions take the caller's session and never commit. The async ones (`resident_says`,
`hand_back_to_assistant`) own their short transactions and run them in worker threads, off the event loop.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, cast

import httpx
from anyio import to_thread
from sqlalchemy import CursorResult, case, func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from civicdesk import business_time, contacts, metrics
from civicdesk.db import transaction, utcnow
from civicdesk.errors import InvalidInput, NotFound
from civicdesk.models import ChatMessage, Conversation, ConversationNote, Department, Holiday, ServiceRequest
from civicdesk.service_requests import service as service_requests
from civicdesk.staff import audit

log = logging.getLogger(__name__)

RASA_TIMEOUT_SECONDS = 10.0
CONTACT_CENTRE = "service_first"  # the department whose calendar says when agents answer chats
URGENCIES = ("emergency", "urgent", "routine")  # most urgent first
HANDBACK_INTENT = "/handback"
ASSISTANT_DOWN = (
    "Our virtual assistant is not available right now. Your message is saved and a Service First agent will "
    "answer you here. You can also call 311, or 905-555-0100 from outside the region."
)
OFFER_CHOICES = ("callback", "message")


_sqlite_writers = threading.Lock()


@contextmanager
def writing(factory: sessionmaker[Session]) -> Iterator[Session]:
    """`transaction`, with this process's writers queued on a lock when the database is SQLite. SQLite takes one
    writer at a time, and a writer that finds it busy sleeps in growing steps (up to 100 ms) before trying
    again; under a burst of chat turns that sleeping, not the work, made the slowest turns. A lock hands the
    database to the next writer as soon as it is free. PostgreSQL needs nothing of the kind."""
    bind = factory.kw.get("bind")
    if bind is None or bind.dialect.name != "sqlite":
        with transaction(factory) as session:
            yield session
        return
    with _sqlite_writers, transaction(factory) as session:
        yield session


class ConversationNotFound(NotFound):
    pass


class NotAllowed(Exception):
    """The conversation is not in a state where this can happen (e.g. claiming one the bot owns)."""


@dataclass(frozen=True)
class Reply:
    author: str
    text: str
    buttons: list[dict[str, str]]


@dataclass(frozen=True)
class Handoff:
    """What the assistant tells the agent when it passes a conversation on."""

    reason: str
    summary: str | None = None
    urgency: str = "routine"
    slots: dict[str, Any] = field(default_factory=dict)


def new_public_id() -> str:
    return secrets.token_urlsafe(24)


def start(session: Session, channel: str = "web", public_id: str | None = None) -> Conversation:
    """`public_id`: the id the gateway gave the browser on connect (the row is written with the first message)."""
    conversation = Conversation(public_id=public_id or new_public_id(), channel=channel, owner="bot", slots={})
    session.add(conversation)
    session.flush()
    return conversation


def find(session: Session, public_id: str) -> Conversation:
    conversation = session.scalar(select(Conversation).where(Conversation.public_id == public_id))
    if conversation is None:
        raise ConversationNotFound("no such conversation")
    return conversation


def get(session: Session, conversation_id: int) -> Conversation:
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        raise ConversationNotFound("no such conversation")
    return conversation


def record(
    session: Session, conversation: Conversation, author: str, text: str, payload: dict[str, Any] | None = None
) -> ChatMessage:
    return record_all(session, conversation, [(author, text, payload or {})])[0]


def record_all(
    session: Session, conversation: Conversation, items: list[tuple[str, str, dict[str, Any]]]
) -> list[ChatMessage]:
    """Several messages at once (a turn of the assistant's replies): one INSERT, one flush."""
    if session.get_bind().dialect.name != "sqlite":
        # Writers to one conversation take turns (its row lock, held to commit), so message ids commit in order
        # and a reader that has seen id N has seen every message before it. SQLite has one writer anyway.
        session.execute(select(Conversation.id).where(Conversation.id == conversation.id).with_for_update())
    now = utcnow()
    messages = [ChatMessage(conversation=conversation, author=a, text=t, payload=p, at=now) for a, t, p in items]
    session.add_all(messages)
    conversation.updated_at = now
    session.flush()
    return messages


def history(session: Session, conversation: Conversation) -> list[ChatMessage]:
    return list(
        session.scalars(
            select(ChatMessage).where(ChatMessage.conversation_id == conversation.id).order_by(ChatMessage.id)
        )
    )


def messages_after(session: Session, conversation_id: int, after_id: int) -> list[ChatMessage]:
    return list(
        session.scalars(
            select(ChatMessage)
            .where(ChatMessage.conversation_id == conversation_id, ChatMessage.id > after_id)
            .order_by(ChatMessage.id)
        )
    )


def _urgency_rank() -> Any:
    return case({u: rank for rank, u in enumerate(URGENCIES)}, value=Conversation.urgency, else_=len(URGENCIES))


def waiting(session: Session) -> list[Conversation]:
    """The chat queue in the order agents should take it: most urgent first, then longest waiting."""
    return list(
        session.scalars(
            select(Conversation)
            .where(Conversation.owner == "waiting")
            .order_by(_urgency_rank(), Conversation.waiting_since, Conversation.id)
        )
    )


def queue_position(session: Session, conversation: Conversation) -> int | None:
    """1 for the conversation an agent should take next; None when not waiting."""
    if conversation.owner != "waiting" or conversation.waiting_since is None:
        return None
    rank = URGENCIES.index(conversation.urgency) if conversation.urgency in URGENCIES else len(URGENCIES)
    ahead = session.scalar(
        select(func.count())
        .select_from(Conversation)
        .where(
            Conversation.owner == "waiting",
            Conversation.id != conversation.id,
            or_(
                _urgency_rank() < rank,
                (_urgency_rank() == rank) & (Conversation.waiting_since < conversation.waiting_since),
            ),
        )
    )
    return int(ahead or 0) + 1


def agents_available(session: Session, now: dt.datetime | None = None) -> tuple[bool, dt.datetime | None]:
    """Whether Service First's agents are at work now (its calendar and the Region's holidays), and when they
    next start. With no calendar loaded, agents are assumed to be there: nothing is promised that is not so."""
    now = now or utcnow()
    hours = session.scalar(select(Department.business_hours).where(Department.code == CONTACT_CENTRE))
    if not hours:
        return True, None
    holidays = set(session.scalars(select(Holiday.date)))
    opens = business_time.add_business_hours(now, 0, hours, holidays)  # the next open moment, or now
    return opens <= now, None if opens <= now else opens


def _when(moment: dt.datetime, now: dt.datetime) -> str:
    """ "at 8:00 a.m. today", "at 8:00 a.m. tomorrow" or "at 8:00 a.m. on Monday, November 30", in Northvale."""
    local, today = moment.astimezone(business_time.REGION_TZ), now.astimezone(business_time.REGION_TZ).date()
    hour = f"{local.strftime('%I:%M').lstrip('0')} {'a.m.' if local.hour < 12 else 'p.m.'}"
    if local.date() == today:
        return f"at {hour} today"
    if local.date() == today + dt.timedelta(days=1):
        return f"at {hour} tomorrow"
    return f"at {hour} on {local.strftime('%A, %B')} {local.day}"


def to_queue(
    session: Session,
    conversation: Conversation,
    reason: str,
    summary: str | None = None,
    urgency: str | None = None,
    slots: dict[str, Any] | None = None,
    now: dt.datetime | None = None,
) -> ChatMessage:
    now = now or utcnow()
    conversation.owner = "waiting"
    conversation.handoff_reason = reason[:60]
    conversation.summary = summary or conversation.summary
    conversation.urgency = urgency if urgency in URGENCIES else conversation.urgency or "routine"
    conversation.slots = {**(conversation.slots or {}), **(slots or {})}
    conversation.waiting_since, conversation.offered_at = now, None
    conversation.queued_at, conversation.claimed_at = now, None
    session.flush()
    metrics.HANDOFFS.labels(conversation.handoff_reason).inc()
    position = queue_position(session, conversation)
    text = f"You are number {position} in the queue for a Service First agent. Please keep this window open."
    payload: dict[str, Any] = {"queue_position": position}
    open_now, opens = agents_available(session, now)
    if not open_now:
        # Outside business hours the resident still holds a place, and is offered a way not to wait.
        text = (
            f"You are number {position} in the queue for a Service First agent, but our agents are away now: "
            "they answer Monday to Friday, 8:00 a.m. to 6:00 p.m., except statutory holidays"
            + (f", and are next in {_when(opens, now)}" if opens else "")
            + ". Instead of waiting, you can ask for a callback or leave a message, and we will follow up by the end "
            "of the next business day. For road, water or sewer emergencies, call 905-555-0111; for life-threatening "
            "emergencies, call 911."
        )
        payload["offer"] = list(OFFER_CHOICES)
        conversation.offered_at = now
    return record(session, conversation, "system", text, payload)


def offer_due(conversation: Conversation, wait: dt.timedelta, now: dt.datetime | None = None) -> bool:
    if conversation.owner != "waiting" or conversation.waiting_since is None or conversation.offered_at:
        return False
    return conversation.waiting_since + wait <= (now or utcnow())


def offer_alternatives(
    session: Session, conversation: Conversation, wait: dt.timedelta, now: dt.datetime | None = None
) -> ChatMessage | None:
    """After `wait` in the queue with nobody claiming it, offer a callback or a message, once. Several web
    workers may watch the same conversation; the conditional update lets exactly one of them make the offer."""
    now = now or utcnow()
    if not offer_due(conversation, wait, now):
        return None
    result = session.execute(
        update(Conversation)
        .where(Conversation.id == conversation.id, Conversation.owner == "waiting", Conversation.offered_at.is_(None))
        .values(offered_at=now)
        .execution_options(synchronize_session=False)
    )
    if cast(CursorResult[Any], result).rowcount != 1:
        return None
    session.refresh(conversation)
    return record(
        session,
        conversation,
        "system",
        "Sorry for the wait: all our agents are busy. You can keep your place in the queue, or ask for a callback "
        "or leave a message and we will follow up by the end of the next business day.",
        {"offer": list(OFFER_CHOICES), "queue_position": queue_position(session, conversation)},
    )


def leave_message(
    session: Session,
    conversation: Conversation,
    choice: str,
    text: str,
    name: str | None = None,
    phone: str | None = None,
    email: str | None = None,
) -> ServiceRequest:
    """A waiting resident's callback request or message becomes a service request; the chat then ends."""
    if choice not in OFFER_CHOICES:
        raise InvalidInput("choice", f"choose one of: {', '.join(OFFER_CHOICES)}")
    if conversation.owner not in ("waiting", "bot"):
        raise NotAllowed("an agent is already answering this conversation")
    if choice == "callback" and not (phone and phone.strip()):
        raise InvalidInput("phone", "give a phone number for the callback")
    if not ((phone and phone.strip()) or (email and email.strip())):
        raise InvalidInput("email", "give an email address or a phone number so we can reply")
    if not text.strip():
        raise InvalidInput("text", "write your message in a few words")
    what = "Callback requested" if choice == "callback" else "Message left"
    lines = [f"{what} in the website chat: {text.strip()}"]
    if conversation.summary:
        lines.append(f"The assistant's summary: {conversation.summary}")
    request = service_requests.create_request(
        session,
        service_requests.RequestIn(
            service_code="general_inquiry",  # an agent moves it to the right service when reading it
            description="\n".join(lines),
            channel="chat",
            attributes={"preferred_contact": "phone" if choice == "callback" or not email else "email"},
            contact=contacts.ContactIn(name=name or None, email=email or None, phone=phone or None),
            urgency=conversation.urgency if conversation.urgency in ("urgent", "routine") else "urgent",
        ),
        actor=f"chat:{conversation.id}",
    )
    conversation.service_request_id = request.id
    reply_by = "call you" if choice == "callback" else "reply"
    record(
        session,
        conversation,
        "system",
        f"Thank you. We have your {'callback request' if choice == 'callback' else 'message'} as service request "
        f"{request.reference}; a Service First agent will {reply_by} by the end of the next business day. "
        "Keep this number if you contact us about it.",
        {"reference": request.reference},
    )
    _end(conversation)
    session.flush()
    return request


def claim(session: Session, conversation: Conversation, agent: str, name: str | None = None) -> ChatMessage:
    """`agent` identifies the agent (their sign-in, never shown to the resident); `name` is what the resident
    sees (a first name), kept in the notice's payload so the widget can say who is answering."""
    if conversation.owner != "waiting":
        raise NotAllowed(f"only a waiting conversation can be claimed; this one is {conversation.owner}")
    conversation.owner, conversation.agent, conversation.waiting_since = "agent", agent, None
    conversation.claimed_at = utcnow()
    who = f"{name} from Service First" if name else "A Service First agent"
    return record(
        session,
        conversation,
        "system",
        f"{who} has joined the conversation.",
        {"owner": "agent", **({"name": name} if name else {})},
    )


def agent_name(session: Session, conversation: Conversation) -> str | None:
    """The first name the resident was given when the agent who holds the conversation joined, if any."""
    if conversation.owner != "agent":
        return None
    notices = session.scalars(
        select(ChatMessage.payload)
        .where(ChatMessage.conversation_id == conversation.id, ChatMessage.author == "system")
        .order_by(ChatMessage.id.desc())
        .limit(JOIN_LOOKBACK)
    )
    for payload in notices:
        if payload.get("owner") == "agent":
            name = payload.get("name")
            return str(name) if name else None
    return None


JOIN_LOOKBACK = 20  # the join notice is among the latest system messages of a conversation an agent holds

# The expected wait in the queue is the median of real waits: the time from joining the queue to an agent's
# claim, over the last RECENT_WAITS_MAX chats on the same channel that agents claimed within RECENT_WAITS_SPAN.
# With fewer than RECENT_WAITS_NEEDED such chats, or while agents are away, there is no basis for a number and
# none is given (the widget then says an agent will answer as soon as possible). It is the wait residents
# actually had lately, not a promise and not the service-level target.
RECENT_WAITS_SPAN = dt.timedelta(hours=2)
RECENT_WAITS_NEEDED = 3
RECENT_WAITS_MAX = 20


def expected_wait(session: Session, conversation: Conversation, now: dt.datetime | None = None) -> dt.timedelta | None:
    now = now or utcnow()
    if conversation.owner != "waiting" or not agents_available(session, now)[0]:
        return None
    rows = session.execute(
        select(Conversation.queued_at, Conversation.claimed_at)
        .where(
            Conversation.channel == conversation.channel,
            Conversation.claimed_at >= now - RECENT_WAITS_SPAN,
            Conversation.queued_at.is_not(None),
        )
        .order_by(Conversation.claimed_at.desc())
        .limit(RECENT_WAITS_MAX)
    ).all()
    waits = sorted(claimed - queued for queued, claimed in rows if queued and claimed and claimed >= queued)
    if len(waits) < RECENT_WAITS_NEEDED:
        return None
    middle = len(waits) // 2
    return waits[middle] if len(waits) % 2 else (waits[middle - 1] + waits[middle]) / 2


def agent_says(
    session: Session, conversation: Conversation, agent: str, text: str, name: str | None = None
) -> ChatMessage:
    if conversation.owner != "agent" or conversation.agent != agent:
        raise NotAllowed("claim the conversation before replying")
    if not text.strip():
        raise InvalidInput("text", "the reply is empty")
    return record(session, conversation, "agent", text.strip(), {"name": name} if name else {})


def add_note(session: Session, conversation: Conversation, author: str, body: str) -> ConversationNote:
    if not body.strip():
        raise InvalidInput("note", "the note is empty")
    note = ConversationNote(conversation=conversation, author=author, body=body.strip(), at=utcnow())
    session.add(note)
    session.flush()
    return note


def hand_back(session: Session, conversation: Conversation, agent: str) -> None:
    """No notice of its own: the assistant's answer to `/handback` tells the resident (one notice, not two alike);
    if the assistant cannot answer, the resident is told that instead and the chat goes back to the queue."""
    if conversation.owner != "agent" or conversation.agent != agent:
        raise NotAllowed("only the agent who holds a conversation can hand it back to the assistant")
    conversation.owner, conversation.agent = "bot", None


def _end(conversation: Conversation) -> None:
    conversation.owner, conversation.waiting_since, conversation.closed_at = "closed", None, utcnow()


def close(session: Session, conversation: Conversation, actor: str) -> ChatMessage:
    _end(conversation)
    return record(
        session,
        conversation,
        "system",
        "This conversation has ended. Thank you for contacting us.",
        {"owner": "closed"},
    )


RATINGS = range(1, 6)  # the end-of-chat survey: 1 poor ... 5 excellent


def end_by_resident(
    session: Session, conversation: Conversation, rating: int | None = None, comment: str | None = None
) -> ChatMessage:
    """The resident ended the chat, with the end-of-chat survey's answer if they gave one. A conversation an
    agent closed can still be rated; one an agent holds or that waits in the queue leaves the queue."""
    if rating is not None:
        if rating not in RATINGS:
            raise InvalidInput("rating", "the rating is a number from 1 (poor) to 5 (excellent)")
        conversation.rating, conversation.rating_comment = rating, (comment or "").strip()[:1000] or None
    if conversation.owner != "closed":
        _end(conversation)
    thanks = (
        "Thank you for your feedback." if rating is not None else "Thank you for contacting Northvale Service First."
    )
    return record(session, conversation, "system", f"You ended the chat. {thanks}", {"owner": "closed"})


def link_request(session: Session, conversation: Conversation, request: ServiceRequest) -> ChatMessage:
    """Tie a service request to the conversation and tell the resident its reference."""
    conversation.service_request_id = request.id
    return record(
        session,
        conversation,
        "system",
        f"Your service request number is {request.reference}. Keep it if you contact us about this again.",
        {"reference": request.reference},
    )


def replies_from_rasa(messages: list[dict[str, Any]]) -> tuple[list[Reply], str | None]:
    """Rasa's REST answer as replies to show, and the handoff reason if the bot asked for one."""
    replies: list[Reply] = []
    handoff = handoff_from_rasa(messages)
    for message in messages:
        buttons = [
            {"title": str(b.get("title", "")), "payload": str(b.get("payload", ""))}
            for b in message.get("buttons") or []
            if isinstance(b, dict)
        ]
        if message.get("text") or buttons:
            replies.append(Reply("bot", str(message.get("text") or ""), buttons))
    return replies, handoff.reason if handoff else None


def handoff_from_rasa(messages: list[dict[str, Any]]) -> Handoff | None:
    """The last handoff request in Rasa's answer, with the bot's summary, urgency and collected slots."""
    found: Handoff | None = None
    for message in messages:
        custom = message.get("custom")
        if not (isinstance(custom, dict) and isinstance(custom.get("handoff"), dict)):
            continue
        details = custom["handoff"]
        urgency = str(details.get("urgency") or "routine")
        slots = details.get("slots")
        found = Handoff(
            reason=str(details.get("reason") or "bot_request")[:60],
            summary=str(details["summary"]) if details.get("summary") else None,
            urgency=urgency if urgency in URGENCIES else "routine",
            # Only plain values: the slots are shown to agents, and Rasa may hold lists or nested data.
            slots={str(k): v for k, v in slots.items() if v is not None} if isinstance(slots, dict) else {},
        )
    return found


async def ask_rasa(client: httpx.AsyncClient, rasa_url: str, sender: str, text: str) -> list[dict[str, Any]]:
    started = time.perf_counter()
    try:
        response = await client.post(
            rasa_url.rstrip("/") + "/webhooks/rest/webhook",
            json={"sender": sender, "message": text},
            timeout=RASA_TIMEOUT_SECONDS,
        )
        response.raise_for_status()
        body = response.json()
        if not isinstance(body, list):
            raise ValueError("Rasa answered with something other than a list of messages")
    except Exception as error:
        metrics.RASA_ERRORS.labels(_rasa_error_kind(error)).inc()
        raise
    finally:
        metrics.RASA_CALL_SECONDS.observe(time.perf_counter() - started)
    return body


def _rasa_error_kind(error: Exception) -> str:
    if isinstance(error, httpx.TimeoutException):
        return "timeout"
    if isinstance(error, httpx.HTTPStatusError):
        return "http"
    if isinstance(error, httpx.TransportError):
        return "unreachable"
    return "bad_answer"


def _assistant_failed(
    factory: sessionmaker[Session], public_id: str, reason: str, since: int | None
) -> list[ChatMessage]:
    with writing(factory) as session:
        conversation = find(session, public_id)
        down = record(session, conversation, "system", ASSISTANT_DOWN)
        queued = to_queue(session, conversation, reason)
        return [down, queued] if since is None else messages_after(session, conversation.id, since)


def _store_resident(
    factory: sessionmaker[Session], public_id: str, text: str, payload: dict[str, Any]
) -> tuple[str, int]:
    with writing(factory) as session:
        conversation = find(session, public_id)
        if conversation.owner == "closed":
            conversation.owner = "bot"  # writing again reopens it with the assistant
        record(session, conversation, "resident", text, payload)
        return conversation.owner, conversation.id


def _store_answer(
    factory: sessionmaker[Session], public_id: str, answer: list[dict[str, Any]], since: int | None
) -> list[ChatMessage]:
    replies, _ = replies_from_rasa(answer)
    handoff = handoff_from_rasa(answer)
    with writing(factory) as session:
        conversation = find(session, public_id)
        stored = record_all(session, conversation, [(r.author, r.text, {"buttons": r.buttons}) for r in replies])
        if handoff and conversation.owner == "bot":
            stored.append(
                to_queue(session, conversation, handoff.reason, handoff.summary, handoff.urgency, handoff.slots)
            )
        return stored if since is None else messages_after(session, conversation.id, since)


async def _assistant_answers(
    factory: sessionmaker[Session],
    client: httpx.AsyncClient,
    rasa_url: str,
    public_id: str,
    text: str,
    since: int | None = None,
) -> list[ChatMessage]:
    try:
        answer = await ask_rasa(client, rasa_url, public_id, text)
    except (httpx.HTTPError, ValueError) as error:
        log.warning("Rasa unavailable for a conversation: %s", type(error).__name__)
        metrics.CHAT_TURNS.labels("assistant_failed").inc()
        return await to_thread.run_sync(_assistant_failed, factory, public_id, "assistant_unavailable", since)
    replies, handoff = replies_from_rasa(answer)
    if not replies and not handoff:
        # Rasa answers nothing when a custom action fails (e.g. the action server is down): the resident must
        # not be left waiting in silence.
        log.warning("Rasa gave no reply in a conversation; queuing it for an agent")
        metrics.CHAT_TURNS.labels("assistant_failed").inc()
        return await to_thread.run_sync(_assistant_failed, factory, public_id, "assistant_no_reply", since)
    metrics.CHAT_TURNS.labels("handoff" if handoff else "answered").inc()
    return await to_thread.run_sync(_store_answer, factory, public_id, answer, since)


async def resident_says(
    factory: sessionmaker[Session],
    client: httpx.AsyncClient,
    rasa_url: str,
    public_id: str,
    text: str,
    rasa_text: str | None = None,
    since: int | None = None,
    assistant_working: Callable[[], Awaitable[None]] | None = None,
) -> list[ChatMessage]:
    """Store the resident's message, then let the owner of the conversation answer. Returns the new messages
    to show the resident (the bot's replies, or a system message), not the resident's own; with `since`, every
    message after that id instead, read in the same transaction that stored the answer (so a socket that has
    shown everything up to `since` can show these at once, with nothing missing in between).

    `rasa_text` is what Rasa gets instead of `text` when the resident pressed a button: the button's payload
    (an intent), while the stored message is the button's title, as the resident saw it.
    `assistant_working` is awaited just before the assistant is asked, and only then (not while the chat waits
    for an agent or an agent holds it): the widget's "typing" is shown only while the assistant works."""
    started = time.perf_counter()
    payload = {"button": rasa_text} if rasa_text else {}
    owner, _ = await to_thread.run_sync(_store_resident, factory, public_id, text, payload)
    if owner != "bot":
        return []  # the agent (or the queue) sees it in the console
    if assistant_working is not None:
        await assistant_working()
    shown = await _assistant_answers(factory, client, rasa_url, public_id, rasa_text or text, since)
    metrics.CHAT_TURN_SECONDS.observe(time.perf_counter() - started)
    return shown


def _hand_back(factory: sessionmaker[Session], conversation_id: int, agent: str) -> str:
    with writing(factory) as session:
        conversation = get(session, conversation_id)
        hand_back(session, conversation, agent)
        audit.record(session, agent, "chat.hand_back", "conversation", conversation.id)
        return conversation.public_id


async def hand_back_to_assistant(
    factory: sessionmaker[Session], client: httpx.AsyncClient, rasa_url: str, conversation_id: int, agent: str
) -> list[ChatMessage]:
    """The agent returns the conversation to the bot, and the bot is told so (`/handback`), so it picks up a
    half-filled form or asks how else it can help. Raises NotAllowed for anyone but the holding agent."""
    public_id = await to_thread.run_sync(_hand_back, factory, conversation_id, agent)
    return await _assistant_answers(factory, client, rasa_url, public_id, HANDBACK_INTENT)
