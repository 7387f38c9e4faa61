"""The agents' work queue: everything waiting for a person, from every source (`work.sources`), in one order:
most urgent first, then longest waiting, each with its due time and service-level state.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import asdict, replace
from typing import Any

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from civicdesk import labels
from civicdesk.chat import service as chat
from civicdesk.db import utcnow
from civicdesk.models import Conversation
from civicdesk.work import service_levels
from civicdesk.work.sources import SOURCES, QueueItem, last_resident_words

URGENCY_ORDER = {urgency: rank for rank, urgency in enumerate(chat.URGENCIES)}


def item_json(item: QueueItem, now: dt.datetime) -> dict[str, Any]:
    data = asdict(item)
    data["waiting_since"] = item.waiting_since.isoformat()
    data["waiting_seconds"] = max(0, int((now - item.waiting_since).total_seconds()))
    data["due_at"] = item.due_at.isoformat() if item.due_at else None
    data["service_level"] = service_levels.state(item.waiting_since, item.due_at, now)
    return data


def work_queue(session: Session) -> list[QueueItem]:
    calendar = service_levels.Calendar.load(session)
    items = [
        replace(item, due_at=calendar.due(item.kind, item.urgency, item.waiting_since))
        for source in SOURCES
        for item in source.items(session)
    ]
    return sorted(items, key=lambda i: (URGENCY_ORDER.get(i.urgency, len(URGENCY_ORDER)), i.waiting_since, i.key))


def held_by(session: Session, agent: str) -> list[Conversation]:
    """The conversations this agent is answering now."""
    return list(
        session.scalars(
            select(Conversation)
            .where(Conversation.owner == "agent", Conversation.agent == agent)
            .order_by(Conversation.updated_at.desc())
        )
    )


def queue_json(session: Session, agent: str) -> dict[str, Any]:
    now = utcnow()
    return {
        "items": [item_json(item, now) for item in work_queue(session)],
        "mine": [
            {
                "key": str(c.id),
                "title": (labels.summary(c.summary) or last_resident_words(session, c.id))[:300],
                "url": f"/console/chats/{c.id}",
            }
            for c in held_by(session, agent)
        ],
    }


class QueueMetrics(Collector):
    """The work queue's depth and longest wait per channel, for `/metrics`: read from the database at each scrape."""

    def __init__(self, factory: sessionmaker[Session]) -> None:
        self.factory = factory

    def collect(self) -> Iterator[GaugeMetricFamily]:
        depth = GaugeMetricFamily("civicdesk_queue_depth", "Items waiting for an agent, by channel", labels=["channel"])
        wait = GaugeMetricFamily(
            "civicdesk_queue_longest_wait_seconds", "Longest time an item has waited, by channel", labels=["channel"]
        )
        now = utcnow()
        with self.factory() as session:
            for source in SOURCES:
                items = source.items(session)
                oldest = min((item.waiting_since for item in items), default=now)
                depth.add_metric([source.kind], len(items))
                wait.add_metric([source.kind], max(0.0, (now - oldest).total_seconds()))
        yield depth
        yield wait
