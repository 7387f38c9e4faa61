"""Email in and out: each message received with its attachments, the outbox, the ingester's mailbox lease and IMAP
checkpoints.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from civicdesk.db import utcnow
from civicdesk.models.base import Base

if TYPE_CHECKING:
    from civicdesk.models.service_requests import ServiceRequest


class InboundEmail(Base):
    """A message as received: raw bytes kept so nothing is lost, one row per distinct message."""

    __tablename__ = "inbound_email"

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    message_id: Mapped[str | None] = mapped_column(String(998), index=True)
    source: Mapped[str] = mapped_column(String(300))
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(Integer)
    subject: Mapped[str | None] = mapped_column(Text)
    sender: Mapped[str | None] = mapped_column(String(998))
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # Same Message-ID and same body is one message however many routes it took (Received headers differ);
    # the key falls back to the raw sha256 when there is no Message-ID.
    dedupe_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    # where the source keeps it: "UIDVALIDITY:UID" for IMAP, the file's key for Maildir (finishing cut-short moves)
    source_key: Mapped[str | None] = mapped_column(String(300), index=True)
    # stored (raw only) -> routed | threaded | needs_human | bounce | ignored, or quarantined (unreadable, oversize)
    status: Mapped[str] = mapped_column(String(20), default="stored", index=True)
    status_reason: Mapped[str | None] = mapped_column(Text)
    sender_address: Mapped[str | None] = mapped_column(String(254), index=True)  # lower-case, from From:
    in_reply_to: Mapped[str | None] = mapped_column(String(998))
    references: Mapped[str | None] = mapped_column(Text)
    new_text: Mapped[str | None] = mapped_column(Text)  # what the sender wrote now: no quoted reply or signature
    quoted_text: Mapped[str | None] = mapped_column(Text)
    no_reply_reason: Mapped[str | None] = mapped_column(String(200))  # why no acknowledgement went out (RFC 3834)
    triage: Mapped[dict[str, Any] | None] = mapped_column()  # the classifiers' labels, confidences and entities
    urgency: Mapped[str | None] = mapped_column(String(20))
    service_request_id: Mapped[int | None] = mapped_column(ForeignKey("service_request.id"), index=True)
    processed_at: Mapped[dt.datetime | None]
    # An agent finished the case (needs_human or quarantined): it leaves the work queue.
    handled_at: Mapped[dt.datetime | None]
    handled_by: Mapped[str | None] = mapped_column(String(120))

    attachments: Mapped[list[EmailAttachment]] = relationship(
        back_populates="email", order_by="EmailAttachment.id", cascade="all, delete-orphan"
    )
    service_request: Mapped[ServiceRequest | None] = relationship()


class EmailAttachment(Base):
    """A file attached to an inbound email; `content` is kept only under the attachment size cap."""

    __tablename__ = "email_attachment"

    id: Mapped[int] = mapped_column(primary_key=True)
    email_id: Mapped[int] = mapped_column(ForeignKey("inbound_email.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(120))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes | None] = mapped_column(LargeBinary)

    email: Mapped[InboundEmail] = relationship(back_populates="attachments")


class OutboundMessage(Base):
    """The outbox: acknowledgements, on-call notices and alerts, written in the transaction that decides them
    and delivered afterwards (SMTP or webhook), so a crash delays a message but never loses it."""

    __tablename__ = "outbound_message"
    # The per-sender acknowledgement limit counts a sender's recent messages on every incoming email.
    __table_args__ = (Index("ix_outbound_message_recipient_created_at", "recipient", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))  # email | webhook
    # acknowledgement | reply (an agent's) | reference (a request filed from the email) | oncall | alert
    purpose: Mapped[str] = mapped_column(String(30), index=True)
    recipient: Mapped[str] = mapped_column(String(500))  # an address, or the webhook URL
    subject: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[str] = mapped_column(Text)
    message_id: Mapped[str | None] = mapped_column(String(998), unique=True)  # ours, for threading and bounces
    in_reply_to: Mapped[str | None] = mapped_column(String(998))
    references: Mapped[str | None] = mapped_column(Text)  # the thread's Message-IDs; In-Reply-To when empty
    inbound_email_id: Mapped[int | None] = mapped_column(ForeignKey("inbound_email.id"), index=True)
    service_request_id: Mapped[int | None] = mapped_column(ForeignKey("service_request.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="pending", index=True)  # pending | sent | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[dt.datetime | None]


class MailboxLease(Base):
    """One fetcher per mailbox: the holder renews its lease while it reads; another takes over once it expires."""

    __tablename__ = "mailbox_lease"

    mailbox: Mapped[str] = mapped_column(String(300), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[dt.datetime]


class MailCheckpoint(Base):
    """How far the ingester has read one IMAP folder: every UID up to `last_uid` under `uidvalidity` is stored.

    Written in the same transaction as each message's row. `last_folder` is where `last_uid` goes, so a move that
    a crash cut short is finished on the next pass without downloading the message again.
    """

    __tablename__ = "mail_checkpoint"

    mailbox: Mapped[str] = mapped_column(String(300), primary_key=True)  # imap://user@host:port/INBOX
    uidvalidity: Mapped[int] = mapped_column(BigInteger)  # IMAP UIDs and UIDVALIDITY are unsigned 32-bit
    last_uid: Mapped[int] = mapped_column(BigInteger)
    last_folder: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
