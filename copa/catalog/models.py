from __future__ import annotations

from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from copa.db import Timestamps, UUIDPrimaryKey, db


class CategoryGroup(StrEnum):
    POLICING = "policing"
    OPCC = "opcc"
    NON_POLICING = "non_policing"


class DefaultDestination(StrEnum):
    """Who acts on a category's reports unless a routing rule says otherwise."""

    FORCE_CONTROL_ROOM = "force_control_room"
    OPCC = "opcc"
    COUNCIL = "council"  # the council of the area the report is in
    LANDLORD = "landlord"
    HEALTH_AND_SOCIAL_CARE = "health_and_social_care"


class Category(UUIDPrimaryKey, Timestamps, db.Model):
    """A kind of report a resident can make (its code is also the Open311 service_code)."""

    __tablename__ = "category"

    code: Mapped[str] = mapped_column(sa.String(64), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    group: Mapped[str] = mapped_column(sa.String(16))
    default_destination: Mapped[str] = mapped_column(sa.String(32))
    keywords: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    # Extra questions in Open311 attribute form: code, datatype, required, description,
    # order, values [{key, name}].
    attributes: Mapped[list[dict]] = mapped_column(sa.JSON, default=list)
    location_required: Mapped[bool] = mapped_column(default=True)
    active: Mapped[bool] = mapped_column(default=True)
    sort_order: Mapped[int] = mapped_column(default=0)
