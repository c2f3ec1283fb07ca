from __future__ import annotations

from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from copa.db import Timestamps, UUIDPrimaryKey, db


class PartnerKind(StrEnum):
    COUNCIL = "council"
    HOUSING_PROVIDER = "housing_provider"
    HEALTH_AND_SOCIAL_CARE = "health_and_social_care"
    ENVIRONMENT_AGENCY = "environment_agency"
    POLICE = "police"
    OPCC = "opcc"


class Partner(UUIDPrimaryKey, Timestamps, db.Model):
    """An organisation reports can be sent to: a council, housing provider, the force, the OPCC."""

    __tablename__ = "partner"

    code: Mapped[str] = mapped_column(sa.String(64), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    kind: Mapped[str] = mapped_column(sa.String(32))
    # A council serves one local authority (the "council of the area" of DOMAIN.md).
    local_authority_code: Mapped[str | None] = mapped_column(
        sa.ForeignKey("local_authority.code"), index=True
    )
    active: Mapped[bool] = mapped_column(default=True)
