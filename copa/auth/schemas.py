from __future__ import annotations

import uuid

from marshmallow import Schema, fields, validate

from copa.web.access import USER_ROLES
from copa.web.pagination import PageQuery
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


class DeviceRegisteredOut(DeviceTokensOut):
    device_secret = fields.String(
        required=True,
        metadata={
            "description": "Shown once: keep it in the phone's secure storage (Keychain, "
            "Keystore). With `device_id` it opens a new sign-in when the refresh token is "
            "lost, expired or revoked. Only its SHA-256 is stored.",
            "example": "copads_Xq3...",
        },
    )


class DeviceSessionIn(StrictSchema):
    # Not Text: a secret is taken exactly as sent.
    device_secret = fields.String(required=True, validate=validate.Length(min=1, max=256))


class UserTokensOut(TokensOut):
    user_id = fields.UUID(required=True, attribute="principal.id")
    partner_id = fields.UUID(allow_none=True, attribute="principal.partner_id")


# --- users (admin) ------------------------------------------------------------------------

_USER_ROLES = sorted(str(role) for role in USER_ROLES)
_ROLES_DESCRIPTION = (
    "Staff roles (reviewer, resolution, analyst, admin) in any combination, or exactly "
    '["partner"] for a partner organisation\'s user.'
)


def _roles_field(**kwargs) -> fields.List:
    return fields.List(
        fields.String(validate=validate.OneOf(_USER_ROLES)),
        validate=validate.Length(min=1, max=len(_USER_ROLES)),
        metadata={"description": _ROLES_DESCRIPTION, "example": ["reviewer"]},
        **kwargs,
    )


def _password_field(**kwargs) -> fields.String:
    # Not Text: a password is taken exactly as typed, spaces included.
    return fields.String(
        validate=validate.Length(min=12, max=256),
        load_only=True,
        metadata={"description": "12 to 256 characters; stored only as an argon2id hash."},
        **kwargs,
    )


class UserIn(StrictSchema):
    """A new staff or partner user."""

    email = fields.Email(
        required=True,
        validate=validate.Length(max=254),
        metadata={
            "description": "Stored in lower case; signs in with it.",
            "example": "a.reviewer@opcc.example",
        },
    )
    display_name = Text(required=True, validate=validate.Length(min=1, max=120))
    password = _password_field(required=True)
    roles = _roles_field(required=True)
    partner_id = fields.UUID(
        load_default=None,
        allow_none=True,
        metadata={
            "description": "Required for a partner user (their organisation); staff have none."
        },
    )


class UserPatchIn(StrictSchema):
    """Changes to a user; fields left out stay as they are.

    ``active: false`` disables the user and ends every sign-in of theirs at once; a new
    password ends them too.
    """

    display_name = Text(validate=validate.Length(min=1, max=120))
    roles = _roles_field()
    partner_id = fields.UUID(allow_none=True)
    active = fields.Boolean()
    password = _password_field()


class UserQuery(PageQuery):
    role = fields.String(validate=validate.OneOf(_USER_ROLES))
    active = fields.Boolean()
    partner_id = fields.UUID()
    email = Text(
        validate=validate.Length(min=1, max=254),
        metadata={"description": "Part of the email address, any case."},
    )


class UserOut(Schema):
    """A user as admins see it (never the password or its hash)."""

    id = fields.UUID(required=True)
    email = fields.String(required=True)
    display_name = fields.String(required=True)
    roles = fields.Function(
        lambda user: sorted(user.roles or []),
        required=True,
        metadata={"type": "array", "items": {"type": "string"}},
    )
    partner_id = fields.UUID(allow_none=True)
    active = fields.Boolean(required=True)
    last_login_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)


# --- who holds a report or complaint case (auth.service.assignee checks the roles) ---


class AssigneeFilter(fields.String):
    """A user id, ``me`` (the caller) or ``none`` (nobody assigned): queue and case filters."""

    default_error_messages = {"invalid": 'Must be a user id, "me" or "none".'}

    def _deserialize(self, value, attr, data, **kwargs):  # noqa: ANN001
        text = super()._deserialize(value, attr, data, **kwargs).strip()
        if text in ("me", "none"):
            return text
        try:
            return uuid.UUID(text)
        except ValueError as error:
            raise self.make_error("invalid") from error


class AssignmentIn(StrictSchema):
    assignee_id = fields.UUID(
        required=True,
        allow_none=True,
        metadata={
            "description": "An active user allowed to hold it (reports: reviewer or admin; "
            "complaint cases: resolution or admin); null to unassign."
        },
    )
