"""`civicdesk report`: the contact centre's report for a period, as HTML, PDF or CSV."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from civicdesk.cli.common import session_factory
from civicdesk.errors import UserError


def report(
    start: Annotated[str, typer.Option("--from", help="First day of the period, YYYY-MM-DD.")],
    end: Annotated[str, typer.Option("--to", help="Last day of the period, YYYY-MM-DD (included).")],
    out: Annotated[Path, typer.Option("--out", help="File to write.")],
    fmt: Annotated[str, typer.Option("--format", help="html, pdf or csv.")] = "html",
) -> None:
    """Write the contact centre's report (volumes, assistant, resolution, triage, knowledge gaps) for a period."""
    from civicdesk.reports import figures as reports
    from civicdesk.reports import render as report_render

    if fmt not in report_render.FORMATS:
        raise UserError(f"--format {fmt!r} is not one of: {', '.join(report_render.FORMATS)}")
    period = reports.parse_period(start, end, last_day_included=True)
    factory = session_factory()
    with factory() as session:
        data = report_render.render(reports.build(session, period), fmt)
    try:
        out.write_bytes(data)
    except OSError as error:
        raise UserError(f"cannot write {out}: {error.strerror}") from None
    typer.echo(f"wrote {out}: {fmt} report for {period.label}")
