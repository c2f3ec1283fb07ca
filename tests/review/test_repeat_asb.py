"""Repeat antisocial behaviour: the third similar report within six months flags them all."""

from __future__ import annotations

import uuid
from datetime import timedelta

import sqlalchemy as sa

from copa.db import db, utcnow
from copa.reports.models import Report
from tests.factories import bearer, register_device
from tests.review.support import VICTORIA, detail, set_report, submit


def flags(app, *reports: dict) -> list[bool]:
    with app.app_context():
        db.session.expire_all()
        return [
            db.session.scalar(sa.select(Report.repeat_asb).where(Report.id == uuid.UUID(r["id"])))
            for r in reports
        ]


def new_resident(client) -> dict:
    return bearer(register_device(client)["access_token"])


def test_a_third_report_from_one_resident_flags_all_three(app, client, resident, reviewer):
    first = submit(client, resident)
    second = submit(client, resident, category="vehicle_asb", description="Bikes again.")
    assert flags(app, first, second) == [False, False]

    third = submit(
        client,
        resident,
        category="housing_asb",
        answers={"landlord": "thirteen"},
        location=VICTORIA,
    )

    assert flags(app, first, second, third) == [True, True, True]
    assert detail(client, reviewer, third["id"])["repeat_asb"] is True
    queued = client.get("/v1/staff/queue?repeat_asb=true", headers=reviewer.headers).get_json()
    assert {item["id"] for item in queued["items"]} == {first["id"], second["id"], third["id"]}


def test_the_same_ward_and_category_from_different_residents_counts(app, client, cleveland):
    reports = [submit(client, new_resident(client)) for _ in range(3)]
    assert flags(app, *reports) == [True, True, True]


def test_two_reports_are_not_enough(app, client, resident):
    reports = [submit(client, resident), submit(client, resident)]
    assert flags(app, *reports) == [False, False]


def test_a_report_outside_the_window_does_not_count(app, client, resident):
    old = submit(client, resident)
    set_report(app, old["id"], created_at=utcnow() - timedelta(days=184))
    recent = submit(client, resident)
    latest = submit(client, resident)
    assert flags(app, old, recent, latest) == [False, False, False]
    fourth = submit(client, resident)
    assert flags(app, old, recent, latest, fourth) == [False, True, True, True]


def test_other_categories_and_rejected_or_duplicate_reports_do_not_count(app, client, resident):
    graffiti = [
        submit(client, resident, category="graffiti", description="Tags on the wall.")
        for _ in range(3)
    ]
    assert flags(app, *graffiti) == [False, False, False]
    rejected = submit(client, resident)
    duplicate = submit(client, resident)
    set_report(app, rejected["id"], status="rejected")
    set_report(app, duplicate["id"], status="duplicate")
    counted = submit(client, resident)
    assert flags(app, rejected, duplicate, counted) == [False, False, False]


def test_different_wards_and_residents_do_not_add_up(app, client, cleveland):
    reports = [
        submit(client, new_resident(client)),
        submit(client, new_resident(client)),
        submit(client, new_resident(client), location=VICTORIA),
    ]
    assert flags(app, *reports) == [False, False, False]


def test_the_threshold_window_and_categories_are_settings(app, client, resident, monkeypatch):
    monkeypatch.setitem(app.config, "REPEAT_ASB_THRESHOLD", 2)
    monkeypatch.setitem(app.config, "REPEAT_ASB_CATEGORIES", "graffiti")
    asb = [submit(client, resident), submit(client, resident)]
    graffiti = [
        submit(client, resident, category="graffiti", description="Tags on the wall.")
        for _ in range(2)
    ]
    assert flags(app, *asb, *graffiti) == [False, False, True, True]
