"""Health of each component of a running civicdesk: database, Rasa, action server, email ingester."""

from __future__ import annotations

import asyncio
from dataclasses import asdict, dataclass
from datetime import timedelta

import httpx
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from civicdesk.db import utcnow
from civicdesk.migrate import current_revision, head_revision
from civicdesk.models import ComponentHeartbeat
from civicdesk.settings import Settings

INGESTER = "ingester"
HTTP_TIMEOUT_SECONDS = 2.0


@dataclass(frozen=True)
class ComponentHealth:
    state: str  # "ok", or what is wrong: "down", "stale", "behind"
    detail: str

    @property
    def ok(self) -> bool:
        return self.state == "ok"


def check_database(factory: sessionmaker[Session]) -> ComponentHealth:
    try:
        with factory() as session:
            session.execute(text("SELECT 1"))
            revision = current_revision(session.get_bind())  # type: ignore[arg-type]
    except Exception as error:  # any driver error means the database is unusable
        return ComponentHealth("down", f"{type(error).__name__}: {error}".splitlines()[0])
    head = head_revision()
    if revision != head:
        return ComponentHealth("behind", f"schema at {revision}, code expects {head}: run `civicdesk db upgrade`")
    return ComponentHealth("ok", f"schema {revision}")


def ingester_component(mailbox: str) -> str:
    """The heartbeat of the ingester reading `mailbox` (the source's name): written by whichever ingester holds
    that mailbox's lease, so a standby never hides the reader's trouble."""
    return f"{INGESTER}:{mailbox}"


def check_ingester(factory: sessionmaker[Session], poll_seconds: float) -> ComponentHealth:
    """Every mailbox's reader: the first in trouble decides the state."""
    try:
        with factory() as session:
            beats = session.scalars(
                select(ComponentHeartbeat)
                .where(ComponentHeartbeat.component.startswith(f"{INGESTER}:"))
                .order_by(ComponentHeartbeat.component)
            ).all()
    except Exception as error:
        return ComponentHealth("down", f"cannot read heartbeat: {type(error).__name__}")
    if not beats:
        return ComponentHealth("down", "the ingester has not started")
    states = [_mailbox_state(beat, poll_seconds) for beat in beats]
    return next((state for state in states if not state.ok), ComponentHealth("ok", "; ".join(s.detail for s in states)))


def _mailbox_state(beat: ComponentHeartbeat, poll_seconds: float) -> ComponentHealth:
    mailbox = beat.component.removeprefix(f"{INGESTER}:")
    # Three missed polls (and at least a minute) before calling it stale: one slow batch is not an outage.
    age = utcnow() - beat.beat_at
    if age > timedelta(seconds=max(60.0, 3 * poll_seconds)):
        return ComponentHealth("stale", f"{mailbox}: last heartbeat {int(age.total_seconds())} s ago")
    return ComponentHealth(beat.state, beat.detail if beat.detail.startswith(mailbox) else f"{mailbox}: {beat.detail}")


async def check_http(client: httpx.AsyncClient, url: str) -> ComponentHealth:
    try:
        response = await client.get(url, timeout=HTTP_TIMEOUT_SECONDS)
    except httpx.HTTPError as error:
        return ComponentHealth("down", f"{url}: {type(error).__name__}")
    if response.status_code != 200:
        return ComponentHealth("down", f"{url}: HTTP {response.status_code}")
    return ComponentHealth("ok", response.text.strip()[:120])


async def check_all(settings: Settings, factory: sessionmaker[Session]) -> dict[str, ComponentHealth]:
    async with httpx.AsyncClient() as client:
        rasa, actions = await asyncio.gather(
            check_http(client, settings.rasa_url.rstrip("/") + "/"),
            check_http(client, settings.action_server_url.rstrip("/") + "/health"),
        )
    database, ingester = await asyncio.gather(
        asyncio.to_thread(check_database, factory),
        asyncio.to_thread(check_ingester, factory, settings.ingest_poll_seconds),
    )
    return {"database": database, "rasa": rasa, "action_server": actions, "ingester": ingester}


def report(components: dict[str, ComponentHealth]) -> dict[str, object]:
    healthy = all(c.ok for c in components.values())
    return {
        "status": "ok" if healthy else "degraded",
        "components": {name: asdict(c) for name, c in components.items()},
    }
