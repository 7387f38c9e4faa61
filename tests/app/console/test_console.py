"""The agent console and the live chat path, without a browser: sign-in, roles, CSRF, the queue, claim, reply,
notes, service requests, hand back, the callback offer, and resident text staying text.

helpers.FakeRasa stands in for the assistant, so the tests can check exactly what the gateway sends it
(`/handback`, a button's payload) and feed it a handoff with a summary. The real Rasa is used by
test_chat_rasa.py and test_browser.py.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.routing import APIRoute, APIWebSocketRoute, iter_route_contexts
from fastapi.testclient import TestClient
from helpers import HANDOFF, MENU_PAYLOAD, SCRIPT, FakeRasa
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker
from starlette.websockets import WebSocketDisconnect

from civicdesk.app import create_app
from civicdesk.chat import service as chat
from civicdesk.db import transaction
from civicdesk.models import (
    AuditEntry,
    ChatMessage,
    Conversation,
    Department,
    Holiday,
    LoginAttempt,
    ServiceRequest,
)
from civicdesk.service_requests import service as service_requests
from civicdesk.settings import Settings
from civicdesk.staff import auth

PASSWORD = "correct horse battery staple"
# Checks that depend on no database feature run on SQLite only; the queue, search and chat flows run on both.
SQLITE_ONLY = pytest.mark.parametrize("seeded_template", ["sqlite"], indirect=True)


@pytest.fixture(scope="module")
def rasa() -> Iterator[FakeRasa]:
    fake = FakeRasa()
    yield fake
    fake.server.shutdown()


@pytest.fixture
def database_url(seeded_database_url: str) -> str:
    return seeded_database_url


@pytest.fixture
def app_settings(settings: Settings, rasa: FakeRasa) -> Settings:
    return settings.model_copy(update={"rasa_url": rasa.url, "chat_poll_seconds": 0.2})


@pytest.fixture
def app(app_settings: Settings, session_factory: sessionmaker[Session]) -> Any:
    return create_app(app_settings)


def browser(app: Any) -> TestClient:
    # https, because console cookies are Secure outside development and a client keeps them only over https.
    return TestClient(app, base_url="https://testserver")


@pytest.fixture
def staff(session_factory: sessionmaker[Session]) -> dict[str, str]:
    people = {
        "agent": ("priya.raman@northvale.ca", "Priya Raman"),
        "agent2": ("tom.wong@northvale.ca", "Tom Wong"),
        "trainer": ("sam.okafor@northvale.ca", "Sam Okafor"),
        "supervisor": ("ann.leblanc@northvale.ca", "Ann Leblanc"),
    }
    with transaction(session_factory) as session:
        for key, (email, name) in people.items():
            auth.create_user(session, email, name, PASSWORD, key.rstrip("2"))
    return {key: email for key, (email, _name) in people.items()}


def hidden(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found, f"no {name} field in the page"
    return found.group(1)


def sign_in(client: TestClient, email: str, password: str = PASSWORD) -> Any:
    page = client.get("/console/login")
    return client.post(
        "/console/login",
        data={"email": email, "password": password, "csrf_token": hidden(page.text, "csrf_token")},
        follow_redirects=False,
    )


def signed_in(app: Any, email: str) -> tuple[TestClient, str]:
    client = browser(app)
    assert sign_in(client, email).status_code == 303
    page = client.get("/console/requests")
    csrf = re.search(r'data-csrf="([^"]+)"', page.text)
    if csrf is None:  # a role without requests: any page carries the token
        csrf = re.search(r'data-csrf="([^"]+)"', client.get("/console/kb").text)
    assert csrf
    return client, csrf.group(1)


def socket_headers(client: TestClient, origin: str = "https://testserver") -> dict[str, str]:
    # TestClient opens sockets as ws://, over which a client holds back Secure cookies: hand the cookie over.
    return {"origin": origin, "cookie": f"civicdesk_session={client.cookies.get('civicdesk_session')}"}


def receive_until(socket: Any, predicate: Any, limit: int = 12) -> list[dict[str, Any]]:
    """Messages up to and including the first that matches; bounded, so a missing one fails, not hangs."""
    seen: list[dict[str, Any]] = []
    for _ in range(limit):
        seen.append(socket.receive_json())
        if predicate(seen[-1]):
            return seen
    raise AssertionError(f"not received; got {seen}")


def text_is(fragment: str) -> Any:
    return lambda m: m.get("type") == "message" and fragment in str(m.get("text"))


# ---- sign-in, sessions, throttling -----------------------------------------------------------------------


@SQLITE_ONLY
def test_sign_in_sets_a_protected_cookie_and_sign_out_ends_the_session(app: Any, staff: dict[str, str]) -> None:
    client = browser(app)
    response = sign_in(client, staff["agent"])
    assert response.status_code == 303 and response.headers["location"] == "/console"
    cookie = next(v for k, v in response.headers.multi_items() if k == "set-cookie" and "civicdesk_session=" in v)
    flags = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert {"httponly", "secure", "samesite", "path"} <= flags and "samesite=strict" in cookie.lower()
    assert client.get("/console", follow_redirects=False).headers["location"] == "/console/queue"
    queue = client.get("/console/queue")
    assert queue.status_code == 200 and "Work queue" in queue.text
    assert "script-src 'self'" in queue.headers["content-security-policy"]
    assert queue.headers["cache-control"] == "no-store"
    token = client.cookies.get("civicdesk_session")

    out = client.post("/console/logout", data={"csrf_token": hidden(queue.text, "csrf_token")}, follow_redirects=False)
    assert out.status_code == 303
    replay = browser(app)
    replay.cookies.set("civicdesk_session", token, domain="testserver")
    assert replay.get("/console/api/queue").status_code == 401  # the old cookie is worthless


@SQLITE_ONLY
def test_wrong_passwords_are_refused_then_throttled(
    app: Any, staff: dict[str, str], session_factory: sessionmaker[Session]
) -> None:
    client = browser(app)
    assert sign_in(client, "nobody@northvale.ca").status_code == 401
    for _ in range(auth.FREE_FAILURES):
        refused = sign_in(client, staff["agent"], "not the password at all")
        assert refused.status_code == 401 and "not correct" in refused.text
    with transaction(session_factory) as session:  # seven more failures just now: the next try waits 15 minutes
        session.add_all(LoginAttempt(email=staff["agent"], address="testclient", ok=False) for _ in range(7))
    blocked = sign_in(client, staff["agent"])  # the right password, too soon
    assert blocked.status_code == 401
    assert "Too many failed attempts from this address. Try again in 15 minutes." in blocked.text
    assert sign_in(client, staff["agent2"]).status_code == 303  # others are not locked out
    with session_factory() as session:
        assert len(session.scalars(select(LoginAttempt).where(LoginAttempt.ok.is_(False))).all()) == 11
        throttled = session.scalars(select(AuditEntry).where(AuditEntry.action == "auth.throttled")).one()
        assert throttled.record_id == staff["agent"] and throttled.detail["address"] == "testclient"


@SQLITE_ONLY
def test_a_disabled_account_loses_its_session_at_once(
    app: Any, staff: dict[str, str], session_factory: sessionmaker[Session]
) -> None:
    client, _ = signed_in(app, staff["agent"])
    with transaction(session_factory) as session:
        auth.disable_user(session, staff["agent"], actor="ann.leblanc@northvale.ca")
    assert client.get("/console/api/queue").status_code == 401
    assert sign_in(browser(app), staff["agent"]).status_code == 401


@SQLITE_ONLY
def test_users_need_a_valid_role_and_a_long_password(session_factory: sessionmaker[Session]) -> None:
    with transaction(session_factory) as session:
        with pytest.raises(auth.InvalidInput, match="role"):
            auth.create_user(session, "a@northvale.ca", "A Person", PASSWORD, "mayor")
        with pytest.raises(auth.InvalidInput, match="12 characters"):
            auth.create_user(session, "a@northvale.ca", "A Person", "short", "agent")
        user = auth.create_user(session, "A@Northvale.ca", "A Person", PASSWORD, "agent", "service_first")
        assert user.email == "a@northvale.ca" and user.password_hash.startswith("$argon2id$")
        assert PASSWORD not in user.password_hash
        assert [u.email for u in auth.list_users(session)] == ["a@northvale.ca"]


# ---- deny by default -------------------------------------------------------------------------------------

OPEN_ROUTES = {"/console/login", "/console/logout", "/console"}
SAMPLE = {"conversation_id": "1", "reference": "SR-2026-000001", "slug": "garbage-collection-day", "email_id": "1"}


def all_routes(app: Any) -> list[Any]:
    """Every route with its full path (FastAPI keeps included routers as branches of app.routes)."""
    return [context.original_route for context in iter_route_contexts(app.routes)]


def console_routes(app: Any) -> list[tuple[str, str]]:
    found = []
    for route in all_routes(app):
        if not route.path.startswith("/console") or route.path in OPEN_ROUTES:
            continue
        path = re.sub(r"{(\w+)}", lambda m: SAMPLE[m.group(1)], route.path)
        if isinstance(route, APIWebSocketRoute):
            found.append(("WS", path))
        elif isinstance(route, APIRoute):
            found.extend((method, path) for method in sorted(route.methods - {"HEAD"}))
    return found


@SQLITE_ONLY
def test_every_console_route_names_the_area_it_belongs_to(app: Any) -> None:
    checked = 0
    for route in all_routes(app):
        if isinstance(route, APIRoute) and route.path.startswith("/console") and route.path not in OPEN_ROUTES:
            areas = [getattr(d.call, "area", None) for d in route.dependant.dependencies]
            assert any(a in auth.AREAS for a in areas), f"{route.path} has no role check"
            checked += 1
    assert checked >= 20


@SQLITE_ONLY
def test_anonymous_visitors_are_refused_on_every_console_page_and_api(app: Any) -> None:
    client = browser(app)
    routes = console_routes(app)
    assert len(routes) >= 20
    for method, path in routes:
        if method == "WS":
            with (
                pytest.raises(WebSocketDisconnect),
                client.websocket_connect(path, headers={"origin": "https://testserver"}) as ws,
            ):
                ws.receive_json()
            continue
        response = client.request(method, path, headers={"accept": "text/html"}, follow_redirects=False)
        if method == "GET":
            assert response.status_code == 303, path
            assert response.headers["location"].startswith("/console/login?next="), path
        else:
            assert response.status_code == 401, (method, path)


@SQLITE_ONLY
def test_each_role_is_refused_outside_its_areas(app: Any, staff: dict[str, str]) -> None:
    refused = {"agent": ("knowledgebase", "gaps", "audit", "models", "dashboard", "reports"),
               "trainer": ("chats", "requests", "email", "audit", "dashboard", "reports"),
               "supervisor": ("models",)}  # fmt: skip
    area_of = {"queue": "chats", "api": "chats", "chats": "chats", "requests": "requests", "kb": "knowledgebase",
               "gaps": "gaps", "audit": "audit", "email": "email", "models": "models",
               "dashboard": "dashboard", "reports": "reports"}  # fmt: skip
    for role, areas in refused.items():
        client, csrf = signed_in(app, staff[role])
        checked = 0
        for method, path in console_routes(app):
            if method == "WS" or area_of[path.split("/")[2]] not in areas:
                continue
            response = client.request(method, path, headers={"x-csrf-token": csrf}, follow_redirects=False)
            assert response.status_code == 403, (role, method, path)
            checked += 1
        assert checked >= 3
    supervisor, _ = signed_in(app, staff["supervisor"])
    assert supervisor.get("/console/audit").status_code == 200


@SQLITE_ONLY
def test_posts_without_the_csrf_token_are_refused(
    app: Any, staff: dict[str, str], session_factory: sessionmaker[Session]
) -> None:
    with transaction(session_factory) as session:
        conversation = chat.start(session)
        chat.to_queue(session, conversation, "resident_request")
        conversation_id = conversation.id
    client, csrf = signed_in(app, staff["agent"])
    for headers in ({}, {"x-csrf-token": "forged"}):
        response = client.post(f"/console/chats/{conversation_id}/claim", headers=headers)
        assert response.status_code == 403
    with session_factory() as session:
        assert session.get(Conversation, conversation_id).owner == "waiting"  # type: ignore[union-attr]
    assert client.post(f"/console/chats/{conversation_id}/claim", data={"csrf_token": csrf}).status_code == 200
    fresh = browser(app)
    no_token = fresh.post("/console/login", data={"email": staff["agent"], "password": PASSWORD, "csrf_token": "x"})
    assert no_token.status_code == 403 and "civicdesk_session" not in fresh.cookies


@SQLITE_ONLY
def test_the_agent_socket_refuses_strangers_and_other_sites(app: Any, staff: dict[str, str]) -> None:
    client, _ = signed_in(app, staff["agent"])
    with client.websocket_connect("/chat/ws") as resident:
        resident.receive_json()
        resident.send_json({"type": "end"})  # the first input writes conversation 1
        resident.receive_json()
    with (
        pytest.raises(WebSocketDisconnect),
        client.websocket_connect("/console/chats/1/ws", headers=socket_headers(client, "https://evil.example")) as ws,
    ):
        ws.receive_json()
    trainer, _ = signed_in(app, staff["trainer"])
    with (
        pytest.raises(WebSocketDisconnect),
        trainer.websocket_connect("/console/chats/1/ws", headers=socket_headers(trainer)) as ws,
    ):
        ws.receive_json()
    with client.websocket_connect("/console/chats/1/ws", headers=socket_headers(client)) as ws:
        receive_until(ws, lambda m: m.get("type") == "state")  # after the conversation's messages


# ---- the chat path -----------------------------------------------------------------------------------------


@SQLITE_ONLY
@pytest.mark.timeout(120)
def test_buttons_pass_through_and_typed_text_cannot_send_intents(app: Any, rasa: FakeRasa) -> None:
    client = browser(app)
    with client.websocket_connect("/chat/ws") as socket:
        conversation = socket.receive_json()["id"]
        socket.send_json({"type": "message", "text": "menu"})
        assert socket.receive_json() == {"type": "typing"}
        menu = socket.receive_json()
        assert menu["buttons"] == [{"title": "Garbage and recycling", "payload": MENU_PAYLOAD}]
        socket.send_json({"type": "message", "text": "Garbage and recycling", "payload": MENU_PAYLOAD})
        receive_until(socket, text_is("You said: /ask_question"))
        socket.send_json({"type": "message", "text": "Talk to a person", "payload": "/request_human"})
        assert socket.receive_json() == {"type": "error", "message": "that button is no longer available"}
        socket.send_json({"type": "message", "text": "/handback"})
        receive_until(socket, text_is("You said: handback"))
    assert (conversation, MENU_PAYLOAD) in rasa.received
    assert (conversation, "handback") in rasa.received and (conversation, "/handback") not in rasa.received
    with client.websocket_connect(f"/chat/ws?conversation={conversation}") as socket:
        history = socket.receive_json()["history"]
    assert [m["text"] for m in history if m["author"] == "resident"][:2] == ["menu", "Garbage and recycling"]


@pytest.mark.timeout(120)
def test_handoff_claim_reply_note_request_and_hand_back(
    app: Any, rasa: FakeRasa, staff: dict[str, str], session_factory: sessionmaker[Session]
) -> None:
    resident = browser(app)
    agent, csrf = signed_in(app, staff["agent"])
    fetch = {"accept": "application/json", "x-csrf-token": csrf}
    with resident.websocket_connect("/chat/ws") as widget:
        public_id = widget.receive_json()["id"]
        widget.send_json({"type": "message", "text": "I need to talk to a person about a pothole"})
        queued = receive_until(widget, text_is("in the queue"))[-1]
        assert "number 1 in the queue" in queued["text"]
        with session_factory() as session:
            conversation_id = chat.find(session, public_id).id

        listed = agent.get("/console/api/queue").json()["items"]
        assert [(i["kind"], i["urgency"], i["title"]) for i in listed] == [
            ("chat", "urgent", HANDOFF["handoff"]["summary"])
        ]
        page = agent.get(f"/console/chats/{conversation_id}").text
        assert HANDOFF["handoff"]["summary"] in page and "Harlow Road at Elm Street" in page and "30 cm" in page

        assert agent.post(f"/console/chats/{conversation_id}/claim", headers=fetch).json() == {"ok": True}
        assert receive_until(widget, text_is("Priya from Service First has joined"))
        with agent.websocket_connect(f"/console/chats/{conversation_id}/ws", headers=socket_headers(agent)) as console:
            receive_until(console, lambda m: m.get("type") == "state" and m["mine"])
            started = time.monotonic()
            reply = agent.post(
                f"/console/chats/{conversation_id}/reply", data={"text": "Hi, I can help with that."}, headers=fetch
            )
            assert reply.status_code == 200
            answer = receive_until(widget, text_is("I can help with that"))[-1]
            assert time.monotonic() - started < 1.0  # in-process wake-up, not the poll
            assert (answer["author"], answer["name"]) == ("agent", "Priya")
            widget.send_json({"type": "message", "text": "It is right by the bus stop."})
            heard = receive_until(console, text_is("right by the bus stop"))[-1]  # no "typing": the agent answers
            assert heard["author"] == "resident"
            assert (public_id, "It is right by the bus stop.") not in rasa.received  # the agent holds it

            agent.post(f"/console/chats/{conversation_id}/notes", data={"body": "Resident is polite."}, headers=fetch)
            form = {
                "service_code": "road_repair",
                "description": "Pothole by the bus stop on Harlow Road at Elm Street.",
                "address": "Harlow Road at Elm Street",
                "urgency": "urgent",
                "attribute.hole_size": "plate_to_tire",
            }
            unanswered = agent.post(f"/console/chats/{conversation_id}/request", data=form, headers=fetch)
            assert unanswered.status_code == 422 and "Where on the road" in unanswered.json()["detail"]
            form["attribute.position"] = "driving_lane"
            made = agent.post(f"/console/chats/{conversation_id}/request", data=form, headers=fetch)
            assert made.status_code == 200
            with session_factory() as session:
                linked = session.scalar(
                    select(ServiceRequest).join(Conversation, Conversation.service_request_id == ServiceRequest.id)
                )
                assert linked is not None and (linked.channel, linked.urgency) == ("chat", "urgent")
                assert linked.attributes == {"hole_size": "plate_to_tire", "position": "driving_lane"}
                reference = linked.reference
            assert receive_until(widget, text_is(f"Your service request number is {reference}"))

            handed = agent.post(f"/console/chats/{conversation_id}/handback", headers=fetch)
            assert handed.json() == {"ok": True}
            answered = receive_until(widget, text_is("Thanks for waiting"))
            assert answered[-1]["author"] == "bot"
            assert not [m for m in answered if m.get("author") == "system"]  # state frames have no author
            assert rasa.received[-1] == (public_id, "/handback")
            receive_until(console, lambda m: m.get("type") == "state" and m["owner"] == "bot")

    with resident.websocket_connect(f"/chat/ws?conversation={public_id}") as widget:
        history = widget.receive_json()["history"]
    assert all("polite" not in m["text"] for m in history)  # internal notes never reach the resident
    with session_factory() as session:
        actions = session.scalars(
            select(AuditEntry.action).where(
                AuditEntry.record_type == "conversation", AuditEntry.actor == staff["agent"]
            )
        ).all()
    assert {"chat.claim", "chat.reply", "chat.note", "chat.request", "chat.hand_back"} <= set(actions)


def test_the_queue_goes_by_urgency_then_waiting_time(session_factory: sessionmaker[Session]) -> None:
    start = dt.datetime(2026, 11, 23, 15, 0, tzinfo=dt.UTC)  # a Monday, 10:00 in Northvale
    with transaction(session_factory) as session:
        early, late_urgent, later = chat.start(session), chat.start(session), chat.start(session)
        chat.to_queue(session, early, "resident_request", now=start)
        chat.to_queue(session, late_urgent, "resident_request", urgency="urgent", now=start + dt.timedelta(minutes=5))
        chat.to_queue(session, later, "assistant_unavailable", now=start + dt.timedelta(minutes=6))
        assert [c.id for c in chat.waiting(session)] == [late_urgent.id, early.id, later.id]
        positions = [chat.queue_position(session, c) for c in (late_urgent, early, later)]
        assert positions == [1, 2, 3]
        chat.claim(session, late_urgent, "priya.raman@northvale.ca", "Priya")
        assert chat.queue_position(session, later) == 2


def test_outside_business_hours_the_resident_is_offered_a_callback(session_factory: sessionmaker[Session]) -> None:
    saturday = dt.datetime(2026, 11, 28, 17, 0, tzinfo=dt.UTC)  # noon on a Saturday in Northvale
    monday_morning = dt.datetime(2026, 11, 23, 14, 0, tzinfo=dt.UTC)  # 9:00 on a Monday
    with transaction(session_factory) as session:
        assert chat.agents_available(session, monday_morning) == (True, None)
        open_now, opens = chat.agents_available(session, saturday)
        assert not open_now and opens == dt.datetime(2026, 11, 30, 13, 0, tzinfo=dt.UTC)
        message = chat.to_queue(session, chat.start(session), "resident_request", now=saturday)
        assert message.payload["offer"] == ["callback", "message"]
        assert "next in at 8:00 a.m. on Monday, November 30. Instead of waiting" in message.text
        early = dt.datetime(2026, 11, 24, 10, 0, tzinfo=dt.UTC)  # 5:00 on a Tuesday
        assert "next in at 8:00 a.m. today." in chat.to_queue(session, chat.start(session), "x", now=early).text
        assert "number 1 in the queue" in message.text


@pytest.mark.timeout(120)
def test_a_long_wait_offers_a_callback_that_becomes_a_service_request(
    app_settings: Settings, session_factory: sessionmaker[Session]
) -> None:
    with transaction(session_factory) as session:  # agents always at work, so the wait is what triggers the offer
        centre = session.scalars(select(Department).where(Department.code == "service_first")).one()
        centre.business_hours = {day: "00:00-24:00" for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
        session.execute(delete(Holiday))
    impatient = create_app(app_settings.model_copy(update={"chat_agent_wait_seconds": 0.5}))
    with browser(impatient).websocket_connect("/chat/ws") as widget:
        public_id = widget.receive_json()["id"]
        widget.send_json({"type": "message", "text": "can I speak to an agent"})
        receive_until(widget, text_is("in the queue"))
        offer = receive_until(widget, lambda m: bool(m.get("offer")))[-1]
        assert "all our agents are busy" in offer["text"]
        widget.send_json({"type": "leave_message", "choice": "callback", "text": "Please call about my water bill."})
        assert widget.receive_json() == {
            "type": "error",
            "message": "give a phone number for the callback",
            "field": "phone",
        }
        widget.send_json(
            {
                "type": "leave_message",
                "choice": "callback",
                "text": "Please call about my water bill.",
                "name": "Mei Chen",
                "phone": "905-555-0177",
            }
        )
        done = receive_until(widget, text_is("as service request SR-"))[-1]
    reference = re.search(r"SR-\d{4}-\d{6}", done["text"]).group(0)  # type: ignore[union-attr]
    with session_factory() as session:
        request = service_requests.get_by_reference(session, reference)
        assert request.channel == "chat" and request.contact is not None and request.contact.phone == "9055550177"
        assert "Please call about my water bill." in request.description
        assert request.attributes == {"preferred_contact": "phone"}
        conversation = chat.find(session, public_id)
        assert conversation.owner == "closed" and conversation.service_request_id == request.id


# ---- resident text stays text -----------------------------------------------------------------------------


@SQLITE_ONLY
@pytest.mark.timeout(120)
def test_markup_typed_by_a_resident_is_shown_as_text_in_the_console(
    app: Any, staff: dict[str, str], session_factory: sessionmaker[Session]
) -> None:
    with browser(app).websocket_connect("/chat/ws") as widget:
        public_id = widget.receive_json()["id"]
        widget.send_json({"type": "message", "text": "markup please"})
        assert widget.receive_json() == {"type": "typing"}
        assert widget.receive_json()["text"] == SCRIPT  # the widget gets the text; it sets it with textContent
        widget.send_json({"type": "message", "text": "agent " + SCRIPT})
        receive_until(widget, text_is("in the queue"))
    with session_factory() as session:
        conversation_id = chat.find(session, public_id).id
    client, _ = signed_in(app, staff["agent"])
    for page in (client.get(f"/console/chats/{conversation_id}").text, client.get("/console/queue").text):
        assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt;" in client.get(f"/console/chats/{conversation_id}").text


@SQLITE_ONLY
def test_a_resident_cannot_reach_another_conversation(app: Any, session_factory: sessionmaker[Session]) -> None:
    client = browser(app)
    with client.websocket_connect("/chat/ws") as first:
        mine = first.receive_json()["id"]
        first.send_json({"type": "end"})  # the first input writes the conversation
        first.receive_json()
    with transaction(session_factory) as session:
        chat.record(session, chat.find(session, mine), "resident", "My health card number is 1234-567-890")
        internal_id = chat.find(session, mine).id
    for guess in (str(internal_id), mine[:-1], mine.upper(), f"{mine}'--"):
        with client.websocket_connect("/chat/ws", params={"conversation": guess}) as other:
            opened = other.receive_json()
        assert opened["id"] != mine and opened["history"] == []


# ---- service requests, knowledgebase, gaps -----------------------------------------------------------------

ARTICLE_BODY = (
    "Leaf and yard waste is collected at the curb every second week from April to November, on your regular "
    "garbage day. Put it out by 7:00 a.m. in paper yard waste bags or in a rigid, open container marked with a "
    "yard waste sticker. Plastic bags are not accepted, because the material is composted at the Region's "
    "facility in Elm Ridge.\n\n"
    "Branches must be tied in bundles no longer than 1.2 metres and no heavier than 20 kilograms, with no branch "
    "thicker than 10 centimetres. You can set out up to ten bags or bundles each collection day.\n\n"
    "Grass clippings are not collected: leave them on your lawn, where they return nutrients to the soil. "
    "Larger amounts of brush can go to any of the Region's three drop-off depots free of charge. To check your "
    "collection week, use the collection calendar or call Service First at 311."
)


def test_agents_search_and_update_service_requests(
    app: Any, staff: dict[str, str], session_factory: sessionmaker[Session]
) -> None:
    with transaction(session_factory) as session:
        created = service_requests.create_request(
            session,
            service_requests.RequestIn(
                service_code="graffiti",
                description="Graffiti on the underpass wall at Lakeshore Drive",
                channel="phone",
                address="Lakeshore Drive underpass",
                attributes={"surface": "bridge_or_underpass", "offensive": "no"},
            ),
            actor="test",
        )
        reference = created.reference
    client, csrf = signed_in(app, staff["agent"])
    for query in (reference, "underpass", "LAKESHORE"):
        assert reference in client.get("/console/requests", params={"q": query}).text
    assert reference not in client.get("/console/requests", params={"q": "no such words"}).text
    updated = client.post(
        f"/console/requests/{reference}",
        data={"csrf_token": csrf, "status": "acknowledged", "note": "Crew booked for Thursday."},
    )
    assert updated.status_code == 200 and "Crew booked for Thursday." in updated.text
    refused = client.post(f"/console/requests/{reference}", data={"csrf_token": csrf, "status": "closed"})
    assert refused.status_code == 422 and "resolved before closing" in refused.text
    with session_factory() as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "request.update")).first()
        assert entry is not None and entry.actor == staff["agent"] and entry.record_id == reference
        assert entry.detail["changed"] == {"status": ["open", "acknowledged"]}


def test_department_staff_see_only_their_departments_requests_and_every_view_is_audited(
    app: Any, staff: dict[str, str], session_factory: sessionmaker[Session]
) -> None:
    references = {}
    with transaction(session_factory) as session:
        auth.create_user(session, "lee.roads@northvale.ca", "Lee Roads", PASSWORD, "agent", "transportation")
        for code, description in (
            ("road_repair", "Pothole on Birch Road"),
            ("graffiti", "Tags on the Birch Road bridge"),
        ):
            created = service_requests.create_request(
                session,
                service_requests.RequestIn(
                    service_code=code, description=description, channel="phone", address="120 Birch Road"
                ),
                actor="test",
                require_answers=False,
            )
            references[code] = created.reference
    roads, csrf = signed_in(app, "lee.roads@northvale.ca")
    found = roads.get("/console/requests", params={"q": "Birch Road"}).text
    assert references["road_repair"] in found and references["graffiti"] not in found
    assert roads.get(f"/console/requests/{references['graffiti']}").status_code == 404  # by-law's, not theirs
    refused = roads.post(f"/console/requests/{references['graffiti']}", data={"csrf_token": csrf, "note": "mine"})
    assert refused.status_code == 404
    assert roads.get(f"/console/requests/{references['road_repair']}").status_code == 200
    generalist, _ = signed_in(app, staff["agent"])  # Service First, no department: sees every request
    assert references["graffiti"] in generalist.get("/console/requests", params={"q": "Birch Road"}).text
    assert generalist.get(f"/console/requests/{references['graffiti']}").status_code == 200
    with session_factory() as session:
        views = session.scalars(select(AuditEntry).where(AuditEntry.action == "request.view")).all()
        assert {(view.actor, view.record_id) for view in views} == {
            ("lee.roads@northvale.ca", references["road_repair"]),
            (staff["agent"], references["graffiti"]),
        }


@SQLITE_ONLY
def test_trainers_draft_publish_and_see_the_history_of_an_article(
    app: Any, staff: dict[str, str], session_factory: sessionmaker[Session]
) -> None:
    client, csrf = signed_in(app, staff["trainer"])
    form = {
        "csrf_token": csrf,
        "action": "draft",
        "slug": "leaf-and-yard-waste",
        "title": "Leaf and yard waste collection",
        "department": "service_first",
        "tags": "waste, yard_waste",
        "example_questions": "When is yard waste picked up?\nCan I put leaves in plastic bags?\n"
        "How do I get rid of branches?\nDo you collect grass clippings?",
        "synonyms": "yard waste: leaves, brush, branches",
        "url": "https://www.northvale.ca/yard-waste",
        "owner": "Service First Knowledge Team",
        "review_date": "2027-11-30",
        "language": "en",
        "body": ARTICLE_BODY,
    }
    too_short = client.post("/console/kb/save", data={**form, "body": "Too short."})
    assert too_short.status_code == 422 and "write 120 to 350" in too_short.text
    assert client.post("/console/kb/save", data=form).status_code == 200
    published = client.post("/console/kb/save", data={**form, "action": "publish", "existing": form["slug"]})
    assert published.status_code == 200 and "Version 2" in published.text and "published" in published.text
    duplicate = client.post("/console/kb/save", data=form)
    assert duplicate.status_code == 422 and "already exists" in duplicate.text
    assert "Leaf and yard waste collection" in client.get("/console/kb", params={"q": "yard"}).text
    assert client.get("/console/kb/leaf-and-yard-waste").status_code == 200
    with session_factory() as session:
        actions = session.scalars(
            select(AuditEntry.action).where(AuditEntry.record_id == "leaf-and-yard-waste").order_by(AuditEntry.id)
        ).all()
    assert actions == ["kb.draft", "kb.publish"]


@SQLITE_ONLY
def test_the_knowledge_gap_list_shows_unanswered_questions(
    app: Any, app_settings: Settings, staff: dict[str, str]
) -> None:
    api = TestClient(app)
    token = app_settings.actions_token.get_secret_value()
    for _ in range(2):
        api.get("/api/v1/kb/search", params={"q": "can I keep chickens in my backyard"}, headers={
            "Authorization": f"Bearer {token}"})  # fmt: skip
    api.post("/api/v1/kb/gaps", json={"query": "zorp the blingle"}, headers={"Authorization": f"Bearer {token}"})
    not_answered = {"query": "when can my neighbour use a chainsaw", "reason": "not_answered", "article": "noise-bylaw"}
    api.post("/api/v1/kb/gaps", json=not_answered, headers={"Authorization": f"Bearer {token}"})
    client, _ = signed_in(app, staff["trainer"])
    page = client.get("/console/gaps").text
    assert "can I keep chickens in my backyard" in page
    assert "/console/kb/new?question=can%20I%20keep%20chickens" in page
    rows = {row.split("</td>")[0]: row for row in page.split('<td class="text">')[1:]}
    assert "No confident article" in rows["can I keep chickens in my backyard"]
    assert "Not understood" in rows["zorp the blingle"]
    assert "Answer did not help" in rows["when can my neighbour use a chainsaw"]
    assert '<a href="/console/kb/noise-bylaw">noise-bylaw</a></td>' in rows["when can my neighbour use a chainsaw"]
    assert "Not understood" not in rows["can I keep chickens in my backyard"]


@SQLITE_ONLY
def test_messages_are_stored_before_anyone_answers(session_factory: sessionmaker[Session]) -> None:
    with transaction(session_factory) as session:
        conversation = chat.start(session)
        chat.to_queue(session, conversation, "resident_request")
        chat.claim(session, conversation, "priya.raman@northvale.ca", "Priya")
        with pytest.raises(chat.NotAllowed):
            chat.agent_says(session, conversation, "tom.wong@northvale.ca", "Hello")
        chat.agent_says(session, conversation, "priya.raman@northvale.ca", "Hello", "Priya")
        authors = session.scalars(
            select(ChatMessage.author).where(ChatMessage.conversation_id == conversation.id).order_by(ChatMessage.id)
        ).all()
    assert authors == ["system", "system", "agent"]
