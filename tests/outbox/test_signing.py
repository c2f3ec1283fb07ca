"""Standard Webhooks v1 signatures, checked against the reference ``standardwebhooks`` library."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from copa.outbox.signing import new_secret, secret_key, sign, webhook_headers

BODY = b'{"type":"referral.created","data":{"reference":"COPA-26-000001"}}'
MESSAGE_ID = "6f1c7d52-1d1e-4bb5-9a4b-5a0f0e8a3c21"


def test_a_signature_is_what_the_reference_library_computes():
    secret = new_secret()
    now = int(time.time())

    ours = sign(secret, MESSAGE_ID, now, BODY)
    theirs = Webhook(secret).sign(MESSAGE_ID, datetime.fromtimestamp(now, UTC), BODY.decode())

    assert ours == theirs


def test_headers_verify_with_the_reference_library():
    secret = new_secret()
    headers = webhook_headers([secret], MESSAGE_ID, int(time.time()), BODY)

    assert set(headers) == {"webhook-id", "webhook-timestamp", "webhook-signature"}
    assert Webhook(secret).verify(BODY, headers)["data"]["reference"] == "COPA-26-000001"


def test_a_tampered_body_is_refused():
    secret = new_secret()
    headers = webhook_headers([secret], MESSAGE_ID, int(time.time()), BODY)

    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY.replace(b"000001", b"000002"), headers)


def test_a_signature_older_than_five_minutes_is_refused():
    secret = new_secret()
    headers = webhook_headers([secret], MESSAGE_ID, int(time.time()) - 301, BODY)

    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(secret).verify(BODY, headers)


def test_rotation_signs_with_every_secret_and_each_verifies_alone():
    old, new, unrelated = new_secret(), new_secret(), new_secret()
    headers = webhook_headers([old, new], MESSAGE_ID, int(time.time()), BODY)

    assert len(headers["webhook-signature"].split(" ")) == 2
    assert Webhook(old).verify(BODY, headers)
    assert Webhook(new).verify(BODY, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(unrelated).verify(BODY, headers)


def test_a_new_secret_is_whsec_and_32_random_bytes():
    first, second = new_secret(), new_secret()

    assert first.startswith("whsec_") and first != second
    assert len(base64.b64decode(first.removeprefix("whsec_"))) == 32
    assert secret_key(first) == base64.b64decode(first.removeprefix("whsec_"))


@pytest.mark.parametrize("secret", ["whsec_", "whsec_not base64!", ""])
def test_an_unusable_secret_is_an_error_not_a_weak_key(secret):
    with pytest.raises(ValueError):
        secret_key(secret)


def test_a_body_with_non_ascii_text_verifies_with_the_reference_library():
    secret = new_secret()
    body = '{"data":{"address":"Café on Linthorpe Road – bins"}}'.encode()
    headers = webhook_headers([secret], MESSAGE_ID, int(time.time()), body)

    assert Webhook(secret).verify(body, headers)["data"]["address"].startswith("Café")


def test_a_malformed_secret_never_signs_leniently():
    # The reference library would skip the bad characters and sign with what is left.
    with pytest.raises(ValueError):
        sign("whsec_not base64!", MESSAGE_ID, int(time.time()), BODY)
