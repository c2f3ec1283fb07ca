"""The admin API for Open311 clients, and the documents of GeoReport v2 (their JSON form; the
XML form has the same fields in the same order, see render.py)."""

from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields, validate

from copa.contacts.phones import Phone
from copa.web.pagination import PageQuery
from copa.web.schemas import StrictBoolean, StrictSchema, Text

# --- the admin API ----------------------------------------------------------------------------


class ClientIn(StrictSchema):
    """A civic reporting system allowed to submit reports through Open311."""

    name = Text(
        required=True, validate=validate.Length(min=1, max=200), metadata={"example": "FixMyStreet"}
    )
    jurisdiction_id = Text(
        required=True,
        validate=validate.Length(min=1, max=200),
        metadata={
            "description": "The jurisdiction_id the client sends (required from clients only "
            "when more than one jurisdiction is configured).",
            "example": "cleveland.police.uk",
        },
    )
    extended_statuses = StrictBoolean(
        load_default=False,
        metadata={"description": "Answer with mySociety's extended statuses (FIXED, ...)."},
    )
    status_without_key = StrictBoolean(
        load_default=False,
        metadata={
            "description": "Let anyone who knows one of this client's service_request_ids or "
            "tokens read its status without the api_key, as the standard allows and FixMyStreet "
            "polls (the answer then has no description, location, address or media)."
        },
    )
    active = StrictBoolean(load_default=True)


class ClientPatchIn(StrictSchema):
    """Changes to a client; fields left out stay as they are."""

    name = Text(validate=validate.Length(min=1, max=200))
    jurisdiction_id = Text(validate=validate.Length(min=1, max=200))
    extended_statuses = StrictBoolean()
    status_without_key = StrictBoolean()
    active = StrictBoolean()


class ClientQuery(PageQuery):
    active = fields.Boolean()


class ClientOut(Schema):
    """A client as admins see it: never its api_key, only the key's last characters."""

    id = fields.UUID(required=True)
    name = fields.String(required=True)
    jurisdiction_id = fields.String(required=True)
    api_key_hint = fields.String(
        required=True,
        metadata={"description": "The api_key's last characters, to tell keys apart."},
    )
    extended_statuses = fields.Boolean(required=True)
    status_without_key = fields.Boolean(required=True)
    active = fields.Boolean(required=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)


class ClientKeyOut(ClientOut):
    """A client with its new api_key: shown in this answer only, never again."""

    api_key = fields.String(required=True)


# --- GeoReport v2 documents (JSON) ------------------------------------------------------------


class Open311EndpointOut(Schema):
    specification = fields.String(required=True)
    url = fields.String(required=True)
    changeset = fields.String(required=True)
    type = fields.String(required=True, metadata={"example": "production"})
    formats = fields.List(fields.String(), required=True)


class Open311DiscoveryOut(Schema):
    changeset = fields.String(required=True)
    contact = fields.String(required=True)
    key_service = fields.String(required=True)
    endpoints = fields.List(fields.Nested(Open311EndpointOut), required=True)


class Open311ServiceOut(Schema):
    service_code = fields.String(required=True, metadata={"example": "fly_tipping"})
    service_name = fields.String(required=True)
    description = fields.String(required=True)
    metadata = fields.Boolean(required=True, metadata={"description": "Has extra questions."})
    type = fields.String(required=True, metadata={"example": "realtime"})
    keywords = fields.String(required=True, metadata={"description": "Comma-separated."})
    group = fields.String(required=True, metadata={"example": "non_policing"})


class Open311ValueOut(Schema):
    key = fields.String(required=True)
    name = fields.String(required=True)


class Open311AttributeOut(Schema):
    variable = fields.Boolean(required=True)
    code = fields.String(required=True)
    datatype = fields.String(required=True)
    required = fields.Boolean(required=True)
    datatype_description = fields.String(allow_none=True)
    order = fields.Integer(required=True)
    description = fields.String(required=True)
    values = fields.List(fields.Nested(Open311ValueOut), required=True)


class Open311ServiceDefinitionOut(Schema):
    service_code = fields.String(required=True)
    attributes = fields.List(fields.Nested(Open311AttributeOut), required=True)


class Open311CreatedOut(Schema):
    service_request_id = fields.String(required=True, metadata={"example": "COPA-26-000123"})
    token = fields.String(
        required=True, metadata={"description": "Also resolves through tokens/{token}."}
    )
    service_notice = fields.String(allow_none=True)
    account_id = fields.String(allow_none=True)


class Open311RequestOut(Schema):
    service_request_id = fields.String(required=True)
    status = fields.String(
        required=True,
        metadata={"description": "open or closed; mySociety's extended statuses on request."},
    )
    status_notes = fields.String(allow_none=True)
    service_name = fields.String(required=True)
    service_code = fields.String(required=True)
    description = fields.String(allow_none=True)
    agency_responsible = fields.String(allow_none=True)
    service_notice = fields.String(allow_none=True)
    requested_datetime = fields.String(required=True)
    updated_datetime = fields.String(required=True)
    expected_datetime = fields.String(allow_none=True)
    address = fields.String(allow_none=True)
    address_id = fields.String(allow_none=True)
    zipcode = fields.String(allow_none=True)
    lat = fields.Float(allow_none=True)
    long = fields.Float(allow_none=True)
    media_url = fields.String(allow_none=True)


class Open311TokenOut(Schema):
    service_request_id = fields.String(required=True)
    token = fields.String(required=True)


class Open311ErrorOut(Schema):
    code = fields.Integer(required=True, metadata={"example": 400})
    description = fields.String(required=True)


# --- what a client sends -----------------------------------------------------------------------


class RequestIn(Schema):
    """POST requests' plain fields (``attribute[...]`` are read separately). Open311 servers
    ignore fields they do not know, so unknown ones are dropped, not refused."""

    class Meta:
        unknown = EXCLUDE

    jurisdiction_id = Text(validate=validate.Length(min=1, max=200))
    service_code = Text(required=True, validate=validate.Length(min=1, max=64))
    lat = fields.Float(allow_nan=False, validate=validate.Range(min=-90, max=90))
    lon = fields.Float(data_key="long", allow_nan=False, validate=validate.Range(min=-180, max=180))
    address_string = Text(validate=validate.Length(max=300))
    address_id = Text(validate=validate.Length(max=200))
    email = fields.Email(validate=validate.Length(max=254))
    first_name = Text(validate=validate.Length(max=60))
    last_name = Text(validate=validate.Length(max=60))
    phone = Phone()
    description = Text(required=True, validate=validate.Length(min=1, max=4000))
    media_url = fields.URL(schemes={"http", "https"}, validate=validate.Length(max=2000))
    device_id = Text(validate=validate.Length(max=200))
    deviceid = Text(validate=validate.Length(max=200))
    account_id = Text(validate=validate.Length(max=200))


class JurisdictionQuery(Schema):
    """Open311 servers ignore parameters they do not know: unknown ones are dropped."""

    class Meta:
        unknown = EXCLUDE

    jurisdiction_id = fields.String(
        metadata={"description": "Required only when more than one jurisdiction is served."}
    )


class RequestQuery(JurisdictionQuery):
    extensions = fields.String(metadata={"description": "true: mySociety's extended statuses."})


class RequestsQuery(RequestQuery):
    """GET requests' parameters (strings: the service reads the lists and dates itself, so an
    Open311 client gets Open311's errors for them)."""

    service_request_id = fields.String(
        metadata={"description": "Comma-separated; overrides the rest."}
    )
    service_code = fields.String(metadata={"description": "Comma-separated."})
    start_date = fields.String(
        metadata={"description": "W3C datetime.", "example": "2026-11-01T00:00:00Z"}
    )
    end_date = fields.String(metadata={"description": "At most 90 days after start_date."})
    status = fields.String(metadata={"description": "open, closed, or both comma-separated."})
