"""A report (`civicdesk.reports.figures.Report`) as HTML with inline charts, as a PDF for Council, or as a tidy CSV.

Charts are drawn with matplotlib's object API (`matplotlib.figure.Figure`, rendered by the Agg canvas), never
pyplot: no global state, no GUI backend, safe in the web app's worker threads. The HTML embeds each chart as a
PNG data URI, so it is one file that needs no network (and fits the console's `img-src 'self' data:` policy).
The PDF has a title page with the Region's name and the period, then one chart per page with a one-line caption
and its numbers in a small table.
"""

from __future__ import annotations

import base64
import csv
import io
import textwrap
from typing import Literal

import jinja2
from matplotlib.axes import Axes
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure as Chart
from matplotlib.ticker import MaxNLocator

from civicdesk.business_time import REGION_TZ
from civicdesk.reports import TEMPLATES
from civicdesk.reports.figures import CENTRE, REGION, Figure, Report

Format = Literal["html", "pdf", "csv"]
FORMATS: tuple[str, ...] = Format.__args__  # type: ignore[attr-defined]
COLOUR = "#1f5f8b"  # Northvale blue; one colour, so a chart reads the same printed in grey
LETTER = (8.5, 11)  # inches, portrait: what a Council agenda package is printed on
# Chart-less figures with a table this short share a page, three to a page, after the charts (no mostly blank pages).
SHARED_PAGE_ROWS = 8
FIGURES_PER_SHARED_PAGE = 3
MAX_BARS = 15  # long lists (services) show their top entries in the chart; the table and CSV keep all

_environment = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True, undefined=jinja2.StrictUndefined
)


def _number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def _plotted(figure: Figure) -> list[tuple[str, float]]:
    # A rate among counts (first-contact %) is in the table, not on the counts' axis.
    rows = [r for r in figure.rows if figure.unit == "%" or not r[0].endswith("%")]
    return rows if figure.chart == "line" or figure.key == "requests_by_hour" else rows[:MAX_BARS]


def has_chart(figure: Figure) -> bool:
    """Whether there is something to draw: an axis of zeros tells a reader nothing, so it is said in words."""
    return figure.chart != "none" and any(value for _, value in _plotted(figure))


def nothing_to_chart(figure: Figure) -> bool:
    return figure.chart != "none" and not figure.note and not has_chart(figure)


NOTHING_TO_CHART = "Nothing to chart in this period: every count is zero or there is nothing to count."


def _draw(figure: Figure, ax: Axes) -> None:
    rows = _plotted(figure)
    labels = [label for label, _ in rows]
    values = [value for _, value in rows]
    if figure.chart == "barh":
        positions = list(range(len(rows)))[::-1]  # the largest on top
        ax.barh(positions, values, color=COLOUR)
        ax.set_yticks(positions, [label if len(label) <= 40 else label[:39] + "…" for label in labels], fontsize=8)
        ax.set_xlabel(figure.unit)
    else:
        positions = list(range(len(rows)))
        if figure.chart == "line":
            ax.plot(positions, values, marker="o", color=COLOUR)
        else:
            ax.bar(positions, values, color=COLOUR)
        tilted = max(len(label) for label in labels) > 6  # long labels would run into each other
        ax.set_xticks(positions, labels, rotation=30 if tilted else 0, ha="right" if tilted else "center", fontsize=8)
        ax.set_ylabel(figure.unit)
        if figure.unit == "%":
            ax.set_ylim(0, 100)
    if figure.unit != "%" and all(float(v).is_integer() for v in values):  # counts: no 2.5 requests on an axis
        (ax.xaxis if figure.chart == "barh" else ax.yaxis).set_major_locator(MaxNLocator(integer=True))
    ax.set_title(figure.title, fontsize=12)
    ax.grid(axis="x" if figure.chart == "barh" else "y", alpha=0.3)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def chart_png(figure: Figure) -> bytes:
    chart = Chart(figsize=(7.5, 4.2 if figure.chart != "barh" else max(3.0, 0.32 * min(len(figure.rows), 15) + 1.2)))
    _draw(figure, chart.subplots())
    chart.tight_layout()
    buffer = io.BytesIO()
    chart.savefig(buffer, format="png", dpi=96)
    return buffer.getvalue()


def chart_data_uri(figure: Figure) -> str:
    return "data:image/png;base64," + base64.b64encode(chart_png(figure)).decode("ascii")


def charts(report: Report) -> dict[str, str]:
    """Each charted figure's PNG as a data URI, by key."""
    return {f.key: chart_data_uri(f) for f in report.figures if has_chart(f)}


def context(report: Report) -> dict[str, object]:
    return {
        "report": report,
        "region": REGION,
        "centre": CENTRE,
        "charts": charts(report),
        "nothing_to_chart": {f.key for f in report.figures if nothing_to_chart(f)},
        "nothing_to_chart_text": NOTHING_TO_CHART,
        "number": _number,
        "generated": report.generated_at.astimezone(REGION_TZ).strftime("%Y-%m-%d %H:%M"),
    }


def to_html(report: Report) -> str:
    """A self-contained page: styles inline, charts as data URIs, nothing fetched from elsewhere."""
    return _environment.get_template("reports/report.html").render(context(report))


def to_csv(report: Report) -> str:
    """One tidy table: metric, dimension, value (one row per number of every figure)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["metric", "dimension", "value"])
    for figure in report.figures:
        for dimension, value in figure.rows:
            writer.writerow([figure.key, dimension, _number(value).replace(",", "")])
    return out.getvalue()


def _page() -> Chart:
    return Chart(figsize=LETTER)


def _title_page(pdf: PdfPages, report: Report) -> None:
    page = _page()
    page.text(0.5, 0.72, REGION, ha="center", fontsize=20, weight="bold")
    page.text(0.5, 0.66, f"{CENTRE}: contact centre report", ha="center", fontsize=15)
    page.text(0.5, 0.60, report.period.label, ha="center", fontsize=13)
    headline = [
        f"Service requests: {_number(sum(v for _, v in report.figure('requests_by_channel').rows))}",
        f"Chats contained by the assistant: {_number(report.value('assistant_containment', 'contained'))}%",
        f"First-contact resolution: {_number(report.value('first_contact_resolution', 'first contact %'))}%",
        f"Requests resolved on target: {_number(report.value('resolved_on_target', 'all'))}%",
    ]
    for line, text in enumerate(headline):
        page.text(0.5, 0.48 - 0.035 * line, text, ha="center", fontsize=11)
    page.text(
        0.5,
        0.12,
        f"Prepared {report.generated_at.astimezone(REGION_TZ):%B %d, %Y} from the civicdesk database. "
        "No personal information is included.",
        ha="center",
        fontsize=9,
        color="#555555",
    )
    pdf.savefig(page)


def _table(page: Chart, figure: Figure, bottom: float, height: float) -> None:
    rows = [[label if len(label) <= 60 else label[:59] + "…", _number(value)] for label, value in figure.rows[:25]]
    if not rows:
        return
    ax = page.add_axes((0.15, bottom, 0.7, height))
    ax.axis("off")
    table = ax.table(
        cellText=rows,
        colLabels=[figure.dimension.capitalize(), figure.unit or "value"],
        loc="upper center",
        colWidths=[0.75, 0.25],
    )
    for (_row, column), cell in table.get_celld().items():
        cell.get_text().set_horizontalalignment("left" if column == 0 else "right")
        cell.PAD = 0.03
    table.auto_set_font_size(False)
    table.set_fontsize(8)
    table.scale(1, 1.2)


def _figure_page(pdf: PdfPages, figure: Figure) -> None:
    page = _page()
    if has_chart(figure):
        left = 0.32 if figure.chart == "barh" else 0.12  # room for long service names
        _draw(figure, page.add_axes((left, 0.6, 0.9 - left, 0.32)))
    else:
        page.text(0.5, 0.85, figure.title, ha="center", fontsize=14)
        if nothing_to_chart(figure):
            page.text(0.5, 0.78, NOTHING_TO_CHART, ha="center", fontsize=10, color="#555555")
    caption = textwrap.fill(figure.note or figure.caption, 100)
    page.text(0.5, 0.52, caption, ha="center", va="top", fontsize=9)
    _table(page, figure, 0.04, 0.42)
    pdf.savefig(page)


def _shares_a_page(figure: Figure) -> bool:
    """A figure without a chart and with a short table would leave most of a page blank: it shares one."""
    return not has_chart(figure) and len(figure.rows) <= SHARED_PAGE_ROWS


def _shared_page(pdf: PdfPages, figures: list[Figure]) -> None:
    """Up to three chart-less figures, one under the other: title, caption, table."""
    page = _page()
    for top, figure in zip((0.95, 0.63, 0.31), figures, strict=False):
        page.text(0.5, top - 0.02, figure.title, ha="center", fontsize=13)
        caption = figure.note or figure.caption
        caption = f"{NOTHING_TO_CHART} {caption}" if nothing_to_chart(figure) else caption
        page.text(0.5, top - 0.045, textwrap.fill(caption, 100), ha="center", va="top", fontsize=9)
        _table(page, figure, top - 0.3, 0.2)
    pdf.savefig(page)


def _gaps_page(pdf: PdfPages, report: Report) -> None:
    if not report.gaps:
        return
    page = _page()
    page.text(0.5, 0.93, "Suggested articles, with questions residents asked", ha="center", fontsize=14)
    y = 0.87
    for cluster in report.gaps:
        page.text(0.08, y, f"{cluster.title} (asked {cluster.size} times)", fontsize=10, weight="bold")
        y -= 0.022
        for example in cluster.examples:
            page.text(0.1, y, f"“{example if len(example) <= 95 else example[:94] + '…'}”", fontsize=8)
            y -= 0.019
        y -= 0.012
    pdf.savefig(page)


def to_pdf(report: Report) -> bytes:
    buffer = io.BytesIO()
    with PdfPages(buffer, metadata={"Title": f"{CENTRE} report, {report.period.label}", "Author": REGION}) as pdf:
        _title_page(pdf, report)
        for figure in report.figures:
            if not _shares_a_page(figure):
                _figure_page(pdf, figure)
        shared = [figure for figure in report.figures if _shares_a_page(figure)]
        for start in range(0, len(shared), FIGURES_PER_SHARED_PAGE):
            _shared_page(pdf, shared[start : start + FIGURES_PER_SHARED_PAGE])
        _gaps_page(pdf, report)
    return buffer.getvalue()


def render(report: Report, fmt: str) -> bytes:
    if fmt == "pdf":
        return to_pdf(report)
    if fmt == "csv":
        return to_csv(report).encode("utf-8")
    if fmt == "html":
        return to_html(report).encode("utf-8")
    raise ValueError(f"unknown report format {fmt!r}; choose one of: {', '.join(FORMATS)}")
