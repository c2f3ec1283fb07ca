"""Admins manage staff and partner users: create, list, change roles, disable, reset passwords."""

from __future__ import annotations

import json
import threading
import uuid

import pytest
import sqlalchemy as sa

from copa.audit.models import AuditEvent
from copa.auth.models import AuthSession, User
from copa.db import db
from tests.factories import (
    PASSWORD,
    PartnerFactory,
    UserFactory,
    bearer,
    login,
    signed_in,
    table_counts,
)

USERS = "/v1/admin/users"
NEW_PASSWORD = "a much longer passphrase 42"


@pytest.fixture
def admin(app, client) -> dict[str, str]:
    return bearer(signed_in(app, client, "admin")["access_token"])


@pytest.fixture
def partner_id(app) -> str:
    with app.app_context():
        return str(PartnerFactory(name="Thirteen Housing").id)


def new_user(**overrides) -> dict:
    body = {
        "email": "Jo.Reviewer@OPCC.example",
        "display_name": "Jo Reviewer",
        "password": NEW_PASSWORD,
        "roles": ["reviewer"],
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not None}


def create(client, admin, **overrides) -> dict:
    response = client.post(USERS, json=new_user(**overrides), headers=admin)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def existing_user(app, *roles: str, **fields) -> tuple[str, str]:
    """A user made directly in the database: (id, email); their password is PASSWORD."""
    with app.app_context():
        user = UserFactory(roles=list(roles), **fields)
        return str(user.id), user.email


def user_events(app, user_id: str) -> list[AuditEvent]:
    with app.app_context():
        return list(
            db.session.scalars(
                sa.select(AuditEvent)
                .where(AuditEvent.target_kind == "user", AuditEvent.target_id == uuid.UUID(user_id))
                .order_by(AuditEvent.at)
            )
        )


def sessions_of(app, user_id: str) -> list[AuthSession]:
    with app.app_context():
        return list(
            db.session.scalars(
                sa.select(AuthSession).where(AuthSession.user_id == uuid.UUID(user_id))
            )
        )


# --- create --------------------------------------------------------------------------------


def test_admin_creates_a_staff_user_who_can_then_sign_in(app, client, admin):
    response = client.post(USERS, json=new_user(roles=["reviewer", "analyst"]), headers=admin)

    assert response.status_code == 201
    body = response.get_json()
    assert response.headers["Location"].endswith(f"{USERS}/{body['id']}")
    assert body["email"] == "jo.reviewer@opcc.example"  # stored in lower case
    assert body["display_name"] == "Jo Reviewer"
    assert body["roles"] == ["analyst", "reviewer"]
    assert body["partner_id"] is None and body["active"] is True
    assert body["last_login_at"] is None
    assert "password" not in body and "password_hash" not in body
    assert client.get(response.headers["Location"], headers=admin).get_json() == body

    tokens = login(client, "JO.REVIEWER@opcc.example", NEW_PASSWORD)
    assert tokens["user_id"] == body["id"]
    assert tokens["roles"] == ["analyst", "reviewer"]


def test_admin_creates_a_partner_user_of_an_existing_partner(client, admin, partner_id):
    body = create(
        client, admin, email="liaison@thirteen.example", roles=["partner"], partner_id=partner_id
    )

    assert body["roles"] == ["partner"] and body["partner_id"] == partner_id
    tokens = login(client, "liaison@thirteen.example", NEW_PASSWORD)
    assert tokens["partner_id"] == partner_id
    referrals = client.get("/v1/partner/referrals", headers=bearer(tokens["access_token"]))
    assert referrals.status_code == 200


@pytest.mark.parametrize(
    "overrides,field",
    [
        ({"roles": ["partner"]}, "partner_id"),  # a partner user needs their organisation
        ({"roles": ["partner"], "partner_id": str(uuid.uuid4())}, "partner_id"),
        ({"roles": ["partner", "reviewer"], "partner_id": "PARTNER"}, "roles"),
        ({"roles": ["reviewer"], "partner_id": "PARTNER"}, "partner_id"),  # staff have none
        ({"roles": []}, "roles"),
        ({"roles": ["resident"]}, "roles"),
        ({"roles": ["superuser"]}, "roles"),
        ({"password": "too short"}, "password"),
        ({"password": "x" * 257}, "password"),
        ({"email": "not an email"}, "email"),
        ({"display_name": "   "}, "display_name"),
        ({"password_hash": "$argon2id$v=19$..."}, "password_hash"),  # unknown field
        ({"active": False}, "active"),  # not settable on create
    ],
)
def test_an_invalid_user_is_422_naming_the_field_and_stores_nothing(
    app, client, admin, partner_id, overrides, field
):
    if overrides.get("partner_id") == "PARTNER":
        overrides = {**overrides, "partner_id": partner_id}
    before = table_counts(app, User, AuditEvent)

    response = client.post(USERS, json=new_user(**overrides), headers=admin)

    assert response.status_code == 422, response.get_json()
    assert response.mimetype == "application/problem+json"
    assert field in {name.split(".")[0] for name in response.get_json()["errors"]}  # roles.0
    assert table_counts(app, User, AuditEvent) == before


@pytest.mark.parametrize("missing", ["email", "display_name", "password", "roles"])
def test_a_user_without_a_required_field_is_422(client, admin, missing):
    body = new_user()
    del body[missing]
    response = client.post(USERS, json=body, headers=admin)
    assert response.status_code == 422
    assert missing in response.get_json()["errors"]


def test_a_taken_email_is_409_whatever_its_case(app, client, admin):
    create(client, admin)
    before = table_counts(app, User)

    response = client.post(USERS, json=new_user(email="JO.REVIEWER@opcc.EXAMPLE"), headers=admin)

    assert response.status_code == 409
    body = response.get_json()
    assert body["type"].endswith("/email-taken")
    assert "email" in body["errors"]
    assert table_counts(app, User) == before


# --- list and read -------------------------------------------------------------------------


@pytest.fixture
def people(app, client, admin, partner_id) -> dict[str, str]:
    """Four more users besides the signed-in admin: ids by name."""
    ids = {
        "ann": create(client, admin, email="ann@opcc.example", roles=["reviewer"])["id"],
        "bob": create(client, admin, email="bob@opcc.example", roles=["analyst", "reviewer"])["id"],
        "cat": create(
            client, admin, email="cat@thirteen.example", roles=["partner"], partner_id=partner_id
        )["id"],
        "dan": create(client, admin, email="dan@OPCC.example", roles=["resolution"])["id"],
    }
    disabled = client.patch(f"{USERS}/{ids['dan']}", json={"active": False}, headers=admin)
    assert disabled.status_code == 200
    return ids


def emails(response) -> list[str]:
    assert response.status_code == 200, response.get_json()
    return [user["email"] for user in response.get_json()["items"]]


def test_users_are_listed_by_email(client, admin, people):
    response = client.get(USERS, headers=admin)
    listed = emails(response)
    assert listed == sorted(listed)
    assert {"ann@opcc.example", "bob@opcc.example", "cat@thirteen.example"} <= set(listed)
    assert response.get_json()["total"] == 5  # the four and the admin


def test_users_filtered_by_role(client, admin, people):
    assert emails(client.get(f"{USERS}?role=reviewer", headers=admin)) == [
        "ann@opcc.example",
        "bob@opcc.example",
    ]
    assert emails(client.get(f"{USERS}?role=partner", headers=admin)) == ["cat@thirteen.example"]
    assert emails(client.get(f"{USERS}?role=analyst", headers=admin)) == ["bob@opcc.example"]


def test_users_filtered_by_state_partner_and_part_of_the_email(client, admin, people, partner_id):
    assert emails(client.get(f"{USERS}?active=false", headers=admin)) == ["dan@opcc.example"]
    assert "dan@opcc.example" not in emails(client.get(f"{USERS}?active=true", headers=admin))
    assert emails(client.get(f"{USERS}?partner_id={partner_id}", headers=admin)) == [
        "cat@thirteen.example"
    ]
    assert emails(client.get(f"{USERS}?email=OPCC.EX", headers=admin)) == [
        "ann@opcc.example",
        "bob@opcc.example",
        "dan@opcc.example",
    ]
    assert emails(client.get(f"{USERS}?email=%25", headers=admin)) == []  # % is not a wildcard


def test_users_are_paginated(client, admin, people):
    first = client.get(f"{USERS}?page=1&page_size=2", headers=admin).get_json()
    third = client.get(f"{USERS}?page=3&page_size=2", headers=admin).get_json()
    assert (first["page"], first["page_size"], first["total"]) == (1, 2, 5)
    assert len(first["items"]) == 2 and len(third["items"]) == 1


@pytest.mark.parametrize("query", ["role=resident", "active=maybe", "partner_id=42", "name=ann"])
def test_a_bad_user_query_is_422(client, admin, query):
    response = client.get(f"{USERS}?{query}", headers=admin)
    assert response.status_code == 422
    assert query.split("=")[0] in response.get_json()["errors"]


def test_an_unknown_user_is_a_404_problem(client, admin):
    for response in (
        client.get(f"{USERS}/{uuid.uuid4()}", headers=admin),
        client.patch(f"{USERS}/{uuid.uuid4()}", json={"active": False}, headers=admin),
    ):
        assert response.status_code == 404
        assert response.mimetype == "application/problem+json"
        assert response.get_json()["type"].endswith("/user-not-found")


# --- change ----------------------------------------------------------------------------------


def test_admin_renames_a_user_and_sets_their_roles(client, admin):
    user = create(client, admin)

    response = client.patch(
        f"{USERS}/{user['id']}",
        json={"display_name": "Jo R.", "roles": ["resolution", "reviewer", "resolution"]},
        headers=admin,
    )

    assert response.status_code == 200
    body = response.get_json()
    assert body["display_name"] == "Jo R." and body["roles"] == ["resolution", "reviewer"]
    assert body["email"] == user["email"] and body["active"] is True
    assert client.get(f"{USERS}/{user['id']}", headers=admin).get_json() == body


def test_a_change_is_checked_on_the_user_as_it_would_be_after_it(app, client, admin, partner_id):
    user = create(
        client, admin, email="liaison@thirteen.example", roles=["partner"], partner_id=partner_id
    )
    url = f"{USERS}/{user['id']}"
    before = table_counts(app, AuditEvent)

    still_attached = client.patch(url, json={"roles": ["reviewer"]}, headers=admin)
    staff_with_partner = client.patch(url, json={"partner_id": None}, headers=admin)
    mixed = client.patch(url, json={"roles": ["partner", "admin"]}, headers=admin)
    empty = client.patch(url, json={"roles": []}, headers=admin)

    assert still_attached.status_code == 422 and "partner_id" in still_attached.get_json()["errors"]
    assert staff_with_partner.status_code == 422
    assert "partner_id" in staff_with_partner.get_json()["errors"]
    assert mixed.status_code == 422 and "roles" in mixed.get_json()["errors"]
    assert empty.status_code == 422 and "roles" in empty.get_json()["errors"]
    assert table_counts(app, AuditEvent) == before
    assert client.get(url, headers=admin).get_json() == user

    moved = client.patch(url, json={"roles": ["reviewer"], "partner_id": None}, headers=admin)
    assert moved.status_code == 200
    assert moved.get_json()["roles"] == ["reviewer"] and moved.get_json()["partner_id"] is None


@pytest.mark.parametrize("body", [{"email": "new@opcc.example"}, {"password": "short"}, {}])
def test_an_invalid_or_empty_change_body_is_422_or_changes_nothing(client, admin, body):
    user = create(client, admin)
    response = client.patch(f"{USERS}/{user['id']}", json=body, headers=admin)
    if body:
        assert response.status_code == 422
        assert next(iter(body)) in response.get_json()["errors"]
    else:
        assert response.status_code == 200 and response.get_json()["roles"] == ["reviewer"]


def test_a_role_change_applies_from_the_users_next_request(app, client, admin):
    user_id, email = existing_user(app, "reviewer")
    headers = bearer(login(client, email)["access_token"])
    assert client.get("/v1/staff/deliveries", headers=headers).status_code == 200
    assert client.get("/v1/admin/audit", headers=headers).status_code == 403

    changed = client.patch(f"{USERS}/{user_id}", json={"roles": ["admin"]}, headers=admin)
    assert changed.status_code == 200

    # The same access token, minted with the old roles: the database's roles decide.
    assert client.get("/v1/admin/audit", headers=headers).status_code == 200
    client.patch(f"{USERS}/{user_id}", json={"roles": ["analyst"]}, headers=admin)
    assert client.get("/v1/staff/deliveries", headers=headers).status_code == 403
    assert client.get("/v1/admin/audit", headers=headers).status_code == 403


def test_disabling_a_user_ends_every_sign_in_of_theirs_at_once(app, client, admin):
    user_id, email = existing_user(app, "reviewer")
    phone, laptop = login(client, email), login(client, email)
    assert (
        client.get("/v1/staff/deliveries", headers=bearer(phone["access_token"])).status_code == 200
    )

    response = client.patch(f"{USERS}/{user_id}", json={"active": False}, headers=admin)

    assert response.status_code == 200 and response.get_json()["active"] is False
    for tokens in (phone, laptop):
        # The access tokens have not expired, yet they are refused on the very next request.
        refused = client.get("/v1/staff/deliveries", headers=bearer(tokens["access_token"]))
        assert refused.status_code == 401
        assert refused.get_json()["type"].endswith("/token-revoked")
        refresh = client.post("/v1/auth/refresh", headers=bearer(tokens["refresh_token"]))
        assert refresh.status_code == 401
    sessions = sessions_of(app, user_id)
    assert len(sessions) == 2
    assert all(s.revoked_at is not None and s.revoked_reason == "disabled" for s in sessions)
    no_login = client.post("/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert no_login.status_code == 401
    assert emails(client.get(f"{USERS}?active=false", headers=admin)) == [email]


def test_a_disabled_user_enabled_again_signs_in_afresh(app, client, admin):
    user_id, email = existing_user(app, "reviewer")
    old = login(client, email)
    client.patch(f"{USERS}/{user_id}", json={"active": False}, headers=admin)

    enabled = client.patch(f"{USERS}/{user_id}", json={"active": True}, headers=admin)

    assert enabled.status_code == 200 and enabled.get_json()["active"] is True
    assert client.post("/v1/auth/logout", headers=bearer(old["access_token"])).status_code == 401
    fresh = login(client, email)
    assert (
        client.get("/v1/staff/deliveries", headers=bearer(fresh["access_token"])).status_code == 200
    )


def test_a_new_password_ends_the_users_sign_ins_and_replaces_the_old_one(app, client, admin):
    user_id, email = existing_user(app, "analyst")
    tokens = login(client, email)

    response = client.patch(f"{USERS}/{user_id}", json={"password": NEW_PASSWORD}, headers=admin)

    assert response.status_code == 200
    assert "password" not in response.get_json()
    assert client.post("/v1/auth/logout", headers=bearer(tokens["access_token"])).status_code == 401
    assert (
        client.post("/v1/auth/refresh", headers=bearer(tokens["refresh_token"])).status_code == 401
    )
    assert {s.revoked_reason for s in sessions_of(app, user_id)} == {"password_changed"}
    old = client.post("/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert old.status_code == 401
    assert login(client, email, NEW_PASSWORD)["user_id"] == user_id


def test_other_users_sign_ins_are_untouched(app, client, admin):
    user_id, _ = existing_user(app, "reviewer")
    _, other_email = existing_user(app, "reviewer")
    other = login(client, other_email)

    client.patch(f"{USERS}/{user_id}", json={"active": False}, headers=admin)

    assert (
        client.get("/v1/staff/deliveries", headers=bearer(other["access_token"])).status_code == 200
    )


# --- the last admin ------------------------------------------------------------------------------


def _me(client, headers) -> str:
    """The signed-in admin's user id (found through the list: they are the only admin)."""
    (me,) = client.get(f"{USERS}?role=admin&active=true", headers=headers).get_json()["items"]
    return me["id"]


@pytest.mark.parametrize("change", [{"active": False}, {"roles": ["reviewer"]}])
def test_the_last_active_admin_cannot_be_disabled_or_demoted(app, client, admin, change):
    me = _me(client, admin)
    existing_user(app, "admin", active=False)  # a disabled admin does not count
    before = table_counts(app, AuditEvent)

    response = client.patch(f"{USERS}/{me}", json=change, headers=admin)

    assert response.status_code == 409
    assert response.get_json()["type"].endswith("/last-active-admin")
    assert table_counts(app, AuditEvent) == before
    assert client.get(f"{USERS}/{me}", headers=admin).get_json()["active"] is True


def test_an_admin_can_step_down_once_another_admin_is_active(app, client, admin):
    me = _me(client, admin)
    other_id, other_email = existing_user(app, "reviewer")
    client.patch(f"{USERS}/{other_id}", json={"roles": ["admin", "reviewer"]}, headers=admin)

    stepped_down = client.patch(f"{USERS}/{me}", json={"roles": ["analyst"]}, headers=admin)

    assert stepped_down.status_code == 200
    assert client.get(USERS, headers=admin).status_code == 403  # no longer an admin
    other = bearer(login(client, other_email)["access_token"])
    last = client.patch(f"{USERS}/{other_id}", json={"active": False}, headers=other)
    assert last.status_code == 409


def test_changing_a_disabled_admin_needs_no_other_admin(app, client, admin):
    disabled_admin, _ = existing_user(app, "admin", active=False)
    response = client.patch(
        f"{USERS}/{disabled_admin}", json={"roles": ["reviewer"]}, headers=admin
    )
    assert response.status_code == 200


# --- the audit log -------------------------------------------------------------------------


def test_creating_and_changing_a_user_is_audited_without_any_password(app, client, admin):
    user = create(client, admin)
    client.patch(
        f"{USERS}/{user['id']}",
        json={"roles": ["analyst"], "active": False, "password": "another secret passphrase"},
        headers=admin,
    )

    created, updated = user_events(app, user["id"])

    assert (created.action, created.actor_kind, created.actor_roles) == (
        "user.create",
        "staff",
        "admin",
    )
    assert created.before is None
    assert created.after == {
        "display_name": "Jo Reviewer",
        "email": "jo.reviewer@opcc.example",
        "roles": ["reviewer"],
        "partner_id": None,
        "active": True,
    }
    assert updated.action == "user.update"
    assert updated.before["roles"] == ["reviewer"] and updated.before["active"] is True
    assert updated.after["roles"] == ["analyst"] and updated.after["active"] is False
    assert updated.after["password_changed"] is True
    logged = json.dumps([created.before, created.after, updated.before, updated.after])
    assert NEW_PASSWORD not in logged and "another secret" not in logged
    assert "argon2" not in logged and "hash" not in logged

    shown = client.get(f"/v1/admin/audit?target_kind=user&target_id={user['id']}", headers=admin)
    assert [e["action"] for e in shown.get_json()["items"]] == ["user.update", "user.create"]


# --- who may ---------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["reviewer", "resolution", "analyst", "partner", "resident"])
def test_only_admins_manage_users(app, client, role):
    headers = bearer(signed_in(app, client, role)["access_token"])
    user_id, _ = existing_user(app, "reviewer")

    assert client.get(USERS, headers=headers).status_code == 403
    assert client.get(f"{USERS}/{user_id}", headers=headers).status_code == 403
    assert client.post(USERS, json=new_user(), headers=headers).status_code == 403
    changed = client.patch(f"{USERS}/{user_id}", json={"roles": ["admin"]}, headers=headers)
    assert changed.status_code == 403


def test_users_need_a_token(client):
    assert client.get(USERS).status_code == 401
    assert client.post(USERS, json=new_user()).status_code == 401
    assert client.patch(f"{USERS}/{uuid.uuid4()}", json={"active": False}).status_code == 401


def _disable_each_other(app, ids: dict[str, uuid.UUID]) -> dict[str, str]:
    """Two admins, each in their own thread and transaction, disable the other at once."""
    from copa.auth import user_admin
    from copa.web.access import Principal, Role

    outcomes: dict[str, str] = {}
    barrier = threading.Barrier(2)

    def disable(me: str, other: str) -> None:
        principal = Principal("user", ids[me], frozenset({Role.ADMIN}), uuid.uuid4())
        with app.app_context():
            barrier.wait()
            try:
                user_admin.update_user(principal, ids[other], {"active": False})
                outcomes[me] = "disabled"
            except user_admin.LastActiveAdmin:
                outcomes[me] = "refused"
            except Exception as error:  # noqa: BLE001 - reported by the caller's assert
                outcomes[me] = repr(error)
            finally:
                db.session.remove()

    threads = [
        threading.Thread(target=disable, args=("ann", "bob")),
        threading.Thread(target=disable, args=("bob", "ann")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


def test_two_admins_disabling_each_other_at_once_leave_one_admin(tmp_path):
    """The last-admin check holds under concurrency: it locks the active users before it
    counts, so of two admins disabling each other at the same moment exactly one succeeds."""
    from flask_migrate import upgrade

    from copa import create_app
    from tests.conftest import TEST_SETTINGS
    from tests.factories import scratch_database

    with scratch_database(tmp_path, "last_admin") as url:
        app = create_app({**TEST_SETTINGS, "DATABASE_URL": url})
        with app.app_context():
            upgrade()
            ann = UserFactory(email="ann@opcc.example", roles=["admin"])
            bob = UserFactory(email="bob@opcc.example", roles=["admin"])
            ids = {"ann": ann.id, "bob": bob.id}
        try:
            for _ in range(5):
                outcomes = _disable_each_other(app, ids)

                assert sorted(outcomes.values()) == ["disabled", "refused"], outcomes
                with app.app_context():
                    active = db.session.scalars(sa.select(User.id).where(User.active)).all()
                    assert len(active) == 1
                    db.session.execute(sa.update(User).values(active=True))  # next round
                    db.session.commit()
        finally:
            with app.app_context():
                db.session.remove()
                db.engine.dispose()
