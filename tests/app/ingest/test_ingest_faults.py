"""Faults during ingestion. Each test ends with every message stored exactly once (or quarantined) and the inbox
empty: the ingester killed with SIGKILL and restarted, Dovecot restarted mid-batch, two ingesters started at once
on one mailbox, a malformed message first in the batch, and the database unavailable for a while."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from dovecot import Dovecot, Mailbox
from helpers import free_port, resident_email
from imapclient import IMAPClient
from pgcluster import PostgresCluster
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from civicdesk import migrate
from civicdesk.db import make_engine, make_session_factory
from civicdesk.health import ingester_component
from civicdesk.models import ComponentHeartbeat, InboundEmail
from civicdesk.settings import PROJECT_ROOT
from email_ingest.imap import ImapAccount, ImapSource
from email_ingest.runner import ingest_once, run_forever

CAP = 200_000
CIVICDESK = [str(Path(sys.executable).parent / "civicdesk")]


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite only: PostgreSQL's turn is the outage test, on a cluster of its own."""
    return f"sqlite:///{tmp_path / 'civicdesk.db'}"


def messages(count: int, tag: str) -> list[bytes]:
    return [
        resident_email(f"Missed pickup {n}", f"Our bin at {n} Birch Crescent was missed ({tag}).", f"<{tag}-{n}@x.org>")
        for n in range(count)
    ]


def append(server: Mailbox, raws: list[bytes]) -> None:
    with IMAPClient("127.0.0.1", port=server.port, ssl=False, timeout=10) as client:
        client.login(server.user, server.password)
        for raw in raws:
            client.append("INBOX", raw)


def folder_sizes(server: Mailbox) -> dict[str, int]:
    with IMAPClient("127.0.0.1", port=server.port, ssl=False, timeout=10) as client:
        client.login(server.user, server.password)
        sizes = {}
        for folder in ("INBOX", "Processed", "Quarantine"):
            sizes[folder] = client.select_folder(folder)[b"EXISTS"] if client.folder_exists(folder) else 0
        return sizes


def source(server: Mailbox, factory: sessionmaker[Session]) -> ImapSource:
    account = ImapAccount(
        host="127.0.0.1", port=server.port, username=server.user, password=server.password, security="plain", timeout=5
    )
    return ImapSource(account, factory, max_bytes=CAP)


def assert_exactly_once(factory: sessionmaker[Session], server: Mailbox, expected_ids: set[str]) -> None:
    with factory() as session:
        ids = session.scalars(select(InboundEmail.message_id)).all()
    assert len(ids) == len(set(ids)), "a message was stored twice"
    assert set(ids) == expected_ids
    sizes = folder_sizes(server)
    assert sizes["INBOX"] == 0 and sizes["Processed"] + sizes["Quarantine"] == len(expected_ids), sizes


def ids_of(raws: list[bytes]) -> set[str]:
    return {raw.split(b"Message-ID: ", 1)[1].split(b"\r\n", 1)[0].decode() for raw in raws}


def cli_env(server: Mailbox, url: str, tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "CIVICDESK_ENV": "development",
        "CIVICDESK_DATABASE_URL": url,
        "CIVICDESK_VAR_DIR": str(tmp_path / "var"),
        "CIVICDESK_MODELS_DIR": str(tmp_path / "no-models"),  # no triage model: messages wait for agents
        "CIVICDESK_IMAP_HOST": "127.0.0.1",
        "CIVICDESK_IMAP_PORT": str(server.port),
        "CIVICDESK_IMAP_SECURITY": "plain",
        "CIVICDESK_IMAP_USERNAME": server.user,
        "CIVICDESK_IMAP_PASSWORD": server.password,
        "CIVICDESK_IMAP_TIMEOUT_SECONDS": "5",
        "CIVICDESK_INGEST_LEASE_SECONDS": "2",
        "CIVICDESK_LOG_LEVEL": "WARNING",
    }


def stored(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        return int(session.scalar(select(func.count()).select_from(InboundEmail)) or 0)


def test_sigkill_at_any_point_then_restart_stores_each_message_once(
    mailbox: Mailbox, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    raws = messages(40, "kill")
    append(mailbox, raws)
    url = session_factory.kw["bind"].url.render_as_string(hide_password=False)
    env = cli_env(mailbox, url, tmp_path)
    kills = 0
    for target in (3, 9, 17, 26):  # kill as soon as this many rows exist: mid-store, mid-process or mid-move
        process = subprocess.Popen([*CIVICDESK, "ingest", "--once"], env=env, cwd=PROJECT_ROOT)
        deadline = time.monotonic() + 60
        while stored(session_factory) < target and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            kills += 1
        process.wait(timeout=30)
        time.sleep(2.1)  # the killed holder's lease expires
    assert kills >= 3
    finished = subprocess.run(
        [*CIVICDESK, "ingest", "--once", "--json"], env=env, cwd=PROJECT_ROOT, capture_output=True, timeout=120
    )
    assert finished.returncode == 0, finished.stderr.decode()
    assert_exactly_once(session_factory, mailbox, ids_of(raws))


def test_two_ingesters_started_at_once_share_nothing_twice(
    mailbox: Mailbox, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    raws = messages(30, "twins")
    append(mailbox, raws)
    url = session_factory.kw["bind"].url.render_as_string(hide_password=False)
    env = cli_env(mailbox, url, tmp_path)

    runs = [
        subprocess.Popen([*CIVICDESK, "ingest", "--once", "--json"], env=env, cwd=PROJECT_ROOT, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    results = [(run.wait(timeout=120), (run.stderr.read() if run.stderr else b"").decode()) for run in runs]

    codes = sorted(code for code, _ in results)
    assert codes in ([0, 0], [0, 2]), results
    busy = [err for code, err in results if code == 2]
    assert all("is being read by" in err and "Traceback" not in err for err in busy)
    assert_exactly_once(session_factory, mailbox, ids_of(raws))


def test_dovecot_restarted_mid_batch(session_factory: sessionmaker[Session]) -> None:
    server = Dovecot(users=1)
    server.start()
    try:
        mailbox = server.new_mailbox()
        raws = messages(800, "restart")
        append(mailbox, raws)
        failure: list[BaseException] = []

        def first_pass() -> None:
            try:
                ingest_once(source(mailbox, session_factory), session_factory, CAP)
            except BaseException as error:  # the connection drops: expected
                failure.append(error)

        worker = threading.Thread(target=first_pass)
        worker.start()
        deadline = time.monotonic() + 60
        while stored(session_factory) < 20 and time.monotonic() < deadline:
            time.sleep(0.01)
        server.restart()
        worker.join(timeout=60)
        assert failure, "the restart should have cut the first pass short"
        assert stored(session_factory) < len(raws)

        ingest_once(source(mailbox, session_factory), session_factory, CAP)

        assert_exactly_once(session_factory, mailbox, ids_of(raws))
    finally:
        server.stop()


def test_a_malformed_message_first_in_the_batch_is_quarantined_and_the_rest_go_on(
    mailbox: Mailbox, session_factory: sessionmaker[Session]
) -> None:
    malformed = b"From: =?utf-8?b?####?=\r\nSubject: culvert\r\nMessage-ID: <bad@x.org>\r\n\r\nBlocked culvert.\r\n"
    junk = b"\x00\x81\xfe\xff" * 40
    raws = messages(5, "after-bad")
    append(mailbox, [malformed, junk, *raws])

    summary = ingest_once(source(mailbox, session_factory), session_factory, CAP)

    assert (summary.fetched, summary.stored, summary.quarantined) == (7, 7, 2)
    assert folder_sizes(mailbox) == {"INBOX": 0, "Processed": 5, "Quarantine": 2}
    with session_factory() as session:
        statuses = dict(session.execute(select(InboundEmail.message_id, InboundEmail.status)).all())
    assert all(statuses[i] == "needs_human" for i in ids_of(raws))


@pytest.fixture
def private_postgres() -> Iterator[PostgresCluster]:
    """A cluster of this test's own, so it can be stopped and started without disturbing the others."""
    cluster = PostgresCluster()
    cluster.create()
    try:
        yield cluster
    finally:
        cluster.destroy()


@pytest.mark.postgres
def test_the_database_down_for_a_while(mailbox: Mailbox, private_postgres: PostgresCluster) -> None:
    url = f"{private_postgres.url}/postgres"
    migrate.upgrade(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    first, second = messages(10, "before-outage"), messages(10, "during-outage")
    append(mailbox, first)
    stop = threading.Event()
    worker = threading.Thread(
        target=run_forever, args=(source(mailbox, factory), factory, CAP, 0.2, stop), kwargs={"lease_seconds": 5}
    )
    worker.start()
    try:
        deadline = time.monotonic() + 60
        while stored(factory) < len(first) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert stored(factory) == len(first)
        private_postgres.stop()
        append(mailbox, second)  # arrives while the database is down
        time.sleep(3)  # several failed passes
        private_postgres.start()
        deadline = time.monotonic() + 90
        while stored(factory) < len(first) + len(second) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        stop.set()
        worker.join(timeout=60)
    assert_exactly_once(factory, mailbox, ids_of(first + second))
    with factory() as session:
        heartbeat = session.get(ComponentHeartbeat, ingester_component(source(mailbox, factory).name))
        assert heartbeat is not None and heartbeat.state == "ok"
    engine.dispose()


def test_the_running_ingester_serves_metrics_that_count_its_mail(
    mailbox: Mailbox, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    url = session_factory.kw["bind"].url.render_as_string(hide_password=False)
    port = free_port()
    env = {**cli_env(mailbox, url, tmp_path), "CIVICDESK_INGEST_METRICS_PORT": str(port)}
    process = subprocess.Popen([*CIVICDESK, "ingest"], env=env, cwd=PROJECT_ROOT)
    try:
        append(mailbox, messages(3, "metrics"))  # the running ingester is woken by IDLE, or reads them first
        deadline, counted = time.monotonic() + 60, 0.0
        while counted < 3 and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.3)
            try:
                text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
            except httpx.TransportError:
                continue  # not listening yet
            counted = sum(
                sample.value
                for family in text_string_to_metric_families(text)
                for sample in family.samples
                if sample.name == "civicdesk_emails_total" and sample.labels == {"outcome": "needs_human"}
            )
        assert counted == 3
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def test_two_ingesters_share_two_mailboxes_and_one_takes_over_when_the_other_is_killed(
    mailbox: Mailbox, dovecot: Dovecot, session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    """Each mailbox is read by one ingester at a time (its lease); when that ingester dies, the other reads it."""
    roads = dovecot.new_mailbox()  # a department's own address on the same server
    url = session_factory.kw["bind"].url.render_as_string(hide_password=False)
    more = json.dumps([{"username": roads.user, "password": roads.password}])
    env = {**cli_env(mailbox, url, tmp_path), "CIVICDESK_IMAP_MORE_MAILBOXES": more}
    ingesters = [subprocess.Popen([*CIVICDESK, "ingest"], env=env, cwd=PROJECT_ROOT) for _ in range(2)]
    try:
        first, first_roads = messages(5, "main-1"), messages(5, "roads-1")
        append(mailbox, first)
        append(roads, first_roads)
        wait_until_stored(session_factory, 10)
        ingesters[0].send_signal(signal.SIGKILL)
        ingesters[0].wait(timeout=30)
        second, second_roads = messages(5, "main-2"), messages(5, "roads-2")
        append(mailbox, second)
        append(roads, second_roads)
        wait_until_stored(session_factory, 20)  # the survivor takes both mailboxes once the leases lapse (2 s)
    finally:
        for ingester in ingesters:
            with contextlib.suppress(ProcessLookupError):
                ingester.send_signal(signal.SIGTERM)
            ingester.wait(timeout=30)
    with session_factory() as session:
        ids = session.scalars(select(InboundEmail.message_id)).all()
    assert sorted(ids) == sorted(ids_of(first + second + first_roads + second_roads)), "lost or stored twice"
    for box in (mailbox, roads):
        assert folder_sizes(box) == {"INBOX": 0, "Processed": 10, "Quarantine": 0}
    with session_factory() as session:
        beats = session.scalars(select(ComponentHeartbeat.component)).all()
    assert {ingester_component(source(box, session_factory).name) for box in (mailbox, roads)} <= set(beats)


def wait_until_stored(factory: sessionmaker[Session], count: int) -> None:
    deadline = time.monotonic() + 90
    while stored(factory) < count and time.monotonic() < deadline:
        time.sleep(0.2)
    assert stored(factory) == count
