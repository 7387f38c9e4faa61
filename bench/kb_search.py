"""Knowledgebase search: ranking quality, answer passages, and latency on this machine.

    .venv/bin/python bench/kb_search.py [--repeat 20] [--misses] [--tune]

Loads the seed articles into a scratch SQLite database and prints
- development-set figures (each article's first example question held out of the index and asked), on which
  the ranking weights and thresholds in civicdesk/knowledge/search.py were chosen;
- evaluation figures on tests/app/data/kb_questions.yaml (written apart from the example questions);
- answer-passage figures: the share of fact questions whose top hit's `answer` states every fact (compared by
  `passages.holds`: case, spacing and digit-group commas ignored), article top-1, and how often the chosen section
  is the one the question names, on the development set tests/app/data/kb_fact_dev.yaml (on which the section
  weights were chosen) and on the blind set nlu_data/eval/kb_facts.jsonl (aggregates only: its questions are never
  printed, and nothing is tuned on it);
- search latency through KnowledgebaseSearch (database signature check, ranking, section choice and rendering of
  the top 3 hits): median and p95 in ms.

--misses lists the development fact questions whose answer misses a fact; --tune searches the section weights on
the development fact set and prints the best few (the blind set takes no part).
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from civicdesk import migrate
from civicdesk.catalogue import seed
from civicdesk.db import make_engine, make_session_factory, transaction
from civicdesk.knowledge import search as kb_search
from civicdesk.knowledge.passages import holds, render
from civicdesk.knowledge.search import Hit, KnowledgebaseSearch, SearchResult, _Index, choose_section
from civicdesk.models import KbArticle

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = ROOT / "tests" / "app" / "data" / "kb_questions.yaml"
FACT_DEV = ROOT / "tests" / "app" / "data" / "kb_fact_dev.yaml"
FACT_BLIND = ROOT / "nlu_data" / "eval" / "kb_facts.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=20, help="searches per evaluation question for latency")
    parser.add_argument("--misses", action="store_true", help="list the development fact questions missed")
    parser.add_argument("--tune", action="store_true", help="search the section weights on the development facts")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        url = f"sqlite:///{scratch}/bench.db"
        migrate.upgrade(url)
        factory = make_session_factory(make_engine(url))
        with transaction(factory) as session:
            seed.load(session)
        with factory() as session:
            articles = list(session.scalars(select(KbArticle).where(KbArticle.status == "published")))
            for article in articles:
                session.expunge(article)
        held_out = [(a.example_questions[0], a.slug) for a in articles]
        for article in articles:
            article.example_questions = article.example_questions[1:]
        dev_index = _Index(articles)
        report("development (held-out example questions)", [(q, s, dev_index.search(q, 3)) for q, s in held_out])

        search = KnowledgebaseSearch()
        questions = yaml.safe_load(QUESTIONS.read_text())
        facts_dev: list[dict[str, Any]] = yaml.safe_load(FACT_DEV.read_text())
        timings: list[float] = []
        results = []
        with factory() as session:
            search.search(session, "warm-up")  # builds the index once
            if args.tune:
                tune(search, session, facts_dev)
                return
            for entry in questions:
                for _ in range(args.repeat):
                    started = time.perf_counter()
                    result = search.search(session, entry["question"], limit=3)
                    timings.append((time.perf_counter() - started) * 1000)
                results.append((entry["question"], entry["slug"], result.hits))
            report("evaluation (tests/app/data/kb_questions.yaml)", results)
            dev_rows = answers(search, session, facts_dev, timings)
            report_facts(f"answers, development ({FACT_DEV.relative_to(ROOT)})", dev_rows)
            if FACT_BLIND.exists():
                blind = [json.loads(line) for line in FACT_BLIND.read_text().splitlines() if line.strip()]
                report_facts(
                    f"answers, blind ({FACT_BLIND.relative_to(ROOT)})", answers(search, session, blind, timings)
                )
            else:
                print(f"answers, blind: {FACT_BLIND.relative_to(ROOT)} not found")
        timings.sort()
        p95 = timings[int(0.95 * (len(timings) - 1))]
        print(f"latency over {len(timings)} searches: median {statistics.median(timings):.2f} ms, p95 {p95:.2f} ms")
        if args.misses:
            for entry, hit in dev_rows:
                if not (hit and holds(hit.answer, entry["fact"])):
                    got = f"{hit.slug} / {hit.section}: {hit.answer!r}" if hit else "no hit"
                    print(
                        f"- {entry['question']!r} wants {entry['article']} / {entry['section']} {entry['fact']}"
                        f"\n  got {got}"
                    )


def report(name: str, rows: list) -> None:  # type: ignore[type-arg]
    n = len(rows)
    top1 = sum(bool(hits) and hits[0].slug == slug for _, slug, hits in rows)
    top3 = sum(slug in [h.slug for h in hits] for _, slug, hits in rows)
    confident = [hits[0].slug == slug for query, slug, hits in rows if SearchResult(query, hits).confident]
    precision = sum(confident) / len(confident) if confident else 0.0
    print(
        f"{name}: {n} questions, top-1 {top1 / n:.3f}, top-3 {top3 / n:.3f}, "
        f"answered confidently {len(confident) / n:.2f} with precision {precision:.3f}"
    )


def answers(
    search: KnowledgebaseSearch,
    session: Session,
    entries: list[dict[str, Any]],
    timings: list[float] | None = None,
    limit: int = 3,
) -> list[tuple[dict[str, Any], Hit | None]]:
    """Each fact question with its top hit (timed when `timings` is given)."""
    rows = []
    for entry in entries:
        started = time.perf_counter()
        hits = search.search(session, entry["question"], limit=limit).hits
        if timings is not None:
            timings.append((time.perf_counter() - started) * 1000)
        rows.append((entry, hits[0] if hits else None))
    return rows


def report_facts(name: str, rows: list[tuple[dict[str, Any], Hit | None]]) -> None:
    n = len(rows)
    held = sum(bool(hit) and holds(hit.answer, entry["fact"]) for entry, hit in rows)
    right = [(entry, hit) for entry, hit in rows if hit and hit.slug == entry["article"]]
    held_right = sum(holds(hit.answer, entry["fact"]) for entry, hit in right if hit)
    section = sum(bool(hit) and hit.section == entry.get("section") for entry, hit in right)
    longest = max((len(hit.answer) for _, hit in rows if hit), default=0)
    print(
        f"{name}: {n} questions, top answer holds the facts {held / n:.3f}, article top-1 {len(right) / n:.3f}; "
        f"when the article is right: facts {held_right / max(len(right), 1):.3f}, "
        f"named section chosen {section / max(len(right), 1):.3f}; longest answer {longest} characters"
    )


def tune(search: KnowledgebaseSearch, session: Session, entries: list[dict[str, Any]]) -> None:
    """Grid over the section weights on the development facts; the best few, ties broken by smaller weights.
    Each question's top article, section features and rendered sections are computed once; only the choice of
    section changes with the weights (the article ranking does not depend on them)."""
    index = search._current(session)
    assert index is not None
    position = {hit.slug: n for n, hit in enumerate(index.hits)}
    cases = []  # (features, whether each section's rendering holds the facts)
    for entry in entries:
        hits = index.search(entry["question"], 1)
        if not hits:
            cases.append((None, []))
            continue
        article = position[hits[0].slug]
        match = index.match(entry["question"])
        features = index.section_features(article, match)
        sections = [index.sections[row] for row in index.section_spans[article]]
        cases.append((features, [holds(render(section, match.expanded), entry["fact"]) for section in sections]))
    grid = {
        "HEADING_WEIGHT": (0.0, 0.1, 0.25, 0.5, 1.0),
        "TEXT_WEIGHT": (0.25, 0.5, 0.75, 1.0),
        "KIND_WEIGHT": (0.0, 0.1, 0.2, 0.3, 0.5, 0.75),
        "WORDS_WEIGHT": (0.0, 0.1, 0.25, 0.5, 1.0),
        "INTRO_BONUS": (-0.1, -0.05, 0.0, 0.05),
    }
    scored = []
    for values in itertools.product(*grid.values()):
        for name, value in zip(grid, values, strict=True):
            setattr(kb_search, name, value)
        held = sum(bool(features is not None and held[choose_section(features)]) for features, held in cases)
        scored.append((held / len(cases), values))
    scored.sort(key=lambda item: (-item[0], sum(abs(v) for v in item[1])))
    for share, values in scored[:10]:
        print(f"facts {share:.3f}: " + ", ".join(f"{n} {v}" for n, v in zip(grid, values, strict=True)))


if __name__ == "__main__":
    main()
