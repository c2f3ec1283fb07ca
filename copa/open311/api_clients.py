"""Open311 clients (admins): each with an API key (only its hash is stored), a jurisdiction and
what it may read; and who is calling: the key and jurisdiction of every request."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from copa.audit.service import Actor, record
from copa.db import db, write
from copa.open311.models import Open311Client
from copa.open311.service import BadRequest
from copa.web.access import Principal
from copa.web.pagination import PageResult, paginate
from copa.web.problems import Forbidden, NotFound, problem_type

_KEY_PREFIX = "copa311_"


class ApiKeyRefused(Forbidden):
    type = problem_type("open311-api-key")


class JurisdictionNotFound(NotFound):
    type = problem_type("open311-jurisdiction-not-found")


class ClientNotFound(NotFound):
    type = problem_type("open311-client-not-found")


# --- the clients (admins) ----------------------------------------------------------------


@dataclass(frozen=True)
class ClientWithKey:
    """A client and its api_key, in the one answer that shows the key."""

    client: Open311Client
    api_key: str

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)


def _new_key(client: Open311Client) -> str:
    api_key = _KEY_PREFIX + secrets.token_urlsafe(32)
    client.api_key_hash = key_hash(api_key)
    client.api_key_hint = api_key[-4:]
    return api_key


def key_hash(api_key: str) -> str:
    """What is stored of an api_key, and what finds its client."""
    return hashlib.sha256(api_key.encode()).hexdigest()


def create_client(principal: Principal | None, payload: Mapping[str, Any]) -> ClientWithKey:
    """Register an Open311 client; its api_key is in this answer only (only a hash is kept)."""
    with write():
        client = Open311Client(
            id=uuid.uuid4(),
            name=payload["name"],
            jurisdiction_id=payload["jurisdiction_id"],
            extended_statuses=payload.get("extended_statuses", False),
            status_without_key=payload.get("status_without_key", False),
            active=payload.get("active", True),
        )
        api_key = _new_key(client)
        db.session.add(client)
        _audit(principal, "open311_client.create", client, after=_summary(client))
    return ClientWithKey(client, api_key)


def list_clients(active: bool | None, page: int, page_size: int) -> PageResult:
    statement = sa.select(Open311Client).order_by(Open311Client.name, Open311Client.id)
    if active is not None:
        statement = statement.where(Open311Client.active.is_(active))
    return paginate(statement, page, page_size)


def get_client(client_id: uuid.UUID) -> Open311Client:
    client = db.session.get(Open311Client, client_id)
    if client is None:
        raise ClientNotFound("No such Open311 client.")
    return client


def update_client(
    principal: Principal, client_id: uuid.UUID, changes: Mapping[str, Any]
) -> Open311Client:
    """Rename, move to another jurisdiction, switch extended statuses, (de)activate."""
    with write():
        client = get_client(client_id)
        before = _summary(client)
        for name in _SETTINGS:
            if name in changes:
                setattr(client, name, changes[name])
        after = _summary(client)
        changed = [name for name in after if before[name] != after[name]]
        _audit(
            principal,
            "open311_client.update",
            client,
            before={name: before[name] for name in changed},
            after={name: after[name] for name in changed},
        )
    return client


def replace_api_key(principal: Principal, client_id: uuid.UUID) -> ClientWithKey:
    """A new api_key for the client (shown once); the old one stops working at once."""
    with write():
        client = get_client(client_id)
        before = {"api_key_hint": client.api_key_hint}
        api_key = _new_key(client)
        _audit(
            principal,
            "open311_client.replace_key",
            client,
            before=before,
            after={"api_key_hint": client.api_key_hint},
        )
    return ClientWithKey(client, api_key)


_SETTINGS = ("name", "jurisdiction_id", "extended_statuses", "status_without_key", "active")


def _summary(client: Open311Client) -> dict[str, Any]:
    return {name: getattr(client, name) for name in _SETTINGS}


def _audit(principal: Principal | None, action: str, client: Open311Client, **change: Any) -> None:
    if principal is not None:
        record(Actor.of(principal), action, "open311_client", client.id, **change)


# --- who is calling ------------------------------------------------------------------------


def authenticate(api_key: str | None) -> Open311Client:
    """The active client holding this api_key; Open311's 403 otherwise."""
    if not api_key:
        raise ApiKeyRefused("api_key was not provided.")
    client = None
    if len(api_key) <= 200:
        client = db.session.scalar(
            sa.select(Open311Client).where(Open311Client.api_key_hash == key_hash(api_key))
        )
    if client is None or not client.active:
        raise ApiKeyRefused("Invalid api_key received: it is unknown or no longer active.")
    return client


def check_jurisdiction(given: str | None, client: Open311Client | None = None) -> None:
    """The standard's rule: jurisdiction_id is required only when more than one is served;
    when given it must be one served (for a client: its own)."""
    served = set(
        db.session.scalars(
            sa.select(Open311Client.jurisdiction_id).where(Open311Client.active.is_(True))
        )
    )
    if given:
        known = {client.jurisdiction_id} if client is not None else served
        if given not in known:
            raise JurisdictionNotFound(f"jurisdiction_id {given!r} was not found.")
    elif len(served) > 1:
        raise BadRequest(
            "jurisdiction_id was not provided: this endpoint serves more than one jurisdiction.",
            errors={"jurisdiction_id": ["Required: this endpoint serves more than one."]},
        )
