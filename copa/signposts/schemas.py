"""What the app and admins send and see of signposts, and what the app sends for a click."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from flask import url_for
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from copa.areas.schemas import LocalAuthorityRefOut
from copa.signposts.models import FEEDBACK_KINDS, DestinationKind, Topic
from copa.web.pagination import PageQuery
from copa.web.schemas import StrictBoolean, StrictSchema, Text

CODE = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
URL_MAX = 2048
_TOPICS = [str(topic) for topic in Topic]
_KINDS = [str(kind) for kind in DestinationKind]
_FEEDBACK_KINDS = list(FEEDBACK_KINDS)
_LANGUAGE = re.compile(r"^[a-z]{2,3}(?:-[A-Z]{2})?$")  # a BCP 47 language, optionally a region
_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_WHITESPACE_OR_CONTROL = re.compile(r"[\s\x00-\x1f\x7f-\x9f]")
# A host whose last label is a number is an IPv4 address to a browser (WHATWG URL: 127.1,
# 0x7f.0.0.1 and 1.2.3.04 all are), though ``ipaddress`` does not read them as one.
_NUMERIC_LABEL = re.compile(r"^(?:[0-9]+|0x[0-9a-f]*)$")
_NOT_AN_ADDRESS = "Must name the host by its domain name, not an address."


def https_url_problems(url: str) -> list[str]:
    """Why ``url`` cannot be offered to residents (empty when it can): https, a public DNS
    name (no address literal, no localhost, no credentials), a valid port, no spaces."""
    if len(url) > URL_MAX:
        return [f"Longer than {URL_MAX} characters."]
    if _WHITESPACE_OR_CONTROL.search(url):
        return ["Must not contain spaces or control characters."]
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return ["Not a valid URL."]
    if parts.scheme != "https":
        return ["Must be an https:// URL."]
    if parts.username is not None or parts.password is not None:
        return ["Must not contain a user name or password."]
    if "[" in parts.netloc or "]" in parts.netloc:  # an IPv6 (or IPvFuture) literal
        return [_NOT_AN_ADDRESS]
    host = (parts.hostname or "").rstrip(".")
    if not host:
        return ["Must name a host."]
    try:
        ascii_host = host.encode("idna").decode("ascii")  # also folds fullwidth digits, dots
    except UnicodeError:
        return ["The host name is not valid."]
    labels = ascii_host.lower().split(".")
    if _is_address(ascii_host) or _NUMERIC_LABEL.match(labels[-1]):
        return [_NOT_AN_ADDRESS]
    if len(labels) < 2 or not all(_HOST_LABEL.match(label) for label in labels):
        return ["The host must be a public domain name such as www.example.org."]
    if labels[-1] in {"localhost", "local", "internal", "localdomain", "test", "invalid"}:
        return ["The host must be a public domain name."]
    if port == 0:
        return ["Not a valid port."]
    return []


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def https_url(value: str) -> None:
    problems = https_url_problems(value)
    if problems:
        raise ValidationError(problems)


def _translations(value: dict) -> None:
    for language in value:
        if not _LANGUAGE.match(language) or language == "en":
            raise ValidationError(
                f"{language!r}: a language tag such as 'cy' or 'pl' (English is the main text)."
            )


class TranslationIn(StrictSchema):
    title = Text(required=True, validate=validate.Length(min=1, max=200))
    description = Text(validate=validate.Length(max=2000), load_default="")


# --- for the app ----------------------------------------------------------------------------


class SignpostQuery(StrictSchema):
    topic = fields.List(
        fields.String(validate=validate.OneOf(_TOPICS)),
        metadata={"description": "Only these topics (repeat the parameter for several)."},
    )
    area = Text(
        validate=validate.Length(min=1, max=9),
        metadata={
            "description": "A ward or local authority code: signposts for its local authority "
            "and those offered everywhere; other councils' pages are left out.",
            "example": "E06000001",
        },
    )
    lat = fields.Float(validate=validate.Range(min=-90, max=90), allow_nan=False)
    lon = fields.Float(validate=validate.Range(min=-180, max=180), allow_nan=False)
    category = Text(
        validate=validate.Length(min=1, max=64),
        metadata={"description": "Only those offered with a report of this category."},
    )
    feedback_kind = fields.String(
        validate=validate.OneOf(_FEEDBACK_KINDS),
        metadata={"description": "Only those offered with feedback of this kind."},
    )

    @validates_schema
    def _point_or_area(self, data, **kwargs) -> None:  # noqa: ANN001, ANN003
        if ("lat" in data) != ("lon" in data):
            missing = "lon" if "lat" in data else "lat"
            raise ValidationError("Give lat and lon together.", missing)
        if "lat" in data and "area" in data:
            raise ValidationError("Give a point or an area, not both.", "area")


class SignpostOut(Schema):
    """A signpost as the app shows it, in the language asked for when it has that text."""

    id = fields.UUID(required=True)
    code = fields.String(required=True, metadata={"example": "hartlepool-council-report-it"})
    title = fields.String(required=True, metadata={"example": "Report it to Hartlepool Council"})
    description = fields.String(required=True)
    organisation = fields.String(required=True, metadata={"example": "Hartlepool Borough Council"})
    url = fields.String(required=True, metadata={"example": "https://www.hartlepool.gov.uk/"})
    topic = fields.String(required=True, metadata={"enum": _TOPICS})
    topic_label = fields.String(required=True, metadata={"example": "Council services"})
    destination_kind = fields.String(required=True, metadata={"enum": _KINDS})
    local_authority = fields.Nested(
        LocalAuthorityRefOut,
        allow_none=True,
        metadata={"description": "Offered only in this local authority's area; null: everywhere."},
    )
    language = fields.String(required=True, metadata={"example": "en"})
    clicks_url = fields.Function(
        lambda offered: url_for("signposts.Clicks", signpost_id=offered.id),
        required=True,
        metadata={"type": "string", "description": "Where the app records a tap (POST)."},
    )
    go_url = fields.Function(
        lambda offered: url_for("go.Go", code=offered.code),
        required=True,
        metadata={"type": "string", "description": "The counting redirect, for web pages."},
    )


class OfferedSignposts(fields.Nested):
    """The signposts offered with a submission, found by ``find(submission)``: documented as a
    list of ``SignpostOut``, computed when the submission is shown."""

    def __init__(self, find: Callable[[Any], Any], **kwargs: Any) -> None:
        kwargs.setdefault("required", True)
        super().__init__(SignpostOut, many=True, dump_only=True, **kwargs)
        self._find = find

    def get_value(self, obj: Any, attr: str, accessor: Any = None, default: Any = None) -> Any:
        return self._find(obj)


class ClickIn(StrictSchema):
    event_id = fields.UUID(
        required=True,
        metadata={
            "description": "A random UUID the app makes once per tap and keeps for every retry "
            "of it: the tap is counted once, however often it is sent."
        },
    )
    clicked_at = fields.AwareDateTime(
        metadata={
            "description": "When the tap happened, for a tap sent later (offline); at most "
            "7 days ago (COPA_SIGNPOST_CLICK_MAX_AGE_DAYS). Default: now."
        }
    )
    area = Text(
        validate=validate.Length(min=1, max=9),
        metadata={
            "description": "The ward or local authority the app was showing signposts for, if "
            "any: only its local authority is kept. Never a location."
        },
    )


class ClickOut(Schema):
    event_id = fields.UUID(required=True)
    signpost_id = fields.UUID(required=True)
    counted = fields.Boolean(
        required=True,
        metadata={"description": "False when this event id had already been counted."},
    )


# --- for admins -----------------------------------------------------------------------------


class _SignpostSettingsIn(StrictSchema):
    title = Text(validate=validate.Length(min=1, max=200))
    description = Text(validate=validate.Length(max=2000))
    organisation = Text(validate=validate.Length(min=1, max=200))
    url = Text(
        validate=https_url,
        metadata={
            "description": "https only, a public domain name, at most 2048 characters.",
            "example": "https://www.cleveland.police.uk/ro/report/ocr/af/how-to-report-a-crime/",
        },
    )
    topic = fields.String(validate=validate.OneOf(_TOPICS))
    destination_kind = fields.String(validate=validate.OneOf(_KINDS))
    local_authority_code = Text(
        allow_none=True,
        validate=validate.Length(min=1, max=9),
        metadata={"description": "Offered only in this local authority's area; null: everywhere."},
    )
    category_codes = fields.List(
        Text(validate=validate.Length(min=1, max=64)),
        validate=validate.Length(max=100),
        metadata={"description": "Offered with a report (or question) of these categories."},
    )
    feedback_kinds = fields.List(
        fields.String(validate=validate.OneOf(_FEEDBACK_KINDS)),
        validate=validate.Length(max=len(_FEEDBACK_KINDS)),
        metadata={"description": "Offered with feedback of these kinds."},
    )
    translations = fields.Dict(
        keys=fields.String(validate=validate.Length(min=2, max=6)),
        values=fields.Nested(TranslationIn),
        validate=[validate.Length(max=20), _translations],
        metadata={
            "description": "Title and description in other languages, by language tag.",
            "example": {"cy": {"title": "Rhoi gwybod am drosedd ar-lein", "description": ""}},
        },
    )
    active = StrictBoolean()
    sort_order = fields.Integer(validate=validate.Range(min=0, max=1_000_000))


class SignpostIn(_SignpostSettingsIn):
    code = fields.String(
        required=True,
        validate=[validate.Length(min=1, max=64), validate.Regexp(CODE)],
        metadata={"description": "A unique slug, the /go/{code} path.", "example": "crimestoppers"},
    )
    title = Text(required=True, validate=validate.Length(min=1, max=200))
    organisation = Text(required=True, validate=validate.Length(min=1, max=200))
    url = Text(required=True, validate=https_url)
    topic = fields.String(required=True, validate=validate.OneOf(_TOPICS))
    destination_kind = fields.String(required=True, validate=validate.OneOf(_KINDS))


class SignpostPatchIn(_SignpostSettingsIn):
    """Only the fields sent change."""


class SignpostOrderIn(StrictSchema):
    ids = fields.List(
        fields.UUID(),
        required=True,
        validate=validate.Length(min=1, max=1000),
        metadata={
            "description": "Signposts in their new display order; those not listed keep their "
            "order after them."
        },
    )


class SignpostAdminQuery(PageQuery):
    active = fields.Boolean()  # a query string's "true"/"false" (as PartnerQuery's)
    topic = fields.String(validate=validate.OneOf(_TOPICS))


class SignpostAdminOut(Schema):
    id = fields.UUID(required=True)
    code = fields.String(required=True)
    title = fields.String(required=True)
    description = fields.String(required=True)
    organisation = fields.String(required=True)
    url = fields.String(required=True)
    topic = fields.String(required=True)
    destination_kind = fields.String(required=True)
    local_authority_code = fields.String(allow_none=True)
    category_codes = fields.List(fields.String(), required=True)
    feedback_kinds = fields.List(fields.String(), required=True)
    translations = fields.Dict(
        keys=fields.String(), values=fields.Dict(keys=fields.String(), values=fields.String())
    )
    active = fields.Boolean(required=True)
    sort_order = fields.Integer(required=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)
