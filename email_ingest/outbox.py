"""Delivering the outbox: acknowledgements and notices by SMTP, emergency notices by webhook.

Rows are written in the transaction that decides them (see process.py) and delivered here afterwards, so a crash
delays a message but never loses it. A failed delivery is retried with growing pauses, up to `MAX_ATTEMPTS`.
"""

from __future__ import annotations

import contextlib
import logging
import smtplib
import ssl
from dataclasses import dataclass, field
from datetime import timedelta
from email.message import EmailMessage
from email.utils import formatdate
from typing import Literal

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from civicdesk.db import transaction, utcnow
from civicdesk.models import OutboundMessage
from email_ingest.imap import is_loopback
from email_ingest.loops import LOOP_HEADER

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
RETRY_BASE = timedelta(minutes=1)  # 1, 2, 4 ... minutes between attempts
BATCH = 200
JSON_HEADERS = {"Content-Type": "application/json"}


@dataclass(frozen=True)
class SmtpRelay:
    host: str
    port: int
    security: Literal["tls", "starttls", "plain"] = "starttls"
    username: str = ""
    password: str = field(default="", repr=False)
    timeout: float = 30.0
    ssl_context: ssl.SSLContext | None = None

    def __post_init__(self) -> None:
        if self.security == "plain" and not is_loopback(self.host):
            raise ValueError(f"plaintext SMTP is allowed only to loopback, not to {self.host}: use tls or starttls")

    def connect(self) -> smtplib.SMTP:
        context = self.ssl_context or ssl.create_default_context()
        smtp: smtplib.SMTP
        if self.security == "tls":
            smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            if self.security == "starttls":
                smtp.starttls(context=context)
        if self.username:
            smtp.login(self.username, self.password)
        return smtp


def as_email(row: OutboundMessage, mail_from: str, mailbox: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = mail_from
    message["To"] = row.recipient
    message["Subject"] = row.subject
    message["Date"] = formatdate(localtime=False)
    if row.message_id:
        message["Message-ID"] = row.message_id
    if row.in_reply_to:
        message["In-Reply-To"] = row.in_reply_to
        message["References"] = row.references or row.in_reply_to
    if row.purpose != "reply":  # an agent's own answer is a person writing, not an automatic message (RFC 3834)
        message["Auto-Submitted"] = "auto-replied" if row.purpose == "acknowledgement" else "auto-generated"
    message[LOOP_HEADER] = mailbox  # if this ever comes back to us, the ingester knows not to answer it
    message["X-Auto-Response-Suppress"] = "All"  # asks Exchange not to send out-of-office replies to it
    message.set_content(row.body)
    return message


def deliver_pending(
    factory: sessionmaker[Session],
    relay: SmtpRelay | None,
    mail_from: str,
    mailbox: str,
    webhook_client: httpx.Client | None = None,
) -> int:
    """Send what is due; returns how many went out. Without a relay, email waits in the outbox."""
    now = utcnow()
    with factory() as session:
        due = session.scalars(
            select(OutboundMessage)
            .where(OutboundMessage.status == "pending", OutboundMessage.next_attempt_at <= now)
            .order_by(OutboundMessage.purpose != "oncall", OutboundMessage.id)  # emergencies first
            .limit(BATCH)
        ).all()
        session.expunge_all()
    if not due:
        return 0
    sent = 0
    smtp: smtplib.SMTP | None = None
    client = webhook_client or httpx.Client(timeout=10.0)
    try:
        for row in due:
            error: str | None = None
            try:
                if row.channel == "webhook":
                    response = client.post(row.recipient, content=row.body, headers=JSON_HEADERS)
                    response.raise_for_status()
                else:
                    if relay is None:
                        continue
                    if smtp is None:
                        smtp = relay.connect()
                    smtp.send_message(as_email(row, mail_from, mailbox))
            except (OSError, smtplib.SMTPException, httpx.HTTPError) as failure:
                error = f"{type(failure).__name__}: {failure}"[:2000]
                if isinstance(failure, smtplib.SMTPServerDisconnected | OSError):
                    smtp = None
            _record(factory, row.id, error)
            sent += error is None
    finally:
        if smtp is not None:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                smtp.quit()
        if webhook_client is None:
            client.close()
    return sent


def _record(factory: sessionmaker[Session], row_id: int, error: str | None) -> None:
    with transaction(factory) as session:
        row = session.get(OutboundMessage, row_id)
        if row is None:
            return
        row.attempts += 1
        if error is None:
            row.status, row.sent_at, row.last_error = "sent", utcnow(), None
            return
        row.last_error = error
        if row.attempts >= MAX_ATTEMPTS:
            row.status = "failed"
            log.error("outbound %s to %s failed %d times: %s", row.purpose, row.recipient, row.attempts, error)
        else:
            row.next_attempt_at = utcnow() + RETRY_BASE * 2 ** (row.attempts - 1)
            log.warning("outbound %s to %s failed (attempt %d): %s", row.purpose, row.recipient, row.attempts, error)
