"""The response documents of Open311 GeoReport v2, as schemas written from the standard's text.

Source: the standard's page, open311/open311.github.io ``GeoReport_v2/index.md`` (cited below as
"GeoReport v2, <section>"), and the page it sends discovery to, ``Service_Discovery.md``.
Every document has two forms:

* XML (XSD 1.1, checked with ``xmlschema``). "The XML output currently defined is schemaless and
  without a namespace declaration" (GeoReport v2, Format Support > XML Support): the schemas
  have no target namespace, and, as the standard recommends "that you adhere to the
  specification strictly and do not include foreign tags", they allow no other element.
* JSON (JSON Schema 2020-12, checked with ``jsonschema``): "a programmatic mapping of the XML
  format using the Spark Convention" (GeoReport v2, Format Support > JSON Support;
  ``JSON_and_XML_Conversion.md``, The Spark Convention): the root element is dropped, a
  container of one repeated element is an array, an empty element is ``null``.

What each schema holds, field by field, is the "Response" table of the section it cites; element
order is the one of that section's example response. Which fields may be missing follows the
table's "May not be returned"; every other field is present, though its value may be empty.
A few rules no JSON Schema keyword can say (a unique code in a list) are checked in Python.

``validate(kind, fmt, response)`` checks a Flask test response (Content-Type, XML declaration,
body) and returns the document as the JSON form would have it, so tests read both formats alike.
"""

from __future__ import annotations

import io
import json
import re
from typing import Any
from xml.etree import ElementTree

import jsonschema
import xmlschema

__all__ = [
    "KINDS",
    "SchemaViolation",
    "check_content_type",
    "spark",
    "validate",
    "validate_document",
]

KINDS = (
    "discovery",
    "services",
    "service_definition",
    "requests",
    "requests_extended",
    "request_created",
    "tokens",
    "errors",
)

# GeoReport v2, Format Support: "The HTTP content-type headers should look like this for each
# format: XML: Content-Type: text/xml; charset=utf-8 / JSON: Content-Type: application/json;
# charset=utf-8", and Internationalization and Encoding > Encoding: "UTF-8 is required
# everywhere ... the root element must be preceded with the XML declaration including the
# encoding="UTF-8" attribute".
MIMETYPES = {"xml": "text/xml", "json": "application/json"}
XML_DECLARATION = re.compile(
    rb"""^<\?xml\s+version=(["'])1\.0\1\s+encoding=(["'])utf-8\2\s*(standalone=(["'])(yes|no)\4\s*)?\?>""",
    re.IGNORECASE,
)

# GeoReport v2, Internationalization and Encoding > Date/time format: "a common subset of ISO
# 8601 as per the w3 note. Timezone information (either Z meaning UTC, or an HH:MM offset from
# UTC) must be included." A response's datetimes carry a time, so the W3C note's levels with
# one: hh:mm, hh:mm:ss or hh:mm:ss.s, and then the zone.
_DATETIME = (
    r"\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])"
    r"T([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d+)?)?"
    r"(Z|[+\-]([01]\d|2[0-3]):[0-5]\d)"
)


class SchemaViolation(AssertionError):
    """A response that is not the document the standard describes."""


# --- XML Schemas ------------------------------------------------------------------------------

_XSD_HEAD = """<?xml version="1.0" encoding="utf-8"?>
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" elementFormDefault="unqualified">
  <!-- Empty element: the XML of "no value" (the standard's examples write
       <account_id/> and <description></description>). -->
  <xs:simpleType name="empty">
    <xs:restriction base="xs:string"><xs:length value="0"/></xs:restriction>
  </xs:simpleType>
  <xs:simpleType name="nonEmpty">
    <xs:restriction base="xs:string"><xs:pattern value="[\\s\\S]*\\S[\\s\\S]*"/></xs:restriction>
  </xs:simpleType>
  <!-- "Possible values: true, false" (strict values: not xs:boolean, which also takes 1/0). -->
  <xs:simpleType name="boolean">
    <xs:restriction base="xs:string">
      <xs:enumeration value="true"/><xs:enumeration value="false"/>
    </xs:restriction>
  </xs:simpleType>
  <!-- GeoReport v2, Internationalization and Encoding > Date/time format. -->
  <xs:simpleType name="datetime">
    <xs:restriction base="xs:string"><xs:pattern value="DATETIME"/></xs:restriction>
  </xs:simpleType>
  <xs:simpleType name="optionalDatetime"><xs:union memberTypes="datetime empty"/></xs:simpleType>
  <!-- lat, long: "latitude/longitude using the (WGS84) projection". -->
  <xs:simpleType name="latitude">
    <xs:restriction base="xs:decimal">
      <xs:minInclusive value="-90"/><xs:maxInclusive value="90"/>
    </xs:restriction>
  </xs:simpleType>
  <xs:simpleType name="longitude">
    <xs:restriction base="xs:decimal">
      <xs:minInclusive value="-180"/><xs:maxInclusive value="180"/>
    </xs:restriction>
  </xs:simpleType>
  <xs:simpleType name="optionalLatitude"><xs:union memberTypes="latitude empty"/></xs:simpleType>
  <xs:simpleType name="optionalLongitude"><xs:union memberTypes="longitude empty"/></xs:simpleType>
  <xs:simpleType name="optionalUrl"><xs:union memberTypes="xs:anyURI empty"/></xs:simpleType>
""".replace("DATETIME", _DATETIME)
_XSD_TAIL = "</xs:schema>\n"

XSD = {
    # Service_Discovery.md, "Fields for All Versions" ("All fields are required") and its XML
    # example: <discovery> with changeset, contact, key_service, endpoints/endpoint+.
    "discovery": """
  <xs:element name="discovery">
    <xs:complexType>
      <xs:sequence>
        <xs:element name="changeset" type="nonEmpty"/>
        <xs:element name="contact" type="nonEmpty"/>
        <xs:element name="key_service" type="nonEmpty"/>
        <xs:element name="endpoints">
          <xs:complexType>
            <xs:sequence>
              <xs:element name="endpoint" maxOccurs="unbounded">
                <xs:complexType>
                  <xs:sequence>
                    <xs:element name="specification" type="nonEmpty"/>
                    <xs:element name="url" type="xs:anyURI"/>
                    <xs:element name="changeset" type="nonEmpty"/>
                    <!-- "Either "production" or "test"" -->
                    <xs:element name="type">
                      <xs:simpleType>
                        <xs:restriction base="xs:string">
                          <xs:enumeration value="production"/><xs:enumeration value="test"/>
                        </xs:restriction>
                      </xs:simpleType>
                    </xs:element>
                    <xs:element name="formats">
                      <xs:complexType>
                        <xs:sequence>
                          <xs:element name="format" type="nonEmpty" maxOccurs="unbounded"/>
                        </xs:sequence>
                      </xs:complexType>
                    </xs:element>
                  </xs:sequence>
                </xs:complexType>
              </xs:element>
            </xs:sequence>
          </xs:complexType>
        </xs:element>
      </xs:sequence>
    </xs:complexType>
  </xs:element>
""",
    # GeoReport v2, API methods > GET Service List > Response: services/service with
    # service_code, service_name, description, metadata, type, keywords, group. The example
    # response lists them in two different orders (001 vs 002, 003): the order is free (xs:all).
    "services": """
  <xs:element name="services">
    <xs:complexType>
      <xs:sequence>
        <xs:element name="service" minOccurs="0" maxOccurs="unbounded">
          <xs:complexType>
            <xs:all>
              <!-- "The unique identifier for the service request type" -->
              <xs:element name="service_code" type="nonEmpty"/>
              <xs:element name="service_name" type="nonEmpty"/>
              <xs:element name="description" type="xs:string"/>
              <xs:element name="metadata" type="boolean"/>
              <!-- "Possible values: realtime, batch, blackbox" -->
              <xs:element name="type">
                <xs:simpleType>
                  <xs:restriction base="xs:string">
                    <xs:enumeration value="realtime"/>
                    <xs:enumeration value="batch"/>
                    <xs:enumeration value="blackbox"/>
                  </xs:restriction>
                </xs:simpleType>
              </xs:element>
              <!-- "A comma separated list of tags or keywords" -->
              <xs:element name="keywords" type="xs:string"/>
              <xs:element name="group" type="xs:string"/>
            </xs:all>
          </xs:complexType>
        </xs:element>
      </xs:sequence>
    </xs:complexType>
    <xs:unique name="serviceCode">
      <xs:selector xpath="service"/><xs:field xpath="service_code"/>
    </xs:unique>
  </xs:element>
""",
    # GeoReport v2, API methods > GET Service Definition > Response and its example:
    # service_definition/(service_code, attributes/attribute*), attribute = variable, code,
    # datatype, required, datatype_description, order, description, values/value(key, name).
    "service_definition": """
  <xs:element name="service_definition">
    <xs:complexType>
      <xs:sequence>
        <xs:element name="service_code" type="nonEmpty"/>
        <xs:element name="attributes">
          <xs:complexType>
            <xs:sequence>
              <xs:element name="attribute" minOccurs="0" maxOccurs="unbounded" type="attribute"/>
            </xs:sequence>
          </xs:complexType>
          <!-- code: "A unique identifier for the attribute"; order: "Any positive integer not
               used for other attributes in the same service_code" -->
          <xs:unique name="attributeCode">
            <xs:selector xpath="attribute"/><xs:field xpath="code"/>
          </xs:unique>
          <xs:unique name="attributeOrder">
            <xs:selector xpath="attribute"/><xs:field xpath="order"/>
          </xs:unique>
        </xs:element>
      </xs:sequence>
    </xs:complexType>
  </xs:element>
  <xs:complexType name="attribute">
    <xs:sequence>
      <xs:element name="variable" type="boolean"/>
      <xs:element name="code" type="nonEmpty"/>
      <!-- "Options: string, number, datetime, text, singlevaluelist, multivaluelist" -->
      <xs:element name="datatype">
        <xs:simpleType>
          <xs:restriction base="xs:string">
            <xs:enumeration value="string"/>
            <xs:enumeration value="number"/>
            <xs:enumeration value="datetime"/>
            <xs:enumeration value="text"/>
            <xs:enumeration value="singlevaluelist"/>
            <xs:enumeration value="multivaluelist"/>
          </xs:restriction>
        </xs:simpleType>
      </xs:element>
      <xs:element name="required" type="boolean"/>
      <xs:element name="datatype_description" type="xs:string"/>
      <xs:element name="order" type="xs:positiveInteger"/>
      <xs:element name="description" type="xs:string"/>
      <xs:element name="values" minOccurs="0">
        <xs:complexType>
          <xs:sequence>
            <xs:element name="value" minOccurs="0" maxOccurs="unbounded">
              <xs:complexType>
                <xs:sequence>
                  <xs:element name="key" type="nonEmpty"/>
                  <xs:element name="name" type="nonEmpty"/>
                </xs:sequence>
              </xs:complexType>
            </xs:element>
          </xs:sequence>
        </xs:complexType>
        <!-- key: "The unique identifier associated with an option" -->
        <xs:unique name="valueKey"><xs:selector xpath="value"/><xs:field xpath="key"/></xs:unique>
      </xs:element>
    </xs:sequence>
    <!-- singlevaluelist / multivaluelist: "A set of predefined values (specified in this
         response)" -->
    <xs:assert test="not(datatype = ('singlevaluelist', 'multivaluelist')) or values/value"/>
  </xs:complexType>
""",
    # GeoReport v2, API methods > POST Service Request > Response and its example:
    # service_requests/request with service_request_id, token, service_notice, account_id.
    # service_request_id and token: each "should not be returned if [the other] is returned"
    # (a SHOULD; a blackbox service returns neither); service_notice and account_id "May not be
    # returned". So all four are optional here, in the table's order.
    "request_created": """
  <xs:element name="service_requests">
    <xs:complexType>
      <xs:sequence>
        <xs:element name="request" maxOccurs="unbounded">
          <xs:complexType>
            <xs:sequence>
              <xs:element name="service_request_id" type="nonEmpty" minOccurs="0"/>
              <xs:element name="token" type="nonEmpty" minOccurs="0"/>
              <xs:element name="service_notice" type="xs:string" minOccurs="0"/>
              <xs:element name="account_id" type="xs:string" minOccurs="0"/>
            </xs:sequence>
          </xs:complexType>
        </xs:element>
      </xs:sequence>
    </xs:complexType>
  </xs:element>
""",
    # GeoReport v2, API methods > GET service_request_id from a token > Response and example:
    # service_requests/request with service_request_id and token.
    "tokens": """
  <xs:element name="service_requests">
    <xs:complexType>
      <xs:sequence>
        <xs:element name="request" maxOccurs="unbounded">
          <xs:complexType>
            <xs:sequence>
              <xs:element name="service_request_id" type="nonEmpty"/>
              <xs:element name="token" type="nonEmpty"/>
            </xs:sequence>
          </xs:complexType>
        </xs:element>
      </xs:sequence>
    </xs:complexType>
  </xs:element>
""",
    # GeoReport v2, Errors > Response and example: errors/error+(code, description). "Multiple
    # errors codes and descriptions can be returned in the body (the response is an array)."
    # The code is written as a number in both of the standard's examples.
    "errors": """
  <xs:element name="errors">
    <xs:complexType>
      <xs:sequence>
        <xs:element name="error" maxOccurs="unbounded">
          <xs:complexType>
            <xs:sequence>
              <xs:element name="code" type="xs:integer"/>
              <!-- "A human readable description of the error ... meant to be seen by the
                   user" -->
              <xs:element name="description" type="nonEmpty"/>
            </xs:sequence>
          </xs:complexType>
        </xs:element>
      </xs:sequence>
    </xs:complexType>
  </xs:element>
""",
}

# GeoReport v2, API methods > GET Service Requests > Response (and GET Service Request, the same
# table) with the order of its example response. status_notes, agency_responsible,
# service_notice and expected_datetime "May not be returned"; the others are always there,
# though address, address_id, zipcode, lat, long and media_url may be empty (a request may have
# been located by address_string only, and have no media).
_REQUEST_LIST = """
  <xs:element name="service_requests">
    <xs:complexType>
      <xs:sequence>
        <xs:element name="request" minOccurs="0" maxOccurs="unbounded">
          <xs:complexType>
            <xs:sequence>
              <xs:element name="service_request_id" type="nonEmpty"/>
              <xs:element name="status" type="STATUS"/>
              <xs:element name="status_notes" type="xs:string" minOccurs="0"/>
              <xs:element name="service_name" type="nonEmpty"/>
              <xs:element name="service_code" type="nonEmpty"/>
              <xs:element name="description" type="xs:string"/>
              <xs:element name="agency_responsible" type="xs:string" minOccurs="0"/>
              <xs:element name="service_notice" type="xs:string" minOccurs="0"/>
              <xs:element name="requested_datetime" type="datetime"/>
              <xs:element name="updated_datetime" type="datetime"/>
              <xs:element name="expected_datetime" type="optionalDatetime" minOccurs="0"/>
              <xs:element name="address" type="xs:string"/>
              <xs:element name="address_id" type="xs:string"/>
              <xs:element name="zipcode" type="xs:string"/>
              <xs:element name="lat" type="optionalLatitude"/>
              <xs:element name="long" type="optionalLongitude"/>
              <xs:element name="media_url" type="optionalUrl"/>
            </xs:sequence>
          </xs:complexType>
        </xs:element>
      </xs:sequence>
    </xs:complexType>
    <xs:unique name="serviceRequestId">
      <xs:selector xpath="request"/><xs:field xpath="service_request_id"/>
    </xs:unique>
  </xs:element>
"""
# status: "Options: open, closed" (GET Service Requests > Response).
STATUSES = ("open", "closed")
# Not the standard: mySociety's extended statuses, which our contract answers instead of
# open/closed when a client asks for them (extensions=true, or configured so). Same document,
# a wider status.
EXTENDED_STATUSES = (
    "OPEN",
    "INVESTIGATING",
    "ACTION_SCHEDULED",
    "IN_PROGRESS",
    "FIXED",
    "NO_FURTHER_ACTION",
    "NOT_COUNCILS_RESPONSIBILITY",
    "INTERNAL_REFERRAL",
    "CLOSED",
    "DUPLICATE",
)


def _status_type(name: str, values: tuple[str, ...]) -> str:
    enumerations = "".join(f'<xs:enumeration value="{value}"/>' for value in values)
    return (
        f'<xs:simpleType name="{name}"><xs:restriction base="xs:string">{enumerations}'
        "</xs:restriction></xs:simpleType>\n"
    )


XSD["requests"] = _REQUEST_LIST.replace("STATUS", "status") + _status_type("status", STATUSES)
XSD["requests_extended"] = _REQUEST_LIST.replace("STATUS", "status") + _status_type(
    "status", EXTENDED_STATUSES
)

_XML_SCHEMAS = {kind: xmlschema.XMLSchema11(_XSD_HEAD + XSD[kind] + _XSD_TAIL) for kind in KINDS}


# --- JSON Schemas -----------------------------------------------------------------------------

_NULLABLE_TEXT = {"type": ["string", "null"]}
_TEXT = {"type": "string", "pattern": r"\S"}
# An identifier: the standard's JSON examples write the numeric ones as numbers (Spark turns
# numeric text into numbers: "service_code":001, "service_request_id":638344, "key":123).
_IDENTIFIER = {"type": ["string", "integer"], "pattern": r"\S"}
_BOOLEAN = {"type": "boolean"}
_DATETIME_JSON = {"type": "string", "pattern": f"^{_DATETIME}$"}


def _object(properties: dict, required: list[str] | None = None) -> dict:
    """An object of exactly these fields; all of them present unless ``required`` says."""
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties) if required is None else required,
        "additionalProperties": False,
    }


def _array(items: dict, min_items: int = 0) -> dict:
    return {"type": "array", "items": items, "minItems": min_items}


def _request(statuses: tuple[str, ...]) -> dict:
    # GeoReport v2, API methods > GET Service Requests > Response (see _REQUEST_LIST).
    properties = {
        "service_request_id": _IDENTIFIER,
        "status": {"enum": list(statuses)},
        "status_notes": _NULLABLE_TEXT,
        "service_name": _TEXT,
        "service_code": _IDENTIFIER,
        "description": _NULLABLE_TEXT,
        "agency_responsible": _NULLABLE_TEXT,
        "service_notice": _NULLABLE_TEXT,
        "requested_datetime": _DATETIME_JSON,
        "updated_datetime": _DATETIME_JSON,
        "expected_datetime": {"anyOf": [_DATETIME_JSON, {"type": "null"}]},
        "address": _NULLABLE_TEXT,
        "address_id": {"type": ["string", "integer", "null"]},
        "zipcode": {"type": ["string", "integer", "null"]},
        "lat": {"type": ["number", "null"], "minimum": -90, "maximum": 90},
        "long": {"type": ["number", "null"], "minimum": -180, "maximum": 180},
        "media_url": {"type": ["string", "null"], "pattern": r"^\S+"},
    }
    may_not_be_returned = {
        "status_notes",
        "agency_responsible",
        "service_notice",
        "expected_datetime",
    }
    return _object(properties, [name for name in properties if name not in may_not_be_returned])


JSON_SCHEMAS: dict[str, dict] = {
    # Service_Discovery.md, Fields for All Versions and its JSON example.
    "discovery": _object(
        {
            "changeset": _TEXT,
            "contact": _TEXT,
            "key_service": _TEXT,
            "endpoints": _array(
                _object(
                    {
                        "specification": _TEXT,
                        "url": _TEXT,
                        "changeset": _TEXT,
                        "type": {"enum": ["production", "test"]},
                        "formats": _array(_TEXT, min_items=1),
                    }
                ),
                min_items=1,
            ),
        }
    ),
    # GeoReport v2, API methods > GET Service List > Response and its JSON example.
    "services": _array(
        _object(
            {
                "service_code": _IDENTIFIER,
                "service_name": _TEXT,
                "description": _NULLABLE_TEXT,
                "metadata": _BOOLEAN,
                "type": {"enum": ["realtime", "batch", "blackbox"]},
                "keywords": _NULLABLE_TEXT,
                "group": _NULLABLE_TEXT,
            }
        )
    ),
    # GeoReport v2, API methods > GET Service Definition > Response and its JSON example
    # ("datatype_description":null, "order":1, "values":[{"key":123,"name":"Ford"}]).
    "service_definition": _object(
        {
            "service_code": _IDENTIFIER,
            "attributes": _array(
                {
                    **_object(
                        {
                            "variable": _BOOLEAN,
                            "code": _IDENTIFIER,
                            "datatype": {
                                "enum": [
                                    "string",
                                    "number",
                                    "datetime",
                                    "text",
                                    "singlevaluelist",
                                    "multivaluelist",
                                ]
                            },
                            "required": _BOOLEAN,
                            "datatype_description": _NULLABLE_TEXT,
                            "order": {"type": "integer", "minimum": 1},
                            "description": _NULLABLE_TEXT,
                            "values": {
                                "anyOf": [
                                    _array(_object({"key": _IDENTIFIER, "name": _TEXT})),
                                    {"type": "null"},
                                ]
                            },
                        },
                        required=[
                            "variable",
                            "code",
                            "datatype",
                            "required",
                            "datatype_description",
                            "order",
                            "description",
                        ],
                    ),
                    # "A set of predefined values (specified in this response)"
                    "if": {
                        "properties": {"datatype": {"enum": ["singlevaluelist", "multivaluelist"]}}
                    },
                    "then": {"required": ["values"], "properties": {"values": {"minItems": 1}}},
                }
            ),
        }
    ),
    # GeoReport v2, API methods > POST Service Request > Response and its JSON example
    # ("account_id":null). All four fields optional: see the XSD's comment.
    "request_created": _array(
        _object(
            {
                "service_request_id": _IDENTIFIER,
                "token": _IDENTIFIER,
                "service_notice": _NULLABLE_TEXT,
                "account_id": {"type": ["string", "integer", "null"]},
            },
            required=[],
        ),
        min_items=1,
    ),
    # GeoReport v2, API methods > GET service_request_id from a token > Response and example.
    "tokens": _array(
        _object({"service_request_id": _IDENTIFIER, "token": _IDENTIFIER}), min_items=1
    ),
    # GeoReport v2, API methods > GET Service Requests / GET Service Request > Response.
    "requests": _array(_request(STATUSES)),
    "requests_extended": _array(_request(EXTENDED_STATUSES)),
    # GeoReport v2, Errors > Response and its JSON example ("code":403).
    "errors": _array(_object({"code": {"type": "integer"}, "description": _TEXT}), min_items=1),
}
for _schema in JSON_SCHEMAS.values():
    _schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(_schema)
_JSON_VALIDATORS = {kind: jsonschema.Draft202012Validator(s) for kind, s in JSON_SCHEMAS.items()}


def _unique(items: list[dict], field: str, where: str) -> list[str]:
    seen = [item.get(field) for item in items]
    duplicates = sorted({str(value) for value in seen if seen.count(value) > 1})
    return [f"{where}: {field} {value!r} appears more than once" for value in duplicates]


def _json_rules(kind: str, document: Any) -> list[str]:
    """What the XSDs say with xs:unique and JSON Schema cannot: unique codes within a list."""
    if kind == "services":
        return _unique(document, "service_code", "services")
    if kind == "service_definition":
        attributes = document["attributes"]
        problems = _unique(attributes, "code", "attributes")
        problems += _unique(attributes, "order", "attributes")
        for attribute in attributes:
            problems += _unique(attribute.get("values") or [], "key", f"{attribute['code']}")
        return problems
    if kind in ("requests", "requests_extended"):
        return _unique(document, "service_request_id", "service_requests")
    return []


# --- The XML document read as its JSON form (the Spark convention) ---------------------------

# Containers of one repeated element become arrays (every list the standard's documents have).
CONTAINERS = {
    "services": "service",
    "attributes": "attribute",
    "values": "value",
    "service_requests": "request",
    "endpoints": "endpoint",
    "formats": "format",
    "errors": "error",
}
# The fields whose XML text the standard's JSON examples write as a boolean or a number.
_BOOLEAN_FIELDS = {"metadata", "variable", "required"}
_NUMBER_FIELDS = {"lat": float, "long": float, "order": int}


def spark(root: ElementTree.Element, kind: str = "") -> Any:
    """The JSON form of a (valid) XML document: root dropped, containers as arrays, empty
    elements as None, true/false as booleans and the numeric fields as numbers. Typed by field
    name rather than by guessing from the text, so "001" stays a string."""

    def value(element: ElementTree.Element) -> Any:
        name = element.tag
        if name in CONTAINERS:
            return [value(child) for child in element]
        if len(element):
            return {child.tag: value(child) for child in element}
        text = element.text
        if text is None or text == "":
            return None
        if name in _BOOLEAN_FIELDS:
            return text == "true"
        if name == "code" and kind == "errors":
            return int(text)
        if name in _NUMBER_FIELDS:
            return _NUMBER_FIELDS[name](text)
        return text

    return value(root)


# --- Validation ---------------------------------------------------------------------------------


def check_content_type(fmt: str, content_type: str | None) -> None:
    """GeoReport v2, Format Support: text/xml or application/json, in UTF-8."""
    if fmt not in MIMETYPES:
        raise ValueError(f"unknown format {fmt!r}")
    mimetype, _, parameters = (content_type or "").partition(";")
    if mimetype.strip().lower() != MIMETYPES[fmt]:
        raise SchemaViolation(f"Content-Type {content_type!r} is not {MIMETYPES[fmt]}")
    charset = None
    for parameter in parameters.split(";"):
        key, _, val = parameter.strip().partition("=")
        if key.lower() == "charset":
            charset = val.strip().strip('"').lower()
    # XML must say its charset (text/* defaults to US-ASCII otherwise); JSON is UTF-8 by
    # definition, so a charset, when given, must be utf-8.
    if (fmt == "xml" and charset != "utf-8") or (fmt == "json" and charset not in (None, "utf-8")):
        raise SchemaViolation(f"Content-Type {content_type!r}: the charset must be utf-8")


def validate_document(kind: str, fmt: str, body: bytes | str) -> Any:
    """Check one document against the schema of ``kind``; answer its JSON form.

    Raises SchemaViolation, with every problem found, when the document is not valid.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}")
    data = body.encode("utf-8") if isinstance(body, str) else body
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise SchemaViolation(f"the body is not UTF-8: {error}") from None
    if fmt == "xml":
        return _validate_xml(kind, data)
    if fmt == "json":
        return _validate_json(kind, data)
    raise ValueError(f"unknown format {fmt!r}")


def _validate_xml(kind: str, data: bytes) -> Any:
    if not XML_DECLARATION.match(data):
        raise SchemaViolation(
            'the XML does not start with the declaration <?xml version="1.0" encoding="utf-8"?>: '
            f"{data[:60]!r}"
        )
    try:
        root = ElementTree.fromstring(data)
    except ElementTree.ParseError as error:
        raise SchemaViolation(f"not well-formed XML: {error}") from None
    problems = [
        f"{error.path}: {error.reason}"
        for error in _XML_SCHEMAS[kind].iter_errors(io.BytesIO(data))
    ]
    if problems:
        raise SchemaViolation(f"{kind} XML is not valid:\n" + "\n".join(problems))
    return spark(root, kind)


def _validate_json(kind: str, data: bytes) -> Any:
    try:
        document = json.loads(data)
    except ValueError as error:
        raise SchemaViolation(f"not JSON: {error}") from None
    problems = [
        f"{'/'.join(str(part) for part in error.absolute_path) or '(root)'}: {error.message}"
        for error in _JSON_VALIDATORS[kind].iter_errors(document)
    ]
    if not problems:
        problems = _json_rules(kind, document)
    if problems:
        raise SchemaViolation(f"{kind} JSON is not valid:\n" + "\n".join(problems))
    return document


def validate(kind: str, fmt: str, response) -> Any:  # noqa: ANN001 - a Flask test response
    """Check a response's Content-Type and body against the standard; answer the document in
    its JSON form (for XML, read with ``spark``), so a test reads both formats the same way."""
    check_content_type(fmt, response.headers.get("Content-Type"))
    return validate_document(kind, fmt, response.get_data())
