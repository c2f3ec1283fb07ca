"""reports keep the questions they were asked

Revision ID: 6f7d6bb59aeb
Revises: 9e41c2b7d6a8
Create Date: 2026-12-07 20:30:46.612478

Admins can now change a category's extra questions; a report keeps a copy of the questions (text
and choices) its resident was asked, so that a later change rewrites no past report. Reports
made before this get their category's questions as they stand now: the closest to what was asked.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "6f7d6bb59aeb"
down_revision = "9e41c2b7d6a8"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("report", schema=None) as batch_op:
        batch_op.add_column(sa.Column("questions_asked", sa.JSON(), nullable=True))
    op.execute(
        "UPDATE report SET questions_asked = "
        "(SELECT category.attributes FROM category WHERE category.id = report.category_id)"
    )


def downgrade():
    with op.batch_alter_table("report", schema=None) as batch_op:
        batch_op.drop_column("questions_asked")
