"""Agents and chats: the live queue, a conversation's page, claim, reply, notes, service requests, hand back,
close, and a WebSocket that streams the conversation to the agent's page as it happens.

Each action runs in one short transaction together with its audit entry, then wakes the sockets watching the
conversation (the resident's widget and other agents' pages). Forms work without JavaScript (post, then a
redirect back); the console's script sends the same forms with fetch and asks for JSON.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from contextlib import suppress
from typing import Annotated, Any

import anyio
import httpx
from anyio import to_thread
from fastapi import APIRouter, Form, Request, WebSocket, WebSocketDisconnect, status
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from civicdesk import labels, validation
from civicdesk.business_time import REGION_TZ
from civicdesk.chat import service as chat
from civicdesk.chat.gateway import hub_of, message_json, wait_for_news
from civicdesk.console.deps import ChatStaff, FormShort, FormText, RequestFormData, Staff, is_fetch, socket_staff
from civicdesk.console.templating import render
from civicdesk.errors import InvalidInput, NotFound
from civicdesk.models import (
    AppointmentBooking,
    AppointmentSlot,
    AppointmentType,
    Conversation,
    EventRsvp,
    FormRequest,
    MailableItem,
    PublicEvent,
    Service,
    ServiceRequest,
)
from civicdesk.service_requests import service as service_requests
from civicdesk.service_requests.updates import ResidentMail
from civicdesk.staff import audit
from civicdesk.work import queue

router = APIRouter(prefix="/console")

Text = FormText
Short = FormShort


@router.get("/queue", response_class=HTMLResponse)
async def queue_page(request: Request, staff: ChatStaff) -> Response:
    def load() -> dict[str, Any]:
        with request.app.state.session_factory() as session:
            return queue.queue_json(session, staff.email)

    data = await to_thread.run_sync(load)
    return render(request, "console/queue.html", {"staff": staff, "queue": data})


@router.get("/api/queue")
async def queue_api(request: Request, staff: ChatStaff) -> JSONResponse:
    def load() -> dict[str, Any]:
        with request.app.state.session_factory() as session:
            return queue.queue_json(session, staff.email)

    return JSONResponse(await to_thread.run_sync(load), headers={"Cache-Control": "no-store"})


def prefill(conversation: Conversation) -> dict[str, Any]:
    """The service request form filled from what the assistant collected (its slot names, see actions/)."""
    slots = conversation.slots or {}
    contact = str(slots.get("contact") or "")
    answers = slots.get("attribute_answers")
    where = ", ".join(str(slots[k]) for k in ("location", "municipality") if slots.get(k)) or slots.get("address")
    return {
        "address": where or "",
        "description": slots.get("description") or conversation.summary or "",
        "name": slots.get("contact_name") or slots.get("name") or "",
        "email": contact if "@" in contact else slots.get("email") or "",
        "phone": contact if contact and "@" not in contact and contact != "none" else slots.get("phone") or "",
        "answers": answers if isinstance(answers, dict) else {},
    }


# What a chat filed, as the assistant or an agent told the resident: service requests and bookings' references.
FILED = re.compile(r"\b(?:SR-\d{4}-\d{6}|(?:AP|EV|FM)-[A-Z0-9]{6})\b")


def when_and_where(slot: AppointmentSlot) -> str:
    """'Thursday 10 Dec 9:00 at Harlow Falls Health Unit, 12 Mill Road'."""
    start = slot.starts_at.astimezone(REGION_TZ)
    place = slot.location
    return f"{start:%A} {start.day} {start:%b} {start.hour}:{start:%M} at {place.name}, {place.address}"


def _slot_value(session: Session, name: str, value: Any, slots: dict[str, Any]) -> str:
    """A slot's value as staff read it: catalogue codes and ids become the names residents were shown."""
    code = str(value)
    if name == "service_code":
        found = session.scalar(select(Service.name).where(Service.code == code))
    elif name == "appointment_type":
        found = session.scalar(select(AppointmentType.name).where(AppointmentType.code == code))
    elif name == "appointment_slot":
        slot = session.get(AppointmentSlot, int(code)) if code.isdigit() else None
        found = when_and_where(slot) if slot else None
    elif name == "event":
        found = session.scalar(select(PublicEvent.title).where(PublicEvent.code == code))
    elif name == "form_item":
        found = session.scalar(select(MailableItem.title).where(MailableItem.code == code))
    elif name == "attribute_answers" and isinstance(value, dict):
        service = session.scalar(select(Service).where(Service.code == str(slots.get("service_code"))))
        return "; ".join(f"{q}: {a}" for q, a in answers(service, value))
    else:
        found = None
    return found or (labels.words(code) if re.fullmatch(r"[a-z0-9_]+", code) else code)


def answers(service: Service | None, given: dict[str, Any]) -> list[tuple[str, str]]:
    """Answers to a service's questions, as (question, answer) in the catalogue's words, not its codes."""
    questions = {a.code: a for a in service.attributes} if service else {}
    shown = []
    for code, value in given.items():
        attribute = questions.get(code)
        choices = {str(v.get("key")): str(v.get("name")) for v in (attribute.values or [])} if attribute else {}
        picked = value if isinstance(value, list) else [value]
        answer = ", ".join(choices.get(str(v), labels.words(str(v))) for v in picked)
        shown.append((attribute.description if attribute else labels.words(code), answer))
    return shown


def collected(session: Session, conversation: Conversation) -> list[tuple[str, str]]:
    """What the assistant collected, in the order and words an agent reads it."""
    slots = {k: v for k, v in (conversation.slots or {}).items() if v not in (None, "", [], {})}
    order = list(labels.SLOTS)
    named = sorted(slots, key=lambda n: order.index(n) if n in order else len(order))
    return [(labels.slot(name), _slot_value(session, name, slots[name], slots)) for name in named]


def filed(session: Session, conversation: Conversation, staff: Staff) -> list[tuple[str, str | None]]:
    """Requests and bookings this chat filed, as (what, console link or None): the references the resident was
    given in the transcript, the assistant's slots and the linked request."""
    said = " ".join(m.text for m in conversation.messages if m.author != "resident")
    slots = conversation.slots or {}
    references = FILED.findall(
        " ".join([said, str(slots.get("reference") or ""), str(slots.get("booking_reference") or "")])
    )
    if conversation.service_request is not None:
        references.insert(0, conversation.service_request.reference)
    shown: list[tuple[str, str | None]] = []
    for reference in dict.fromkeys(references):
        if reference.startswith("SR-"):
            request = session.scalar(select(ServiceRequest).where(ServiceRequest.reference == reference))
            if request is None:
                continue
            if service_requests.visible(request, staff.department_id) is None:
                shown.append(("A service request that another department handles", None))
            else:
                status = labels.words(request.status).lower()
                shown.append(
                    (f"Service request {reference}: {request.service.name}, {status}", f"/console/requests/{reference}")
                )
        elif reference.startswith("AP-"):
            booking = session.scalar(select(AppointmentBooking).where(AppointmentBooking.reference == reference))
            if booking is not None:
                state = " (cancelled)" if booking.status == "cancelled" else ""
                shown.append(
                    (f"Appointment {reference}: {booking.slot.type.name}, {when_and_where(booking.slot)}{state}", None)
                )
        elif reference.startswith("EV-"):
            rsvp = session.scalar(select(EventRsvp).where(EventRsvp.reference == reference))
            if rsvp is not None:
                start = rsvp.event.starts_at.astimezone(REGION_TZ)
                people = f"{rsvp.party_size} {'person' if rsvp.party_size == 1 else 'people'}"
                shown.append(
                    (
                        f"Event reservation {reference}: {rsvp.event.title}, "
                        f"{start:%A} {start.day} {start:%b}, {people}",
                        None,
                    )
                )
        else:
            form = session.scalar(select(FormRequest).where(FormRequest.reference == reference))
            if form is not None:
                shown.append((f"Mailed form {reference}: {form.item.title}", None))
    return shown


def _page_context(session: Session, conversation_id: int, staff: Staff, service: str | None) -> dict[str, Any]:
    conversation = chat.get(session, conversation_id)
    services = list(session.scalars(select(Service).where(Service.active.is_(True)).order_by(Service.name)))
    wanted = service or str(conversation.slots.get("service_code") or "general_inquiry")
    # Another department's request stays out of sight: the page says only that the chat filed one.
    linked = service_requests.visible(conversation.service_request, staff.department_id)
    chosen = next((s for s in services if s.code == wanted), None) or next(
        (s for s in services if s.code == "general_inquiry"), services[0] if services else None
    )
    return {
        "chosen": chosen,
        "prefill": prefill(conversation),
        "staff": staff,
        "conversation": conversation,
        "messages": chat.history(session, conversation),
        "notes": list(conversation.notes),
        "linked": linked,
        "filed_elsewhere": conversation.service_request is not None and linked is None,
        "position": chat.queue_position(session, conversation),
        "reason": labels.handoff_reason(conversation.handoff_reason),
        "collected": collected(session, conversation),
        "filed": filed(session, conversation, staff),
        "mine": conversation.owner == "agent" and conversation.agent == staff.email,
        "services": services,
        "activity": audit.for_record(session, "conversation", conversation.id),
        "statuses": sorted(service_requests.TRANSITIONS.get(linked.status if linked else "open", set())),
        "urgencies": chat.URGENCIES,
        "kinds": service_requests.KINDS,
    }


async def _show(
    request: Request,
    staff: Staff,
    conversation_id: int,
    error: str | None = None,
    code: int = 200,
    service: str | None = None,
) -> Response:
    def page() -> Response:
        # Rendered while the session is open: the template follows relationships (request, service, notes).
        with request.app.state.session_factory() as session:
            context = _page_context(session, conversation_id, staff, service)
            return render(request, "console/chat.html", {**context, "error": error}, status_code=code)

    try:
        return await to_thread.run_sync(page)
    except chat.ConversationNotFound:
        return JSONResponse({"detail": "no such conversation"}, status.HTTP_404_NOT_FOUND)


@router.get("/chats/{conversation_id}", response_class=HTMLResponse)
async def conversation_page(
    request: Request, staff: ChatStaff, conversation_id: int, service: str | None = None
) -> Response:
    """`service` picks the service whose questions the request form asks (the assistant's guess otherwise)."""

    def viewed() -> None:  # who read a resident's conversation is part of the audit trail
        with chat.writing(request.app.state.session_factory) as session:
            conversation = chat.get(session, conversation_id)
            audit.record(session, staff.email, "conversation.view", "conversation", conversation.id)

    try:
        await to_thread.run_sync(viewed)
    except chat.ConversationNotFound:
        return JSONResponse({"detail": "no such conversation"}, status.HTTP_404_NOT_FOUND)
    return await _show(request, staff, conversation_id, service=service[:64] if service else None)


Action = Callable[[Session, Conversation], dict[str, Any] | None]


async def _act(request: Request, staff: Staff, conversation_id: int, name: str, action: Action) -> Response:
    """Run one agent action with its audit entry; answer JSON to the console's script, a redirect to a form."""

    def run() -> None:
        with chat.writing(request.app.state.session_factory) as session:
            conversation = chat.get(session, conversation_id)
            detail = action(session, conversation)
            audit.record(session, staff.email, name, "conversation", conversation.id, detail)

    try:
        await to_thread.run_sync(run)
    except chat.ConversationNotFound:
        return JSONResponse({"detail": "no such conversation"}, status.HTTP_404_NOT_FOUND)
    except (chat.NotAllowed, InvalidInput, NotFound) as error:
        message = error.message if isinstance(error, InvalidInput) else str(error)
        code = status.HTTP_422_UNPROCESSABLE_CONTENT
        if isinstance(error, chat.NotAllowed):
            code = status.HTTP_409_CONFLICT
        elif isinstance(error, NotFound):
            code = status.HTTP_404_NOT_FOUND
        if is_fetch(request):
            return JSONResponse({"detail": message}, code)
        chosen = (await request.form()).get("service_code")
        return await _show(request, staff, conversation_id, message, code, chosen if isinstance(chosen, str) else None)
    hub_of(request.app).notify(conversation_id)
    if is_fetch(request):
        return JSONResponse({"ok": True})
    return RedirectResponse(f"/console/chats/{conversation_id}", status.HTTP_303_SEE_OTHER)


@router.post("/chats/{conversation_id}/claim")
async def claim(request: Request, staff: ChatStaff, conversation_id: int) -> Response:
    def action(session: Session, conversation: Conversation) -> None:
        chat.claim(session, conversation, staff.email, staff.first_name)

    return await _act(request, staff, conversation_id, "chat.claim", action)


@router.post("/chats/{conversation_id}/reply")
async def reply(request: Request, staff: ChatStaff, conversation_id: int, text: Text) -> Response:
    def action(session: Session, conversation: Conversation) -> dict[str, Any]:
        message = chat.agent_says(session, conversation, staff.email, text, staff.first_name)
        return {"message_id": message.id}

    return await _act(request, staff, conversation_id, "chat.reply", action)


@router.post("/chats/{conversation_id}/notes")
async def note(request: Request, staff: ChatStaff, conversation_id: int, body: Text) -> Response:
    def action(session: Session, conversation: Conversation) -> dict[str, Any]:
        return {"note_id": chat.add_note(session, conversation, staff.email, body).id}

    return await _act(request, staff, conversation_id, "chat.note", action)


@router.post("/chats/{conversation_id}/close")
async def close(request: Request, staff: ChatStaff, conversation_id: int) -> Response:
    def action(session: Session, conversation: Conversation) -> None:
        if conversation.owner == "closed":
            raise chat.NotAllowed("the conversation is already closed")
        if conversation.owner == "agent" and conversation.agent != staff.email and staff.role == "agent":
            raise chat.NotAllowed("another agent holds this conversation; a supervisor can close it")
        chat.close(session, conversation, staff.email)

    return await _act(request, staff, conversation_id, "chat.close", action)


@router.post("/chats/{conversation_id}/handback")
async def hand_back(request: Request, staff: ChatStaff, conversation_id: int) -> Response:
    factory = request.app.state.session_factory
    try:
        async with httpx.AsyncClient() as client:
            await chat.hand_back_to_assistant(
                factory, client, request.app.state.settings.rasa_url, conversation_id, staff.email
            )
    except chat.ConversationNotFound:
        return JSONResponse({"detail": "no such conversation"}, status.HTTP_404_NOT_FOUND)
    except chat.NotAllowed as error:
        if is_fetch(request):
            return JSONResponse({"detail": str(error)}, status.HTTP_409_CONFLICT)
        return await _show(request, staff, conversation_id, str(error), status.HTTP_409_CONFLICT)
    hub_of(request.app).notify(conversation_id)
    if is_fetch(request):
        return JSONResponse({"ok": True})
    return RedirectResponse(f"/console/chats/{conversation_id}", status.HTTP_303_SEE_OTHER)


@router.post("/chats/{conversation_id}/request")
async def create_request(
    request: Request,
    staff: ChatStaff,
    conversation_id: int,
    filed: RequestFormData,
) -> Response:
    """A new service request from what the resident told the assistant and the agent; its reference goes to
    the resident in the chat."""

    form = await request.form()
    # The service's own questions arrive as `attribute.<code>`; a multiple choice sends several values.
    attributes: dict[str, Any] = {}
    for key in {k for k in form if k.startswith("attribute.")}:
        values = [str(v) for v in form.getlist(key) if str(v).strip()]
        if values:
            attributes[key.removeprefix("attribute.")] = values if len(values) > 1 else values[0]

    def action(session: Session, conversation: Conversation) -> dict[str, Any]:
        if conversation.service_request is not None:
            named = service_requests.named(conversation.service_request, staff.department_id)
            raise chat.NotAllowed(f"this conversation already has {named}")
        created = service_requests.create_request(session, filed.request_in("chat", attributes), actor=staff.email)
        chat.link_request(session, conversation, created)
        audit.record(session, staff.email, "request.create", "service_request", created.reference)
        return {"reference": created.reference}

    return await _act(request, staff, conversation_id, "chat.request", action)


@router.post("/chats/{conversation_id}/request/update")
async def update_request(
    request: Request,
    staff: ChatStaff,
    conversation_id: int,
    status_: Annotated[validation.CodeLine, Form(alias="status")] = "",
    resolution: Text = "",
    note_body: Annotated[validation.DescriptionText, Form(alias="note")] = "",
) -> Response:
    def action(session: Session, conversation: Conversation) -> dict[str, Any]:
        # Another department's request answers as no request at all (same status, same words).
        linked = service_requests.visible(conversation.service_request, staff.department_id)
        if linked is None:
            raise NotFound("this conversation has no service request you may update")
        service_requests.update_request(
            session,
            linked,
            staff.email,
            status=status_ or None,
            resolution=resolution or None,
            notify=ResidentMail.from_settings(request.app.state.settings),
        )
        if note_body.strip():
            service_requests.add_note(session, linked, staff.email, note_body)
        audit.record(
            session,
            staff.email,
            "request.update",
            "service_request",
            linked.reference,
            {"status": linked.status, "note": bool(note_body.strip())},
        )
        return {"reference": linked.reference}

    return await _act(request, staff, conversation_id, "chat.request_update", action)


def _state(conversation: Conversation, staff: Staff) -> dict[str, Any]:
    return {
        "type": "state",
        "owner": conversation.owner,
        "mine": conversation.owner == "agent" and conversation.agent == staff.email,
    }


def _agent_news(
    request_app: Any, conversation_id: int, after_id: int, staff: Staff
) -> tuple[list[dict[str, Any]], int, dict[str, Any]]:
    with request_app.state.session_factory() as session:
        conversation = chat.get(session, conversation_id)
        fresh = chat.messages_after(session, conversation_id, after_id)
        return [message_json(m) for m in fresh], fresh[-1].id if fresh else after_id, _state(conversation, staff)


@router.websocket("/chats/{conversation_id}/ws")
async def conversation_socket(websocket: WebSocket, conversation_id: int, after: int = 0) -> None:
    """Streams the conversation's new messages (every author) and changes of owner to the agent's page."""
    staff = await to_thread.run_sync(socket_staff, websocket, "chats")
    if staff is None:
        await websocket.close(code=1008)  # policy violation: not signed in, wrong role, or another site
        return
    await websocket.accept()
    app = websocket.app
    send_lock = anyio.Lock()

    async def push(event: asyncio.Event) -> None:
        last_id, last_state = after, None
        while True:
            try:
                fresh, last_id, state = await to_thread.run_sync(_agent_news, app, conversation_id, last_id, staff)
            except chat.ConversationNotFound:
                return
            async with send_lock:
                for message in fresh:
                    await websocket.send_json(message)
                if state != last_state:
                    await websocket.send_json(state)
                    last_state = state
            await wait_for_news(event)

    async def listen() -> None:
        with suppress(WebSocketDisconnect):
            while True:
                await websocket.receive_text()  # nothing is expected; this notices the page going away

    with hub_of(app).watch(conversation_id) as event:
        async with anyio.create_task_group() as tasks:

            async def pushing() -> None:
                with suppress(WebSocketDisconnect, RuntimeError, OSError):
                    await push(event)

            tasks.start_soon(pushing)
            await listen()
            tasks.cancel_scope.cancel()
