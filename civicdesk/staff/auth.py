"""Staff accounts and console sign-in: argon2 password hashes, server-side sessions, CSRF tokens, throttling.

Sessions live in the database (`staff_session`), so signing out, disabling an account or a second web worker
all see the same truth. The browser holds only a random token; the table holds its sha256, so a copy of the
database cannot be replayed as cookies. Each session has its own CSRF token, which every form and every
state-changing request must echo back.

What each role may open is decided here, in one table (`AREAS`): a page whose area is not listed for the
role is refused. Functions receive the caller's session and never commit.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import math
import secrets
from dataclasses import dataclass
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from civicdesk import validation
from civicdesk.db import utcnow
from civicdesk.errors import InvalidInput, UserError
from civicdesk.models import Department, LoginAttempt, StaffSession, StaffUser
from civicdesk.staff import audit

Role = Literal["agent", "supervisor", "trainer", "admin"]
ROLES: tuple[str, ...] = Role.__args__  # type: ignore[attr-defined]

# Console areas and the roles that may use them. Anything not listed here is refused (deny by default).
AREAS: dict[str, frozenset[str]] = {
    "chats": frozenset({"agent", "supervisor", "admin"}),
    "requests": frozenset({"agent", "supervisor", "admin"}),
    "email": frozenset({"agent", "supervisor", "admin"}),  # email cases needing a person
    "knowledgebase": frozenset({"trainer", "supervisor", "admin"}),
    "gaps": frozenset({"trainer", "supervisor", "admin"}),
    "audit": frozenset({"supervisor", "admin"}),
    "dashboard": frozenset({"supervisor", "admin"}),  # queues, service levels, emergencies right now
    "models": frozenset({"trainer", "admin"}),  # triage model versions: retrain, promote, roll back
    "reports": frozenset({"supervisor", "admin"}),  # reports for leadership and Council
}

MIN_PASSWORD_CHARS = 12
# Throttling, so that guessing costs time and knowing someone's email is not enough to lock them out. It counts
# per (email, address): after FREE_FAILURES wrong passwords since that pair's last sign-in, the address waits 2^n
# seconds after its n-th failure (at most MAX_DELAY) before it may try that email again; every other address, the
# owner's included, is not slowed. One address failing on many emails (credential stuffing) is stopped after
# MAX_FAILURES_PER_ADDRESS failures in THROTTLE_WINDOW. A refused attempt is not checked against the password.
FREE_FAILURES = 3
MAX_DELAY = dt.timedelta(minutes=15)
FAILURES_REMEMBERED = dt.timedelta(days=1)  # older failures no longer count, so the delay falls back
THROTTLE_WINDOW = dt.timedelta(minutes=15)
MAX_FAILURES_PER_ADDRESS = 30
SESSION_TOUCH_EVERY = dt.timedelta(minutes=1)  # write last_seen_at at most this often
IDLE_TIMEOUT = dt.timedelta(hours=2)

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the email is unknown, so a wrong email costs as long as a wrong password."""
    return _hasher.hash(secrets.token_urlsafe(16))


class LoginRefused(Exception):
    """Sign-in refused; the message is safe to show (it never says whether the email exists)."""


@dataclass(frozen=True)
class NewSession:
    token: str  # goes in the cookie; never stored
    csrf_token: str
    expires_at: dt.datetime


def allowed(role: str, area: str) -> bool:
    return role in AREAS.get(area, frozenset())


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_CHARS:
        raise InvalidInput("password", f"use at least {MIN_PASSWORD_CHARS} characters")
    return password


def _sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def find_user(session: Session, email: str) -> StaffUser | None:
    return session.scalar(select(StaffUser).where(StaffUser.email == email.strip().lower()))


def create_user(
    session: Session,
    email: str,
    name: str,
    password: str,
    role: str,
    department_code: str | None = None,
    actor: str = "cli",
) -> StaffUser:
    address = validation.email(email, "email")
    if role not in ROLES:
        raise InvalidInput("role", f"{role!r} is not one of: {', '.join(ROLES)}")
    if find_user(session, address) is not None:
        raise InvalidInput("email", f"{address} already has an account")
    department_id = None
    if department_code:
        department_id = session.scalar(select(Department.id).where(Department.code == department_code))
        if department_id is None:
            raise InvalidInput("department", f"no department with code {department_code!r}")
    user = StaffUser(
        email=address,
        name=validation.name(name, "name"),
        password_hash=hash_password(_check_password(password)),
        role=role,
        department_id=department_id,
        active=True,
        created_at=utcnow(),
    )
    session.add(user)
    session.flush()
    audit.record(session, actor, "user.create", "staff_user", user.email, {"role": role})
    return user


def list_users(session: Session) -> list[StaffUser]:
    return list(session.scalars(select(StaffUser).order_by(StaffUser.email)))


def disable_user(session: Session, email: str, actor: str = "cli") -> StaffUser:
    """The account can no longer sign in, and every session it holds ends now."""
    user = find_user(session, email)
    if user is None:
        raise UserError(f"no account for {email}")
    user.active = False
    session.execute(delete(StaffSession).where(StaffSession.user_id == user.id))
    audit.record(session, actor, "user.disable", "staff_user", user.email)
    session.flush()
    return user


def _wait(until: dt.datetime, now: dt.datetime) -> int:
    return max(0, math.ceil((until - now).total_seconds()))


def seconds_until_allowed(session: Session, email: str, address: str, now: dt.datetime | None = None) -> int:
    """0 when this address may try to sign in as this email now; otherwise how many seconds it must wait."""
    now = now or utcnow()
    email, address = email.strip().lower(), address[:64]
    pair = (LoginAttempt.email == email, LoginAttempt.address == address)
    last_success = session.scalar(
        select(LoginAttempt.at).where(*pair, LoginAttempt.ok.is_(True)).order_by(LoginAttempt.at.desc()).limit(1)
    )
    since = max(now - FAILURES_REMEMBERED, last_success or now - FAILURES_REMEMBERED)
    failures = list(
        session.scalars(
            select(LoginAttempt.at)
            .where(*pair, LoginAttempt.ok.is_(False), LoginAttempt.at > since)
            .order_by(LoginAttempt.at.desc())
        )
    )
    waits = [0]
    if len(failures) >= FREE_FAILURES:
        delay = min(2 ** len(failures), int(MAX_DELAY.total_seconds()))
        waits.append(_wait(failures[0] + dt.timedelta(seconds=delay), now))
    from_address = list(
        session.scalars(
            select(LoginAttempt.at)
            .where(
                LoginAttempt.address == address, LoginAttempt.ok.is_(False), LoginAttempt.at >= now - THROTTLE_WINDOW
            )
            .order_by(LoginAttempt.at.desc())
            .limit(MAX_FAILURES_PER_ADDRESS)
        )
    )
    if len(from_address) >= MAX_FAILURES_PER_ADDRESS:
        # The oldest of the last MAX_FAILURES_PER_ADDRESS failures leaving the window lets one more try in.
        waits.append(_wait(from_address[-1] + THROTTLE_WINDOW, now))
    return max(waits)


def _in_words(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def login(
    session: Session,
    email: str,
    password: str,
    address: str,
    lifetime: dt.timedelta,
    now: dt.datetime | None = None,
) -> tuple[StaffUser, NewSession]:
    """Check the password and open a session; every attempt is recorded for throttling, every refusal audited."""
    email, address = email.strip().lower()[:254], address[:64]
    now = now or utcnow()
    wait = seconds_until_allowed(session, email, address, now)
    if wait:
        audit.record(session, email, "auth.throttled", "staff_user", email, {"address": address, "wait_seconds": wait})
        raise LoginRefused(f"Too many failed attempts from this address. Try again in {_in_words(wait)}.")
    user = find_user(session, email)
    try:
        _hasher.verify(user.password_hash if user else _dummy_hash(), password)
        ok = user is not None and user.active
    except (VerificationError, InvalidHashError):
        ok = False
    session.add(LoginAttempt(email=email, address=address, ok=ok, at=now))
    if not ok or user is None:
        session.flush()
        raise LoginRefused("The email or password is not correct, or the account is disabled.")
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = now
    opened = _open_session(session, user, lifetime, now)
    audit.record(session, user.email, "auth.login", "staff_user", user.email, {"address": address})
    return user, opened


def _open_session(session: Session, user: StaffUser, lifetime: dt.timedelta, now: dt.datetime) -> NewSession:
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    expires = now + lifetime
    session.add(
        StaffSession(
            token_sha256=_sha256(token),
            user_id=user.id,
            csrf_token=csrf,
            created_at=now,
            last_seen_at=now,
            expires_at=expires,
        )
    )
    # Old sessions of anyone are swept here rather than by a separate job.
    session.execute(delete(StaffSession).where(StaffSession.expires_at < now))
    session.flush()
    return NewSession(token, csrf, expires)


def current(session: Session, token: str | None, now: dt.datetime | None = None) -> StaffSession | None:
    """The live session for a cookie's token, or None (unknown, expired, idle too long, account disabled)."""
    if not token:
        return None
    now = now or utcnow()
    found = session.scalar(select(StaffSession).where(StaffSession.token_sha256 == _sha256(token)))
    if found is None or found.expires_at <= now or found.last_seen_at + IDLE_TIMEOUT <= now:
        return None
    if not found.user.active:
        return None
    if now - found.last_seen_at >= SESSION_TOUCH_EVERY:
        found.last_seen_at = now
        session.flush()
    return found


def logout(session: Session, token: str | None) -> None:
    if token:
        found = session.scalar(select(StaffSession).where(StaffSession.token_sha256 == _sha256(token)))
        if found is not None:
            audit.record(session, found.user.email, "auth.logout", "staff_user", found.user.email)
            session.delete(found)
            session.flush()


def csrf_matches(expected: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(expected.encode(), (given or "").encode())
