"""Mail loops and bounces: when not to answer automatically (RFC 3834), and which message a bounce is about.

An acknowledgement sent to an auto-responder, a mailing list or a mailer daemon can start a loop that floods both
mailboxes. RFC 3834 section 2 lists the signs; Microsoft's `X-Auto-Response-Suppress` and the older `X-Loop`
convention add two more. Our own outgoing mail carries `Auto-Submitted: auto-replied` and `LOOP_HEADER`, so it is
recognised if it ever comes back.
"""

from __future__ import annotations

import re
from email.message import EmailMessage, Message

from civicdesk.mail.parse import ParsedEmail, message_ids

LOOP_HEADER = "X-Civicdesk-Loop"
_DAEMONS = re.compile(r"^(?:mailer-daemon|postmaster|mail-daemon|mailerdaemon|bounces?|no-?reply|do-?not-?reply)@")


def no_reply_reason(email: ParsedEmail, own_addresses: frozenset[str] = frozenset()) -> str | None:
    """Why this message must not get an automatic reply, or None when one may go out."""
    headers = email.headers
    auto_submitted = headers.get("auto-submitted", "").strip().lower()
    if auto_submitted and auto_submitted.split(";")[0].strip() != "no":
        return f"Auto-Submitted: {auto_submitted}"
    precedence = headers.get("precedence", "").strip().lower()
    if precedence in ("bulk", "junk", "list"):
        return f"Precedence: {precedence}"
    if LOOP_HEADER.lower() in headers:
        return f"{LOOP_HEADER}: our own message came back"
    if "x-loop" in headers:
        return "X-Loop present"
    suppress = headers.get("x-auto-response-suppress", "").lower()
    if any(token in suppress for token in ("all", "autoreply", "oof")):
        return f"X-Auto-Response-Suppress: {suppress}"
    if "list-id" in headers or "list-unsubscribe" in headers:
        return "mailing list message"
    return_path = headers.get("return-path")
    if return_path is not None and return_path.strip() in ("<>", ""):
        return "null Return-Path"
    if email.sender_address is None:
        return "no sender address"
    if _DAEMONS.match(email.sender_address):
        return f"sent by {email.sender_address}"
    if email.sender_address in own_addresses:
        return "sent from our own address"
    return None


def is_bounce(email: ParsedEmail) -> bool:
    message = email.message
    if message.get_content_type() == "multipart/report" and message.get_param("report-type") in (
        "delivery-status",
        "disposition-notification",
    ):
        return True
    sender = email.sender_address or ""
    return bool(re.match(r"^(?:mailer-daemon|postmaster)@", sender)) and email.headers.get("return-path", "<>") in (
        "<>",
        "",
    )


def bounced_message_ids(email: ParsedEmail) -> list[str]:
    """Message-IDs of the message(s) that bounced: from the returned headers, else from the threading headers."""
    found: list[str] = []
    for part in email.message.walk():
        if part.get_content_type() in ("message/rfc822", "text/rfc822-headers", "message/rfc822-headers"):
            found += _returned_ids(part)
    if not found:
        found = [i for i in [email.in_reply_to, *email.references] if i]
    return list(dict.fromkeys(found))


def _returned_ids(part: Message) -> list[str]:
    payload = part.get_payload()
    if isinstance(payload, list) and payload and isinstance(payload[0], EmailMessage):
        return message_ids(str(payload[0].get("Message-ID", "")))
    text = part.get_payload(decode=True)
    if isinstance(text, bytes):
        match = re.search(rb"^Message-ID:\s*(<[^<>\s]+>)", text, re.IGNORECASE | re.MULTILINE)
        return [match.group(1).decode("ascii", "replace")] if match else []
    return []
