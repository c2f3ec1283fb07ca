from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from copa.db import Timestamps, UUIDPrimaryKey, db, utcnow

# Models named in relationship() strings below, so the mappers can always be configured.
from copa.reports import models as _reports  # noqa: F401


class PartnerKind(StrEnum):
    COUNCIL = "council"
    HOUSING_PROVIDER = "housing_provider"
    HEALTH_AND_SOCIAL_CARE = "health_and_social_care"
    ENVIRONMENT_AGENCY = "environment_agency"
    POLICE = "police"  # the force control room
    OPCC = "opcc"


class Channel(StrEnum):
    """How referrals reach a partner."""

    WEBHOOK = "webhook"
    OPEN311 = "open311"
    EMAIL = "email"
    NONE = "none"  # the partner reads its referrals through the partner API only


class Partner(UUIDPrimaryKey, Timestamps, db.Model):
    """An organisation reports are sent to: a council, housing provider, the force, the OPCC."""

    __tablename__ = "partner"

    code: Mapped[str] = mapped_column(sa.String(64), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    kind: Mapped[str] = mapped_column(sa.String(32))
    # A council serves one local authority (the "council of the area" of DOMAIN.md).
    local_authority_code: Mapped[str | None] = mapped_column(
        sa.ForeignKey("local_authority.code"), index=True
    )
    active: Mapped[bool] = mapped_column(default=True)
    channel: Mapped[str] = mapped_column(sa.String(16), default=Channel.NONE)
    endpoint_url: Mapped[str | None] = mapped_column(sa.String(2000))
    # Standard Webhooks signing secrets (whsec_...): more than one while a secret is rotated,
    # and every one signs. Never returned by the API after creation.
    webhook_secrets: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    open311_api_key: Mapped[str | None] = mapped_column(sa.String(200))
    open311_jurisdiction_id: Mapped[str | None] = mapped_column(sa.String(200))
    open311_service_codes: Mapped[dict] = mapped_column(sa.JSON, default=dict)  # category -> code
    email_address: Mapped[str | None] = mapped_column(sa.String(254))
    # Set when the endpoint answered 410 Gone: deliveries stop until an admin re-enables it.
    endpoint_disabled_at: Mapped[datetime | None]


class RoutingRule(UUIDPrimaryKey, Timestamps, db.Model):
    """Category x area (x an answer to one extra question) -> the partner that must act.

    Precedence (routing.service.choose_rule): a rule whose answer condition matches beats one
    without, then ward beats local authority beats any area.
    """

    __tablename__ = "routing_rule"

    category_code: Mapped[str] = mapped_column(sa.String(64), index=True)
    area_level: Mapped[str] = mapped_column(sa.String(16))  # ward, local_authority, any
    area_code: Mapped[str | None] = mapped_column(sa.String(9))
    answer_code: Mapped[str | None] = mapped_column(sa.String(64))
    answer_value: Mapped[str | None] = mapped_column(sa.String(200))
    partner_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("partner.id"), index=True)
    active: Mapped[bool] = mapped_column(default=True)

    partner: Mapped[Partner] = relationship(lazy="joined")


class ReferralState(StrEnum):
    SENT = "sent"  # written with its outbox message; delivery under way
    DELIVERED = "delivered"
    ACKNOWLEDGED = "acknowledged"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    NOT_OUR_RESPONSIBILITY = "not_our_responsibility"
    WITHDRAWN = "withdrawn"  # superseded by a re-route


class Referral(UUIDPrimaryKey, Timestamps, db.Model):
    """A report sent to a partner: what the partner sees and answers through its API."""

    __tablename__ = "referral"

    report_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("report.id", ondelete="CASCADE"), index=True
    )
    partner_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("partner.id"), index=True)
    state: Mapped[str] = mapped_column(sa.String(24), default=ReferralState.SENT, index=True)
    external_reference: Mapped[str | None] = mapped_column(sa.String(200))
    delivered_at: Mapped[datetime | None]
    # active_history: the metrics rollups need the old value of a change (metrics/rollups.py).
    acknowledged_at: Mapped[datetime | None] = mapped_column(active_history=True)
    resolved_at: Mapped[datetime | None] = mapped_column(active_history=True)
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)

    partner: Mapped[Partner] = relationship(lazy="joined")
    report = relationship("Report")
