"""IMAP mail source: the Service First mailbox on a mail server, read exactly once per message.

A pass connects (TLS with certificate checks by default; plaintext only to loopback), selects the folder, reads
its UIDVALIDITY and asks only for UIDs above the checkpoint kept in the database. Sizes are read before anything
is downloaded: an oversize message brings its headers only and is quarantined. Bodies are fetched with
`BODY.PEEK[]`, so nothing is marked read before it is stored. `ingest_once` commits each row together with the
checkpoint (the `TrackedSource` hook) and only then moves the message to the processed folder (MOVE, or COPY +
\\Deleted + UID EXPUNGE where MOVE is missing).

A crash between the commit and the move leaves the message in the folder at or below the checkpoint: the next
pass finishes the move without downloading it again. A new UIDVALIDITY (the server rebuilt its UID list) resets
the checkpoint; every message is then read again and the sha256 uniqueness of `inbound_email` keeps it single.
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import logging
import ssl
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal

from imapclient import IMAPClient
from imapclient.imapclient import DELETED
from sqlalchemy.orm import Session, sessionmaker

from civicdesk.db import utcnow
from civicdesk.models import MailCheckpoint
from email_ingest.maildir import PROCESSED_FOLDER, QUARANTINE_FOLDER, RawMessage

log = logging.getLogger(__name__)

HEADER_BYTES = 64 * 1024  # what is read of an oversize message: enough headers for a person to recognise it
BATCH = 100  # UIDs whose sizes are asked in one FETCH
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

    @property
    def name(self) -> str:
        account = self.account
        return f"imap://{account.username}@{account.host}:{account.effective_port}/{account.folder}"[:300]

    def pending(self) -> Iterator[ImapMessage]:
        """New messages, oldest UID first; the connection stays open until the caller has moved the last one."""
        with self._connect() as client:
            self._client = client
            try:
                yield from self._new_messages(client)
            finally:
                self._client = None

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

    def move_to(self, key: str, folder: str) -> None:
        if self._client is None:
            raise RuntimeError("move_to works only while pending() is being read: the connection is open then")
        self._move(self._client, int(key), folder)

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

    def _new_messages(self, client: IMAPClient) -> Iterator[ImapMessage]:
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
        for start in range(0, len(uids), BATCH):
            batch = uids[start : start + BATCH]
            sizes = client.fetch(batch, ["RFC822.SIZE"])
            for uid in batch:
                if uid not in sizes:
                    continue  # expunged by another client meanwhile
                message = self._download(client, uid, uidvalidity, int(sizes[uid][b"RFC822.SIZE"]))
                if message is not None:
                    yield message

    def _download(self, client: IMAPClient, uid: int, uidvalidity: int, size: int) -> ImapMessage | None:
        complete = size <= self.max_bytes
        if complete:
            item, key = b"BODY.PEEK[]", b"BODY[]"
        else:  # over the cap: the headers only, so the person who gets it from quarantine knows what it is
            item, key = b"BODY.PEEK[HEADER]<0.%d>" % HEADER_BYTES, b"BODY[HEADER]<0>"
        response = client.fetch([uid], [item]).get(uid, {})
        raw = response.get(key)
        if raw is None:
            return None  # expunged by another client meanwhile
        return ImapMessage(key=str(uid), raw=bytes(raw), uid=uid, uidvalidity=uidvalidity, size=size, complete=complete)

    def _finish_moves(self, client: IMAPClient, stored: MailCheckpoint, last: int) -> None:
        """Messages at or below the checkpoint are stored already; a crash kept them from being moved."""
        leftovers = [uid for uid in client.search(["UID", f"1:{last}"]) if uid <= last]
        if not leftovers:
            return
        flags = client.fetch(leftovers, ["FLAGS"])
        for uid in leftovers:
            if uid not in flags:
                continue
            if DELETED in flags[uid][b"FLAGS"]:
                self._expunge(client, uid)  # copied already, the expunge was cut short
                continue
            folder = stored.last_folder if uid == stored.last_uid else PROCESSED_FOLDER
            log.info("%s: finishing the move of stored UID %s to %s", self.name, uid, folder)
            self._move(client, uid, folder)

    def _move(self, client: IMAPClient, uid: int, folder: str) -> None:
        target = self.folders[folder]
        if self._supports_move(client):
            client.move([uid], target)
            return
        client.copy([uid], target)
        client.add_flags([uid], [DELETED])
        self._expunge(client, uid)

    def _supports_move(self, client: IMAPClient) -> bool:
        return bool(client.has_capability("MOVE"))

    def _expunge(self, client: IMAPClient, uid: int) -> None:
        if client.has_capability("UIDPLUS"):
            client.uid_expunge([uid])
        else:  # RFC 3501 EXPUNGE removes every \Deleted message of the folder, which is what \Deleted asks for
            client.expunge()
