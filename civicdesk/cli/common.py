"""What every command shares: logging that redacts residents' details, a port check, the database from settings."""

from __future__ import annotations

import logging
import socket

from sqlalchemy.orm import Session, sessionmaker

from civicdesk.db import make_engine, make_session_factory
from civicdesk.errors import UserError
from civicdesk.settings import Settings, get_settings


def is_health_check(record: logging.LogRecord) -> bool:
    """uvicorn's access line for `GET /health` (or `/health/live`, the load balancer's): monitors call them every
    few seconds, and they would bury the rest."""
    args = record.args if isinstance(record.args, tuple) else ()
    return len(args) >= 3 and str(args[2]).split("?")[0] in ("/health", "/health/live")


def setup_logging(settings: Settings) -> None:
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)  # it announces every plugin it loads
    # httpx logs every request at INFO: the health check's calls to Rasa and the action server, and every chat turn.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("uvicorn.access").addFilter(lambda record: not is_health_check(record))
    from civicdesk.privacy import redact_logs  # here: it loads spaCy, which most commands never need

    redact_logs()  # residents' names, emails, phones and addresses never reach a log file


def ensure_port_free(host: str, port: int, what: str, setting: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            raise UserError(
                f"port {port} on {host} is already in use, so the {what} cannot start; "
                f"stop the other process or set {setting}"
            ) from None


def session_factory() -> sessionmaker[Session]:
    """Sessions on the database the settings name (CIVICDESK_DATABASE_URL)."""
    return make_session_factory(make_engine(get_settings().sqlalchemy_url))
