"""A resident's request to see or erase their records: everything of theirs is found, nobody else's is touched."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import add_resident_records
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from civicdesk.cli import app
from civicdesk.db import transaction, utcnow
from civicdesk.errors import UserError
from civicdesk.models import AuditEntry, Contact, Conversation, InboundEmail, OutboundMessage, ServiceRequest
from civicdesk.residents import service as residents
from civicdesk.settings import Settings, get_settings


@pytest.fixture
def database_url(seeded_database_url: str) -> str:
    return seeded_database_url


@pytest.fixture
def two_residents(session_factory: sessionmaker[Session]) -> sessionmaker[Session]:
    with transaction(session_factory) as session:
        for tag in ("amira", "bruno"):
            add_resident_records(session, utcnow(), tag, dt.timedelta(days=30))
    return session_factory


def test_everything_held_about_a_resident_is_found_and_exported(two_residents: sessionmaker[Session]) -> None:
    with two_residents() as session:
        records = residents.find(session, email=" AMIRA@example.ca ")
        assert records.counts() == {
            "contacts": 1,
            "requests": 1,
            "bookings": 1,
            "rsvps": 0,
            "forms": 0,
            "emails": 1,
            "sent": 1,
            "conversations": 1,
        }
        document = residents.export(records)
    text = json.dumps(document)
    assert "SR-amira" in text and "my email is amira@example.ca" in text and "Pothole amira" in text
    assert "bruno" not in text
    assert all("token" not in request for request in document["requests"])  # a secret, not their information
    assert all(note["internal"] is False for request in document["requests"] for note in request["notes"])


def test_erasing_removes_the_resident_and_leaves_the_others(two_residents: sessionmaker[Session]) -> None:
    with transaction(two_residents) as session:
        records = residents.find(session, email="amira@example.ca")
        done = residents.erase(session, records, "privacy.officer@northvale.ca", None)
    assert done["conversations"] == 1 and done["contacts"] == 1
    with two_residents() as session:
        assert session.scalars(select(Contact.email).where(Contact.email.like("%@example.ca"))).all() == [
            "bruno@example.ca"
        ]
        assert session.scalars(select(Conversation.public_id)).all() == ["conv-bruno"]
        erased = session.scalars(select(ServiceRequest).where(ServiceRequest.reference == "SR-amira")).one()
        assert erased.contact_id is None and "905-555-0143" not in erased.description and erased.address is None
        assert session.scalars(select(OutboundMessage.recipient)).all() == ["bruno@example.ca"]
        senders = session.scalars(select(InboundEmail.sender_address).order_by(InboundEmail.id)).all()
        assert senders == [None, "bruno@example.ca"]
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "resident_erase")).one()
        assert (
            entry.actor == "privacy.officer@northvale.ca" and "amira" not in json.dumps(entry.detail) + entry.record_id
        )
        assert residents.find(session, email="amira@example.ca").counts() == dict.fromkeys(residents.SECTIONS, 0)


@pytest.mark.parametrize(
    ("email", "phone", "message"),
    [
        (None, None, "email address or phone number"),
        ("  ", None, "email address or phone number"),
        (None, "555-01", "10-digit"),
    ],
)
def test_a_request_without_a_usable_email_or_phone_is_refused(
    session_factory: sessionmaker[Session], email: str | None, phone: str | None, message: str
) -> None:
    with session_factory() as session, pytest.raises(UserError, match=message):
        residents.find(session, email=email, phone=phone)


@pytest.fixture
def cli_env(settings: Settings) -> Iterator[dict[str, str]]:
    get_settings.cache_clear()
    yield {"CIVICDESK_DATABASE_URL": settings.sqlalchemy_url, "CIVICDESK_VAR_DIR": str(settings.var_dir)}
    get_settings.cache_clear()


def test_the_commands_export_then_erase_only_when_confirmed(
    two_residents: sessionmaker[Session], cli_env: dict[str, str], tmp_path: Path
) -> None:
    runner = CliRunner()
    out = tmp_path / "amira.json"
    staff = ["--staff", "privacy.officer@northvale.ca"]
    exported = runner.invoke(
        app, ["residents", "export", "--email", "amira@example.ca", "--out", str(out), *staff], env=cli_env
    )
    assert exported.exit_code == 0, exported.output
    assert json.loads(out.read_text())["requests"][0]["reference"] == "SR-amira"
    listed = runner.invoke(app, ["residents", "erase", "--email", "amira@example.ca", *staff], env=cli_env)
    assert listed.exit_code == 0 and "would erase: 1 contacts" in listed.output
    with two_residents() as session:
        assert session.scalar(select(Contact.id).where(Contact.email == "amira@example.ca")) is not None
    erased = runner.invoke(app, ["residents", "erase", "--email", "amira@example.ca", "--yes", *staff], env=cli_env)
    assert erased.exit_code == 0 and "erased:" in erased.output
    with two_residents() as session:
        assert session.scalar(select(Contact.id).where(Contact.email == "amira@example.ca")) is None
        assert [e.action for e in session.scalars(select(AuditEntry).where(AuditEntry.record_type == "resident"))] == [
            "resident_export",
            "resident_erase",
        ]
