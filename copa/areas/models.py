from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from copa.db import db, utcnow


class LocalAuthority(db.Model):
    """A unitary authority, which is also a Local Policing Area (e.g. Middlesbrough, E06000002)."""

    __tablename__ = "local_authority"

    code: Mapped[str] = mapped_column(sa.String(9), primary_key=True)  # ONS GSS code
    name: Mapped[str] = mapped_column(sa.String(120))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    wards: Mapped[list[Ward]] = relationship(back_populates="local_authority", order_by="Ward.name")


class Ward(db.Model):
    """An electoral ward, with its boundary as GeoJSON geometry (WGS84 lon/lat)."""

    __tablename__ = "ward"

    code: Mapped[str] = mapped_column(sa.String(9), primary_key=True)  # ONS GSS code
    name: Mapped[str] = mapped_column(sa.String(120))
    local_authority_code: Mapped[str] = mapped_column(
        sa.ForeignKey("local_authority.code"), index=True
    )
    # GeoJSON geometry object, as text; deferred: only the lookup index reads it.
    geometry: Mapped[str] = mapped_column(sa.Text, deferred=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow, index=True)

    local_authority: Mapped[LocalAuthority] = relationship(back_populates="wards")
