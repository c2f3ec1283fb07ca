"""The revision that made routing record an outcome backfills the reports routed before it, and
moves their counts in the rollups with them: `flask copa reconcile` finds nothing afterwards."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from copa.db import db
from copa.metrics.models import ReportRollup
from copa.metrics.reconcile import reconcile, repair
from tests.factories import bearer, load_reference_data, register_device
from tests.review.support import submit
from tests.test_migrations import fresh_app, throwaway_database  # noqa: F401  (fixtures)

BEFORE = "d50d24695c0c"  # the revision before outcomes were recorded at routing


def test_reports_routed_before_the_upgrade_get_their_outcome_and_the_rollups_follow(
    fresh_app,  # noqa: F811
):
    with fresh_app.app_context():
        upgrade()
    load_reference_data(fresh_app)
    client = fresh_app.test_client()
    resident = bearer(register_device(client)["access_token"])
    submitted = {
        "police": submit(client, resident),
        "council": submit(client, resident, category="graffiti", answers={"offensive": "no"}),
        "question": submit(client, resident, category="question"),
        "resolved": submit(client, resident, description="Motorbikes on the field again"),
        "pulled_back": submit(client, resident, description="Shouting at the shops"),
        "decided": submit(client, resident, description="Fireworks in the alley"),
    }
    ids = {name: uuid.UUID(report["id"]) for name, report in submitted.items()}

    with fresh_app.app_context():
        # As the old code left them: no outcome at routing; one resolved by its partner, one
        # sent back by its partner, one decided by staff; and rollups that counted them so.
        db.session.execute(sa.update(sa.table("report", sa.column("outcome"))).values(outcome=None))
        _set(ids["resolved"], status="resolved")
        _set_referral(ids["resolved"], "resolved")
        _set(ids["pulled_back"], status="received")
        _set_referral(ids["pulled_back"], "not_our_responsibility")
        _set(ids["decided"], status="closed", outcome="no_further_action")
        db.session.commit()
        repair()
        assert _rollup_outcomes() == {"": 5, "no_further_action": 1}
        db.session.close()  # no snapshot held across the migrations

        downgrade(revision=BEFORE)
        upgrade()

        report = sa.table("report", sa.column("id", sa.Uuid()), sa.column("outcome"))
        outcomes = dict(db.session.execute(sa.select(report.c.id, report.c.outcome)).all())
        found = {name: outcomes[report_id] for name, report_id in ids.items()}
        assert found == {
            "police": "passed_to_force_control_room",
            "council": "referred_to_partner",
            "question": "with_opcc",
            "resolved": "resolved_by_partner",
            "pulled_back": None,  # back with staff, undecided
            "decided": "no_further_action",
        }
        assert _rollup_outcomes() == {
            "passed_to_force_control_room": 1,
            "referred_to_partner": 1,
            "with_opcc": 1,
            "resolved_by_partner": 1,
            "": 1,
            "no_further_action": 1,
        }
        assert reconcile().mismatches == []


def _set(report_id: uuid.UUID, **values) -> None:
    report = sa.table("report", sa.column("id", sa.Uuid()), *(sa.column(n) for n in values))
    db.session.execute(sa.update(report).where(report.c.id == report_id).values(**values))


def _set_referral(report_id: uuid.UUID, state: str) -> None:
    referral = sa.table("referral", sa.column("report_id", sa.Uuid()), sa.column("state"))
    db.session.execute(
        sa.update(referral).where(referral.c.report_id == report_id).values(state=state)
    )


def _rollup_outcomes() -> dict[str, int]:
    rows = db.session.execute(
        sa.select(ReportRollup.outcome, sa.func.sum(ReportRollup.count))
        .group_by(ReportRollup.outcome)
        .having(sa.func.sum(ReportRollup.count) != 0)
    )
    return {outcome: int(count) for outcome, count in rows}
