"""GeoReport v2 documents in the format the path asks for: XML (the standard's required format)
or JSON. A document is built once as plain data; XML repeats each list's items under the
singular of the list's name, as the standard's examples do."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from xml.etree import ElementTree

from flask import Response

XML = "text/xml"
JSON = "application/json"
FORMATS = {"xml": XML, "json": JSON}

# The element each item of a list is written as, by the list's element name.
_ITEM = {
    "services": "service",
    "service_requests": "request",
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
    "errors": "error",
}


def respond(fmt: str, root: str, document: Any, status: int = 200) -> Response:
    """``document`` (a list under ``root``, or an object whose element is ``root``) as XML or
    JSON; JSON has no root: a list is the array itself, an object the object."""
    if fmt == "json":
        body = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
        return Response(body, status=status, content_type=f"{JSON}; charset=utf-8")
    return Response(
        xml_document(root, document), status=status, content_type=f"{XML}; charset=utf-8"
    )


def xml_document(root: str, document: Any) -> bytes:
    element = ElementTree.Element(root)
    _fill(element, root, document)
    return ElementTree.tostring(element, encoding="utf-8", xml_declaration=True).replace(
        b"<?xml version='1.0' encoding='utf-8'?>", b'<?xml version="1.0" encoding="utf-8"?>', 1
    )


def _fill(element: ElementTree.Element, name: str, value: Any) -> None:
    if isinstance(value, Mapping):
        for key, child in value.items():
            _fill(ElementTree.SubElement(element, key), key, child)
    elif isinstance(value, list | tuple):
        item = _ITEM[name]
        for child in value:
            _fill(ElementTree.SubElement(element, item), item, child)
    elif value is None:
        pass  # an empty element: Open311's "no value"
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    else:
        element.text = str(value)
