"""Maildir drop folder: the embedded mail source when no IMAP server is configured.

Each message is stored (raw bytes, sha256, Message-ID) in one transaction before its file is moved to the
`.Processed` sub-folder, so a crash between the two only leaves a file whose next pass finds it already stored.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import mailbox
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from email import policy
from email.parser import BytesHeaderParser
from pathlib import Path

PROCESSED_FOLDER = "Processed"
QUARANTINE_FOLDER = "Quarantine"
BATCH = 100  # messages stored in one transaction and moved together


@dataclass(frozen=True)
class RawMessage:
    key: str  # what the source's move() takes
    raw: bytes
    arrived_at: dt.datetime | None = field(default=None, kw_only=True)  # when the mailbox received it, if known

    @property
    def source_key(self) -> str:
        """The message's lasting name in its source, stored with the row."""
        return self.key

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.raw).hexdigest()


@dataclass(frozen=True)
class Headers:
    message_id: str | None
    subject: str | None
    sender: str | None


def read_headers(raw: bytes) -> Headers:
    """Headers of a message; raises ValueError when they cannot be read (the caller quarantines it)."""
    try:
        message = BytesHeaderParser(policy=policy.default).parsebytes(raw)
        return Headers(
            message_id=_header(message, "Message-ID"),
            subject=_header(message, "Subject"),
            sender=_header(message, "From"),
        )
    except Exception as error:  # the email package raises many types on malformed headers
        raise ValueError(f"unreadable headers: {type(error).__name__}: {error}") from error


def _header(message: object, name: str) -> str | None:
    value = message.get(name)  # type: ignore[attr-defined]
    return str(value).strip()[:998] if value is not None else None


class MaildirSource:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)  # mailbox creates only the last folder
        self.box = mailbox.Maildir(path, create=True)
        for folder in (PROCESSED_FOLDER, QUARANTINE_FOLDER):
            if folder not in self.box.list_folders():
                self.box.add_folder(folder)

    @property
    def name(self) -> str:
        return f"maildir:{self.path}"

    def pending(self) -> Iterator[list[RawMessage]]:
        """Batches of messages, oldest first, so residents are answered in the order they wrote."""
        batch: list[RawMessage] = []
        for key in sorted(self.box.iterkeys(), key=lambda k: self._mtime(k)):
            try:
                with self.box.get_file(key) as handle:
                    arrived = dt.datetime.fromtimestamp(self._mtime(key), dt.UTC)
                    batch.append(RawMessage(key=key, raw=handle.read(), arrived_at=arrived))
            except FileNotFoundError:
                continue  # another process moved it away meanwhile
            if len(batch) == BATCH:
                yield batch
                batch = []
        if batch:
            yield batch

    def size(self, key: str) -> int:
        return self._file(key).stat().st_size

    def move(self, keys: Sequence[str], folder: str) -> None:
        """Move stored messages out of the inbox, keeping their file names (no copy, no second message)."""
        for key in keys:
            source = self._file(key)
            source.rename(self.path / f".{folder}" / "cur" / source.name)
        self.box = mailbox.Maildir(self.path, create=False)

    def purge_before(self, cutoff: dt.datetime, apply: bool) -> int:
        """Count, and with `apply` delete, the messages of the processed and quarantine folders delivered before
        `cutoff` (the retention schedule; the database keeps its own copy, anonymized on the same schedule)."""
        found = 0
        for folder in (PROCESSED_FOLDER, QUARANTINE_FOLDER):
            for part in ("cur", "new"):
                for file in (self.path / f".{folder}" / part).glob("*"):
                    if file.is_file() and file.stat().st_mtime < cutoff.timestamp():  # moves keep the mtime
                        found += 1
                        if apply:
                            file.unlink(missing_ok=True)
        return found

    def _file(self, key: str) -> Path:
        return self.path / self.box._lookup(key)  # type: ignore[attr-defined]

    def _mtime(self, key: str) -> float:
        try:
            return self._file(key).stat().st_mtime
        except FileNotFoundError:
            return 0.0
