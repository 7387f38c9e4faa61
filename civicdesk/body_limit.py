"""One cap on the size of every HTTP request body (`MAX_BODY_BYTES`), enforced while the body is received.

Parsing a body (JSON, a form) first reads all of it into memory, so a check after parsing comes too late: a 60 MB
POST grew a worker by 115 MB before its 400 (issue 17). This ASGI middleware refuses a declared Content-Length
over the cap before reading a byte, and counts the bytes of a body sent without one (chunked), stopping at the
cap. Either way the answer is 413 with a message saying so, in the format the caller's `refuse` gives; WebSocket
and lifespan scopes pass through untouched.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from civicdesk.limits import MAX_BODY_BYTES

TOO_LARGE = f"the request body is larger than {MAX_BODY_BYTES:,} bytes, the most this server accepts"


class BodyTooLarge(Exception):
    """Raised from `receive` when a body passes the cap; the middleware answers 413 in place of the app."""


def json_refusal(_scope: Scope) -> Response:
    return JSONResponse({"detail": TOO_LARGE}, status_code=413)


class BodyLimit:
    """Wrap an ASGI app so that no request body over `limit` bytes reaches it."""

    def __init__(
        self, app: ASGIApp, limit: int = MAX_BODY_BYTES, refuse: Callable[[Scope], Response] = json_refusal
    ) -> None:
        self.app = app
        self.limit = limit
        self.refuse = refuse

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.limit:
            await self.refuse(scope)(scope, receive, send)
            return
        received = 0
        exceeded = False
        started = False

        async def counted_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    exceeded = True
                    raise BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded:
                return  # whatever the app made of the cut-off body (a 400), the 413 below replaces it
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except Exception:
            if not exceeded:
                raise
            # BodyTooLarge, or what the app made of it: answered below
        if exceeded and not started:
            await self.refuse(scope)(scope, receive, send)
