"""Client for the civicdesk core HTTP API.

Configuration comes from the environment so the same code runs in development, tests and production:

- ``CIVICDESK_CORE_URL``: base URL of the core web app (default ``http://127.0.0.1:8000``).
- ``CIVICDESK_ACTIONS_TOKEN``: service token, sent as ``Authorization: Bearer <token>``.
- ``CIVICDESK_CORE_TIMEOUT``: seconds before a request is abandoned (default 5). A resident is
  waiting on the other end, and Rasa itself gives up on the action server after a while.

Every failure (unreachable, timeout, HTTP error status, malformed body) is raised as ``CoreAPIError``
so callers have one thing to catch. Three answers the actions treat differently are subclasses:
``NotFound`` (404: no such reference, or an endpoint the core does not have yet), ``Refused`` (409:
a valid request the current state refuses, e.g. no seat left; its message is the core's reason) and
``Invalid`` (422: a value the core cannot accept; ``field`` says which).
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import quote

import aiohttp

logger = logging.getLogger(__name__)

DEFAULT_CORE_URL = "http://127.0.0.1:8000"
DEFAULT_TIMEOUT_SECONDS = 5.0
KB_SEARCH_PATH = "/api/v1/kb/search"
KB_GAPS_PATH = "/api/v1/kb/gaps"


class CoreAPIError(Exception):
    """The core API could not be reached, or answered with an error or an unexpected body."""


class NotFound(CoreAPIError):
    """HTTP 404: an unknown reference, or an endpoint this core does not have."""


class Refused(CoreAPIError):
    """HTTP 409: the request was valid but the current state refuses it; str() is the reason."""


class Invalid(CoreAPIError):
    """HTTP 422: a value the core cannot accept."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class CoreSettings:
    base_url: str
    token: str
    timeout_seconds: float

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> CoreSettings:
        env = os.environ if environ is None else environ
        raw_timeout = env.get("CIVICDESK_CORE_TIMEOUT", "")
        try:
            timeout = float(raw_timeout) if raw_timeout else DEFAULT_TIMEOUT_SECONDS
        except ValueError:
            raise CoreAPIError(f"CIVICDESK_CORE_TIMEOUT is not a number: {raw_timeout!r}") from None
        if timeout <= 0:
            raise CoreAPIError(f"CIVICDESK_CORE_TIMEOUT must be positive, got {timeout}")
        return cls(
            base_url=env.get("CIVICDESK_CORE_URL", "").strip() or DEFAULT_CORE_URL,
            token=env.get("CIVICDESK_ACTIONS_TOKEN", "").strip(),
            timeout_seconds=timeout,
        )


# ------------------------------------------------------------------------------------------- answers


@dataclass(frozen=True)
class KBArticle:
    slug: str
    title: str
    summary: str
    url: str
    score: float
    # The section of the article that answers the question, rendered for a chat bubble, and its heading
    # (None: the article's opening). A core without passages sends neither; the summary answers then.
    answer: str | None = None
    section: str | None = None


@dataclass(frozen=True)
class KBSearchResult:
    query: str
    confident: bool
    results: tuple[KBArticle, ...]


@dataclass(frozen=True)
class Service:
    code: str
    name: str
    description: str
    group: str
    can_be_emergency: bool = False
    emergency_instruction: str | None = None
    # A service is assumed to need a place unless the core says otherwise.
    location_required: bool = True
    keywords: tuple[str, ...] = ()


@dataclass(frozen=True)
class AttributeValue:
    key: str
    name: str


@dataclass(frozen=True)
class Attribute:
    """One question a service asks (an Open311 service-definition attribute)."""

    code: str
    datatype: str
    required: bool
    order: int
    description: str
    variable: bool = True
    datatype_description: str | None = None
    values: tuple[AttributeValue, ...] = ()


@dataclass(frozen=True)
class Prediction:
    label: str
    confidence: float
    abstain: bool


@dataclass(frozen=True)
class Classification:
    service_code: Prediction
    urgency: Prediction | None


@dataclass(frozen=True)
class RequestStatus:
    reference: str
    service_code: str
    service_name: str
    department: str
    status: str
    created_at: str
    updated_at: str
    due_at: str
    resolution: str | None = None


@dataclass(frozen=True)
class Clinic:
    """Where a kind of appointment is given (the core's appointment location)."""

    code: str
    name: str
    address: str
    city: str


@dataclass(frozen=True)
class AppointmentType:
    code: str
    name: str
    description: str
    eligibility: str
    duration_minutes: int
    locations: tuple[Clinic, ...] = ()


@dataclass(frozen=True)
class OpenSlot:
    id: int
    type: str
    location: str
    location_name: str
    starts_at: str
    ends_at: str
    seats_left: int


@dataclass(frozen=True)
class Booking:
    reference: str
    status: str
    type: str
    type_name: str
    location: str
    location_name: str
    address: str
    starts_at: str
    ends_at: str


@dataclass(frozen=True)
class PublicEvent:
    code: str
    title: str
    description: str
    venue: str
    address: str
    starts_at: str
    ends_at: str
    seats_left: int
    online_option: str | None = None


@dataclass(frozen=True)
class Rsvp:
    reference: str
    status: str
    event: str
    title: str
    venue: str
    address: str
    starts_at: str
    party_size: int
    online_option: str | None = None


@dataclass(frozen=True)
class MailableForm:
    code: str
    title: str
    description: str
    format: str
    languages: tuple[str, ...]
    max_copies: int


@dataclass(frozen=True)
class FormRequest:
    reference: str
    status: str
    item: str
    title: str
    copies: int
    language: str
    mailing_address: str


@dataclass(frozen=True)
class Referral:
    code: str
    name: str
    level: str
    description: str
    phone: str | None = None
    website: str | None = None
    hours: str | None = None
    score: float = 0.0


@dataclass(frozen=True)
class CollectionDay:
    """The core's answer to "when is garbage day at this address": its status, and the words to show."""

    status: str  # found, not_found, ambiguous, out_of_range, no_address
    message: str
    address: str
    municipality: str | None = None
    choices: tuple[str, ...] = ()
    day: str | None = None


@dataclass(frozen=True)
class Contact:
    """What a resident told us about themselves; the core needs an email or a phone for bookings."""

    name: str | None = None
    email: str | None = None
    phone: str | None = None
    # The resident gave these details in answer to the notice of collection.
    consent: bool = field(default=True)

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "email": self.email, "phone": self.phone, "consent": self.consent}


T = TypeVar("T")


def parse(cls: type[T], item: Any) -> T:
    """Build a dataclass from a JSON object: required fields must be there, unknown keys are ignored."""
    if not isinstance(item, dict):
        raise CoreAPIError(f"expected an object for {cls.__name__}, got {type(item).__name__}")
    values: dict[str, Any] = {}
    for spec in dataclasses.fields(cls):  # type: ignore[arg-type]
        if spec.name in item:
            values[spec.name] = item[spec.name]
        elif spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING:
            raise CoreAPIError(f"{cls.__name__} is missing {spec.name!r}")
    try:
        return cls(**values)
    except TypeError as exc:
        raise CoreAPIError(f"unexpected {cls.__name__}: {exc}") from exc


def parse_list(cls: type[T], body: Any) -> list[T]:
    if not isinstance(body, list):
        raise CoreAPIError(f"expected a list of {cls.__name__}, got {type(body).__name__}")
    return [parse(cls, item) for item in body]


# -------------------------------------------------------------------------------------------- client


class CoreClient:
    def __init__(self, settings: CoreSettings) -> None:
        self._settings = settings
        if not settings.token:
            # Not fatal here (the core may allow it in development), but every call will most
            # likely be refused, so say why once.
            logger.warning("CIVICDESK_ACTIONS_TOKEN is not set; calls to the core API are unauthenticated")

    @classmethod
    def from_env(cls) -> CoreClient:
        return cls(CoreSettings.from_env())

    # knowledgebase and referrals

    async def search_knowledgebase(self, query: str, *, channel: str = "chat", limit: int = 3) -> KBSearchResult:
        body = await self._get_json(KB_SEARCH_PATH, {"q": query, "channel": channel, "limit": str(limit)})
        return _parse_search(body)

    async def report_gap(
        self, query: str, *, reason: str = "not_understood", channel: str = "chat", article: str | None = None
    ) -> None:
        """Tell the core what the assistant could not answer; trainers see it among the knowledge gaps.

        `article` is the slug of the article the resident was given, when its answer did not help."""
        body: dict[str, Any] = {"query": query, "channel": channel, "reason": reason}
        if article is not None:
            body["article"] = article
        await self._send_json("POST", KB_GAPS_PATH, body, expect=201)

    async def lookup_referrals(self, query: str, *, limit: int = 3) -> list[Referral]:
        body = await self._get_json("/api/v1/referrals/lookup", {"q": query, "limit": str(limit)})
        if not isinstance(body, dict):
            raise CoreAPIError("referral lookup returned something other than an object")
        return parse_list(Referral, body.get("results"))

    async def collection_day(self, address: str, *, municipality: str | None = None) -> CollectionDay:
        """The collection day for an address as the resident wrote it (the core reads the zone table)."""
        params = {"address": address}
        if municipality:
            params["municipality"] = municipality
        day = parse(CollectionDay, await self._get_json("/api/v1/collection-day", params))
        return dataclasses.replace(day, choices=tuple(day.choices))

    # service requests

    async def services(self) -> list[Service]:
        services = []
        for item in await self._get_json("/api/v1/services") or []:
            service = parse(Service, item)
            services.append(dataclasses.replace(service, keywords=tuple(str(k) for k in item.get("keywords") or [])))
        return services

    async def service_questions(self, service_code: str) -> list[Attribute]:
        """The service's questions in display order (Open311 service definition, a public endpoint)."""
        body = await self._get_json(f"/open311/v2/services/{quote(service_code, safe='')}.json")
        if not isinstance(body, dict) or not isinstance(body.get("attributes"), list):
            raise CoreAPIError("service definition without an attributes list")
        attributes = []
        for item in body["attributes"]:
            attribute = parse(Attribute, item)
            values = tuple(parse(AttributeValue, v) for v in item.get("values") or [])
            attributes.append(dataclasses.replace(attribute, values=values))
        return sorted(attributes, key=lambda a: a.order)

    async def classify(self, text: str) -> Classification:
        """The core's triage of a resident's words; NotFound while the core has no /classify yet."""
        body = await self._send_json("POST", "/api/v1/classify", {"text": text})
        try:
            service = parse(Prediction, body["service_code"])
            urgency = parse(Prediction, body["urgency"]) if isinstance(body.get("urgency"), dict) else None
        except (KeyError, TypeError) as exc:
            raise CoreAPIError(f"classify returned an unexpected body: {exc!r}") from exc
        return Classification(service_code=service, urgency=urgency)

    async def create_request(self, body: dict[str, Any]) -> RequestStatus:
        return parse(RequestStatus, await self._send_json("POST", "/api/v1/requests", body, expect=201))

    async def request_status(self, reference: str) -> RequestStatus:
        return parse(RequestStatus, await self._get_json(f"/api/v1/requests/{quote(reference, safe='')}"))

    # appointments

    async def appointment_types(self) -> list[AppointmentType]:
        types = []
        for item in await self._get_json("/api/v1/appointments/types") or []:
            kind = parse(AppointmentType, item)
            clinics = tuple(parse(Clinic, location) for location in item.get("locations") or [])
            types.append(dataclasses.replace(kind, locations=clinics))
        return types

    async def open_slots(
        self, appointment_type: str, *, location: str | None = None, from_date: dt.date | None = None, limit: int = 6
    ) -> list[OpenSlot]:
        params = {"type": appointment_type, "limit": str(limit)}
        if location:
            params["location"] = location
        if from_date:
            params["from_date"] = from_date.isoformat()
        return parse_list(OpenSlot, await self._get_json("/api/v1/appointments/slots", params))

    async def book(self, slot_id: int, contact: Contact) -> Booking:
        body = {"slot_id": slot_id, "contact": contact.as_json(), "channel": "chat"}
        return parse(Booking, await self._send_json("POST", "/api/v1/appointments/bookings", body, expect=201))

    async def cancel_booking(self, reference: str, contact: str) -> Booking:
        path = f"/api/v1/appointments/bookings/{quote(reference, safe='')}"
        return parse(Booking, await self._send_json("DELETE", path, {"contact": contact}))

    async def reschedule_booking(self, reference: str, slot_id: int, contact: str) -> Booking:
        path = f"/api/v1/appointments/bookings/{quote(reference, safe='')}"
        return parse(Booking, await self._send_json("PATCH", path, {"contact": contact, "slot_id": slot_id}))

    # events and mailed forms

    async def events(self) -> list[PublicEvent]:
        return parse_list(PublicEvent, await self._get_json("/api/v1/events"))

    async def rsvp(self, event_code: str, contact: Contact, party_size: int) -> Rsvp:
        body = {"contact": contact.as_json(), "party_size": party_size, "channel": "chat"}
        return parse(
            Rsvp, await self._send_json("POST", f"/api/v1/events/{quote(event_code, safe='')}/rsvps", body, expect=201)
        )

    async def mailable_forms(self) -> list[MailableForm]:
        forms = []
        for item in await self._get_json("/api/v1/forms") or []:
            form = parse(MailableForm, item)
            forms.append(dataclasses.replace(form, languages=tuple(form.languages)))
        return forms

    async def request_form(self, body: dict[str, Any]) -> FormRequest:
        return parse(
            FormRequest,
            await self._send_json("POST", "/api/v1/forms/requests", {**body, "channel": "chat"}, expect=201),
        )

    # transport

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if self._settings.token:
            headers["Authorization"] = f"Bearer {self._settings.token}"
        return headers

    async def _get_json(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        return await self._call("GET", path, params=params)

    async def _send_json(self, method: str, path: str, body: dict[str, Any], expect: int = 200) -> Any:
        return await self._call(method, path, body=body, expect=expect)

    async def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: dict[str, Any] | None = None,
        expect: int = 200,
    ) -> Any:
        """One request; only the status the endpoint documents for success counts as success."""
        url = self._settings.base_url.rstrip("/") + path
        timeout = aiohttp.ClientTimeout(total=self._settings.timeout_seconds)
        try:
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.request(method, url, params=params, json=body, headers=self._headers()) as response,
            ):
                if response.status == expect:
                    return await response.json(content_type=None)
                detail = await _detail(response)
                if response.status == 404:
                    raise NotFound(f"{method} {path}: not found")
                if response.status == 409:
                    raise Refused(detail or "refused")
                if response.status == 422:
                    field_name, message = _first_invalid(detail)
                    raise Invalid(message, field_name)
                raise CoreAPIError(f"{method} {path} answered HTTP {response.status}")
        # On Python 3.10 (the engine env) asyncio.TimeoutError is not yet the builtin TimeoutError.
        except asyncio.TimeoutError as exc:  # noqa: UP041
            raise CoreAPIError(f"{method} {path} timed out after {self._settings.timeout_seconds} s") from exc
        except aiohttp.ClientError as exc:
            raise CoreAPIError(f"{method} {path} failed: {exc}") from exc
        except ValueError as exc:  # body is not JSON
            raise CoreAPIError(f"{method} {path} returned a body that is not JSON") from exc


async def _detail(response: aiohttp.ClientResponse) -> Any:
    try:
        body = await response.json(content_type=None)
    except ValueError:
        return None
    return body.get("detail") if isinstance(body, dict) else None


def _first_invalid(detail: Any) -> tuple[str, str]:
    """FastAPI's 422 detail is a list of {loc, msg}; the core's own errors use the same shape."""
    if isinstance(detail, list) and detail and isinstance(detail[0], dict):
        location = [str(part) for part in detail[0].get("loc", []) if part not in ("body", "query")]
        return ".".join(location), str(detail[0].get("msg", "invalid value"))
    return "", str(detail or "invalid value")


def _parse_search(body: Any) -> KBSearchResult:
    """Check the body against the contract; anything else is the core's error, not the resident's."""
    try:
        results = tuple(
            KBArticle(
                slug=_str(item["slug"]),
                title=_str(item["title"]),
                summary=_str(item["summary"]),
                url=_str(item["url"]),
                score=float(item["score"]),
                answer=_optional_str(item.get("answer")),
                section=_optional_str(item.get("section")),
            )
            for item in body["results"]
        )
        confident = body["confident"]
        if not isinstance(confident, bool):
            raise TypeError("confident is not a boolean")
        return KBSearchResult(query=_str(body["query"]), confident=confident, results=results)
    except (KeyError, TypeError, ValueError) as exc:
        raise CoreAPIError(f"knowledgebase search returned an unexpected body: {exc!r}") from exc


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value


def _optional_str(value: Any) -> str | None:
    """An optional text field: absent or null is None, and so is a blank one (nothing to show)."""
    if value is None:
        return None
    return _str(value).strip() or None
