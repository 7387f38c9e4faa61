"""Service requests in the console: search, one request's page (history, notes), and updating it."""

from __future__ import annotations

from typing import Annotated, Any

from anyio import to_thread
from fastapi import APIRouter, Form, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from civicdesk import validation
from civicdesk.console.deps import FormCode, FormText, RequestStaff, Staff
from civicdesk.console.templating import render
from civicdesk.db import transaction
from civicdesk.errors import InvalidInput
from civicdesk.models import Contact, Service, ServiceRequest
from civicdesk.service_requests import service as service_requests
from civicdesk.service_requests.updates import ResidentMail
from civicdesk.staff import audit

router = APIRouter(prefix="/console")
PAGE_SIZE = 50


def search(
    session: Session, text: str, status_: str, service_code: str, department_id: int | None = None
) -> list[ServiceRequest]:
    """Newest first. `text` matches a reference exactly, or words in the description, address or contact;
    with `department_id`, only that department's requests."""
    query = (
        select(ServiceRequest)
        .options(selectinload(ServiceRequest.service), selectinload(ServiceRequest.contact))
        .order_by(ServiceRequest.created_at.desc(), ServiceRequest.id.desc())
        .limit(PAGE_SIZE)
    )
    text = text.strip()
    if text:
        like = f"%{text.replace('%', '').replace('_', '')}%"
        query = query.outerjoin(Contact, ServiceRequest.contact_id == Contact.id).where(
            or_(
                ServiceRequest.reference == text.upper(),
                ServiceRequest.description.ilike(like),
                ServiceRequest.address.ilike(like),
                Contact.name.ilike(like),
                Contact.email.ilike(like),
            )
        )
    query = query.where(service_requests.in_scope(department_id))
    if status_:
        query = query.where(ServiceRequest.status == status_)
    if service_code:
        query = query.join(Service, ServiceRequest.service_id == Service.id).where(Service.code == service_code)
    return list(session.scalars(query))


@router.get("/requests", response_class=HTMLResponse)
async def search_page(
    request: Request,
    staff: RequestStaff,
    q: str = "",
    status: str = "",
    service: str = "",  # noqa: A002
) -> Response:
    def page() -> Response:
        with request.app.state.session_factory() as session:
            return render(
                request,
                "console/requests.html",
                {
                    "staff": staff,
                    "q": q,
                    "status": status,
                    "service": service,
                    "statuses": tuple(service_requests.TRANSITIONS),
                    "results": search(session, q[:200], status[:20], service[:64], staff.department_id),
                    "services": list(session.scalars(select(Service).order_by(Service.name))),
                },
            )

    return await to_thread.run_sync(page)


def _visible(session: Session, reference: str, staff: Staff) -> ServiceRequest:
    """The request, if this staff member may see it; another department's request is "not found" to them."""
    return service_requests.get_by_reference(session, reference, staff.department_id)


def _detail(session: Session, reference: str, staff: Staff) -> dict[str, Any]:
    found = _visible(session, reference, staff)
    return {
        "staff": staff,
        "sr": found,
        "next_statuses": sorted(service_requests.TRANSITIONS.get(found.status, set())),
        "urgencies": service_requests.URGENCIES,
        "activity": audit.for_record(session, "service_request", found.reference),
    }


async def _show(request: Request, staff: Staff, reference: str, error: str | None = None, code: int = 200) -> Response:
    def page() -> Response:
        # Rendered while the session is open: the template follows the request's history, notes and contact.
        with request.app.state.session_factory() as session:
            context = _detail(session, reference, staff)
            return render(request, "console/request.html", {**context, "error": error}, status_code=code)

    return await to_thread.run_sync(page)  # NotFound becomes 404 through the app's handler


@router.get("/requests/{reference}", response_class=HTMLResponse)
async def request_page(request: Request, staff: RequestStaff, reference: str) -> Response:
    def viewed() -> None:
        # Who looked at a resident's personal information is part of the audit trail, not only who changed it.
        with transaction(request.app.state.session_factory) as session:
            found = _visible(session, reference, staff)
            audit.record(session, staff.email, "request.view", "service_request", found.reference)

    await to_thread.run_sync(viewed)
    return await _show(request, staff, reference)


@router.post("/requests/{reference}")
async def update(
    request: Request,
    staff: RequestStaff,
    reference: str,
    status_: Annotated[validation.CodeLine, Form(alias="status")] = "",
    urgency: FormCode = "",
    assignee: Annotated[validation.AssigneeLine, Form()] = "",
    resolution: FormText = "",
    note: FormText = "",
) -> Response:
    def run() -> None:
        with transaction(request.app.state.session_factory) as session:
            found = _visible(session, reference, staff)
            before = {"status": found.status, "urgency": found.urgency, "assignee": found.assignee}
            service_requests.update_request(
                session,
                found,
                staff.email,
                status=status_ or None,
                urgency=urgency or None,
                assignee=assignee if assignee != (found.assignee or "") else None,
                resolution=resolution or None,
                notify=ResidentMail.from_settings(request.app.state.settings),
            )
            if note.strip():
                service_requests.add_note(session, found, staff.email, note)
            after = {"status": found.status, "urgency": found.urgency, "assignee": found.assignee}
            changed = {k: [before[k], after[k]] for k in before if before[k] != after[k]}
            audit.record(
                session,
                staff.email,
                "request.update",
                "service_request",
                found.reference,
                {"changed": changed, "note": bool(note.strip())},
            )

    try:
        await to_thread.run_sync(run)
    except InvalidInput as error:
        return await _show(request, staff, reference, error.message, status.HTTP_422_UNPROCESSABLE_CONTENT)
    return RedirectResponse(f"/console/requests/{reference}", status.HTTP_303_SEE_OTHER)
