"""What Service First writes back to a resident who emailed: an agent's reply from the console, and the reference
of a request an agent filed from the email.

Both go to the outbox (`OutboundMessage`) in the transaction that decides them and are delivered by the ingester
(email_ingest/outbox.py). Both answer the resident's message: In-Reply-To is its Message-ID, References its thread
plus its Message-ID, the subject is "Re: ..." with the request's [SR-...] tag when there is a request, so the
resident's mail program threads them and a reply from the resident comes back onto the same request.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.utils import make_msgid

from sqlalchemy import select
from sqlalchemy.orm import Session

from civicdesk.business_time import REGION_TZ
from civicdesk.errors import InvalidInput
from civicdesk.limits import LIMITS
from civicdesk.models import InboundEmail, OutboundMessage, ServiceRequest
from civicdesk.notices import NOTICE_OF_COLLECTION
from civicdesk.service_requests import service as service_requests
from civicdesk.service_requests.threads import subject_for, thread_headers

MAX_REPLY_CHARS = LIMITS["email_text"]  # the console form allows as much
RESIDENT_PURPOSES = ("acknowledgement", "reply", "reference", "update")
SIGN_OFF = "Northvale Service First\n311 (905-555-0100 from outside the region) · https://www.northvale.ca"


@dataclass(frozen=True)
class SavedReply:
    title: str
    text: str


# Answers agents write again and again, kept short and plain; the agent edits the inserted text before sending.
SAVED_REPLIES: tuple[SavedReply, ...] = (
    SavedReply(
        "Thank you, we are looking into it",
        "Thank you for writing to us. We are looking into this and will write again as soon as we know more.",
    ),
    SavedReply(
        "We need more details",
        "Thank you for your message. To help you, we need a little more information: the exact address or nearest "
        "intersection, and when you first noticed the problem. You can reply to this email with the details.",
    ),
    SavedReply(
        "Not a Regional service",
        "Thank you for contacting the Region. This service is provided by your local municipality (Northvale, "
        "Harlow Falls, Pinecrest, Elm Ridge, Dunmore or Kestrel Bay), so please contact your town or city hall "
        "directly. If you are not sure which one to call, reply to this email with your address.",
    ),
    SavedReply(
        "Answered by phone",
        "Thank you for your message. As discussed on the phone today, we have noted your concern. Please reply to "
        "this email if there is anything else we can help with.",
    ),
)


class CannotReply(Exception):
    """The case cannot be answered by email (no address, or another department's request); the text says why."""


def _address(row: InboundEmail) -> str:
    if not row.sender_address:
        raise CannotReply("this email has no sender address to reply to")
    return row.sender_address


def _outbound(
    row: InboundEmail, purpose: str, body: str, request: ServiceRequest | None, domain: str
) -> OutboundMessage:
    in_reply_to, references = thread_headers(row)
    return OutboundMessage(
        channel="email",
        purpose=purpose,
        recipient=_address(row),
        subject=subject_for(row, request),
        body=body,
        message_id=make_msgid(domain=domain),
        in_reply_to=in_reply_to,
        references=references,
        inbound_email_id=row.id,
        service_request_id=request.id if request is not None else None,
    )


def send_reply(
    session: Session, row: InboundEmail, text: str, department_id: int | None, domain: str
) -> OutboundMessage:
    """An agent's answer to the email, queued in the outbox. An agent of one department may not answer an email
    that is on another department's request (they cannot see that request either)."""
    body = text.strip()
    if not body:
        raise InvalidInput("text", "the reply is empty: write the answer, or insert a passage or a saved reply")
    if len(body) > MAX_REPLY_CHARS:
        raise InvalidInput("text", f"the reply is {len(body):,} characters; the most is {MAX_REPLY_CHARS:,}")
    request = row.service_request
    if request is not None and service_requests.visible(request, department_id) is None:
        raise CannotReply("this email is on a service request that another department handles: they answer it")
    message = _outbound(row, "reply", f"{body}\n\n{SIGN_OFF}\n\n{NOTICE_OF_COLLECTION}\n", request, domain)
    session.add(message)
    session.flush()
    return message


def filed_text(request: ServiceRequest) -> str:
    """What a resident is told when their email became a request: its reference, who has it, when it is due."""
    due = request.due_at.astimezone(REGION_TZ)
    return (
        f"Thank you for contacting Northvale Service First. We have created service request {request.reference} "
        f"({request.service.name}) and sent it to {request.department.name}. Our target is to respond by "
        f"{due:%A, %B} {due.day} at {due:%-I:%M %p}.\n\n"
        f"To add details, reply to this email and keep {request.reference} in the subject. To check its status, "
        "ask our online assistant at https://www.northvale.ca or call 311 (905-555-0100 from outside the region)."
    )


def send_reference(session: Session, row: InboundEmail, request: ServiceRequest, domain: str) -> OutboundMessage | None:
    """Tell the sender the reference of the request an agent filed from their email; None without an address."""
    if not row.sender_address:
        return None
    message = _outbound(row, "reference", f"{filed_text(request)}\n\n{NOTICE_OF_COLLECTION}\n", request, domain)
    session.add(message)
    session.flush()
    return message


def sent_to_resident(session: Session, rows: list[InboundEmail]) -> list[OutboundMessage]:
    """What we wrote back about these emails (the case and its thread), oldest first: on-call notices excluded."""
    ids = [r.id for r in rows]
    if not ids:
        return []
    return list(
        session.scalars(
            select(OutboundMessage)
            .where(
                OutboundMessage.inbound_email_id.in_(ids),
                OutboundMessage.channel == "email",
                OutboundMessage.purpose.in_(RESIDENT_PURPOSES),
            )
            .order_by(OutboundMessage.created_at, OutboundMessage.id)
        )
    )
