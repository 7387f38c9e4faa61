"""The agent console: server-rendered pages (Jinja2) with a little JavaScript for live updates.

Pages, by area (who may use each: `civicdesk.staff.auth.AREAS`):
- site: the Region's page with the residents' chat widget (`/`, `/widget.js`), open to everyone;
- sign-in: `/console/login`, `/console/logout`, and `/console` sending each role to its work;
- chats: the work queue (`/console/queue`, live through `/console/api/queue`), a conversation's page with
  claim, reply, notes, service request, hand back and close, streamed live over `/console/chats/{id}/ws`;
- email: a case the email pipeline left to a person (in the same work queue), with its labels, request and close;
- requests: search and update service requests;
- knowledgebase and gaps: the article editor with history, and the questions the assistant could not answer;
- audit: the audit log.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import FileResponse, HTMLResponse

from civicdesk import labels
from civicdesk.console import (
    audit_log,
    chats,
    dashboard,
    email_cases,
    kb,
    models_page,
    reports_page,
    requests,
    sign_in,
    site,
)
from civicdesk.console.deps import PageRefused
from civicdesk.console.templating import render
from civicdesk.settings import PROJECT_ROOT

router = APIRouter(tags=["console"], include_in_schema=False)
for part in (site, sign_in, chats, email_cases, requests, kb, audit_log, models_page, dashboard, reports_page):
    router.include_router(part.router)


async def refused_page(request: Request, error: Exception) -> HTMLResponse:
    """The HTML 403 page of the console (registered by the app for `PageRefused`)."""
    assert isinstance(error, PageRefused)
    roles = [labels.role(role, plural=True) for role in error.roles]
    context = {"staff": error.staff, "roles": " and ".join(filter(None, [", ".join(roles[:-1]), *roles[-1:]]))}
    return render(request, "console/refused.html", context, status_code=error.status_code)


# axe-core (npm, `npm ci`) checks pages for accessibility problems in the browser tests. It is served from
# node_modules outside production only, so the tests need no CDN and production serves nothing extra.
AXE = PROJECT_ROOT / "node_modules" / "axe-core" / "axe.min.js"
dev_router = APIRouter(include_in_schema=False)


@dev_router.get("/_dev/axe.min.js")
async def axe_script() -> FileResponse:
    if not AXE.exists():
        raise HTTPException(status.HTTP_404_NOT_FOUND, "axe-core is not installed: run `npm ci`")
    return FileResponse(AXE, media_type="text/javascript")
