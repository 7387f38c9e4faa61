"""Department scoping: staff of one department read and change that department's service requests only, on every
route, and another department's request answers exactly as a request that does not exist.

The sweep takes every route that names a request (by reference, or through a chat or an email case) as an agent of
the waste department, once with a by-law request and once with a reference nobody has filed, and expects the same
status and the same body. A route of the app that could reach a request (a path parameter, or "request" in its
path) must be in the sweep or in EXEMPT with its reason, so a new route cannot be missed.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.routing import APIWebSocketRoute, iter_route_contexts
from fastapi.testclient import TestClient
from helpers import letter
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from civicdesk.app import create_app
from civicdesk.chat import service as chat
from civicdesk.db import transaction
from civicdesk.models import AuditEntry, InboundEmail, ServiceRequest
from civicdesk.service_requests import service as service_requests
from civicdesk.settings import Settings
from civicdesk.staff import auth

PASSWORD = "correct horse battery staple"
SQLITE_ONLY = pytest.mark.parametrize("seeded_template", ["sqlite"], indirect=True)
WASTE_AGENT = "wes.bins@northvale.ca"
GENERALIST = "priya.raman@northvale.ca"  # Service First: no department, sees every request
SECRET = "Tags sprayed across the Elm Street underpass"  # the by-law request's words: never shown to waste


@pytest.fixture
def database_url(seeded_database_url: str) -> str:
    return seeded_database_url


@pytest.fixture
def app(settings: Settings, session_factory: sessionmaker[Session]) -> Any:
    return create_app(settings)


@dataclass(frozen=True)
class World:
    other: str  # a by-law request's reference
    missing: str  # a reference of the same shape that nobody has filed
    chat_other: int  # a chat that filed the by-law request
    chat_none: int  # a chat without a request
    email_other: int  # an email case on the by-law request
    email_none: int  # an email case without a request


def _email(session: Session, message_id: str, request: ServiceRequest | None = None) -> int:
    raw = letter("Graffiti again", "Someone painted the underpass wall.", message_id)
    row = InboundEmail(
        sha256=hashlib.sha256(raw).hexdigest(),
        message_id=message_id,
        source="test",
        raw=raw,
        size=len(raw),
        subject="Graffiti again",
        sender="Priya Raman <priya.raman@example.org>",
        sender_address="priya.raman@example.org",
        status="needs_human",
        status_reason="the model was unsure",
        new_text="Someone painted the underpass wall.",
        service_request=request,
    )
    session.add(row)
    session.flush()
    return row.id


@pytest.fixture
def world(session_factory: sessionmaker[Session]) -> World:
    with transaction(session_factory) as session:
        auth.create_user(session, WASTE_AGENT, "Wes Bins", PASSWORD, "agent", "waste")
        auth.create_user(session, GENERALIST, "Priya Raman", PASSWORD, "agent")
        bylaw = service_requests.create_request(
            session,
            service_requests.RequestIn(service_code="graffiti", description=SECRET, channel="chat", address="Elm St"),
            actor="test",
            require_answers=False,
        )
        assert bylaw.department.code == "bylaw" and bylaw.reference
        filed, plain = chat.start(session), chat.start(session)
        filed.service_request = bylaw  # linked without the chat's "your number is ..." line, to see the page hide it
        session.flush()
        return World(
            other=bylaw.reference,
            missing=bylaw.reference[:-6] + "999999",
            chat_other=filed.id,
            chat_none=plain.id,
            email_other=_email(session, "<filed@example.org>", bylaw),
            email_none=_email(session, "<plain@example.org>"),
        )


def signed_in(app: Any, email: str) -> tuple[TestClient, str]:
    # https, because console cookies are Secure outside development and a client keeps them only over https.
    client = TestClient(app, base_url="https://testserver")
    login = client.get("/console/login").text
    csrf = re.search(r'name="csrf_token" value="([^"]*)"', login)
    assert csrf
    form = {"email": email, "password": PASSWORD, "csrf_token": csrf.group(1)}
    assert client.post("/console/login", data=form, follow_redirects=False).status_code == 303
    token = re.search(r'data-csrf="([^"]+)"', client.get("/console/requests").text)
    assert token
    return client, token.group(1)


# ---- the sweep --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Probe:
    """One route, tried with the other department's request and with one that does not exist.

    `other` and `missing` fill the path's parameters and name the request (a reference in a form or the query);
    `form` is the rest of what is posted. When the request is named by reference, both tries show the same page
    and the whole bodies must match; a chat's or an email's own page differs by that record's state, so there the
    status must match, the JSON answers to the console's script must match, and the page must not show the request.
    """

    other: dict[str, str]
    missing: dict[str, str]
    form: dict[str, str] = field(default_factory=dict)
    by_reference: bool = True


UPDATE = {"status": "acknowledged", "urgency": "urgent", "assignee": "wes", "note": "Ours now."}


def sweep(world: World) -> dict[tuple[str, str], Probe]:
    other, missing = {"reference": world.other}, {"reference": world.missing}
    chats = {"conversation_id": str(world.chat_other)}, {"conversation_id": str(world.chat_none)}
    emails = {"email_id": str(world.email_other)}, {"email_id": str(world.email_none)}
    attach_to = {"email_id": str(world.email_none)}
    return {
        ("GET", "/console/requests"): Probe({"q": world.other}, {"q": world.missing}),
        ("GET", "/console/requests/{reference}"): Probe(other, missing),
        ("POST", "/console/requests/{reference}"): Probe(other, missing, UPDATE),
        ("GET", "/console/chats/{conversation_id}"): Probe(*chats, by_reference=False),
        ("POST", "/console/chats/{conversation_id}/request/update"): Probe(
            *chats, {"status": "acknowledged", "note": "Ours now."}, by_reference=False
        ),
        ("GET", "/console/email/{email_id}"): Probe(*emails, by_reference=False),
        ("POST", "/console/email/{email_id}/attach"): Probe({**attach_to, **other}, {**attach_to, **missing}),
    }


NO_REQUEST = "acts on the conversation or the case itself; reads and changes no service request"
EXEMPT: dict[tuple[str, str], str] = {
    ("POST", "/console/chats/{conversation_id}/claim"): NO_REQUEST,
    ("POST", "/console/chats/{conversation_id}/reply"): NO_REQUEST,
    ("POST", "/console/chats/{conversation_id}/notes"): NO_REQUEST,
    ("POST", "/console/chats/{conversation_id}/close"): NO_REQUEST,
    ("POST", "/console/chats/{conversation_id}/handback"): NO_REQUEST,
    ("WS", "/console/chats/{conversation_id}/ws"): "streams the conversation's messages and owner only",
    ("POST", "/console/email/{email_id}/labels"): "stores training labels; no service request",
    ("POST", "/console/email/{email_id}/handled"): "closes the case; a linked request's reference goes to the audit "
    "log only",
    ("POST", "/console/email/{email_id}/reply"): "answers the case's sender; on another department's request it "
    "is refused naming no request, as the case page already says: see test_console_email.py "
    "test_an_agent_answers_an_email_case_threaded_on_the_residents_message",
    ("POST", "/console/chats/{conversation_id}/request"): "files a new request: see "
    "test_filing_on_a_chat_or_email_of_another_department_names_no_request",
    ("POST", "/console/email/{email_id}/request"): "files a new request: see "
    "test_filing_on_a_chat_or_email_of_another_department_names_no_request",
    ("GET", "/console/kb/{slug}"): "a knowledgebase article",
    ("GET", "/console/kb/{slug}/history"): "a knowledgebase article",
    ("GET", "/api/v1/requests/{reference}"): "the assistant's status lookup with the service token: no staff user",
    ("POST", "/api/v1/requests"): "files a new request with the service token: no staff user",
    ("POST", "/api/v1/forms/requests"): "a mailed form, not a service request",
    ("DELETE", "/api/v1/appointments/bookings/{reference}"): "a booking's reference, not a service request",
    ("PATCH", "/api/v1/appointments/bookings/{reference}"): "a booking's reference, not a service request",
    ("POST", "/api/v1/events/{code}/rsvps"): "an event, not a service request",
    ("DELETE", "/api/v1/events/rsvps/{reference}"): "an RSVP's reference, not a service request",
    ("GET", "/services/{service_code}.{format}"): "Open311's public catalogue",
    ("GET", "/requests.{format}"): "Open311: public fields of public requests for anyone, no staff user",
    ("POST", "/requests.{format}"): "Open311: files a new request with an API key, no staff user",
    ("GET", "/requests/{service_request_id}.{format}"): "Open311: public fields for anyone, no staff user",
    ("GET", "/tokens/{token}.{format}"): "Open311: a filing token for anyone, no staff user",
    ("GET", "/services.{format}"): "Open311's public catalogue",
}


def could_reach_a_request(path: str) -> bool:
    return "{" in path or "request" in path


@SQLITE_ONLY
def test_every_route_that_could_reach_a_request_is_swept_or_exempt_with_a_reason(app: Any) -> None:
    table = sweep(World("SR-2026-000001", "SR-2026-999999", 1, 2, 1, 2))
    found = set()
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        path = getattr(route, "path", "")
        if not could_reach_a_request(path) or path.startswith("/static"):
            continue
        methods = {"WS"} if isinstance(route, APIWebSocketRoute) else set(getattr(route, "methods", None) or ())
        found |= {(method, path) for method in methods - {"HEAD"}}
    missed = found - set(table) - set(EXEMPT)
    assert not missed, f"add these routes to the sweep or to EXEMPT with a reason: {sorted(missed)}"
    assert not (set(table) | set(EXEMPT)) - found, "the sweep or EXEMPT lists a route the app no longer has"
    assert set(table) & set(EXEMPT) == set()


def _call(
    client: TestClient, csrf: str, method: str, path: str, probe: Probe, named: dict[str, str], fetch: bool
) -> Any:
    parameters = {k: v for k, v in named.items() if "{" + k + "}" in path}
    rest = {k: v for k, v in named.items() if k not in parameters}
    url = path.format(**parameters)
    headers = {"accept": "application/json"} if fetch else {"accept": "text/html"}
    if method == "GET":
        return client.get(url, params=rest, headers=headers, follow_redirects=False)
    return client.post(url, data={"csrf_token": csrf, **probe.form, **rest}, headers=headers, follow_redirects=False)


def _masked(text: str, world: World) -> str:
    return text.replace(world.other, "<reference>").replace(world.missing, "<reference>")


@SQLITE_ONLY
def test_another_departments_request_answers_as_one_that_does_not_exist_on_every_route(
    app: Any, world: World, session_factory: sessionmaker[Session]
) -> None:
    generalist, _ = signed_in(app, GENERALIST)
    assert SECRET in generalist.get(f"/console/requests/{world.other}").text  # it is there to be found
    assert world.other in generalist.get(f"/console/chats/{world.chat_other}").text

    client, csrf = signed_in(app, WASTE_AGENT)
    for (method, path), probe in sweep(world).items():
        for fetch in (False, True) if method == "POST" else (False,):
            other = _call(client, csrf, method, path, probe, probe.other, fetch)
            missing = _call(client, csrf, method, path, probe, probe.missing, fetch)
            where = f"{method} {path} ({'fetch' if fetch else 'form'})"
            assert other.status_code == missing.status_code, f"{where}: {other.status_code} {other.text[:300]}"
            if method == "POST":  # refused: nothing was changed
                assert other.status_code not in (200, 303) and other.status_code < 500, where
            if probe.by_reference or fetch:
                assert _masked(other.text, world) == _masked(missing.text, world), where
            else:
                for shown in (world.other, SECRET, "Linked:"):
                    assert shown not in other.text, f"{where} shows {shown!r}"
            assert SECRET not in other.text, where

    with session_factory() as session:
        bylaw = session.scalars(select(ServiceRequest).where(ServiceRequest.reference == world.other)).one()
        assert (bylaw.status, bylaw.urgency, bylaw.assignee) == ("open", "routine", None)
        assert bylaw.notes == [] and [c.field for c in bylaw.history] == ["created"]
        linked = session.scalars(select(InboundEmail.id).where(InboundEmail.service_request_id == bylaw.id)).all()
        assert linked == [world.email_other]
        touched = session.scalars(
            select(AuditEntry.action).where(
                AuditEntry.actor == WASTE_AGENT, AuditEntry.record_type == "service_request"
            )
        ).all()
        assert touched == []


@SQLITE_ONLY
def test_a_chat_and_an_email_on_another_departments_request_say_so_and_stay_usable(app: Any, world: World) -> None:
    client, csrf = signed_in(app, WASTE_AGENT)
    page = client.get(f"/console/chats/{world.chat_other}")
    assert page.status_code == 200 and "filed a service request that another department handles" in page.text
    assert f'action="/console/chats/{world.chat_other}/notes"' in page.text  # the chat itself works on
    form = {"csrf_token": csrf, "body": "Called back."}
    note = client.post(f"/console/chats/{world.chat_other}/notes", data=form, follow_redirects=False)
    assert note.status_code == 303
    case = client.get(f"/console/email/{world.email_other}")
    assert case.status_code == 200 and "on a service request that another department handles" in case.text
    assert world.other not in case.text and "/attach" not in case.text


@SQLITE_ONLY
def test_filing_on_a_chat_or_email_of_another_department_names_no_request(
    app: Any, world: World, session_factory: sessionmaker[Session]
) -> None:
    client, csrf = signed_in(app, WASTE_AGENT)
    form = {"csrf_token": csrf, "service_code": "missed_collection", "description": "Bins missed on Elm Street."}
    fetch = {"accept": "application/json"}
    for path, refusal in (
        (f"/console/chats/{world.chat_other}/request", "this conversation already has a request of another department"),
        (
            f"/console/email/{world.email_other}/request",
            "this email is already linked to a request of another department",
        ),
    ):
        refused = client.post(path, data=form, headers=fetch)
        assert (refused.status_code, refused.json()) == (409, {"detail": refusal}), path
    with session_factory() as session:
        assert session.scalars(select(ServiceRequest.reference)).all() == [world.other]


@SQLITE_ONLY
def test_a_department_supervisor_sees_only_their_departments_emergencies_on_the_dashboard(
    app: Any, world: World, session_factory: sessionmaker[Session]
) -> None:
    references = {}
    with transaction(session_factory) as session:
        auth.create_user(session, "ann.bins@northvale.ca", "Ann Bins", PASSWORD, "supervisor", "waste")
        for code, words in (("graffiti", "Hate graffiti on the school"), ("illegal_dumping", "Drums leaking oil")):
            created = service_requests.create_request(
                session,
                service_requests.RequestIn(
                    service_code=code, description=words, channel="phone", address="1 Elm St", urgency="emergency"
                ),
                actor="test",
                require_answers=False,
            )
            references[code] = created.reference
    client, _ = signed_in(app, "ann.bins@northvale.ca")
    board = client.get("/console/dashboard").text
    assert references["illegal_dumping"] in board and "Drums leaking oil" in board
    assert references["graffiti"] not in board and "Hate graffiti" not in board
