"""`civicdesk kb ...`: the knowledgebase as Markdown files, for review and bulk edits."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from civicdesk.cli.common import session_factory
from civicdesk.db import transaction

kb_app = typer.Typer(help="Knowledgebase articles as Markdown files.", no_args_is_help=True)


@kb_app.command("export")
def kb_export(
    directory: Annotated[Path, typer.Argument(help="Folder to write one Markdown file per article.")],
) -> None:
    """Write every article as Markdown with front matter (the seed format), for review or bulk edits."""
    from civicdesk.knowledge import articles as kb

    factory = session_factory()
    with factory() as session:
        written = kb.export_articles(session, directory)
    typer.echo(f"wrote {written} articles to {directory}")


@kb_app.command("import")
def kb_import(
    directory: Annotated[Path, typer.Argument(help="Folder of Markdown articles with front matter.")],
    author: Annotated[str, typer.Option(help="Recorded in each changed article's history.")] = "kb import",
) -> None:
    """Create or update articles from Markdown files; each changed article gets a new version."""
    from civicdesk.knowledge import articles as kb

    factory = session_factory()
    with transaction(factory) as session:
        result = kb.import_articles(session, directory, author)
    typer.echo(f"created {result.created}, updated {result.updated}, unchanged {result.unchanged}")
