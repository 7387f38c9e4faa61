"""Email ingestion throughput: a 10,000-message backlog on a real Dovecot, end to end, against a bare fetch.

    .venv/bin/python bench/ingest.py [--messages 10000] [--database-url URL]

1. Starts a throwaway Dovecot on loopback and drops the backlog into its Maildir: the held-out emails of
   nlu_data/email/test.jsonl, repeated, each with its own Message-ID.
2. Bare fetch: imapclient reads every message's BODY.PEEK[] in batches of 100, doing nothing else.
3. End to end: `ingest_once` with the triage model on a migrated, seeded scratch database (SQLite unless
   --database-url is given): store, parse, thread, classify, route, write acknowledgements, move.
It prints messages per second for both and their ratio (targets: >= 100 messages/s, and >= 0.5 of the bare fetch).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path

from imapclient import IMAPClient

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "app"))  # the Dovecot fixture the tests use

from dovecot import Dovecot, Mailbox  # noqa: E402

from civicdesk import migrate  # noqa: E402
from civicdesk.catalogue import seed  # noqa: E402
from civicdesk.db import make_engine, make_session_factory, transaction  # noqa: E402
from classifiers.model import load_model, train  # noqa: E402
from classifiers.registry import Registry  # noqa: E402
from email_ingest.imap import ImapAccount, ImapSource  # noqa: E402
from email_ingest.process import ProcessConfig  # noqa: E402
from email_ingest.runner import ingest_once  # noqa: E402

CAP = 25 * 1024 * 1024


def backlog(count: int) -> list[bytes]:
    rows = [json.loads(line) for line in (ROOT / "nlu_data" / "email" / "test.jsonl").read_text().splitlines()]
    messages = []
    for number in range(count):
        row = rows[number % len(rows)]
        message = EmailMessage()
        message["From"] = f"Resident {number} <resident{number % 500}@example.org>"
        message["To"] = "servicefirst@northvale.ca"
        message["Subject"] = row["subject"]
        message["Message-ID"] = f"<bench-{number}@example.org>"
        message["Date"] = "Mon, 23 Nov 2026 09:00:00 -0500"
        message.set_content(row["body"] or row["subject"])
        messages.append(message.as_bytes().replace(b"\n", b"\r\n"))
    return messages


def drop_into_maildir(server: Dovecot, mailbox: Mailbox, messages: list[bytes]) -> None:
    """Write straight into the Maildir's new/ folder (what a delivery agent does); much faster than APPEND."""
    uid, gid = server.accounts.mail_uid, server.accounts.mail_gid
    for path in (mailbox.maildir, *(mailbox.maildir / folder for folder in ("new", "cur", "tmp"))):
        path.mkdir(parents=True, exist_ok=True)
        os.chown(path, uid, gid)
    for number, raw in enumerate(messages):
        path = mailbox.maildir / "new" / f"{1_800_000_000 + number}.M{number}P1.bench"
        path.write_bytes(raw)
        os.chown(path, uid, gid)


def bare_fetch(mailbox: Mailbox) -> tuple[int, float]:
    started = time.perf_counter()
    with IMAPClient("127.0.0.1", port=mailbox.port, ssl=False, timeout=60) as client:
        client.login(mailbox.user, mailbox.password)
        client.select_folder("INBOX", readonly=True)
        uids = client.search(["ALL"])
        fetched = 0
        for start in range(0, len(uids), 100):
            fetched += len(client.fetch(uids[start : start + 100], [b"BODY.PEEK[]"]))
    return fetched, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch_dir:
        scratch = Path(scratch_dir)
        url = args.database_url or f"sqlite:///{scratch / 'bench.db'}"
        migrate.upgrade(url)
        factory = make_session_factory(make_engine(url))
        with transaction(factory) as session:
            seed.load(session)
        model_dir = Registry(ROOT / "var" / "models" / "triage").active_dir()  # the active version, if any
        if model_dir is None:
            model_dir = scratch / "triage"
            train(sorted((ROOT / "nlu_data" / "email").glob("train*.jsonl")), model_dir)
        triage = load_model(model_dir)

        server = Dovecot(users=1)
        server.start()
        try:
            mailbox = server.new_mailbox()
            drop_into_maildir(server, mailbox, backlog(args.messages))
            fetched, bare_seconds = bare_fetch(mailbox)
            account = ImapAccount(
                host="127.0.0.1", port=mailbox.port, username=mailbox.user, password=mailbox.password, security="plain"
            )
            source = ImapSource(account, factory, max_bytes=CAP)
            summary = ingest_once(source, factory, CAP, config=ProcessConfig(mailbox=source.name), triage=triage)
        finally:
            server.stop()

    bare_rate = fetched / bare_seconds
    rate = summary.stored / summary.seconds
    print(f"backlog: {args.messages} messages on Dovecot (loopback), database {url.split(':', 1)[0]}")
    print(f"bare imapclient fetch: {fetched} messages in {bare_seconds:.1f} s = {bare_rate:.0f} messages/s")
    print(
        f"end to end: {summary.stored} stored in {summary.seconds:.1f} s = {rate:.0f} messages/s "
        f"({summary.routed} routed, {summary.needs_human} to agents, {summary.quarantined} quarantined, "
        f"{summary.auto_acknowledged} acknowledgements)"
    )
    print(f"ratio end to end / bare fetch: {rate / bare_rate:.2f}")


if __name__ == "__main__":
    main()
