"""An HTML evaluation report: summary, confusion matrix and reliability diagram per head.

The charts are inline SVG drawn from the metrics dict, so the report is one self-contained file that opens
in any browser and needs no plotting library.
"""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any

REPORT_FILE = "report.html"
CELL = 26  # confusion-matrix cell size in px
LABEL_SPACE = 170  # room for class names left of and above the matrix
PLOT = 260  # reliability plot size in px
MARGIN = 40

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #1b1b1b; max-width: 1100px; }
h1 { font-size: 1.6rem; } h2 { margin-top: 2.5rem; border-bottom: 2px solid #ccc; }
table { border-collapse: collapse; margin: 0.5rem 0 1rem; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.6rem; text-align: right; }
th:first-child, td:first-child { text-align: left; }
.charts { display: flex; flex-wrap: wrap; gap: 2rem; align-items: flex-start; }
figure { margin: 0; } figcaption { font-size: 0.9rem; color: #555; max-width: 520px; }
svg text { font-size: 11px; font-family: system-ui, sans-serif; }
"""


def _fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.3f}"
    return escape(str(value))


def summary_table(metrics: dict[str, Any]) -> str:
    rows = [
        ("rows", metrics["rows"]),
        ("accuracy (suggested label, all rows)", metrics["accuracy"]),
        ("macro-F1", metrics["macro_f1"]),
        ("answered automatically", f"{1 - metrics['abstain_rate']:.1%}"),
        ("accuracy of what was answered", metrics["accuracy_answered"]),
        ("expected calibration error", metrics["ece"]),
    ]
    if "emergency_recall" in metrics:
        rows += [
            ("emergency recall (model + rules)", metrics["emergency_recall"]),
            ("emergency recall (model alone)", metrics["emergency_recall_model"]),
            ("emergency precision (model + rules)", metrics["emergency_precision"]),
            ("emergencies missed", metrics["emergency_missed"]),
        ]
    if "paging_precision" in metrics:
        rows += [
            ("paged to on call", metrics["paged"]),
            ("paging precision", metrics["paging_precision"]),
            ("paging recall", metrics["paging_recall"]),
        ]
    body = "".join(f"<tr><td>{escape(name)}</td><td>{_fmt(value)}</td></tr>" for name, value in rows)
    return f"<table>{body}</table>"


def per_class_table(metrics: dict[str, Any]) -> str:
    header = "<tr><th>label</th><th>precision</th><th>recall</th><th>F1</th><th>support</th></tr>"
    body = "".join(
        f"<tr><td>{escape(label)}</td><td>{_fmt(s['precision'])}</td><td>{_fmt(s['recall'])}</td>"
        f"<td>{_fmt(s['f1'])}</td><td>{s['support']}</td></tr>"
        for label, s in metrics["per_class"].items()
    )
    return f"<table>{header}{body}</table>"


def curve_table(metrics: dict[str, Any]) -> str:
    """The coverage/accuracy trade-off of the head's top label at fixed confidence thresholds."""
    header = "<tr><th>confidence at least</th><th>answered</th><th>accuracy of those</th></tr>"
    body = "".join(
        f"<tr><td>{p['threshold']:g}</td><td>{p['coverage']:.1%}</td><td>{_fmt(p['accuracy'])}</td></tr>"
        for p in metrics.get("coverage_curve", [])
    )
    return f"<table>{header}{body}</table>"


def confusion_svg(confusion: dict[str, Any]) -> str:
    """Rows are true labels, columns predicted; shade is the share of the true label's rows."""
    labels, matrix = confusion["labels"], confusion["matrix"]
    size = LABEL_SPACE + CELL * len(labels) + 10
    width = size + LABEL_SPACE // 2  # the slanted column labels reach past the last column
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{size}" role="img">']
    for i, label in enumerate(labels):
        centre = LABEL_SPACE + CELL * i + CELL / 2
        parts.append(f'<text x="{LABEL_SPACE - 6}" y="{centre + 4}" text-anchor="end">{escape(label)}</text>')
        parts.append(f'<text transform="translate({centre + 4},{LABEL_SPACE - 6}) rotate(-60)">{escape(label)}</text>')
    for i, row in enumerate(matrix):
        total = sum(row) or 1
        for j, count in enumerate(row):
            share = count / total
            colour = f"rgba(21, 101, 192, {share:.3f})" if i == j else f"rgba(198, 40, 40, {share:.3f})"
            x, y = LABEL_SPACE + CELL * j, LABEL_SPACE + CELL * i
            parts.append(
                f'<rect x="{x}" y="{y}" width="{CELL}" height="{CELL}" fill="{colour}" stroke="#ddd">'
                f"<title>true {escape(labels[i])}, predicted {escape(labels[j])}: {count}</title></rect>"
            )
            if count:
                ink = "#fff" if share > 0.55 else "#1b1b1b"
                parts.append(
                    f'<text x="{x + CELL / 2}" y="{y + CELL / 2 + 4}" text-anchor="middle" fill="{ink}">{count}</text>'
                )
    parts.append("</svg>")
    return "".join(parts)


def reliability_svg(bins: list[dict[str, Any]]) -> str:
    """Accuracy against confidence per bin; a calibrated model's bars follow the diagonal."""
    size = PLOT + 2 * MARGIN

    def x(value: float) -> float:
        return MARGIN + value * PLOT

    def y(value: float) -> float:
        return MARGIN + (1 - value) * PLOT

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" role="img">',
        f'<rect x="{MARGIN}" y="{MARGIN}" width="{PLOT}" height="{PLOT}" fill="none" stroke="#999"/>',
        f'<line x1="{x(0)}" y1="{y(0)}" x2="{x(1)}" y2="{y(1)}" stroke="#999" stroke-dasharray="4 3"/>',
    ]
    for tick in (0.0, 0.5, 1.0):
        parts.append(f'<text x="{x(tick)}" y="{y(0) + 16}" text-anchor="middle">{tick:g}</text>')
        parts.append(f'<text x="{x(0) - 6}" y="{y(tick) + 4}" text-anchor="end">{tick:g}</text>')
    parts.append(f'<text x="{x(0.5)}" y="{size - 6}" text-anchor="middle">confidence</text>')
    parts.append(f'<text transform="translate(12,{y(0.5)}) rotate(-90)" text-anchor="middle">accuracy</text>')
    for b in bins:
        left, width = x(b["lower"]), (b["upper"] - b["lower"]) * PLOT
        top = y(b["accuracy"])
        parts.append(
            f'<rect x="{left + 1}" y="{top}" width="{width - 2}" height="{y(0) - top}" fill="rgba(21,101,192,0.55)">'
            f"<title>{b['count']} predictions, mean confidence {b['mean_confidence']:.2f}, "
            f"accuracy {b['accuracy']:.2f}</title></rect>"
        )
        parts.append(f'<circle cx="{x(b["mean_confidence"])}" cy="{top}" r="3" fill="#1b1b1b"/>')
    parts.append("</svg>")
    return "".join(parts)


def render(metrics: dict[str, dict[str, Any]], *, model_dir: Path, data_path: Path) -> str:
    generated = datetime.now(UTC).isoformat(timespec="seconds")
    sections = []
    for head, head_metrics in metrics.items():
        sections.append(
            f"<h2>{escape(head)}</h2>{summary_table(head_metrics)}"
            '<div class="charts">'
            f"<figure>{confusion_svg(head_metrics['confusion_matrix'])}"
            "<figcaption>Confusion matrix: rows are the true label, columns the suggested label. Shading is "
            "the share of the true label's messages (blue: right, red: wrong).</figcaption></figure>"
            f"<figure>{reliability_svg(head_metrics['reliability'])}"
            "<figcaption>Reliability: bars show how often the model's top label was right for each "
            "confidence band; dots mark the band's mean confidence. Calibrated bars touch the diagonal."
            "</figcaption></figure></div>"
            f"{per_class_table(head_metrics)}{curve_table(head_metrics)}"
        )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>Triage model evaluation</title><style>{STYLE}</style></head><body>"
        "<h1>Triage model evaluation</h1>"
        f"<p>Model: <code>{escape(str(model_dir))}</code><br>Data: <code>{escape(str(data_path))}</code><br>"
        f"Generated: {generated}</p>{''.join(sections)}</body></html>\n"
    )


def write_report(metrics: dict[str, dict[str, Any]], out_dir: Path, *, model_dir: Path, data_path: Path) -> Path:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / REPORT_FILE
    path.write_text(render(metrics, model_dir=model_dir, data_path=data_path), encoding="utf-8")
    return path
