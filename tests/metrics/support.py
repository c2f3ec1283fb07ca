"""Helpers of the metrics tests: arranging votes, reports, referrals, feedback and complaint
cases at chosen moments, through the ORM so the rollup listener counts them as it counts the
services' writes (the tests are about what the analyst then reads)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from copa.call_statistics.models import CallStatistics
from copa.catalog.models import Category
from copa.confidence.models import Vote
from copa.confidence.service import OPTIONS
from copa.db import db
from copa.feedback.models import Allegation, ComplaintCase, Feedback, ServiceRecoveryAction
from copa.periods import Quarter, today_london
from copa.reports.models import Report
from copa.routing.models import Partner, Referral
from copa.signposts.models import Signpost, SignpostClick
from copa.signposts.seed import ensure_seed_signposts, seed_click_throughs

MIDDLEHAVEN, MIDDLESBROUGH = "E05001497", "E06000002"  # a ward of Middlesbrough
VICTORIA, HARTLEPOOL = "E05008952", "E06000001"  # a ward of Hartlepool
PROBLEM_JSON = "application/problem+json"
VALUES = {option.key: option.value for option in OPTIONS}


def at(year: int, month: int, day: int, hour: int = 12) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


def add_votes(
    app,
    counts: Mapping[str, int],
    when: datetime,
    *,
    ward: str | None = MIDDLEHAVEN,
    authority: str = MIDDLESBROUGH,
) -> None:
    """Counted app votes for a ward (or, with ``ward=None``, for the authority as a whole).

    Votes with no device are distinct residents to the one-vote rule, so many fit one quarter.
    """
    quarter = Quarter.of(when)
    with app.app_context():
        for option, count in counts.items():
            for _ in range(count):
                db.session.add(
                    Vote(
                        option=option,
                        value=VALUES[option],
                        area_code=ward or authority,
                        ward_code=ward,
                        local_authority_code=authority,
                        fiscal_year=quarter.fiscal_year,
                        fiscal_quarter=quarter.quarter,
                        cast_at=when,
                        counted=True,
                    )
                )
        db.session.commit()


def category_id(code: str) -> uuid.UUID:
    return db.session.scalar(sa.select(Category.id).where(Category.code == code))


def partner(code: str) -> Partner:
    return db.session.scalar(sa.select(Partner).where(Partner.code == code))


def add_report(
    app,
    category: str,
    when: datetime,
    *,
    ward: str | None = MIDDLEHAVEN,
    authority: str | None = MIDDLESBROUGH,
    destination: str = "police",
    outcome: str | None = None,
    channel: str = "app",
    would_have_called_101: str | None = None,
) -> uuid.UUID:
    with app.app_context():
        report = Report(
            id=uuid.uuid4(),
            reference=f"T-{uuid.uuid4().hex[:12]}",
            channel=channel,
            category_id=category_id(category),
            description="Arranged by the test.",
            ward_code=ward,
            local_authority_code=authority,
            would_have_called_101=would_have_called_101,
            outcome=outcome,
            destination_kind=destination,
            destination_name=destination,
            created_at=when,
        )
        db.session.add(report)
        db.session.commit()
        return report.id


def add_referral(
    app,
    partner_code: str,
    sent_at: datetime,
    *,
    acknowledged_after: float | None = None,
    resolved_after: float | None = None,
) -> None:
    """A referral of a new report, acknowledged and resolved that many seconds after sending."""
    report_id = add_report(app, "fly_tipping", sent_at, destination="council")
    with app.app_context():
        db.session.add(
            Referral(
                report_id=report_id,
                partner_id=partner(partner_code).id,
                sent_at=sent_at,
                acknowledged_at=None
                if acknowledged_after is None
                else sent_at + timedelta(seconds=acknowledged_after),
                resolved_at=None
                if resolved_after is None
                else sent_at + timedelta(seconds=resolved_after),
            )
        )
        db.session.commit()


def add_feedback(
    app,
    kind: str,
    when: datetime,
    *,
    ward: str | None = MIDDLEHAVEN,
    authority: str | None = MIDDLESBROUGH,
    contacted_after: float | None = None,
    escalated: bool = False,
    service_recovery: bool = False,
    satisfaction: tuple[int, datetime] | None = None,
    allegations: tuple[str, ...] = (),
) -> None:
    """Feedback; a dissatisfaction comes with its complaint case, arranged as asked."""
    with app.app_context():
        feedback = Feedback(
            reference=f"F-{uuid.uuid4().hex[:12]}",
            kind=kind,
            text="Arranged by the test.",
            ward_code=ward,
            local_authority_code=authority,
            created_at=when,
        )
        db.session.add(feedback)
        if kind == "dissatisfaction":
            case = ComplaintCase(
                feedback=feedback,
                logged_at=when,
                first_contact_at=None
                if contacted_after is None
                else when + timedelta(seconds=contacted_after),
                escalated_at=when + timedelta(days=2) if escalated else None,
                satisfaction_score=satisfaction[0] if satisfaction else None,
                satisfaction_at=satisfaction[1] if satisfaction else None,
            )
            db.session.add(case)
            if service_recovery:  # as feedback.service.add_service_recovery_action does
                case.actions.append(ServiceRecoveryAction(kind="apology", at=when))
                case.first_action_at = when
            for group in allegations:
                case.allegations.append(Allegation(group=group, code="test", created_at=when))
        db.session.commit()


def add_call_statistics(
    app,
    fiscal_year: int,
    quarter: int,
    calls: int,
    within_2_minutes: float,
    wait: int,
    handling_seconds: int | None = None,
) -> None:
    with app.app_context():
        db.session.add(
            CallStatistics(
                fiscal_year=fiscal_year,
                fiscal_quarter=quarter,
                non_emergency_calls=calls,
                answered_within_2_minutes_percent=within_2_minutes,
                average_wait_seconds=wait,
                average_handling_seconds=handling_seconds,
            )
        )
        db.session.commit()


def get(client, headers, url: str, **params):
    return client.get(url, query_string=params, headers=headers)


def last_completed_quarter() -> Quarter:
    """The last quarter that has ended in Europe/London."""
    return Quarter.of(today_london()).previous()


def seed_clicks(app, quarter: Quarter, *, scale: float = 1.0) -> int:
    """The seed signposts (once) and the demo's click-throughs in ``quarter``."""
    with app.app_context():
        ensure_seed_signposts()
        return seed_click_throughs(quarter, scale=scale)


def add_clicks(app, code: str, count: int, when: datetime, *, authority: str = "") -> None:
    """``count`` click-throughs on the signpost ``code`` at ``when``, through the app."""
    with app.app_context():
        signpost = db.session.scalar(sa.select(Signpost).where(Signpost.code == code))
        for _ in range(count):
            db.session.add(
                SignpostClick(
                    signpost_id=signpost.id,
                    event_id=uuid.uuid4(),
                    clicked_at=when,
                    source="app",
                    topic=signpost.topic,
                    destination_kind=signpost.destination_kind,
                    local_authority_code=authority,
                )
            )
        db.session.commit()
