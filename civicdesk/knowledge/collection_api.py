"""Internal API (`/api/v1`) for the collection day by address: the assistant sends what the resident wrote and
shows the answer (the day, this week and next, the next collections), or what to do when the address is not in
the zone table. Separate from the knowledgebase search: the answer comes from a table, not an article."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from fastapi import Query, Request
from pydantic import BaseModel, Field

from civicdesk.knowledge.collection import Collection, CollectionDays, Lookup
from civicdesk.limits import LIMITS
from civicdesk.staff.deps import internal_router

router = internal_router("internal")

REGION_TZ = ZoneInfo("America/Toronto")
# The calendar's weeks are counted from one Monday; a date this far off is a mistake, not a question.
EARLIEST, LATEST = dt.date(2000, 1, 1), dt.date(2099, 12, 31)


class CollectionOut(BaseModel):
    date: dt.date
    garbage: bool = Field(description="A garbage week: garbage as well as blue box and green bin.")
    moved_for: str | None = Field(description="The holiday that moved this collection a day later.")


class CollectionDayOut(BaseModel):
    status: Literal["found", "not_found", "ambiguous", "out_of_range", "no_address"]
    message: str = Field(description="The answer in words, for the resident.")
    address: str = Field(description="The address as read: '45 Oak Avenue, Pinecrest' (may be partial).")
    municipality: str | None
    choices: list[str] = Field(description="For an ambiguous street: the municipalities that have it.")
    day: str | None = Field(description="The collection weekday, 'Tuesday', when found.")
    garbage_week: Literal["A", "B"] | None
    this_week_garbage: bool | None
    next_week_garbage: bool | None
    next_collections: list[CollectionOut]


@router.get("/collection-day")
def collection_day(
    request: Request,
    address: Annotated[
        str,
        Query(min_length=1, max_length=LIMITS["address"], description="What the resident wrote: number, street, town."),
    ],
    municipality: Annotated[
        str | None, Query(max_length=LIMITS["short"], description="The town, when chosen apart from the address.")
    ] = None,
    on: Annotated[
        dt.date | None,
        Query(ge=EARLIEST, le=LATEST, description="Answer as of this day, 2000 to 2099 (default: today in Northvale)."),
    ] = None,
) -> CollectionDayOut:
    """The home's collection day and garbage weeks from the zone table (seed_data/collection.yaml)."""
    days: CollectionDays = request.app.state.collection_days
    found = days.lookup(address, on or dt.datetime.now(REGION_TZ).date(), municipality)
    return _out(found)


def _out(found: Lookup) -> CollectionDayOut:
    answer = found.answer
    return CollectionDayOut(
        status=found.status,
        message=found.message,
        address=found.address.say(),
        municipality=found.address.municipality,
        choices=list(found.choices),
        day=answer.day if answer else None,
        garbage_week=answer.garbage_week if answer else None,
        this_week_garbage=answer.this_week_garbage if answer else None,
        next_week_garbage=answer.next_week_garbage if answer else None,
        next_collections=[_collection(c) for c in answer.next_collections] if answer else [],
    )


def _collection(collection: Collection) -> CollectionOut:
    return CollectionOut(date=collection.date, garbage=collection.garbage, moved_for=collection.moved_for)
