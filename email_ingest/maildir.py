"""Maildir drop folder: the embedded mail source when no IMAP server is configured.

Each message is stored (raw bytes, sha256, Message-ID) in one transaction before its file is moved to the
`.Processed` sub-folder, so a crash between the two only leaves a file whose next pass finds it already stored.
"""

from __future__ import annotations

import hashlib
import mailbox
from collections.abc import Iterator
from dataclasses import dataclass
from email import policy
from email.parser import BytesHeaderParser
from pathlib import Path

PROCESSED_FOLDER = "Processed"
QUARANTINE_FOLDER = "Quarantine"


@dataclass(frozen=True)
class RawMessage:
    key: str
    raw: bytes

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

    def pending(self) -> Iterator[RawMessage]:
        # Oldest first, so residents are answered in the order they wrote.
        for key in sorted(self.box.iterkeys(), key=lambda k: self._mtime(k)):
            try:
                with self.box.get_file(key) as handle:
                    yield RawMessage(key=key, raw=handle.read())
            except FileNotFoundError:
                continue  # another process moved it away meanwhile

    def size(self, key: str) -> int:
        return self._file(key).stat().st_size

    def move_to(self, key: str, folder: str) -> None:
        """Move a stored message out of the inbox, keeping its file name (no copy, no second message)."""
        source = self._file(key)
        target = self.path / f".{folder}" / "cur" / source.name
        source.rename(target)
        self.box = mailbox.Maildir(self.path, create=False)

    def _file(self, key: str) -> Path:
        return self.path / self.box._lookup(key)  # type: ignore[attr-defined]

    def _mtime(self, key: str) -> float:
        try:
            return self._file(key).stat().st_mtime
        except FileNotFoundError:
            return 0.0
