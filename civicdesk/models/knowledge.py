"""The knowledgebase: articles with their version history, and the questions it could not answer."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Date,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from civicdesk.db import utcnow
from civicdesk.models.base import Base

if TYPE_CHECKING:
    from civicdesk.models.catalogue import Department


class KbArticle(Base):
    """A knowledgebase article; every saved change also lands in `kb_article_version`."""

    __tablename__ = "kb_article"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(120), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"))
    tags: Mapped[list[Any]] = mapped_column(default=list)
    example_questions: Mapped[list[Any]] = mapped_column(default=list)
    synonyms: Mapped[list[Any]] = mapped_column(default=list)
    url: Mapped[str | None] = mapped_column(String(500))
    owner: Mapped[str | None] = mapped_column(String(200))
    review_date: Mapped[dt.date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), default="draft")
    language: Mapped[str] = mapped_column(String(8), default="en")
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(120), default="seed")

    department: Mapped[Department | None] = relationship()
    versions: Mapped[list[KbArticleVersion]] = relationship(
        back_populates="article", order_by="KbArticleVersion.version", cascade="all, delete-orphan"
    )


class KbArticleVersion(Base):
    __tablename__ = "kb_article_version"
    __table_args__ = (UniqueConstraint("article_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("kb_article.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20))
    saved_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    saved_by: Mapped[str] = mapped_column(String(120))

    article: Mapped[KbArticle] = relationship(back_populates="versions")


class KnowledgeGap(Base):
    """What residents asked that the assistant could not answer: input for new articles and training examples.

    `reason` is "unsure_search" (the knowledgebase had no confident answer), "not_understood" (the assistant did
    not understand the message at all) or "not_answered" (the resident said the article given, `top_slug`, did not
    answer the question). `query` is stored redacted (civicdesk.privacy)."""

    __tablename__ = "knowledge_gap"

    id: Mapped[int] = mapped_column(primary_key=True)
    query: Mapped[str] = mapped_column(Text)
    channel: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(String(20), default="unsure_search", server_default="unsure_search")
    top_slug: Mapped[str | None] = mapped_column(String(120))
    top_score: Mapped[float | None]
    asked_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
