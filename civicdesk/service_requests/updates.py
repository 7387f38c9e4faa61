"""Residents hear back: whoever gave an email address with a request (chat, email, Open311) is told when it is
assigned, changes status or is closed, with the resolution (the public part of the closing note), as FixMyStreet
tells its reporters. Staff names and internal notes are never in an update.

Updates go to the outbox with the request's [SR-...] tag, threaded on the resident's first email when the request
came from one. Each carries one link that stops them: signed with the app's secret key, so it works without
signing in and without storing a token; stopping is recorded on the request (`updates_stopped_at`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from email.utils import make_msgid
from urllib.parse import urlencode

from sqlalchemy import select
from sqlalchemy.orm import Session

from civicdesk.models import InboundEmail, OutboundMessage, ServiceRequest
from civicdesk.notices import NOTICE_OF_COLLECTION
from civicdesk.service_requests.threads import message_id_domain, subject_for, thread_headers
from civicdesk.settings import Settings

STOP_PATH = "/updates/stop"
_PURPOSE = b"resident-updates:"  # a token signs this purpose and the reference, nothing else
STATUS_NEWS = {
    "open": "is open again, and staff will look at it",
    "acknowledged": "has been received by the department, which will look at it",
    "in_progress": "is being worked on",
    "referred": "has been referred to another organization",
    "closed": "has been closed",
}


@dataclass(frozen=True)
class ResidentMail:
    """What an update needs from the settings: the key that signs stop links, where they point, our mail domain."""

    secret: bytes
    link_base: str
    domain: str

    @classmethod
    def from_settings(cls, settings: Settings) -> ResidentMail:
        return cls(
            secret=settings.secret_key.get_secret_value().encode(),
            link_base=settings.public_base_url.rstrip("/"),
            domain=message_id_domain(settings.mail_from),
        )

    def token(self, reference: str) -> str:
        digest = hmac.new(self.secret, _PURPOSE + reference.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def token_ok(self, reference: str, token: str) -> bool:
        return hmac.compare_digest(self.token(reference).encode(), token.encode())

    def stop_link(self, reference: str) -> str:
        return f"{self.link_base}{STOP_PATH}?{urlencode({'request': reference, 'token': self.token(reference)})}"


@dataclass(frozen=True)
class Before:
    """The fields an update reports, as they were before a change."""

    status: str
    assignee: str | None

    @classmethod
    def of(cls, request: ServiceRequest) -> Before:
        return cls(request.status, request.assignee)


def news(request: ServiceRequest, before: Before) -> str | None:
    """What changed that the resident should hear, in their words; None when nothing did."""
    if request.status != before.status:
        text = f"Your service request {request.reference} ({request.service.name}) {STATUS_NEWS[request.status]}."
        if request.status == "referred" and request.referral is not None:
            text = text.replace("another organization", request.referral.name)
        if request.status == "closed" and request.resolution:
            text += f"\n\nHow it was resolved:\n{request.resolution}"
        return text
    if request.assignee and request.assignee != before.assignee:
        return (
            f"Your service request {request.reference} ({request.service.name}) has been assigned to a member of "
            f"{request.department.name} staff, who will look after it."
        )
    return None


def _first_email(session: Session, request: ServiceRequest) -> InboundEmail | None:
    return session.scalar(
        select(InboundEmail)
        .where(InboundEmail.service_request_id == request.id, InboundEmail.message_id.is_not(None))
        .order_by(InboundEmail.received_at, InboundEmail.id)
        .limit(1)
    )


def notify(session: Session, request: ServiceRequest, before: Before, mail: ResidentMail) -> OutboundMessage | None:
    """Queue an update for the resident if something they care about changed and they still want updates."""
    address = request.contact.email if request.contact is not None else None
    text = news(request, before)
    if not address or text is None or request.updates_stopped_at is not None or not request.reference:
        return None
    first = _first_email(session, request)
    subject = f"[{request.reference}] Update on your service request"
    in_reply_to = references = None
    if first is not None:
        subject = subject_for(first, request)
        in_reply_to, references = thread_headers(first)
    body = (
        f"{text}\n\nTo add details, reply to this email and keep {request.reference} in the subject.\n\n"
        f"To stop getting updates about {request.reference}, open this link: {mail.stop_link(request.reference)}"
        f"\n\n{NOTICE_OF_COLLECTION}\n"
    )
    message = OutboundMessage(
        channel="email",
        purpose="update",
        recipient=address,
        subject=subject,
        body=body,
        message_id=make_msgid(domain=mail.domain),
        in_reply_to=in_reply_to,
        references=references,
        inbound_email_id=first.id if first is not None else None,
        service_request_id=request.id,
    )
    session.add(message)
    session.flush()
    return message
