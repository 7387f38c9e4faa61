"""`civicdesk classifiers ...`: the classifiers library's own commands (train, evaluate, predict) plus those that
work on the models folder and the database civicdesk's settings name (retrain, list, rollback, export-chat-nlu)."""

from __future__ import annotations

import getpass
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer

from civicdesk.cli.common import session_factory
from civicdesk.errors import UserError
from civicdesk.settings import get_settings
from classifiers.cli import USER_ERRORS, fail, number
from classifiers.cli import app as library_app

app = typer.Typer(
    help="Email triage classifiers: train, evaluate, predict; retrain, list and roll back versions.",
    no_args_is_help=True,
    add_completion=False,
)
app.registered_commands.extend(library_app.registered_commands)  # train, evaluate, predict: listed first, as before
ERRORS = (*USER_ERRORS, UserError)


REFUSED_EXIT = 3  # retrain: a new version was trained but not promoted (2 stays "you made a mistake")


def _registry() -> Any:
    from civicdesk.triage.training import triage_model_dir
    from classifiers.registry import Registry

    return Registry(triage_model_dir(get_settings()))


@app.command()
def retrain(
    data: Annotated[
        list[Path] | None,
        typer.Option("--data", help="Training file instead of the shipped nlu_data/email/train*.jsonl; repeatable."),
    ] = None,
    test: Annotated[
        Path | None, typer.Option("--test", help="Held-out file to compare on instead of nlu_data/email/test.jsonl.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a summary as JSON (no progress display).")] = False,
) -> None:
    """Train a new version on the shipped data plus the agents' corrections; promote it only if it is no worse.

    Promoted when service_code macro-F1 on nlu_data/email/test.jsonl drops by at most 0.01 against the active
    version, emergency recall (both tiers) is at least 0.98 and paging precision at least 0.90. Exit status:
    0 promoted, 3 trained but not promoted (the active version stays), 2 an error.
    """
    from civicdesk.triage.retraining import retrain as run_retrain

    try:
        with _spinner(quiet=as_json) as say:
            outcome = run_retrain(
                get_settings(),
                session_factory(),
                actor=f"cli:{getpass.getuser()}",
                train_files=data or None,
                test_file=test,
                progress=say,
            )
    except ERRORS as exc:
        fail(str(exc))
    if as_json:
        typer.echo(json.dumps(outcome.as_dict(), indent=2, sort_keys=True))
    else:
        typer.echo(
            f"trained version {outcome.version} on {outcome.rows} rows ({outcome.corrections} agents' corrections) "
            f"in {outcome.seconds:.0f} s"
        )
        active = outcome.active or {}
        typer.echo(f"  {'on the test set':<26} {'active ' + (outcome.active_before or '(none)'):<34} new")
        for label, key in (
            ("service_code macro-F1", "service_code_macro_f1"),
            ("emergency recall", "emergency_recall"),
            ("paging precision", "paging_precision"),
        ):
            typer.echo(f"  {label:<26} {number(active.get(key)):<34} {number(outcome.candidate[key])}")
        if outcome.promoted:
            typer.echo(f"promoted: version {outcome.version} is now active")
        else:
            typer.echo(f"not promoted; version {outcome.active_after} stays active, because:")
        for reason in outcome.reasons:
            typer.echo(f"  - {reason}")
    if not outcome.promoted:
        raise typer.Exit(code=REFUSED_EXIT)


@contextmanager
def _spinner(quiet: bool) -> Iterator[Callable[[str], None]]:
    """What the retrain is doing, with the elapsed time, on stderr (not with --json or when not on a terminal)."""
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    if quiet or not console.is_terminal:
        yield lambda _: None
        return
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console) as bar:
        task = bar.add_task("starting")
        yield lambda text: bar.update(task, description=text)


@app.command("list")
def list_versions(as_json: Annotated[bool, typer.Option("--json", help="Print the versions as JSON.")] = False) -> None:
    """Every trained version with its date, data size and scores on the test set; * marks the active one."""
    try:
        registry = _registry()
        versions, active = registry.versions(), registry.active_id()
    except ERRORS as exc:
        fail(str(exc))
    rows = [version_summary(version, active) for version in versions]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        typer.echo("no triage model versions yet: run `civicdesk train` or `civicdesk classifiers retrain`")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("", "version", "created (UTC)", "rows", "corrections", "service_code F1", "kind F1",
                  "urgency F1", "emergency recall", "paging precision", box=None)  # fmt: skip
    for row in rows:
        table.add_row(
            "*" if row["active"] else "",
            row["version"],
            row["created_at"].replace("T", " ")[:16],
            str(row["rows"]),
            str(row["corrections"]),
            *(number(row[key]) for key in ("service_code_macro_f1", "kind_macro_f1", "urgency_macro_f1")),
            number(row["emergency_recall"]),
            number(row["paging_precision"]),
        )
    Console(width=160).print(table)


def version_summary(version: Any, active: str | None) -> dict[str, Any]:

    return {
        "version": version.id,
        "active": version.id == active,
        "created_at": version.created_at,
        "rows": version.rows,
        "corrections": version.corrections,
        **asdict(version.scores),
    }


@app.command()
def rollback(version: Annotated[str, typer.Argument(help="Version to make active again (see `list`).")]) -> None:
    """Make an earlier (or any other trained) version the active one; the ingester picks it up by itself."""
    try:
        registry = _registry()
        before = registry.active_id()
        if before == version:
            typer.echo(f"version {version} is already active")
            return
        registry.activate(version, by=f"cli:{getpass.getuser()}")
    except ERRORS as exc:
        fail(str(exc))
    typer.echo(f"version {version} is now active (was {before or 'none'})")


@app.command("export-chat-nlu")
def export_chat_nlu(
    out: Annotated[Path, typer.Option("--out", help="YAML file to write (Rasa 3.x NLU format).")],
) -> None:
    """Write the chat messages the assistant did not understand as Rasa NLU data for review, contact details
    redacted; examples with no known intent are under `needs_review`."""
    from civicdesk.triage.chat_nlu import export

    try:
        with session_factory()() as session:
            counts = export(session, out)
    except ERRORS as exc:
        fail(str(exc))
    total = sum(counts.values())
    detail = ", ".join(f"{n} {intent}" for intent, n in sorted(counts.items()))
    typer.echo(f"wrote {total} examples to {out}" + (f" ({detail})" if detail else ""))
