"""Standard Webhooks v1 signatures (https://www.standardwebhooks.com/).

The signed content is ``{webhook-id}.{webhook-timestamp}.{body}``; the key is the base64 part of
a ``whsec_`` secret, decoded. Every active secret of a partner signs, space-separated in one
``webhook-signature`` header, so a receiver can switch to a new secret before the old one goes.
Each signature is made by ``standardwebhooks``, the spec's reference library, so what we send is
what its verifiers (and every port of it) accept.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime

from standardwebhooks import Webhook

SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    """A fresh signing secret in the standard's form: ``whsec_`` and 32 random bytes, base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def secret_key(secret: str) -> bytes:
    """The HMAC key of a secret; ValueError when it is not ``whsec_`` + base64."""
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        # Unpadded base64 is accepted, as the reference library does.
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError) as error:
        raise ValueError("a webhook secret is whsec_ followed by base64") from error
    if not key:
        raise ValueError("a webhook secret may not be empty")
    return key


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """One ``v1,<base64 HMAC-SHA256>`` signature, made by the standard's reference library.

    The secret is checked here first: the library decodes leniently and would sign with
    whatever part of a malformed secret it could read. The body is our UTF-8 JSON.
    """
    key = secret_key(secret)
    when = datetime.fromtimestamp(int(timestamp), UTC)
    return Webhook(key).sign(message_id, when, body.decode("utf-8"))


def webhook_headers(
    secrets_: Sequence[str], message_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """The three Standard Webhooks headers, one signature per secret."""
    if not secrets_:
        raise ValueError("a webhook needs at least one signing secret")
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(timestamp)),
        "webhook-signature": " ".join(sign(s, message_id, timestamp, body) for s in secrets_),
    }
