"""Email cases in the console: a case's page and the agent's actions on it (confirm or correct the labels, file
or attach a service request, mark handled). Cases reach the work queue through `civicdesk.work.sources`.

Each action runs in one short transaction together with its audit entry. Forms work without JavaScript (post,
then a redirect back); a mistake shows the page again with the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from anyio import to_thread
from fastapi import APIRouter, Request, status
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from civicdesk.chat import service as chat
from civicdesk.console.deps import EmailStaff, FormCode, FormEmailText, FormShort, RequestFormData, Staff, is_fetch
from civicdesk.console.templating import render
from civicdesk.errors import InvalidInput
from civicdesk.labels import email_reason
from civicdesk.mail import cases as email_cases
from civicdesk.mail import replies
from civicdesk.models import InboundEmail, Service
from civicdesk.service_requests import service as service_requests
from civicdesk.service_requests.threads import message_id_domain
from civicdesk.staff import audit

router = APIRouter(prefix="/console")

Text = FormEmailText
Short = FormShort


def _heads(row: InboundEmail, services: dict[str, str]) -> list[dict[str, Any]]:
    shown = []
    for name, head in email_cases.prediction(row).items():
        label = str(head.get("label") or "")
        readable = label.replace("_", " ")
        shown.append(
            {
                "name": name,
                "label": label,
                "display": services.get(label, readable) if name == "service_code" else readable,
                "confidence": float(head.get("confidence") or 0.0),
                "abstain": bool(head.get("abstain")),
                "reason": str(head.get("reason") or ""),
                "source": str(head.get("source") or "model"),
            }
        )
    return shown


def _passages(request: Request, session: Session, row: InboundEmail) -> list[dict[str, str]]:
    """Knowledgebase passages that may answer the email, searched with its subject and text, ready to insert."""
    query = " ".join(part for part in (row.subject or "", row.new_text or "") if part)[:2000]
    found = request.app.state.kb_search.search(session, query, limit=3)
    return [
        {"title": hit.title, "text": hit.summary + (f"\n\nMore information: {hit.url}" if hit.url else "")}
        for hit in found.hits
        if hit.summary
    ]


def _page_context(request: Request, session: Session, email_id: int, staff: Staff) -> dict[str, Any]:
    row = email_cases.get(session, email_id)
    thread = email_cases.thread(session, row)
    parsed = email_cases.readable(row)
    services = list(session.scalars(select(Service).where(Service.active.is_(True)).order_by(Service.name)))
    names = {s.code: s.name for s in services}
    # Another department's request stays out of sight: the page says only that the email is on one.
    linked = service_requests.visible(row.service_request, staff.department_id)
    elsewhere = row.service_request is not None and linked is None
    return {
        "staff": staff,
        "case": row,
        "is_open": email_cases.is_open(row),
        "reason": email_reason(row.status_reason),
        "queue_urgency": email_cases.queue_urgency(row.urgency),
        "possible_emergency": email_cases.possible_emergency(row.triage),
        "parsed": parsed,
        "to": parsed.headers.get("to", "") if parsed else "",
        "date": parsed.headers.get("date", "") if parsed else "",
        "signature": parsed.signature if parsed else "",
        "html": email_cases.html_body(parsed) if parsed else None,
        "raw_preview": email_cases.raw_preview(row) if parsed is None else "",
        "heads": _heads(row, names),
        "service_names": names,
        "emergencies": (row.triage or {}).get("emergencies") or [],
        "entities": email_cases.entities(row),
        "entity_names": email_cases.ENTITY_NAMES,
        "labels": email_cases.current_labels(session, row),
        "predicted": email_cases.predicted_labels(row),
        "corrections": email_cases.corrections(session, row),
        "thread": thread,
        # what we sent carries the request's reference: not for another department's eyes
        "sent": [] if elsewhere else replies.sent_to_resident(session, [row, *thread]),
        "can_reply": bool(row.sender_address) and not elsewhere,
        "saved_replies": replies.SAVED_REPLIES,
        "passages": _passages(request, session, row) if row.sender_address else [],
        "linked": linked,
        "filed_elsewhere": elsewhere,
        "prefill": email_cases.request_prefill(session, row),
        "services": services,
        "kinds": service_requests.KINDS,
        "urgencies": service_requests.URGENCIES,
        "activity": audit.for_record(session, "inbound_email", row.id),
    }


async def _show(
    request: Request, staff: Staff, email_id: int, error: str | None = None, code: int = 200, draft: str = ""
) -> Response:
    def page() -> Response:
        # Rendered while the session is open: the template follows the case's attachments and request.
        with request.app.state.session_factory() as session:
            context = _page_context(request, session, email_id, staff)
            extra = {"error": error, "draft": draft}
            return render(request, "console/email_case.html", {**context, **extra}, status_code=code)

    try:
        return await to_thread.run_sync(page)
    except email_cases.CaseNotFound:
        return JSONResponse({"detail": "no such email"}, status.HTTP_404_NOT_FOUND)


@router.get("/email/{email_id}", response_class=HTMLResponse)
async def case_page(request: Request, staff: EmailStaff, email_id: int) -> Response:
    def viewed() -> None:  # who read a resident's mail is part of the audit trail
        with chat.writing(request.app.state.session_factory) as session:
            audit.record(session, staff.email, "email.view", "inbound_email", email_cases.get(session, email_id).id)

    try:
        await to_thread.run_sync(viewed)
    except email_cases.CaseNotFound:
        return JSONResponse({"detail": "no such email"}, status.HTTP_404_NOT_FOUND)
    return await _show(request, staff, email_id)


Action = Callable[[Session, InboundEmail], tuple[str, dict[str, Any]]]


async def _act(
    request: Request, staff: Staff, email_id: int, action: Action, then: str | None = None, draft: str = ""
) -> Response:
    """Run one agent action with its audit entry (the action names itself: confirm and correct share a form).
    `draft`: the reply text, shown again if the action is refused."""

    def run() -> None:
        with chat.writing(request.app.state.session_factory) as session:
            row = email_cases.get(session, email_id)
            name, detail = action(session, row)
            audit.record(session, staff.email, name, "inbound_email", row.id, detail)

    try:
        await to_thread.run_sync(run)
    except email_cases.CaseNotFound:
        return JSONResponse({"detail": "no such email"}, status.HTTP_404_NOT_FOUND)
    except (email_cases.NotAllowed, InvalidInput) as error:
        message = error.message if isinstance(error, InvalidInput) else str(error)
        conflict = isinstance(error, email_cases.NotAllowed)
        code = status.HTTP_409_CONFLICT if conflict else status.HTTP_422_UNPROCESSABLE_CONTENT
        if is_fetch(request):
            return JSONResponse({"detail": message}, code)
        return await _show(request, staff, email_id, message, code, draft)
    if is_fetch(request):
        return JSONResponse({"ok": True})
    return RedirectResponse(then or f"/console/email/{email_id}", status.HTTP_303_SEE_OTHER)


@router.post("/email/{email_id}/labels")
async def labels(
    request: Request,
    staff: EmailStaff,
    email_id: int,
    decision: FormCode = "correct",
    service_code: Short = "",
    kind: Short = "",
    urgency: Short = "",
) -> Response:
    """`decision=confirm` keeps what the model said; `correct` stores the labels chosen in the form."""

    def action(session: Session, row: InboundEmail) -> tuple[str, dict[str, Any]]:
        predicted = email_cases.predicted_labels(row)
        if decision == "confirm":
            if None in predicted.as_dict().values():
                raise email_cases.NotAllowed("there is no prediction to confirm: choose the labels below")
            chosen = predicted
        else:
            chosen = email_cases.Labels(service_code or None, kind or None, urgency or None)
        correction = email_cases.record_labels(session, row, chosen, staff.email)
        before, after = predicted.as_dict(), chosen.as_dict()
        changed = {head: [before[head], after[head]] for head in after if before[head] != after[head]}
        name = "email.correct" if changed else "email.confirm"
        return name, {"correction_id": correction.id, "labels": after, "changed": changed}

    return await _act(request, staff, email_id, action)


@router.post("/email/{email_id}/request")
async def create_request(
    request: Request,
    staff: EmailStaff,
    email_id: int,
    filed: RequestFormData,
) -> Response:
    def action(session: Session, row: InboundEmail) -> tuple[str, dict[str, Any]]:
        created = email_cases.create_request(session, row, filed.request_in("email"), staff.email, staff.department_id)
        audit.record(session, staff.email, "request.create", "service_request", created.reference)
        told = replies.send_reference(session, row, created, _domain(request))
        return "email.request", {"reference": created.reference, "outbound_id": told.id if told else None}

    return await _act(request, staff, email_id, action)


def _domain(request: Request) -> str:
    return message_id_domain(request.app.state.settings.mail_from)


@router.post("/email/{email_id}/reply")
async def reply(request: Request, staff: EmailStaff, email_id: int, text: Text = "") -> Response:
    """Answer the sender by email, through the outbox, threaded on their message; the page lists it as sent."""

    def action(session: Session, row: InboundEmail) -> tuple[str, dict[str, Any]]:
        try:
            sent = replies.send_reply(session, row, text, staff.department_id, _domain(request))
        except replies.CannotReply as refused:
            raise email_cases.NotAllowed(str(refused)) from None
        linked = row.service_request.reference if row.service_request else None
        return "email.reply", {"outbound_id": sent.id, "characters": len(text.strip()), "service_request": linked}

    return await _act(request, staff, email_id, action, draft=text)


@router.post("/email/{email_id}/attach")
async def attach(request: Request, staff: EmailStaff, email_id: int, reference: Short = "") -> Response:
    def action(session: Session, row: InboundEmail) -> tuple[str, dict[str, Any]]:
        found = email_cases.attach_to(session, row, reference, staff.email, staff.department_id)
        detail = {"email": row.id}
        audit.record(session, staff.email, "request.attach_email", "service_request", found.reference, detail)
        return "email.attach", {"reference": found.reference}

    return await _act(request, staff, email_id, action)


@router.post("/email/{email_id}/handled")
async def handled(request: Request, staff: EmailStaff, email_id: int, note: Text = "") -> Response:
    def action(session: Session, row: InboundEmail) -> tuple[str, dict[str, Any]]:
        email_cases.mark_handled(session, row, staff.email)
        linked = row.service_request.reference if row.service_request else None
        return "email.handled", {"note": note.strip()[:2000], "service_request": linked}

    return await _act(request, staff, email_id, action, then="/console/queue")
