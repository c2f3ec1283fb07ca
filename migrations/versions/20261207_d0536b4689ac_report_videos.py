"""report videos

Revision ID: d0536b4689ac
Revises: 5c2d6eee4688
Create Date: 2026-12-07 23:07:42.859297

Residents can attach videos from their phones. Each row is also the media worker's job: the
quarantined original waits as ``processing`` until a worker (holding a lease) re-encodes it
with no metadata, then it is ``ready`` (or ``failed`` with a reason word).
"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "d0536b4689ac"
down_revision = "5c2d6eee4688"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "report_video",
        sa.Column("report_id", sa.Uuid(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("failure_reason", sa.String(length=32), nullable=True),
        sa.Column("quarantine_key", sa.String(length=200), nullable=True),
        sa.Column("storage_key", sa.String(length=200), nullable=True),
        sa.Column("poster_key", sa.String(length=200), nullable=True),
        sa.Column("content_type", sa.String(length=32), nullable=True),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("duration_seconds", sa.Double(), nullable=True),
        sa.Column("size_bytes", sa.Integer(), nullable=True),
        sa.Column("upload_bytes", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ready_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["report.id"],
            name=op.f("fk_report_video_report_id_report"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_video")),
        sa.UniqueConstraint("poster_key", name=op.f("uq_report_video_poster_key")),
        sa.UniqueConstraint("quarantine_key", name=op.f("uq_report_video_quarantine_key")),
        sa.UniqueConstraint("storage_key", name=op.f("uq_report_video_storage_key")),
    )
    with op.batch_alter_table("report_video", schema=None) as batch_op:
        batch_op.create_index("ix_report_video_due", ["state", "lease_until"], unique=False)
        batch_op.create_index(batch_op.f("ix_report_video_report_id"), ["report_id"], unique=False)


def downgrade():
    with op.batch_alter_table("report_video", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_report_video_report_id"))
        batch_op.drop_index("ix_report_video_due")

    op.drop_table("report_video")
