"""A resident's contact details, as every channel takes them: one shape in, one record per resident.

`ContactIn` is what the service layer accepts; `ContactBody` is its JSON form in the APIs, and `ContactProof` the
email or phone a resident proves a booking with. `upsert_contact` finds the resident by email, then phone, or
files them; functions receive the caller's session and never commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from civicdesk import validation
from civicdesk.db import utcnow
from civicdesk.errors import InvalidInput
from civicdesk.limits import LIMITS
from civicdesk.models import Contact


@dataclass
class ContactIn:
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    preferred_language: str = "en"
    consent: bool = False


class ContactBody(BaseModel):
    name: validation.NameLine | None = None
    email: validation.EmailLine | None = None
    phone: validation.PhoneLine | None = None
    preferred_language: validation.LanguageLine = "en"
    consent: bool = False

    def as_contact(self) -> ContactIn:
        return ContactIn(**self.model_dump())


class ContactProof(BaseModel):
    contact: Annotated[
        str,
        Field(
            min_length=1,
            max_length=LIMITS["email"],
            description="The booking's email or phone.",
            json_schema_extra=validation.ONE_LINE_SCHEMA,
        ),
        validation.WHOLE_CHARACTERS,
        validation.ONE_LINE,
    ]


def _find_contact(session: Session, email: str | None, phone: str | None) -> Contact | None:
    contact = session.scalar(select(Contact).where(Contact.email == email)) if email else None
    if contact is None and phone:
        contact = session.scalar(select(Contact).where(Contact.phone == phone))
    return contact


def upsert_contact(session: Session, given: ContactIn) -> Contact | None:
    """Find the resident by email, then phone; create them if new; fill in what they told us this time.

    A name already on file is kept (any channel could claim an email address; agents correct names with
    `update_contact`). A number or address already on someone else's record stays there.
    """
    email = validation.email(given.email, "contact.email") if given.email else None
    phone = validation.phone(given.phone, "contact.phone") if given.phone else None
    name = validation.name(given.name, "contact.name") if given.name and given.name.strip() else None
    if not (email or phone):
        return None
    contact = _find_contact(session, email, phone)
    if contact is None:
        # Two first contacts from the same person can arrive at once: insert-or-nothing, then read back.
        insert = sqlite_insert if session.get_bind().dialect.name == "sqlite" else postgresql_insert
        now = utcnow()
        session.execute(
            insert(Contact)
            .values(email=email, phone=phone, preferred_language="en", consent=False, created_at=now, updated_at=now)
            .on_conflict_do_nothing()
        )
        contact = _find_contact(session, email, phone)
        if contact is None:  # the phone belonged to someone else while the email was new: keep them apart
            raise InvalidInput("contact.phone", "this phone number is on another resident's record")
    if email and contact.email is None and session.scalar(select(Contact.id).where(Contact.email == email)) is None:
        contact.email = email
    if phone and contact.phone is None and session.scalar(select(Contact.id).where(Contact.phone == phone)) is None:
        contact.phone = phone
    contact.name = contact.name or name
    contact.preferred_language = given.preferred_language or contact.preferred_language
    contact.consent = given.consent or bool(contact.consent)
    contact.updated_at = utcnow()
    session.flush()
    return contact


def update_contact(session: Session, contact: Contact, actor: str, **changes: str | bool | None) -> Contact:
    """An agent corrects a resident's details; email and phone are normalized and must stay unique."""
    if "name" in changes:
        contact.name = validation.name(str(changes["name"]), "name") if changes["name"] else None
    if "email" in changes:
        email = validation.email(str(changes["email"])) if changes["email"] else None
        if email and session.scalar(select(Contact.id).where(Contact.email == email, Contact.id != contact.id)):
            raise InvalidInput("email", "this email address is on another resident's record")
        contact.email = email
    if "phone" in changes:
        phone = validation.phone(str(changes["phone"])) if changes["phone"] else None
        if phone and session.scalar(select(Contact.id).where(Contact.phone == phone, Contact.id != contact.id)):
            raise InvalidInput("phone", "this phone number is on another resident's record")
        contact.phone = phone
    if "preferred_language" in changes and changes["preferred_language"]:
        contact.preferred_language = str(changes["preferred_language"])
    if "consent" in changes:
        contact.consent = bool(changes["consent"])
    contact.updated_at = utcnow()
    session.flush()
    return contact
