"""Schemas shared by every feature: the problem document and strict base schemas."""

from __future__ import annotations

import re

from marshmallow import INCLUDE, RAISE, Schema, ValidationError, fields

# C0 and C1 control characters other than tab, newline and carriage return.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


class StrictSchema(Schema):
    """Unknown fields are an error (CONTRACTS.md), not silently dropped."""

    class Meta:
        unknown = RAISE


def no_control_characters(value: str) -> None:
    if _CONTROL.search(value):
        raise ValidationError("Must not contain control characters.")


class Text(fields.String):
    """A string with surrounding whitespace trimmed and control characters refused."""

    def _deserialize(self, value, attr, data, **kwargs):  # noqa: ANN001
        text = super()._deserialize(value, attr, data, **kwargs)
        no_control_characters(text)
        return text.strip()


class StrictBoolean(fields.Boolean):
    """A JSON boolean, and nothing else: not 0, 1 or "yes" (marshmallow's Boolean takes them)."""

    def _deserialize(self, value, attr, data, **kwargs):  # noqa: ANN001
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


class ProblemSchema(Schema):
    """RFC 9457 problem details. Extension members (e.g. ``advice``) may follow."""

    class Meta:
        unknown = INCLUDE

    type = fields.String(required=True, metadata={"example": "about:blank"})
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String(required=True)
    instance = fields.String()
    errors = fields.Dict(
        keys=fields.String(),
        values=fields.List(fields.String()),
        metadata={"description": "Field name -> what is wrong with it."},
    )
