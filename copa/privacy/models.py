from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from copa.db import UUIDPrimaryKey, db, utcnow


class Contact(UUIDPrimaryKey, db.Model):
    """Contact details a resident chose to give with one submission.

    Kept in their own table, never copied into a submission, so erasure and the retention purge
    remove them in one place and the submission stays, anonymised, for the public task.
    """

    __tablename__ = "contact"

    device_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("device.id", ondelete="SET NULL"), index=True
    )
    name: Mapped[str | None] = mapped_column(sa.String(120))
    email: Mapped[str | None] = mapped_column(sa.String(254))
    phone: Mapped[str | None] = mapped_column(sa.String(32))
    # The resident agreed to hear about this submission by email (and can unsubscribe).
    notify_by_email: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
