"""Fixtures of the app-environment tests: settings, and databases on both SQLite and a real PostgreSQL.

The PostgreSQL cluster is a throwaway one made with the Debian binaries (initdb, pg_ctl) on loopback, once per
test session; each test gets a database of its own. As root, the cluster runs as the `postgres` user, because
PostgreSQL refuses to run as root.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from dovecot import Dovecot, Mailbox
from helpers import SEED_TODAY, make_settings
from pgcluster import PostgresCluster
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

from civicdesk import migrate
from civicdesk.catalogue import seed
from civicdesk.db import make_engine, make_session_factory, transaction
from civicdesk.settings import PROJECT_ROOT, Settings


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of the server (no database name) of a throwaway cluster on 127.0.0.1."""
    cluster = PostgresCluster()
    cluster.create()
    try:
        yield cluster.url
    finally:
        cluster.destroy()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'civicdesk.db'}"
        return
    server = request.getfixturevalue("postgres_url")
    name = f"test_{uuid.uuid4().hex[:12]}"
    with _admin(server) as admin:
        admin.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{server}/{name}"
    finally:
        with _admin(server) as admin:
            admin.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))


def _migrate_and_seed(url: str) -> None:
    migrate.upgrade(url)
    engine = make_engine(url)
    with transaction(make_session_factory(engine)) as session:
        seed.load(session, today=SEED_TODAY)
    if engine.dialect.name == "sqlite":
        with engine.connect() as connection:  # everything into the main file, so a file copy is complete
            connection.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    engine.dispose()  # PostgreSQL copies a template only while nobody is connected to it


@pytest.fixture(scope="session", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def seeded_template(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database migrated and seeded once per test session and backend; tests get copies of it."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('template') / 'seeded.db'}"
        _migrate_and_seed(url)
        yield url
        return
    server = request.getfixturevalue("postgres_url")
    name = f"seeded_{uuid.uuid4().hex[:12]}"
    with _admin(server) as admin:
        admin.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        _migrate_and_seed(f"{server}/{name}")
        yield f"{server}/{name}"
    finally:
        with _admin(server) as admin:
            admin.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))


@pytest.fixture
def seeded_database_url(seeded_template: str, tmp_path: Path) -> Iterator[str]:
    """A fresh copy of the seeded database. A module that wants seeded data overrides `database_url` with it:

    @pytest.fixture
    def database_url(seeded_database_url: str) -> str:
        return seeded_database_url
    """
    template = make_url(seeded_template)
    if template.get_backend_name() == "sqlite":
        copy = tmp_path / "civicdesk.db"
        shutil.copyfile(str(template.database), copy)
        yield f"sqlite:///{copy}"
        return
    server = seeded_template.rsplit("/", 1)[0]
    name = f"test_{uuid.uuid4().hex[:12]}"
    with _admin(server) as admin:
        admin.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template.database}"'))
    try:
        yield f"{server}/{name}"
    finally:
        with _admin(server) as admin:
            admin.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))


@contextmanager
def _admin(server: str) -> Iterator[Connection]:
    engine = create_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        engine.dispose()


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url=database_url)


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    """A database migrated to the latest schema."""
    migrate.upgrade(settings.sqlalchemy_url)
    engine = make_engine(settings.sqlalchemy_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session_factory(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A models folder holding a triage model trained once per session on the shipped email data."""
    from classifiers.model import train

    out = tmp_path_factory.mktemp("models")
    train(sorted((PROJECT_ROOT / "nlu_data" / "email").glob("train*.jsonl")), out / "triage")
    return out


@pytest.fixture(scope="module")
def dovecot(request: pytest.FixtureRequest) -> Iterator[Dovecot]:
    """A real Dovecot for the test module; a module that sets ``DOVECOT_TLS = True`` gets IMAPS only."""
    server = Dovecot(tls=getattr(request.module, "DOVECOT_TLS", False))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def mailbox(dovecot: Dovecot) -> Mailbox:
    """A fresh user's mailbox on the module's Dovecot."""
    return dovecot.new_mailbox()
