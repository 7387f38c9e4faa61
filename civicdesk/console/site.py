"""The resident's side of the web: a Northvale Region page carrying the chat widget, the widget's script, and
the page where a resident stops email updates about their request (the link in each update).

The widget talks to the chat gateway (`civicdesk.chat.gateway`) over its WebSocket; these routes only serve it.
"""

from __future__ import annotations

from typing import Annotated

from anyio import to_thread
from fastapi import APIRouter, Form, Request, status
from fastapi.responses import FileResponse, HTMLResponse, Response
from sqlalchemy import select, update

from civicdesk.console.templating import STATIC, render
from civicdesk.db import transaction, utcnow
from civicdesk.models import ServiceRequest
from civicdesk.service_requests.updates import STOP_PATH, ResidentMail
from civicdesk.work.service_levels import email_reply_promise

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
async def demo_page(request: Request) -> Response:
    """A Northvale Region web page with the widget on it, as the Region's website would carry it."""
    return render(request, "site/index.html", {"email_promise": email_reply_promise()}, private=False)


@router.get("/widget.js")
async def widget_script() -> Response:
    """The widget, for `<script src=".../widget.js" defer>` on any Regional page. Short cache: fixes reach
    residents within minutes."""
    return FileResponse(
        STATIC / "widget.js",
        media_type="text/javascript",
        headers={"Cache-Control": "public, max-age=300", "X-Content-Type-Options": "nosniff"},
    )


@router.get("/favicon.ico")
async def favicon() -> Response:
    """The site's icon (static/favicon.ico, drawn by scripts/make_favicon.py with favicon.svg): browsers and
    bookmark tools ask for it at this path whatever the page says."""
    return FileResponse(
        STATIC / "favicon.ico",
        media_type="image/x-icon",
        headers={"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"},
    )


def _updates_page(request: Request, reference: str, token: str, *, valid: bool, stopped: bool) -> Response:
    context = {"reference": reference if valid else "", "token": token, "valid": valid, "stopped": stopped}
    code = status.HTTP_200_OK if valid else status.HTTP_404_NOT_FOUND
    return render(request, "site/updates.html", context, status_code=code)


def _signed(request: Request, reference: str, token: str) -> bool:
    mail = ResidentMail.from_settings(request.app.state.settings)
    return bool(reference and token) and len(token) < 100 and mail.token_ok(reference, token)


@router.get(STOP_PATH, response_class=HTMLResponse)
async def stop_updates_page(request: Request, token: str = "") -> Response:
    """The link in an update asks first: mail scanners open links, and only the resident should stop updates.
    The reference comes as `?request=` (read by hand: `request` is this handler's HTTP request)."""
    reference = request.query_params.get("request", "").strip().upper()[:20]
    valid = _signed(request, reference, token)

    def stopped_already() -> bool:
        with request.app.state.session_factory() as session:
            when = session.scalar(
                select(ServiceRequest.updates_stopped_at).where(ServiceRequest.reference == reference)
            )
            return when is not None

    stopped = valid and await to_thread.run_sync(stopped_already)
    return _updates_page(request, reference, token, valid=valid, stopped=stopped)


@router.post(STOP_PATH, response_class=HTMLResponse)
async def stop_updates(
    request: Request,
    reference: Annotated[str, Form(alias="request", max_length=40)] = "",
    token: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """No sign-in: the signed token is the permission, for this request's updates only."""
    reference = reference.strip().upper()
    if not _signed(request, reference, token):
        return _updates_page(request, reference, token, valid=False, stopped=False)

    def stop() -> None:
        with transaction(request.app.state.session_factory) as session:
            session.execute(
                update(ServiceRequest)
                .where(ServiceRequest.reference == reference, ServiceRequest.updates_stopped_at.is_(None))
                .values(updates_stopped_at=utcnow())
            )

    await to_thread.run_sync(stop)
    return _updates_page(request, reference, token, valid=True, stopped=True)
