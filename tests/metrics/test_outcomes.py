"""Every report ends with an outcome: routing records a provisional one, a partner's resolution
its own, staff decisions theirs; "none recorded" is left only for reports still undecided, and
the rollups agree with the raw rows throughout."""

from __future__ import annotations

import uuid

import sqlalchemy as sa

from copa.db import db, utcnow
from copa.metrics.reconcile import reconcile
from copa.periods import local_date
from copa.routing.models import Referral
from tests.factories import bearer, register_device
from tests.metrics.support import MIDDLESBROUGH, get
from tests.review.support import move, partner_id, staff_user, submit


def referral_of(app, report_id: str) -> str:
    with app.app_context():
        return str(
            db.session.scalar(
                sa.select(Referral.id).where(Referral.report_id == uuid.UUID(report_id))
            )
        )


def test_decided_reports_all_have_an_outcome_and_the_rollups_agree(app, client, analyst):
    resident = bearer(register_device(client)["access_token"])
    reviewer = staff_user(app, client, "reviewer")
    control_room = staff_user(
        app, client, "partner", partner_id=uuid.UUID(partner_id(app, "force-control-room"))
    )
    # Routed automatically to the force control room, which receives it and resolves it.
    resolved = submit(client, resident)
    url = f"/v1/partner/referrals/{referral_of(app, resolved['id'])}"
    assert client.post(f"{url}/acknowledge", headers=control_room.headers).status_code == 200
    done = client.post(f"{url}/updates", json={"status": "resolved"}, headers=control_room.headers)
    assert done.status_code == 200, done.get_json()
    # Routed automatically, then closed by staff with their own outcome.
    closed = submit(client, resident, description="Youths on the car park roof again")
    decided = move(client, reviewer, closed["id"], to="closed", outcome="no_further_action")
    assert decided.status_code == 200, decided.get_json()
    # Routed automatically to the council and still with them.
    graffiti = submit(client, resident, category="graffiti", answers={"offensive": "no"})
    # Pulled back by staff to be routed again: undecided.
    pulled = submit(client, resident, description="Shouting in the street")
    assert move(client, reviewer, pulled["id"], to="received").status_code == 200

    month = local_date(utcnow()).strftime("%Y-%m")
    body = get(client, analyst, "/v1/metrics/issues", **{"from": month, "to": month})

    assert body.status_code == 200, body.get_json()
    (middlesbrough,) = [a for a in body.get_json()["by_area"] if a["code"] == MIDDLESBROUGH]
    assert middlesbrough["outcomes"] == {
        "resolved_by_partner": 1,
        "no_further_action": 1,
        "referred_to_partner": 1,
        "none_recorded": 1,  # only the report waiting to be routed again
    }
    mine = client.get(f"/v1/reports/{graffiti['id']}", headers=resident).get_json()
    assert mine["status"] == "routed"
    with app.app_context():
        assert reconcile().mismatches == []


def test_a_question_is_with_the_opcc_and_a_police_matter_with_the_control_room(
    app, client, analyst
):
    resident = bearer(register_device(client)["access_token"])
    reviewer = staff_user(app, client, "reviewer")
    question = submit(client, resident, category="question")
    asb = submit(client, resident)

    for report, outcome in ((question, "with_opcc"), (asb, "passed_to_force_control_room")):
        shown = client.get(f"/v1/staff/reports/{report['id']}", headers=reviewer.headers)
        assert shown.get_json()["outcome"] == outcome
    with app.app_context():
        assert reconcile().mismatches == []
