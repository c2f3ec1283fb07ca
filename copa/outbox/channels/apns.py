"""APNs channel: Apple Push Notification service directly, token-based authentication.

``POST {APNS_URL}/3/device/{device token}`` over HTTP/2 (APNs speaks nothing else), with a
provider token: an ES256 JWT signed with the team's ``.p8`` key (``kid`` the key id, ``iss`` the
team id, ``iat``), reused for 50 minutes (Apple refuses one older than an hour, and too frequent
new ones with 429 TooManyProviderTokenUpdates). ``apns-id`` is the outbox message id and
``apns-collapse-id`` the notification id, so a repeated delivery replaces the first on the
phone. Answers as Apple documents them: 410 Unregistered/ExpiredToken and 400 BadDeviceToken
mean the token is dead (GONE); 403 InvalidProviderToken/ExpiredProviderToken/
MissingProviderToken and other 403s mean our key is wrong (REFUSED: dead-lettered at once);
429, 500 and 503 are retried, honouring ``Retry-After``.

Log lines name the message id and the status only: never the device token (which is in the
URL), a title or a body.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass, field

import jwt

from copa.outbox.channels import Outcome, Result, Settings, push_transport, retry_after_seconds
from copa.outbox.channels import http as outbound
from copa.outbox.channels.fcm import digest

log = logging.getLogger(__name__)

PROVIDER_TOKEN_SECONDS = 50 * 60
EXPIRATION_SECONDS = 24 * 3600  # apns-expiration: Apple stores and retries for a day at most
GONE_REASONS = frozenset({"Unregistered", "ExpiredToken", "BadDeviceToken"})
AUTH_REASONS = frozenset({"InvalidProviderToken", "ExpiredProviderToken", "MissingProviderToken"})


class KeyUnusable(Exception):
    """The .p8 key cannot be read or cannot sign ES256."""


_provider_tokens: dict[tuple[str, str, str], tuple[str, float]] = {}
_tokens_lock = threading.Lock()


def provider_token(key_file: str, key_id: str, team_id: str) -> str:
    """The provider token for this key, made again once it is 50 minutes old."""
    key = (key_file, key_id, team_id)
    with _tokens_lock:
        found = _provider_tokens.get(key)
        if found is not None and time.monotonic() - found[1] < PROVIDER_TOKEN_SECONDS:
            return found[0]
        try:
            with open(key_file, "rb") as handle:
                private_key = handle.read()
            token = jwt.encode(
                {"iss": team_id, "iat": int(time.time())},
                private_key,
                algorithm="ES256",
                headers={"kid": key_id},
            )
        except (OSError, ValueError, TypeError, jwt.PyJWTError) as error:
            raise KeyUnusable(f"{type(error).__name__}: {error}"[:300]) from None
        _provider_tokens[key] = (token, time.monotonic())
        return token


def forget_provider_token(key_file: str, key_id: str, team_id: str) -> None:
    """APNs refused the provider token: make a new one next time."""
    with _tokens_lock:
        _provider_tokens.pop((key_file, key_id, team_id), None)


def payload(*, title: str, body: str, data: dict[str, str]) -> dict:
    """The notification: the visible alert, then the app's data beside ``aps``."""
    return {
        "aps": {"alert": {"title": title, "body": body}, "sound": "default"},
        **{key: str(value) for key, value in data.items()},
    }


@dataclass(frozen=True)
class ApnsRequest:
    message_id: str  # a UUID: the apns-id
    base_url: str
    key_file: str
    key_id: str
    team_id: str
    topic: str
    collapse_id: str
    device_token: str = field(repr=False)
    body: bytes = field(repr=False)

    def send(self, settings: Settings) -> Outcome:
        try:
            bearer = provider_token(self.key_file, self.key_id, self.team_id)
        except KeyUnusable as error:
            log.error(
                "push message %s dead-lettered: the APNs key (COPA_APNS_KEY_FILE) is unusable (%s)",
                self.message_id,
                error,
            )
            return Outcome(Result.REFUSED, error=f"APNs key unusable: {error}")
        headers = {
            "authorization": f"bearer {bearer}",
            "apns-topic": self.topic,
            "apns-push-type": "alert",
            "apns-id": self.message_id,
            "apns-priority": "10",
            "apns-expiration": str(int(time.time()) + EXPIRATION_SECONDS),
            "apns-collapse-id": self.collapse_id,
            "content-type": "application/json",
        }
        try:
            answer = push_transport.post(
                f"{self.base_url.rstrip('/')}/3/device/{self.device_token}",
                body=self.body,
                headers=headers,
                timeout=settings.timeout,
                max_bytes=settings.max_response_bytes,
                http1=False,
                redact=self.device_token,
            )
        except outbound.HttpFailure as error:
            return Outcome(Result.FAILED, error=str(error))
        outcome = answer_outcome(answer, digest(self.device_token))
        if outcome.result == Result.REFUSED:
            if answer.status == 403:
                forget_provider_token(self.key_file, self.key_id, self.team_id)
            log.error("push message %s dead-lettered: %s", self.message_id, outcome.error)
        return outcome


def request(
    *,
    message_id: str,
    base_url: str,
    key_file: str,
    key_id: str,
    team_id: str,
    topic: str,
    token: str,
    title: str,
    body: str,
    data: dict[str, str],
    collapse_id: str,
) -> ApnsRequest:
    """The request of one push to one device token."""
    document = payload(title=title, body=body, data=data)
    return ApnsRequest(
        message_id=message_id,
        base_url=base_url,
        key_file=key_file,
        key_id=key_id,
        team_id=team_id,
        topic=topic,
        collapse_id=collapse_id,
        device_token=token,
        body=json.dumps(document, separators=(",", ":")).encode(),
    )


def answer_outcome(answer: outbound.HttpAnswer, recipient: str) -> Outcome:
    """What Apple's answer means for the message (its status codes and ``reason`` values)."""
    if answer.status == 200:
        return Outcome(Result.DELIVERED, 200)
    reason = _reason(answer.body)
    what = f"{answer.status} {reason or 'error'}"
    if answer.status == 410 or reason in GONE_REASONS:
        return Outcome(
            Result.GONE,
            answer.status,
            error=f"{what}: the device token is no longer valid; it was removed",
            recipient=recipient,
        )
    if answer.status == 403 or reason in AUTH_REASONS:
        return Outcome(
            Result.REFUSED,
            answer.status,
            error=f"{what}: APNs refused our provider token (check COPA_APNS_KEY_FILE, "
            "COPA_APNS_KEY_ID and COPA_APNS_TEAM_ID)",
        )
    if answer.status in (400, 404, 405, 413):
        return Outcome(Result.REFUSED, answer.status, error=f"{what}: APNs refused the request")
    return Outcome(
        Result.FAILED,
        answer.status,
        error=what,
        retry_after=retry_after_seconds(answer.headers.get("retry-after")),
    )


def _reason(body: bytes) -> str | None:
    try:
        found = json.loads(body or b"{}")
    except ValueError:
        return None
    reason = found.get("reason") if isinstance(found, dict) else None
    return str(reason)[:64] if reason else None
