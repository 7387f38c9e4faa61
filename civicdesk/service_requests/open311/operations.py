"""What every Open311 operation declares: its path and query parameters and its documented responses."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Path, Query

from civicdesk import validation
from civicdesk.service_requests.open311.errors import ErrorOut

Format = Literal["json", "xml"]


def georeport_error(description: str) -> dict[str, Any]:
    """An OpenAPI response of the spec's errors, in JSON or (as text) XML."""
    xml = {"text/xml": {"schema": {"type": "string"}}}
    return {"model": list[ErrorOut], "content": xml, "description": description}


def documented(model: Any, *not_found: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI responses of an Open311 operation: the model in JSON, XML as text, and the spec's errors."""
    responses: dict[int | str, dict[str, Any]] = {
        200: {"model": model, "content": {"text/xml": {"schema": {"type": "string"}}}},
        400: georeport_error("A parameter is missing or not valid; the description names it."),
    }
    if not_found:
        responses[404] = georeport_error(f"No such {' or '.join(not_found)}.")
    return responses


# Path and query text may not hold control characters: they never belong there, and PostgreSQL refuses NUL.
ONE_LINE = validation.ONE_LINE_PATTERN
MULTI_LINE = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]*$"
FormatPath = Annotated[Format, Path(description="Response format: json or xml.")]
Jurisdiction = Annotated[
    str | None,
    Query(pattern=ONE_LINE, description="Accepted and ignored: this endpoint serves only the Northvale Region."),
]
