"""Who is asking, and may they: the console's sign-in, role and CSRF checks as FastAPI dependencies.

Every console route except the sign-in page depends on `require(area)`; `civicdesk.staff.auth.AREAS` says which roles
may use each area, and an area it does not list is refused to everyone (deny by default). State-changing
requests must also carry the session's CSRF token, in the `csrf_token` form field or the `X-CSRF-Token` header.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from anyio import to_thread
from fastapi import Depends, Form, HTTPException, Request, WebSocket, status
from fastapi.responses import Response
from starlette.requests import HTTPConnection

from civicdesk import contacts, validation
from civicdesk.db import transaction
from civicdesk.service_requests import service as service_requests
from civicdesk.settings import Settings
from civicdesk.staff import auth

SESSION_COOKIE = "civicdesk_session"
LOGIN_CSRF_COOKIE = "civicdesk_login_csrf"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class Staff:
    user_id: int
    email: str
    name: str
    role: str
    csrf_token: str
    # Set for staff of one department: they see that department's service requests only. Chats and email
    # waiting for triage are Service First's front line and have no department yet: every agent sees them.
    department_id: int | None = None

    @property
    def first_name(self) -> str:
        """What residents see: a first name, never the email address."""
        return self.name.split()[0] if self.name.split() else "An agent"

    def may(self, area: str) -> bool:
        return auth.allowed(self.role, area)


def signed_in(connection: HTTPConnection) -> Staff | None:
    """The staff member behind this request's session cookie, or None."""
    token = connection.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    with transaction(connection.app.state.session_factory) as session:
        found = auth.current(session, token)
        if found is None:
            return None
        user = found.user
        return Staff(user.id, user.email, user.name, user.role, found.csrf_token, user.department_id)


class PageRefused(HTTPException):
    """A console page the signed-in staff member may not see, asked for by a browser: it gets an HTML page with
    the way back (`refused_page`), where an API client gets JSON."""

    def __init__(self, staff: Staff, roles: list[str]) -> None:
        super().__init__(status.HTTP_403_FORBIDDEN, "your role does not give access to this page")
        self.staff = staff
        self.roles = roles  # who may open it


def _wants_html(request: Request) -> bool:
    return request.method in SAFE_METHODS and "text/html" in request.headers.get("accept", "")


async def _csrf_given(request: Request) -> str | None:
    header = request.headers.get("x-csrf-token")
    if header:
        return header
    if request.headers.get("content-type", "").startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        value = (await request.form()).get("csrf_token")
        return value if isinstance(value, str) else None
    return None


def require(area: str) -> Callable[..., Any]:
    """A dependency giving the signed-in staff member allowed in `area`; refuses everyone else."""

    async def dependency(request: Request) -> Staff:
        staff = await to_thread.run_sync(signed_in, request)
        if staff is None:
            if _wants_html(request):
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                raise HTTPException(
                    status.HTTP_303_SEE_OTHER, "sign in first", {"Location": f"/console/login?next={quote(target)}"}
                )
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "sign in first")
        if not staff.may(area):
            if _wants_html(request):
                raise PageRefused(staff, sorted(auth.AREAS.get(area, frozenset())))
            raise HTTPException(status.HTTP_403_FORBIDDEN, "your role does not give access to this page")
        if request.method not in SAFE_METHODS and not auth.csrf_matches(staff.csrf_token, await _csrf_given(request)):
            raise HTTPException(status.HTTP_403_FORBIDDEN, "the form has expired; reload the page and try again")
        return staff

    dependency.area = area  # type: ignore[attr-defined]  # lets a test check every route names an area
    return dependency


def socket_staff(websocket: WebSocket, area: str) -> Staff | None:
    """The staff member allowed in `area` for a WebSocket, or None. The Origin must be this site: browsers send
    cookies with cross-site WebSocket handshakes, so without this check another site could open one."""
    origin = websocket.headers.get("origin")
    host = websocket.headers.get("host")
    if not origin or not host or urlsplit(origin).netloc != host:
        return None
    staff = signed_in(websocket)
    return staff if staff is not None and staff.may(area) else None


def set_cookie(response: Response, settings: Settings, name: str, value: str, max_age: int | None) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        httponly=True,
        secure=settings.secure_cookies,
        samesite="strict",
        path="/",
    )


def is_fetch(request: Request) -> bool:
    """A request made by the console's JavaScript (it asks for JSON) rather than a plain form post."""
    return "application/json" in request.headers.get("accept", "")


ChatStaff = Annotated[Staff, Depends(require("chats"))]
RequestStaff = Annotated[Staff, Depends(require("requests"))]
EmailStaff = Annotated[Staff, Depends(require("email"))]
KbStaff = Annotated[Staff, Depends(require("knowledgebase"))]
GapStaff = Annotated[Staff, Depends(require("gaps"))]
AuditStaff = Annotated[Staff, Depends(require("audit"))]
DashboardStaff = Annotated[Staff, Depends(require("dashboard"))]


# The console's form fields, capped from the one table of input limits (see civicdesk.validation).
FormCode = Annotated[validation.CodeLine, Form()]
FormShort = Annotated[validation.ShortLine, Form()]
FormText = Annotated[validation.DescriptionText, Form()]
FormEmailText = Annotated[validation.EmailReplyText, Form()]


@dataclass(frozen=True)
class RequestForm:
    """The console's "file a service request" form, on a conversation's page and on an email case's page."""

    service_code: str
    description: str
    urgency: str
    kind: str
    address: str
    postal_code: str
    name: str
    email: str
    phone: str

    def request_in(self, channel: str, attributes: dict[str, Any] | None = None) -> service_requests.RequestIn:
        contact = contacts.ContactIn(name=self.name or None, email=self.email or None, phone=self.phone or None)
        return service_requests.RequestIn(
            service_code=self.service_code,
            description=self.description,
            channel=channel,
            address=self.address or None,
            postal_code=self.postal_code or None,
            attributes=attributes or {},
            contact=contact if (self.email or self.phone) else None,
            kind=self.kind,
            urgency=self.urgency,
        )


def request_form(
    service_code: FormCode,
    description: FormEmailText,  # an email's whole text may be the description
    urgency: FormCode = "routine",
    kind: FormCode = "service_request",
    address: Annotated[validation.AddressLine, Form()] = "",
    postal_code: Annotated[validation.PostalCodeLine, Form()] = "",
    name: Annotated[validation.NameLine, Form()] = "",
    email: Annotated[validation.EmailLine, Form()] = "",
    phone: Annotated[validation.PhoneLine, Form()] = "",
) -> RequestForm:
    return RequestForm(service_code, description, urgency, kind, address, postal_code, name, email, phone)


RequestFormData = Annotated[RequestForm, Depends(request_form)]
