"""Idempotency-Key for create endpoints (IETF httpapi draft, with Stripe's semantics).

A view opts in with ``@idempotent`` (below ``@requires``, above ``@blp.arguments``). For a
request carrying the header, per (principal, key):

* first time: the key is claimed, the view runs, and its response is stored **in the same
  transaction as everything the view wrote**, so a crash at any point leaves either both or
  neither; a retry after a crash simply runs again;
* same key and same body, completed: the stored status and body are replayed;
* same key, another body: 422; same key while the first request still runs: 409.

Requests that fail validation or raise a problem store nothing (as Stripe does), so the client
can correct them and retry with the same key. Responses of 5xx store nothing either.

A database outage must not leave a key held by a request that is gone (its retry would get 409
until the lease ran out). When the key cannot be released because the database is unreachable,
this process releases it at its next idempotent request; and on PostgreSQL a key claimed before
the server last started is taken over at once: its holder's connection died with that server.
The fencing token keeps a takeover safe even if that judgement is ever wrong.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import timedelta
from functools import wraps
from typing import Any

import sqlalchemy as sa
from flask import Response, current_app, make_response, request
from flask_smorest import Blueprint as _SmorestBlueprint
from sqlalchemy.orm import Session
from webargs.flaskparser import is_json_request

from copa.db import db, insert_for, unit_failed, utcnow, write
from copa.settings import settings
from copa.web.access import current_principal
from copa.web.input_guard import decode_json
from copa.web.models import IdempotencyKey
from copa.web.outage import is_outage
from copa.web.problems import Conflict, Problem, Unprocessable, problem_type

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
_KEPT_HEADERS = ("Content-Type", "Location")
STORED_INSTEAD = "copa_stored_instead"  # a Response attribute: what to keep for a repeat


class InvalidIdempotencyKey(Problem):
    status = 400
    title = "Bad Request"
    type = problem_type("idempotency-key-invalid")


class KeyReused(Unprocessable):
    type = problem_type("idempotency-key-reused")


class KeyInFlight(Conflict):
    type = problem_type("idempotency-key-in-flight")


def idempotent(view: Callable[..., Any]) -> Callable[..., Any]:
    """Make a create endpoint safe to retry with an ``Idempotency-Key`` header."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        key = request.headers.get(HEADER)
        if key is None:
            return view(*args, **kwargs)
        return once(key, lambda: view(*args, **kwargs))

    documented = _SmorestBlueprint.doc(
        parameters=[
            {
                "in": "header",
                "name": HEADER,
                "required": False,
                "description": "Repeat the same key to retry safely: the first response is replayed.",
                "schema": {"type": "string", "minLength": 1, "maxLength": 255},
            }
        ]
    )(wrapper)
    return documented


def once(key: str, work: Callable[[], Any]) -> Response:
    """Do ``work`` (a view's body) at most once for the caller and ``key``: a repeat of the
    same request gets the first response again; the key with another request is refused.
    The staff console sends a key from each rendered form, so a double click saves once."""
    _check_key(key)
    principal = current_principal().subject
    _release_leftovers()
    claim = _claim(principal, key, _fingerprint())
    if isinstance(claim, Response):
        return claim
    try:
        # The view's services join this transaction, which also carries the stored response.
        with write() as session:
            response = make_response(work())
            if response.status_code >= 500 or unit_failed():
                raise _DoNotStore(response)  # a refusal the view caught and showed: store nothing
            # An answer that shows a secret once (a new API key) names what a repeat shows
            # instead: the secret itself is never stored.
            _complete(session, claim, getattr(response, STORED_INSTEAD, None) or response)
    except _DoNotStore as stop:
        _release(claim)
        return stop.response
    except BaseException:
        _release(claim)
        raise
    return response


@dataclass(frozen=True)
class Claim:
    """This request's hold on a key: the row and the fencing token that proves it still holds it."""

    id: uuid.UUID
    lock_token: uuid.UUID


class _DoNotStore(Exception):
    def __init__(self, response: Response) -> None:
        self.response = response


def _check_key(key: str) -> None:
    if not 1 <= len(key) <= 255 or not key.isascii() or not key.isprintable():
        raise InvalidIdempotencyKey(
            f"{HEADER} must be 1 to 255 printable ASCII characters.",
            errors={HEADER: ["Must be 1 to 255 printable ASCII characters."]},
        )


def _fingerprint() -> str:
    """A hash of what the request asks for, insensitive to JSON key order and multipart boundaries."""
    digest = hashlib.sha256()
    digest.update(f"{request.method} {request.full_path}\n".encode())
    if request.mimetype in ("multipart/form-data", "application/x-www-form-urlencoded"):
        # A form's fields, whoever parsed the body first (the console reads them before this).
        # str(): a part Werkzeug could not decode has no value, and None does not sort.
        fields = request.form.items(multi=True)
        for name, value in sorted(fields, key=lambda item: (str(item[0]), str(item[1]))):
            digest.update(f"form:{name}={value}\n".encode())
        for name, upload in sorted(request.files.items(multi=True), key=lambda item: item[0]):
            # A chunk at a time: an upload (a video) may be tens of megabytes, spooled to disk.
            content = hashlib.sha256()
            while chunk := upload.stream.read(256 * 1024):
                content.update(chunk)
            upload.stream.seek(0)
            digest.update(f"file:{name}:{upload.filename}:".encode() + content.digest())
    else:
        raw = request.get_data(cache=True)
        if is_json_request(request):
            # The body schema's own decoder: hostile JSON is refused here already, as it would be
            # there. Text that is not JSON is hashed as it came (the schema then refuses it).
            with suppress(json.JSONDecodeError):
                document = decode_json(raw)
                raw = json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
        digest.update(raw)
    return digest.hexdigest()


_CLAIM_ATTEMPTS = 3


def _claim(principal: str, key: str, fingerprint: str) -> Claim | Response:
    """Take the key for this request (own short transaction), or answer for it.

    A key that vanishes or changes hands between reading it and taking it over was released
    by the process that held it (after an outage) or taken by a retry: look again, a few times,
    rather than refuse a request that may now simply claim it."""
    for _ in range(_CLAIM_ATTEMPTS - 1):
        try:
            return _claim_once(principal, key, fingerprint)
        except _Raced:
            continue
    try:
        return _claim_once(principal, key, fingerprint)
    except _Raced as raced:
        raise KeyInFlight(raced.detail, headers={"Retry-After": "1"}) from None


class _Raced(Exception):
    def __init__(self, detail: str) -> None:
        self.detail = detail


def _claim_once(principal: str, key: str, fingerprint: str) -> Claim | Response:
    with write():
        return _take(principal, key, fingerprint)


def _take(principal: str, key: str, fingerprint: str) -> Claim | Response:
    now = utcnow()
    lease = timedelta(seconds=settings().idempotency_lease_seconds)
    token = uuid.uuid4()
    claimed = db.session.scalar(
        insert_for(IdempotencyKey)
        .values(
            id=uuid.uuid4(),
            principal=principal,
            key=key,
            request_hash=fingerprint,
            method=request.method,
            path=request.path[:512],
            created_at=now,
            lock_token=token,
            locked_until=now + lease,
        )
        .on_conflict_do_nothing(index_elements=["principal", "key"])
        .returning(IdempotencyKey.id)
    )
    if claimed is not None:
        return Claim(claimed, token)
    row = db.session.scalar(
        sa.select(IdempotencyKey).where(
            IdempotencyKey.principal == principal, IdempotencyKey.key == key
        )
    )
    if row is None:  # released by its holder between our insert and this read
        raise _Raced("A request with this key just finished without a result. Retry.")
    if row.request_hash != fingerprint:
        raise KeyReused(
            f"This {HEADER} was used with a different request. Use a new key for a new request.",
            errors={HEADER: ["Already used with a different request."]},
        )
    if row.completed_at is not None:
        return _replay(row)
    if row.locked_until is not None and row.locked_until > now and not _holder_lost(row, lease):
        raise KeyInFlight(
            f"A request with this {HEADER} is still being processed. Retry shortly.",
            headers={"Retry-After": "1"},
        )
    # The request that held the key died (its lease ran out): take the key over.
    taken = db.session.execute(
        sa.update(IdempotencyKey)
        .where(
            IdempotencyKey.id == row.id,
            IdempotencyKey.lock_token.is_not_distinct_from(row.lock_token),
        )
        .values(lock_token=token, locked_until=now + lease)
    )
    if taken.rowcount != 1:  # released, or taken over by a retry, since we read it
        raise _Raced("A retry of this request is already running.")
    return Claim(row.id, token)


def _complete(session: Session, claim: Claim, response: Response) -> None:
    """Store the response, provided this request still holds the key (fencing token)."""
    headers = {name: response.headers[name] for name in _KEPT_HEADERS if name in response.headers}
    done = session.execute(
        sa.update(IdempotencyKey)
        .where(IdempotencyKey.id == claim.id, IdempotencyKey.lock_token == claim.lock_token)
        .values(
            lock_token=None,
            locked_until=None,
            completed_at=utcnow(),
            response_status=response.status_code,
            response_body=response.get_data(as_text=True),
            response_headers=headers,
        )
    )
    if done.rowcount != 1:
        raise KeyInFlight(
            "This request took too long and a retry took it over.", headers={"Retry-After": "1"}
        )


def _release(claim: Claim) -> None:
    """Let a later retry run again: this attempt stored nothing."""
    try:
        _delete_claim(claim)
    except Exception as error:  # noqa: BLE001 - the original error matters more
        if is_outage(error):
            # The request answers 503 and logs that; the key is freed once the database is back.
            _UNRELEASED.add(claim)
        else:  # the lease expires anyway
            current_app.logger.warning(
                "could not release idempotency key %s", claim.id, exc_info=True
            )


def _delete_claim(claim: Claim) -> None:
    with write():
        db.session.execute(
            sa.delete(IdempotencyKey).where(
                IdempotencyKey.id == claim.id, IdempotencyKey.lock_token == claim.lock_token
            )
        )


# Keys this process could not release during an outage (process-local: other workers rely on
# the lease, or on PostgreSQL on ``_holder_lost``).
_UNRELEASED: set[Claim] = set()


def _release_leftovers() -> None:
    """Free the keys an outage kept this process from releasing; while the database is still
    unreachable this raises, and the request is answered 503 like any other."""
    for claim in list(_UNRELEASED):
        try:
            _delete_claim(claim)
        except Exception as error:
            if is_outage(error):
                raise
            _UNRELEASED.discard(claim)  # not an outage: leave it to the lease
            current_app.logger.warning(
                "could not release idempotency key %s", claim.id, exc_info=True
            )
        else:
            _UNRELEASED.discard(claim)


def _holder_lost(row: IdempotencyKey, lease: timedelta) -> bool:
    """Whether PostgreSQL restarted after the key was claimed: the request holding it was
    connected to the server that stopped, so it cannot finish (an outage ended it)."""
    if db.session.get_bind().dialect.name != "postgresql" or row.locked_until is None:
        return False
    started = db.session.scalar(sa.text("SELECT pg_postmaster_start_time()"))
    return started is not None and row.locked_until - lease < started


def _replay(row: IdempotencyKey) -> Response:
    response = Response(row.response_body or "", status=row.response_status)
    for name, value in (row.response_headers or {}).items():
        response.headers[name] = value
    response.headers[REPLAYED_HEADER] = "true"
    return response


def purge_expired() -> int:
    """Delete keys older than COPA_IDEMPOTENCY_TTL_DAYS (at least 7); returns how many."""
    days = max(7, settings().idempotency_ttl_days)
    with write():
        result = db.session.execute(
            sa.delete(IdempotencyKey).where(
                IdempotencyKey.created_at < utcnow() - timedelta(days=days)
            )
        )
    return result.rowcount
