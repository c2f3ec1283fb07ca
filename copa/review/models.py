from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

# Models named in foreign keys below, so the tables are always known to the metadata.
from copa.auth import models as _auth  # noqa: F401
from copa.db import UUIDPrimaryKey, db, utcnow
from copa.feedback import models as _feedback  # noqa: F401
from copa.reports import models as _reports  # noqa: F401


class InternalNote(UUIDPrimaryKey, db.Model):
    """A note staff keep on a report or a complaint case; never shown outside the OPCC."""

    __tablename__ = "internal_note"
    __table_args__ = (
        sa.CheckConstraint("(report_id IS NULL) <> (complaint_case_id IS NULL)", name="one_target"),
    )

    report_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("report.id", ondelete="CASCADE"), index=True
    )
    complaint_case_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("complaint_case.id", ondelete="CASCADE"), index=True
    )
    author_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("user_account.id"))
    text: Mapped[str] = mapped_column(sa.Text)
    at: Mapped[datetime] = mapped_column(default=utcnow)
