"""The agents' work queue: everything waiting for a person, from every source, in one order.

A source is a function returning `QueueItem`s; chats waiting for an agent are the first. Email cases needing a
human are the second: `email_cases` adds its source with `register_source`, and the queue page, its live
updates and its ordering (most urgent first, then longest waiting) take them without change.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from civicdesk.chat import service as chat
from civicdesk.db import utcnow
from civicdesk.models import ChatMessage, Conversation
from civicdesk.work import service_levels

URGENCY_ORDER = {urgency: rank for rank, urgency in enumerate(chat.URGENCIES)}
# Why a conversation is waiting, as the assistant (actions/handoff.py) or the gateway says it.
REASONS = {
    "resident_request": "Resident asked for a person",
    "frustration": "Resident is frustrated",
    "complaint": "Complaint or appeal",
    "damage_claim": "Claim for damage or injury",
    "not_understood": "Assistant did not understand",
    "mental_health_crisis": "Mental health crisis",
    "submission_failed": "Report could not be filed",
    "assistant_unavailable": "Assistant was unavailable",
    "assistant_no_reply": "Assistant could not answer",
    "bot_request": "Assistant passed it on",
}


def reason_label(code: str | None) -> str:
    return REASONS.get(code or "", (code or "").replace("_", " ").capitalize())


@dataclass(frozen=True)
class QueueItem:
    kind: str  # "chat" or "email"
    key: str  # unique within its kind
    title: str  # what the agent reads first: the assistant's summary or the resident's words
    reason: str
    urgency: str  # emergency, urgent or routine
    waiting_since: dt.datetime
    url: str  # the console page where it is handled
    who: str = ""  # who wrote in, when known (an email's sender)
    due_at: dt.datetime | None = None  # its service level (service_levels.QUEUE_TARGET_HOURS)

    def as_json(self, now: dt.datetime) -> dict[str, Any]:
        data = asdict(self)
        data["waiting_since"] = self.waiting_since.isoformat()
        data["waiting_seconds"] = max(0, int((now - self.waiting_since).total_seconds()))
        data["due_at"] = self.due_at.isoformat() if self.due_at else None
        data["service_level"] = service_levels.state(self.waiting_since, self.due_at, now)
        return data


QueueSource = Callable[[Session], list[QueueItem]]


def _last_resident_words(session: Session, conversation_id: int) -> str:
    text = session.scalar(
        select(ChatMessage.text)
        .where(ChatMessage.conversation_id == conversation_id, ChatMessage.author == "resident")
        .order_by(ChatMessage.id.desc())
        .limit(1)
    )
    return text or "(no message yet)"


def chat_items(session: Session) -> list[QueueItem]:
    items = []
    for conversation in chat.waiting(session):
        title = conversation.summary or _last_resident_words(session, conversation.id)
        items.append(
            QueueItem(
                kind="chat",
                key=str(conversation.id),
                title=title[:300],
                reason=reason_label(conversation.handoff_reason),
                urgency=conversation.urgency,
                waiting_since=conversation.waiting_since or conversation.updated_at,
                url=f"/console/chats/{conversation.id}",
            )
        )
    return items


SOURCES: list[QueueSource] = [chat_items]


def register_source(source: QueueSource) -> None:
    if source not in SOURCES:
        SOURCES.append(source)


def work_queue(session: Session) -> list[QueueItem]:
    calendar = service_levels.Calendar.load(session)
    items = [
        replace(item, due_at=calendar.due(item.kind, item.urgency, item.waiting_since))
        for source in SOURCES
        for item in source(session)
    ]
    return sorted(items, key=lambda i: (URGENCY_ORDER.get(i.urgency, len(URGENCY_ORDER)), i.waiting_since, i.key))


def held_by(session: Session, agent: str) -> list[Conversation]:
    """The conversations this agent is answering now."""
    return list(
        session.scalars(
            select(Conversation)
            .where(Conversation.owner == "agent", Conversation.agent == agent)
            .order_by(Conversation.updated_at.desc())
        )
    )


def queue_json(session: Session, agent: str) -> dict[str, Any]:
    now = utcnow()
    return {
        "items": [item.as_json(now) for item in work_queue(session)],
        "mine": [
            {
                "key": str(c.id),
                "title": (c.summary or _last_resident_words(session, c.id))[:300],
                "url": f"/console/chats/{c.id}",
            }
            for c in held_by(session, agent)
        ],
    }
