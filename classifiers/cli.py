"""`civicdesk classifiers ...`: train, evaluate and run the triage models from the command line.

Errors people can fix (a missing file, a bad row, a directory without a model) print one line naming the
problem and exit with code 2, without a traceback.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from classifiers.data import text_from_record
from classifiers.errors import DataError, ModelError, PatternError

if TYPE_CHECKING:
    from classifiers.model import TriageModel

app = typer.Typer(
    help="Email triage classifiers: train, evaluate, predict.",
    no_args_is_help=True,
    add_completion=False,
)

USER_ERRORS = (DataError, ModelError, PatternError, OSError)
PREDICT_BATCH = 512


def fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=2)


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _head_line(head: str, metrics: dict[str, Any]) -> str:
    line = (
        f"  {head:<13} accuracy {number(metrics['accuracy'])}  macro-F1 {number(metrics['macro_f1'])}  "
        f"answered {_percent(1 - metrics['abstain_rate'])} (accuracy {number(metrics['accuracy_answered'])})  "
        f"ECE {number(metrics['ece'])}"
    )
    if metrics.get("decided_by_rule"):
        line += (
            f"\n  {'':<13} {metrics['decided_by_rule']} decided by emergency rules; accuracy of the model's own "
            f"answers {number(metrics['accuracy_answered_model'])}"
        )
    if "emergency_recall" in metrics:
        line += (
            f"\n  {'':<13} emergency recall {number(metrics['emergency_recall'])} "
            f"(model alone {number(metrics['emergency_recall_model'])}), "
            f"precision {number(metrics['emergency_precision'])}"
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
        fail(str(exc))
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
        fail(str(exc))
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
        fail(str(exc))
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
            fail(f"stdin line {line_number}: {exc}")
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
