"""The schema: migrations build it on SQLite and PostgreSQL, and match the models."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from civicdesk import migrate
from civicdesk.db import make_engine, transaction
from civicdesk.models import Base, ComponentHeartbeat, InboundEmail


def test_migrations_reach_head_and_match_the_models(engine: Engine) -> None:
    assert migrate.current_revision(engine) == migrate.head_revision()
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == [], "models changed without a migration: run alembic revision --autogenerate"


def test_upgrade_twice_is_harmless(engine: Engine) -> None:
    migrate.upgrade(str(engine.url.render_as_string(hide_password=False)))
    assert migrate.current_revision(engine) == migrate.head_revision()


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'folder-made-on-demand' / 'c.db'}")
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_datetimes_come_back_aware_in_utc(session_factory: sessionmaker[Session]) -> None:
    toronto = timezone(timedelta(hours=-5))
    with transaction(session_factory) as session:
        session.add(ComponentHeartbeat(component="x", state="ok", beat_at=datetime(2026, 11, 23, 9, 0, tzinfo=toronto)))
    with session_factory() as session:
        beat = session.get(ComponentHeartbeat, "x")
        assert beat is not None
        assert beat.beat_at == datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
        assert beat.beat_at.tzinfo is not None


def test_naive_datetimes_are_refused(session_factory: sessionmaker[Session]) -> None:
    with pytest.raises(Exception, match="naive datetime"), transaction(session_factory) as session:
        session.add(ComponentHeartbeat(component="y", state="ok", beat_at=datetime(2026, 11, 23, 9, 0)))


def test_the_same_message_cannot_be_stored_twice(session_factory: sessionmaker[Session]) -> None:
    def row() -> InboundEmail:
        return InboundEmail(sha256="a" * 64, source="test", raw=b"x", size=1)

    with transaction(session_factory) as session:
        session.add(row())
    with pytest.raises(IntegrityError), transaction(session_factory) as session:
        session.add(row())
