"""Email cases: inbound messages the pipeline left to a person (`needs_human`, or `quarantined` as unreadable).

An agent reads the message (HTML made inert here, never trusted), confirms or corrects the triage labels (each
decision is a `triage_correction` row: the labelled examples the next model trains on), files a service request
from it or adds it to an existing one, and marks it handled, which takes it out of the work queue.

Functions receive the caller's session and never commit. Linking and handling are conditional updates, so two
agents acting on the same case at once cannot both file a request or both close it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.utils import parseaddr
from typing import Any

import nh3
from sqlalchemy import Row, or_, select, update
from sqlalchemy.orm import Session, defer

from civicdesk.db import utcnow
from civicdesk.errors import InvalidInput, NotFound
from civicdesk.mail.parse import ParsedEmail, Unparseable, message_ids, parse
from civicdesk.models import InboundEmail, ServiceRequest, TriageCorrection
from civicdesk.service_requests import service as service_requests

NEEDS_PERSON = ("needs_human", "quarantined")
HEADS = ("service_code", "kind", "urgency")
# A message the classifiers never saw (unreadable, or no model installed) may be an emergency: someone reads it
# today rather than after every routine message.
UNCLASSIFIED_URGENCY = "urgent"
ENTITY_NAMES = {
    "ADDRESS": "Address",
    "INTERSECTION": "Intersection",
    "STREET": "Street",
    "POSTAL_CODE": "Postal code",
    "PHONE": "Phone",
    "EMAIL": "Email address",
    "REFERENCE": "Request reference",
    "DATE": "Date",
}
LOCATION_LABELS = ("ADDRESS", "INTERSECTION", "STREET")
RAW_PREVIEW_BYTES = 20_000
_REFERENCE = re.compile(r"SR\W*(\d{4})\W*(\d{6,7})", re.IGNORECASE)


class CaseNotFound(NotFound):
    pass


class NotAllowed(Exception):
    """The case is not in a state where this can happen (already linked, already handled, unreadable)."""


@dataclass(frozen=True)
class Labels:
    service_code: str | None
    kind: str | None
    urgency: str | None

    def as_dict(self) -> dict[str, str | None]:
        return {"service_code": self.service_code, "kind": self.kind, "urgency": self.urgency}


def get(session: Session, email_id: int) -> InboundEmail:
    row = session.get(InboundEmail, email_id)
    if row is None:
        raise CaseNotFound("no such email")
    return row


def waiting(session: Session) -> list[Row[Any]]:
    """The open cases, oldest first: only the columns the queue shows (never the raw message)."""
    return list(
        session.execute(
            select(
                InboundEmail.id,
                InboundEmail.subject,
                InboundEmail.sender,
                InboundEmail.sender_address,
                InboundEmail.status_reason,
                InboundEmail.urgency,
                InboundEmail.received_at,
                InboundEmail.triage,
            )
            .where(InboundEmail.status.in_(NEEDS_PERSON), InboundEmail.handled_at.is_(None))
            .order_by(InboundEmail.received_at, InboundEmail.id)
        )
    )


def possible_emergency(triage: dict[str, Any] | None) -> bool:
    """The classifiers' lower emergency tier: the case waits at the top of the queue with a banner, and nobody was
    paged (the higher tier pages the on-call contact as the message arrives)."""
    return (triage or {}).get("emergency_tier") == "possible"


def queue_urgency(urgency: str | None) -> str:
    return urgency if urgency in service_requests.URGENCIES else UNCLASSIFIED_URGENCY


def is_open(row: InboundEmail) -> bool:
    return row.status in NEEDS_PERSON and row.handled_at is None


def readable(row: InboundEmail) -> ParsedEmail | None:
    """The parsed message, or None when it cannot be read (the page then shows the raw bytes as text)."""
    if not row.raw:
        return None
    try:
        return parse(row.raw)
    except Unparseable:
        return None


def raw_preview(row: InboundEmail) -> str:
    return row.raw[:RAW_PREVIEW_BYTES].decode("utf-8", errors="replace")


# ---- showing a stranger's HTML -------------------------------------------------------------------------------

# Structure only. No img, video, audio or style (each can load from another server the moment the page opens,
# telling the sender the message was read), no forms, frames, scripts or event handlers. Headings are dropped to
# plain text so the message cannot break the page's outline.
# fmt: off
SAFE_TAGS = frozenset({
    "a", "abbr", "b", "blockquote", "br", "caption", "code", "dd", "div", "dl", "dt", "em", "hr", "i", "li", "ol",
    "p", "pre", "q", "s", "small", "span", "strong", "sub", "sup", "table", "tbody", "td", "tfoot", "th", "thead",
    "tr", "u", "ul",
})
DROPPED_WITH_CONTENT = frozenset({
    "script", "style", "title", "head", "iframe", "frame", "frameset", "object", "embed", "applet", "noscript",
    "template", "svg", "math", "audio", "video", "canvas",
})
# fmt: on
SAFE_ATTRIBUTES = {"a": {"href", "title"}, "td": {"colspan", "rowspan"}, "th": {"colspan", "rowspan"}}


def safe_html(html: str) -> str:
    """An email's HTML made inert for the console: links stay (opening in a new tab, without referrer or opener),
    but only http, https, mailto and tel ones; relative links are dropped, as they would point into the console."""
    return nh3.clean(
        html,
        tags=set(SAFE_TAGS),
        clean_content_tags=set(DROPPED_WITH_CONTENT),
        attributes={tag: set(names) for tag, names in SAFE_ATTRIBUTES.items()},
        url_schemes={"http", "https", "mailto", "tel"},
        url_relative="deny",
        link_rel="noopener noreferrer",
        set_tag_attribute_values={"a": {"target": "_blank"}},
        strip_comments=True,
    )


def html_body(parsed: ParsedEmail) -> str | None:
    """The message's HTML version, made safe, or None when it has none."""
    try:
        part = parsed.message.get_body(preferencelist=("html",))
    except Exception:  # a broken MIME tree: the plain text is still shown
        return None
    if part is None:
        return None
    try:
        content = part.get_content()
    except (LookupError, UnicodeError, ValueError, AssertionError):
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", errors="replace") if isinstance(payload, bytes) else ""
    cleaned = safe_html(content if isinstance(content, str) else "")
    return cleaned if cleaned.strip() else None


# ---- what the classifiers said --------------------------------------------------------------------------------


def prediction(row: InboundEmail) -> dict[str, dict[str, Any]]:
    """The triage heads as stored by the pipeline: label, confidence, abstain, reason, source."""
    heads = (row.triage or {}).get("heads") or {}
    return {name: heads[name] for name in HEADS if isinstance(heads.get(name), dict)}


def predicted_labels(row: InboundEmail) -> Labels:
    heads = prediction(row)
    return Labels(*(heads[name].get("label") if name in heads else None for name in HEADS))


def entities(row: InboundEmail) -> list[dict[str, Any]]:
    found = (row.triage or {}).get("entities") or []
    return [e for e in found if isinstance(e, dict) and e.get("label") and e.get("text")]


def first_entity(row: InboundEmail, *labels: str) -> str | None:
    found = entities(row)
    return next((str(e["text"]) for label in labels for e in found if e["label"] == label), None)


def corrections(session: Session, row: InboundEmail) -> list[TriageCorrection]:
    return list(
        session.scalars(
            select(TriageCorrection).where(TriageCorrection.inbound_email_id == row.id).order_by(TriageCorrection.id)
        )
    )


def current_labels(session: Session, row: InboundEmail) -> Labels:
    """An agent's latest labels for the message, or else the model's."""
    done = corrections(session, row)
    if done:
        last = done[-1]
        return Labels(last.service_code, last.kind, last.urgency)
    return predicted_labels(row)


def record_labels(session: Session, row: InboundEmail, labels: Labels, actor: str) -> TriageCorrection:
    """Store an agent's labels as a training example; the case takes the agent's urgency in the queue."""
    if labels.service_code is None or labels.kind is None or labels.urgency is None:
        raise InvalidInput("labels", "choose a service, a kind and an urgency")
    service_requests.active_service(session, labels.service_code)
    if labels.kind not in service_requests.KINDS:
        raise InvalidInput("kind", f"{labels.kind!r} is not one of: {', '.join(service_requests.KINDS)}")
    if labels.urgency not in service_requests.URGENCIES:
        raise InvalidInput("urgency", f"{labels.urgency!r} is not one of: {', '.join(service_requests.URGENCIES)}")
    parsed = readable(row)
    if parsed is None:
        raise NotAllowed("this message cannot be read, so it cannot be a training example")
    correction = TriageCorrection(
        inbound_email_id=row.id,
        source="email",
        # The classifiers read subject + whole body, quotes included (nlu_data/email/README.md): store the same.
        subject=parsed.subject,
        body=parsed.text,
        service_code=labels.service_code,
        kind=labels.kind,
        urgency=labels.urgency,
        predicted=prediction(row),
        corrected_by=actor,
        created_at=utcnow(),
    )
    session.add(correction)
    row.urgency = labels.urgency
    session.flush()
    return correction


# ---- service requests -------------------------------------------------------------------------------------------


def sender_name(row: InboundEmail) -> str:
    return parseaddr(row.sender or "")[0].strip()


def request_prefill(session: Session, row: InboundEmail) -> dict[str, str]:
    """The request form filled from the labels, the details found in the text and the sender."""
    labels = current_labels(session, row)
    description = "\n\n".join(part.strip() for part in (row.subject or "", row.new_text or "") if part.strip())
    return {
        "service_code": labels.service_code or "general_inquiry",
        "kind": labels.kind or "service_request",
        "urgency": labels.urgency or "routine",
        "description": description[:8000],
        "address": first_entity(row, *LOCATION_LABELS) or "",
        "postal_code": first_entity(row, "POSTAL_CODE") or "",
        "phone": first_entity(row, "PHONE") or "",
        "name": sender_name(row),
        "email": row.sender_address or "",
        "reference": normalize_reference(first_entity(row, "REFERENCE") or "") or "",
    }


def normalize_reference(text: str) -> str | None:
    """`SR 2026 000123`, `sr#2026-000123` and the like as the reference they mean (SR-2026-000123)."""
    found = _REFERENCE.search(text)
    return f"SR-{found.group(1)}-{found.group(2)}" if found else None


def _already_linked(row: InboundEmail, department_id: int | None) -> NotAllowed:
    current = service_requests.named(row.service_request, department_id) if row.service_request else "a request"
    return NotAllowed(f"this email is already linked to {current}")


def _link(session: Session, row: InboundEmail, request: ServiceRequest, department_id: int | None) -> None:
    """Link the case to the request unless another agent linked it first (then the whole action rolls back)."""
    linked = session.execute(
        update(InboundEmail)
        .where(InboundEmail.id == row.id, InboundEmail.service_request_id.is_(None))
        .values(service_request_id=request.id)
    ).rowcount  # type: ignore[attr-defined]
    if not linked:
        session.refresh(row)
        raise _already_linked(row, department_id)
    for file in row.attachments:
        service_requests.add_attachment(session, request, file.filename, file.content_type, file.size, file.sha256)


def create_request(
    session: Session,
    row: InboundEmail,
    data: service_requests.RequestIn,
    actor: str,
    department_id: int | None,
) -> ServiceRequest:
    """A new request filed from the email. Its questions are left to the department, as for every email request.
    `department_id` is the agent's: a refusal names another department's request without its reference."""
    if row.service_request is not None:
        raise _already_linked(row, department_id)
    created = service_requests.create_request(session, data, actor, require_answers=False)
    _link(session, row, created, department_id)
    return created


def attach_to(
    session: Session, row: InboundEmail, reference: str, actor: str, department_id: int | None
) -> ServiceRequest:
    """Add the email to an existing request: its text becomes a note the resident wrote, its files are listed.
    An agent of one department (`department_id`) may add it to that department's requests only; another
    department's request gets the same answer as a missing one."""
    if row.service_request is not None:
        raise _already_linked(row, department_id)
    wanted = normalize_reference(reference)
    if wanted is None:
        raise InvalidInput("reference", f"{reference.strip()[:40]!r} is not a request reference like SR-2026-000123")
    try:
        request = service_requests.get_by_reference(session, wanted, department_id)
    except NotFound:
        raise InvalidInput("reference", f"there is no service request {wanted}") from None
    _link(session, row, request, department_id)
    author = f"email from {row.sender_address or 'unknown sender'}"
    service_requests.add_note(session, request, author, row.new_text or row.subject or "(no text)", internal=False)
    return request


def mark_handled(session: Session, row: InboundEmail, actor: str) -> None:
    if row.status not in NEEDS_PERSON:
        raise NotAllowed(f"this email was {row.status.replace('_', ' ')} by the pipeline; it is not a case to close")
    done = session.execute(
        update(InboundEmail)
        .where(InboundEmail.id == row.id, InboundEmail.handled_at.is_(None))
        .values(handled_at=utcnow(), handled_by=actor)
    ).rowcount  # type: ignore[attr-defined]
    if not done:
        session.refresh(row)
        raise NotAllowed(f"{row.handled_by} already marked this email handled")
    session.refresh(row)


def thread(session: Session, row: InboundEmail) -> list[InboundEmail]:
    """Other messages of the same case: on the same service request, or replies in the same email thread."""
    ids = [i for i in (row.in_reply_to, *message_ids(row.references or "")) if i]
    conditions = []
    if row.service_request_id is not None:
        conditions.append(InboundEmail.service_request_id == row.service_request_id)
    if ids:
        conditions.append(InboundEmail.message_id.in_(ids))
    if row.message_id:
        conditions.append(InboundEmail.in_reply_to == row.message_id)
    if not conditions:
        return []
    return list(
        session.scalars(
            select(InboundEmail)
            .options(defer(InboundEmail.raw))  # up to the size cap each; the thread shows the parsed text
            .where(or_(*conditions), InboundEmail.id != row.id)
            .order_by(InboundEmail.received_at, InboundEmail.id)
            .limit(50)
        )
    )
