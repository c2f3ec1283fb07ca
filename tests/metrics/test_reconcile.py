"""The rollups are kept in the same transaction as the rows they count, and ``flask copa
reconcile`` proves it: after thousands of random submissions, decisions, partner updates and
votes, recomputing every rollup from the raw rows finds nothing different."""

from __future__ import annotations

import random
import re
import uuid

import pytest
import sqlalchemy as sa

from copa.db import db
from copa.extensions import limiter
from copa.feedback.models import ComplaintCase
from copa.metrics.models import (
    ComplaintRollup,
    ConfidenceRollup,
    ReportRollup,
    SatisfactionRollup,
)
from copa.reports.models import Report
from copa.routing.models import Partner, Referral
from tests.factories import UserFactory, bearer, load_reference_data, register_device, user_tokens
from tests.review.support import MIDDLEHAVEN, MIDDLEHAVEN_WARD, VICTORIA, staff_user, submit

OPTIONS = [
    "not_at_all_confident",
    "not_very_confident",
    "neither",
    "quite_confident",
    "very_confident",
]
# Categories without a required extra question; fly-tipping and tenants' ASB carry their answer.
SIMPLE = [
    "asb",
    "vehicle_asb",
    "drugs",
    "suspicious",
    "speeding",
    "question",
    "noise",
    "street_lighting",
    "highways",
    "graffiti",
    "dog_fouling",
    "welfare_concern",
]
EXTRA = {
    "fly_tipping": {"size": ["small", "large"]},
    "housing_asb": {"landlord": ["thirteen", "habinteg"]},
}
PLACES = [MIDDLEHAVEN, VICTORIA, {"lat": 54.5700, "lon": -1.3200}, {"lat": 54.6100, "lon": -1.0700}]
VOTE_AREAS = [MIDDLEHAVEN_WARD, "E06000001", "E06000003", "E06000004"]
REPORT_OUTCOMES = [
    "resolved_by_opcc",
    "signposted",
    "no_further_action",
    "passed_to_force_control_room",
]
GROUPS = [
    "delivery_of_duties_and_services",
    "police_powers_policies_and_procedures",
    "individual_behaviour",
    "other",
]


@pytest.fixture
def cleveland(app):
    load_reference_data(app)


def run_reconcile(app) -> tuple[int, str]:
    result = app.test_cli_runner().invoke(args=["copa", "reconcile"])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def rollup_count(app, model, **where) -> int:
    with app.app_context():
        statement = sa.select(sa.func.coalesce(sa.func.sum(model.count), 0)).where(
            *(getattr(model, name) == value for name, value in where.items())
        )
        return int(db.session.scalar(statement))


def test_a_decision_moves_the_report_to_its_outcome_in_the_rollup(app, client, cleveland):
    resident = bearer(register_device(client)["access_token"])
    reviewer = staff_user(app, client, "reviewer")
    report = submit(client, resident, category="question", would_have_called_101="yes")
    # Routed to the OPCC as it was submitted: provisionally with them.
    assert rollup_count(app, ReportRollup, outcome="with_opcc") == 1

    moved = client.post(
        f"/v1/staff/reports/{report['id']}/transitions",
        json={"to": "resolved", "outcome": "resolved_by_opcc"},
        headers=reviewer.headers,
    )

    assert moved.status_code == 200, moved.get_json()
    assert rollup_count(app, ReportRollup, outcome="with_opcc") == 0
    assert (
        rollup_count(app, ReportRollup, outcome="resolved_by_opcc", ward_code=MIDDLEHAVEN_WARD) == 1
    )
    exit_code, output = run_reconcile(app)
    assert exit_code == 0, output


def test_a_replaced_vote_leaves_one_count_for_its_resident(app, client, cleveland):
    resident = bearer(register_device(client)["access_token"])
    for option in ("neither", "very_confident"):
        cast = client.post(
            "/v1/confidence/votes",
            json={"option": option, "area": MIDDLEHAVEN_WARD},
            headers=resident,
        )
        assert cast.status_code == 201, cast.get_json()

    assert rollup_count(app, ConfidenceRollup, channel="app", option="neither") == 0
    assert rollup_count(app, ConfidenceRollup, channel="app", option="very_confident") == 1
    exit_code, output = run_reconcile(app)
    assert exit_code == 0, output
    assert "mismatches: 0" in output


def test_a_transfer_that_brings_two_counted_votes_uncounts_the_earlier_in_the_rollup(
    app, client, cleveland
):
    old, new = register_device(client), register_device(client)
    for tokens, option in ((old, "neither"), (new, "very_confident")):
        cast = client.post(
            "/v1/confidence/votes",
            json={"option": option, "area": MIDDLEHAVEN_WARD},
            headers=bearer(tokens["access_token"]),
        )
        assert cast.status_code == 201, cast.get_json()
    code = client.post("/v1/me/transfer-codes", headers=bearer(old["access_token"])).get_json()

    moved = client.post(
        "/v1/me/transfer", json={"code": code["code"]}, headers=bearer(new["access_token"])
    )

    assert moved.status_code == 200, moved.get_json()
    assert rollup_count(app, ConfidenceRollup, channel="app", option="neither") == 0
    assert rollup_count(app, ConfidenceRollup, channel="app", option="very_confident") == 1
    exit_code, output = run_reconcile(app)
    assert exit_code == 0, output
    assert "mismatches: 0" in output


def test_a_satisfaction_answer_counts_once_in_the_satisfaction_rollup(app, client, cleveland):
    resident = bearer(register_device(client)["access_token"])
    resolution = staff_user(app, client, "resolution")
    response = client.post(
        "/v1/feedback", json={"kind": "dissatisfaction", "text": "Rude."}, headers=resident
    )
    assert response.status_code == 201, response.get_json()
    feedback_id = response.get_json()["id"]
    with app.app_context():
        case_id = db.session.scalar(
            sa.select(ComplaintCase.id).where(ComplaintCase.feedback_id == uuid.UUID(feedback_id))
        )
    for body in (
        {"to": "contacted"},
        {"to": "resolved"},
        {"to": "closed", "outcome": "apology_given"},
    ):
        moved = client.post(
            f"/v1/staff/complaints/{case_id}/transitions", json=body, headers=resolution.headers
        )
        assert moved.status_code == 200, moved.get_json()
    assert rollup_count(app, SatisfactionRollup) == 0

    for score in (4, 1):  # the second answer is refused and counts nothing
        client.post(
            f"/v1/feedback/{feedback_id}/satisfaction", json={"score": score}, headers=resident
        )

    assert rollup_count(app, SatisfactionRollup, score=4) == 1
    assert rollup_count(app, SatisfactionRollup) == 1
    assert rollup_count(app, ComplaintRollup, contacted=True) == 1
    exit_code, output = run_reconcile(app)
    assert exit_code == 0, output
    assert "mismatches: 0" in output


def test_reconcile_names_a_rollup_that_drifted_and_repair_rewrites_it(app, client, cleveland):
    resident = bearer(register_device(client)["access_token"])
    submit(client, resident)
    with app.app_context():  # a fault that bypassed the listener
        db.session.execute(sa.update(ReportRollup).values(count=ReportRollup.count + 2))
        db.session.commit()

    exit_code, output = run_reconcile(app)

    assert exit_code == 1
    assert re.search(
        r"MISMATCH rollup_report \[.*outcome=passed_to_force_control_room\]: "
        r"expected \{'count': 1\}, rollup has \{'count': 3\}",
        output,
    ), output
    assert "mismatches: 1" in output
    repaired = app.test_cli_runner().invoke(args=["copa", "reconcile", "--repair"])
    assert "rollup_report: 1 rows rewritten" in repaired.output
    assert run_reconcile(app)[0] == 0
    assert rollup_count(app, ReportRollup) == 1


def test_thousands_of_random_actions_reconcile_to_zero(app, client, cleveland, monkeypatch):
    monkeypatch.setattr(limiter, "enabled", False)  # a dozen residents doing a year's worth
    rng = random.Random(6)
    residents = [bearer(register_device(client)["access_token"]) for _ in range(12)]
    reviewer = staff_user(app, client, "reviewer")
    resolution = staff_user(app, client, "resolution")
    analyst = staff_user(app, client, "analyst")
    with app.app_context():
        partners = {p.id: p.name for p in db.session.scalars(sa.select(Partner))}
        partner_headers = {}
        for partner_id in partners:
            user = UserFactory(roles=["partner"], partner_id=partner_id)
            partner_headers[partner_id] = user_tokens(app, user)[0]
    reports: list[str] = []
    complaints: list[str] = []
    statuses: list[int] = []

    def new_report():
        category = rng.choice(SIMPLE + list(EXTRA))
        body = {"category": category, "location": rng.choice(PLACES)}
        if category in EXTRA:
            body["answers"] = {code: rng.choice(values) for code, values in EXTRA[category].items()}
        answer = rng.choice(["yes", "no", "not_sure", None])
        if answer:
            body["would_have_called_101"] = answer
        reports.append(submit(client, rng.choice(residents), **body)["id"])

    def new_feedback():
        kind = rng.choice(["compliment", "suggestion", "dissatisfaction"])
        response = client.post(
            "/v1/feedback",
            json={
                "kind": kind,
                "text": "About the officer at the station.",
                "location": rng.choice(PLACES),
            },
            headers=(resident := rng.choice(residents)),
        )
        statuses.append(response.status_code)
        if kind == "dissatisfaction" and response.status_code == 201:
            feedback_id = uuid.UUID(response.get_json()["id"])
            with app.app_context():
                case_id = db.session.scalar(
                    sa.select(ComplaintCase.id).where(ComplaintCase.feedback_id == feedback_id)
                )
            complaints.append((case_id, feedback_id, resident))

    def vote():
        response = client.post(
            "/v1/confidence/votes",
            json={"option": rng.choice(OPTIONS), "area": rng.choice(VOTE_AREAS)},
            headers=rng.choice(residents),
        )
        statuses.append(response.status_code)

    def tally():
        counts = {option: rng.randint(0, 9) for option in OPTIONS}
        counts["neither"] += 1
        response = client.post(
            "/v1/staff/confidence/tallies",
            json={
                "event_name": "Community event",
                "event_date": f"2025-{rng.randint(1, 12):02d}-15",
                "area": rng.choice(VOTE_AREAS),
                "counts": counts,
            },
            headers=analyst.headers,
        )
        statuses.append(response.status_code)

    def decide():
        if not reports:
            return
        report_id = rng.choice(reports)
        choice = rng.random()
        if choice < 0.4:
            body = {
                "to": rng.choice(["resolved", "closed", "rejected"]),
                "outcome": rng.choice(REPORT_OUTCOMES),
            }
        elif choice < 0.7:
            body = {"to": "routed", "partner_id": str(rng.choice(list(partners)))}
        else:
            body = {"to": rng.choice(["in_progress", "received"])}
        response = client.post(
            f"/v1/staff/reports/{report_id}/transitions", json=body, headers=reviewer.headers
        )
        statuses.append(response.status_code)

    def partner_acts():
        with app.app_context():
            row = db.session.execute(
                sa.select(Referral.id, Referral.partner_id)
                .where(Referral.state.not_in(["withdrawn", "resolved", "not_our_responsibility"]))
                .order_by(Referral.id)
                .offset(rng.randint(0, 20))
                .limit(1)
            ).first()
        if row is None:
            return
        headers = partner_headers[row.partner_id]
        if rng.random() < 0.4:
            response = client.post(f"/v1/partner/referrals/{row.id}/acknowledge", headers=headers)
        else:
            status = rng.choice(["in_progress", "resolved", "resolved", "not_our_responsibility"])
            response = client.post(
                f"/v1/partner/referrals/{row.id}/updates",
                json={"status": status, "public_note": "Update from the partner."},
                headers=headers,
            )
        statuses.append(response.status_code)

    def complaint_work():
        if not complaints:
            return
        case_id, feedback_id, resident = rng.choice(complaints)
        staff = f"/v1/staff/complaints/{case_id}"
        work = rng.choice(["allegation", "contact", "action", "escalate", "close", "rate"])
        if work == "allegation":
            body = {"group": rng.choice(GROUPS), "code": "attitude"}
            response = client.post(f"{staff}/allegations", json=body, headers=resolution.headers)
        elif work == "action":
            body = {"kind": "apology"}
            response = client.post(f"{staff}/actions", json=body, headers=resolution.headers)
        elif work == "rate":  # the complainant, once the case is closed
            body = {"score": rng.randint(1, 5)}
            response = client.post(
                f"/v1/feedback/{feedback_id}/satisfaction", json=body, headers=resident
            )
        else:
            body = {
                "contact": {"to": "contacted"},
                "escalate": {"to": "escalated", "reason": "A Schedule 3 matter."},
                "close": {"to": "closed", "outcome": "no_further_action"},
            }[work]
            response = client.post(f"{staff}/transitions", json=body, headers=resolution.headers)
        statuses.append(response.status_code)

    actions = (
        [new_report] * 5
        + [new_feedback] * 2
        + [vote] * 5
        + [tally]
        + [decide] * 4
        + [partner_acts] * 3
        + [complaint_work] * 3
    )
    for _ in range(2000):
        rng.choice(actions)()

    assert all(status < 500 for status in statuses)
    assert statuses.count(409) < len(statuses) / 2  # most actions did something
    exit_code, output = run_reconcile(app)
    assert exit_code == 0, output
    assert "mismatches: 0" in output
    with app.app_context():
        stored = db.session.scalar(sa.select(sa.func.count()).select_from(Report))
        assert rollup_count(app, ReportRollup) == stored == len(reports)
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Referral)) > 100
    # The complaint work reached every measure: escalations, recoveries, answers.
    assert rollup_count(app, ComplaintRollup, escalated=True) > 0
    assert rollup_count(app, ComplaintRollup, escalated=False, recovered=True) > 0
    assert rollup_count(app, SatisfactionRollup) > 0
