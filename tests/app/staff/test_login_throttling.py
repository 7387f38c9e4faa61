"""Console sign-in throttling: growing delays per (email, address), a cap per address, and nobody locked out.

The clock is passed in (`now`), so the delays are tested with times, not by waiting.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from civicdesk.db import transaction
from civicdesk.models import AuditEntry, LoginAttempt
from civicdesk.staff import auth

PASSWORD = "correct horse battery staple"
OWNER = "priya.raman@northvale.ca"
ATTACKER, OWNER_ADDRESS = "203.0.113.9", "198.51.100.7"
START = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)
NOT_CORRECT = "The email or password is not correct, or the account is disabled."
SIGNED_IN = "signed in"


@pytest.fixture
def factory(session_factory: sessionmaker[Session]) -> sessionmaker[Session]:
    with transaction(session_factory) as session:
        auth.create_user(session, OWNER, "Priya Raman", PASSWORD, "agent")
    return session_factory


def attempt(factory: sessionmaker[Session], email: str, password: str, address: str, now: dt.datetime) -> str:
    """What the sign-in page would say; committed either way, as the page does."""
    with factory() as session:
        try:
            auth.login(session, email, password, address, dt.timedelta(hours=1), now=now)
            return SIGNED_IN
        except auth.LoginRefused as refused:
            return str(refused)
        finally:
            session.commit()


def wait(factory: sessionmaker[Session], email: str, address: str, now: dt.datetime) -> int:
    with factory() as session:
        return auth.seconds_until_allowed(session, email, address, now)


def test_an_attacker_is_slowed_down_more_and_more_while_the_owner_still_signs_in(
    factory: sessionmaker[Session],
) -> None:
    now, delays = START, []
    for _ in range(20):
        delays.append(wait(factory, OWNER, ATTACKER, now))
        now += dt.timedelta(seconds=delays[-1])
        assert attempt(factory, OWNER, "a wrong guess", ATTACKER, now) == NOT_CORRECT
    assert delays == [0, 0, 0, 8, 16, 32, 64, 128, 256, 512] + [900] * 10  # 2^n seconds, at most 15 minutes

    assert attempt(factory, OWNER, PASSWORD, OWNER_ADDRESS, now) == SIGNED_IN  # from another address: at once
    refused = attempt(factory, OWNER, PASSWORD, ATTACKER, now)  # even the right password, from A, waits
    assert refused == "Too many failed attempts from this address. Try again in 15 minutes."
    assert attempt(factory, OWNER, PASSWORD, ATTACKER, now + dt.timedelta(seconds=899)).endswith("in 1 second.")
    assert attempt(factory, OWNER, PASSWORD, ATTACKER, now + dt.timedelta(seconds=900)) == SIGNED_IN


def test_a_throttled_attempt_is_audited_and_never_checks_the_password(factory: sessionmaker[Session]) -> None:
    for _ in range(auth.FREE_FAILURES):
        assert attempt(factory, OWNER, "a wrong guess", ATTACKER, START) == NOT_CORRECT
    refused = attempt(factory, OWNER, PASSWORD, ATTACKER, START + dt.timedelta(seconds=3))
    assert refused == "Too many failed attempts from this address. Try again in 5 seconds."
    with factory() as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "auth.throttled")).one()
        assert (entry.actor, entry.record_type, entry.record_id) == (OWNER, "staff_user", OWNER)
        assert entry.detail == {"address": ATTACKER, "wait_seconds": 5}
        assert session.scalar(select(func.count()).select_from(LoginAttempt)) == auth.FREE_FAILURES  # not tried


def test_a_sign_in_or_a_quiet_day_forgives_earlier_failures(factory: sessionmaker[Session]) -> None:
    for _ in range(auth.FREE_FAILURES - 1):
        attempt(factory, OWNER, "a typo", OWNER_ADDRESS, START)
    assert attempt(factory, OWNER, PASSWORD, OWNER_ADDRESS, START) == SIGNED_IN
    later = START + dt.timedelta(minutes=1)
    for _ in range(auth.FREE_FAILURES - 1):
        attempt(factory, OWNER, "a typo", OWNER_ADDRESS, later)
    assert wait(factory, OWNER, OWNER_ADDRESS, later) == 0  # counted since the last sign-in

    for _ in range(8):
        attempt(factory, OWNER, "a wrong guess", ATTACKER, START)
    next_day = START + auth.FAILURES_REMEMBERED + dt.timedelta(seconds=1)
    assert wait(factory, OWNER, ATTACKER, next_day) == 0
    assert attempt(factory, OWNER, "a wrong guess", ATTACKER, next_day) == NOT_CORRECT
    assert wait(factory, OWNER, ATTACKER, next_day) == 0  # one failure today, not nine


def test_one_address_trying_many_emails_is_stopped(factory: sessionmaker[Session]) -> None:
    for number in range(auth.MAX_FAILURES_PER_ADDRESS):
        guessed = f"guess{number}@northvale.ca"
        assert attempt(factory, guessed, PASSWORD, ATTACKER, START + dt.timedelta(seconds=number)) == NOT_CORRECT
    assert attempt(factory, OWNER, PASSWORD, ATTACKER, START + dt.timedelta(minutes=1)) == (
        "Too many failed attempts from this address. Try again in 14 minutes."
    )
    assert attempt(factory, OWNER, PASSWORD, OWNER_ADDRESS, START + dt.timedelta(minutes=1)) == SIGNED_IN
    assert attempt(factory, OWNER, PASSWORD, ATTACKER, START + auth.THROTTLE_WINDOW) == SIGNED_IN
