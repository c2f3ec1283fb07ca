"""references from a sequence per year on PostgreSQL

Revision ID: 7d3c1e5a9b20
Revises: 56822e8990bf
Create Date: 2026-12-07 14:30:00

A report's reference came from an upsert of its year's row in reference_counter, inside the
report's transaction: every report locked that one row until its commit, so submissions queued
behind each other. On PostgreSQL the number now comes from a sequence per year
(copa_reference_<year>), which hands out numbers without a lock held until commit: still unique
and never reused, but a submission that rolls back leaves a gap. copa_next_reference(year)
creates the year's sequence when its first report arrives (under an advisory lock, starting
after the year's last number in reference_counter, so numbers already given out are never
given again). SQLite keeps the counter row: it allows one writer at a time anyway.
"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "7d3c1e5a9b20"
down_revision = "56822e8990bf"
branch_labels = None
depends_on = None

# 1129271361 (0x434F5041) is "COPA": the advisory lock's first key, the year its second.
NEXT_REFERENCE = """
CREATE FUNCTION copa_next_reference(for_year integer) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    name text := 'copa_reference_' || for_year;
BEGIN
    IF to_regclass(name) IS NULL THEN
        PERFORM pg_advisory_xact_lock(1129271361, for_year);
        EXECUTE format(
            'CREATE SEQUENCE IF NOT EXISTS %I START WITH %s', name,
            coalesce((SELECT last FROM reference_counter WHERE year = for_year), 0) + 1
        );
    END IF;
    RETURN nextval(name::regclass);
END
$$
"""


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(NEXT_REFERENCE)


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    # Back to the counter rows: each year's last number given out, then no sequences.
    op.execute(
        """
        DO $$
        DECLARE
            sequence record;
            given bigint;
        BEGIN
            FOR sequence IN
                SELECT c.relname, substring(c.relname FROM 16)::integer AS year
                FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE c.relkind = 'S' AND n.nspname = current_schema()
                  AND c.relname ~ '^copa_reference_[0-9]+$'
            LOOP
                EXECUTE format('SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END FROM %I', sequence.relname) INTO given;
                INSERT INTO reference_counter (year, last) VALUES (sequence.year, given)
                ON CONFLICT (year) DO UPDATE SET last = greatest(reference_counter.last, excluded.last);
                EXECUTE format('DROP SEQUENCE %I', sequence.relname);
            END LOOP;
        END
        $$
        """
    )
    op.execute("DROP FUNCTION copa_next_reference(integer)")
