"""Loads the seed files (`civicdesk/seed_data/`, checked by `seed_schema`) into the database.

Loading is an upsert by each record's code, so running it again after staff edit a file updates the rows
instead of duplicating them. Appointment slots are generated from each type's weekly schedule; existing slots
(and their bookings) are never touched.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from civicdesk import models
from civicdesk import seed_schema as schema
from civicdesk.knowledge import articles as kb
from civicdesk.seed_schema import SEED_DIR

__all__ = ["SEED_DIR", "generate_slots", "is_empty", "load"]

REGION_TZ = ZoneInfo("America/Toronto")

Row = TypeVar("Row", bound=models.Base)


def is_empty(session: Session) -> bool:
    return not session.scalar(select(func.count()).select_from(models.Department))


def _upsert(session: Session, model: type[Row], key: dict[str, Any], values: dict[str, Any]) -> Row:
    row = session.scalar(select(model).filter_by(**key))
    if row is None:
        row = model(**key)
        session.add(row)
    for name, value in values.items():
        setattr(row, name, value)
    return row


def load(session: Session, directory: Path = SEED_DIR, today: dt.date | None = None) -> dict[str, int]:
    """Validate every seed file, then write them all in the caller's transaction. Returns counts per kind."""
    seed = schema.load_seed(directory)
    today = today or dt.datetime.now(REGION_TZ).date()

    departments: dict[str, models.Department] = {}
    for d in seed.departments:
        departments[d.code] = _upsert(
            session,
            models.Department,
            {"code": d.code},
            {
                "name": d.name,
                "description": d.description,
                "municipality": d.municipality,
                "email": d.email,
                "phone": d.phone,
                "queue_code": d.queue.code,
                "queue_name": d.queue.name,
                "business_hours": d.business_hours.as_json(),
            },
        )
    session.flush()

    for h in seed.holidays:
        _upsert(session, models.Holiday, {"date": h.date}, {"name": h.name})

    for s in seed.services:
        service = _upsert(
            session,
            models.Service,
            {"code": s.code},
            {
                "name": s.name,
                "description": s.description,
                "group": s.group,
                "department": departments[s.department],
                "keywords": list(s.keywords),
                "target_routine_hours": s.targets.routine,
                "target_urgent_hours": s.targets.urgent,
                "target_emergency_hours": s.targets.emergency,
                "can_be_emergency": s.can_be_emergency,
                "emergency_instruction": s.emergency_instruction,
                "location_required": s.location_required,
                "active": True,
            },
        )
        _sync_attributes(service, s.attributes)

    for article in seed.articles:
        kb.upsert_article(session, article, author="seed")

    locations = {
        loc.code: _upsert(
            session,
            models.AppointmentLocation,
            {"code": loc.code},
            {
                "name": loc.name,
                "address": loc.address,
                "city": loc.city,
                "postal_code": loc.postal_code,
                "phone": loc.phone,
                "accessibility": loc.accessibility,
            },
        )
        for loc in seed.appointments.locations
    }
    appointment_types = [
        _upsert(
            session,
            models.AppointmentType,
            {"code": t.code},
            {
                "name": t.name,
                "department": departments[t.department],
                "description": t.description,
                "eligibility": t.eligibility,
                "duration_minutes": t.duration_minutes,
                "schedule": t.schedule.model_dump(mode="json"),
                "locations": [locations[code] for code in t.locations],
            },
        )
        for t in seed.appointments.types
    ]
    session.flush()
    holidays = {h.date for h in seed.holidays}
    slots = sum(_add_missing_slots(session, t, today, holidays) for t in appointment_types)

    for e in seed.events:
        _upsert(
            session,
            models.PublicEvent,
            {"code": e.code},
            {
                "title": e.title,
                "description": e.description,
                "department": departments[e.department],
                "venue": e.venue,
                "address": e.address,
                "starts_at": e.starts_at,
                "ends_at": e.ends_at,
                "capacity": e.capacity,
                "online_option": e.online_option,
            },
        )
    for f in seed.forms:
        _upsert(
            session,
            models.MailableItem,
            {"code": f.code},
            {
                "title": f.title,
                "description": f.description,
                "department": departments[f.department],
                "format": f.format,
                "languages": list(f.languages),
                "max_copies": f.max_copies,
            },
        )
    for r in seed.referrals:
        _upsert(
            session,
            models.ReferralOrganization,
            {"code": r.code},
            {
                "name": r.name,
                "level": r.level,
                "topics": list(r.topics),
                "description": r.description,
                "phone": r.phone,
                "website": r.website,
                "hours": r.hours,
            },
        )
    for shift in seed.oncall:
        _upsert(
            session,
            models.OnCallShift,
            {
                "department_id": departments[shift.department].id,
                "role": shift.role,
                "starts_at": shift.starts_at,
            },
            {"name": shift.name, "phone": shift.phone, "ends_at": shift.ends_at},
        )
    return {
        "departments": len(seed.departments),
        "holidays": len(seed.holidays),
        "services": len(seed.services),
        "articles": len(seed.articles),
        "appointment types": len(seed.appointments.types),
        "new appointment slots": slots,
        "events": len(seed.events),
        "forms": len(seed.forms),
        "referrals": len(seed.referrals),
        "on-call shifts": len(seed.oncall),
    }


def _sync_attributes(service: models.Service, attributes: list[schema.ServiceAttribute]) -> None:
    """Update the service's questions in place by code (a delete-then-insert would clash on the unique code)."""
    existing = {attribute.code: attribute for attribute in service.attributes}
    wanted = []
    for a in attributes:
        row = existing.get(a.code) or models.ServiceAttribute(code=a.code)
        row.description, row.datatype, row.datatype_description = a.description, a.datatype, a.datatype_description
        row.required, row.variable, row.order = a.required, a.variable, a.order
        row.values = [{"key": v.key, "name": v.name} for v in a.values]
        wanted.append(row)
    service.attributes = wanted


def generate_slots(
    schedule: dict[str, Any], duration_minutes: int, start: dt.date, closed: Iterable[dt.date]
) -> list[tuple[dt.datetime, dt.datetime]]:
    """Slot times (UTC) of a weekly schedule from `start` for `weeks_ahead` weeks, skipping closed days."""
    closed_days = set(closed)
    weekdays = {schema.WEEKDAYS.index(day) for day in schedule["weekdays"]}
    opens = dt.time.fromisoformat(schedule["start"])
    closes = dt.time.fromisoformat(schedule["end"])
    step = dt.timedelta(minutes=duration_minutes)
    slots = []
    for offset in range(7 * int(schedule["weeks_ahead"])):
        day = start + dt.timedelta(days=offset)
        if day.weekday() not in weekdays or day in closed_days:
            continue
        moment = dt.datetime.combine(day, opens, REGION_TZ)
        end_of_day = dt.datetime.combine(day, closes, REGION_TZ)
        while moment + step <= end_of_day:
            slots.append((moment.astimezone(dt.UTC), (moment + step).astimezone(dt.UTC)))
            moment += step
    return slots


def _add_missing_slots(
    session: Session, appointment_type: models.AppointmentType, start: dt.date, closed: set[dt.date]
) -> int:
    existing = {
        (location_id, starts_at)
        for location_id, starts_at in session.execute(
            select(models.AppointmentSlot.location_id, models.AppointmentSlot.starts_at).where(
                models.AppointmentSlot.type_id == appointment_type.id
            )
        )
    }
    times = generate_slots(appointment_type.schedule, appointment_type.duration_minutes, start, closed)
    capacity = int(appointment_type.schedule["capacity"])
    rows = [
        {
            "type_id": appointment_type.id,
            "location_id": location.id,
            "starts_at": starts_at,
            "ends_at": ends_at,
            "capacity": capacity,
            "booked": 0,
        }
        for location in appointment_type.locations
        for starts_at, ends_at in times
        if (location.id, starts_at) not in existing
    ]
    if rows:
        session.execute(insert(models.AppointmentSlot), rows)
    return len(rows)
