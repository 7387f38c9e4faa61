"""The audit log page for supervisors and administrators: who did what, when, to which record."""

from __future__ import annotations

from anyio import to_thread
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from civicdesk.console.deps import AuditStaff
from civicdesk.console.templating import render
from civicdesk.models import AuditEntry
from civicdesk.staff import audit

router = APIRouter(prefix="/console")


@router.get("/audit", response_class=HTMLResponse)
async def audit_page(request: Request, staff: AuditStaff, actor: str = "", record_type: str = "") -> Response:
    def load() -> list[AuditEntry]:
        with request.app.state.session_factory() as session:
            return audit.recent(session, 300, actor.strip().lower()[:254] or None, record_type[:40] or None)

    entries = await to_thread.run_sync(load)
    return render(
        request, "console/audit.html", {"staff": staff, "entries": entries, "actor": actor, "record_type": record_type}
    )
