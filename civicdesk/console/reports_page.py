"""The reports page for supervisors and administrators: a period's figures with charts, and the same report to
download as PDF (for Council), CSV or a standalone HTML file. Reports hold no personal information."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from anyio import to_thread
from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.responses import HTMLResponse, Response

from civicdesk.business_time import REGION_TZ
from civicdesk.console.deps import Staff, require
from civicdesk.console.templating import PRIVATE, SECURITY_HEADERS, render
from civicdesk.errors import InvalidInput
from civicdesk.reports import figures as reports
from civicdesk.reports import render as report_render

router = APIRouter(prefix="/console")
ReportStaff = Annotated[Staff, Depends(require("reports"))]
MEDIA_TYPES = {"pdf": "application/pdf", "csv": "text/csv; charset=utf-8", "html": "text/html; charset=utf-8"}


def last_month(today: dt.date) -> tuple[str, str]:
    """The default period: the previous calendar month."""
    end = today.replace(day=1)
    return (end - dt.timedelta(days=1)).replace(day=1).isoformat(), end.isoformat()


def _build(request: Request, period: reports.Period) -> reports.Report:
    with request.app.state.session_factory() as session:
        return reports.build(session, period)


@router.get("/reports", response_class=HTMLResponse)
async def reports_page(request: Request, staff: ReportStaff, start: str = "", end: str = "") -> Response:
    default_start, default_end = last_month(dt.datetime.now(REGION_TZ).date())
    start, end = (start or default_start)[:40], (end or default_end)[:40]
    context: dict[str, object] = {"staff": staff, "start": start, "end": end, "error": None, "report": None}
    try:
        period = reports.parse_period(start, end)
    except InvalidInput as error:
        context["error"] = error.message
        return render(request, "console/reports.html", context, status_code=400)

    def load() -> dict[str, object]:
        return report_render.context(_build(request, period))

    context.update(await to_thread.run_sync(load))
    return render(request, "console/reports.html", context)


@router.get("/reports/download")
async def download(
    request: Request, staff: ReportStaff, start: str = "", end: str = "", format: str = "pdf"
) -> Response:
    if format not in report_render.FORMATS:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"format must be one of: {', '.join(report_render.FORMATS)}")
    try:
        period = reports.parse_period(start[:40], end[:40])
    except InvalidInput as error:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, error.message) from None
    data = await to_thread.run_sync(lambda: report_render.render(_build(request, period), format))
    name = f"northvale-service-first-{period.start:%Y-%m-%d}-to-{period.end:%Y-%m-%d}.{format}"
    headers = {**SECURITY_HEADERS, **PRIVATE, "Content-Disposition": f'attachment; filename="{name}"'}
    return Response(data, media_type=MEDIA_TYPES[format], headers=headers)
