"""FCM channel: Firebase Cloud Messaging HTTP v1, authorised with a service account.

``POST {FCM_URL}/v1/projects/{project_id}/messages:send`` with a Bearer access token that
google-auth obtains from the service account's ``token_uri`` (the OAuth2 JWT-bearer grant, scope
``firebase.messaging``) and keeps until shortly before it expires: one token per relay process
and hour, not one per push. Answers as FCM's error-code reference says: ``UNREGISTERED`` (404)
and an ``INVALID_ARGUMENT`` (400) about the registration token mean the token is dead (GONE:
it is forgotten, the message cancelled); 401/403, and a token endpoint refusing the service
account, mean our credentials are wrong (REFUSED: dead-lettered at once, no retry can help);
429, 500 and 503 are retried, honouring ``Retry-After``.

Log lines name the message id and the status only: never the token, a title or a body.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from dataclasses import dataclass, field

import google.auth.exceptions
import google.auth.transport
import httpx
from google.oauth2 import service_account

from copa.outbox.channels import Outcome, Result, Settings, push_transport, retry_after_seconds
from copa.outbox.channels import http as outbound

log = logging.getLogger(__name__)

SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
FCM_ERROR_TYPE = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
BAD_REQUEST_TYPE = "type.googleapis.com/google.rpc.BadRequest"
TTL_SECONDS = 24 * 3600  # an update a day late is still worth showing; older, the inbox has it


def digest(token: str) -> str:
    """How an outcome names the token it went to without carrying it."""
    return hashlib.sha256(token.encode()).hexdigest()


# --- the service account's access token ---------------------------------------------------


class CredentialsUnusable(Exception):
    """The service-account file cannot be read or is not a service account."""


_credentials: dict[str, service_account.Credentials] = {}
_credentials_lock = threading.Lock()


class _HttpxTransport(google.auth.transport.Request):
    """google-auth's transport interface over httpx (its own needs requests, not ours)."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout

    def __call__(self, url, method="GET", body=None, headers=None, timeout=None, **kwargs):
        try:
            response = push_transport.client(url, self.timeout).request(
                method, url, content=body, headers=headers, timeout=timeout or self.timeout
            )
        except httpx.HTTPError as error:
            raise google.auth.exceptions.TransportError(
                f"{type(error).__name__}: {error}"[:300]
            ) from error
        return _Response(response)


class _Response(google.auth.transport.Response):
    def __init__(self, response: httpx.Response) -> None:
        self._response = response

    @property
    def status(self) -> int:
        return self._response.status_code

    @property
    def headers(self):
        return dict(self._response.headers)

    @property
    def data(self) -> bytes:
        return self._response.content


def _service_account(path: str) -> service_account.Credentials:
    found = _credentials.get(path)
    if found is None:
        try:
            found = service_account.Credentials.from_service_account_file(path, scopes=[SCOPE])
        except (OSError, ValueError, KeyError) as error:
            raise CredentialsUnusable(f"{type(error).__name__}: {error}"[:300]) from None
        if not found.project_id:
            raise CredentialsUnusable("the service-account file has no project_id")
        _credentials[path] = found
    return found


def access_token(path: str, timeout: float) -> tuple[str, str]:
    """The project id and a valid access token of the service account in ``path``; a new token
    only when there is none yet or it is within google-auth's margin of its expiry."""
    with _credentials_lock:
        credentials = _service_account(path)
        if not credentials.valid:
            credentials.refresh(_HttpxTransport(timeout))
        return credentials.project_id, credentials.token


def forget_access_token(path: str) -> None:
    """FCM refused the token: fetch a new one next time."""
    with _credentials_lock:
        _credentials.pop(path, None)


# --- the request --------------------------------------------------------------------------


def message(*, token: str, title: str, body: str, data: dict[str, str], collapse_key: str) -> dict:
    """The HTTP v1 ``message``: visible title and body, string-only data for the app, and
    per-platform options. ``collapse_key`` (the notification id) makes a repeated delivery
    replace the first on the phone instead of showing twice."""
    return {
        "token": token,
        "notification": {"title": title, "body": body},
        "data": {key: str(value) for key, value in data.items()},
        "android": {
            "priority": "high",
            "ttl": f"{TTL_SECONDS}s",
            "collapse_key": collapse_key,
            "notification": {"tag": collapse_key},
        },
        "apns": {
            "headers": {
                "apns-priority": "10",
                "apns-push-type": "alert",
                "apns-collapse-id": collapse_key,
            },
            "payload": {"aps": {"sound": "default"}},
        },
    }


@dataclass(frozen=True)
class FcmRequest:
    message_id: str
    base_url: str
    credentials_file: str
    body: bytes = field(repr=False)  # holds the token
    recipient: str  # digest of the token

    def send(self, settings: Settings) -> Outcome:
        try:
            project_id, bearer = access_token(self.credentials_file, settings.timeout)
        except CredentialsUnusable as error:
            log.error(
                "push message %s dead-lettered: the FCM service-account file is unusable (%s)",
                self.message_id,
                error,
            )
            return Outcome(Result.REFUSED, error=f"FCM credentials unusable: {error}")
        except google.auth.exceptions.RefreshError as error:
            if getattr(error, "retryable", False):
                return Outcome(Result.FAILED, error=f"OAuth2 token endpoint: {error}"[:500])
            log.error(
                "push message %s dead-lettered: the OAuth2 token endpoint refused the FCM "
                "service account (%s)",
                self.message_id,
                str(error)[:200],
            )
            return Outcome(
                Result.REFUSED,
                error=f"OAuth2 token endpoint refused the credentials: {error}"[:500],
            )
        except google.auth.exceptions.TransportError as error:
            return Outcome(Result.FAILED, error=f"OAuth2 token endpoint: {error}"[:500])
        url = f"{self.base_url.rstrip('/')}/v1/projects/{project_id}/messages:send"
        try:
            answer = push_transport.post(
                url,
                body=self.body,
                headers={
                    "Authorization": f"Bearer {bearer}",
                    "Content-Type": "application/json; charset=UTF-8",
                },
                timeout=settings.timeout,
                max_bytes=settings.max_response_bytes,
            )
        except outbound.HttpFailure as error:
            return Outcome(Result.FAILED, error=str(error))
        outcome = answer_outcome(answer, self.recipient)
        if outcome.result == Result.REFUSED:
            if answer.status == 401:
                forget_access_token(self.credentials_file)
            log.error("push message %s dead-lettered: %s", self.message_id, outcome.error)
        return outcome


def request(
    *,
    message_id: str,
    base_url: str,
    credentials_file: str,
    token: str,
    title: str,
    body: str,
    data: dict[str, str],
    collapse_key: str,
) -> FcmRequest:
    """The request of one push to one registration token."""
    document = {
        "message": message(
            token=token, title=title, body=body, data=data, collapse_key=collapse_key
        )
    }
    return FcmRequest(
        message_id=message_id,
        base_url=base_url,
        credentials_file=credentials_file,
        body=json.dumps(document, separators=(",", ":")).encode(),
        recipient=digest(token),
    )


# --- the answer ---------------------------------------------------------------------------


def answer_outcome(answer: outbound.HttpAnswer, recipient: str) -> Outcome:
    """What FCM's answer means for the message (FCM's ErrorCode reference)."""
    if 200 <= answer.status < 300:
        return Outcome(Result.DELIVERED, answer.status)
    status_text, error_code, token_field = _error(answer.body)
    what = f"{answer.status} {error_code or status_text or 'error'}"
    if error_code == "UNREGISTERED" or (answer.status == 400 and token_field):
        return Outcome(
            Result.GONE,
            answer.status,
            error=f"{what}: the registration token is no longer valid; it was removed",
            recipient=recipient,
        )
    if answer.status in (401, 403) or error_code in (
        "THIRD_PARTY_AUTH_ERROR",
        "SENDER_ID_MISMATCH",
    ):
        return Outcome(
            Result.REFUSED,
            answer.status,
            error=f"{what}: FCM refused our credentials (check COPA_FCM_CREDENTIALS_FILE "
            "and the service account's permission to send)",
        )
    if answer.status == 400:
        return Outcome(Result.REFUSED, 400, error=f"{what}: FCM refused the request as invalid")
    return Outcome(
        Result.FAILED,
        answer.status,
        error=what,
        retry_after=retry_after_seconds(answer.headers.get("retry-after")),
    )


def _error(body: bytes) -> tuple[str | None, str | None, bool]:
    """(status, FCM errorCode, whether the error is about the registration token)."""
    try:
        error = json.loads(body or b"{}").get("error") or {}
    except (ValueError, AttributeError):
        return None, None, False
    if not isinstance(error, dict):
        return None, None, False
    code, about_token = None, False
    for detail in error.get("details") or []:
        if not isinstance(detail, dict):
            continue
        if detail.get("@type") == FCM_ERROR_TYPE:
            code = detail.get("errorCode")
        if detail.get("@type") == BAD_REQUEST_TYPE:
            about_token |= any(
                (violation or {}).get("field") == "message.token"
                for violation in detail.get("fieldViolations") or []
            )
    message_text = str(error.get("message") or "").lower()
    if code == "INVALID_ARGUMENT" and "registration token" in message_text:
        about_token = True
    return error.get("status"), code, about_token
