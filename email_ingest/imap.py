"""IMAP mail source: the Service First mailbox on a mail server, read exactly once per message.

A pass connects (TLS with certificate checks by default; plaintext only to loopback), selects the folder, reads
its UIDVALIDITY and asks only for UIDs above the checkpoint kept in the database. Sizes are read before anything
is downloaded: an oversize message brings its headers only and is quarantined. Bodies are fetched with
`BODY.PEEK[]`, so nothing is marked read before it is stored. `ingest_once` commits each row together with the
checkpoint (the `TrackedSource` hook) and only then moves the message to the processed folder (MOVE, or COPY +
\\Deleted + UID EXPUNGE where MOVE is missing). Moves are grouped (MOVE_BATCH UIDs, or what is left when the pass
ends), because each MOVE costs the server time in proportion to the folder's size.

A crash between the commit and the move leaves the message in the folder at or below the checkpoint: the next
pass finishes the move without downloading it again. A new UIDVALIDITY (the server rebuilt its UID list) resets
the checkpoint; every message is then read again and the sha256 uniqueness of `inbound_email` keeps it single.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import ipaddress
import logging
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from imapclient import IMAPClient
from imapclient.imapclient import DELETED
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from civicdesk.db import utcnow
from civicdesk.models import InboundEmail, MailCheckpoint
from email_ingest.maildir import BATCH, PROCESSED_FOLDER, QUARANTINE_FOLDER, RawMessage

log = logging.getLogger(__name__)

HEADER_BYTES = 64 * 1024  # what is read of an oversize message: enough headers for a person to recognise it
IDLE_RENEW_SECONDS = 25 * 60  # servers may end an IDLE after 29 minutes (RFC 2177 says re-issue within that)
IDLE_CHECK_SECONDS = 5.0  # how often a waiting ingester notices a stop request and beats its heartbeat
FETCH_BYTES = 32 * 1024 * 1024  # most message bytes asked for in one FETCH (memory stays bounded)
# Moves are sent in groups of this many UIDs: Dovecot's cost per MOVE grows with the folder (bench/imap_move.py,
# 10,000 messages: moving 5,000 took 27.6 s at 100 UIDs per MOVE, 3.1 s at 1,000, 0.9 s at 5,000).
MOVE_BATCH = 1000
Security = Literal["tls", "starttls", "plain"]


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class ImapAccount:
    host: str
    username: str
    password: str = field(repr=False)
    port: int | None = None  # None: 993 with TLS, 143 otherwise
    folder: str = "INBOX"
    security: Security = "tls"
    timeout: float = 60.0  # seconds for connecting and for every read, so a stalled server cannot hang the loop
    ssl_context: ssl.SSLContext | None = None  # None: the system's CA certificates, hostname checked

    def __post_init__(self) -> None:
        if self.security == "plain" and not is_loopback(self.host):
            raise ValueError(f"plaintext IMAP is allowed only to loopback, not to {self.host}: use tls or starttls")

    @property
    def effective_port(self) -> int:
        return self.port or (993 if self.security == "tls" else 143)


@dataclass(frozen=True)
class ImapMessage(RawMessage):
    """A message of the folder; `raw` holds the headers only when `complete` is false (over the size cap)."""

    uid: int
    uidvalidity: int
    size: int  # RFC822.SIZE as the server declared it
    complete: bool

    @property
    def source_key(self) -> str:
        return f"{self.uidvalidity}:{self.uid}"  # a UID means something only under its UIDVALIDITY

    @property
    def sha256(self) -> str:
        if self.complete:
            return super().sha256
        # The body was never downloaded: the headers (Received lines, Message-ID) and the size identify it, so the
        # same oversize message seen twice is one row. The prefix keeps this apart from any whole-message digest.
        return hashlib.sha256(b"headers-only %d\n" % self.size + self.raw).hexdigest()


class ImapSource:
    """The `ingest_once` source for one IMAP folder; `folders` maps the runner's folder names to the server's."""

    def __init__(
        self,
        account: ImapAccount,
        factory: sessionmaker[Session],
        max_bytes: int,
        folders: Mapping[str, str] | None = None,
    ) -> None:
        self.account = account
        self.factory = factory
        self.max_bytes = max_bytes  # must be the cap given to ingest_once (checked in `checkpoint`)
        self.folders = dict(folders or {PROCESSED_FOLDER: PROCESSED_FOLDER, QUARANTINE_FOLDER: QUARANTINE_FOLDER})
        self._client: IMAPClient | None = None
        self._to_move: dict[str, list[int]] = {}  # folder -> UIDs stored and waiting to be moved
        # (UIDVALIDITY, highest UID) the last pass knew of: mail above it came during or after that pass.
        self._last_seen: tuple[int, int] | None = None

    @property
    def name(self) -> str:
        account = self.account
        return f"imap://{account.username}@{account.host}:{account.effective_port}/{account.folder}"[:300]

    def pending(self) -> Iterator[list[ImapMessage]]:
        """Batches of new messages, oldest UID first; the connection stays open until the caller has moved the
        last batch."""
        with self._connect() as client:
            self._client = client
            try:
                yield from self._new_messages(client)
                self._flush_moves(client)
            finally:
                # After a failure the unmoved messages sit at or below the checkpoint; the next pass moves them.
                self._client = None
                self._to_move.clear()

    def wait_for_mail(self, stop: threading.Event, seconds: float, tick: Callable[[], None]) -> bool:
        """Wait up to `seconds` for new mail with IMAP IDLE (RFC 2177); True when the server announced some.

        IDLE is re-issued every IDLE_RENEW_SECONDS, within the 29 minutes after which a server may drop an idle
        client, and `tick` runs between checks (the heartbeat). Without IDLE this simply sleeps: polling.
        """
        deadline = time.monotonic() + seconds
        with self._connect() as client:
            if not client.has_capability("IDLE"):
                stop.wait(seconds)
                return False
            status = client.select_folder(self.account.folder, readonly=True)
            # IDLE announces only what arrives once it has begun: mail that came during the last pass, or
            # between that pass and now, would otherwise wait for the next poll (30 s for an emergency).
            if self._arrived_since_last_pass(client, int(status[b"UIDVALIDITY"])):
                return True
            while not stop.is_set() and time.monotonic() < deadline:
                client.idle()
                renew_at = time.monotonic() + IDLE_RENEW_SECONDS
                try:
                    while not stop.is_set() and time.monotonic() < min(deadline, renew_at):
                        responses = client.idle_check(
                            timeout=min(IDLE_CHECK_SECONDS, max(0.1, deadline - time.monotonic()))
                        )
                        if any(len(r) > 1 and r[1] in (b"EXISTS", b"RECENT") for r in responses):
                            return True
                        tick()
                finally:
                    client.idle_done()
        return False

    def _arrived_since_last_pass(self, client: IMAPClient, uidvalidity: int) -> bool:
        if self._last_seen is None:
            return False  # no pass yet: the runner starts with one
        seen_validity, seen_uid = self._last_seen
        if seen_validity != uidvalidity:
            return True  # the folder was renumbered: a pass must read it again
        # "UID n:*" always answers with the newest message, even below n: filter again here.
        return any(uid > seen_uid for uid in client.search(["UID", f"{seen_uid + 1}:*"]))

    def declared_size(self, message: RawMessage) -> int:
        return message.size if isinstance(message, ImapMessage) else len(message.raw)

    def checkpoint(self, session: Session, message: RawMessage, outcome: str) -> None:
        """Record the message as handled; runs inside the transaction that stores its row."""
        if not isinstance(message, ImapMessage):
            raise TypeError(f"not a message of this source: {message.key}")
        if not message.complete and outcome == "stored":
            # Only headers were fetched, so storing the row as a whole message would lose the body.
            raise RuntimeError(f"{self.name}: the source's size cap differs from the cap given to ingest_once")
        row = session.get(MailCheckpoint, self.name) or MailCheckpoint(mailbox=self.name)
        row.uidvalidity, row.last_uid = message.uidvalidity, message.uid
        row.last_folder = QUARANTINE_FOLDER if outcome == "quarantined" else PROCESSED_FOLDER
        row.updated_at = utcnow()
        session.add(row)

    def move(self, keys: Sequence[str], folder: str) -> None:
        if self._client is None:
            raise RuntimeError("move works only while pending() is being read: the connection is open then")
        self._to_move.setdefault(folder, []).extend(int(key) for key in keys)
        if sum(map(len, self._to_move.values())) >= MOVE_BATCH:
            self._flush_moves(self._client)

    def _flush_moves(self, client: IMAPClient) -> None:
        for folder, uids in self._to_move.items():
            if uids:
                self._move(client, uids, folder)
        self._to_move.clear()

    def purge_before(self, cutoff: dt.datetime, apply: bool) -> int:
        """Count, and with `apply` delete, the messages of the processed and quarantine folders that arrived
        before `cutoff`'s day (IMAP's BEFORE compares internal dates by day): the retention schedule."""
        found = 0
        with self._connect() as client:
            for folder in (PROCESSED_FOLDER, QUARANTINE_FOLDER):
                client.select_folder(self.folders[folder], readonly=not apply)
                uids = client.search(["BEFORE", cutoff.date()])
                found += len(uids)
                if apply and uids:
                    client.add_flags(uids, [DELETED])
                    self._expunge(client, uids)
        return found

    def _connect(self) -> IMAPClient:
        account = self.account
        context = account.ssl_context or ssl.create_default_context()
        client = IMAPClient(
            account.host,
            port=account.effective_port,
            ssl=account.security == "tls",
            ssl_context=context if account.security == "tls" else None,
            timeout=account.timeout,
        )
        try:
            if account.security == "starttls":
                client.starttls(context)
            client.login(account.username, account.password)
            for folder in self.folders.values():
                if not client.folder_exists(folder):
                    client.create_folder(folder)
        except BaseException:
            with contextlib.suppress(OSError):  # a failed STARTTLS leaves a closed socket; keep the first error
                client.shutdown()
            raise
        return client

    def _new_messages(self, client: IMAPClient) -> Iterator[list[ImapMessage]]:
        status = client.select_folder(self.account.folder)
        uidvalidity = int(status[b"UIDVALIDITY"])
        with self.factory() as session:
            stored = session.get(MailCheckpoint, self.name)
        if stored is not None and stored.uidvalidity != uidvalidity:
            # The server renumbered the folder: old UIDs mean nothing now, so read it all again.
            log.warning(
                "%s: UIDVALIDITY %s is now %s; reading the folder again", self.name, stored.uidvalidity, uidvalidity
            )
            stored = None
        last = stored.last_uid if stored is not None else 0
        if stored is not None:
            self._finish_moves(client, stored, last)
        # "UID n:*" always answers with the newest message, even below n: filter again here.
        uids = sorted(uid for uid in client.search(["UID", f"{last + 1}:*"]) if uid > last)
        self._last_seen = (uidvalidity, max([last, *uids]))
        for start in range(0, len(uids), BATCH):
            batch = uids[start : start + BATCH]
            listed = client.fetch(batch, ["RFC822.SIZE", "INTERNALDATE"])
            sizes = {uid: int(data[b"RFC822.SIZE"]) for uid, data in listed.items()}
            arrivals = {uid: _aware(data.get(b"INTERNALDATE")) for uid, data in listed.items()}
            messages = self._download(client, [uid for uid in batch if uid in sizes], sizes, arrivals, uidvalidity)
            if messages:
                yield messages

    def _download(
        self,
        client: IMAPClient,
        uids: list[int],
        sizes: dict[int, int],
        arrivals: dict[int, dt.datetime | None],
        uidvalidity: int,
    ) -> list[ImapMessage]:
        """Bodies of the messages under the cap, in fetches of at most FETCH_BYTES; headers only of the others."""
        found: list[ImapMessage] = []
        whole = [uid for uid in uids if sizes[uid] <= self.max_bytes]
        oversize = [uid for uid in uids if sizes[uid] > self.max_bytes]
        for group in _by_bytes(whole, sizes, FETCH_BYTES):
            for uid, data in client.fetch(group, [b"BODY.PEEK[]"]).items():
                if b"BODY[]" in data:  # a message expunged by another client meanwhile is simply absent
                    raw = bytes(data[b"BODY[]"])
                    found.append(
                        ImapMessage(str(uid), raw, uid, uidvalidity, sizes[uid], True, arrived_at=arrivals.get(uid))
                    )
        if oversize:
            # over the cap: the headers only, so the person who gets it from quarantine knows what it is
            item = b"BODY.PEEK[HEADER]<0.%d>" % HEADER_BYTES
            for uid, data in client.fetch(oversize, [item]).items():
                if b"BODY[HEADER]<0>" in data:
                    raw = bytes(data[b"BODY[HEADER]<0>"])
                    found.append(
                        ImapMessage(str(uid), raw, uid, uidvalidity, sizes[uid], False, arrived_at=arrivals.get(uid))
                    )
        return sorted(found, key=lambda message: message.uid)

    def _finish_moves(self, client: IMAPClient, stored: MailCheckpoint, last: int) -> None:
        """Messages at or below the checkpoint are stored already; a crash kept them from being moved."""
        leftovers = [uid for uid in client.search(["UID", f"1:{last}"]) if uid <= last]
        if not leftovers:
            return
        flags = client.fetch(leftovers, ["FLAGS"])
        self._expunge(client, [uid for uid in leftovers if uid in flags and DELETED in flags[uid][b"FLAGS"]])
        waiting = [uid for uid in leftovers if uid in flags and DELETED not in flags[uid][b"FLAGS"]]
        if not waiting:
            return
        keys = {f"{stored.uidvalidity}:{uid}": uid for uid in waiting}
        with self.factory() as session:
            quarantined = set(
                session.scalars(
                    select(InboundEmail.source_key).where(
                        InboundEmail.source == self.name,
                        InboundEmail.source_key.in_(keys),
                        InboundEmail.status == "quarantined",
                    )
                )
            )
        log.info("%s: finishing the move of %d stored messages", self.name, len(waiting))
        to_quarantine = [uid for key, uid in keys.items() if key in quarantined]
        to_processed = [uid for key, uid in keys.items() if key not in quarantined]
        if to_quarantine:
            self._move(client, to_quarantine, QUARANTINE_FOLDER)
        if to_processed:
            self._move(client, to_processed, PROCESSED_FOLDER)

    def _move(self, client: IMAPClient, uids: list[int], folder: str) -> None:
        target = self.folders[folder]
        if self._supports_move(client):
            client.move(uids, target)
            return
        client.copy(uids, target)
        client.add_flags(uids, [DELETED])
        self._expunge(client, uids)

    def _supports_move(self, client: IMAPClient) -> bool:
        return bool(client.has_capability("MOVE"))

    def _expunge(self, client: IMAPClient, uids: list[int]) -> None:
        if not uids:
            return
        if client.has_capability("UIDPLUS"):
            client.uid_expunge(uids)
        else:  # RFC 3501 EXPUNGE removes every \Deleted message of the folder, which is what \Deleted asks for
            client.expunge()


def _aware(moment: object) -> dt.datetime | None:
    """IMAPClient gives INTERNALDATE as a naive local time; the rest of civicdesk works in aware UTC."""
    return moment.astimezone(dt.UTC) if isinstance(moment, dt.datetime) else None


def _by_bytes(uids: list[int], sizes: dict[int, int], limit: int) -> Iterator[list[int]]:
    """Groups of UIDs whose sizes add up to at most `limit` (a single larger message is a group of its own)."""
    group: list[int] = []
    total = 0
    for uid in uids:
        if group and total + sizes[uid] > limit:
            yield group
            group, total = [], 0
        group.append(uid)
        total += sizes[uid]
    if group:
        yield group
