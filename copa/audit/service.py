"""The audit log: who did what to what, appended in the same transaction as the action.

Every staff, partner and admin action writes one ``AuditEvent`` through ``record()``; residents'
own submissions and the system's routing are not audited (the timeline records them).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from copa.audit.models import AuditEvent
from copa.db import db
from copa.web.access import Principal, Role


@dataclass(frozen=True)
class Actor:
    """Whoever causes a change: a resident, a staff member, a partner user or the system."""

    kind: str  # resident, staff, partner, system
    id: uuid.UUID | None = None
    roles: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def of(cls, principal: Principal) -> Actor:
        if principal.kind == "device":
            return cls("resident", principal.id, frozenset({Role.RESIDENT}))
        kind = "partner" if Role.PARTNER in principal.roles else "staff"
        return cls(kind, principal.id, frozenset(principal.roles))

    @property
    def audited(self) -> bool:
        return self.kind in ("staff", "partner")


SYSTEM = Actor("system")


def record(
    actor: Actor,
    action: str,
    target_kind: str,
    target_id: uuid.UUID | None,
    *,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
) -> AuditEvent | None:
    """Append an audit event for a staff or partner action (part of the caller's transaction);
    None for anyone else's."""
    if not actor.audited:
        return None
    event = AuditEvent(
        id=uuid.uuid4(),
        actor_kind=actor.kind,
        actor_id=actor.id,
        actor_roles=",".join(sorted(actor.roles)),
        action=action,
        target_kind=target_kind,
        target_id=target_id,
        before=_plain(before),
        after=_plain(after),
    )
    db.session.add(event)
    return event


def deactivate(actor: Actor, target_kind: str, target: Any) -> None:
    """Set ``target.active`` to False and record ``<target_kind>.deactivate`` with the value it
    had (part of the caller's transaction): how a partner, rule or signpost is switched off."""
    before = {"active": target.active}
    target.active = False
    record(
        actor,
        f"{target_kind}.deactivate",
        target_kind,
        target.id,
        before=before,
        after={"active": False},
    )


def trail(target_kind: str, target_id: uuid.UUID) -> list[AuditEvent]:
    """Every audit event about one thing, oldest first (its detail's audit trail)."""
    return list(
        db.session.scalars(
            sa.select(AuditEvent)
            .where(AuditEvent.target_kind == target_kind, AuditEvent.target_id == target_id)
            .order_by(AuditEvent.at, AuditEvent.id)
        )
    )


def _plain(values: Mapping[str, Any] | None) -> dict | None:
    """JSON-ready copy: UUIDs and datetimes as strings."""
    if values is None:
        return None
    return {key: _json_value(value) for key, value in values.items()}


def _json_value(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_json_value(v) for v in value]
    return value
