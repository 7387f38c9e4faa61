"""Forms and brochures mailed to residents: the catalogue, requests with a Canadian mailing address, fulfilment.

Functions receive the caller's session and never commit. A request waits as `requested` until the mail room
marks it `mailed`.
"""

from __future__ import annotations

import datetime as dt
import logging
import re

from sqlalchemy import select, update
from sqlalchemy.orm import Session, selectinload

from civicdesk import validation
from civicdesk.bookings.appointments import (
    affected_rows,
    check_channel,
    is_code,
    new_reference,
    normalize_reference,
    require_contact,
)
from civicdesk.contacts import ContactIn
from civicdesk.db import utcnow
from civicdesk.errors import Conflict, InvalidInput, NotFound
from civicdesk.models import FormRequest, MailableItem

log = logging.getLogger(__name__)

# Canada Post assigns each province or territory the first letter(s) of its postal codes; a mismatch is
# almost always a typo in one or the other, and the envelope would go astray.
POSTAL_LETTERS = {
    "NL": "A",
    "NS": "B",
    "PE": "C",
    "NB": "E",
    "QC": "GHJ",
    "ON": "KLMNP",
    "MB": "R",
    "SK": "S",
    "AB": "T",
    "BC": "V",
    "NT": "X",
    "NU": "X",
    "YT": "Y",
}
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


def catalogue(session: Session) -> list[MailableItem]:
    statement = select(MailableItem).options(selectinload(MailableItem.department)).order_by(MailableItem.title)
    return list(session.scalars(statement))


def _line(value: str, field: str, longest: int, what: str) -> str:
    """One line of a mailing address: present, printable and short enough for the label."""
    text = " ".join(value.split())
    if not text:
        raise InvalidInput(field, f"the {what} is missing")
    if CONTROL_CHARACTERS.search(text):
        raise InvalidInput(field, f"the {what} contains characters that cannot be printed")
    if len(text) > longest:
        raise InvalidInput(field, f"the {what} is longer than {longest} characters")
    return text


def request_form(
    session: Session,
    item_code: str,
    contact: ContactIn,
    copies: int,
    language: str,
    recipient: str,
    street: str,
    city: str,
    province: str,
    postal_code: str,
    channel: str,
) -> FormRequest:
    """Validate and queue a mailing; the address must be a deliverable-looking Canadian one."""
    check_channel(channel)
    item = is_code(item_code) and session.scalar(select(MailableItem).where(MailableItem.code == item_code))
    if not item:
        raise InvalidInput("item_code", f"{item_code!r} is not a form or brochure we mail")
    if not 1 <= copies <= item.max_copies:
        raise InvalidInput("copies", f"{item.title} can be mailed 1 to {item.max_copies} copies at a time")
    language = language.strip().lower()
    if language not in item.languages:
        raise InvalidInput("language", f"{item.title} is printed in: {', '.join(item.languages)}")
    province_code = validation.province(province)
    postal = validation.postal_code(postal_code)
    if postal[0] not in POSTAL_LETTERS[province_code]:
        raise InvalidInput("postal_code", f"{postal} is not a postal code in {province_code}; check both")
    recipient = _line(recipient, "recipient", 200, "name of the person to mail it to")
    street = _line(street, "street", 300, "street address")
    city = _line(city, "city", 120, "city or town")
    resident = require_contact(session, contact, "in case the mailing is returned")
    form_request = FormRequest(
        reference=new_reference(session, FormRequest, "FM"),
        item=item,
        contact=resident,
        copies=copies,
        language=language,
        recipient=recipient,
        street=street,
        city=city,
        province=province_code,
        postal_code=postal,
        status="requested",
        channel=channel,
        created_at=utcnow(),
    )
    session.add(form_request)
    session.flush()
    return form_request


def get_request(session: Session, reference: str) -> FormRequest:
    found = session.scalar(
        select(FormRequest)
        .where(FormRequest.reference == normalize_reference(reference, "FM"))
        .options(selectinload(FormRequest.item))
    )
    if found is None:
        raise NotFound(f"no form request {reference!r}")
    return found


def pending(session: Session, limit: int = 200) -> list[FormRequest]:
    """Requests waiting to be mailed, oldest first (the mail room's pick list)."""
    statement = (
        select(FormRequest)
        .where(FormRequest.status == "requested")
        .options(selectinload(FormRequest.item))
        .order_by(FormRequest.created_at, FormRequest.id)
        .limit(limit)
    )
    return list(session.scalars(statement))


def mark_mailed(session: Session, reference: str, actor: str, now: dt.datetime | None = None) -> FormRequest:
    """Record that the envelope went out; a request is mailed once."""
    form_request = get_request(session, reference)
    mailed = affected_rows(
        session,
        update(FormRequest)
        .where(FormRequest.id == form_request.id, FormRequest.status == "requested")
        .values(status="mailed", mailed_at=now or utcnow()),
    )
    session.expire(form_request, ["status", "mailed_at"])
    if not mailed:
        raise Conflict(f"form request {form_request.reference} is already {form_request.status}")
    # FormRequest has no column for who mailed it; the log keeps the name until one is added.
    log.info("form request %s marked mailed by %s", form_request.reference, actor)
    session.flush()
    return form_request
