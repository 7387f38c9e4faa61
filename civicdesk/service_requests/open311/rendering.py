"""Open311 rendering: a serialized resource as JSON or as the spec's XML."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from typing import Any

from fastapi import Response
from pydantic import BaseModel

CONTENT_TYPES = {"json": "application/json; charset=utf-8", "xml": "text/xml; charset=utf-8"}

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
