"""Knowledgebase articles: create or update with version history, and Markdown import/export.

The Markdown form (YAML front matter + body) is the one of `seed_data/kb/`, so staff can export the live
articles, edit them in bulk, and import them back; `seed_schema.Article` validates both directions.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from civicdesk.db import utcnow
from civicdesk.errors import UserError
from civicdesk.models import Department, KbArticle, KbArticleVersion
from civicdesk.seed_schema import Article, load_articles

Outcome = Literal["created", "updated", "unchanged"]


def _fields(article: Article, department: Department) -> dict[str, Any]:
    return {
        "title": article.title,
        "body": article.body,
        "department_id": department.id,
        "tags": list(article.tags),
        "example_questions": list(article.example_questions),
        "synonyms": [synonym.model_dump() for synonym in article.synonyms],
        "url": article.url,
        "owner": article.owner,
        "review_date": article.review_date,
        "status": article.status,
        "language": article.language,
    }


def upsert_article(session: Session, article: Article, author: str) -> Outcome:
    """Create or update one article; every change is kept as a new version, saying who made it."""
    department = session.scalar(select(Department).where(Department.code == article.department))
    if department is None:
        raise UserError(f"article {article.slug!r} names unknown department {article.department!r}")
    fields = _fields(article, department)
    row = session.scalar(select(KbArticle).where(KbArticle.slug == article.slug))
    if row is None:
        row = KbArticle(slug=article.slug, version=1, **fields)
        outcome: Outcome = "created"
        session.add(row)
    elif all(getattr(row, name) == value for name, value in fields.items()):
        return "unchanged"
    else:
        for name, value in fields.items():
            setattr(row, name, value)
        row.version += 1
        outcome = "updated"
    row.updated_at, row.updated_by = utcnow(), author
    row.versions.append(
        KbArticleVersion(version=row.version, title=row.title, body=row.body, status=row.status, saved_by=author)
    )
    session.flush()
    return outcome


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0


def import_articles(session: Session, directory: Path, author: str) -> ImportResult:
    """Validate every file first, so one bad file changes nothing; then upsert them all."""
    articles = load_articles(directory)
    result = ImportResult()
    for article in articles:
        outcome = upsert_article(session, article, author)
        setattr(result, outcome, getattr(result, outcome) + 1)
    return result


def to_markdown(row: KbArticle) -> str:
    front = {
        "slug": row.slug,
        "title": row.title,
        "department": row.department.code if row.department else None,
        "tags": row.tags,
        "example_questions": row.example_questions,
        "synonyms": row.synonyms,
        "url": row.url,
        "owner": row.owner,
        "review_date": row.review_date,
        "status": row.status,
        "language": row.language,
    }
    header = yaml.safe_dump(front, sort_keys=False, allow_unicode=True, width=110)
    return f"---\n{header}---\n\n{row.body.strip()}\n"


def export_articles(session: Session, directory: Path) -> int:
    directory.mkdir(parents=True, exist_ok=True)
    rows = session.scalars(select(KbArticle).options(selectinload(KbArticle.department)).order_by(KbArticle.slug))
    written = 0
    for row in rows:
        (directory / f"{row.slug}.md").write_text(to_markdown(row), encoding="utf-8")
        written += 1
    return written
