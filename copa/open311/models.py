from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from copa.db import Timestamps, UUIDPrimaryKey, db, utcnow
from copa.reports import models as _reports  # noqa: F401 - Report, named in relationship()


class Open311Client(UUIDPrimaryKey, Timestamps, db.Model):
    """A civic reporting system (FixMyStreet, a council's app...) allowed to submit reports.

    Its api_key is shown once, when made; only its SHA-256 is kept (the key is 256 random bits,
    so a fast hash is enough and lets a request find its client by one index lookup).
    """

    __tablename__ = "open311_client"

    name: Mapped[str] = mapped_column(sa.String(200))
    jurisdiction_id: Mapped[str] = mapped_column(sa.String(200))
    api_key_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    api_key_hint: Mapped[str] = mapped_column(sa.String(16))  # its last characters, for admins
    # mySociety's extended statuses (IN_PROGRESS, FIXED...) instead of plain open/closed.
    extended_statuses: Mapped[bool] = mapped_column(default=False)
    # The standard lets anyone read a request's status without a key, and FixMyStreet polls so.
    # Off by default: when on, whoever knows one of this client's service_request_ids (or
    # tokens) may read its status, never its description, location or media.
    status_without_key: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)


class Open311Request(db.Model):
    """How a report came in through Open311: which client, its token, and what the client
    sent that is not part of a report (its media URL, device and account ids)."""

    __tablename__ = "open311_request"
    __table_args__ = (
        # A client's retry of the same POST finds the report it already made.
        sa.UniqueConstraint("client_id", "fingerprint"),
        sa.Index("ix_open311_request_client_created", "client_id", "created_at"),
    )

    report_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("report.id", ondelete="CASCADE"), primary_key=True
    )
    client_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("open311_client.id"))
    token: Mapped[str] = mapped_column(sa.String(32), unique=True)
    fingerprint: Mapped[str] = mapped_column(sa.String(64))
    media_url: Mapped[str | None] = mapped_column(sa.String(2000))
    device_id: Mapped[str | None] = mapped_column(sa.String(200))
    account_id: Mapped[str | None] = mapped_column(sa.String(200))
    address_id: Mapped[str | None] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)  # the report's, for the index

    report = relationship("Report", lazy="joined", innerjoin=True)
    client = relationship("Open311Client")
