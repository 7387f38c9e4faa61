"""`civicdesk classifiers ...`: train, evaluate and run the triage models from the command line.

Errors people can fix (a missing file, a bad row, a directory without a model) print one line naming the
problem and exit with code 2, without a traceback.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from classifiers.data import text_from_record
from classifiers.errors import DataError, ModelError, PatternError

if TYPE_CHECKING:
    from classifiers.model import TriageModel

app = typer.Typer(
    help="Email triage classifiers: train, evaluate, predict; retrain, list and roll back versions.",
    no_args_is_help=True,
    add_completion=False,
)

USER_ERRORS = (DataError, ModelError, PatternError, OSError)
PREDICT_BATCH = 512


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=2)


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _head_line(head: str, metrics: dict[str, Any]) -> str:
    line = (
        f"  {head:<13} accuracy {_number(metrics['accuracy'])}  macro-F1 {_number(metrics['macro_f1'])}  "
        f"answered {_percent(1 - metrics['abstain_rate'])} (accuracy {_number(metrics['accuracy_answered'])})  "
        f"ECE {_number(metrics['ece'])}"
    )
    if metrics.get("decided_by_rule"):
        line += (
            f"\n  {'':<13} {metrics['decided_by_rule']} decided by emergency rules; accuracy of the model's own "
            f"answers {_number(metrics['accuracy_answered_model'])}"
        )
    if "emergency_recall" in metrics:
        line += (
            f"\n  {'':<13} emergency recall {_number(metrics['emergency_recall'])} "
            f"(model alone {_number(metrics['emergency_recall_model'])}), "
            f"precision {_number(metrics['emergency_precision'])}"
        )
    return line


@app.command()
def train(
    data: Annotated[list[Path], typer.Option("--data", help="Labelled JSONL or CSV file; repeat for several.")],
    out: Annotated[Path, typer.Option("--out", help="Directory to write the model to.")],
    target_precision: Annotated[
        float,
        typer.Option(min=0.5, max=0.999, help="Precision that automatic answers must reach on validation data."),
    ] = 0.97,
) -> None:
    """Train one model per label column found in the data and save it with its thresholds and metrics."""
    from classifiers.model import train as train_model  # keeps `--help` fast

    try:
        result = train_model(data, out, target_precision=target_precision)
    except USER_ERRORS as exc:
        _fail(str(exc))
    rows = max(result.rows.values())
    typer.echo(f"trained {', '.join(result.heads)} on {rows} rows in {result.seconds:.1f} s -> {result.model_dir}")
    typer.echo(f"validation on held-out training rows (target precision {target_precision:g}):")
    for head in result.heads:
        typer.echo(_head_line(head, result.metrics[head]))


@app.command()
def evaluate(
    model: Annotated[Path, typer.Option("--model", help="Model directory (with model.json).")],
    data: Annotated[Path, typer.Option("--data", help="Labelled JSONL or CSV file the model was not trained on.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the full metrics as JSON.")] = False,
    report: Annotated[
        Path | None, typer.Option("--report", help="Write an HTML report (confusion matrix, reliability) here.")
    ] = None,
) -> None:
    """Score a trained model on labelled data."""
    from classifiers.evaluate import evaluate as evaluate_model
    from classifiers.model import load_model

    try:
        triage = load_model(model)
        metrics = evaluate_model(triage, data)
        if report is not None:
            from classifiers.report import write_report

            written = write_report(metrics, report, model_dir=model, data_path=data)
    except USER_ERRORS as exc:
        _fail(str(exc))
    if as_json:
        typer.echo(json.dumps(metrics, indent=2, sort_keys=True))
    else:
        typer.echo(f"{data}: {max(m['rows'] for m in metrics.values())} rows")
        for head, head_metrics in metrics.items():
            typer.echo(_head_line(head, head_metrics))
    if report is not None:
        typer.echo(f"report written to {written}", err=as_json)


@app.command()
def predict(model: Annotated[Path, typer.Option("--model", help="Model directory (with model.json).")]) -> None:
    """Read JSON lines with `text` (or `subject`/`body`) on stdin; write one JSON line per input."""
    from classifiers.model import load_model

    try:
        triage = load_model(model)
    except USER_ERRORS as exc:
        _fail(str(exc))
    batch: list[tuple[Any, str]] = []
    for line_number, line in enumerate(sys.stdin, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if not isinstance(record, dict):
                raise ValueError("expected a JSON object")
            batch.append((record.get("id"), text_from_record(record)))
        except ValueError as exc:  # json.JSONDecodeError is a ValueError
            _fail(f"stdin line {line_number}: {exc}")
        if len(batch) >= PREDICT_BATCH:
            _write_predictions(triage, batch)
            batch = []
    _write_predictions(triage, batch)


def _write_predictions(triage: TriageModel, batch: list[tuple[Any, str]]) -> None:
    if not batch:
        return
    for (record_id, _), prediction in zip(batch, triage.predict([text for _, text in batch]), strict=True):
        row = prediction.to_dict()
        if record_id is not None:
            row = {"id": record_id, **row}
        typer.echo(json.dumps(row, ensure_ascii=False))


# --- the model registry: retrain, list, rollback, and the chat export ------------------------------------------
# These work on the models folder and the database named in civicdesk's settings (CIVICDESK_MODELS_DIR,
# CIVICDESK_DATABASE_URL), so they import civicdesk; the commands above need neither.

REFUSED_EXIT = 3  # retrain: a new version was trained but not promoted (2 stays "you made a mistake")


def _registry() -> Any:
    from civicdesk.settings import get_settings
    from civicdesk.triage.training import triage_model_dir
    from classifiers.registry import Registry

    return Registry(triage_model_dir(get_settings()))


def _session_factory() -> Any:
    from civicdesk.db import make_engine, make_session_factory
    from civicdesk.settings import get_settings

    return make_session_factory(make_engine(get_settings().sqlalchemy_url))


def _user_errors() -> tuple[type[Exception], ...]:
    from civicdesk.errors import UserError

    return (*USER_ERRORS, UserError)


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
    version and urgency emergency recall is at least 0.98. Exit status: 0 promoted, 3 trained but not promoted
    (the active version stays), 2 an error.
    """
    import getpass

    from civicdesk.settings import get_settings
    from civicdesk.triage.retraining import retrain as run_retrain

    try:
        with _spinner(quiet=as_json) as say:
            outcome = run_retrain(
                get_settings(),
                _session_factory(),
                actor=f"cli:{getpass.getuser()}",
                train_files=data or None,
                test_file=test,
                progress=say,
            )
    except _user_errors() as exc:
        _fail(str(exc))
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
        ):
            typer.echo(f"  {label:<26} {_number(active.get(key)):<34} {_number(outcome.candidate[key])}")
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
    except _user_errors() as exc:
        _fail(str(exc))
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
                  "urgency F1", "emergency recall", box=None)  # fmt: skip
    for row in rows:
        table.add_row(
            "*" if row["active"] else "",
            row["version"],
            row["created_at"].replace("T", " ")[:16],
            str(row["rows"]),
            str(row["corrections"]),
            *(_number(row[key]) for key in ("service_code_macro_f1", "kind_macro_f1", "urgency_macro_f1")),
            _number(row["emergency_recall"]),
        )
    Console(width=160).print(table)


def version_summary(version: Any, active: str | None) -> dict[str, Any]:
    from dataclasses import asdict

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
    import getpass

    try:
        registry = _registry()
        before = registry.active_id()
        if before == version:
            typer.echo(f"version {version} is already active")
            return
        registry.activate(version, by=f"cli:{getpass.getuser()}")
    except _user_errors() as exc:
        _fail(str(exc))
    typer.echo(f"version {version} is now active (was {before or 'none'})")


@app.command("export-chat-nlu")
def export_chat_nlu(
    out: Annotated[Path, typer.Option("--out", help="YAML file to write (Rasa 3.x NLU format).")],
) -> None:
    """Write the chat messages the assistant did not understand as Rasa NLU data for review, contact details
    redacted; examples with no known intent are under `needs_review`."""
    from civicdesk.triage.chat_nlu import export

    try:
        with _session_factory()() as session:
            counts = export(session, out)
    except _user_errors() as exc:
        _fail(str(exc))
    total = sum(counts.values())
    detail = ", ".join(f"{n} {intent}" for intent, n in sorted(counts.items()))
    typer.echo(f"wrote {total} examples to {out}" + (f" ({detail})" if detail else ""))
