from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, validates

from copa.contacts.phones import E164, shown
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
    phone: Mapped[str | None] = mapped_column(E164(32))  # E.164, also for older rows
    # The resident agreed to hear about this submission by email (and can unsubscribe).
    notify_by_email: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

    @validates("phone")
    def _phone_in_e164(self, key: str, value: str | None) -> str | None:
        # What a view shows is E.164 even before the row is written and read back.
        return shown(value)
