"""Two staff decisions on one report at the same moment apply one after the other."""

from __future__ import annotations

import threading
import uuid

import sqlalchemy as sa

from copa.auth.models import User
from copa.catalog.models import Category
from copa.catalog.service import ensure_seed_categories
from copa.db import db, write
from copa.references import next_reference
from copa.reports.models import Report, ReportStatus, TimelineEntry
from copa.review import service
from copa.routing.models import Partner, Referral
from copa.routing.service import UNROUTED_KIND, UNROUTED_NAME
from copa.web.access import Principal


def _arrange(app) -> tuple[uuid.UUID, list[uuid.UUID], Principal]:
    with app.app_context():
        ensure_seed_categories()
        with write():
            partners = [
                Partner(code=f"council-{n}", name=f"Council {n}", kind="council") for n in (1, 2)
            ]
            reviewer = User(
                email="reviewer@opcc.example",
                display_name="R",
                password_hash="x",
                roles=["reviewer"],
            )
            report = Report(
                id=uuid.uuid4(),
                reference=next_reference(),
                category=db.session.scalar(sa.select(Category).where(Category.code == "asb")),
                description="Fireworks thrown at passing cars.",
                status=ReportStatus.RECEIVED,
                unrouted=True,
                destination_kind=UNROUTED_KIND,
                destination_name=UNROUTED_NAME,
            )
            db.session.add_all([*partners, reviewer, report])
        principal = Principal("user", reviewer.id, frozenset({"reviewer"}), uuid.uuid4())
        return report.id, [p.id for p in partners], principal


def test_two_reviewers_routing_one_report_at_once_leave_one_open_referral(tmp_path):
    from flask_migrate import upgrade

    from copa import create_app
    from tests.conftest import TEST_SETTINGS
    from tests.factories import scratch_database

    with scratch_database(tmp_path, "transitions") as url:
        app = create_app({**TEST_SETTINGS, "DATABASE_URL": url})
        with app.app_context():
            upgrade()
        try:
            report_id, partner_ids, principal = _arrange(app)
            barrier = threading.Barrier(2)
            errors: list[BaseException] = []

            def route_to(partner_id: uuid.UUID) -> None:
                with app.app_context():
                    try:
                        barrier.wait(timeout=10)
                        service.transition_report(
                            principal, report_id, {"to": "routed", "partner_id": partner_id}
                        )
                    except BaseException as error:  # noqa: BLE001 - reported below
                        errors.append(error)
                    finally:
                        db.session.remove()

            threads = [threading.Thread(target=route_to, args=(p,)) for p in partner_ids]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=60)

            assert errors == []
            with app.app_context():
                states = db.session.scalars(
                    sa.select(Referral.state).where(Referral.report_id == report_id)
                ).all()
                moves = db.session.execute(
                    sa.select(TimelineEntry.from_status, TimelineEntry.to_status)
                    .where(TimelineEntry.report_id == report_id)
                    .order_by(TimelineEntry.at)
                ).all()
            # The second decision saw the first: a re-route, which withdrew the first referral.
            assert sorted(states) == ["sent", "withdrawn"]
            assert [tuple(m) for m in moves] == [("received", "routed"), ("routed", "routed")]
        finally:
            with app.app_context():
                db.session.remove()
                db.engine.dispose()
