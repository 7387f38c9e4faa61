"""Server-rendered pages: one Jinja2 environment (autoescape always on) and the headers every page carries.

Anything a resident or an email wrote is rendered through autoescape, and the pages allow scripts only from
this server (Content-Security-Policy `script-src 'self'`, no inline script), so text that looks like markup
stays text even where a template forgets itself.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse

from civicdesk import labels
from civicdesk.business_time import REGION_TZ
from civicdesk.db import utcnow
from civicdesk.models import ServiceRequest
from civicdesk.reports import TEMPLATES as REPORT_TEMPLATES
from civicdesk.work import service_levels

TEMPLATES = Path(__file__).resolve().parent / "templates"
STATIC = Path(__file__).resolve().parent / "static"

environment = jinja2.Environment(
    loader=jinja2.FileSystemLoader([TEMPLATES, REPORT_TEMPLATES]),  # the reports page includes the report's figures
    autoescape=True,
    undefined=jinja2.StrictUndefined,  # a missing value is a bug to see, not an empty string
    trim_blocks=True,
    lstrip_blocks=True,
)


def local_time(moment: dt.datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """Staff read times in the Region's time zone."""
    return moment.astimezone(REGION_TZ).strftime(fmt) if moment else ""


def service_level(request: ServiceRequest) -> str:
    """ "ok", "due_soon" or "overdue" for a service request, now."""
    return service_levels.request_state(request, utcnow())


environment.filters["local"] = local_time
environment.filters["service_level"] = service_level
environment.globals["human"] = labels  # human words for stored codes, the same the reports use

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}
PRIVATE = {"Cache-Control": "no-store"}  # staff pages hold residents' personal information


def render(
    request: Request, name: str, context: dict[str, Any] | None = None, status_code: int = 200, private: bool = True
) -> HTMLResponse:
    html = environment.get_template(name).render({"request": request, **(context or {})})
    headers = {**SECURITY_HEADERS, **(PRIVATE if private else {})}
    return HTMLResponse(html, status_code=status_code, headers=headers)
