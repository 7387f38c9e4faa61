"""Open311 reading requests: GET Service Requests (filtered, within 90 days), one request, and a token's request."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from sqlalchemy import Select, select
from sqlalchemy.orm import selectinload

from civicdesk.deps import SessionDep
from civicdesk.models import Service, ServiceRequest
from civicdesk.service_requests.open311.errors import Open311Error, Open311Route, bad
from civicdesk.service_requests.open311.operations import ONE_LINE, FormatPath, Jurisdiction, documented
from civicdesk.service_requests.open311.rendering import render
from civicdesk.service_requests.open311.serializers import RequestOut, TokenOut, request_out

MAX_REQUESTS = 1000  # spec: "first 1000 requests returned"
MAX_SPAN = dt.timedelta(days=90)  # spec: a date range "may not span more than 90 days"

router = APIRouter(route_class=Open311Route)

# A W3C datetime with its timezone, exactly the ones that exist: the schema documents this pattern, so anything it
# allows must parse (a month 13 or a February 29 of 2027 would pass a looser one and then be refused). ASCII digits
# only: Python's \d also matches other scripts' digits.
_MONTH_DAY = (
    "(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])"
    "|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)"
    "|02-(?:0[1-9]|1[0-9]|2[0-8]))"
)
_LEAP_YEAR = "(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:0[48]|[2468][048]|[13579][26])00)"
_YEAR = "(?:[0-9]{3}[1-9]|[0-9]{2}[1-9]0|[0-9][1-9]00|[1-9]000)"  # 0001 to 9999
_DATE = f"(?:{_YEAR}-{_MONTH_DAY}|{_LEAP_YEAR}-02-29)"
_TIME = r"(?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9](?:\.[0-9]+)?)?"
_OFFSET = "(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"
W3_FORM = f"{_DATE}T{_TIME}{_OFFSET}"
W3_DATETIME = re.compile(W3_FORM)


def _w3(name: str, value: str | None) -> dt.datetime | None:
    """A W3C datetime with its timezone (spec: "Timezone information must be included"), as UTC."""
    if not value:  # spec: an empty argument is the same as none
        return None
    if not W3_DATETIME.fullmatch(value):
        raise bad(name, f"{value!r} is not a W3C date and time with a timezone, e.g. 2026-11-23T00:00:00-05:00")
    moment = dt.datetime.fromisoformat(value)
    try:
        return moment.astimezone(dt.UTC)
    except OverflowError:  # within hours of the calendar's ends (0001-01-01T00:00+05:00): the end itself
        return (dt.datetime.min if moment.year == 1 else dt.datetime.max).replace(tzinfo=dt.UTC)


def _window(start: dt.datetime | None, end: dt.datetime | None) -> tuple[dt.datetime, dt.datetime]:
    """The requested_datetime range searched: given ends, else the most recent 90 days (at most 90 days)."""
    try:
        if start is None:
            end = end or dt.datetime.now(dt.UTC)
            start = end - MAX_SPAN
        elif end is None:
            end = start + MAX_SPAN
    except OverflowError:
        raise bad("start_date" if end is None else "end_date", "the 90-day range runs past the calendar") from None
    if end < start:
        raise bad("end_date", "comes before start_date")
    if end - start > MAX_SPAN:
        raise bad("end_date", "the range from start_date may not span more than 90 days")
    return start, end


def _listed(value: str | None) -> list[str]:
    """A comma-delimited argument; blank items are ignored."""
    return [item.strip() for item in (value or "").split(",") if item.strip()]


def _public_requests() -> Select[ServiceRequest]:
    """Service requests the public API shows (complaints, compliments and inquiries stay internal)."""
    return (
        select(ServiceRequest)
        .where(ServiceRequest.kind == "service_request", ServiceRequest.reference.is_not(None))
        .options(
            selectinload(ServiceRequest.service),
            selectinload(ServiceRequest.department),
            selectinload(ServiceRequest.attachments),
            selectinload(ServiceRequest.contact),
        )
    )


Listed = Annotated[str | None, Query(pattern=ONE_LINE, description="Comma-delimited.")]
# The formats are documented in the schema and checked in the code, which explains a mistake better.
W3Query = Annotated[
    str | None,
    Query(
        description="W3C datetime with timezone, e.g. 2026-11-01T00:00:00-04:00.",
        json_schema_extra={"pattern": f"^({W3_FORM})?$"},
    ),
]
STATUSES = r"^[\s,]*((open|closed)(\s*,[\s,]*|\s*$))*$"


@router.get("/requests.{format}", responses=documented(list[RequestOut]), response_model=None)
def get_requests(
    format: FormatPath,
    session: SessionDep,
    service_request_id: Annotated[
        str | None, Query(pattern=ONE_LINE, description="Comma-delimited; overrides the other filters.")
    ] = None,
    service_code: Listed = None,
    start_date: W3Query = None,
    end_date: W3Query = None,
    status: Annotated[
        str | None,
        Query(description="open, closed, or both comma-delimited.", json_schema_extra={"pattern": STATUSES}),
    ] = None,
    jurisdiction_id: Jurisdiction = None,
) -> Response:
    """GET Service Requests: newest first, at most 1,000, requested within a range of at most 90 days."""
    query = _public_requests().order_by(ServiceRequest.created_at.desc(), ServiceRequest.id.desc())
    # Malformed arguments are refused even when service_request_id overrides them.
    statuses = set(_listed(status))
    unknown = sorted(statuses - {"open", "closed"})
    if unknown:
        raise bad("status", f"{unknown[0]!r} is not a status; use open, closed or both")
    start_at, end_at = _w3("start_date", start_date), _w3("end_date", end_date)
    references = _listed(service_request_id)
    if references:
        query = query.where(ServiceRequest.reference.in_([r.upper() for r in references[:MAX_REQUESTS]]))
    else:
        start, end = _window(start_at, end_at)
        query = query.where(ServiceRequest.created_at >= start, ServiceRequest.created_at <= end)
        codes = set(_listed(service_code))
        if len(codes) > 200:
            raise bad("service_code", "at most 200 codes at once")
        if codes:
            query = query.where(ServiceRequest.service.has(Service.code.in_(codes)))
        if statuses == {"open"}:
            query = query.where(ServiceRequest.status != "closed")
        elif statuses == {"closed"}:
            query = query.where(ServiceRequest.status == "closed")
    requests = session.scalars(query.limit(MAX_REQUESTS))
    return render(format, "service_requests", [request_out(request) for request in requests])


@router.get(
    "/requests/{service_request_id}.{format}",
    responses=documented(list[RequestOut], "service request"),
    response_model=None,
)
def get_request(
    service_request_id: Annotated[str, Path(pattern=ONE_LINE)],
    format: FormatPath,
    session: SessionDep,
    jurisdiction_id: Jurisdiction = None,
) -> Response:
    """GET Service Request: one request by its reference (SR-2026-000123), as a list of one."""
    reference = service_request_id.strip().upper()
    request = session.scalar(_public_requests().where(ServiceRequest.reference == reference))
    if request is None:
        raise Open311Error(404, f"service_request_id: no service request {service_request_id!r}")
    return render(format, "service_requests", [request_out(request)])


@router.get("/tokens/{token}.{format}", responses=documented(list[TokenOut], "token"), response_model=None)
def get_token(
    token: Annotated[str, Path(pattern=ONE_LINE)],
    format: FormatPath,
    session: SessionDep,
    jurisdiction_id: Jurisdiction = None,
) -> Response:
    """GET service_request_id from a token."""
    request = session.scalar(_public_requests().where(ServiceRequest.token == token.strip()))
    if request is None or request.reference is None or request.token is None:
        raise Open311Error(404, f"token: no service request has token {token!r}")
    return render(format, "service_requests", [TokenOut(service_request_id=request.reference, token=request.token)])
