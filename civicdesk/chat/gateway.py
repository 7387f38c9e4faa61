"""The resident's side of the chat gateway: one WebSocket per browser tab, speaking small JSON messages.

Server -> browser: {"type": "conversation", "id", "owner", "state", "history": [message...]} once on connect,
then {"type": "typing"} when the assistant starts working on the resident's message (never while the chat waits
for an agent or an agent holds it; the answer, or any other news, ends it), {"type": "message", ...} for each
new message from the assistant, an agent or the system, the state (see `state_json`) whenever who answers
changes (assistant, queue, agent, ended) or, while waiting, the place in the queue or the expected wait changes:
as the "state" field of the last message sent with the change (the queue notice, "has joined", the thanks on
ending), or alone as {"type": "state", ...} when no message comes with it (the queue moved); and
{"type": "error", "message", "field"?} for input it cannot take.
Browser -> server: {"type": "end", "rating"?: 1-5, "comment"?} when the resident ends the chat (the end-of-chat
survey); {"type": "message", "text"}; a pressed quick-reply button sends {"type": "message", "text":
title, "payload": payload}; a waiting resident taking the offer sends {"type": "leave_message", "choice":
"callback" | "message", "text", "name", "phone", "email"}.
A browser that reconnects with `?conversation=<id>` resumes that conversation with its history; the id is
unguessable, and it is the only way to reach a conversation. A new connection is given its id at once, but the
conversation is written to the database only with its first input, so connecting costs nothing.
Frames are JSON text. A binary frame, a frame that is not JSON, or JSON spelling a lone UTF-16 surrogate
("\\ud800", which no database can store) gets an error message, and the socket stays open: bad input is
explained, the same way whatever its kind.
Rate limits (in this process's memory, or in Redis shared by every web worker when `CIVICDESK_REDIS_URL` is set):
messages per conversation (across reconnects) and per client address, and new conversations per client address,
each per rolling minute.

Real time: everything is written to the database first; a socket then sends what is new in its conversation.
A writer in this process wakes the sockets at once (`ChatHub.notify`). Writes by another web worker arrive
through Redis pub/sub when `CIVICDESK_REDIS_URL` is set (`fanout`), and are found in any case by polling every
`chat_poll_seconds`, so any number of workers behind a load balancer work, and a Redis restart loses nothing.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import json
import logging
import secrets
import threading
import time
from collections import defaultdict, deque
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any

import anyio
import httpx
import redis
from anyio import to_thread
from anyio.abc import TaskGroup, TaskStatus
from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from civicdesk import validation
from civicdesk.chat import service as chat
from civicdesk.chat.fanout import RedisFanout
from civicdesk.deps import client_address
from civicdesk.errors import InvalidInput
from civicdesk.limits import LIMITS
from civicdesk.models import ChatMessage, Conversation

log = logging.getLogger(__name__)
router = APIRouter(tags=["chat"])
MAX_MESSAGE_CHARS = LIMITS["chat_message"]
MAX_FIELD_CHARS = LIMITS["email"]  # a detail the widget sends: the longest is an email address
BUTTON_LOOKBACK = 50  # a button pressed must have been offered among this many latest messages


class ChatHub:
    """Per-process wake-up calls for the sockets watching a conversation. Safe to call from any thread.

    A writer in this process calls `notify` after its commit. For writes by other web workers, one poller
    thread per process looks at the watched conversations every `poll_seconds` (one query for all of them) and
    wakes those that changed; it also wakes the waiting ones every `WAITING_EVERY` polls, so their place in the
    queue and the callback offer stay current. The thread runs only while someone is watching.
    """

    WAITING_EVERY = 4

    def __init__(self, factory: sessionmaker[Session], poll_seconds: float, redis_url: str = "") -> None:
        self._factory = factory
        self._poll_seconds = poll_seconds
        self._lock = threading.Lock()
        self._watchers: dict[int, set[tuple[asyncio.AbstractEventLoop, asyncio.Event]]] = defaultdict(set)
        self._poller: threading.Thread | None = None
        # With Redis, other workers hear of this worker's writes at once; the poller stays as the safety net.
        self._fanout = RedisFanout(redis_url, self._wake) if redis_url else None

    @contextmanager
    def watch(self, conversation_id: int) -> Iterator[asyncio.Event]:
        event = asyncio.Event()
        entry = (asyncio.get_running_loop(), event)
        if self._fanout:
            self._fanout.listen()
        with self._lock:
            self._watchers[conversation_id].add(entry)
            if self._poller is None:
                self._poller = threading.Thread(target=self._poll, name="chat-poller", daemon=True)
                self._poller.start()
        try:
            yield event
        finally:
            with self._lock:
                self._watchers[conversation_id].discard(entry)
                if not self._watchers[conversation_id]:
                    del self._watchers[conversation_id]

    def notify(self, conversation_id: int) -> None:
        """The conversation changed (call after the commit): wake its sockets here and in every other worker."""
        self._wake(conversation_id)
        if self._fanout:
            self._fanout.publish(conversation_id)

    def _wake(self, conversation_id: int) -> None:
        with self._lock:
            watchers = list(self._watchers.get(conversation_id, ()))
        for loop, event in watchers:
            with suppress(RuntimeError):  # that socket's event loop has just closed
                loop.call_soon_threadsafe(event.set)

    def _poll(self) -> None:
        seen: dict[int, tuple[Any, str]] = {}
        for tick in itertools.count():
            time.sleep(self._poll_seconds)
            with self._lock:
                watched = list(self._watchers)
                if not watched:
                    self._poller = None  # the next watcher starts a new thread
                    return
            try:
                with self._factory() as session:
                    rows = session.execute(
                        select(Conversation.id, Conversation.updated_at, Conversation.owner).where(
                            Conversation.id.in_(watched)
                        )
                    ).all()
            except SQLAlchemyError:
                log.warning("the chat poller could not read the database; trying again", exc_info=True)
                continue
            for conversation_id, updated_at, owner in rows:
                changed = seen.get(conversation_id) != (updated_at, owner)
                seen[conversation_id] = (updated_at, owner)
                if changed or (owner == "waiting" and tick % self.WAITING_EVERY == 0):
                    self._wake(conversation_id)


def hub_of(app: Any) -> ChatHub:
    if not hasattr(app.state, "chat_hub"):
        settings = app.state.settings
        app.state.chat_hub = ChatHub(app.state.session_factory, settings.chat_poll_seconds, settings.redis_url)
    hub: ChatHub = app.state.chat_hub
    return hub


SAFETY_WAKE_SECONDS = 15.0  # a socket looks for news at least this often, whatever the poller says


async def wait_for_news(event: asyncio.Event, seconds: float = SAFETY_WAKE_SECONDS) -> None:
    with anyio.move_on_after(seconds):
        await event.wait()
    event.clear()


def state_json(session: Session, conversation: Conversation | None) -> dict[str, Any]:
    """Who answers the resident now, as the widget shows it: {"type": "state", "owner": "bot" | "waiting" |
    "agent" | "closed"}, with, while waiting, "position" (1 is next), "wait_minutes" (the expected wait, see
    `chat.expected_wait`; null when there is no basis for one) and "away" (agents are not at work now); and,
    while an agent holds it, "agent" (the first name the resident was given, or null)."""
    if conversation is None:  # not written yet: the assistant answers the first message
        return {"type": "state", "owner": "bot"}
    state: dict[str, Any] = {"type": "state", "owner": conversation.owner}
    if conversation.owner == "waiting":
        wait = chat.expected_wait(session, conversation)
        state["position"] = chat.queue_position(session, conversation)
        # Whole minutes, at least one: "about 1 minute" rather than a spurious "about 0 minutes".
        state["wait_minutes"] = None if wait is None else max(1, round(wait.total_seconds() / 60))
        state["away"] = not chat.agents_available(session)[0]
    elif conversation.owner == "agent":
        state["agent"] = chat.agent_name(session, conversation)
    return state


def message_json(message: ChatMessage) -> dict[str, Any]:
    return {
        "type": "message",
        "id": message.id,
        "author": message.author,
        "name": message.payload.get("name"),
        "text": message.text,
        "buttons": message.payload.get("buttons", []),
        "offer": message.payload.get("offer", []),
        "at": message.at.isoformat(),
        **({"position": message.payload["queue_position"]} if "queue_position" in message.payload else {}),
    }


class SlidingWindow:
    """At most `limit` events per key (a conversation, an address) in any `seconds`, in this process's memory:
    right for one web worker; several share one count in Redis (`SharedWindow`)."""

    def __init__(self, limit: int, seconds: float = 60.0) -> None:
        self.limit, self.seconds = limit, seconds
        self._events: dict[str, deque[float]] = {}
        self._lock = threading.Lock()
        self._sweep_at = 1024

    def full(self, key: str) -> bool:
        with self._lock:
            events = self._events.get(key)
            if events is None:
                return False
            horizon = time.monotonic() - self.seconds
            while events and events[0] <= horizon:
                events.popleft()
            return len(events) >= self.limit

    def add(self, key: str) -> None:
        with self._lock:
            now = time.monotonic()
            self._events.setdefault(key, deque()).append(now)
            if len(self._events) >= self._sweep_at:  # forget the quiet keys, so memory follows current traffic
                horizon = now - self.seconds
                self._events = {k: v for k, v in self._events.items() if v[-1] > horizon}
                self._sweep_at = max(1024, 2 * len(self._events))


class SharedWindow:
    """A `SlidingWindow` that every web worker shares: one sorted set per key in Redis, scored by time, so a
    resident cannot get round a limit by landing on another worker. If Redis cannot be reached, this worker's own
    count stands in for RETRY_SECONDS at a time (one worker's share of the limit still holds), so an outage
    neither lets a flood through nor stalls the sockets waiting for Redis."""

    RETRY_SECONDS = 5.0

    def __init__(self, client: redis.Redis, name: str, limit: int, seconds: float = 60.0) -> None:
        self.client, self.name, self.limit, self.seconds = client, name, limit, seconds
        self.local = SlidingWindow(limit, seconds)
        self._redis_back_at = 0.0

    def _shared(self) -> bool:
        return time.monotonic() >= self._redis_back_at

    def _redis_failed(self, error: redis.RedisError) -> None:
        log.warning("chat rate limits: Redis unavailable (%s); counting in this worker for now", error)
        self._redis_back_at = time.monotonic() + self.RETRY_SECONDS

    def full(self, key: str) -> bool:
        if self._shared():
            try:
                with self.client.pipeline() as pipe:
                    pipe.zremrangebyscore(self._key(key), 0, time.time() - self.seconds)
                    pipe.zcard(self._key(key))
                    return int(pipe.execute()[1]) >= self.limit
            except redis.RedisError as error:
                self._redis_failed(error)
        return self.local.full(key)

    def add(self, key: str) -> None:
        self.local.add(key)
        if self._shared():
            try:
                with self.client.pipeline() as pipe:
                    now = time.time()
                    pipe.zadd(self._key(key), {f"{now}:{secrets.token_hex(4)}": now})
                    pipe.expire(self._key(key), int(self.seconds) + 1)
                    pipe.execute()
            except redis.RedisError as error:
                self._redis_failed(error)

    def _key(self, key: str) -> str:
        return f"civicdesk:chat:limit:{self.name}:{key}"


Window = SlidingWindow | SharedWindow


@dataclass
class ChatLimits:
    messages_per_conversation: Window
    messages_per_address: Window
    conversations_per_address: Window


def limits_of(app: Any) -> ChatLimits:
    if not hasattr(app.state, "chat_limits"):
        settings = app.state.settings
        limits = {
            "messages_per_conversation": settings.chat_messages_per_minute,
            "messages_per_address": settings.chat_messages_per_address_per_minute,
            "conversations_per_address": settings.chat_conversations_per_address_per_minute,
        }
        if settings.redis_url:
            client = redis.Redis.from_url(settings.redis_url, socket_connect_timeout=0.2, socket_timeout=0.2)
            app.state.chat_limits = ChatLimits(**{n: SharedWindow(client, n, limit) for n, limit in limits.items()})
        else:
            app.state.chat_limits = ChatLimits(**{n: SlidingWindow(limit) for n, limit in limits.items()})
    chat_limits: ChatLimits = app.state.chat_limits
    return chat_limits


TOO_FAST = "you are sending messages very quickly; please wait a moment and try again"
TOO_MANY_CHATS = "too many new chats have been started from your network; please wait a minute and try again"
BINARY_FRAME = "send JSON in text frames; binary frames are not accepted"


def parse(frame: str) -> Any:
    try:
        return json.loads(frame)
    except (ValueError, RecursionError):  # not JSON, or nested deeper than the parser goes
        return None


def problem(data: Any) -> str | None:
    if not isinstance(data, dict) or data.get("type") not in ("message", "leave_message", "end"):
        return 'send {"type": "message", "text": "..."}'
    for name, value in data.items():
        if isinstance(value, str) and not validation.whole_characters(value):
            return f"the {name} contains a character that is not valid text (half of a UTF-16 pair); please retype it"
    if data["type"] == "end":
        rating, comment = data.get("rating"), data.get("comment")
        if rating is not None and (isinstance(rating, bool) or rating not in chat.RATINGS):
            return "the rating is a number from 1 (poor) to 5 (excellent)"
        if comment is not None and (not isinstance(comment, str) or len(comment) > MAX_MESSAGE_CHARS):
            return f"the comment must be text of at most {MAX_MESSAGE_CHARS} characters"
        return None
    text = data.get("text")
    if not isinstance(text, str) or not text.strip():
        return "the message is empty"
    if len(text) > MAX_MESSAGE_CHARS:
        return f"messages are limited to {MAX_MESSAGE_CHARS} characters; please split it"
    if "payload" in data and not isinstance(data["payload"], str):
        return "a button's payload is text"
    if data["type"] == "message" and "payload" not in data and not text.lstrip("/").strip():
        return "the message is empty"  # typed text loses its leading slashes (see `take_input`)
    if data["type"] == "leave_message":
        for name in ("choice", "name", "phone", "email"):
            value = data.get(name)
            if value is not None and (not isinstance(value, str) or len(value) > MAX_FIELD_CHARS):
                return f"{name} must be text of at most {MAX_FIELD_CHARS} characters"
    return None


@dataclass
class Opened:
    public_id: str
    conversation_id: int | None  # None until the first input writes the conversation
    owner: str
    history: list[dict[str, Any]]
    last_id: int
    state: dict[str, Any]


def _open(factory: sessionmaker[Session], public_id: str | None) -> Opened:
    """The conversation the browser resumes, or a new id with nothing written: a bare connection (a crawler, a
    script opening sockets in a loop) costs no row."""
    with factory() as session:
        try:
            current = chat.find(session, public_id) if public_id else None
        except chat.ConversationNotFound:
            current = None  # an expired or mistyped id starts afresh, revealing nothing
        if current is None:
            return Opened(chat.new_public_id(), None, "bot", [], 0, state_json(session, None))
        past = chat.history(session, current)
        return Opened(
            current.public_id,
            current.id,
            current.owner,
            [message_json(m) for m in past],
            past[-1].id if past else 0,
            state_json(session, current),
        )


def _start(factory: sessionmaker[Session], public_id: str) -> int:
    with chat.writing(factory) as session:
        return chat.start(session, public_id=public_id).id


@dataclass
class News:
    messages: list[dict[str, Any]]
    last_id: int
    state: dict[str, Any]


def _news(factory: sessionmaker[Session], conversation_id: int, after_id: int, offer_after: float) -> News:
    """New messages since `after_id`; makes the callback offer once the wait has been too long."""
    wait = dt.timedelta(seconds=offer_after)
    with factory() as session:
        conversation = chat.get(session, conversation_id)
        due = chat.offer_due(conversation, wait)
    if due:
        with chat.writing(factory) as session:
            chat.offer_alternatives(session, chat.get(session, conversation_id), wait)
    with factory() as session:
        conversation = chat.get(session, conversation_id)
        fresh = chat.messages_after(session, conversation_id, after_id)
        return News(
            [message_json(m) for m in fresh],
            fresh[-1].id if fresh else after_id,
            state_json(session, conversation),
        )


def _state(factory: sessionmaker[Session], conversation_id: int) -> dict[str, Any]:
    with factory() as session:
        return state_json(session, chat.get(session, conversation_id))


def _button_offered(factory: sessionmaker[Session], conversation_id: int, payload: str) -> bool:
    """Whether the assistant offered this button lately, in a chat that has not ended (an ended chat's buttons
    are disabled in the widget; a new chat is started instead)."""
    with factory() as session:
        if chat.get(session, conversation_id).owner == "closed":
            return False
        recent = session.scalars(
            select(ChatMessage.payload)
            .where(ChatMessage.conversation_id == conversation_id, ChatMessage.author == "bot")
            .order_by(ChatMessage.id.desc())
            .limit(BUTTON_LOOKBACK)
        )
        return any(payload == b.get("payload") for buttons in recent for b in buttons.get("buttons", []))


def _end_chat(factory: sessionmaker[Session], conversation_id: int, data: dict[str, Any]) -> None:
    with chat.writing(factory) as session:
        chat.end_by_resident(session, chat.get(session, conversation_id), data.get("rating"), data.get("comment"))


def _leave_message(factory: sessionmaker[Session], conversation_id: int, data: dict[str, Any]) -> None:
    with chat.writing(factory) as session:
        conversation = chat.get(session, conversation_id)
        chat.leave_message(
            session,
            conversation,
            str(data.get("choice") or ""),
            str(data["text"]),
            name=data.get("name") or None,
            phone=data.get("phone") or None,
            email=data.get("email") or None,
        )


class ResidentSocket:
    """One browser tab: a receiving loop (the resident's input) and a sending loop (what is new)."""

    def __init__(self, websocket: WebSocket, opened: Opened) -> None:
        self.websocket = websocket
        self.opened = opened
        self.state = websocket.app.state
        self.factory: sessionmaker[Session] = self.state.session_factory
        self.hub = hub_of(websocket.app)
        self.limits = limits_of(websocket.app)
        self.address = client_address(websocket)
        self.send_lock = anyio.Lock()
        self.last_state = opened.state  # the state the browser was last told
        self.delivered = opened.last_id  # the newest message id the browser has

    def too_fast(self) -> str | None:
        # A person types a few messages a minute; a script flooding the socket (and, through it, Rasa and the
        # database) is slowed and told so. Per conversation, so reconnecting does not start the count afresh; per
        # address, so neither do new conversations, whose number per address is limited too.
        checks = [
            (self.limits.messages_per_conversation, self.opened.public_id, TOO_FAST),
            (self.limits.messages_per_address, self.address, TOO_FAST),
        ]
        if self.opened.conversation_id is None:
            checks.append((self.limits.conversations_per_address, self.address, TOO_MANY_CHATS))
        for window, key, message in checks:
            if window.full(key):
                return message
        for window, key, _ in checks:
            window.add(key)
        return None

    async def start_conversation(self, tasks: TaskGroup) -> int:
        """Write the conversation on its first input, and watch it from then on."""
        if self.opened.conversation_id is None:
            self.opened.conversation_id = await to_thread.run_sync(_start, self.factory, self.opened.public_id)
            await tasks.start(self.watch)
        return self.opened.conversation_id

    async def send(self, data: dict[str, Any]) -> None:
        async with self.send_lock:
            await self.websocket.send_json(data)

    async def deliver(self, messages: list[dict[str, Any]], state: dict[str, Any] | None = None) -> None:
        """Send what the browser has not had yet, in order, then the state if it changed. Two paths deliver
        (the answer to the resident's own message at once, and the news loop), so each message goes out once,
        whichever comes first; the state follows the messages that changed it."""
        async with self.send_lock:
            fresh = [m for m in messages if m["id"] > self.delivered]
            if fresh:
                self.delivered = fresh[-1]["id"]
            shown = [m for m in fresh if m["author"] != "resident"]  # the widget shows the resident's own at once
            news = state if state is not None and state != self.last_state else None
            if news is not None:
                self.last_state = news
            for message in shown:
                if news is not None and message is shown[-1]:
                    message = {**message, "state": news}  # the change rides on the message that made it
                await self.websocket.send_json(message)
            if news is not None and not shown:
                await self.websocket.send_json(news)

    async def watch(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        assert self.opened.conversation_id is not None
        with self.hub.watch(self.opened.conversation_id) as event:
            task_status.started()
            # Sending to a socket the browser has just closed is the normal way this loop ends.
            with suppress(WebSocketDisconnect, RuntimeError, OSError):
                await self.push_news(self.opened.conversation_id, event)

    async def push_news(self, conversation_id: int, event: asyncio.Event) -> None:
        wait = self.state.settings.chat_agent_wait_seconds
        while True:
            await wait_for_news(event)
            news = await to_thread.run_sync(_news, self.factory, conversation_id, self.delivered, wait)
            await self.deliver(news.messages, news.state)

    async def receive(self) -> tuple[Any, str | None] | None:
        """The next input and what is wrong with it, if anything; None once the browser has gone."""
        frame = await self.websocket.receive()
        if frame["type"] == "websocket.disconnect":
            return None
        if frame.get("text") is None:
            return None, BINARY_FRAME  # the widget only sends text
        data = parse(frame["text"])
        return data, problem(data) or self.too_fast()

    async def take_input(self, client: httpx.AsyncClient, tasks: TaskGroup) -> None:
        settings = self.state.settings
        while received := await self.receive():
            data, wrong = received
            if wrong:
                await self.send({"type": "error", "message": wrong})
                continue
            conversation_id = await self.start_conversation(tasks)
            if data["type"] == "leave_message":
                await self.leave_message(conversation_id, data)
                continue
            if data["type"] == "end":
                await to_thread.run_sync(_end_chat, self.factory, conversation_id, data)
                self.hub.notify(conversation_id)  # the reply arrives like any new message
                continue
            text, rasa_text = data["text"].strip(), None
            if "payload" in data:
                payload = data["payload"]
                if not await to_thread.run_sync(_button_offered, self.factory, conversation_id, payload):
                    await self.send({"type": "error", "message": "that button is no longer available"})
                    continue
                rasa_text = payload
            else:
                # Typed text never reaches Rasa as an intent ("/handback", "/request_human{...}"): only the
                # buttons the assistant offered may do that.
                text = text.lstrip("/").strip()
            answer = await chat.resident_says(
                self.factory,
                client,
                settings.rasa_url,
                self.opened.public_id,
                text,
                rasa_text,
                self.delivered,
                assistant_working=lambda: self.send({"type": "typing"}),
            )
            await self.deliver(
                [message_json(m) for m in answer], await to_thread.run_sync(_state, self.factory, conversation_id)
            )
            self.hub.notify(conversation_id)  # other tabs, and agents watching

    async def leave_message(self, conversation_id: int, data: dict[str, Any]) -> None:
        try:
            await to_thread.run_sync(_leave_message, self.factory, conversation_id, data)
        except InvalidInput as error:
            await self.send({"type": "error", "message": error.message, "field": error.field})
            return
        except chat.NotAllowed as error:
            await self.send({"type": "error", "message": str(error)})
            return
        self.hub.notify(conversation_id)


@router.websocket("/chat/ws")
async def chat_socket(websocket: WebSocket, conversation: str | None = None) -> None:
    await websocket.accept()
    opened = await to_thread.run_sync(_open, websocket.app.state.session_factory, conversation)
    await websocket.send_json(
        {
            "type": "conversation",
            "id": opened.public_id,
            "owner": opened.owner,
            "state": opened.state,
            "history": opened.history,
            **({"position": opened.state["position"]} if "position" in opened.state else {}),
        }
    )
    resident = ResidentSocket(websocket, opened)
    async with httpx.AsyncClient() as client, anyio.create_task_group() as tasks:
        if opened.conversation_id is not None:
            await tasks.start(resident.watch)
        await resident.take_input(client, tasks)
        tasks.cancel_scope.cancel()
