"""Internal API (`/api/v1`) for the knowledgebase: the assistant's search, which records what it could not answer
as a knowledge gap for trainers."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Query, Request
from pydantic import BaseModel

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
    summary: str
    url: str | None
    score: float


class KbSearchOut(BaseModel):
    query: str
    confident: bool
    results: list[KbHitOut]


Channel = Literal["chat", "email", "phone", "web", "console"]


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
        with transaction(request.app.state.session_factory) as writer:
            writer.add(
                KnowledgeGap(
                    query=q,
                    channel=channel,
                    top_slug=top.slug if top else None,
                    top_score=top.score if top else None,
                )
            )
    return KbSearchOut(
        query=q,
        confident=result.confident,
        results=[
            KbHitOut(slug=h.slug, title=h.title, summary=h.summary, url=h.url, score=h.score) for h in result.hits
        ],
    )
