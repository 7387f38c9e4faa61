"""Signing in and out of the console, and the console's front door (which sends each role to its work).

The sign-in form has no session yet, so its CSRF protection is a double-submit token: a random value in an
HttpOnly, SameSite=Strict cookie that the form must echo back.
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Annotated

from anyio import to_thread
from fastapi import APIRouter, Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from civicdesk.console.deps import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    set_cookie,
    signed_in,
)
from civicdesk.console.templating import render
from civicdesk.db import transaction
from civicdesk.deps import client_address, get_settings_dep
from civicdesk.limits import LIMITS
from civicdesk.staff import auth

router = APIRouter()

# Where each role starts, in order of preference.
LANDING = (("chats", "/console/queue"), ("knowledgebase", "/console/kb"), ("audit", "/console/audit"))


def _safe_next(target: str | None) -> str:
    """Only a path on this site (never `//evil.example` or a full URL): no open redirect."""
    if target and target.startswith("/console") and not target.startswith("//") and "\\" not in target:
        return target
    return "/console"


def _login_page(request: Request, error: str | None, next_url: str, email: str = "", code: int = 200) -> Response:
    token = secrets.token_urlsafe(32)
    response = render(
        request,
        "console/login.html",
        {"error": error, "next_url": next_url, "login_csrf": token, "email": email, "staff": None},
        status_code=code,
    )
    set_cookie(response, get_settings_dep(request), LOGIN_CSRF_COOKIE, token, max_age=3600)
    return response


@router.get("/console/login", response_class=HTMLResponse)
async def login_page(request: Request, next: str | None = None) -> Response:  # noqa: A002 (the query name)
    return _login_page(request, None, _safe_next(next))


@router.post("/console/login")
async def login(
    request: Request,
    email: Annotated[str, Form(max_length=LIMITS["email"])],
    password: Annotated[str, Form(max_length=LIMITS["password"])],
    csrf_token: Annotated[str, Form(max_length=LIMITS["short"])],
    next: Annotated[str, Form(max_length=LIMITS["short"])] = "/console",  # noqa: A002
) -> Response:
    if not auth.csrf_matches(request.cookies.get(LOGIN_CSRF_COOKIE, ""), csrf_token):
        return _login_page(request, "The form had expired. Please sign in again.", _safe_next(next), email, 403)
    settings = get_settings_dep(request)
    lifetime = dt.timedelta(hours=settings.console_session_hours)

    def attempt() -> auth.NewSession:
        with request.app.state.session_factory() as session:
            try:
                _user, opened = auth.login(session, email, password, client_address(request), lifetime)
            except auth.LoginRefused:
                session.commit()  # the failed attempt is kept: it counts towards throttling
                raise
            session.commit()
            return opened

    try:
        opened = await to_thread.run_sync(attempt)
    except auth.LoginRefused as refused:
        return _login_page(request, str(refused), _safe_next(next), email, 401)
    response = RedirectResponse(_safe_next(next), status.HTTP_303_SEE_OTHER)
    set_cookie(response, settings, SESSION_COOKIE, opened.token, max_age=int(lifetime.total_seconds()))
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return response


@router.post("/console/logout")
async def logout(request: Request, csrf_token: Annotated[str, Form(max_length=100)] = "") -> Response:
    staff = await to_thread.run_sync(signed_in, request)
    if staff is not None:
        if not auth.csrf_matches(staff.csrf_token, csrf_token or request.headers.get("x-csrf-token")):
            raise HTTPException(status.HTTP_403_FORBIDDEN, "the form has expired; reload the page and try again")

        def end() -> None:
            with transaction(request.app.state.session_factory) as session:
                auth.logout(session, request.cookies.get(SESSION_COOKIE))

        await to_thread.run_sync(end)
    response = RedirectResponse("/console/login", status.HTTP_303_SEE_OTHER)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/console", response_class=HTMLResponse)
async def front_door(request: Request) -> Response:
    staff = await to_thread.run_sync(signed_in, request)
    if staff is None:
        return RedirectResponse("/console/login", status.HTTP_303_SEE_OTHER)
    for area, url in LANDING:
        if staff.may(area):
            return RedirectResponse(url, status.HTTP_303_SEE_OTHER)
    raise HTTPException(status.HTTP_403_FORBIDDEN, "your role gives access to no console page")
