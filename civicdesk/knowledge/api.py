"""Internal API (`/api/v1`) for the knowledgebase: the assistant's search, which records what it could not answer
as a knowledge gap for trainers, and the gaps the assistant reports itself (a message it did not understand)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Query, Request, status
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session, sessionmaker

from civicdesk import privacy
from civicdesk.db import transaction
from civicdesk.deps import SessionDep
from civicdesk.knowledge.search import KnowledgebaseSearch
from civicdesk.limits import LIMITS
from civicdesk.models import KnowledgeGap
from civicdesk.staff.deps import internal_router

router = internal_router("internal")


class KbHitOut(BaseModel):
    slug: str
    title: str
    summary: str = Field(description="The article's opening lines.")
    url: str | None
    score: float
    answer: str = Field(
        description="The article's section that best answers the question, as plain text for a chat bubble "
        "(at most 600 characters; lists as '• item' lines, table rows as lines), in the article's own words."
    )
    section: str | None = Field(description="That section's heading path ('A › B'); null for the intro.")


class KbSearchOut(BaseModel):
    query: str
    confident: bool
    results: list[KbHitOut]


Channel = Literal["chat", "email", "phone", "web", "console"]
# Why a question is a gap (labels.GAP_REASONS words them): no confident article, a message not understood, or an
# answer the resident said did not answer the question.
GapReason = Literal["unsure_search", "not_understood", "not_answered"]


class GapIn(BaseModel):
    query: str = Field(min_length=1, max_length=LIMITS["search_query"], description="What the resident wrote.")
    channel: Channel = "chat"
    reason: GapReason = Field("not_understood", description="Why the assistant had no answer.")
    article: str | None = Field(
        None, min_length=1, max_length=120, description="Slug of the article given as the answer (not_answered)."
    )


def record_gap(
    factory: sessionmaker[Session],
    query: str,
    channel: str,
    reason: str,
    top_slug: str | None = None,
    top_score: float | None = None,
) -> None:
    """One knowledge gap, in its own transaction, with the resident's personal information redacted first."""
    with transaction(factory) as writer:
        writer.add(
            KnowledgeGap(
                query=privacy.redact(query),
                channel=channel,
                reason=reason,
                top_slug=top_slug,
                top_score=top_score,
            )
        )


@router.get("/kb/search")
def search_knowledgebase(
    request: Request,
    session: SessionDep,
    q: Annotated[str, Query(min_length=1, max_length=LIMITS["search_query"], description="The resident's question.")],
    channel: Annotated[Channel, Query(description="Where the question came from.")] = "chat",
    limit: Annotated[int, Query(ge=1, le=10)] = 3,
) -> KbSearchOut:
    """Published articles best first, with a 0..1 score; an unconfident search is logged as a knowledge gap."""
    searcher: KnowledgebaseSearch = request.app.state.kb_search
    result = searcher.search(session, q, limit)
    if not result.confident:
        top = result.hits[0] if result.hits else None
        record_gap(
            request.app.state.session_factory,
            q,
            channel,
            "unsure_search",
            top.slug if top else None,
            top.score if top else None,
        )
    return KbSearchOut(
        query=q,
        confident=result.confident,
        results=[
            KbHitOut(
                slug=h.slug,
                title=h.title,
                summary=h.summary,
                url=h.url,
                score=h.score,
                answer=h.answer,
                section=h.section,
            )
            for h in result.hits
        ],
    )


@router.post("/kb/gaps", status_code=status.HTTP_201_CREATED)
def report_gap(request: Request, gap: GapIn) -> dict[str, str]:
    """A message the assistant could not answer (not understood, or its answer did not help): a knowledge gap."""
    record_gap(request.app.state.session_factory, gap.query, gap.channel, gap.reason, gap.article)
    return {"status": "recorded"}
