"""What happens to a stored message: parse, thread, triage, route, acknowledge, escalate.

`process` runs in its own transaction after the raw message is committed, on rows whose status is still `stored`,
so a crash between the two only delays it. Every outgoing message (acknowledgement, on-call notice) is written to
the outbox in the same transaction and delivered afterwards (outbox.py).

The decision, for a message that is neither a bounce nor a reply to a known request, is `routing_decision`'s
(the one place it is made; bench/blind_email.py scores it). Each head counts by what its mistakes cost:
- emergency (a rule hit, or the model above its paging threshold): the human queue at once, the on-call contact
  notified, an acknowledgement that says whom to call;
- possible emergency (the model's lower, high-recall threshold): the top of the human queue with the emergency
  service level and a banner for the agents; nobody is paged;
- a service request whose service is confident: a service request routed to its department with the urgency the
  urgency head chose (urgent when urgent is plausible), acknowledged with the reference number and the target
  time. An unsure kind does not stop it unless its likeliest kind is another one;
- anything else (the service unclear, another kind, no location the service needs): the human queue with the
  reason.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import make_msgid
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from civicdesk.contacts import ContactIn
from civicdesk.db import utcnow
from civicdesk.errors import InvalidInput
from civicdesk.mail.parse import ParsedEmail, Unparseable, parse
from civicdesk.mail.replies import filed_text
from civicdesk.models import (
    EmailAttachment,
    InboundEmail,
    OnCallShift,
    OutboundMessage,
    Service,
    ServiceRequest,
)
from civicdesk.notices import EMERGENCY_INSTRUCTION, NOTICE_OF_COLLECTION
from civicdesk.service_requests.service import RequestIn, add_attachment, add_note, update_request
from civicdesk.service_requests.service import create_request as create_service_request
from civicdesk.work.service_levels import email_reply_promise
from email_ingest.loops import bounced_message_ids, is_bounce, no_reply_reason

if TYPE_CHECKING:
    from classifiers.model import Prediction, TriageModel

log = logging.getLogger(__name__)

ACTOR = "email-ingester"
_REFERENCE = re.compile(r"\bSR-\d{4}-\d{6}\b", re.IGNORECASE)
LOCATION_LABELS = ("ADDRESS", "INTERSECTION", "STREET")


@dataclass(frozen=True)
class ProcessConfig:
    mailbox: str  # goes into our loop header
    message_id_domain: str = "northvale.ca"
    max_attachment_bytes: int = 10 * 1024 * 1024
    ack_limit_per_hour: int = 3
    oncall_email: str = ""
    oncall_webhook_url: str = ""
    own_addresses: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Outcome:
    status: str  # routed | threaded | needs_human | bounce | quarantined
    acknowledged: bool = False
    escalated: bool = False


def try_parse(raw: bytes) -> ParsedEmail | Unparseable:
    try:
        return parse(raw)
    except Unparseable as error:
        return error


def predict_all(triage: TriageModel | None, parsed: Mapping[int, ParsedEmail | Unparseable]) -> dict[int, Prediction]:
    """Predictions for a batch of parsed messages in one call (one call per message costs several times more)."""
    readable = {key: email for key, email in parsed.items() if isinstance(email, ParsedEmail)}
    if triage is None or not readable:
        return {}
    predictions = triage.predict([_classifier_text(email) for email in readable.values()])
    return dict(zip(readable, predictions, strict=True))


def process(
    session: Session,
    row: InboundEmail,
    config: ProcessConfig,
    triage: TriageModel | None,
    *,
    parsed: ParsedEmail | Unparseable | None = None,
    prediction: Prediction | None = None,
) -> Outcome:
    """Decide what a stored message becomes; the caller commits. `parsed` and `prediction` may come precomputed."""
    email = try_parse(row.raw) if parsed is None else parsed
    if isinstance(email, Unparseable):
        return _finish(row, Outcome("quarantined"), f"cannot be read: {email}")
    _fill(row, email, config)
    if is_bounce(email):
        return _bounce(session, row, email)
    reply_block = no_reply_reason(email, config.own_addresses)
    target = _thread_target(session, email)
    if target is not None:
        return _thread(session, row, email, target)
    if triage is None:
        return _needs_human(session, row, email, config, reply_block, "no triage model is installed")
    prediction = prediction or triage.predict([_classifier_text(email)])[0]
    row.triage = prediction.to_dict()
    row.urgency = prediction.heads["urgency"].label if "urgency" in prediction.heads else None
    decision = routing_decision(prediction)
    if decision.page:
        return _emergency(session, row, email, config, reply_block, prediction)
    if not decision.route:
        soon = decision.possible_emergency
        return _needs_human(session, row, email, config, reply_block, decision.reason, soon=soon)
    try:
        request_in = _request_from(email, prediction, decision.urgency)
        request = create_service_request(session, request_in, ACTOR, require_answers=False)
    except InvalidInput as error:
        return _needs_human(session, row, email, config, reply_block, f"cannot file it automatically: {error}")
    row.service_request_id = request.id
    _attach_files(session, row, request)
    acknowledged = _acknowledge(session, row, email, config, reply_block, filed_text(request))
    return _finish(row, Outcome("routed", acknowledged=acknowledged), f"routed to {request.department.queue_name}")


def _fill(row: InboundEmail, email: ParsedEmail, config: ProcessConfig) -> None:
    row.sender_address = email.sender_address
    row.in_reply_to = email.in_reply_to
    row.references = " ".join(email.references)[:4000] or None
    row.new_text = email.new_text
    row.quoted_text = email.quoted_text or None
    for attachment in email.attachments:
        keep = attachment.size <= config.max_attachment_bytes
        row.attachments.append(
            EmailAttachment(
                filename=attachment.filename,
                content_type=attachment.content_type,
                size=attachment.size,
                sha256=attachment.sha256,
                content=attachment.content if keep else None,
            )
        )


def _classifier_text(email: ParsedEmail) -> str:
    # The classifiers were trained on subject + whole body, quotes included (nlu_data/email/README.md).
    from classifiers.data import compose_text

    return compose_text(email.subject, email.text)


@dataclass(frozen=True)
class RoutingDecision:
    """Whether a triaged new message is filed without a person, and why (what an agent sees when it is not)."""

    route: bool
    reason: str
    urgency: str = "routine"  # of the service request when routed
    page: bool = False  # an emergency: notify the on-call contact now
    possible_emergency: bool = False  # the top of the agents' queue with a banner; nobody is paged


def routing_decision(prediction: Prediction) -> RoutingDecision:
    """The ingester's choice for a prediction, apart from threading, parsing and filing (bench/blind_email.py
    scores it). By cost, per head: the service head decides whether the message can go to a department; the kind
    head stops it only when its likeliest kind is not a service request (an unsure "service request" still
    routes); the urgency head never stops it (it already chose the more urgent plausible label), except for the
    two emergency tiers."""
    heads = prediction.heads
    missing = [name for name in ("service_code", "kind", "urgency") if name not in heads]
    if missing:
        return RoutingDecision(False, f"the triage model has no {missing[0]} head")
    urgency = heads["urgency"]
    if urgency.tier == "page":
        return RoutingDecision(False, f"emergency: {urgency.reason}", urgency="emergency", page=True)
    if urgency.tier == "possible" or urgency.label == "emergency":
        reason = f"possible emergency: {urgency.reason}"
        return RoutingDecision(False, reason, urgency="emergency", possible_emergency=True)
    service, kind = heads["service_code"], heads["kind"]
    if kind.label != "service_request":
        return RoutingDecision(False, f"{kind.label.replace('_', ' ')}: an agent answers it")
    if service.abstain:
        return RoutingDecision(False, f"service unclear: {service.reason}")
    return RoutingDecision(True, f"routed as {urgency.label}", urgency=urgency.label)


def _request_from(email: ParsedEmail, prediction: Prediction, urgency: str) -> RequestIn:
    entities = prediction.entities
    location = next((e.text for label in LOCATION_LABELS for e in entities if e.label == label), None)
    postal = next((e.text for e in entities if e.label == "POSTAL_CODE"), None)
    phone = next((e.text for e in entities if e.label == "PHONE"), None)
    description = "\n\n".join(part for part in (email.subject.strip(), email.new_text.strip()) if part)
    return RequestIn(
        service_code=prediction.heads["service_code"].label,
        description=description[:8000],
        address=location,
        postal_code=postal,
        channel="email",
        kind="service_request",
        urgency=urgency,
        contact=ContactIn(email=email.sender_address, name=email.sender_name or None, phone=phone)
        if email.sender_address
        else None,
    )


def _attach_files(session: Session, row: InboundEmail, request: ServiceRequest) -> None:
    for file in row.attachments:
        add_attachment(session, request, file.filename, file.content_type, file.size, file.sha256)


def _thread_target(session: Session, email: ParsedEmail) -> ServiceRequest | None:
    """The request this message continues: by our Message-IDs it replies to, or an SR reference in the subject."""
    ids = [i for i in (email.in_reply_to, *email.references) if i]
    if ids:
        request_id = session.scalar(
            select(OutboundMessage.service_request_id).where(
                OutboundMessage.message_id.in_(ids), OutboundMessage.service_request_id.is_not(None)
            )
        ) or session.scalar(
            select(InboundEmail.service_request_id).where(
                InboundEmail.message_id.in_(ids), InboundEmail.service_request_id.is_not(None)
            )
        )
        if request_id is not None:
            return session.get(ServiceRequest, request_id)
    match = _REFERENCE.search(email.subject)
    if match:
        return session.scalar(select(ServiceRequest).where(ServiceRequest.reference == match.group(0).upper()))
    return None


def _thread(session: Session, row: InboundEmail, email: ParsedEmail, request: ServiceRequest) -> Outcome:
    row.service_request_id = request.id
    author = f"email from {email.sender_address or 'unknown sender'}"
    add_note(session, request, author, email.new_text or email.subject or "(no text)", internal=False)
    _attach_files(session, row, request)
    reason = f"added to {request.reference}"
    if request.status == "closed":
        update_request(session, request, ACTOR, status="open")
        reason += ", which was reopened"
    return _finish(row, Outcome("threaded"), reason)


def _bounce(session: Session, row: InboundEmail, email: ParsedEmail) -> Outcome:
    ids = bounced_message_ids(email)
    original = session.scalar(select(OutboundMessage).where(OutboundMessage.message_id.in_(ids))) if ids else None
    row.no_reply_reason = "delivery report"
    if original is None or original.service_request_id is None:
        return _finish(row, Outcome("bounce"), "delivery report for a message we cannot match")
    request = session.get(ServiceRequest, original.service_request_id)
    assert request is not None
    row.service_request_id = request.id
    add_note(
        session,
        request,
        ACTOR,
        f"Our {original.purpose} to {original.recipient} could not be delivered: "
        f"{(email.new_text or email.subject).strip()[:500]}",
    )
    return _finish(row, Outcome("bounce"), f"delivery report attached to {request.reference}")


def _needs_human(
    session: Session,
    row: InboundEmail,
    email: ParsedEmail,
    config: ProcessConfig,
    reply_block: str | None,
    reason: str,
    *,
    soon: bool = False,
) -> Outcome:
    """To the agents' queue with the reason; `soon`: a possible emergency, which an agent reads first."""
    when = "will read it shortly" if soon else f"will reply {email_reply_promise()}"
    text = (
        f"Thank you for contacting Northvale Service First. We have received your message and a member of our team "
        f"{when}.\n\n" + EMERGENCY_INSTRUCTION
    )
    acknowledged = _acknowledge(session, row, email, config, reply_block, text)
    return _finish(row, Outcome("needs_human", acknowledged=acknowledged), reason)


def _emergency(
    session: Session,
    row: InboundEmail,
    email: ParsedEmail,
    config: ProcessConfig,
    reply_block: str | None,
    prediction: Prediction,
) -> Outcome:
    service = session.scalar(select(Service).where(Service.code == prediction.heads["service_code"].label))
    rules = ", ".join(hit.rule for hit in prediction.emergencies) if prediction.emergencies else ""
    reason = "emergency" + (f" (rules: {rules})" if rules else "")
    _notify_oncall(session, row, email, config, service, reason)
    instruction = (service.emergency_instruction if service and service.emergency_instruction else "").strip()
    text = (
        "Thank you for contacting Northvale Service First. Your message describes an emergency, so it has been "
        "passed to staff on call right away.\n\n"
        + (instruction + "\n\n" if instruction else "")
        + EMERGENCY_INSTRUCTION
    )
    acknowledged = _acknowledge(session, row, email, config, reply_block, text)
    return _finish(row, Outcome("needs_human", acknowledged=acknowledged, escalated=True), reason)


def _notify_oncall(
    session: Session,
    row: InboundEmail,
    email: ParsedEmail,
    config: ProcessConfig,
    service: Service | None,
    reason: str,
) -> None:
    now = utcnow()
    shift = None
    if service is not None:
        shift = session.scalar(
            select(OnCallShift)
            .where(
                OnCallShift.department_id == service.department_id,
                OnCallShift.starts_at <= now,
                OnCallShift.ends_at > now,
            )
            .order_by(OnCallShift.starts_at)
        )
    on_call = f"{shift.name} ({shift.role}), {shift.phone}" if shift else "no shift on the roster: call the supervisor"
    summary = {
        "event": "emergency_email",
        "inbound_email_id": row.id,
        "received_at": row.received_at.isoformat() if row.received_at else now.isoformat(),
        "from": email.sender_address,
        "subject": email.subject,
        "text": email.new_text[:2000],
        "service_code": service.code if service else None,
        "department": service.department.name if service else None,
        "on_call": on_call,
        "reason": reason,
    }
    recipient = config.oncall_email or (service.department.email if service and service.department.email else "")
    if recipient:
        body = (
            f"Emergency email received {summary['received_at']} from {email.sender_address or 'unknown sender'}.\n"
            f"Service: {summary['service_code'] or 'unclassified'}; on call: {on_call}.\n"
            f"Reason: {reason}\n\nSubject: {email.subject}\n\n{email.new_text[:2000]}\n"
        )
        session.add(
            OutboundMessage(
                channel="email",
                purpose="oncall",
                recipient=recipient,
                subject=f"EMERGENCY email: {email.subject}"[:500],
                body=body,
                message_id=make_msgid(domain=config.message_id_domain),
                inbound_email_id=row.id,
            )
        )
    if config.oncall_webhook_url:
        session.add(
            OutboundMessage(
                channel="webhook",
                purpose="oncall",
                recipient=config.oncall_webhook_url,
                body=json.dumps(summary),
                inbound_email_id=row.id,
            )
        )


def _acknowledge(
    session: Session,
    row: InboundEmail,
    email: ParsedEmail,
    config: ProcessConfig,
    reply_block: str | None,
    text: str,
) -> bool:
    if reply_block is not None:
        row.no_reply_reason = reply_block
        return False
    assert email.sender_address is not None  # no_reply_reason refuses a message without one
    since = utcnow() - dt.timedelta(hours=1)
    recent = session.scalar(
        select(func.count(OutboundMessage.id)).where(
            OutboundMessage.purpose == "acknowledgement",
            OutboundMessage.recipient == email.sender_address,
            OutboundMessage.created_at >= since,
        )
    )
    if (recent or 0) >= config.ack_limit_per_hour:
        row.no_reply_reason = f"{recent} acknowledgements to this sender in the last hour"
        return False
    subject = email.subject or "your message"
    reference = _REFERENCE.search(text)
    session.add(
        OutboundMessage(
            channel="email",
            purpose="acknowledgement",
            recipient=email.sender_address,
            subject=(f"[{reference.group(0)}] " if reference else "") + f"Re: {subject}"[:400],
            body=f"{text}\n\n{NOTICE_OF_COLLECTION}\n",
            message_id=make_msgid(domain=config.message_id_domain),
            in_reply_to=email.message_id,
            inbound_email_id=row.id,
            service_request_id=row.service_request_id,
        )
    )
    return True


def _finish(row: InboundEmail, outcome: Outcome, reason: str) -> Outcome:
    row.status = outcome.status
    row.status_reason = reason
    row.processed_at = utcnow()
    return outcome
