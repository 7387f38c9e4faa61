"""Seed data loads into SQLite and PostgreSQL, re-loads as an update, and articles keep their history."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from civicdesk.catalogue import seed
from civicdesk.db import transaction
from civicdesk.knowledge import articles as kb
from civicdesk.models import AppointmentSlot, Department, KbArticle, Service
from civicdesk.seed_schema import SEED_DIR, SeedError

TODAY = dt.date(2026, 11, 23)


def count(session: Session, model: type) -> int:
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_seed_loads_everything_and_reloading_changes_nothing(session_factory: sessionmaker[Session]) -> None:
    with transaction(session_factory) as session:
        assert seed.is_empty(session)
        first = seed.load(session, today=TODAY)
    with transaction(session_factory) as session:
        second = seed.load(session, today=TODAY)
    assert first["services"] == 26 and first["articles"] >= 60 and first["new appointment slots"] > 0
    assert second["new appointment slots"] == 0
    with session_factory() as session:
        assert not seed.is_empty(session)
        assert count(session, Service) == 26
        assert count(session, AppointmentSlot) == first["new appointment slots"]
        assert session.scalar(select(func.max(KbArticle.version))) == 1
        road = session.scalar(select(Service).where(Service.code == "water_main_break"))
        assert road is not None and road.can_be_emergency and road.attributes
        assert road.department.queue_code


def test_slots_follow_the_schedule_in_toronto_time_and_skip_holidays() -> None:
    schedule = {"weekdays": ["mon"], "start": "09:00", "end": "10:00", "capacity": 2, "weeks_ahead": 2}
    # 2026-12-28 is the Monday Boxing Day is observed on.
    slots = seed.generate_slots(schedule, 30, dt.date(2026, 12, 21), closed=[dt.date(2026, 12, 28)])
    assert [start.isoformat() for start, _ in slots] == ["2026-12-21T14:00:00+00:00", "2026-12-21T14:30:00+00:00"]


def test_an_edited_seed_file_updates_the_article_with_a_new_version(
    tmp_path: Path, session_factory: sessionmaker[Session]
) -> None:
    edited = tmp_path / "seed"
    shutil.copytree(SEED_DIR, edited)
    article = sorted((edited / "kb").glob("*.md"))[0]
    article.write_text(article.read_text().rstrip() + "\n\nUpdated after the November review.\n")
    with transaction(session_factory) as session:
        seed.load(session, today=TODAY)
    with transaction(session_factory) as session:
        seed.load(session, edited, today=TODAY)
    with session_factory() as session:
        row = session.scalar(select(KbArticle).where(KbArticle.slug == article.stem))
        assert row is not None and row.version == 2
        assert [v.version for v in row.versions] == [1, 2]
        assert row.versions[-1].body.endswith("Updated after the November review.")


def test_kb_export_then_import_round_trips_and_records_edits(
    tmp_path: Path, session_factory: sessionmaker[Session]
) -> None:
    with transaction(session_factory) as session:
        seed.load(session, today=TODAY)
    with session_factory() as session:
        written = kb.export_articles(session, tmp_path / "export")
    with transaction(session_factory) as session:
        unchanged = kb.import_articles(session, tmp_path / "export", author="amira.haddad")
    assert (unchanged.created, unchanged.updated, unchanged.unchanged) == (0, 0, written)

    target = tmp_path / "export" / "garbage-collection-day.md"
    if not target.exists():
        target = sorted((tmp_path / "export").glob("*.md"))[0]
    target.write_text(target.read_text().replace("\n---\n", "\n---\n\nNew: collection moves a day later.\n", 1))
    with transaction(session_factory) as session:
        changed = kb.import_articles(session, tmp_path / "export", author="amira.haddad")
    assert (changed.updated, changed.unchanged) == (1, written - 1)
    with session_factory() as session:
        row = session.scalar(select(KbArticle).where(KbArticle.slug == target.stem))
        assert row is not None and row.updated_by == "amira.haddad" and row.version == 2


def test_a_bad_article_file_rejects_the_whole_import(tmp_path: Path, session_factory: sessionmaker[Session]) -> None:
    with transaction(session_factory) as session:
        seed.load(session, today=TODAY)
    export = tmp_path / "export"
    with session_factory() as session:
        kb.export_articles(session, export)
    good = sorted(export.glob("*.md"))[0]
    good.write_text(good.read_text().replace("\n---\n", "\n---\n\nChanged.\n", 1))
    (export / "broken.md").write_text("no front matter here\n")
    with pytest.raises(SeedError, match="broken.md"), transaction(session_factory) as session:
        kb.import_articles(session, export, author="x")
    with session_factory() as session:
        assert session.scalar(select(func.max(KbArticle.version))) == 1


def test_seed_cli_if_empty_loads_once(session_factory: sessionmaker[Session], settings: object) -> None:
    from typer.testing import CliRunner

    from civicdesk.cli import app
    from civicdesk.settings import get_settings

    env = {"CIVICDESK_DATABASE_URL": settings.sqlalchemy_url, "CIVICDESK_ENV": "development"}  # type: ignore[attr-defined]
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        first = runner.invoke(app, ["seed", "--if-empty"], env=env)
        second = runner.invoke(app, ["seed", "--if-empty"], env=env)
    finally:
        get_settings.cache_clear()
    assert first.exit_code == 0, first.output
    assert "26 services" in first.output
    assert second.exit_code == 0 and "already loaded" in second.output
    with session_factory() as session:
        assert count(session, Department) >= 15
