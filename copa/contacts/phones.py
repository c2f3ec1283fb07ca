"""Residents' phone numbers: checked with libphonenumber (``phonenumbers``) and kept in E.164.

A number without a country code is read as a UK one ("01642 301653" -> "+441642301653"), so
partners and staff always see one form, whatever the resident typed.
"""

from __future__ import annotations

import phonenumbers
import sqlalchemy as sa
from marshmallow import ValidationError

from copa.web.schemas import Text

DEFAULT_REGION = "GB"
INVALID = "Not a valid phone number."
MAX_TYPED = 32  # characters as typed, spaces and brackets included
# Ofcom's numbers reserved for drama (and so for documentation and tests) that libphonenumber
# counts as unallocated: they are well-formed UK numbers that never ring anyone.
_FICTIONAL_PREFIXES = ("+447700900", "+441632960")


def to_e164(text: str, region: str = DEFAULT_REGION) -> str:
    """The E.164 form of a phone number as a person writes it; ValueError when it is not one."""
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        raise ValueError(INVALID) from None
    if number.extension:
        raise ValueError("Give the number without an extension.")
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    fictional = len(e164) == 13 and e164.startswith(_FICTIONAL_PREFIXES)
    if not (phonenumbers.is_valid_number(number) or fictional):
        raise ValueError(INVALID)
    return e164


def shown(stored: str | None) -> str | None:
    """A stored number in E.164; one kept before numbers were normalised is converted when it
    can be, and otherwise shown as it was given."""
    if not stored:
        return stored
    try:
        return to_e164(stored)
    except ValueError:
        return stored


class Phone(Text):
    """A phone number field: whatever the resident typed in, E.164 out (422 when it is not a
    phone number)."""

    def __init__(self, **kwargs) -> None:  # noqa: ANN003
        metadata = {
            "description": "A phone number; without a country code it is read as a UK "
            "number. Stored and shown in E.164.",
            "example": "+441642301653",
            "maxLength": MAX_TYPED,
            **kwargs.pop("metadata", {}),
        }
        super().__init__(metadata=metadata, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):  # noqa: ANN001
        text = super()._deserialize(value, attr, data, **kwargs)
        if len(text) > MAX_TYPED:
            raise ValidationError(f"Longer than {MAX_TYPED} characters.")
        try:
            return to_e164(text)
        except ValueError as error:
            raise ValidationError(str(error)) from None


class E164(sa.types.TypeDecorator):
    """A phone number column written in E.164 and read in E.164, so rows kept before numbers
    were normalised need no data migration."""

    impl = sa.String
    cache_ok = True

    def process_bind_param(self, value, dialect):  # noqa: ANN001
        return shown(value)

    def process_result_value(self, value, dialect):  # noqa: ANN001
        return shown(value)
