"""Write classifiers/patterns/entities.jsonl, the extractor's spaCy token patterns, from the word lists below.

An address, a street and an intersection share the same street forms, and the full lists repeat in every line of
the JSONL; writing them here once keeps the 100-odd patterns consistent. Change a list, then:

    python nlu_data/extraction/entity_patterns.py           # rewrite the JSONL
    python nlu_data/extraction/entity_patterns.py --check   # exit 1 if the JSONL differs (the tests run this)

and measure with bench/extraction.py on dev.jsonl. What each label covers is in README.md next to this file.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

OUTPUT = Path(__file__).resolve().parents[2] / "classifiers" / "patterns" / "entities.jsonl"

Token = dict[str, Any]


def words(text: str) -> list[str]:
    return text.split()


STREET_TYPES = words(
    "street st st. road rd rd. avenue ave ave. av boulevard blvd blvd. drive dr dr. crescent cres cres. court crt ct "
    "lane ln way place pl terrace terr trail trl circle cir parkway pkwy line sideroad gate grove square sq heights "
    "hts row path crossing close mews gardens gdns landing highway hwy"
)
# A lower-case street without a number needs an abbreviated type: "elm ave" is a street, "bike lane" is not.
LOWER_STREET_TYPES = words("st st. ave ave. rd rd. dr dr. blvd blvd. cres cres. crt ct ln hwy")
DIRECTIONS = words("North South East West N S E W N. S. E. W. NORTH SOUTH EAST WEST NE NW SE SW")
CIVIC_SHAPES = [digits + suffix for digits in ("d", "dd", "ddd", "dddd", "ddddd") for suffix in ("", "x", "X")]
NOT_NAME_WORDS = words(
    "the a an on at in of and or to for from by with near my our your their his her its this that these those is "
    "are was were be been has have had i we you they it there across behind beside along past outside into onto "
    "over under about after before since until between around but so not no"
)
CONNECTORS = ["and", "&", "at", "/", "@"]
CORNER_CONNECTORS = ["and", "&", "/"]  # "corner of King at Queen" is not how anyone writes it
MONTHS = words(
    "january february march april may june july august september october november december jan jan. feb feb. "
    "mar mar. apr apr. jun jun. jul jul. aug aug. sep sep. sept sept. oct oct. nov nov. dec dec."
)
WEEKDAYS = words("monday tuesday wednesday thursday friday saturday sunday")
# Abbreviations only before a date ("Sat., June 6"): alone, "sat" and "wed" are ordinary words.
WEEKDAY_ABBREVIATIONS = words("mon tue tues wed thu thur thurs fri sat sun")
PARTS_OF_DAY = words("morning afternoon evening night")
HOLIDAYS = [
    "New Year's Day",
    "New Year's Eve",
    "Family Day",
    "Good Friday",
    "Easter Monday",
    "Easter Sunday",
    "Victoria Day",
    "Canada Day",
    "Civic Holiday",
    "Labour Day",
    "Thanksgiving Day",
    "Thanksgiving Monday",
    "Remembrance Day",
    "Christmas Eve",
    "Christmas Day",
    "Boxing Day",
    "National Day for Truth and Reconciliation",
]


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


ORDINALS = [ordinal(n) for n in range(1, 100)]
DAYS = [str(n) for n in range(1, 32)] + [f"0{n}" for n in range(1, 10)] + ORDINALS[:31]
YEARS = [str(year) for year in range(1990, 2051)]

CIVIC: Token = {"SHAPE": {"IN": CIVIC_SHAPES}}
# SHAPE, not ORTH: rules.py anchors each pattern on its rarest word, and "-" is everywhere (phones, dates).
HYPHEN: Token = {"SHAPE": "-"}
STREET_TYPE: Token = {"LOWER": {"IN": STREET_TYPES}}
DOT: Token = {"ORTH": ".", "OP": "?"}  # "Rd." is two tokens; extract.py drops a final dot from the span
DIRECTION: Token = {"TEXT": {"IN": DIRECTIONS}, "OP": "?"}
ROAD_NUMBER: Token = {"SHAPE": {"IN": ["d", "dd", "ddd", "dX", "ddX", "dx", "ddx"]}}  # Highway 7A
# A capitalised name word, also McArthur, MacDonald, O'Connor, LaSalle, DeWitt and the "St." of St. Clair.
NAME_REGEX = r"^(?:[A-Z][a-z]?['’]|Ma?c|L[ae]|D[eu])?[A-ZÀ-Þ][a-zß-ÿ]+\.?$"
# The first word may also be an ordinal ("5th Line"): one pattern for both keeps the matcher fast.
FIRST_NAME_WORD: Token = {"TEXT": {"REGEX": r"^(?:" + NAME_REGEX[1:-1] + r"|\d{1,2}(?:st|nd|rd|th))$"}}
# Later name words may be full type words (Township Line Road, Forest Grove Drive) but not abbreviations or
# little words, so "Dock St. The" is not read as a name.
ABBREVIATED_TYPES = words(
    "st st. rd rd. ave ave. av blvd blvd. dr dr. cres cres. crt ct ln pl terr trl cir pkwy sq hts gdns hwy"
)
MORE_NAME_WORDS: Token = {
    "TEXT": {"REGEX": NAME_REGEX},
    "LOWER": {"NOT_IN": ABBREVIATED_TYPES + NOT_NAME_WORDS},
    "OP": "{0,2}",
}
UPPER_NAME_WORDS: Token = {"IS_UPPER": True, "IS_ALPHA": True, "LOWER": {"NOT_IN": NOT_NAME_WORDS}, "OP": "{1,3}"}
LOWER_NAME_WORDS: Token = {"IS_LOWER": True, "IS_ALPHA": True, "LOWER": {"NOT_IN": NOT_NAME_WORDS}, "OP": "{1,3}"}
LOWER_SHORT_NAME = [
    {"IS_LOWER": True, "IS_ALPHA": True, "LOWER": {"NOT_IN": NOT_NAME_WORDS + STREET_TYPES}},
    {"IS_LOWER": True, "IS_ALPHA": True, "LOWER": {"NOT_IN": NOT_NAME_WORDS + STREET_TYPES}, "OP": "?"},
]


def in_words(options: list[str], op: str | None = None) -> Token:
    token: Token = {"LOWER": {"IN": options}}
    if op:
        token["OP"] = op
    return token


def typed(*name: Token) -> list[Token]:
    """A street name, its type and an optional direction ("King St. W" keeps its dot token)."""
    return [*name, STREET_TYPE, DOT, DIRECTION]


ROAD = ["road", "rd", "rd."]
STREETS: dict[str, list[Token]] = {
    "title": typed(FIRST_NAME_WORD, MORE_NAME_WORDS),
    "upper": typed(UPPER_NAME_WORDS),
    "regional_road": [in_words(["regional", "county"]), in_words(ROAD), DOT, ROAD_NUMBER],
    "highway": [in_words(["highway", "hwy", "hwy."]), DOT, ROAD_NUMBER],
    "concession": [{"LOWER": "concession"}, in_words(ROAD, "?"), DOT, ROAD_NUMBER],
    "sideroad": [{"LOWER": "sideroad"}, ROAD_NUMBER],
}
LOWER_STREET = typed(LOWER_NAME_WORDS)


def rule(label: str, rule_id: str, pattern: str | list[Token]) -> dict[str, Any]:
    return {"label": label, "id": rule_id, "pattern": pattern}


def address_rules() -> list[dict[str, Any]]:
    # "214" and "12B", or "4-210" (unit-civic, as Canada Post writes it) and "44-B"
    prefixes = {"": [CIVIC], "unit_": [CIVIC, HYPHEN, {"SHAPE": {"IN": [*CIVIC_SHAPES, "X"]}}]}
    rules = []
    for prefix_id, prefix in prefixes.items():
        for form, street in {**STREETS, "lower": LOWER_STREET}.items():
            rules.append(rule("ADDRESS", f"address_{prefix_id}{form}", prefix + street))
    return rules


def street_rules() -> list[dict[str, Any]]:
    rules = [rule("STREET", f"street_{form}", street) for form, street in STREETS.items()]
    lower = [*LOWER_SHORT_NAME, in_words(LOWER_STREET_TYPES), DOT, DIRECTION]
    rules.append(rule("STREET", "street_lower", lower))
    return rules


def intersection_rules() -> list[dict[str, Any]]:
    connector = in_words(CONNECTORS)
    mixed = ("title", "regional_road", "highway", "concession", "sideroad")
    rules = [
        rule("INTERSECTION", f"intersection_{first}_{second}", STREETS[first] + [connector] + STREETS[second])
        for first in mixed
        for second in mixed
    ]
    rules.append(rule("INTERSECTION", "intersection_upper", STREETS["upper"] + [connector] + STREETS["upper"]))
    rules.append(rule("INTERSECTION", "intersection_lower", LOWER_STREET + [connector] + LOWER_STREET))
    # "corner of King and Queen": the words say these are streets, so the types may be left out
    for case, name_words in (("title", [FIRST_NAME_WORD, MORE_NAME_WORDS]), ("upper", [UPPER_NAME_WORDS])):
        name = [*name_words, in_words(STREET_TYPES, "?"), DOT, DIRECTION]
        corner = [in_words(["corner", "intersection"]), {"LOWER": "of"}]
        pattern = corner + name + [in_words(CORNER_CONNECTORS)] + name
        rules.append(rule("INTERSECTION", f"intersection_corner_{case}", pattern))
    return rules


def date_rules() -> list[dict[str, Any]]:
    month, day, year = in_words(MONTHS), in_words(DAYS), in_words(YEARS)
    comma: Token = {"ORTH": ",", "OP": "?"}
    of: Token = {"LOWER": "of", "OP": "?"}
    weekday: list[Token] = [in_words(WEEKDAYS + WEEKDAY_ABBREVIATIONS), DOT, comma]
    # the tokenizer reads "Wed." as "We" + "d." (as in "we'd")
    wed: list[Token] = [{"ORTH": {"IN": ["We", "WE"]}}, {"LOWER": "d."}, comma]
    ago_units = ["day", "days", "week", "weeks", "month", "months"]
    rules = [
        rule("DATE", "date_month_day", [month, day]),
        rule("DATE", "date_month_day_year", [month, day, comma, year]),
        rule("DATE", "date_day_month", [day, of, month]),
        rule("DATE", "date_day_month_year", [day, of, month, comma, year]),
        rule("DATE", "date_weekday_month_day", [*weekday, month, day]),
        rule("DATE", "date_weekday_month_day_year", [*weekday, month, day, comma, year]),
        rule("DATE", "date_weekday_day_month", [*weekday, day, month]),
        rule("DATE", "date_weekday_month_day", [*wed, month, day]),
        rule(
            "DATE",
            "date_weekday",  # "Monday", "next Tuesday", "this past Friday night"
            [
                {"LOWER": "this", "OP": "?"},
                in_words(["last", "this", "next", "past"], "?"),
                in_words(WEEKDAYS),
                in_words(PARTS_OF_DAY, "?"),
            ],
        ),
        rule("DATE", "date_relative", [in_words(["today", "yesterday", "tomorrow"]), in_words(PARTS_OF_DAY, "?")]),
        rule("DATE", "date_ago", [{"LIKE_NUM": True}, in_words(ago_units), {"LOWER": "ago"}]),
        rule(
            "DATE",
            "date_ago",  # "a week ago", "a couple of days ago"
            [
                in_words(["a", "an"]),
                in_words(["day", "week", "month", "couple", "few"]),
                {"LOWER": "of", "OP": "?"},
                in_words(["days", "weeks", "months"], "?"),
                {"LOWER": "ago"},
            ],
        ),
    ]
    for phrase in ("tonight", "last night", "this morning", "this afternoon", "this evening"):
        rules.append(rule("DATE", "date_relative", phrase))
    rules.extend(rule("DATE", "date_holiday", holiday) for holiday in HOLIDAYS)
    return rules


def build() -> str:
    rules = address_rules() + street_rules() + intersection_rules() + date_rules()
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rules)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="exit 1 if the JSONL is not what this script writes")
    args = parser.parse_args()
    text = build()
    if args.check:
        if OUTPUT.read_text(encoding="utf-8") != text:
            sys.exit(f"{OUTPUT} differs from {Path(__file__).name}; run it without --check to rewrite it")
        return
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {text.count(chr(10))} patterns to {OUTPUT}")


if __name__ == "__main__":
    main()
