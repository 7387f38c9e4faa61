"""The resident's side of the web: a Northvale Region page carrying the chat widget, and the widget's script.

The widget talks to the chat gateway (`civicdesk.chat.gateway`) over its WebSocket; these routes only serve it.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

from civicdesk.console.templating import STATIC, render
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
