"""Open311 POST Service Request: the posted form checked field by field, then filed through the service layer."""

from __future__ import annotations

import math
import re
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlsplit

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy.orm import Session

from civicdesk import contacts, validation
from civicdesk.deps import SessionDep
from civicdesk.limits import LIMITS, MAX_FORM_FIELDS
from civicdesk.models import ApiClient, Service, ServiceRequest
from civicdesk.service_requests import service as service_requests
from civicdesk.service_requests.open311.errors import Open311Error, Open311Route, bad
from civicdesk.service_requests.open311.operations import MULTI_LINE, ONE_LINE, FormatPath, documented, georeport_error
from civicdesk.service_requests.open311.rendering import CONTROL_CHARACTERS, NOT_XML_CHARACTERS, render
from civicdesk.service_requests.open311.serializers import MEDIA_URL_TYPE, CreatedOut, service_notice
from civicdesk.service_requests.open311.services import active_service
from civicdesk.staff import api_clients
from civicdesk.validation import POSTAL_CODE

router = APIRouter(route_class=Open311Route)


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
    text = _text(form, name, LIMITS["number"])
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
        if not match or len(match.group(1)) > LIMITS["code"]:
            raise bad(key[:100], "write attribute answers as attribute[code]=value")
        if len(value) > LIMITS["attribute"] or NOT_XML_CHARACTERS.search(value):
            raise bad(key, f"at most {LIMITS['attribute']:,} characters, without control characters")
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
    url = _text(form, "media_url", LIMITS["url"])
    if url is None:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or any(char.isspace() for char in url):
        raise bad("media_url", "give a web address starting with http:// or https://")
    return url


async def form_fields(request: Request) -> list[tuple[str, str]]:
    """The posted fields in order (a repeated key is kept each time), decoded as UTF-8 as the spec requires.

    The body's size is capped by the app's body limit (civicdesk.body_limit) before it gets here."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in ("", "application/x-www-form-urlencoded"):
        raise Open311Error(400, "send the fields form-encoded (Content-Type: application/x-www-form-urlencoded)")
    body = await request.body()
    try:
        # surrogatepass lets half a character through the decoding, to be refused below by the field's name
        pairs = parse_qsl(
            body.decode("utf-8", "surrogatepass"),
            keep_blank_values=True,
            encoding="utf-8",
            errors="surrogatepass",
            max_num_fields=MAX_FORM_FIELDS,
        )
    except UnicodeDecodeError:
        raise Open311Error(400, "the form is not valid UTF-8 form-encoded text") from None
    except ValueError:  # parse_qsl's "Max number of fields exceeded"
        raise Open311Error(400, f"a form may have at most {MAX_FORM_FIELDS} fields") from None
    for key, value in pairs:
        if not (validation.whole_characters(key) and validation.whole_characters(value)):
            name = key.encode("utf-8", "replace").decode()[:100]
            raise bad(name, "must not contain a lone UTF-16 surrogate (half of a character)")
    return pairs


def _one_line(max_length: int, description: str = "") -> dict[str, Any]:
    return {"type": "string", "maxLength": max_length, "pattern": ONE_LINE, "description": description}


FORM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["api_key", "service_code"],
    "properties": {
        "api_key": _one_line(LIMITS["identifier"], "The key issued to your app (`civicdesk clients create`)."),
        "jurisdiction_id": _one_line(LIMITS["identifier"], "Accepted and ignored."),
        "service_code": _one_line(LIMITS["code"], "From GET Service List."),
        "lat": {"type": "number", "minimum": -90, "maximum": 90, "description": "WGS84 latitude (with long)."},
        "long": {"type": "number", "minimum": -180, "maximum": 180, "description": "WGS84 longitude (with lat)."},
        "address_string": _one_line(
            LIMITS["address"], "Address or intersection, most specific first; a postal code may end it."
        ),
        "address_id": _one_line(LIMITS["identifier"]),
        "email": _one_line(LIMITS["email"]),
        "device_id": _one_line(LIMITS["identifier"]),
        "account_id": _one_line(LIMITS["identifier"]),
        "first_name": _one_line(LIMITS["name"]),
        "last_name": _one_line(LIMITS["name"]),
        "phone": _one_line(LIMITS["phone"]),
        "description": {"type": "string", "maxLength": LIMITS["description"], "pattern": MULTI_LINE},
        "media_url": _one_line(LIMITS["url"], "A link to a photo or video (http or https)."),
    },
    "additionalProperties": {
        "type": "string",
        "maxLength": LIMITS["attribute"],
        "description": "Attribute answers: attribute[code]=value; repeat it (or use attribute[code][]) "
        "for each choice of a multivaluelist.",
    },
}


@router.post(
    "/requests.{format}",
    responses={
        **documented(list[CreatedOut], "service"),
        403: georeport_error("The api_key is missing, not valid or revoked."),
        413: georeport_error("The request is larger than 1 MB."),
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
    code = _text(form, "service_code", LIMITS["code"])
    if code is None:
        raise bad("service_code", "required; GET services.json lists them")
    service = active_service(session, code)
    lat, long = _coordinate(form, "lat"), _coordinate(form, "long")
    if (lat is None) != (long is None):
        raise bad("long" if long is None else "lat", "send lat and long together")
    address_string = _text(form, "address_string", LIMITS["address"])
    address_id = _text(form, "address_id", LIMITS["identifier"])
    answers = _attribute_answers(pairs, service)
    first, last = _text(form, "first_name", LIMITS["name"]), _text(form, "last_name", LIMITS["name"])
    name = " ".join(part for part in (first, last) if part) or None
    if name and len(name) > LIMITS["name"]:
        raise bad("last_name", f"first and last name together are at most {LIMITS['name'] - 1} characters")
    postal = POSTAL_CODE_IN_TEXT.search((address_string or "").upper())
    account_id = _text(form, "account_id", LIMITS["identifier"])
    device_id = _text(form, "device_id", LIMITS["identifier"])
    media_url = _media_url(form)
    data = service_requests.RequestIn(
        service_code=service.code,
        description=_text(form, "description", LIMITS["description"], multiline=True) or _describe(service, answers),
        channel="open311",
        address=address_string or (f"Address ID {address_id}" if address_id else None),
        postal_code=f"{postal.group(1)} {postal.group(2)}" if postal else None,
        lat=lat,
        long=long,
        attributes=answers,
        contact=contacts.ContactIn(
            name=name,
            email=_text(form, "email", LIMITS["email"]),
            phone=_text(form, "phone", LIMITS["phone"]),
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
