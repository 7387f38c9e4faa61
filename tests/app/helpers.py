"""Helpers shared by the app-environment tests (importable because pytest puts tests/app on sys.path)."""

from __future__ import annotations

import datetime as dt
import secrets
import socket
import threading
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path

from sqlalchemy.orm import Session

from civicdesk.db import make_engine, make_session_factory
from civicdesk.service_requests import ContactIn
from civicdesk.settings import Settings

SEED_TODAY = dt.date(2026, 11, 23)  # a Monday: seeded slots start here


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def make_settings(tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "env": "test",
        "var_dir": tmp_path / "var",
        "secret_key": secrets.token_urlsafe(32),
        "actions_token": secrets.token_urlsafe(32),
        "rasa_url": f"http://127.0.0.1:{free_port()}",
        "action_server_url": f"http://127.0.0.1:{free_port()}",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def resident(number: int = 1) -> ContactIn:
    return ContactIn(name=f"Resident {number}", email=f"resident{number}@example.org", phone=f"905555{number:04d}")


def race(url: str, attempts: list[Callable[[Session], object]]) -> list[object]:
    """Run each attempt in its own thread, session and transaction, all released at once by a barrier.

    Every thread holds its own connection before the barrier opens, so all of them really run together.
    Returns what each attempt returned, or the exception it raised (its transaction rolled back).
    """
    engine = make_engine(url, pool_size=len(attempts), max_overflow=0)
    factory = make_session_factory(engine)
    barrier = threading.Barrier(len(attempts))
    outcomes: list[object] = [None] * len(attempts)

    def run(position: int) -> None:
        with factory() as session:
            session.connection()
            barrier.wait(timeout=60)
            try:
                outcomes[position] = attempts[position](session)
                session.commit()
            except Exception as error:  # the outcome under test, examined by the caller
                session.rollback()
                outcomes[position] = error

    threads = [threading.Thread(target=run, args=(position,)) for position in range(len(attempts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    engine.dispose()
    assert not any(thread.is_alive() for thread in threads), "a racer never finished"
    return outcomes


def resident_email(subject: str, body: str, message_id: str) -> bytes:
    """A plain resident email as a mail server stores it (CRLF line ends)."""
    message = EmailMessage()
    message["From"] = "Priya Raman <priya.raman@example.org>"
    message["To"] = "servicefirst@northvale.ca"
    message["Subject"] = subject
    message["Message-ID"] = message_id
    message.set_content(body)
    return message.as_bytes().replace(b"\n", b"\r\n")
