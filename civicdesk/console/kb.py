"""The knowledgebase editor: list, edit, save a draft or publish, and each article's version history.

Articles are checked by the same schema as the seed files (`seed_schema.Article`), and saved through
`knowledge.articles.upsert_article`, which keeps every change as a version; the assistant's search picks up
published changes on its next query. The knowledge-gap list (questions the assistant could not answer) links here.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from anyio import to_thread
from fastapi import APIRouter, Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from civicdesk import labels, validation
from civicdesk.console.deps import GapStaff, KbStaff, Staff
from civicdesk.console.templating import render
from civicdesk.db import transaction
from civicdesk.errors import UserError
from civicdesk.knowledge import articles as kb
from civicdesk.models import Department, KbArticle, KbArticleVersion, KnowledgeGap
from civicdesk.seed_schema import ARTICLE_MAX_WORDS, ARTICLE_MIN_WORDS, Article, count_words
from civicdesk.staff import audit

router = APIRouter(prefix="/console")
Field_ = Annotated[validation.ArticleLine, Form()]
LongField = Annotated[validation.ArticleText, Form()]
GAP_DAYS = (7, 30, 90)


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _synonyms_text(synonyms: list[Any]) -> str:
    return "\n".join(f"{s['term']}: {', '.join(s['words'])}" for s in synonyms if isinstance(s, dict))


def _synonyms(text: str) -> list[dict[str, Any]]:
    found = []
    for line in _lines(text):
        term, _, words = line.partition(":")
        found.append({"term": term.strip(), "words": [w.strip() for w in words.split(",") if w.strip()]})
    return found


def _form_of(row: KbArticle | None, department_code: str | None) -> dict[str, Any]:
    if row is None:
        return {
            "slug": "", "title": "", "department": "service_first", "tags": "", "example_questions": "",
            "synonyms": "", "url": "https://www.northvale.ca/", "owner": "Service First Knowledge Team",
            "review_date": (dt.date.today() + dt.timedelta(days=365)).isoformat(), "language": "en", "body": "",
        }  # fmt: skip
    return {
        "slug": row.slug,
        "title": row.title,
        "department": department_code or "service_first",
        "tags": ", ".join(row.tags),
        "example_questions": "\n".join(row.example_questions),
        "synonyms": _synonyms_text(row.synonyms),
        "url": row.url or "",
        "owner": row.owner or "",
        "review_date": row.review_date.isoformat() if row.review_date else "",
        "language": row.language,
        "body": row.body,
    }


def _departments(session: Session) -> list[Department]:
    return list(session.scalars(select(Department).order_by(Department.name)))


@router.get("/kb", response_class=HTMLResponse)
async def article_list(request: Request, staff: KbStaff, q: str = "") -> Response:
    def load() -> list[KbArticle]:
        with request.app.state.session_factory() as session:
            query = select(KbArticle).order_by(KbArticle.title)
            if q.strip():
                query = query.where(KbArticle.title.ilike(f"%{q.strip()[:100]}%"))
            return list(session.scalars(query))

    articles = await to_thread.run_sync(load)
    return render(request, "console/kb_list.html", {"staff": staff, "articles": articles, "q": q})


async def _editor(
    request: Request,
    staff: Staff,
    slug: str | None,
    form: dict[str, Any] | None = None,
    errors: list[str] | None = None,
    code: int = 200,
) -> Response:
    def load() -> dict[str, Any]:
        with request.app.state.session_factory() as session:
            row = session.scalar(select(KbArticle).where(KbArticle.slug == slug)) if slug else None
            if slug and row is None:
                raise HTTPException(status.HTTP_404_NOT_FOUND, "no such article")
            department = row.department.code if row and row.department else None
            return {"article": row, "form": form or _form_of(row, department), "departments": _departments(session)}

    context = await to_thread.run_sync(load)
    words = count_words(context["form"]["body"])
    return render(
        request,
        "console/kb_edit.html",
        {
            "staff": staff,
            "errors": errors or [],
            "words": words,
            "min_words": ARTICLE_MIN_WORDS,
            "max_words": ARTICLE_MAX_WORDS,
            **context,
        },
        status_code=code,
    )


@router.get("/kb/new", response_class=HTMLResponse)
async def new_article(request: Request, staff: KbStaff, question: str = "") -> Response:
    form = _form_of(None, None)
    form["example_questions"] = question.strip()[:500]
    return await _editor(request, staff, None, form)


@router.get("/kb/{slug}", response_class=HTMLResponse)
async def edit_article(request: Request, staff: KbStaff, slug: str) -> Response:
    return await _editor(request, staff, slug)


def _describe(error: ValidationError) -> list[str]:
    return [f"{'.'.join(str(p) for p in item['loc']) or 'article'}: {item['msg']}" for item in error.errors()]


@router.post("/kb/save")
async def save_article(
    request: Request,
    staff: KbStaff,
    action: Annotated[str, Form(pattern="^(draft|publish)$")],
    slug: Field_,
    title: Field_,
    department: Field_,
    tags: Field_,
    example_questions: LongField,
    url: Field_,
    owner: Field_,
    review_date: Field_,
    body: LongField,
    synonyms: LongField = "",
    language: Field_ = "en",
    existing: Field_ = "",
) -> Response:
    """Save the form as a new version: a draft (not shown to residents) or published."""
    form = {
        "slug": slug.strip(), "title": title, "department": department, "tags": tags,
        "example_questions": example_questions, "synonyms": synonyms, "url": url.strip(), "owner": owner,
        "review_date": review_date, "language": language, "body": body.replace("\r\n", "\n"),
    }  # fmt: skip
    try:
        article = Article(
            slug=form["slug"],
            title=title,
            department=department,
            tags=[t.strip() for t in tags.split(",") if t.strip()],
            example_questions=_lines(example_questions),
            synonyms=_synonyms(synonyms),
            url=form["url"],
            owner=owner,
            review_date=review_date,
            status="published" if action == "publish" else "draft",
            language=language,
            body=form["body"],
        )
    except ValidationError as error:
        return await _editor(request, staff, existing or None, form, _describe(error), 422)

    def run() -> str:
        with transaction(request.app.state.session_factory) as session:
            is_new = session.scalar(select(KbArticle.id).where(KbArticle.slug == article.slug)) is None
            if is_new and existing:
                raise UserError("the address (slug) of an existing article cannot be changed")
            if not is_new and not existing:
                raise UserError(f"an article with the address {article.slug!r} already exists")
            outcome = kb.upsert_article(session, article, staff.email)
            version = session.scalar(select(KbArticle.version).where(KbArticle.slug == article.slug))
            audit.record(
                session,
                staff.email,
                f"kb.{action}",
                "kb_article",
                article.slug,
                {"outcome": outcome, "version": version},
            )
            return outcome

    try:
        await to_thread.run_sync(run)
    except UserError as error:
        return await _editor(request, staff, existing or None, form, [str(error)], 422)
    return RedirectResponse(f"/console/kb/{article.slug}/history", status.HTTP_303_SEE_OTHER)


@router.get("/kb/{slug}/history", response_class=HTMLResponse)
async def history(request: Request, staff: KbStaff, slug: str, version: int | None = None) -> Response:
    def page() -> Response:
        with request.app.state.session_factory() as session:
            row = session.scalar(select(KbArticle).where(KbArticle.slug == slug))
            if row is None:
                raise HTTPException(status.HTTP_404_NOT_FOUND, "no such article")
            versions = list(reversed(row.versions))
            shown: KbArticleVersion | None = next((v for v in versions if v.version == version), None)
            context = {"article": row, "versions": versions, "shown": shown or (versions[0] if versions else None)}
            return render(request, "console/kb_history.html", {"staff": staff, **context})

    return await to_thread.run_sync(page)


@router.get("/gaps", response_class=HTMLResponse)
async def knowledge_gaps(request: Request, staff: GapStaff, days: int = 30) -> Response:
    """Questions the assistant could not answer with confidence or did not understand, grouped, most asked first."""
    days = days if days in GAP_DAYS else 30

    def load() -> list[Any]:
        since = dt.datetime.now(dt.UTC) - dt.timedelta(days=days)
        question = func.lower(func.trim(KnowledgeGap.query))
        with request.app.state.session_factory() as session:
            return list(
                session.execute(
                    select(
                        func.min(KnowledgeGap.query).label("query"),
                        func.count().label("asked"),
                        func.max(KnowledgeGap.asked_at).label("last_asked"),
                        func.max(KnowledgeGap.top_slug).label("top_slug"),
                        func.max(KnowledgeGap.top_score).label("top_score"),
                        # one flag per reason (a question may be a gap for several); CASE, not max(boolean),
                        # which PostgreSQL does not have
                        *(
                            func.max(case((KnowledgeGap.reason == reason, 1), else_=0)).label(reason)
                            for reason in labels.GAP_REASONS
                        ),
                    )
                    .where(KnowledgeGap.asked_at >= since)
                    .group_by(question)
                    .order_by(func.count().desc(), func.max(KnowledgeGap.asked_at).desc())
                    .limit(200)
                )
            )

    gaps = await to_thread.run_sync(load)
    return render(request, "console/gaps.html", {"staff": staff, "gaps": gaps, "days": days, "choices": GAP_DAYS})
