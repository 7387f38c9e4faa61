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
            f"\n  {'':<13} emergencies (both tiers): recall {number(metrics['emergency_recall'])} "
            f"(model argmax alone {number(metrics['emergency_recall_model'])}), "
            f"precision {number(metrics['emergency_precision'])}"
        )
    if "paging_precision" in metrics:
        line += (
            f"\n  {'':<13} paged to on call: {metrics['paged']}, precision {number(metrics['paging_precision'])}, "
            f"recall {number(metrics['paging_recall'])}"
        )
    return line


def _curve_line(metrics: dict[str, Any]) -> str:
    """The coverage/accuracy trade-off of a head's top label: `threshold: answered share @ accuracy`."""
    points = "  ".join(
        f"{p['threshold']:g}: {_percent(p['coverage'])} @ {number(p['accuracy'])}" for p in metrics["coverage_curve"]
    )
    return f"  {'':<13} confidence threshold: answered @ accuracy  {points}"


def thresholds_lines(meta: dict[str, Any]) -> list[str]:
    """The operating point stored in a model: each head's threshold and the urgency's emergency thresholds."""
    target = meta.get("target_accuracy")
    heads = ", ".join(f"{head} {number(value)}" for head, value in meta.get("thresholds", {}).items())
    urgency = meta.get("urgency_thresholds") or {}
    targets = urgency.get("targets") or {}
    return [
        f"operating point (chosen on held-out training rows for accuracy {target}): confidence thresholds {heads}",
        f"  urgency: page on call at P(emergency) >= {number(urgency.get('page'))} (held-out precision "
        f">= {targets.get('paging_precision')}, and every emergency rule hit); possible emergency at P(emergency) "
        f">= {number(urgency.get('possible'))} (held-out recall {targets.get('possible_recall')}); urgent at "
        f"P(urgent) >= {number(urgency.get('urgent'))} (held-out recall {targets.get('urgent_recall')})",
    ]


@app.command()
def train(
    data: Annotated[list[Path], typer.Option("--data", help="Labelled JSONL or CSV file; repeat for several.")],
    out: Annotated[Path, typer.Option("--out", help="Directory to write the model to.")],
    target_accuracy: Annotated[
        float,
        typer.Option(
            min=0.5,
            max=0.999,
            help="Accuracy that each head's automatic answers must reach on held-out training rows: higher sends "
            "more mail to a person (see the coverage/accuracy curve that `evaluate` prints).",
        ),
    ] = 0.95,
) -> None:
    """Train one model per label column found in the data and save it with its thresholds and metrics."""
    from classifiers.model import train as train_model  # keeps `--help` fast
    from classifiers.store import read_meta

    try:
        result = train_model(data, out, target_accuracy=target_accuracy)
        meta = read_meta(out)
    except USER_ERRORS as exc:
        fail(str(exc))
    rows = max(result.rows.values())
    typer.echo(f"trained {', '.join(result.heads)} on {rows} rows in {result.seconds:.1f} s -> {result.model_dir}")
    typer.echo(f"validation on held-out training rows (target accuracy {target_accuracy:g}):")
    for head in result.heads:
        typer.echo(_head_line(head, result.metrics[head]))
        typer.echo(_curve_line(result.metrics[head]))
    for line in thresholds_lines(meta):
        typer.echo(line)


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
            typer.echo(_curve_line(head_metrics))
        for line in thresholds_lines(triage.meta):
            typer.echo(line)
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
