"""Threading what we send on what a resident sent: In-Reply-To, References and a "Re:" subject carrying the
request's [SR-...] tag, so the resident's mail program keeps one conversation and the ingester files their answer
on the same request. Used by agents' replies (civicdesk.mail.replies) and request updates
(civicdesk.service_requests.updates)."""

from __future__ import annotations

from email.utils import parseaddr

from civicdesk.models import InboundEmail, ServiceRequest

MAX_REFERENCES = 20  # the newest Message-IDs of a long thread are enough for threading (RFC 5322 3.6.4)


def message_id_domain(mail_from: str) -> str:
    """The domain of our own Message-IDs: that of the From: address (the ingester's rule too)."""
    own = parseaddr(mail_from)[1].lower()
    return own.rsplit("@", 1)[-1] if "@" in own else "northvale.ca"


def thread_headers(row: InboundEmail) -> tuple[str | None, str | None]:
    """In-Reply-To and References for an answer to `row`: its Message-ID, after the thread it belongs to."""
    if not row.message_id:
        return None, None
    # the ingester stores References as the parsed Message-IDs joined by spaces
    chain = [i for i in (row.references or "").split() if i != row.message_id]
    chain = [*chain[-(MAX_REFERENCES - 1) :], row.message_id]
    return row.message_id, " ".join(chain)


def subject_for(row: InboundEmail, request: ServiceRequest | None) -> str:
    """ "Re: <their subject>", with "[SR-...]" first when a request is linked (the ingester threads on it)."""
    subject = " ".join((row.subject or "").split()) or "your message"
    if not subject.lower().startswith("re:"):
        subject = f"Re: {subject}"
    reference = request.reference if request is not None else None
    if reference and reference not in subject:
        subject = f"[{reference}] {subject}"
    return subject[:400]
