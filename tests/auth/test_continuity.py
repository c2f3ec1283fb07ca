"""An identity that survives: the device secret brings a resident back after a lost, expired or
revoked refresh token, refreshing keeps a resident signed in, and a one-time transfer code
moves everything to a new phone. Erasure ends all of it."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta

import jwt as pyjwt
import pytest
import sqlalchemy as sa
import time_machine

from copa.auth.models import Device, RefreshToken, TransferCode
from copa.confidence.models import Vote
from copa.db import db
from copa.messages.models import ResidentMessage
from copa.notifications.models import Notification, NotificationPreferences, PushToken
from tests.factories import bearer, load_reference_data, register_device

MIDDLESBROUGH = {"lat": 54.5762, "lon": -1.2348}
SOFA = "Sofa dumped in the back lane."


def _report(client, headers, description: str = SOFA, **extra) -> dict:
    response = client.post(
        "/v1/reports",
        json={
            "category": "fly_tipping",
            "description": description,
            "location": MIDDLESBROUGH,
            "answers": {"size": "small"},
            **extra,
        },
        headers=headers,
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _my_report_ids(client, headers) -> list[str]:
    response = client.get("/v1/reports", headers=headers)
    assert response.status_code == 200, response.get_json()
    return [item["id"] for item in response.get_json()["items"]]


def _recover(client, device_id: str, secret: str):
    return client.post(f"/v1/auth/devices/{device_id}/sessions", json={"device_secret": secret})


def _claims(app, token: str) -> dict:
    return pyjwt.decode(
        token,
        app.config["JWT_SECRET_KEY"],
        algorithms=["HS256"],
        audience=app.config["JWT_AUDIENCE"],
        issuer=app.config["JWT_ISSUER"],
    )


def _in_days(days: float) -> datetime:
    return datetime.now(UTC) + timedelta(days=days)


def _database_mentions(app, needle: str) -> list[str]:
    found = []
    with app.app_context():
        for table in db.metadata.sorted_tables:
            for row in db.session.execute(sa.select(table)).mappings():
                for column, value in row.items():
                    if value is not None and needle in str(value):
                        found.append(f"{table.name}.{column}")
    return found


# --- the device secret ---------------------------------------------------------------------


def test_registration_shows_a_device_secret_once_and_keeps_only_its_hash(app, client):
    tokens = register_device(client)
    secret = tokens["device_secret"]
    assert secret.startswith("copads_")
    assert len(secret.removeprefix("copads_")) >= 43  # 32 random bytes, base64url
    assert register_device(client)["device_secret"] != secret
    assert _database_mentions(app, secret.removeprefix("copads_")) == []
    with app.app_context():
        device = db.session.get(Device, uuid.UUID(tokens["device_id"]))
        assert device.secret_hash == hashlib.sha256(secret.encode()).hexdigest()


def test_device_secret_brings_back_a_resident_whose_sign_in_was_revoked(app, client):
    load_reference_data(app)
    tokens = register_device(client)
    report = _report(client, bearer(tokens["access_token"]))
    # A retried refresh after a lost answer spends the refresh token twice: family revoked.
    assert (
        client.post("/v1/auth/refresh", headers=bearer(tokens["refresh_token"])).status_code == 200
    )
    assert (
        client.post("/v1/auth/refresh", headers=bearer(tokens["refresh_token"])).status_code == 401
    )
    assert client.get("/v1/reports", headers=bearer(tokens["access_token"])).status_code == 401

    recovered = _recover(client, tokens["device_id"], tokens["device_secret"])

    assert recovered.status_code == 201, recovered.get_json()
    again = recovered.get_json()
    assert again["device_id"] == tokens["device_id"] and again["roles"] == ["resident"]
    assert "device_secret" not in again  # shown once, at registration
    assert _my_report_ids(client, bearer(again["access_token"])) == [report["id"]]
    rotated = client.post("/v1/auth/refresh", headers=bearer(again["refresh_token"]))
    assert rotated.status_code == 200


def test_device_secret_brings_back_a_resident_after_31_days_idle(app, client):
    load_reference_data(app)
    tokens = register_device(client)
    report = _report(client, bearer(tokens["access_token"]))

    with time_machine.travel(_in_days(31)):
        expired = client.post("/v1/auth/refresh", headers=bearer(tokens["refresh_token"]))
        assert expired.status_code == 401
        assert expired.get_json()["type"].endswith("token-expired")

        recovered = _recover(client, tokens["device_id"], tokens["device_secret"])
        assert recovered.status_code == 201, recovered.get_json()
        headers = bearer(recovered.get_json()["access_token"])
        assert _my_report_ids(client, headers) == [report["id"]]
        assert client.get(f"/v1/reports/{report['id']}", headers=headers).status_code == 200


def test_refreshing_slides_the_refresh_expiry(app, client):
    tokens = register_device(client)
    with time_machine.travel(_in_days(29)):
        refreshed = client.post("/v1/auth/refresh", headers=bearer(tokens["refresh_token"]))
        assert refreshed.status_code == 200
        refresh_token = refreshed.get_json()["refresh_token"]
        claims = _claims(app, refresh_token)
        assert claims["exp"] - claims["iat"] == 30 * 24 * 3600
        assert claims["exp"] > _in_days(29.9).timestamp()  # 30 days from now, not from day 0
        with app.app_context():
            stored = db.session.get(RefreshToken, uuid.UUID(claims["jti"]))
            assert stored.expires_at > _in_days(29.9)
    with time_machine.travel(_in_days(50)):
        later = client.post("/v1/auth/refresh", headers=bearer(refresh_token))
        assert later.status_code == 200, later.get_json()
        me = client.get("/v1/me", headers=bearer(later.get_json()["access_token"]))
        assert me.status_code == 200 and me.get_json()["id"] == tokens["device_id"]


def test_every_refused_device_secret_gets_the_same_401(app, client):
    tokens = register_device(client)
    erased = register_device(client)
    assert client.delete("/v1/me", headers=bearer(erased["access_token"])).status_code == 204
    moved = register_device(client)
    code = client.post("/v1/me/transfer-codes", headers=bearer(moved["access_token"]))
    taker = register_device(client)
    assert (
        client.post(
            "/v1/me/transfer",
            json={"code": code.get_json()["code"]},
            headers=bearer(taker["access_token"]),
        ).status_code
        == 200
    )

    answers = [
        _recover(client, tokens["device_id"], "copads_" + "A" * 43),  # wrong secret
        _recover(client, tokens["device_id"], tokens["device_secret"].upper()),  # near miss
        _recover(client, str(uuid.uuid4()), tokens["device_secret"]),  # unknown device
        _recover(client, tokens["device_id"], erased["device_secret"]),  # another's secret
        _recover(client, erased["device_id"], erased["device_secret"]),  # erased
        _recover(client, moved["device_id"], moved["device_secret"]),  # moved to a new phone
    ]

    for answer in answers:
        assert answer.status_code == 401
        assert answer.mimetype == "application/problem+json"
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")
        assert "access_token" not in answer.get_json()
    assert len({(a.get_json()["type"], a.get_json()["detail"]) for a in answers}) == 1


def test_device_sessions_are_rate_limited_per_address(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "RATELIMIT_DEVICE_SESSIONS", "2/hour")
    tokens = register_device(client)
    for _ in range(2):
        assert _recover(client, tokens["device_id"], "copads_guess").status_code == 401
    limited = _recover(client, tokens["device_id"], tokens["device_secret"])
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) > 0


def test_device_session_body_is_checked(client):
    tokens = register_device(client)
    url = f"/v1/auth/devices/{tokens['device_id']}/sessions"
    missing = client.post(url, json={})
    assert missing.status_code == 422 and "device_secret" in missing.get_json()["errors"]
    extra = client.post(url, json={"device_secret": tokens["device_secret"], "role": "admin"})
    assert extra.status_code == 422 and "role" in extra.get_json()["errors"]


# --- moving to a new phone -----------------------------------------------------------------


def _transfer_code(client, tokens) -> dict:
    response = client.post("/v1/me/transfer-codes", headers=bearer(tokens["access_token"]))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _redeem(client, tokens, code: str, **headers):
    return client.post(
        "/v1/me/transfer",
        json={"code": code},
        headers={**bearer(tokens["access_token"]), **headers},
    )


def _assert_not_valid(response) -> dict:
    assert response.status_code == 422, response.get_json()
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["errors"]["code"]
    return body


def _vote(client, tokens, option: str, area: str = "E06000002") -> dict:
    response = client.post(
        "/v1/confidence/votes",
        json={"option": option, "area": area},
        headers=bearer(tokens["access_token"]),
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _told(app, device_id: str, report_id: str) -> None:
    """What the notifications feature would have written for the resident (its own rows)."""
    device = uuid.UUID(device_id)
    with app.app_context():
        db.session.add(
            Notification(
                device_id=device,
                event="report.acknowledged",
                report_id=uuid.UUID(report_id),
                title="Report received",
                body="We have your report.",
            )
        )
        db.session.add(
            ResidentMessage(
                report_id=uuid.UUID(report_id),
                direction="from_resident",
                kind="information",
                text="It is a brown sofa.",
                device_id=device,
            )
        )
        db.session.add(PushToken(device_id=device, platform="android", token="old-phone-token"))
        db.session.add(NotificationPreferences(device_id=device, push=False, language="cy"))
        db.session.commit()


def test_transfer_code_is_short_lived_grouped_and_stored_hashed(app, client):
    tokens = register_device(client)
    before = datetime.now(UTC)
    made = _transfer_code(client, tokens)
    code = made["code"]
    groups = code.split("-")
    assert [len(group) for group in groups] == [4, 4, 4, 4, 4]
    assert all(c in "0123456789ABCDEFGHJKMNPQRSTVWXYZ" for c in "".join(groups))
    expires_at = datetime.fromisoformat(made["expires_at"])
    assert before + timedelta(minutes=14) < expires_at <= datetime.now(UTC) + timedelta(minutes=15)
    assert _database_mentions(app, "".join(groups)) == []
    assert _database_mentions(app, code) == []


def test_moving_to_a_new_phone_takes_everything_with_it(app, client):
    load_reference_data(app)
    old = register_device(client)
    old_headers = bearer(old["access_token"])
    report = _report(
        client, old_headers, contact={"email": "resident@example.org", "name": "Sam Resident"}
    )
    feedback = client.post(
        "/v1/feedback",
        json={"kind": "dissatisfaction", "text": "Nobody called me back."},
        headers=old_headers,
    ).get_json()
    vote = _vote(client, old, "quite_confident")
    _told(app, old["device_id"], report["id"])
    with app.app_context():  # the notifications feature may have told the resident more
        told = db.session.scalar(sa.select(sa.func.count()).select_from(Notification))
    code = _transfer_code(client, old)["code"]

    new = register_device(client)
    new_headers = bearer(new["access_token"])
    response = _redeem(client, new, code)

    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {
        "device_id": new["device_id"],
        "moved": {
            "reports": 1,
            "feedback": 1,
            "votes": 1,
            "contact_details": 1,
            "notifications": told,
            "messages": 1,
            "notification_preferences": 1,
        },
    }
    # The new phone shows the resident's report, complaint and vote; /v1/me counts them.
    assert _my_report_ids(client, new_headers) == [report["id"]]
    assert client.get(f"/v1/feedback/{feedback['id']}", headers=new_headers).status_code == 200
    assert client.get(f"/v1/confidence/votes/{vote['id']}", headers=new_headers).status_code == 200
    me = client.get("/v1/me", headers=new_headers).get_json()
    assert (me["reports"], me["feedback"], me["votes"], me["contact_details"]) == (1, 1, 1, 1)
    with app.app_context():
        new_id, old_id = uuid.UUID(new["device_id"]), uuid.UUID(old["device_id"])
        assert set(db.session.scalars(sa.select(Notification.device_id))) == {new_id}
        assert set(db.session.scalars(sa.select(ResidentMessage.device_id))) == {new_id}
        preferences = db.session.get(NotificationPreferences, new_id)
        assert (preferences.push, preferences.language) == (False, "cy")
        assert db.session.scalars(sa.select(PushToken)).all() == []  # the old phone hears nothing
        gone = db.session.get(Device, old_id)
        assert gone.transferred_to_id == new_id and gone.transferred_at is not None
    # The old phone is signed out everywhere, and its secret opens nothing.
    assert client.get("/v1/me", headers=old_headers).status_code == 401
    assert client.post("/v1/auth/refresh", headers=bearer(old["refresh_token"])).status_code == 401
    assert _recover(client, old["device_id"], old["device_secret"]).status_code == 401
    # The new phone's own secret still works, and brings everything back.
    recovered = _recover(client, new["device_id"], new["device_secret"])
    assert recovered.status_code == 201
    assert _my_report_ids(client, bearer(recovered.get_json()["access_token"])) == [report["id"]]


def test_new_phone_keeps_its_own_notification_choices(app, client):
    old, new = register_device(client), register_device(client)
    with app.app_context():
        db.session.add(NotificationPreferences(device_id=uuid.UUID(old["device_id"]), push=False))
        db.session.add(NotificationPreferences(device_id=uuid.UUID(new["device_id"]), email=False))
        db.session.commit()
    response = _redeem(client, new, _transfer_code(client, old)["code"])
    assert response.get_json()["moved"]["notification_preferences"] == 0
    with app.app_context():
        kept = db.session.scalars(sa.select(NotificationPreferences)).all()
        assert [(p.device_id, p.push, p.email) for p in kept] == [
            (uuid.UUID(new["device_id"]), True, False)
        ]


@pytest.mark.parametrize("later", ["old", "new"])
def test_two_counted_votes_in_a_quarter_keep_the_latest_counted(app, client, later):
    load_reference_data(app)
    old, new = register_device(client), register_device(client)
    first, second = (new, old) if later == "old" else (old, new)
    # One counted vote per resident and quarter, whatever the area: a ward and its authority.
    earlier_vote = _vote(client, first, "not_very_confident", area="E05001497")  # Middlehaven
    later_vote = _vote(client, second, "very_confident")  # Middlesbrough

    response = _redeem(client, new, _transfer_code(client, old)["code"])

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["moved"]["votes"] == 1
    votes = client.get("/v1/confidence/votes", headers=bearer(new["access_token"])).get_json()
    by_id = {vote["id"]: vote for vote in votes["items"]}
    assert len(by_id) == 2
    assert by_id[later_vote["id"]]["counted"] is True
    assert by_id[later_vote["id"]]["replaced"] is True
    assert by_id[later_vote["id"]]["replaces"]["id"] == earlier_vote["id"]
    assert by_id[later_vote["id"]]["replaces"]["area"]["code"] == "E05001497"
    assert by_id[earlier_vote["id"]]["counted"] is False
    with app.app_context():
        counted = db.session.scalars(sa.select(Vote.option).where(Vote.counted.is_(True))).all()
        assert counted == ["very_confident"]


def test_transfer_code_is_typed_in_any_case_with_or_without_dashes(client):
    old, new = register_device(client), register_device(client)
    code = _transfer_code(client, old)["code"]
    assert _redeem(client, new, f"  {code.replace('-', '').lower()} ").status_code == 200


def test_wrong_expired_used_and_own_codes_are_refused(app, client):
    old, new, third = register_device(client), register_device(client), register_device(client)
    wrong = _assert_not_valid(_redeem(client, new, "ABCD-EFGH-JKMN-PQRS-TVWX"))
    garbage = _assert_not_valid(_redeem(client, new, "not a code"))

    code = _transfer_code(client, old)["code"]
    own = _assert_not_valid(_redeem(client, old, code))
    assert "this phone" in own["detail"]
    with time_machine.travel(_in_days(16 / (24 * 60))):  # 16 minutes on
        # A fresh access token: the one from registration has expired too.
        later = client.post("/v1/auth/refresh", headers=bearer(new["refresh_token"])).get_json()
        expired = _assert_not_valid(_redeem(client, later, code))

    code = _transfer_code(client, old)["code"]
    assert _redeem(client, new, code).status_code == 200
    used = _assert_not_valid(_redeem(client, third, code))

    answers = {(a["type"], a["detail"], str(a["errors"])) for a in (wrong, garbage, expired, used)}
    assert len(answers) == 1  # no oracle: wrong, expired and used look alike
    assert _my_report_ids(client, bearer(third["access_token"])) == []


def test_a_new_code_voids_the_earlier_one(client):
    old, new = register_device(client), register_device(client)
    first = _transfer_code(client, old)["code"]
    second = _transfer_code(client, old)["code"]
    _assert_not_valid(_redeem(client, new, first))
    assert _redeem(client, new, second).status_code == 200


def test_a_retried_transfer_with_the_same_key_gets_the_same_answer(app, client):
    load_reference_data(app)
    old, new = register_device(client), register_device(client)
    _report(client, bearer(old["access_token"]))
    code = _transfer_code(client, old)["code"]
    first = _redeem(client, new, code, **{"Idempotency-Key": "move-1"})
    retried = _redeem(client, new, code, **{"Idempotency-Key": "move-1"})
    assert first.status_code == retried.status_code == 200
    assert retried.get_json() == first.get_json()
    assert first.get_json()["moved"]["reports"] == 1


def test_transfer_codes_are_rate_limited_per_device(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "RATELIMIT_TRANSFER_CODES", "2/hour")
    old, other = register_device(client), register_device(client)
    for _ in range(2):
        _transfer_code(client, old)
    limited = client.post("/v1/me/transfer-codes", headers=bearer(old["access_token"]))
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0
    _transfer_code(client, other)  # another install on the same address is not held up


def test_redeeming_is_rate_limited(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "RATELIMIT_TRANSFER_REDEEM", "3/hour")
    new = register_device(client)
    for _ in range(3):
        _assert_not_valid(_redeem(client, new, "ABCD-EFGH-JKMN-PQRS-TVWX"))
    assert _redeem(client, new, "ABCD-EFGH-JKMN-PQRS-TVWX").status_code == 429


def test_staff_cannot_make_or_redeem_transfer_codes(app, client):
    from tests.factories import signed_in

    staff = signed_in(app, client, "reviewer")
    assert (
        client.post("/v1/me/transfer-codes", headers=bearer(staff["access_token"])).status_code
        == 403
    )
    assert _redeem(client, staff, "ABCD-EFGH-JKMN-PQRS-TVWX").status_code == 403


# --- erasure ends it -----------------------------------------------------------------------


def test_erasure_ends_the_device_secret_and_its_transfer_codes(app, client):
    old, new = register_device(client), register_device(client)
    code = _transfer_code(client, old)["code"]

    assert client.delete("/v1/me", headers=bearer(old["access_token"])).status_code == 204

    assert _recover(client, old["device_id"], old["device_secret"]).status_code == 401
    _assert_not_valid(_redeem(client, new, code))
    with app.app_context():
        device = db.session.get(Device, uuid.UUID(old["device_id"]))
        assert device.secret_hash is None
        assert db.session.scalars(sa.select(TransferCode)).all() == []
