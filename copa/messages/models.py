from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

# Models named in foreign keys below, so the tables can always be sorted.
from copa.auth import models as _auth  # noqa: F401
from copa.db import UUIDPrimaryKey, db, utcnow
from copa.feedback import models as _feedback  # noqa: F401
from copa.reports import models as _reports  # noqa: F401


class MessageDirection(StrEnum):
    TO_RESIDENT = "to_resident"  # staff ask or tell the resident
    FROM_RESIDENT = "from_resident"  # the resident answers or adds information


class ResidentMessage(UUIDPrimaryKey, db.Model):
    """A two-way message on a report or a complaint case (through its feedback).

    Never shown to a partner unless staff pass it on (``passed_to_partner_at``); a resident's
    own messages are erased with their personal data.
    """

    __tablename__ = "resident_message"
    __table_args__ = (
        sa.CheckConstraint("(report_id IS NULL) <> (feedback_id IS NULL)", name="one_submission"),
    )

    report_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("report.id", ondelete="CASCADE"), index=True
    )
    feedback_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("feedback.id", ondelete="CASCADE"), index=True
    )
    direction: Mapped[str] = mapped_column(sa.String(16))
    # information_request (staff asks), reply (resident answers one), information (resident
    # adds to their open report), message (staff tell the resident something)
    kind: Mapped[str] = mapped_column(sa.String(24))
    text: Mapped[str] = mapped_column(sa.Text)
    author_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("user_account.id", ondelete="SET NULL")
    )
    device_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("device.id", ondelete="SET NULL"), index=True
    )
    in_reply_to_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("resident_message.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    passed_to_partner_at: Mapped[datetime | None]

    # Staff see who wrote a message (None for the resident's own, or once the account is gone).
    author = relationship("User", lazy="selectin", viewonly=True)
