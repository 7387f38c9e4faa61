"""Chat conversations, their messages and agents' notes."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    ForeignKey,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from civicdesk.db import utcnow
from civicdesk.models.base import Base

if TYPE_CHECKING:
    from civicdesk.models.service_requests import ServiceRequest


class Conversation(Base):
    """A chat with a resident. `owner` says who answers now: bot, waiting (the agent queue), agent, or closed."""

    __tablename__ = "conversation"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(64), unique=True)  # unguessable; the browser's only key
    channel: Mapped[str] = mapped_column(String(20), default="web")
    owner: Mapped[str] = mapped_column(String(20), default="bot", index=True)
    agent: Mapped[str | None] = mapped_column(String(120))
    handoff_reason: Mapped[str | None] = mapped_column(String(60))
    summary: Mapped[str | None] = mapped_column(Text)
    slots: Mapped[dict[str, Any]] = mapped_column(default=dict)  # what the assistant had collected
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    waiting_since: Mapped[dt.datetime | None]
    urgency: Mapped[str] = mapped_column(String(20), default="routine")  # from the bot's handoff payload
    service_request_id: Mapped[int | None] = mapped_column(ForeignKey("service_request.id"))
    offered_at: Mapped[dt.datetime | None]  # when the resident was offered a callback or to leave a message
    # The last wait for an agent, kept after it ends (waiting_since is cleared): service levels are measured on it.
    queued_at: Mapped[dt.datetime | None]
    claimed_at: Mapped[dt.datetime | None]
    # The end-of-chat survey: 1 (poor) to 5 (excellent), and what the resident added.
    rating: Mapped[int | None] = mapped_column(Integer)
    rating_comment: Mapped[str | None] = mapped_column(Text)
    closed_at: Mapped[dt.datetime | None]

    messages: Mapped[list[ChatMessage]] = relationship(back_populates="conversation", order_by="ChatMessage.id")
    notes: Mapped[list[ConversationNote]] = relationship(
        back_populates="conversation", order_by="ConversationNote.id", cascade="all, delete-orphan"
    )
    service_request: Mapped[ServiceRequest | None] = relationship()


class ChatMessage(Base):
    """One message of a conversation, whoever wrote it: resident, bot, agent or system."""

    __tablename__ = "chat_message"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversation.id", ondelete="CASCADE"), index=True)
    author: Mapped[str] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)  # buttons, queue position
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    conversation: Mapped[Conversation] = relationship(back_populates="messages")


class ConversationNote(Base):
    """An agent's internal note on a conversation; never shown to the resident."""

    __tablename__ = "conversation_note"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversation.id", ondelete="CASCADE"), index=True)
    author: Mapped[str] = mapped_column(String(254))
    body: Mapped[str] = mapped_column(Text)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    conversation: Mapped[Conversation] = relationship(back_populates="notes")
