"""one counted vote per resident per quarter, whatever area it names

Revision ID: 642a76be873c
Revises: 655ce44c5113
Create Date: 2026-12-07 03:53:46.783959

The rule was one counted vote per resident, area and quarter; a resident who voted for a ward
and for its local authority was counted twice in the authority's figures and the force's. Now
one vote per resident and quarter counts, whatever area it names.

Upgrade: for each resident (device) and quarter only the latest vote stays counted; the others
are kept, uncounted, with ``replaced_at`` set to the latest one's ``cast_at`` (as if it had
replaced them). Then the app channel of ``rollup_confidence`` is rebuilt from the counted votes,
so ``flask copa reconcile`` agrees. Votes whose device was erased (``device_id`` NULL) cannot be
told apart and stay as they are (the index treats each as a different resident, as before).

Downgrade: the old, looser index comes back. Votes stay as they are (every state the new rule
allows satisfies the old index), and so do the rollups, which still match them.

Self-contained: it reads and writes plain tables, not the application's models, which change
with later revisions.
"""

from collections import defaultdict
from datetime import UTC
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "642a76be873c"
down_revision = "655ce44c5113"
branch_labels = None
depends_on = None

OLD_INDEX = "uq_vote_counted_per_resident_area_quarter"
NEW_INDEX = "uq_vote_counted_per_resident_quarter"
LONDON = ZoneInfo("Europe/London")
_BATCH = 10_000

vote = sa.table(
    "vote",
    sa.column("id", sa.Uuid()),
    sa.column("device_id", sa.Uuid()),
    sa.column("option", sa.String()),
    sa.column("area_code", sa.String()),
    sa.column("ward_code", sa.String()),
    sa.column("local_authority_code", sa.String()),
    sa.column("fiscal_year", sa.Integer()),
    sa.column("fiscal_quarter", sa.Integer()),
    sa.column("cast_at", sa.DateTime(timezone=True)),
    sa.column("counted", sa.Boolean()),
    sa.column("replaced_at", sa.DateTime(timezone=True)),
)
rollup = sa.table(
    "rollup_confidence",
    sa.column("month", sa.Date()),
    sa.column("area_code", sa.String()),
    sa.column("channel", sa.String()),
    sa.column("option", sa.String()),
    sa.column("ward_code", sa.String()),
    sa.column("local_authority_code", sa.String()),
    sa.column("fiscal_year", sa.Integer()),
    sa.column("fiscal_quarter", sa.Integer()),
    sa.column("count", sa.BigInteger()),
)


def upgrade():
    with op.batch_alter_table("vote", schema=None) as batch_op:
        batch_op.drop_index(
            OLD_INDEX, sqlite_where=sa.text("counted"), postgresql_where=sa.text("counted")
        )
    connection = op.get_bind()
    _keep_the_latest_vote_counted(connection)
    _rebuild_app_rollup(connection)
    with op.batch_alter_table("vote", schema=None) as batch_op:
        batch_op.create_index(
            NEW_INDEX,
            ["device_id", "fiscal_year", "fiscal_quarter"],
            unique=True,
            sqlite_where=sa.text("counted"),
            postgresql_where=sa.text("counted"),
        )


def downgrade():
    with op.batch_alter_table("vote", schema=None) as batch_op:
        batch_op.drop_index(
            NEW_INDEX, sqlite_where=sa.text("counted"), postgresql_where=sa.text("counted")
        )
        batch_op.create_index(
            OLD_INDEX,
            ["device_id", "area_code", "fiscal_year", "fiscal_quarter"],
            unique=True,
            sqlite_where=sa.text("counted"),
            postgresql_where=sa.text("counted"),
        )


def _keep_the_latest_vote_counted(connection: sa.Connection) -> None:
    """Uncount every counted vote but the latest of its resident and quarter."""
    key = (vote.c.device_id, vote.c.fiscal_year, vote.c.fiscal_quarter)
    crowded = (
        sa.select(*key)
        .where(vote.c.counted.is_(True), vote.c.device_id.is_not(None))
        .group_by(*key)
        .having(sa.func.count() > 1)
        .subquery()
    )
    rows = connection.execute(
        sa.select(vote.c.id, *key, vote.c.cast_at)
        .join(
            crowded,
            sa.and_(
                vote.c.device_id == crowded.c.device_id,
                vote.c.fiscal_year == crowded.c.fiscal_year,
                vote.c.fiscal_quarter == crowded.c.fiscal_quarter,
            ),
        )
        .where(vote.c.counted.is_(True))
        # The latest first; the id breaks a tie the same way on every run and database.
        .order_by(*key, vote.c.cast_at.desc(), vote.c.id.desc())
    ).all()
    replaced: list[dict] = []
    latest: dict[tuple, object] = {}
    for vote_id, device_id, fiscal_year, fiscal_quarter, cast_at in rows:
        group = (device_id, fiscal_year, fiscal_quarter)
        if group not in latest:
            latest[group] = cast_at  # stays counted
            continue
        replaced.append({"vote_id": vote_id, "replaced_at": latest[group]})
    statement = (
        sa.update(vote)
        .where(vote.c.id == sa.bindparam("vote_id"))
        .values(counted=False, replaced_at=sa.bindparam("replaced_at"))
    )
    for start in range(0, len(replaced), _BATCH):
        connection.execute(statement, replaced[start : start + _BATCH])


def _rebuild_app_rollup(connection: sa.Connection) -> None:
    """Recount the app channel of ``rollup_confidence`` from the counted votes (the way
    ``copa.metrics.rollups`` counts them: per Europe/London month, area and option)."""
    counts: dict[tuple, int] = defaultdict(int)
    extras: dict[tuple, tuple] = {}
    votes = connection.execute(
        sa.select(
            vote.c.cast_at,
            vote.c.area_code,
            vote.c.ward_code,
            vote.c.local_authority_code,
            vote.c.option,
        )
        .where(vote.c.counted.is_(True))
        .execution_options(yield_per=_BATCH)
    )
    for cast_at, area_code, ward_code, local_authority_code, option in votes:
        moment = cast_at if cast_at.tzinfo else cast_at.replace(tzinfo=UTC)  # SQLite: naive UTC
        month = moment.astimezone(LONDON).date().replace(day=1)
        key = (month, area_code, option)
        counts[key] += 1
        extras[key] = (ward_code or "", local_authority_code)
    connection.execute(sa.delete(rollup).where(rollup.c.channel == "app"))
    rows = []
    for (month, area_code, option), count in sorted(counts.items()):
        ward_code, local_authority_code = extras[(month, area_code, option)]
        rows.append(
            {
                "month": month,
                "area_code": area_code,
                "channel": "app",
                "option": option,
                "ward_code": ward_code,
                "local_authority_code": local_authority_code,
                "fiscal_year": month.year if month.month >= 4 else month.year - 1,
                "fiscal_quarter": (month.month - 4) % 12 // 3 + 1,
                "count": count,
            }
        )
    for start in range(0, len(rows), _BATCH):
        connection.execute(sa.insert(rollup), rows[start : start + _BATCH])
