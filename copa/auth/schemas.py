from __future__ import annotations

from marshmallow import Schema, fields, validate

from copa.web.schemas import StrictSchema, Text


class DeviceIn(StrictSchema):
    platform = fields.String(validate=validate.OneOf(["ios", "android", "web"]), load_default=None)
    app_version = Text(validate=validate.Length(min=1, max=32), load_default=None)


class LoginIn(StrictSchema):
    email = fields.Email(required=True, validate=validate.Length(max=254))
    password = fields.String(required=True, validate=validate.Length(min=1, max=1024))


class TokensOut(Schema):
    access_token = fields.String(required=True)
    refresh_token = fields.String(required=True)
    token_type = fields.String(required=True, metadata={"example": "Bearer"})
    expires_in = fields.Integer(
        required=True, metadata={"description": "Access token lifetime, seconds."}
    )
    roles = fields.List(fields.String(), required=True)


class DeviceTokensOut(TokensOut):
    device_id = fields.UUID(required=True, attribute="principal.id")


class UserTokensOut(TokensOut):
    user_id = fields.UUID(required=True, attribute="principal.id")
    partner_id = fields.UUID(allow_none=True, attribute="principal.partner_id")
