"""One counted vote per resident and quarter, whatever area it names (DOMAIN.md "Public
confidence"): a resident who votes for a ward, then its local authority, then a ward elsewhere is
counted once, and in the same place, by the analyst's measures, the open-data file and the
reconciliation of the rollups."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa

from copa.auth.models import Device
from copa.confidence.models import Vote
from copa.confidence.service import OPTION_KEYS, cast_vote
from copa.db import db
from copa.metrics.reconcile import reconcile
from copa.periods import Quarter, today_london
from tests.metrics.support import HARTLEPOOL, MIDDLEHAVEN, MIDDLESBROUGH, VICTORIA, get

METRICS = "/v1/metrics/confidence"
OPEN_DATA = "/v1/open-data/confidence.csv"
C = "[c]"
PER_OPTION = 5  # residents per option: every published count is at the threshold, none below


def _at(day: date) -> datetime:
    return datetime.combine(day, time(12), tzinfo=UTC)


def _month(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def test_ward_then_authority_then_another_ward_counts_each_resident_once_everywhere(
    app, client, analyst
):
    # The last completed quarter: the open-data file publishes only those.
    quarter = Quarter.of(Quarter.of(today_london()).first_day() - timedelta(days=1))
    first = quarter.first_day()
    moments = [_at(first + timedelta(days=days)) for days in (3, 35, 70)]  # three months
    with app.app_context():
        for option in OPTION_KEYS:
            for _ in range(PER_OPTION):
                device = Device(platform="android")
                db.session.add(device)
                db.session.commit()
                for area, now in zip((MIDDLEHAVEN, MIDDLESBROUGH, VICTORIA), moments, strict=True):
                    cast_vote(device.id, option, area=area, now=now)
    residents = PER_OPTION * len(OPTION_KEYS)
    span = {"from": _month(first), "to": _month(moments[-1].date())}

    per_authority = get(client, analyst, METRICS, group_by="area", **span).get_json()
    middlesbrough = get(
        client, analyst, METRICS, group_by="area", area=MIDDLESBROUGH, **span
    ).get_json()
    per_quarter = get(client, analyst, METRICS, **span).get_json()
    per_month = get(client, analyst, METRICS, group_by="month", **span).get_json()

    n = {group["area"]["code"]: group["n"] for group in per_authority["groups"]}
    assert n[HARTLEPOOL] == residents and n[MIDDLESBROUGH] == 0  # not 2 votes each any more
    assert per_authority["total"]["n"] == residents  # the force: each resident once
    assert [group["n"] for group in middlesbrough["groups"]] == [0] * len(middlesbrough["groups"])
    assert [group["n"] for group in per_quarter["groups"]] == [residents]
    assert [group["n"] for group in per_month["groups"]] == [0, 0, residents]
    assert per_quarter["total"]["counts"] == dict.fromkeys(OPTION_KEYS, PER_OPTION)

    published = client.get(OPEN_DATA)
    assert published.status_code == 200
    rows = {
        row["local_authority_code"]: row
        for row in csv.DictReader(io.StringIO(published.get_data(as_text=True)))
        if row["quarter"] == quarter.label
    }
    hartlepool = rows[HARTLEPOOL]
    assert hartlepool["responses"] == str(residents)
    assert [hartlepool[key] for key in OPTION_KEYS] == [str(PER_OPTION)] * len(OPTION_KEYS)
    assert hartlepool["percent_confident"] == "40.0"
    # Middlesbrough has no counted vote left: nothing to publish, and nothing given away.
    assert rows[MIDDLESBROUGH]["responses"] == C

    with app.app_context():
        assert reconcile().mismatches == []


def test_each_resident_s_history_keeps_all_three_votes_and_counts_the_last(app, client, analyst):
    device_id = uuid.uuid4()
    when = _at(date(2025, 10, 6))
    with app.app_context():
        db.session.add(Device(id=device_id, platform="ios"))
        db.session.commit()
        cast = [
            cast_vote(device_id, "neither", area=area, now=when + timedelta(days=days))
            for days, area in enumerate((MIDDLEHAVEN, MIDDLESBROUGH, VICTORIA))
        ]

    assert [vote.replaces and vote.replaces.id for vote in cast] == [None, cast[0].id, cast[1].id]
    with app.app_context():
        kept = db.session.execute(
            sa.select(Vote.area_code, Vote.counted)
            .where(Vote.device_id == device_id)
            .order_by(Vote.cast_at)
        ).all()
    assert [tuple(row) for row in kept] == [
        (MIDDLEHAVEN, False),
        (MIDDLESBROUGH, False),
        (VICTORIA, True),
    ]
    body = get(client, analyst, METRICS, group_by="area", **{"from": "2025-10", "to": "2025-12"})
    n = {group["area"]["code"]: group["n"] for group in body.get_json()["groups"]}
    assert (n[MIDDLESBROUGH], n[HARTLEPOOL]) == (0, 1)
