"""What waits for a person, from every channel: the one list of the work queue's sources.

Each `Source` turns its waiting records into `QueueItem`s and can raise one's urgency. The console's queue
(`work.queue`) shows the items of every source in one order; service levels (`work.service_levels.escalate`)
escalate the same items when they wait past their target. A new channel is one more entry in SOURCES.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from civicdesk import labels
from civicdesk.chat import service as chat
from civicdesk.mail import cases as email_cases
from civicdesk.models import ChatMessage, Conversation, InboundEmail


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
    flag: str = ""  # a warning shown beside the title (a possible emergency nobody was paged for)


@dataclass(frozen=True)
class Source:
    kind: str  # the QueueItem kind, and the key of its targets in service_levels.QUEUE_TARGET_HOURS
    record_type: str  # how the audit log names its records
    items: Callable[[Session], list[QueueItem]]
    set_urgency: Callable[[Session, str, str], None]  # (session, item key, new urgency)
    # What the supervisors' escalation email calls an item: never a resident's own words, which stay in the console.
    escalation_title: Callable[[Session, QueueItem], str]


def last_resident_words(session: Session, conversation_id: int) -> str:
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
        title = labels.summary(conversation.summary) or last_resident_words(session, conversation.id)
        items.append(
            QueueItem(
                kind="chat",
                key=str(conversation.id),
                title=title[:300],
                reason=labels.handoff_reason(conversation.handoff_reason),
                urgency=conversation.urgency,
                waiting_since=conversation.waiting_since or conversation.updated_at,
                url=f"/console/chats/{conversation.id}",
            )
        )
    return items


def _set_chat_urgency(session: Session, key: str, urgency: str) -> None:
    conversation = session.get(Conversation, int(key))
    assert conversation is not None
    conversation.urgency = urgency


ESCALATION_TITLE_CHARS = 160
# Where a field of the assistant's summary starts ("Reason: ...", "Task under way: ...").
_FIELD_START = re.compile("|".join(rf"(?<=\s){re.escape(prefix)}" for prefix in labels.SUMMARY_LINES))


def shortened(text: str, limit: int = ESCALATION_TITLE_CHARS) -> str:
    """The text whole when it fits; else cut before the last field that fits, or after the last whole word,
    with an ellipsis: never mid-word ("Chosen time (slo")."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    fields = [m.start() for m in _FIELD_START.finditer(text) if limit // 2 <= m.start() < limit]
    cut = text[: fields[-1]] if fields else text[: limit - 1].rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:(-") + "…"


def _chat_escalation_title(session: Session, item: QueueItem) -> str:
    conversation = session.get(Conversation, int(item.key))
    return shortened((labels.summary(conversation.summary) if conversation else "") or "chat waiting for an agent")


POSSIBLE_EMERGENCY_FLAG = "Possible emergency: nobody was paged"


def email_items(session: Session) -> list[QueueItem]:
    return [
        QueueItem(
            kind="email",
            key=str(case.id),
            title=(case.subject or "(no subject)")[:300],
            reason=labels.email_reason(case.status_reason),
            urgency=email_cases.queue_urgency(case.urgency),
            waiting_since=case.received_at,
            url=f"/console/email/{case.id}",
            who=(case.sender or case.sender_address or "unknown sender")[:300],
            flag=POSSIBLE_EMERGENCY_FLAG if email_cases.possible_emergency(case.triage) else "",
        )
        for case in email_cases.waiting(session)
    ]


def _set_email_urgency(session: Session, key: str, urgency: str) -> None:
    row = session.get(InboundEmail, int(key))
    assert row is not None
    row.urgency = urgency


# Chats first: a resident is waiting on the page.
SOURCES: tuple[Source, ...] = (
    Source("chat", "conversation", chat_items, _set_chat_urgency, _chat_escalation_title),
    Source("email", "inbound_email", email_items, _set_email_urgency, lambda _session, item: shortened(item.title)),
)
