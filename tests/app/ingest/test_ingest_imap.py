"""IMAP ingestion against a real Dovecot: every message stored exactly once, then moved; nothing lost on the way."""

from __future__ import annotations

import datetime as dt
import json
import os
import ssl
import subprocess
from collections.abc import Sequence
from typing import Any

import pytest
from dovecot import Mailbox
from helpers import resident_email
from imapclient import IMAPClient
from imapclient.imapclient import SEEN
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from civicdesk.models import InboundEmail, MailCheckpoint
from civicdesk.settings import PROJECT_ROOT, Settings
from email_ingest.imap import ImapAccount, ImapSource, Security
from email_ingest.runner import ingest_once

CAP = 20_000


POTHOLE = resident_email("Pothole on Lakeshore Rd", "Deep pothole near 410 Lakeshore Road, Port Sable.", "<p@x.org>")
BIN = resident_email("Missed green bin", "Our green bin on Birch Crescent was missed on Tuesday.", "<g@x.org>")
LIGHT = resident_email("Streetlight out", "The light at Mill St and King St in Pinecrest is out.", "<s@x.org>")
# A broken mailer's encoded-word in From: the headers cannot be read, so a person has to look at it.
MALFORMED = b"From: =?utf-8?b?####?=\r\nTo: servicefirst@northvale.ca\r\nSubject: culvert\r\n\r\nBlocked culvert.\r\n"


# The conftest's Dovecot speaks TLS only for this module.
DOVECOT_TLS = True


def connect(server: Mailbox) -> IMAPClient:
    client = IMAPClient("127.0.0.1", port=server.port, ssl=False, timeout=10)
    client.login(server.user, server.password)
    return client


def append(server: Mailbox, *messages: bytes) -> None:
    with connect(server) as client:
        for raw in messages:
            client.append("INBOX", raw)


def folder_flags(server: Mailbox, folder: str) -> list[tuple[bytes, ...]]:
    """The flags of every message in a folder (an empty list when the folder is empty or missing)."""
    with connect(server) as client:
        if not client.folder_exists(folder):
            return []
        client.select_folder(folder, readonly=True)
        uids = client.search(["ALL"])
        return [data[b"FLAGS"] for data in client.fetch(uids, ["FLAGS"]).values()] if uids else []


def source(server: Mailbox, factory: sessionmaker[Session]) -> ImapSource:
    account = ImapAccount(
        host="127.0.0.1", port=server.port, username=server.user, password=server.password, security="plain", timeout=10
    )
    return ImapSource(account, factory, max_bytes=CAP)


def count(factory: sessionmaker[Session], status: str | None = None) -> int:
    with factory() as session:
        query = select(func.count()).select_from(InboundEmail)
        if status:
            query = query.where(InboundEmail.status == status)
        return int(session.scalar(query) or 0)


def outcome(summary: Any) -> tuple[int, int, int, int]:
    """(fetched, stored, duplicates, quarantined): every fetched message is stored or a duplicate, and quarantined
    messages are stored too (raw, for a person to look at)."""
    return summary.fetched, summary.stored, summary.duplicates, summary.quarantined


def test_mail_is_stored_once_moved_unread_and_a_second_pass_fetches_nothing(
    mailbox: Mailbox, session_factory: sessionmaker[Session]
) -> None:
    append(mailbox, POTHOLE, BIN)

    first = ingest_once(source(mailbox, session_factory), session_factory, CAP)
    second = ingest_once(source(mailbox, session_factory), session_factory, CAP)

    assert outcome(first) == (2, 2, 0, 0)
    assert second.fetched == 0
    assert folder_flags(mailbox, "INBOX") == []
    processed = folder_flags(mailbox, "Processed")
    assert len(processed) == 2 and not any(SEEN in flags for flags in processed)  # BODY.PEEK[] marks nothing read
    with session_factory() as session:
        row = session.scalar(select(InboundEmail).where(InboundEmail.message_id == "<p@x.org>"))
        assert row is not None and row.raw == POTHOLE and row.subject == "Pothole on Lakeshore Rd"
        assert row.source == f"imap://{mailbox.user}@127.0.0.1:{mailbox.port}/INBOX"
        checkpoint = session.scalar(select(MailCheckpoint))
        assert checkpoint is not None and checkpoint.last_uid == 2 and checkpoint.last_folder == "Processed"


def test_the_same_message_appended_twice_is_stored_once(
    mailbox: Mailbox, session_factory: sessionmaker[Session]
) -> None:
    append(mailbox, LIGHT, LIGHT)

    summary = ingest_once(source(mailbox, session_factory), session_factory, CAP)

    assert outcome(summary) == (2, 1, 1, 0)
    assert count(session_factory) == 1
    assert folder_flags(mailbox, "INBOX") == [] and len(folder_flags(mailbox, "Processed")) == 2


def test_an_oversize_message_is_quarantined_without_its_body_being_fetched(
    mailbox: Mailbox, session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    big = resident_email("Photos of the washout", "Photo data. " * 4_000, "<big@x.org>")
    assert len(big) > CAP
    append(mailbox, big, BIN)
    requested: list[tuple[Any, Any]] = []
    fetch = IMAPClient.fetch

    def recording_fetch(self: IMAPClient, messages: Any, data: Any, *args: Any, **kwargs: Any) -> Any:
        requested.append((messages, data))
        return fetch(self, messages, data, *args, **kwargs)

    monkeypatch.setattr(IMAPClient, "fetch", recording_fetch)

    summary = ingest_once(source(mailbox, session_factory), session_factory, CAP)

    assert outcome(summary) == (2, 2, 0, 1)
    bodies = [messages for messages, data in requested if b"BODY.PEEK[]" in data]
    assert bodies == [[2]]  # only the small message's body was downloaded
    with session_factory() as session:
        row = session.scalar(select(InboundEmail).where(InboundEmail.status == "quarantined"))
        assert row is not None and row.raw == b"" and row.size == len(big)
        assert row.status_reason == f"message of {len(big)} bytes exceeds the cap of {CAP} bytes"
        assert row.subject == "Photos of the washout" and row.message_id == "<big@x.org>"
    assert len(folder_flags(mailbox, "Quarantine")) == 1 and len(folder_flags(mailbox, "Processed")) == 1

    append(mailbox, big)  # the same oversize message again: recognised by its headers and size
    again = ingest_once(source(mailbox, session_factory), session_factory, CAP)
    assert outcome(again) == (1, 0, 1, 0) and count(session_factory) == 2


def test_a_malformed_message_is_quarantined_and_the_batch_goes_on(
    mailbox: Mailbox, session_factory: sessionmaker[Session]
) -> None:
    append(mailbox, POTHOLE, MALFORMED, BIN)

    summary = ingest_once(source(mailbox, session_factory), session_factory, CAP)

    assert outcome(summary) == (3, 3, 0, 1)
    with session_factory() as session:
        row = session.scalar(select(InboundEmail).where(InboundEmail.status == "quarantined"))
        assert row is not None and row.raw == MALFORMED and "unreadable headers" in (row.status_reason or "")
    assert len(folder_flags(mailbox, "Quarantine")) == 1 and len(folder_flags(mailbox, "Processed")) == 2


def test_a_new_uidvalidity_resets_the_checkpoint_without_duplicates(
    mailbox: Mailbox, session_factory: sessionmaker[Session]
) -> None:
    append(mailbox, POTHOLE, BIN)
    ingest_once(source(mailbox, session_factory), session_factory, CAP)
    with session_factory() as session:
        before = session.scalar(select(MailCheckpoint))
        assert before is not None and before.last_uid == 2

    mailbox.forget_uids("INBOX")
    append(mailbox, POTHOLE, LIGHT)  # UIDs 1 and 2 again: below the old checkpoint, under a new UIDVALIDITY

    summary = ingest_once(source(mailbox, session_factory), session_factory, CAP)

    assert outcome(summary) == (2, 1, 1, 0)
    assert count(session_factory) == 3
    with session_factory() as session:
        after = session.scalar(select(MailCheckpoint))
        assert after is not None and after.uidvalidity != before.uidvalidity and after.last_uid == 2
        assert session.scalar(select(InboundEmail.id).where(InboundEmail.message_id == "<s@x.org>")) is not None


class PowerCut(Exception):
    pass


class CrashingSource(ImapSource):
    """Dies on its first move: the batch's rows are committed, the messages are still in the inbox."""

    def move(self, keys: Sequence[str], folder: str) -> None:
        raise PowerCut(keys)


def test_a_crash_between_commit_and_move_leaves_no_duplicate(
    mailbox: Mailbox, session_factory: sessionmaker[Session]
) -> None:
    append(mailbox, POTHOLE, MALFORMED, BIN)
    crashing = CrashingSource(source(mailbox, session_factory).account, session_factory, CAP)

    with pytest.raises(PowerCut):
        ingest_once(crashing, session_factory, CAP)
    assert count(session_factory) == 3 and len(folder_flags(mailbox, "INBOX")) == 3

    again = ingest_once(source(mailbox, session_factory), session_factory, CAP)

    assert outcome(again) == (0, 0, 0, 0)  # nothing is downloaded again: the moves are finished
    assert count(session_factory) == 3 and count(session_factory, "quarantined") == 1
    assert folder_flags(mailbox, "INBOX") == []
    assert len(folder_flags(mailbox, "Quarantine")) == 1 and len(folder_flags(mailbox, "Processed")) == 2


class NoMoveSource(ImapSource):
    """A server without the MOVE extension (RFC 6851): COPY, \\Deleted, UID EXPUNGE instead."""

    def _supports_move(self, client: IMAPClient) -> bool:
        return False


def test_without_move_the_message_is_copied_and_expunged(
    mailbox: Mailbox, session_factory: sessionmaker[Session]
) -> None:
    append(mailbox, POTHOLE, BIN)
    account = source(mailbox, session_factory).account

    summary = ingest_once(NoMoveSource(account, session_factory, CAP), session_factory, CAP)

    assert outcome(summary) == (2, 2, 0, 0)
    assert folder_flags(mailbox, "INBOX") == [] and len(folder_flags(mailbox, "Processed")) == 2
    assert ingest_once(NoMoveSource(account, session_factory, CAP), session_factory, CAP).fetched == 0


def test_plaintext_is_refused_off_loopback() -> None:
    with pytest.raises(ValueError, match="loopback"):
        ImapAccount(host="mail.northvale.ca", username="servicefirst", password="x", security="plain")
    assert ImapAccount(host="mail.northvale.ca", username="servicefirst", password="x").effective_port == 993


@pytest.mark.parametrize("security", ["tls", "starttls"])
def test_tls_checks_the_server_certificate(
    security: Security, mailbox: Mailbox, session_factory: sessionmaker[Session]
) -> None:
    append(mailbox, POTHOLE)
    port = mailbox.tls_port if security == "tls" else mailbox.port
    login = {"host": "127.0.0.1", "port": port, "username": mailbox.user, "password": mailbox.password}
    untrusted = ImapAccount(**login, security=security)  # the system's CAs do not know the test certificate
    with pytest.raises(ssl.SSLCertVerificationError):
        ingest_once(ImapSource(untrusted, session_factory, CAP), session_factory, CAP)
    assert count(session_factory) == 0

    trusted = ssl.create_default_context(cafile=str(mailbox.certificate))
    account = ImapAccount(**login, security=security, ssl_context=trusted)
    assert outcome(ingest_once(ImapSource(account, session_factory, CAP), session_factory, CAP)) == (1, 1, 0, 0)


def test_a_checkpoint_that_cannot_be_written_takes_the_row_with_it(
    mailbox: Mailbox, session_factory: sessionmaker[Session]
) -> None:
    big = resident_email("Site plan", "Drawing data. " * 3_000, "<plan@x.org>")
    append(mailbox, big)
    # The source fetches only the headers of a message over its cap; a runner with a larger cap would store
    # those headers as the whole message, so the checkpoint refuses and the row is rolled back with it.
    with pytest.raises(RuntimeError, match="size cap"):
        ingest_once(source(mailbox, session_factory), session_factory, 10 * CAP)
    assert count(session_factory) == 0
    with session_factory() as session:
        assert session.scalar(select(func.count()).select_from(MailCheckpoint)) == 0
    assert len(folder_flags(mailbox, "INBOX")) == 1


def test_the_ingest_command_reads_imap_when_a_host_is_set(mailbox: Mailbox, settings: Settings, engine: object) -> None:
    """`civicdesk ingest --once --json` with CIVICDESK_IMAP_* set: the real command, the real server."""
    append(mailbox, resident_email("Sidewalk heaved", "Trip hazard at 12 Birch Crescent.", "<cli@example.org>"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("CIVICDESK_")}
    env.update(
        CIVICDESK_DATABASE_URL=settings.sqlalchemy_url,
        CIVICDESK_IMAP_HOST="127.0.0.1",
        CIVICDESK_IMAP_PORT=str(mailbox.port),
        CIVICDESK_IMAP_SECURITY="plain",
        CIVICDESK_IMAP_USERNAME=mailbox.user,
        CIVICDESK_IMAP_PASSWORD=mailbox.password,
    )
    command = [str(PROJECT_ROOT / ".venv" / "bin" / "civicdesk"), "ingest", "--once", "--json"]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert (summary["fetched"], summary["stored"]) == (1, 1)
    env["CIVICDESK_IMAP_HOST"] = "mail.example.org"  # plaintext off loopback is refused in one line
    refused = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert refused.returncode == 2 and "plaintext IMAP is allowed only to loopback" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_retention_deletes_processed_and_quarantined_mail_older_than_the_cutoff(
    mailbox: Mailbox, session_factory: sessionmaker[Session]
) -> None:
    long_ago, recently = dt.datetime(2023, 1, 5, 9, tzinfo=dt.UTC), dt.datetime(2026, 11, 2, 9, tzinfo=dt.UTC)
    mail = [
        ("Processed", long_ago, "<old@x.org>"),
        ("Processed", recently, "<recent@x.org>"),
        ("Quarantine", long_ago, "<old-junk@x.org>"),
        ("INBOX", long_ago, "<unread@x.org>"),  # not yet stored: retention never touches the inbox
    ]
    ingester = source(mailbox, session_factory)
    with connect(mailbox) as client:
        for folder in ("Processed", "Quarantine"):
            client.create_folder(folder)
        for folder, arrived, message_id in mail:
            client.append(folder, resident_email("Old request", "Pothole on Mill St", message_id), msg_time=arrived)
    cutoff = dt.datetime(2024, 11, 23, tzinfo=dt.UTC)
    assert ingester.purge_before(cutoff, apply=False) == 2
    assert ingester.purge_before(cutoff, apply=True) == 2
    assert ingester.purge_before(cutoff, apply=False) == 0
    with connect(mailbox) as client:
        left = {}
        for folder in ("Processed", "Quarantine", "INBOX"):
            client.select_folder(folder, readonly=True)
            left[folder] = len(client.search(["ALL"]))
    assert left == {"Processed": 1, "Quarantine": 0, "INBOX": 1}
