"""Open311 errors: the spec's {code, description} shape, and every failure of an Open311 route answered in it."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel

from civicdesk.errors import InvalidInput
from civicdesk.service_requests.open311.rendering import render


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


class ErrorOut(BaseModel):
    code: int
    description: str


def render_error(request: Request, error: Open311Error, headers: Mapping[str, str] | None = None) -> Response:
    return render_error_for_path(request.url.path, error, headers)


def render_error_for_path(path: str, error: Open311Error, headers: Mapping[str, str] | None = None) -> Response:
    """The spec's error list, in the format the path's extension asks for: even where no route matched (an
    unknown path or method, a body over the size cap), as for every Open311 answer."""
    fmt = "xml" if path.endswith(".xml") else "json"
    response = render(fmt, "errors", [ErrorOut(code=error.status, description=error.description)], error.status)
    response.headers.update(headers or {})
    return response


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
