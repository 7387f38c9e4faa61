"""`civicdesk db ...` (the schema) and `civicdesk seed` (the Region's reference data and articles)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from civicdesk.cli.common import session_factory
from civicdesk.db import transaction
from civicdesk.settings import get_settings

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create the database or migrate it to the latest schema."""
    from civicdesk import migrate

    settings = get_settings()
    migrate.upgrade(settings.sqlalchemy_url)
    typer.echo(f"database at schema {migrate.head_revision()}")


@db_app.command("revision")
def db_revision(
    message: Annotated[str, typer.Option("--message", "-m", help="What the change does.")],
) -> None:
    """Write a new migration from the difference between the models and the schema at head (review it!)."""
    import tempfile

    from alembic import command

    from civicdesk import migrate

    with tempfile.TemporaryDirectory() as scratch:
        url = f"sqlite:///{scratch}/head.db"
        migrate.upgrade(url)
        # Numbered revisions (0001, 0002, ...) read in order in the versions folder.
        number = len(list((migrate.MIGRATIONS / "versions").glob("[0-9][0-9][0-9][0-9]_*.py"))) + 1
        script = command.revision(
            migrate.alembic_config(url), message=message, autogenerate=True, rev_id=f"{number:04d}"
        )
    typer.echo(f"wrote {getattr(script, 'path', script)}")


def seed(
    if_empty: Annotated[bool, typer.Option(help="Only load when the database has no departments yet.")] = False,
    directory: Annotated[Path | None, typer.Option("--dir", help="Seed folder (default: the shipped one).")] = None,
) -> None:
    """Load departments, services, articles, clinics, events, forms, referrals and the on-call roster."""
    from civicdesk.catalogue import seed as seed_loader

    factory = session_factory()
    with transaction(factory) as session:
        if if_empty and not seed_loader.is_empty(session):
            typer.echo("seed data already loaded; nothing to do")
            return
        counts = seed_loader.load(session, directory or seed_loader.SEED_DIR)
    typer.echo("loaded " + ", ".join(f"{n} {what}" for what, n in counts.items()))
