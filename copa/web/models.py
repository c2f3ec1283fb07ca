from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from copa.db import UUIDPrimaryKey, db, utcnow


class IdempotencyKey(UUIDPrimaryKey, db.Model):
    """A client's Idempotency-Key and the response it got (IETF draft, Stripe's semantics)."""

    __tablename__ = "idempotency_key"
    __table_args__ = (sa.UniqueConstraint("principal", "key"),)

    principal: Mapped[str] = mapped_column(sa.String(80))
    key: Mapped[str] = mapped_column(sa.String(255))
    request_hash: Mapped[str] = mapped_column(sa.String(64))
    method: Mapped[str] = mapped_column(sa.String(8))
    path: Mapped[str] = mapped_column(sa.String(512))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    # While a request holds the key: who (a fencing token) and until when.
    lock_token: Mapped[uuid.UUID | None]
    locked_until: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    response_status: Mapped[int | None]
    response_body: Mapped[str | None] = mapped_column(sa.Text)
    response_headers: Mapped[dict | None] = mapped_column(sa.JSON)
