"""The resident's side of the chat gateway: one WebSocket per browser tab, speaking small JSON messages.

Server -> browser: {"type": "conversation", "id", "owner", "history": [message...]} once on connect, then
{"type": "typing"} while the assistant thinks, {"type": "message", ...} for each new message, and
{"type": "error", "message"} for input it cannot take. Browser -> server: {"type": "message", "text"}.
A browser that reconnects with `?conversation=<id>` resumes that conversation with its history; the id is
unguessable, and it is the only way to reach a conversation.
"""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from civicdesk import chat
from civicdesk.db import transaction
from civicdesk.models import ChatMessage

router = APIRouter(tags=["chat"])
MAX_MESSAGE_CHARS = 2000


def message_json(message: ChatMessage) -> dict[str, Any]:
    return {
        "type": "message",
        "id": message.id,
        "author": message.author,
        "text": message.text,
        "buttons": message.payload.get("buttons", []),
        "at": message.at.isoformat(),
    }


def problem(data: Any) -> str | None:
    if not isinstance(data, dict) or data.get("type") != "message":
        return 'send {"type": "message", "text": "..."}'
    text = data.get("text")
    if not isinstance(text, str) or not text.strip():
        return "the message is empty"
    if len(text) > MAX_MESSAGE_CHARS:
        return f"messages are limited to {MAX_MESSAGE_CHARS} characters; please split it"
    return None


@router.websocket("/chat/ws")
async def chat_socket(websocket: WebSocket, conversation: str | None = None) -> None:
    await websocket.accept()
    factory = websocket.app.state.session_factory
    rasa_url: str = websocket.app.state.settings.rasa_url
    with transaction(factory) as session:
        try:
            current = chat.find(session, conversation) if conversation else chat.start(session)
        except chat.ConversationNotFound:
            current = chat.start(session)  # an expired or mistyped id starts afresh, revealing nothing
        public_id, owner = current.public_id, current.owner
        past = [message_json(m) for m in chat.history(session, current)]
    await websocket.send_json({"type": "conversation", "id": public_id, "owner": owner, "history": past})
    async with httpx.AsyncClient() as client:
        while True:
            try:
                data = await websocket.receive_json()
            except WebSocketDisconnect:
                return
            except ValueError:
                data = None  # not JSON
            wrong = problem(data)
            if wrong:
                await websocket.send_json({"type": "error", "message": wrong})
                continue
            await websocket.send_json({"type": "typing"})
            for message in await chat.resident_says(factory, client, rasa_url, public_id, data["text"].strip()):
                await websocket.send_json(message_json(message))
