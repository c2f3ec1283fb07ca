"""The console's user pages: an admin lists users with roles in words, adds staff and partner
users, changes roles, disables and enables, and sets a new password, all through the service of
/v1/admin/users, so the last admin stays, sign-ins end, and every change is audited. A refused
form keeps what was typed, never the password."""

from __future__ import annotations

import re
import uuid

import pytest
import sqlalchemy as sa

from copa.audit.models import AuditEvent
from copa.auth.models import AuthSession, User
from copa.db import db
from tests.console.test_operations import csrf_of, sign_in, submit, text_of
from tests.factories import PASSWORD, login, user_with_role
from tests.outbox.support import make_partner

NEW = "/console/users/new"
NEW_PASSWORD = "a long new password 42"


@pytest.fixture
def admin(app, client):
    return sign_in(client, app, "admin")


def user_row(app, email: str) -> User | None:
    with app.app_context():
        return db.session.scalar(sa.select(User).where(User.email == email))


def staff_form(**overrides) -> dict:
    form = {
        "display_name": "Robin Reviewer",
        "email": "Robin@OPCC.example",
        "password": "twelve chars or more",
        "kind": "staff",
        "roles": ["reviewer", "analyst"],
        "partner_id": "",
    }
    form.update(overrides)
    return form


def test_the_users_page_is_in_the_admin_navigation_and_shows_roles_in_words(app, client, admin):
    user_with_role(app, "resolution", display_name="Res Person", email="res@copa.example")
    html = text_of(client.get("/console/users"))
    assert 'href="/console/users"' in html
    assert "Res Person" in html and "Resolution Team" in html
    assert ">resolution<" not in html  # the word, not the code

    only = text_of(client.get("/console/users?role=resolution"))
    assert "Res Person" in only and admin.email not in only
    disabled = text_of(client.get("/console/users?active=false"))
    assert "Res Person" not in disabled and "Nobody matches these filters." in disabled


def test_other_roles_cannot_open_the_users_pages(app, client):
    sign_in(client, app, "reviewer")
    assert client.get("/console/users").status_code == 403
    assert 'href="/console/users"' not in text_of(client.get("/console/queue"))


def test_an_admin_adds_a_staff_user_who_can_then_sign_in(app, client, admin):
    response = submit(client, NEW, "/console/users", staff_form())
    assert response.status_code == 303, text_of(response)
    page = text_of(client.get(response.headers["Location"]))
    assert "Added Robin Reviewer (robin@opcc.example)" in page
    assert "Analyst, Reviewer" in page
    created = user_row(app, "robin@opcc.example")
    assert sorted(created.roles) == ["analyst", "reviewer"] and created.partner_id is None
    assert login(app.test_client(), "robin@opcc.example", "twelve chars or more")["access_token"]
    with app.app_context():
        event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "user.create"))
        assert event.target_id == created.id and event.actor_id == admin.id


def test_an_admin_adds_a_partner_user_with_a_partner_chosen_from_the_list(app, client, admin):
    with app.app_context():
        partner = make_partner(channel="email", email_address="team@council.example")
        partner_id, partner_name = str(partner.id), partner.name
    form_page = text_of(client.get(NEW))
    assert f'<option value="{partner_id}"' in form_page and partner_name in form_page

    refused = submit(client, NEW, "/console/users", staff_form(kind="partner", roles=[]))
    assert refused.status_code == 422
    assert "Choose the partner organisation" in text_of(refused) or "Required for a partner" in (
        text_of(refused)
    )
    response = submit(
        client,
        NEW,
        "/console/users",
        staff_form(email="p@council.example", kind="partner", partner_id=partner_id),
    )
    assert response.status_code == 303, text_of(response)
    created = user_row(app, "p@council.example")
    assert created.roles == ["partner"] and str(created.partner_id) == partner_id
    assert partner_name in text_of(client.get(response.headers["Location"]))


def test_a_refused_user_keeps_the_input_but_never_the_password(app, client, admin):
    user_with_role(app, "reviewer", email="taken@copa.example")
    typed = staff_form(email="taken@copa.example", password="a secret typed once")
    response = submit(client, NEW, "/console/users", typed)
    html = text_of(response)
    assert response.status_code == 409
    assert "Already used by another user." in html
    assert 'value="Robin Reviewer"' in html and 'value="taken@copa.example"' in html
    assert re.search(r'id="role-analyst"[^>]*checked', html)
    assert "a secret typed once" not in html

    short = submit(client, NEW, "/console/users", staff_form(password="short"))
    assert short.status_code == 422 and 'href="#password"' in text_of(short)
    assert 'value="short"' not in text_of(short)
    none = submit(client, NEW, "/console/users", staff_form(roles=[]))
    assert none.status_code == 422 and "Tick at least one role." in text_of(none)
    assert user_row(app, "robin@opcc.example") is None


def test_an_admin_changes_roles_and_the_change_is_audited(app, client, admin):
    user = user_with_role(app, "reviewer", display_name="Sam Jones")
    url = f"/console/users/{user.id}"
    response = submit(
        client,
        url,
        url,
        {"display_name": "Sam Jones", "kind": "staff", "roles": ["resolution", "reviewer"]},
    )
    assert response.status_code == 303, text_of(response)
    assert sorted(user_row(app, user.email).roles) == ["resolution", "reviewer"]
    trail = text_of(client.get(f"/console/audit?target_kind=user&target_id={user.id}"))
    assert (
        "User changed" in trail
        and "<strong>Roles</strong>: was Reviewer; now Resolution Team, Reviewer" in trail
    )


def test_the_last_admin_cannot_be_disabled_and_the_page_says_why(app, client, admin):
    url = f"/console/users/{admin.id}"
    response = submit(client, url, f"{url}/disable", {})
    assert response.status_code == 409
    assert "would leave no active admin" in text_of(response)
    assert user_row(app, admin.email).active is True

    demoted = submit(
        client, url, url, {"display_name": "Me", "kind": "staff", "roles": ["analyst"]}
    )
    assert demoted.status_code == 409 and "no active admin" in text_of(demoted)
    assert 'value="Me"' in text_of(demoted)  # the input kept
    assert user_row(app, admin.email).roles == ["admin"]


def test_disabling_a_user_ends_their_sign_ins_and_enabling_lets_them_back(app, client, admin):
    user = user_with_role(app, "reviewer")
    other = app.test_client()
    sign_in_page = text_of(other.get("/console/login"))
    assert (
        other.post(
            "/console/login",
            data={"email": user.email, "password": PASSWORD, "csrf_token": csrf_of(sign_in_page)},
        ).status_code
        == 303
    )
    assert other.get("/console/queue").status_code == 200

    url = f"/console/users/{user.id}"
    response = submit(client, url, f"{url}/disable", {})
    assert response.status_code == 303
    assert "Disabled" in text_of(client.get(url))
    assert other.get("/console/queue").status_code == 303  # sent to sign in
    with app.app_context():
        live = db.session.scalars(
            sa.select(AuthSession).where(
                AuthSession.user_id == user.id, AuthSession.revoked_at.is_(None)
            )
        ).all()
        assert live == []
    refused = app.test_client().post(
        "/v1/auth/login", json={"email": user.email, "password": PASSWORD}
    )
    assert refused.status_code == 401

    assert submit(client, url, f"{url}/enable", {}).status_code == 303
    assert login(app.test_client(), user.email)["access_token"]


def test_a_new_password_signs_the_user_out_and_is_never_shown(app, client, admin):
    user = user_with_role(app, "analyst")
    tokens = login(app.test_client(), user.email)
    url = f"/console/users/{user.id}"

    differ = submit(
        client, url, f"{url}/password", {"password": NEW_PASSWORD, "password_again": "other"}
    )
    assert differ.status_code == 422 and "The two passwords differ" in text_of(differ)
    assert NEW_PASSWORD not in text_of(differ)

    short = submit(client, url, f"{url}/password", {"password": "short", "password_again": "short"})
    assert short.status_code == 422 and "short" not in re.findall(
        r'value="([^"]*)"', text_of(short)
    )

    done = submit(
        client, url, f"{url}/password", {"password": NEW_PASSWORD, "password_again": NEW_PASSWORD}
    )
    assert done.status_code == 303
    page = text_of(client.get(url))
    assert "New password set" in page and NEW_PASSWORD not in page
    old = app.test_client().post(
        "/v1/auth/refresh", headers={"Authorization": f"Bearer {tokens['refresh_token']}"}
    )
    assert old.status_code == 401  # the sign-in before the new password has ended
    assert login(app.test_client(), user.email, NEW_PASSWORD)["access_token"]
    with app.app_context():
        event = db.session.scalar(
            sa.select(AuditEvent)
            .where(AuditEvent.action == "user.update", AuditEvent.target_id == user.id)
            .order_by(AuditEvent.at.desc())
        )
        assert event.after["password_changed"] is True
        assert NEW_PASSWORD not in str(event.after)


def test_an_unknown_user_is_404(client, admin):
    assert client.get(f"/console/users/{uuid.uuid4()}").status_code == 404
