"""service targets

Revision ID: 5c2d6eee4688
Revises: 6f7d6bb59aeb
Create Date: 2026-12-07 23:05:00

Targets set by admins (copa/targets): hours to the first action on a report (per category, or
scope "*" for every other category), to complaint first contact, and to a partner's
acknowledgement of a referral. No rows: the built-in defaults apply.
"""

import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = "5c2d6eee4688"
down_revision = "6f7d6bb59aeb"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "service_target",
        sa.Column("measure", sa.String(length=32), nullable=False),
        sa.Column("scope", sa.String(length=64), nullable=False),
        sa.Column("hours", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by_id", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["updated_by_id"],
            ["user_account.id"],
            name=op.f("fk_service_target_updated_by_id_user_account"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("measure", "scope", name=op.f("pk_service_target")),
    )


def downgrade():
    op.drop_table("service_target")
