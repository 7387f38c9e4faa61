"""Article sections, and a section rendered as plain text for a chat bubble.

The facts residents ask for sit in an article's sections (the hours table, the list of ways to pay), not in its
opening lines, so the search answers with a section. `split_sections` reads an article's Markdown body into its
intro (the text before the first heading) and one section per heading, with the heading path, keeping paragraphs,
lists and tables apart. `render` turns a section into a short plain-text passage: extractive, so every word
shown comes from the article (headings, cells and sentences are kept whole or cut at a boundary, never
rephrased); when the section is longer than a bubble, the sentences, items and rows that share most words with
the question are kept, in the article's order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

# ~600 characters is about 90 words: 12-15 lines in the chat widget's bubble on a phone, read without scrolling
# past the article link and the feedback buttons that follow it; the longest seed sections (a 6-row contact table,
# a 5-step checklist) fit once their Markdown marks are gone.
ANSWER_LIMIT = 600
MAX_ITEMS = 6  # list items or table rows shown; the rest are counted ("and 2 more in the article")
BULLET = "• "
MIN_CUT = 120  # a sentence is cut at a word only to fill at least this much; a shorter stub says too little

HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
LIST_ITEM = re.compile(r"^(\s*)(?:[-*+]|(\d+)[.)])\s+(.*)$")
TABLE_RULE = re.compile(r"^\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")
# a sentence ends at . ! or ? followed by a space and a capital, a digit or an opening mark ("a.m. to" goes on)
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"“(*])")
WORD = re.compile(r"[a-z0-9]+")
# words too common in questions to say which sentence answers one
COMMON_WORDS = (
    "a an and are at be by can do does for from get how i if in is it me my of on or the to what when where which "
    "who why will with you your"
)
STOP_WORDS = frozenset(COMMON_WORDS.split())


@dataclass(frozen=True)
class Block:
    kind: Literal["paragraph", "list", "table"]
    lines: tuple[str, ...]  # paragraph: its text; list: its items; table: its rows, plain text each
    ordered: bool = False


@dataclass
class Section:
    path: tuple[str, ...]  # heading path, plain text ("Locations and hours",); empty for the intro
    blocks: list[Block] = field(default_factory=list)

    @property
    def heading(self) -> str | None:
        return " › ".join(self.path) if self.path else None

    def text(self) -> str:
        """Heading path and every block, plain, for indexing."""
        return "\n".join([*self.path, *(line for block in self.blocks for line in block.lines)])


def plain(markdown: str) -> str:
    """Inline Markdown as plain text: links keep their text (and an address a reader could not click otherwise),
    emphasis and code marks go, runs of whitespace become one space."""

    def link(match: re.Match[str]) -> str:
        text, target = match.group(1), match.group(2)
        return f"{text} ({target})" if target.startswith(("http", "mailto:")) and target not in text else text

    # no '[' inside the link text, no '(' inside the target: each bracket starts one short scan
    text = re.sub(r"!?\[([^\[\]]+)\]\(([^()\s]+)\)", link, markdown)
    text = re.sub(r"[*`]+", "", text)
    text = re.sub(r"(?<!\w)_+|_+(?!\w)", "", text)  # _emphasis_, but not the underscore in an_address
    return " ".join(text.replace("\\|", "|").split())


def _cells(row: str) -> list[str]:
    row = row.strip()
    row = row[1:] if row.startswith("|") else row
    row = row[:-1] if row.endswith("|") and not row.endswith("\\|") else row
    return [plain(cell) for cell in re.split(r"(?<!\\)\|", row)]


def _row_line(header: list[str], cells: list[str]) -> str:
    """One table row as one line: the first cell labels the row ("Priority 1" when it is a bare number); in tables
    of three columns or more a short cell ("$3.75", "24/7") keeps its column's name, which a long cell does not need."""
    label, rest = (cells[0], cells[1:]) if cells else ("", [])
    if header and re.fullmatch(r"\d+", label):
        label = f"{header[0]} {label}"
    parts = []
    for position, cell in enumerate(rest, start=1):
        name = header[position] if position < len(header) else ""
        parts.append(f"{name} {cell}" if len(header) > 2 and name and len(cell) <= 10 else cell)
    values = "; ".join(part for part in parts if part)
    return f"{label}: {values}" if label and values else label or values


def _table(rows: list[str]) -> Block:
    cells = [_cells(row) for row in rows if not TABLE_RULE.match(row.strip())]
    has_header = len(rows) > 1 and bool(TABLE_RULE.match(rows[1].strip()))
    header, body = (cells[0], cells[1:]) if has_header else ([], cells)
    return Block("table", tuple(_row_line(header, row) for row in body))


def split_sections(body: str) -> list[Section]:
    """The intro (possibly empty) and one section per heading, each with its paragraphs, lists and tables."""
    sections = [Section(())]
    kind: str | None = None  # the block being read
    lines: list[str] = []
    ordered = False

    def close() -> None:
        nonlocal kind, lines
        if kind == "table":
            sections[-1].blocks.append(_table(lines))
        elif kind == "list":
            sections[-1].blocks.append(Block("list", tuple(plain(item) for item in lines), ordered))
        elif kind == "paragraph":
            sections[-1].blocks.append(Block("paragraph", (plain(" ".join(lines)),)))
        kind, lines = None, []

    levels: list[tuple[int, str]] = []
    for raw in body.splitlines():
        line = raw.rstrip()
        heading = HEADING.match(line)
        item = LIST_ITEM.match(line)
        if not line.strip():
            close()
        elif heading:
            close()
            level, title = len(heading.group(1)), plain(heading.group(2))
            levels = [(lvl, text) for lvl, text in levels if lvl < level] + [(level, title)]
            sections.append(Section(tuple(text for _, text in levels)))
        elif line.lstrip().startswith("|"):
            if kind != "table":
                close()
                kind = "table"
            lines.append(line)
        elif item:
            if kind != "list":
                close()
                kind, ordered = "list", item.group(2) is not None
            lines.append(item.group(3))
        elif kind == "list":
            lines[-1] += " " + line.strip()  # an item's continuation line
        else:
            if kind != "paragraph":
                close()
                kind = "paragraph"
            lines.append(line.strip().lstrip(">").strip())
    close()
    return sections


def sentences(paragraph: str) -> list[str]:
    return [part for part in SENTENCE_END.split(paragraph) if part]


def stems(text: str) -> set[str]:
    # five letters stand for a word's stem, so "hours" meets "hour" and "paying" meets "payment"
    return {word[:5] for word in WORD.findall(text.lower()) if word not in STOP_WORDS}


def _units(block: Block) -> list[str]:
    """The pieces a block can be cut into: sentences of a paragraph, items of a list, rows of a table."""
    return sentences(block.lines[0]) if block.kind == "paragraph" else list(block.lines)


def _mark(block: Block, position: int) -> str:
    if block.kind == "table":
        return ""  # a row is a line of its own
    return f"{position + 1}. " if block.ordered else BULLET


def _lay_out(block: Block, units: list[str], shown: list[int]) -> str:
    if block.kind == "paragraph":
        return " ".join(units[i] for i in shown)
    lines = [_mark(block, i) + units[i] for i in shown]
    if len(shown) < len(units):
        lines.append(f"and {len(units) - len(shown)} more in the article")
    return "\n".join(lines)


def _fit(block: Block, query: set[str], budget: int) -> str:
    """The block within `budget` characters: whole if it fits, else its units that share most words with the
    question (the first ones on a tie), in the article's order; "" if not even one unit fits."""
    units = _units(block)
    limit = MAX_ITEMS if block.kind != "paragraph" else len(units)
    whole = _lay_out(block, units, list(range(min(limit, len(units)))))
    if len(units) <= limit and len(whole) <= budget:
        return whole
    ranked = sorted(range(len(units)), key=lambda i: (-len(query & stems(units[i])), i))
    chosen: list[int] = []
    text = ""
    for position in ranked[:limit]:
        trial = sorted([*chosen, position])
        candidate = _lay_out(block, units, trial)
        if len(candidate) <= budget:
            chosen, text = trial, candidate
    if not text and block.kind == "paragraph" and budget >= MIN_CUT:  # one long sentence: cut at a word
        return units[ranked[0]][: budget - 1].rsplit(" ", 1)[0] + "…"
    return text


def render(section: Section, question: str = "", limit: int = ANSWER_LIMIT) -> str:
    """The section as plain text within `limit` characters: its heading on the first line, then its blocks, a list
    as "• item" lines, a table as one line per row. A section too long for that keeps the blocks that share most
    words with the question, in their order."""
    query = stems(question)
    head = f"{section.heading}\n" if section.heading else ""
    budget = limit - len(head)
    whole = [_fit(block, query, budget) for block in section.blocks]
    if sum(len(text) + 1 for text in whole) - 1 <= budget and all(whole):
        return head + "\n".join(whole)
    # Too long: blocks by how many question words they share (the first block wins a tie), each fitted to what
    # is left of the budget, shown in the article's order.
    ranked = sorted(
        range(len(section.blocks)),
        key=lambda i: (-len(query & stems(" ".join(section.blocks[i].lines))), i),
    )
    kept: dict[int, str] = {}
    left = budget
    for position in ranked:
        text = _fit(section.blocks[position], query, left - (1 if kept else 0))
        if text:
            kept[position] = text
            left -= len(text) + (1 if len(kept) > 1 else 0)
    return head + "\n".join(kept[i] for i in sorted(kept))


def comparable(text: str) -> str:
    """Text as fact checks compare it: lower case, one space between words, typographic quotes straightened,
    and no comma inside a number, so "$1,250" and "$1250" are the same fact (a comma after a number stays)."""
    text = text.lower().replace("’", "'").replace("‘", "'").replace("“", '"').replace("”", '"')
    return re.sub(r"(?<=\d),(?=\d{3}\b)", "", " ".join(text.split()))


def holds(text: str, facts: list[str]) -> bool:
    """Whether `text` states every fact, word for word once compared as `comparable` does."""
    found = comparable(text)
    return all(comparable(fact) in found for fact in facts)


# What kind of fact a question asks for, and which kinds a section states: "how much" wants an amount, and the
# section with "$30" in it is likelier to answer than the one that only says "licence". (question words, facts)
MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
DAYS = "Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday"
UNITS = r"minutes?|hours?|days?|weeks?|months?|years?"
NUMBER = r"\d+|one|two|three|four|five|six|seven|eight|nine|ten|twelve"
FACT_KINDS: dict[str, tuple[re.Pattern[str], re.Pattern[str]]] = {
    "amount": (
        re.compile(r"\b(how much|cost|costs|fee|fees|price|fine|fines|charge|penalty|cheaper|subsidy|pay toward)\b"),
        re.compile(r"\$\s?\d|\b\d+(\.\d+)?\s?%|\bfree\b", re.IGNORECASE),
    ),
    "duration": (
        re.compile(rf"\bhow (long|soon|quickly|fast|many ({UNITS}))\b|\bwithin\b"),
        re.compile(rf"\b({NUMBER})\s(to \d+\s)?(business |calendar |full )?({UNITS})\b"),
    ),
    "clock": (
        re.compile(r"\b(what time|hours|open|opens|close|closes|quiet|by when)\b"),
        re.compile(r"\b\d{1,2}:\d{2}\s?[ap]\.m\.|\bnoon\b|\bmidnight\b|\b24/7\b"),
    ),
    "date": (
        re.compile(r"\b(when|what day|which day|which days|deadline|date|due)\b"),
        re.compile(rf"\b({MONTHS}) \d|\b({DAYS})\b"),
    ),
    "place": (
        re.compile(r"\b(where|address|location|locations)\b"),
        re.compile(r"\b\d+ [A-Z][a-z]+ (Street|Drive|Road|Avenue|Square|Sideroad|Lane)\b|\b\w+\.ca\b"),
    ),
    "phone": (
        re.compile(r"\b(call|phone|number|who do i|contact)\b"),
        re.compile(r"\b\d{3}-\d{3}-\d{4}\b|\b(311|911|211)\b"),
    ),
    "measure": (
        re.compile(r"\b(how (much|tall|high|big|heavy|deep|far|cold|warm|hot)|temperature|weight|size|level)\b"),
        re.compile(r"\d\s?(cm|centimetres?|metres?|m²|kg|kilograms?|litres?|°C|mL)\b|\b\d+ (grains|per)\b"),
    ),
    "age": (
        re.compile(r"\b(what age|how old|age|ages)\b"),
        re.compile(r"\b(under|over|aged?) \d+\b|\b\d+ (and|or) (older|over|under|younger)\b|\b\d+\+"),
    ),
}


def asked_kinds(question: str) -> set[str]:
    text = question.lower()
    return {kind for kind, (asks, _) in FACT_KINDS.items() if asks.search(text)}


def stated_kinds(text: str) -> set[str]:
    return {kind for kind, (_, states) in FACT_KINDS.items() if states.search(text)}
