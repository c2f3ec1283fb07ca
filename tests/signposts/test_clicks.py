"""POST /v1/signposts/{id}/clicks: a tap is counted once per event id, with nothing that says who
tapped."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from copa.db import db
from copa.metrics.reconcile import reconcile
from tests.factories import register_device
from tests.signposts.support import (
    ADMIN,
    HARTLEPOOL,
    HARTLEPOOL_PAGE,
    PROBLEM_JSON,
    STOCKTON,
    STOCKTON_PAGE,
    VICTORIA_WARD,
    click,
    clicks_of,
    rollup_total,
    signpost_id,
)

CRIMESTOPPERS = "crimestoppers"
CLIENT_ADDRESS = "203.0.113.77"
# Every column a click has: which signpost, which event, when, through what, what it was then.
CLICK_COLUMNS = {
    "id",
    "signpost_id",
    "event_id",
    "clicked_at",
    "source",
    "topic",
    "destination_kind",
    "local_authority_code",
}


def test_a_tap_is_counted_once_however_often_it_is_sent(app, client, cleveland):
    signpost = signpost_id(app, CRIMESTOPPERS)
    event = uuid.uuid4()
    first = click(client, signpost, event)
    assert first.status_code == 201, first.get_json()
    assert first.get_json() == {"event_id": str(event), "signpost_id": signpost, "counted": True}

    for _ in range(3):
        retry = click(client, signpost, event)
        assert retry.status_code == 200, retry.get_json()
        assert retry.get_json() == {
            "event_id": str(event),
            "signpost_id": signpost,
            "counted": False,
        }
    assert len(clicks_of(app, signpost)) == 1
    assert rollup_total(app, signpost) == 1
    assert rollup_total(app, signpost, source="app", topic="anonymous_reporting") == 1


def test_each_tap_with_its_own_event_id_is_counted(app, client, cleveland):
    signpost = signpost_id(app, CRIMESTOPPERS)
    assert [click(client, signpost).status_code for _ in range(3)] == [201, 201, 201]
    assert rollup_total(app, signpost) == 3
    with app.app_context():
        assert reconcile().mismatches == []


def test_an_event_id_counted_for_another_signpost_is_a_conflict(app, client, cleveland):
    event = uuid.uuid4()
    assert click(client, signpost_id(app, CRIMESTOPPERS), event).status_code == 201
    other = signpost_id(app, "victim-support")
    response = click(client, other, event)
    assert response.status_code == 409
    assert response.mimetype == PROBLEM_JSON
    assert "event_id" in response.get_json()["errors"]
    assert clicks_of(app, other) == [] and rollup_total(app, other) == 0


def test_a_tap_sent_later_is_counted_in_its_own_time(app, client, cleveland):
    signpost = signpost_id(app, CRIMESTOPPERS)
    at = datetime.now(UTC) - timedelta(days=6, hours=23)
    response = click(client, signpost, clicked_at=at.isoformat())
    assert response.status_code == 201, response.get_json()
    (stored,) = clicks_of(app, signpost)
    assert stored.clicked_at.replace(tzinfo=UTC) == at.replace(tzinfo=UTC)


def test_a_tap_a_moment_ahead_of_the_server_clock_is_counted(app, client, cleveland):
    ahead = datetime.now(UTC) + timedelta(minutes=2)
    response = click(client, signpost_id(app, CRIMESTOPPERS), clicked_at=ahead.isoformat())
    assert response.status_code == 201, response.get_json()


def refused(response, field: str, status: int = 422) -> None:
    assert response.status_code == status, response.get_json()
    assert response.mimetype == PROBLEM_JSON
    assert field in response.get_json()["errors"], response.get_json()


def test_a_tap_in_the_future_or_too_long_ago_is_refused_naming_clicked_at(app, client, cleveland):
    signpost = signpost_id(app, CRIMESTOPPERS)
    now = datetime.now(UTC)
    for at in (
        now + timedelta(hours=1),
        now - timedelta(days=7, minutes=1),
        now.replace(year=2000),
    ):
        refused(click(client, signpost, clicked_at=at.isoformat()), "clicked_at")
    refused(click(client, signpost, clicked_at="2026-01-01T10:00:00"), "clicked_at")  # no zone
    assert clicks_of(app, signpost) == []


def test_the_age_limit_is_a_setting(app, client, cleveland, monkeypatch):
    monkeypatch.setitem(app.config, "SIGNPOST_CLICK_MAX_AGE_DAYS", 1)
    signpost = signpost_id(app, CRIMESTOPPERS)
    two_days_ago = (datetime.now(UTC) - timedelta(days=2)).isoformat()
    refused(click(client, signpost, clicked_at=two_days_ago), "clicked_at")


def test_an_unknown_area_is_refused_naming_it(app, client, cleveland):
    signpost = signpost_id(app, CRIMESTOPPERS)
    refused(click(client, signpost, area="E05999999"), "area")
    refused(click(client, signpost, area=""), "area")
    assert clicks_of(app, signpost) == []


def test_a_bad_event_id_or_an_unexpected_field_is_refused(app, client, cleveland):
    signpost = signpost_id(app, CRIMESTOPPERS)
    refused(click(client, signpost, event_id="not-a-uuid"), "event_id")
    refused(client.post(f"/v1/signposts/{signpost}/clicks", json={}), "event_id")
    refused(click(client, signpost, device_id=str(uuid.uuid4())), "device_id")


def test_a_tap_on_an_unknown_signpost_is_not_found(app, client, cleveland):
    response = click(client, str(uuid.uuid4()))
    assert response.status_code == 404
    assert response.mimetype == PROBLEM_JSON
    assert client.post("/v1/signposts/not-an-id/clicks", json={}).status_code == 404


def test_a_tap_on_a_signpost_since_deactivated_still_counts(app, client, admin):
    signpost = signpost_id(app, CRIMESTOPPERS)
    assert client.delete(f"{ADMIN}/{signpost}", headers=admin).status_code == 204
    response = click(client, signpost)
    assert response.status_code == 201 and response.get_json()["counted"] is True
    assert rollup_total(app, signpost) == 1


def test_nothing_stored_with_a_tap_says_who_tapped(app, client, cleveland):
    device = register_device(client)
    signpost = signpost_id(app, CRIMESTOPPERS)
    event = uuid.uuid4()
    response = client.post(
        f"/v1/signposts/{signpost}/clicks",
        json={"event_id": str(event), "area": VICTORIA_WARD},
        headers={"Authorization": f"Bearer {device['access_token']}"},
        environ_base={"REMOTE_ADDR": CLIENT_ADDRESS},
    )
    assert response.status_code == 201, response.get_json()

    with app.app_context():
        columns = {c["name"] for c in sa.inspect(db.engine).get_columns("signpost_click")}
        row = db.session.execute(
            sa.select(sa.text("*"))
            .select_from(sa.table("signpost_click"))
            .where(sa.column("event_id") == event)
        ).one()
    assert columns == CLICK_COLUMNS
    # Every value as text, UUIDs without their dashes whichever way the database keeps them.
    stored = " ".join(str(value) for value in row._mapping.values()).replace("-", "")
    assert event.hex in stored  # the row is the tap's
    for secret in (CLIENT_ADDRESS, device["device_id"], device["access_token"]):
        assert secret.replace("-", "") not in stored


def test_the_area_given_is_kept_as_its_local_authority(app, client, cleveland):
    signpost = signpost_id(app, CRIMESTOPPERS)
    click(client, signpost, area=VICTORIA_WARD)
    click(client, signpost, area=STOCKTON)
    click(client, signpost)
    assert sorted(c.local_authority_code for c in clicks_of(app, signpost)) == [
        "",
        HARTLEPOOL,
        STOCKTON,
    ]
    assert rollup_total(app, signpost, local_authority_code=HARTLEPOOL) == 1


def test_a_council_page_counts_in_its_own_area_whatever_area_is_given(app, client, cleveland):
    signpost = signpost_id(app, STOCKTON_PAGE)
    click(client, signpost, area=VICTORIA_WARD)
    click(client, signpost)
    assert [c.local_authority_code for c in clicks_of(app, signpost)] == [STOCKTON] * 2
    assert rollup_total(app, signpost, local_authority_code=STOCKTON) == 2
    hartlepool = signpost_id(app, HARTLEPOOL_PAGE)
    click(client, hartlepool, area=STOCKTON)
    assert [c.local_authority_code for c in clicks_of(app, hartlepool)] == [HARTLEPOOL]


def test_a_tap_is_counted_with_the_topic_and_kind_it_had(app, client, cleveland):
    signpost = signpost_id(app, HARTLEPOOL_PAGE)
    click(client, signpost)
    (stored,) = clicks_of(app, signpost)
    assert (stored.source, stored.topic, stored.destination_kind) == (
        "app",
        "council_services",
        "partner",
    )
