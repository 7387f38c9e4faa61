"""Knowledgebase search: ranking quality and latency on this machine.

    .venv/bin/python bench/kb_search.py [--repeat 20]

Loads the seed articles into a scratch SQLite database and prints
- development-set figures (each article's first example question held out of the index and asked), on which
  the weights and thresholds in civicdesk/knowledge/search.py were chosen;
- evaluation figures on tests/app/data/kb_questions.yaml (written apart from the example questions);
- search latency through KnowledgebaseSearch (database signature check + ranking): median and p95 in ms.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import yaml
from sqlalchemy import select

from civicdesk import migrate
from civicdesk.catalogue import seed
from civicdesk.db import make_engine, make_session_factory, transaction
from civicdesk.knowledge.search import KnowledgebaseSearch, SearchResult, _Index
from civicdesk.models import KbArticle

QUESTIONS = Path(__file__).resolve().parent.parent / "tests" / "app" / "data" / "kb_questions.yaml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=20, help="searches per evaluation question for latency")
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
        timings: list[float] = []
        results = []
        with factory() as session:
            search.search(session, "warm-up")  # builds the index once
            for entry in questions:
                for _ in range(args.repeat):
                    started = time.perf_counter()
                    result = search.search(session, entry["question"], limit=3)
                    timings.append((time.perf_counter() - started) * 1000)
                results.append((entry["question"], entry["slug"], result.hits))
        report("evaluation (tests/app/data/kb_questions.yaml)", results)
        timings.sort()
        p95 = timings[int(0.95 * (len(timings) - 1))]
        print(f"latency over {len(timings)} searches: median {statistics.median(timings):.2f} ms, p95 {p95:.2f} ms")


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


if __name__ == "__main__":
    main()
