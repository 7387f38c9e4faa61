"""`civicdesk sla escalate`: escalate work waiting past its service level (once, or every few seconds)."""

from __future__ import annotations

import signal
import threading
from typing import Annotated

import typer

from civicdesk.cli.common import session_factory, setup_logging
from civicdesk.db import transaction
from civicdesk.settings import get_settings

sla_app = typer.Typer(help="Service levels: escalate work waiting past its target.", no_args_is_help=True)


@sla_app.command("escalate")
def sla_escalate(
    every: Annotated[
        float | None, typer.Option("--every", min=5, help="Keep running, checking every this many seconds.")
    ] = None,
) -> None:
    """Escalate chats and emails waiting past their service level: routine becomes urgent, supervisors are emailed."""
    from civicdesk.work import service_levels

    settings = get_settings()
    setup_logging(settings)
    factory = session_factory()
    stop = threading.Event()
    if every is not None:
        for signum in (signal.SIGINT, signal.SIGTERM):  # stop between checks, not in the middle of one
            signal.signal(signum, lambda *_: stop.set())
    while True:
        with transaction(factory) as session:
            escalated = service_levels.escalate(session)
        for item in escalated:
            typer.echo(f"escalated {item.kind} {item.key} (due {item.due_at:%Y-%m-%d %H:%M} UTC): now {item.urgency}")
        if every is None or stop.wait(every):
            return
