from __future__ import annotations

from marshmallow import Schema, fields, validate

from copa.web.schemas import StrictSchema

GSS_CODE = r"^[ENSW]\d{8}$"  # ONS GSS code: a letter for the nation, 8 digits


class LookupQuery(StrictSchema):
    # Float refuses NaN and infinity (allow_nan=False is marshmallow's default; stated here).
    lat = fields.Float(
        required=True,
        allow_nan=False,
        validate=validate.Range(min=-90, max=90),
        metadata={"description": "Latitude, WGS84 decimal degrees.", "example": 54.5762},
    )
    lon = fields.Float(
        required=True,
        allow_nan=False,
        validate=validate.Range(min=-180, max=180),
        metadata={"description": "Longitude, WGS84 decimal degrees.", "example": -1.2348},
    )


class WardOut(Schema):
    code = fields.String(
        required=True, metadata={"description": "ONS GSS code.", "example": "E05001482"}
    )
    name = fields.String(required=True, metadata={"example": "Acklam"})


class LocalAuthorityRefOut(Schema):
    code = fields.String(
        required=True, metadata={"description": "ONS GSS code.", "example": "E06000002"}
    )
    name = fields.String(required=True, metadata={"example": "Middlesbrough"})


class LocalAuthorityOut(LocalAuthorityRefOut):
    wards = fields.List(fields.Nested(WardOut), required=True)


class LocationOut(Schema):
    ward = fields.Nested(WardOut, required=True)
    local_authority = fields.Nested(LocalAuthorityRefOut, required=True)


class PointIn(LookupQuery):
    """A point given in a request body: ``{"lat": 54.5762, "lon": -1.2348}``."""


class AreaOut(Schema):
    """Where a submission was attributed: area codes and names only, never coordinates."""

    ward = fields.Nested(WardOut, allow_none=True)
    local_authority = fields.Nested(LocalAuthorityRefOut, allow_none=True)
