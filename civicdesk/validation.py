"""Normalizers for what residents type: Canadian postal codes, North American phone numbers, email addresses,
provinces and names; and `Line` and `Text`, the text fields of API bodies and forms, which refuse control characters
and lone surrogates.

Each normalizer returns the canonical form or raises `InvalidInput` naming the field and what is wrong with it.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field
from pydantic.json_schema import JsonDict

from civicdesk.errors import InvalidInput
from civicdesk.limits import LIMITS

# Canada Post: no D, F, I, O, Q or U anywhere; no W or Z as the first letter.
POSTAL_CODE = re.compile(r"^([ABCEGHJ-NPRSTVXY]\d[ABCEGHJ-NPRSTV-Z]) ?(\d[ABCEGHJ-NPRSTV-Z]\d)$")
EMAIL = re.compile(r"^[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+\.[A-Za-z]{2,}$")
PROVINCES = {"AB", "BC", "MB", "NB", "NL", "NS", "NT", "NU", "ON", "PE", "QC", "SK", "YT"}


def postal_code(value: str, field: str = "postal_code") -> str:
    match = POSTAL_CODE.match(value.strip().upper())
    if not match:
        raise InvalidInput(field, f"{value!r} is not a Canadian postal code (for example L3X 2B7)")
    return f"{match.group(1)} {match.group(2)}"


def phone(value: str, field: str = "phone") -> str:
    digits = re.sub(r"\D", "", value)
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    if len(digits) != 10 or digits[0] in "01":
        raise InvalidInput(field, f"{value!r} is not a 10-digit phone number (for example 905-555-0100)")
    return digits


def email(value: str, field: str = "email") -> str:
    address = value.strip().lower()
    if len(address) > 254 or not EMAIL.match(address):
        raise InvalidInput(field, f"{value!r} is not an email address")
    return address


def province(value: str, field: str = "province") -> str:
    code = value.strip().upper()
    if code not in PROVINCES:
        raise InvalidInput(field, f"{value!r} is not a Canadian province or territory code (for example ON)")
    return code


def name(value: str, field: str = "name", limit: int = 200) -> str:
    text = " ".join(value.split())
    if len(text) > limit or any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise InvalidInput(field, f"a name of at most {limit} ordinary characters, please")
    return text


def whole_characters(text: str) -> bool:
    """False for text holding half of a UTF-16 pair: JSON can spell one ("\\ud800"), and a form decoded with
    surrogatepass can carry one, but UTF-8 cannot encode it, so no database can store it."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _whole_characters(value: object) -> object:
    if isinstance(value, str) and not whole_characters(value):
        raise ValueError("must not contain a lone UTF-16 surrogate (half of a character, such as \\ud800)")
    return value


def _printable(value: str) -> str:
    # PostgreSQL refuses NUL in text; control characters have no business in names or addresses anyway.
    if any(ord(character) < 32 or ord(character) == 127 for character in value):
        raise ValueError("must not contain control characters")
    return value


def _text(value: str) -> str:
    if any((ord(character) < 32 and character not in "\t\n\r") or ord(character) == 127 for character in value):
        raise ValueError("must not contain control characters other than tabs and line breaks")
    return value


# What the two validators below allow, stated in the OpenAPI document (clients and the Schemathesis contract test
# read it); the validators enforce it with a message that says what is wrong, which pydantic's pattern error does not.
ONE_LINE_PATTERN = r"^[^\x00-\x1f\x7f]*$"
MULTI_LINE_PATTERN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
ONE_LINE_SCHEMA: JsonDict = {"pattern": ONE_LINE_PATTERN}
MULTI_LINE_SCHEMA: JsonDict = {"pattern": MULTI_LINE_PATTERN}
# Checked before the value is read as a string (pydantic's own refusal does not say what is wrong).
WHOLE_CHARACTERS = BeforeValidator(_whole_characters)
ONE_LINE = AfterValidator(_printable)
MULTI_LINE = AfterValidator(_text)  # tabs and line breaks allowed, other control characters not
# A line of text in an API body or a form: PostgreSQL refuses NUL, and control characters belong in no name or
# address.
Line = Annotated[str, Field(json_schema_extra=ONE_LINE_SCHEMA), WHOLE_CHARACTERS, ONE_LINE]
# Text of several lines (a description, a note).
Text = Annotated[str, Field(json_schema_extra=MULTI_LINE_SCHEMA), WHOLE_CHARACTERS, MULTI_LINE]


def _one_line(limit: str) -> Any:
    return Field(max_length=LIMITS[limit], json_schema_extra=ONE_LINE_SCHEMA)


def _lines(limit: str) -> Any:
    return Field(max_length=LIMITS[limit], json_schema_extra=MULTI_LINE_SCHEMA)


# The same, capped from the table of input limits: the API bodies' and the console forms' field types. The cap comes
# before the validators in each (else pydantic checks it last, as "Value should have at most 4000 items").
CodeLine = Annotated[str, _one_line("code"), WHOLE_CHARACTERS, ONE_LINE]
ShortLine = Annotated[str, _one_line("short"), WHOLE_CHARACTERS, ONE_LINE]
NameLine = Annotated[str, _one_line("name"), WHOLE_CHARACTERS, ONE_LINE]
EmailLine = Annotated[str, _one_line("email"), WHOLE_CHARACTERS, ONE_LINE]
PhoneLine = Annotated[str, _one_line("phone"), WHOLE_CHARACTERS, ONE_LINE]
AddressLine = Annotated[str, _one_line("address"), WHOLE_CHARACTERS, ONE_LINE]
PostalCodeLine = Annotated[str, _one_line("postal_code"), WHOLE_CHARACTERS, ONE_LINE]
LanguageLine = Annotated[str, _one_line("language"), WHOLE_CHARACTERS, ONE_LINE]
AssigneeLine = Annotated[str, _one_line("assignee"), WHOLE_CHARACTERS, ONE_LINE]
ArticleLine = Annotated[str, _one_line("article_field"), WHOLE_CHARACTERS, ONE_LINE]
DescriptionText = Annotated[str, _lines("description"), WHOLE_CHARACTERS, MULTI_LINE]
AnswerText = Annotated[str, _lines("attribute"), WHOLE_CHARACTERS, MULTI_LINE]
EmailReplyText = Annotated[str, _lines("email_text"), WHOLE_CHARACTERS, MULTI_LINE]
ArticleText = Annotated[str, _lines("article_body"), WHOLE_CHARACTERS, MULTI_LINE]
