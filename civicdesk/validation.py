"""Normalizers for what residents type: Canadian postal codes, North American phone numbers, email addresses,
provinces and names; and `Line`, an API body's text field that refuses control characters.

Each normalizer returns the canonical form or raises `InvalidInput` naming the field and what is wrong with it.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

from civicdesk.errors import InvalidInput

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


def _printable(value: str) -> str:
    # PostgreSQL refuses NUL in text; control characters have no business in names or addresses anyway.
    if any(ord(character) < 32 or ord(character) == 127 for character in value):
        raise ValueError("must not contain control characters")
    return value


# A line of text in an API body: PostgreSQL refuses NUL, and control characters belong in no name or address.
Line = Annotated[str, AfterValidator(_printable)]
