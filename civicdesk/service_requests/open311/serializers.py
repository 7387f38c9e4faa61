"""Open311 serializers: one pydantic model per resource, built from the database row; free text is made public."""

from __future__ import annotations

import datetime as dt
import re
from typing import Literal

from pydantic import BaseModel

from civicdesk.business_time import REGION_TZ
from civicdesk.models import Service, ServiceRequest

MEDIA_URL_TYPE = "text/uri-list"  # a media_url is kept as an attachment of this type: a link, not a file


class ServiceOut(BaseModel):
    service_code: str
    service_name: str
    description: str
    metadata: bool
    type: Literal["realtime", "batch", "blackbox"]
    keywords: str
    group: str


class AttributeValueOut(BaseModel):
    key: str
    name: str


class AttributeOut(BaseModel):
    variable: bool
    code: str
    datatype: Literal["string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"]
    required: bool
    datatype_description: str | None
    order: int
    description: str
    values: list[AttributeValueOut]


class ServiceDefinitionOut(BaseModel):
    service_code: str
    attributes: list[AttributeOut]


class RequestOut(BaseModel):
    service_request_id: str
    status: Literal["open", "closed"]
    status_notes: str | None
    service_name: str
    service_code: str
    description: str
    agency_responsible: str
    service_notice: str | None
    requested_datetime: str
    updated_datetime: str
    expected_datetime: str | None
    address: str | None
    zipcode: str | None
    lat: float | None
    long: float | None
    media_url: str | None


class CreatedOut(BaseModel):
    service_request_id: str
    service_notice: str | None
    account_id: str | None


class TokenOut(BaseModel):
    service_request_id: str
    token: str


def w3_datetime(moment: dt.datetime) -> str:
    """The W3C profile of ISO 8601 with the offset, in the Region's time (2026-11-23T09:15:02-05:00)."""
    return moment.astimezone(REGION_TZ).isoformat(timespec="seconds")


def service_out(service: Service) -> ServiceOut:
    return ServiceOut(
        service_code=service.code,
        service_name=service.name,
        description=service.description,
        metadata=bool(service.attributes),
        type="realtime",  # the request id is returned at once
        keywords=", ".join(str(keyword) for keyword in service.keywords),
        group=service.group,
    )


def definition_out(service: Service) -> ServiceDefinitionOut:
    return ServiceDefinitionOut(
        service_code=service.code,
        attributes=[
            AttributeOut(
                variable=attribute.variable,
                code=attribute.code,
                datatype=attribute.datatype,  # type: ignore[arg-type]
                required=attribute.required,
                datatype_description=attribute.datatype_description,
                order=attribute.order,
                description=attribute.description,
                values=[AttributeValueOut(key=str(v["key"]), name=str(v["name"])) for v in attribute.values],
            )
            for attribute in service.attributes
        ],
    )


def _long_date(moment: dt.datetime) -> str:
    local = moment.astimezone(REGION_TZ)
    hour = local.hour % 12 or 12
    return f"{local:%A, %B} {local.day}, {local.year} at {hour}:{local:%M} {'a.m.' if local.hour < 12 else 'p.m.'}"


def service_notice(request: ServiceRequest, filing: bool = False) -> str | None:
    """What happens next, for a request still open. When it is filed, the app also gets the service's
    instruction for when the problem becomes an emergency, so the resident sees it at the right moment."""
    if request.status == "closed":
        return None
    notice = (
        f"{request.department.name} aims to respond by {_long_date(request.due_at)} "
        f"Quote {request.reference} when you contact Northvale Service First about this request."
    )
    if filing and request.service.can_be_emergency and request.service.emergency_instruction:
        notice += " " + request.service.emergency_instruction
    return notice


# An address starts where a run without spaces or '@' starts: the lookbehind stops a failed match from being tried
# again at every later character of a long run, which made a 30,000-character description take seconds.
EMAIL_IN_TEXT = re.compile(r"(?<![^@\s])[^@\s]+@[^@\s]+\.[A-Za-z]{2,}")
PHONE_IN_TEXT = re.compile(r"(?<!\d)(?:\+?1[\s.-]?)?\(?\d{3}\)?[\s.-]?\d{3}[\s.-]?\d{4}(?!\d)")


def public_text(text: str | None, request: ServiceRequest) -> str | None:
    """Free text as the public may see it: the resident's name, email addresses and phone numbers taken out."""
    if text is None:
        return None
    if request.contact and request.contact.name and len(request.contact.name) >= 3:
        text = re.sub(re.escape(request.contact.name), "[name removed]", text, flags=re.IGNORECASE)
    text = EMAIL_IN_TEXT.sub("[email removed]", text)
    return PHONE_IN_TEXT.sub("[phone removed]", text)


def request_out(request: ServiceRequest) -> RequestOut:
    media = [a.filename for a in request.attachments if a.content_type == MEDIA_URL_TYPE]
    closed = request.status == "closed"
    return RequestOut(
        service_request_id=request.reference or "",
        # Open311 knows two states: everything not yet closed (acknowledged, in progress, referred) is open.
        status="closed" if closed else "open",
        status_notes=public_text(request.resolution, request),
        service_name=request.service.name,
        service_code=request.service.code,
        description=public_text(request.description, request) or "",
        agency_responsible=request.department.name,
        service_notice=service_notice(request),
        requested_datetime=w3_datetime(request.created_at),
        updated_datetime=w3_datetime(request.closed_at if closed and request.closed_at else request.updated_at),
        expected_datetime=w3_datetime(request.due_at) if request.due_at else None,
        address=request.address,
        zipcode=request.postal_code,
        lat=request.lat,
        long=request.long,
        media_url=media[0] if media else None,
    )
