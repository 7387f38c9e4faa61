"""README's "Input limits" section lists the table in civicdesk/limits.py, number for number."""

from __future__ import annotations

import re

from civicdesk.limits import LIMITS, MAX_BODY_BYTES, MAX_FORM_FIELDS
from civicdesk.settings import PROJECT_ROOT


def input_limits_section() -> str:
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    return readme.split("\n## Input limits\n", 1)[1].split("\n## ", 1)[0]


def test_readme_lists_every_limit_with_its_maximum() -> None:
    rows = re.findall(r"^\| `(\w+)` \| (\d+) \|", input_limits_section(), re.MULTILINE)
    assert {field: int(maximum) for field, maximum in rows} == LIMITS
    assert len(rows) == len(LIMITS)  # each field once


def test_readme_gives_the_body_and_form_caps() -> None:
    section = input_limits_section()
    assert f"`MAX_BODY_BYTES` = {MAX_BODY_BYTES:,} bytes" in section
    assert f"`MAX_FORM_FIELDS` = {MAX_FORM_FIELDS} fields" in section
    assert f"at most {MAX_FORM_FIELDS} fields" in section
