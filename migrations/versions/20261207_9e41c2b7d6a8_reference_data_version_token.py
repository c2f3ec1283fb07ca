"""reference data version tokens

Revision ID: 9e41c2b7d6a8
Revises: 7d3c1e5a9b20
Create Date: 2026-12-07 17:00:00

Each process caches reference data (categories, routing rules and partners, signposts, local
authorities and wards). Every change to one of those tables gives its row here a new random
token in the same transaction; a request reads the tokens once, and a cache holding other
tokens loads again (copa/refcache.py).
"""

import secrets

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "9e41c2b7d6a8"
down_revision = "7d3c1e5a9b20"
branch_labels = None
depends_on = None

WATCHED = ("category", "local_authority", "partner", "routing_rule", "signpost", "ward")


def upgrade():
    table = op.create_table(
        "reference_version",
        sa.Column("table_name", sa.String(length=64), nullable=False),
        sa.Column("token", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("table_name", name=op.f("pk_reference_version")),
    )
    op.bulk_insert(
        table, [{"table_name": name, "token": secrets.token_hex(16)} for name in WATCHED]
    )


def downgrade():
    op.drop_table("reference_version")
