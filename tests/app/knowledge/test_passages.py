"""Articles split into sections, and a section rendered as plain text for a chat bubble (knowledge/passages.py)."""

from __future__ import annotations

from pathlib import Path

from civicdesk.knowledge.passages import (
    ANSWER_LIMIT,
    MAX_ITEMS,
    Block,
    Section,
    holds,
    plain,
    render,
    sentences,
    split_sections,
)
from civicdesk.seed_schema import load_articles

BODY = """Drop-off is **free** for residents. See [the map](https://www.northvale.ca/map) or [our page](/depots).

## Locations and hours

| Depot | Address | Open |
|---|---|---|
| Northvale Environmental Centre | 85 Depot Drive, Northvale | Tuesday to Saturday, 8:30 a.m. to 4:00 p.m. |
| Elm Ridge Centre | 2275 Sideroad 15, Elm Ridge | Thursday to Saturday, 8:30 a.m. to 4:00 p.m. |

Both depots are closed on statutory holidays.

## Accepted

- Paint, stains and *aerosol* cans
- Propane cylinders
  of all sizes
- Motor oil

### Limits

Limit per visit: 50 litres.

## Steps
1. Call 311.
2. Wait.
"""


def test_an_article_splits_into_its_intro_and_sections_with_heading_paths() -> None:
    sections = split_sections(BODY)
    assert [s.path for s in sections] == [
        (),
        ("Locations and hours",),
        ("Accepted",),
        ("Accepted", "Limits"),
        ("Steps",),
    ]
    intro, hours, accepted, limits, steps = sections
    assert intro.heading is None
    assert intro.blocks == [
        Block(
            "paragraph",
            ("Drop-off is free for residents. See the map (https://www.northvale.ca/map) or our page.",),
        )
    ]
    assert [b.kind for b in hours.blocks] == ["table", "paragraph"]
    assert hours.blocks[0].lines == (
        "Northvale Environmental Centre: 85 Depot Drive, Northvale; Tuesday to Saturday, 8:30 a.m. to 4:00 p.m.",
        "Elm Ridge Centre: 2275 Sideroad 15, Elm Ridge; Thursday to Saturday, 8:30 a.m. to 4:00 p.m.",
    )
    # a list keeps its items, an item's continuation line joins it, and emphasis marks go
    assert accepted.blocks == [
        Block("list", ("Paint, stains and aerosol cans", "Propane cylinders of all sizes", "Motor oil"))
    ]
    assert limits.heading == "Accepted › Limits" and limits.blocks[0].lines == ("Limit per visit: 50 litres.",)
    assert steps.blocks == [Block("list", ("Call 311.", "Wait."), ordered=True)]


def test_a_body_with_no_intro_starts_with_an_empty_one() -> None:
    intro, first = split_sections("## Online\n\nPay through your bank.\n")
    assert intro.blocks == [] and first.path == ("Online",)


def test_table_rows_keep_short_values_with_their_column_and_number_labels_with_theirs() -> None:
    table = "| Rider | Cash | Monthly pass |\n|---|---|---|\n| Adult | $3.75 | $115 |\n"
    assert split_sections(table)[0].blocks[0].lines == ("Adult: Cash $3.75; Monthly pass $115",)
    priorities = "| Priority | Roads |\n|---|---|\n| 1 | Regional roads |\n"
    assert split_sections(priorities)[0].blocks[0].lines == ("Priority 1: Regional roads",)


def test_plain_text_drops_marks_but_keeps_underscores_inside_words() -> None:
    assert (
        plain("**Bold**, _soft_ and `code` at my_address@example.org")
        == "Bold, soft and code at my_address@example.org"
    )


def test_a_section_renders_with_its_heading_rows_as_lines_and_items_as_bullets() -> None:
    _, hours, accepted, _, steps = split_sections(BODY)
    assert render(hours) == (
        "Locations and hours\n"
        "Northvale Environmental Centre: 85 Depot Drive, Northvale; Tuesday to Saturday, 8:30 a.m. to 4:00 p.m.\n"
        "Elm Ridge Centre: 2275 Sideroad 15, Elm Ridge; Thursday to Saturday, 8:30 a.m. to 4:00 p.m.\n"
        "Both depots are closed on statutory holidays."
    )
    assert (
        render(accepted) == "Accepted\n• Paint, stains and aerosol cans\n• Propane cylinders of all sizes\n• Motor oil"
    )
    assert render(steps) == "Steps\n1. Call 311.\n2. Wait."


def test_a_long_list_is_capped_and_says_how_many_more() -> None:
    items = tuple(f"Item number {n}" for n in range(1, 10))
    text = render(Section(("Accepted",), [Block("list", items)]))
    assert text.splitlines() == [
        "Accepted",
        *[f"• Item number {n}" for n in range(1, MAX_ITEMS + 1)],
        f"and {9 - MAX_ITEMS} more in the article",
    ]


def test_a_capped_list_keeps_the_items_the_question_asks_about_in_their_order() -> None:
    items = tuple(f"Item number {n}" for n in range(1, 9)) + ("Motor oil and antifreeze",)
    lines = render(Section((), [Block("list", items)]), "can I bring antifreeze?").splitlines()
    assert lines[-2:] == ["• Motor oil and antifreeze", f"and {9 - MAX_ITEMS} more in the article"]
    assert lines[0] == "• Item number 1"


def test_a_section_longer_than_a_bubble_keeps_the_sentences_that_answer_within_the_limit() -> None:
    filler = " ".join(f"Sentence {n} says nothing about the question at all." for n in range(1, 30))
    paragraph = filler + " The fee for a deck is $200. " + filler
    section = Section(("Fees",), [Block("paragraph", (paragraph,))])
    text = render(section, "how much is the fee for a deck")
    assert len(text) <= ANSWER_LIMIT
    assert text.startswith("Fees\nSentence 1 says nothing")  # the article's order is kept
    assert "The fee for a deck is $200." in text
    assert set(sentences(text.splitlines()[1])) <= set(sentences(paragraph))  # whole sentences only


def test_a_single_sentence_longer_than_the_limit_is_cut_at_a_word() -> None:
    text = render(Section((), [Block("paragraph", ("word " * 300,))]), limit=200)
    assert len(text) <= 200 and text.endswith("word…")


def test_every_seed_section_fits_the_limit() -> None:
    articles = load_articles(Path(__file__).resolve().parents[3] / "civicdesk" / "seed_data" / "kb")
    lengths = [len(render(s, "")) for a in articles for s in split_sections(a.body)]
    assert len(lengths) > 300 and max(lengths) <= ANSWER_LIMIT


def test_facts_compare_without_case_spacing_or_digit_group_commas() -> None:
    assert holds("A backwater valve:  $1,250 per\nhome", ["$1250 PER HOME"])
    assert holds("It costs $1250.", ["$1,250"])
    assert holds("Open Monday, Tuesday", ["Monday, Tuesday"])  # a comma between words is kept
    assert not holds("It costs $3.75.", ["$3.10"])
