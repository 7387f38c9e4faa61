"""Reading a stored message: headers, the text the sender wrote, quoted replies, signature and attachments.

Everything goes through the standard `email` package with `policy.default`. Mail from the outside world is often
broken: unknown charsets, invalid UTF-8, bad MIME boundaries, binary junk. Parsing keeps going where it can: text
that does not decode is decoded with replacement characters and the problem is listed in `defects`. Only a message
that yields no readable text and no attachment raises `Unparseable`; the caller quarantines it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import getaddresses, parseaddr
from html.parser import HTMLParser

HEADER_CHARS = 998  # RFC 5322 line limit; longer header values are cut to this when stored


class Unparseable(ValueError):
    """The message has no readable text and no attachment: a person must look at the raw bytes."""


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    size: int
    sha256: str
    content: bytes


@dataclass
class ParsedEmail:
    message_id: str | None
    subject: str
    sender_name: str
    sender_address: str | None  # lower-case; None when From: is missing or has no address
    in_reply_to: str | None
    references: list[str]
    text: str  # the whole readable body, as the classifiers were trained on it
    new_text: str  # what the sender wrote now
    quoted_text: str  # replies and forwarded messages below the new text
    signature: str
    attachments: list[Attachment]
    headers: dict[str, str]  # lower-case header names -> first value, for the loop and bounce rules
    message: EmailMessage
    defects: list[str] = field(default_factory=list)


def parse(raw: bytes) -> ParsedEmail:
    try:
        message = BytesParser(policy=policy.default).parsebytes(raw)
    except Exception as error:  # the parser is lenient; this is a last guard against junk that breaks it
        raise Unparseable(f"not a mail message: {type(error).__name__}: {error}") from error
    assert isinstance(message, EmailMessage)
    defects = [type(defect).__name__ for defect in message.defects]
    if not any(message.get(name) is not None for name in _MAIL_HEADERS):
        raise Unparseable("no mail headers (From, To, Subject, Date or Message-ID)")
    # Raw values: the loop rules need only their text, and parsing every header into its structured form
    # was the largest single cost of ingestion.
    headers: dict[str, str] = {}
    for name, value in message.raw_items():
        headers.setdefault(name.lower(), " ".join(str(value).split())[:HEADER_CHARS])
    text, body_defects = _body_text(message)
    defects += body_defects
    attachments = list(_attachments(message, defects))
    if not text.strip() and not attachments and not _header(message, "Subject"):
        raise Unparseable("no readable text, subject or attachment" + (f" ({', '.join(defects)})" if defects else ""))
    if _looks_binary(text):
        raise Unparseable("the body is binary data, not text")
    new_text, quoted_text, signature = split_reply(text)
    sender_name, sender_address = _sender(message)
    return ParsedEmail(
        message_id=_message_id(_header(message, "Message-ID")),
        subject=_header(message, "Subject") or "",
        sender_name=sender_name,
        sender_address=sender_address,
        in_reply_to=_message_id(_header(message, "In-Reply-To")),
        references=message_ids(_header(message, "References") or ""),
        text=text.strip(),
        new_text=new_text,
        quoted_text=quoted_text,
        signature=signature,
        attachments=attachments,
        headers=headers,
        message=message,
        defects=defects,
    )


_MAIL_HEADERS = ("From", "To", "Subject", "Date", "Message-ID")


def _looks_binary(text: str) -> bool:
    """Mostly control or replacement characters: junk that would only confuse the classifiers and agents."""
    sample = text[:4000]
    if not sample:
        return False
    bad = sum(1 for ch in sample if ch == "\ufffd" or (not ch.isprintable() and ch not in "\n\r\t"))
    return bad / len(sample) > 0.3


def dedupe_key(raw: bytes, message_id: str | None) -> str:
    """Same Message-ID and same body is one message, whatever Received headers the routes added.

    A sender that reuses a Message-ID for a different body gets a different key: nothing is dropped on the word of
    a header alone.
    """
    if not message_id:
        return hashlib.sha256(raw).hexdigest()
    _, separator, body = raw.partition(b"\r\n\r\n")
    if not separator:
        _, _, body = raw.partition(b"\n\n")
    return hashlib.sha256(b"message-id " + message_id.encode("utf-8", "replace") + b"\n" + body).hexdigest()


def _header(message: Message, name: str) -> str | None:
    try:
        value = message.get(name)
    except Exception:  # a malformed header can raise while being parsed: fall back to its raw text
        value = next((raw for key, raw in message.raw_items() if key.lower() == name.lower()), None)
    if value is None:
        return None
    return " ".join(str(value).split())[:HEADER_CHARS]


_MESSAGE_ID = re.compile(r"<[^<>\s]+>")


def message_ids(value: str) -> list[str]:
    return _MESSAGE_ID.findall(value)


def _message_id(value: str | None) -> str | None:
    if not value:
        return None
    found = message_ids(value)
    return found[0] if found else value.strip()[:HEADER_CHARS] or None


def _sender(message: EmailMessage) -> tuple[str, str | None]:
    value = _header(message, "Reply-To") or _header(message, "From") or ""
    try:
        addresses = getaddresses([value])
    except Exception:
        addresses = [parseaddr(value)]
    for name, address in addresses:
        if "@" in address:
            return name.strip(), address.strip().lower()[:254]
    return (addresses[0][0].strip() if addresses else ""), None


def _body_text(message: EmailMessage) -> tuple[str, list[str]]:
    defects: list[str] = []
    try:
        part = message.get_body(preferencelist=("plain", "html"))
    except Exception as error:
        defects.append(f"body: {type(error).__name__}")
        part = None
    if part is None:
        return "", defects
    text = _decoded(part, defects)
    if part.get_content_subtype() == "html":
        text = html_to_text(text)
    return text.replace("\r\n", "\n"), defects


def _decoded(part: Message, defects: list[str]) -> str:
    try:
        content = part.get_content()  # type: ignore[attr-defined]
        if isinstance(content, str):
            return content
    except (LookupError, UnicodeError, ValueError, AssertionError) as error:
        defects.append(f"charset {part.get_content_charset()!r}: {type(error).__name__}")
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    for charset in (part.get_content_charset() or "utf-8", "utf-8", "cp1252"):
        try:
            return payload.decode(charset)
        except (LookupError, UnicodeDecodeError):
            continue
    return payload.decode("utf-8", errors="replace")


def _attachments(message: EmailMessage, defects: list[str]) -> Iterator[Attachment]:
    try:
        parts = list(message.iter_attachments()) if message.is_multipart() else []
    except Exception as error:
        defects.append(f"attachments: {type(error).__name__}")
        return
    for part in _leaves(parts):
        filename = part.get_filename() or ""
        try:
            content = part.get_payload(decode=True) or b""
        except Exception as error:
            defects.append(f"attachment {filename!r}: {type(error).__name__}")
            continue
        if not isinstance(content, bytes):
            content = str(content).encode()
        content_type = part.get_content_type()
        if not filename:
            if content_type in ("text/plain", "text/html"):
                continue  # an alternative body, not a file
            filename = f"unnamed.{content_type.rsplit('/', 1)[-1]}"
        yield Attachment(
            filename=_safe_filename(filename),
            content_type=content_type[:120],
            size=len(content),
            sha256=hashlib.sha256(content).hexdigest(),
            content=content,
        )


def _leaves(parts: Sequence[Message]) -> Iterator[EmailMessage]:
    for part in parts:
        if part.is_multipart() and part.get_content_type() != "message/rfc822":
            yield from _leaves(list(part.iter_parts()))  # type: ignore[attr-defined]
        else:
            yield part  # type: ignore[misc]


def _safe_filename(name: str) -> str:
    """Names come from strangers: keep the last path component and printable characters only."""
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip().lstrip(".")
    return name[:255] or "unnamed"


class _TextExtractor(HTMLParser):
    """Text of an HTML body: scripts and styles dropped, block elements turned into line breaks."""

    BLOCKS = frozenset({"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "table"})
    SKIP = frozenset({"script", "style", "head", "title"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0
        self.quote_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self.skipping += 1
        elif tag in self.BLOCKS:
            self.parts.append("\n")
        if tag == "blockquote":
            self.quote_depth += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP and self.skipping:
            self.skipping -= 1
        elif tag in self.BLOCKS:
            self.parts.append("\n")
        if tag == "blockquote" and self.quote_depth:
            self.quote_depth -= 1

    def handle_data(self, data: str) -> None:
        if self.skipping:
            return
        if self.quote_depth:  # quoted replies in HTML mail become "> " lines, as in plain text mail
            data = "\n".join("> " + line if line.strip() else line for line in data.split("\n"))
        self.parts.append(data)


def html_to_text(html: str) -> str:
    extractor = _TextExtractor()
    extractor.feed(html)
    extractor.close()
    lines = (
        line.rstrip() if line.startswith(">") else " ".join(line.split())
        for line in "".join(extractor.parts).split("\n")
    )
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


# Where a reply's quoted part starts: the attribution line, an Outlook header block or a forwarded message.
_QUOTE_STARTS = re.compile(
    r"^(?:On .{4,200}wrote:\s*$"
    r"|Le .{4,200}a écrit\s?:\s*$"
    r"|-{2,}\s*(?:Original Message|Forwarded message|Message d'origine|Message transféré)\s*-{2,}"
    r"|_{10,}\s*$"
    r"|From:\s.+$)",
    re.IGNORECASE,
)
_SIGNATURE_START = re.compile(r"^(?:-- ?|Sent from my \w+.*|Envoyé de mon \w+.*|Get Outlook for \w+.*)$", re.IGNORECASE)


def split_reply(text: str) -> tuple[str, str, str]:
    """(new text, quoted text, signature) of a body; the new text is what the sender typed above any quote."""
    lines = text.replace("\r\n", "\n").split("\n")
    cut = len(lines)
    for number, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith(">") or _QUOTE_STARTS.match(stripped):
            cut = number
            break
    new_lines, quoted = lines[:cut], "\n".join(lines[cut:]).strip()
    signature = ""
    for number, line in enumerate(new_lines):
        if _SIGNATURE_START.match(line.strip()) and number > 0:
            signature = "\n".join(new_lines[number:]).strip()
            new_lines = new_lines[:number]
            break
    new_text = "\n".join(new_lines).strip()
    if not new_text and quoted:  # a bare forward: the forwarded message is what the sender wants read
        new_text, quoted = quoted, ""
    return new_text, quoted, signature
