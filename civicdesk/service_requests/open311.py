"""Open311 GeoReport v2 (http://wiki.open311.org/GeoReport_v2): the catalogue and service requests for apps.

Every resource has one serializer (a pydantic model built from the database row) and `render` turns it into JSON
or the spec's XML; errors are the spec's array of {code, description} in either format. Service requests are
created through the same service layer as every other channel. Public answers never carry the resident's name,
email or phone: only what is needed to follow the problem on the street.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Coroutine, Sequence
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl, urlsplit

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel
from sqlalchemy import Select, select
from sqlalchemy.orm import Session, selectinload

from civicdesk import contacts
from civicdesk.business_time import REGION_TZ
from civicdesk.deps import SessionDep
from civicdesk.errors import InvalidInput
from civicdesk.models import ApiClient, Service, ServiceRequest
from civicdesk.service_requests import service as service_requests
from civicdesk.staff import api_clients
from civicdesk.validation import POSTAL_CODE

Format = Literal["json", "xml"]
MAX_REQUESTS = 1000  # spec: "first 1000 requests returned"
MAX_SPAN = dt.timedelta(days=90)  # spec: a date range "may not span more than 90 days"
MAX_BODY_BYTES = 1_000_000
MEDIA_URL_TYPE = "text/uri-list"  # a media_url is kept as an attachment of this type: a link, not a file
CONTENT_TYPES = {"json": "application/json; charset=utf-8", "xml": "text/xml; charset=utf-8"}


# ----------------------------------------------------------------------------- errors


class Open311Error(Exception):
    """An error answered the spec's way: 404 for what does not exist, 403 for the api_key, 400 for the rest."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description


def bad(field: str, message: str) -> Open311Error:
    return Open311Error(400, f"{field}: {message}")


# The service layer names some fields its own way; apps know them by their Open311 names.
OPEN311_FIELD = {
    "address": "address_string",
    "contact.name": "first_name",
    "contact.email": "email",
    "contact.phone": "phone",
}


def from_invalid_input(error: InvalidInput) -> Open311Error:
    return bad(OPEN311_FIELD.get(error.field, error.field), error.message)


# ----------------------------------------------------------------------------- serializers


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


class ErrorOut(BaseModel):
    code: int
    description: str


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


EMAIL_IN_TEXT = re.compile(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}")
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


# ----------------------------------------------------------------------------- rendering

# JSON arrays become an XML container of item elements (the spec's "Spark convention").
XML_ITEM = {
    "services": "service",
    "attributes": "attribute",
    "values": "value",
    "service_requests": "request",
    "errors": "error",
}
NOT_XML_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
CONTROL_CHARACTERS = re.compile("[\x00-\x1f\x7f\ufffe\uffff]")  # not even line breaks


def _xml_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return NOT_XML_CHARACTERS.sub("", str(value))


def _xml_element(tag: str, value: Any) -> ET.Element:
    element = ET.Element(tag)
    if isinstance(value, dict):
        for key, child in value.items():
            element.append(_xml_element(key, child))
    elif isinstance(value, list):
        for item in value:
            element.append(_xml_element(XML_ITEM[tag], item))
    else:
        element.text = _xml_text(value)
    return element


def render(fmt: str, root: str, payload: BaseModel | Sequence[BaseModel], status: int = 200) -> Response:
    """The one place a resource becomes JSON or the spec's XML (`root` names the XML document element)."""
    data = payload.model_dump() if isinstance(payload, BaseModel) else [item.model_dump() for item in payload]
    if fmt == "xml":
        body = '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(_xml_element(root, data), encoding="unicode")
    else:
        fmt, body = "json", json.dumps(data, ensure_ascii=False)
    return Response(body.encode("utf-8"), status_code=status, headers={"Content-Type": CONTENT_TYPES[fmt]})


def render_error(request: Request, error: Open311Error) -> Response:
    fmt = "xml" if request.path_params.get("format") == "xml" else "json"
    return render(fmt, "errors", [ErrorOut(code=error.status, description=error.description)], error.status)


class Open311Route(APIRoute):
    """Routes whose every failure is answered in the spec's error format, never as FastAPI's 422."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except Open311Error as error:
                return render_error(request, error)
            except InvalidInput as error:
                return render_error(request, from_invalid_input(error))
            except RequestValidationError as error:
                problems = error.errors()
                first = problems[0] if problems else {"loc": ("request",), "msg": "is not valid"}
                return render_error(request, bad(str(first["loc"][-1]), str(first["msg"])))

        return route


def _documented(model: Any, *not_found: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI responses of an Open311 operation: the model in JSON, XML as text, and the spec's errors."""
    errors = {"model": list[ErrorOut], "content": {"text/xml": {"schema": {"type": "string"}}}}
    responses: dict[int | str, dict[str, Any]] = {
        200: {"model": model, "content": {"text/xml": {"schema": {"type": "string"}}}},
        400: {**errors, "description": "A parameter is missing or not valid; the description names it."},
    }
    if not_found:
        responses[404] = {**errors, "description": f"No such {' or '.join(not_found)}."}
    return responses


router = APIRouter(prefix="/open311/v2", tags=["open311"], route_class=Open311Route)

# Path and query text may not hold control characters: they never belong there, and PostgreSQL refuses NUL.
ONE_LINE = r"^[^\x00-\x1f\x7f]*$"
MULTI_LINE = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]*$"
FormatPath = Annotated[Format, Path(description="Response format: json or xml.")]
Jurisdiction = Annotated[
    str | None,
    Query(pattern=ONE_LINE, description="Accepted and ignored: this endpoint serves only the Northvale Region."),
]


# ----------------------------------------------------------------------------- services


@router.get("/services.{format}", responses=_documented(list[ServiceOut]), response_model=None)
def get_services(format: FormatPath, session: SessionDep, jurisdiction_id: Jurisdiction = None) -> Response:
    """GET Service List: the active service catalogue."""
    services = session.scalars(
        select(Service).where(Service.active).options(selectinload(Service.attributes)).order_by(Service.name)
    )
    return render(format, "services", [service_out(service) for service in services])


def _active_service(session: Session, code: str) -> Service:
    service = session.scalar(select(Service).where(Service.code == code).options(selectinload(Service.attributes)))
    if service is None or not service.active:
        raise Open311Error(404, f"service_code: {code!r} is not a service in the catalogue")
    return service


@router.get(
    "/services/{service_code}.{format}", responses=_documented(ServiceDefinitionOut, "service"), response_model=None
)
def get_service_definition(
    service_code: Annotated[str, Path(pattern=ONE_LINE)],
    format: FormatPath,
    session: SessionDep,
    jurisdiction_id: Jurisdiction = None,
) -> Response:
    """GET Service Definition: the questions a service asks (its attributes), in display order."""
    return render(format, "service_definition", definition_out(_active_service(session, service_code)))


# ----------------------------------------------------------------------------- creating a request


def _text(form: dict[str, list[str]], name: str, max_length: int, multiline: bool = False) -> str | None:
    """One optional text field: blank is the same as absent (spec, "Optional Arguments"); no control characters."""
    values = form.get(name, [])
    if len(values) > 1:
        raise bad(name, "give it once")
    value = values[0] if values else ""
    if (NOT_XML_CHARACTERS if multiline else CONTROL_CHARACTERS).search(value):
        raise bad(name, "contains control characters")
    value = value.strip()
    if len(value) > max_length:
        raise bad(name, f"at most {max_length:,} characters")
    return value or None


def _coordinate(form: dict[str, list[str]], name: str) -> float | None:
    text = _text(form, name, 40)
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        raise bad(name, f"{text!r} is not a number (decimal degrees, WGS84)") from None
    if not math.isfinite(value):
        raise bad(name, f"{text!r} is not a number (decimal degrees, WGS84)")
    return value


# A postal code at the end of address_string fills in zipcode (the spec has no zipcode field to post).
POSTAL_CODE_IN_TEXT = re.compile(r"\b" + POSTAL_CODE.pattern.strip("^$") + r"\s*$")
ATTRIBUTE_FIELD = re.compile(r"^attribute\[([^\[\]]+)\](\[\])?$")


def _attribute_answers(pairs: list[tuple[str, str]], service: Service) -> dict[str, Any]:
    """`attribute[code]=value`, repeated (or `attribute[code][]`) for a multivaluelist, by attribute code."""
    given: dict[str, list[str]] = {}
    for key, value in pairs:
        if not key.startswith("attribute"):
            continue
        match = ATTRIBUTE_FIELD.match(key)
        if not match:
            raise bad(key, "write attribute answers as attribute[code]=value")
        if len(value) > 4000 or NOT_XML_CHARACTERS.search(value):
            raise bad(key, "at most 4,000 characters, without control characters")
        if value.strip():
            given.setdefault(match.group(1), []).append(value.strip())
    datatypes = {attribute.code: attribute.datatype for attribute in service.attributes}
    answers: dict[str, Any] = {}
    for code, values in given.items():
        datatype = datatypes.get(code)
        if datatype == "multivaluelist":
            answers[code] = values
            continue
        if len(values) > 1:
            raise bad(f"attribute[{code}]", "give one value")
        if datatype == "number":
            try:
                if not math.isfinite(float(values[0])):
                    raise ValueError
            except ValueError:
                raise bad(f"attribute[{code}]", f"{values[0]!r} is not a number") from None
        answers[code] = values[0]
    return answers


def _describe(service: Service, answers: dict[str, Any]) -> str:
    """A description written from the answers, for apps that send none (the spec makes it optional)."""
    parts = [f"{service.name}."]
    for attribute in service.attributes:
        answer = answers.get(attribute.code)
        if answer is None:
            continue
        names = {str(v["key"]): str(v["name"]) for v in attribute.values}
        chosen = answer if isinstance(answer, list) else [answer]
        parts.append(f"{attribute.description} {', '.join(names.get(str(a), str(a)) for a in chosen)}.")
    return " ".join(parts)


def _media_url(form: dict[str, list[str]]) -> str | None:
    url = _text(form, "media_url", 255)
    if url is None:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or any(char.isspace() for char in url):
        raise bad("media_url", "give a web address starting with http:// or https://")
    return url


async def form_fields(request: Request) -> list[tuple[str, str]]:
    """The posted fields in order (a repeated key is kept each time), decoded as UTF-8 as the spec requires."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in ("", "application/x-www-form-urlencoded"):
        raise Open311Error(400, "send the fields form-encoded (Content-Type: application/x-www-form-urlencoded)")
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        raise Open311Error(400, "the request is larger than 1 MB; send media as a media_url link")
    try:
        return parse_qsl(body.decode("utf-8"), keep_blank_values=True, errors="strict", max_num_fields=500)
    except (UnicodeDecodeError, ValueError):
        raise Open311Error(400, "the form is not valid UTF-8 form-encoded text") from None


def _one_line(max_length: int, description: str = "") -> dict[str, Any]:
    return {"type": "string", "maxLength": max_length, "pattern": ONE_LINE, "description": description}


FORM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["api_key", "service_code"],
    "properties": {
        "api_key": _one_line(200, "The key issued to your app (`civicdesk clients create`)."),
        "jurisdiction_id": _one_line(200, "Accepted and ignored."),
        "service_code": _one_line(64, "From GET Service List."),
        "lat": {"type": "number", "minimum": -90, "maximum": 90, "description": "WGS84 latitude (with long)."},
        "long": {"type": "number", "minimum": -180, "maximum": 180, "description": "WGS84 longitude (with lat)."},
        "address_string": _one_line(300, "Address or intersection, most specific first; a postal code may end it."),
        "address_id": _one_line(100),
        "email": _one_line(254),
        "device_id": _one_line(200),
        "account_id": _one_line(200),
        "first_name": _one_line(100),
        "last_name": _one_line(100),
        "phone": _one_line(40),
        "description": {"type": "string", "maxLength": 4000, "pattern": MULTI_LINE},
        "media_url": _one_line(255, "A link to a photo or video (http or https)."),
    },
    "additionalProperties": {
        "type": "string",
        "description": "Attribute answers: attribute[code]=value; repeat it (or use attribute[code][]) "
        "for each choice of a multivaluelist.",
    },
}


@router.post(
    "/requests.{format}",
    responses={
        **_documented(list[CreatedOut], "service"),
        403: {
            "model": list[ErrorOut],
            "content": {"text/xml": {"schema": {"type": "string"}}},
            "description": "The api_key is missing, not valid or revoked.",
        },
    },
    response_model=None,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/x-www-form-urlencoded": {"schema": FORM_SCHEMA}},
        }
    },
)
def post_request(
    format: FormatPath,
    session: SessionDep,
    pairs: Annotated[list[tuple[str, str]], Depends(form_fields)],
) -> Response:
    """POST Service Request: file a request for a resident (needs an api_key with the open311 scope)."""
    form: dict[str, list[str]] = {}
    for key, value in pairs:
        if not key.startswith("attribute"):
            form.setdefault(key, []).append(value)
    keys = form.get("api_key", [])
    client = api_clients.verify_key(session, keys[0] if len(keys) == 1 else None, "open311")
    if client is None:
        raise Open311Error(403, "api_key: missing, not valid or revoked; ask Northvale Service First for a key")
    code = _text(form, "service_code", 64)
    if code is None:
        raise bad("service_code", "required; GET services.json lists them")
    service = _active_service(session, code)
    lat, long = _coordinate(form, "lat"), _coordinate(form, "long")
    if (lat is None) != (long is None):
        raise bad("long" if long is None else "lat", "send lat and long together")
    address_string, address_id = _text(form, "address_string", 300), _text(form, "address_id", 100)
    answers = _attribute_answers(pairs, service)
    first, last = _text(form, "first_name", 100), _text(form, "last_name", 100)
    name = " ".join(part for part in (first, last) if part) or None
    if name and len(name) > 200:
        raise bad("last_name", "first and last name together are at most 199 characters")
    postal = POSTAL_CODE_IN_TEXT.search((address_string or "").upper())
    account_id = _text(form, "account_id", 200)
    device_id = _text(form, "device_id", 200)
    media_url = _media_url(form)
    data = service_requests.RequestIn(
        service_code=service.code,
        description=_text(form, "description", 4000, multiline=True) or _describe(service, answers),
        channel="open311",
        address=address_string or (f"Address ID {address_id}" if address_id else None),
        postal_code=f"{postal.group(1)} {postal.group(2)}" if postal else None,
        lat=lat,
        long=long,
        attributes=answers,
        contact=contacts.ContactIn(
            name=name,
            email=_text(form, "email", 254),
            phone=_text(form, "phone", 40),
        ),
    )
    request = service_requests.create_request(session, data, actor=f"open311:{client.name}")
    request.api_client_id = client.id
    _record_submission(session, request, client, media_url, device_id, account_id, address_id)
    notice = service_notice(request, filing=True)
    reference = request.reference or ""
    session.commit()
    return render(
        format,
        "service_requests",
        [CreatedOut(service_request_id=reference, service_notice=notice, account_id=account_id)],
    )


def _record_submission(
    session: Session,
    request: ServiceRequest,
    client: ApiClient,
    media_url: str | None,
    device_id: str | None,
    account_id: str | None,
    address_id: str | None,
) -> None:
    """What the app told us that has no column of its own: the media link, and ids for agents tracing a report."""
    if media_url:
        service_requests.add_attachment(session, request, media_url, MEDIA_URL_TYPE, 0, None)
    ids = [f"{label} {value}" for label, value in (("device", device_id), ("app account", account_id)) if value]
    if address_id:
        ids.append(f"address ID {address_id}")
    if ids:
        body = f"Submitted through the Open311 app {client.name}: {', '.join(ids)}."
        service_requests.add_note(session, request, author=f"open311:{client.name}", body=body)


# ----------------------------------------------------------------------------- reading requests

W3_FORM = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})"
W3_DATETIME = re.compile(f"^{W3_FORM}$")


def _w3(name: str, value: str | None) -> dt.datetime | None:
    """A W3C datetime with its timezone (spec: "Timezone information must be included"), as UTC."""
    if not value:  # spec: an empty argument is the same as none
        return None
    try:
        if not W3_DATETIME.match(value):
            raise ValueError
        return dt.datetime.fromisoformat(value).astimezone(dt.UTC)
    except (ValueError, OverflowError):
        raise bad(
            name, f"{value!r} is not a W3C date and time with a timezone, e.g. 2026-11-23T00:00:00-05:00"
        ) from None


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


@router.get("/requests.{format}", responses=_documented(list[RequestOut]), response_model=None)
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
    responses=_documented(list[RequestOut], "service request"),
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


@router.get("/tokens/{token}.{format}", responses=_documented(list[TokenOut], "token"), response_model=None)
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
