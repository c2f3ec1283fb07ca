"""The staff console's core: signing in and out, the cookie session and its timeout, CSRF,
security headers, the queue and the report page (through the same services as the API)."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa

from copa.auth.models import AuthSession
from copa.console import service as console
from copa.db import db, utcnow
from copa.reports.models import Report
from copa.routing.models import Partner, Referral
from tests.factories import PASSWORD, bearer, load_reference_data, register_device, user_with_role
from tests.review.support import submit


@pytest.fixture
def world(app):
    load_reference_data(app)


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def sign_in(client, app, role: str, **fields):
    user = user_with_role(app, role, **fields)
    form = client.get("/console/login").get_data(as_text=True)
    response = client.post(
        "/console/login",
        data={"email": user.email, "password": PASSWORD, "csrf_token": csrf_of(form)},
    )
    assert response.status_code == 303, response.get_data(as_text=True)
    return user


def token(client, path: str = "/console/queue") -> str:
    return csrf_of(client.get(path).get_data(as_text=True))


def resident(client) -> dict[str, str]:
    return bearer(register_device(client)["access_token"])


# --- signing in -----------------------------------------------------------------------------


def test_the_sign_in_page_is_labelled_and_locked_down(client):
    response = client.get("/console/login")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert '<label for="email">Email address</label>' in html
    assert '<label for="password">Password</label>' in html
    assert 'lang="en-GB"' in html and 'href="#main"' in html  # a skip link
    headers = response.headers
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert "<script" not in html and "style=" not in html  # nothing the CSP would block
    assert client.get("/console/static/console.css").status_code == 200


def test_the_session_cookie_is_http_only_strict_and_scoped(app, client, world):
    user = user_with_role(app, "reviewer")
    form = client.get("/console/login").get_data(as_text=True)
    response = client.post(
        "/console/login",
        data={"email": user.email, "password": PASSWORD, "csrf_token": csrf_of(form)},
    )
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("copa_console=")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/console" in cookie


def test_the_cookie_is_secure_in_production(app):
    from copa import create_app

    production = create_app(
        {
            "ENV": "production",
            "SECRET_KEY": "s" * 40,
            "JWT_SECRET_KEY": "j" * 40,
            "DATABASE_URL": app.config["DATABASE_URL"],
        }
    )
    assert production.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_SECURE"] is False  # testing: plain http on loopback


def test_a_wrong_password_is_refused_without_a_session(app, client, world):
    user = user_with_role(app, "reviewer")
    form = client.get("/console/login").get_data(as_text=True)
    response = client.post(
        "/console/login",
        data={"email": user.email, "password": "wrong", "csrf_token": csrf_of(form)},
    )
    assert response.status_code == 401
    assert "Email or password is wrong." in response.get_data(as_text=True)
    assert client.get("/console/queue").status_code == 303


def test_a_partner_user_cannot_use_the_console(app, client, world):
    user = user_with_role(app, "partner")
    form = client.get("/console/login").get_data(as_text=True)
    response = client.post(
        "/console/login",
        data={"email": user.email, "password": PASSWORD, "csrf_token": csrf_of(form)},
    )
    assert response.status_code == 403
    assert "for OPCC staff" in response.get_data(as_text=True)
    assert client.get("/console/queue").status_code == 303
    with app.app_context():  # the sign-in it made is ended at once
        sessions = db.session.scalars(sa.select(AuthSession).where(AuthSession.user_id == user.id))
        assert all(s.revoked_at is not None for s in sessions)


def test_a_resident_token_opens_nothing(client, world):
    headers = resident(client)
    for path in ("/console/", "/console/queue", f"/console/reports/{uuid.uuid4()}"):
        response = client.get(path, headers=headers)
        assert response.status_code == 303
        assert response.headers["Location"].startswith("/console/login")


def test_sign_in_goes_back_where_it_was_asked_but_never_off_site(app, client, world):
    user = user_with_role(app, "reviewer")
    for asked, landed in (
        ("/console/queue?possible_emergency=true", "/console/queue?possible_emergency=true"),
        ("https://evil.example/console", "/console/queue"),
        ("//evil.example/console", "/console/queue"),
    ):
        form = client.get("/console/login").get_data(as_text=True)
        response = client.post(
            "/console/login",
            data={
                "email": user.email,
                "password": PASSWORD,
                "csrf_token": csrf_of(form),
                "next": asked,
            },
        )
        assert response.headers["Location"] == landed


@pytest.mark.parametrize(
    ("role", "first_page"),
    [
        ("reviewer", "/console/queue"),
        ("admin", "/console/queue"),
        ("resolution", "/console/complaints"),
        ("analyst", "/console/pcc-report"),
    ],
)
def test_each_role_lands_on_its_own_first_page(app, client, world, role, first_page):
    user = user_with_role(app, role)
    form = client.get("/console/login").get_data(as_text=True)
    response = client.post(
        "/console/login",
        data={"email": user.email, "password": PASSWORD, "csrf_token": csrf_of(form), "next": ""},
    )
    assert response.headers["Location"] == first_page
    assert client.get(first_page).status_code == 200  # never "Your role does not allow this"
    home = client.get("/console/")
    assert home.status_code == 303 and home.headers["Location"] == first_page


def test_a_form_without_its_csrf_token_changes_nothing(app, client, world):
    report = submit(client, resident(client))
    sign_in(client, app, "reviewer")
    response = client.post(
        f"/console/reports/{report['id']}/notes", data={"text": "Called the resident."}
    )
    assert response.status_code == 400
    assert "expired or was not ours" in response.get_data(as_text=True)
    page = client.get(f"/console/reports/{report['id']}").get_data(as_text=True)
    assert "Called the resident." not in page


def test_signing_out_ends_the_sign_in_session(app, client, world):
    user = sign_in(client, app, "reviewer")
    response = client.post("/console/logout", data={"csrf_token": token(client)})
    assert response.status_code == 303
    assert client.get("/console/queue").status_code == 303
    with app.app_context():
        sessions = db.session.scalars(sa.select(AuthSession).where(AuthSession.user_id == user.id))
        assert [s.revoked_reason for s in sessions] == ["logout"]


def test_an_idle_session_times_out(app, client, world, monkeypatch):
    user = sign_in(client, app, "reviewer")
    assert client.get("/console/queue").status_code == 200
    later = utcnow() + timedelta(minutes=app.config["CONSOLE_IDLE_MINUTES"] + 1)
    monkeypatch.setattr(console, "utcnow", lambda: later)
    assert client.get("/console/queue").status_code == 303
    with app.app_context():
        session = db.session.scalar(sa.select(AuthSession).where(AuthSession.user_id == user.id))
        assert session.revoked_at is not None


def test_a_busy_session_still_ends_after_its_longest_life(app, client, world, monkeypatch):
    sign_in(client, app, "reviewer")
    start = utcnow()
    step = timedelta(minutes=app.config["CONSOLE_IDLE_MINUTES"] - 1)
    hours = app.config["CONSOLE_SESSION_HOURS"]
    moment = start
    while moment - start < timedelta(hours=hours) - step:
        moment += step
        monkeypatch.setattr(console, "utcnow", lambda m=moment: m)
        assert client.get("/console/queue").status_code == 200
    monkeypatch.setattr(console, "utcnow", lambda: start + timedelta(hours=hours, minutes=1))
    assert client.get("/console/queue").status_code == 303


def test_disabling_a_user_ends_their_console_session(app, client, world):
    user = sign_in(client, app, "reviewer")
    with app.app_context():
        db.session.execute(
            sa.update(type(user)).where(type(user).id == user.id).values(active=False)
        )
        db.session.commit()
    assert client.get("/console/queue").status_code == 303


# --- the queue ------------------------------------------------------------------------------


def test_the_queue_filters_to_possible_emergencies(app, client, world):
    someone = resident(client)
    calm = submit(client, someone, description="Bins left out on the pavement again.")
    urgent = submit(client, someone, description="A man is waving a knife outside the shop.")
    sign_in(client, app, "reviewer")
    everything = client.get("/console/queue").get_data(as_text=True)
    assert calm["reference"] in everything and urgent["reference"] in everything
    response = client.get("/console/queue?possible_emergency=true")
    html = response.get_data(as_text=True)
    assert urgent["reference"] in html and calm["reference"] not in html
    assert "Possible emergency" in html
    assert f'href="/console/reports/{urgent["id"]}"' in html


def test_a_bad_filter_is_shown_not_a_crash(app, client, world):
    sign_in(client, app, "reviewer")
    response = client.get("/console/queue?local_authority=Middlesbrough")
    assert response.status_code == 422
    assert "Not a local authority code." in response.get_data(as_text=True)


def test_the_resolution_team_sees_feedback_only_and_no_report_links(app, client, world):
    report = submit(client, resident(client))
    sign_in(client, app, "resolution")
    html = client.get("/console/queue").get_data(as_text=True)
    assert report["reference"] not in html
    assert client.get(f"/console/reports/{report['id']}").status_code == 403


def test_an_analyst_cannot_open_the_queue(app, client, world):
    sign_in(client, app, "analyst")
    response = client.get("/console/queue")
    assert response.status_code == 403
    assert "Your role does not allow this." in response.get_data(as_text=True)


# --- a report --------------------------------------------------------------------------------


def test_the_report_page_shows_what_staff_need(app, client, world):
    report = submit(
        client,
        resident(client),
        contact={"name": "Sam", "email": "sam@example.org"},
        description="Youths kicking the bus shelter.",
    )
    sign_in(client, app, "reviewer")
    response = client.get(f"/console/reports/{report['id']}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    for text in (
        report["reference"],
        "Youths kicking the bus shelter.",
        "Middlehaven, Middlesbrough",
        "sam@example.org",
        "Report received.",
        "Cleveland Police force control room",
    ):
        assert text in html, text
    assert '<label for="to">New status</label>' in html
    assert '<label for="partner_id">Partner (when referring)</label>' in html
    # What the resident was told: the in-app inbox needs no delivery attempt, so none is counted.
    told = html.split("What the resident was told", 1)[1].split("</table>", 1)[0]
    assert "In-app inbox" in told and "None needed (kept in the app)" in told
    assert "<td>0</td>" not in told


def _partner_named(app, name: str) -> str:
    with app.app_context():
        return str(db.session.scalar(sa.select(Partner.id).where(Partner.name == name)))


def test_rerouting_from_the_report_page_makes_a_referral(app, client, world):
    report = submit(client, resident(client))
    sign_in(client, app, "reviewer")
    council = _partner_named(app, "Middlesbrough Council")
    response = client.post(
        f"/console/reports/{report['id']}/transitions",
        data={
            "csrf_token": token(client, f"/console/reports/{report['id']}"),
            "to": "routed",
            "partner_id": council,
            "outcome": "",
            "public_note": "Passed to the council's ASB team.",
        },
    )
    assert response.status_code == 303
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Saved." in html
    with app.app_context():
        referrals = db.session.scalars(
            sa.select(Referral).where(Referral.report_id == uuid.UUID(report["id"]))
        ).all()
        assert str(referrals[-1].partner_id) == council
        assert (
            f"Middlesbrough Council: {referrals[-1].state.capitalize()}" in html
        )  # the referral's heading
        assert db.session.get(Report, uuid.UUID(report["id"])).destination_name == (
            "Middlesbrough Council"
        )


def test_a_decision_the_workflow_refuses_is_shown_and_changes_nothing(app, client, world):
    report = submit(client, resident(client))
    sign_in(client, app, "reviewer")
    csrf = token(client, f"/console/reports/{report['id']}")
    missing_outcome = client.post(
        f"/console/reports/{report['id']}/transitions",
        data={"csrf_token": csrf, "to": "closed", "outcome": ""},
    )
    assert missing_outcome.status_code == 422
    assert "The decision was not saved" in missing_outcome.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Report, uuid.UUID(report["id"])).status == "routed"


def test_the_audit_trail_gives_statuses_and_outcomes_in_words(app, client, world):
    report = submit(client, resident(client))
    sign_in(client, app, "reviewer")
    path = f"/console/reports/{report['id']}"
    closed = client.post(
        f"{path}/transitions",
        data={"csrf_token": token(client, path), "to": "closed", "outcome": "resolved_by_opcc"},
    )
    assert closed.status_code == 303

    audit = client.get(path).get_data(as_text=True).split('id="audit"')[1]

    assert "Status: Closed" in audit and "Outcome: Resolved by the OPCC" in audit
    assert "resolved_by_opcc" not in audit


def test_notes_are_kept_on_the_report(app, client, world):
    report = submit(client, resident(client))
    sign_in(client, app, "reviewer")
    response = client.post(
        f"/console/reports/{report['id']}/notes",
        data={
            "csrf_token": token(client, f"/console/reports/{report['id']}"),
            "text": "Rang the housing officer.",
        },
    )
    assert response.status_code == 303
    html = client.get(f"/console/reports/{report['id']}").get_data(as_text=True)
    assert "Rang the housing officer." in html
    empty = client.post(
        f"/console/reports/{report['id']}/notes",
        data={"csrf_token": token(client, f"/console/reports/{report['id']}"), "text": ""},
    )
    assert empty.status_code == 422


def test_an_unknown_report_is_a_404_page(app, client, world):
    sign_in(client, app, "reviewer")
    response = client.get(f"/console/reports/{uuid.uuid4()}")
    assert response.status_code == 404
    assert response.mimetype == "text/html"


def test_a_note_form_sent_twice_adds_one_note(app, client, world):
    report = submit(client, resident(client))
    sign_in(client, app, "reviewer")
    html = client.get(f"/console/reports/{report['id']}").get_data(as_text=True)
    keys = re.findall(r'name="form_key" value="([^"]+)"', html)
    # The two assignment forms (me or nobody; anyone), decision, message, note (last but one)
    # and redaction forms, each its own.
    assert len(keys) == len(set(keys)) == 6
    form = {"csrf_token": csrf_of(html), "form_key": keys[-2], "text": "Rang the council."}
    first = client.post(f"/console/reports/{report['id']}/notes", data=form)
    again = client.post(f"/console/reports/{report['id']}/notes", data=form)
    assert first.status_code == again.status_code == 303
    page = client.get(f"/console/reports/{report['id']}").get_data(as_text=True)
    assert page.count("Rang the council.") == 1
    # The same key with other words is refused, and changes nothing.
    changed = client.post(
        f"/console/reports/{report['id']}/notes", data={**form, "text": "Something else."}
    )
    assert changed.status_code == 422
    assert "Something else." not in client.get(f"/console/reports/{report['id']}").get_data(
        as_text=True
    )


# --- the decision form ------------------------------------------------------------------------


def _events(app, report_id: str) -> list[str]:
    from copa.notifications.models import Notification

    with app.app_context():
        return list(
            db.session.scalars(
                sa.select(Notification.event)
                .where(Notification.report_id == uuid.UUID(report_id))
                .order_by(Notification.created_at)
            )
        )


def test_the_decision_form_defaults_to_no_change(app, client, world):
    report = submit(client, resident(client))
    sign_in(client, app, "reviewer")
    html = client.get(f"/console/reports/{report['id']}").get_data(as_text=True)
    select = html[html.index('<select id="to"') : html.index("</select>", html.index('id="to"'))]
    first = re.search(r"<option([^>]*)>([^<]*)</option>", select)
    assert first.group(1) == ' value=""' and first.group(2) == "No change (now Routed)"
    assert " selected" not in select  # nothing else pre-chosen


def test_a_note_only_save_keeps_the_status_and_says_nothing_of_a_move(app, client, world):
    report = submit(client, resident(client))
    before = _events(app, report["id"])
    with app.app_context():
        moves = len(db.session.get(Report, uuid.UUID(report["id"])).timeline)
    sign_in(client, app, "reviewer")
    response = client.post(
        f"/console/reports/{report['id']}/transitions",
        data={
            "csrf_token": token(client, f"/console/reports/{report['id']}"),
            "to": "",
            "outcome": "",
            "partner_id": "",
            "duplicate_of": "",
            "public_note": "Thanks: we are looking into it.",
            "internal_note": "Asked the PCSO to drive past.",
        },
    )
    assert response.status_code == 303
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Status unchanged." in html
    assert "Thanks: we are looking into it." in html  # the message to the resident
    assert "Asked the PCSO to drive past." in html  # the internal note
    with app.app_context():
        stored = db.session.get(Report, uuid.UUID(report["id"]))
        assert stored.status == "routed" and len(stored.timeline) == moves
    told = _events(app, report["id"])[len(before) :]
    assert len(told) == 1 and not told[0].startswith("report.")  # a message, not a move


def test_no_change_and_no_note_is_a_form_error(app, client, world):
    report = submit(client, resident(client))
    sign_in(client, app, "reviewer")
    response = client.post(
        f"/console/reports/{report['id']}/transitions",
        data={"csrf_token": token(client, f"/console/reports/{report['id']}"), "to": ""},
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Choose a new status, or write a note." in html
    assert 'aria-invalid="true"' in html


def test_a_refused_duplicate_keeps_the_input_then_succeeds_by_reference(app, client, world):
    someone = resident(client)
    original = submit(client, someone, description="Youths on the bus shelter roof.")
    again = submit(client, someone, description="Youths on the bus shelter roof again.")
    sign_in(client, app, "reviewer")
    path = f"/console/reports/{again['id']}"
    refused = client.post(
        f"{path}/transitions",
        data={
            "csrf_token": token(client, path),
            "to": "duplicate",
            "duplicate_of": "COPA-99-999999",
            "public_note": "Already reported: we are on it.",
        },
    )
    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert "No report has the reference COPA-99-999999." in html
    assert '<option value="duplicate" selected>' in html
    assert 'value="COPA-99-999999"' in html
    assert ">Already reported: we are on it.</textarea>" in html
    saved = client.post(
        f"{path}/transitions",
        data={
            "csrf_token": token(client, path),
            "to": "duplicate",
            "duplicate_of": original["reference"].lower(),
        },
    )
    assert saved.status_code == 303, saved.get_data(as_text=True)
    with app.app_context():
        stored = db.session.get(Report, uuid.UUID(again["id"]))
        assert stored.status == "duplicate"
        assert str(stored.duplicate_of_id) == original["id"]


# --- assignment, redaction and the audit trail -------------------------------------------------


def test_a_reviewer_takes_a_report_and_gives_it_back(app, client, world):
    report = submit(client, resident(client))
    user = sign_in(client, app, "reviewer")
    path = f"/console/reports/{report['id']}"
    taken = client.post(
        f"{path}/assignment", data={"csrf_token": token(client, path), "assignee": "me"}
    )
    assert taken.status_code == 303
    html = client.get(path).get_data(as_text=True)
    assert "Report assigned to you." in html
    assert f'<dd id="report-assignee">{user.display_name}</dd>' in html
    assert "Assignment changed" in html  # in the audit trail
    back = client.post(
        f"{path}/assignment", data={"csrf_token": token(client, path), "assignee": "none"}
    )
    assert back.status_code == 303
    assert '<dd id="report-assignee">Nobody</dd>' in client.get(path).get_data(as_text=True)
    bad = client.post(
        f"{path}/assignment", data={"csrf_token": token(client, path), "assignee": "x"}
    )
    assert bad.status_code == 422 and "The assignment was not changed" in bad.get_data(as_text=True)


def test_a_reviewer_gives_a_report_to_a_colleague_from_the_list(app, client, world):
    report = submit(client, resident(client))
    colleague = user_with_role(app, "admin", display_name="Priya Admin")
    away = user_with_role(app, "reviewer", display_name="Gone Reviewer", active=False)
    analyst = user_with_role(app, "analyst", display_name="Ana Lyst")
    sign_in(client, app, "reviewer")
    path = f"/console/reports/{report['id']}"
    html = client.get(path).get_data(as_text=True)
    listed = re.search(r'<select id="assignee".*?</select>', html, re.S).group(0)
    assert f'<option value="{colleague.id}">Priya Admin</option>' in listed
    assert '<option value="me">Me</option>' in listed and ">Nobody</option>" in listed
    assert "Gone Reviewer" not in listed and "Ana Lyst" not in listed

    given = client.post(
        f"{path}/assignment",
        data={"csrf_token": token(client, path), "assignee": str(colleague.id)},
    )

    assert given.status_code == 303
    html = client.get(path).get_data(as_text=True)
    assert "Report assigned to Priya Admin." in html
    assert '<dd id="report-assignee">Priya Admin</dd>' in html
    for refused_user in (away, analyst):
        refused = client.post(
            f"{path}/assignment",
            data={"csrf_token": token(client, path), "assignee": str(refused_user.id)},
        )
        assert refused.status_code == 422
        assert "The assignment was not changed" in refused.get_data(as_text=True)
    assert '<dd id="report-assignee">Priya Admin</dd>' in client.get(path).get_data(as_text=True)


def test_a_reviewer_redacts_the_description_with_a_reason(app, client, world):
    report = submit(
        client, resident(client), description="My neighbour John Smith at no. 4 does it."
    )
    sign_in(client, app, "reviewer")
    path = f"/console/reports/{report['id']}"
    missing = client.post(
        f"{path}/redactions",
        data={"csrf_token": token(client, path), "what": "description", "description": "x"},
    )
    assert missing.status_code == 422
    html = missing.get_data(as_text=True)
    assert "Nothing was redacted" in html and 'id="redact_reason-error"' in html
    done = client.post(
        f"{path}/redactions",
        data={
            "csrf_token": token(client, path),
            "what": "description",
            "description": "My neighbour [name removed] does it.",
            "reason": "A named third party.",
        },
    )
    assert done.status_code == 303
    html = client.get(path).get_data(as_text=True)
    assert "My neighbour [name removed] does it." in html
    assert "John Smith" not in html  # not even in the audit trail, outside the admin role
    assert "Redacted" in html and "Kept for admins" in html


# --- the queue: open items by default, chosen filters -------------------------------------------


def test_the_queue_shows_open_items_unless_asked_for_the_rest(app, client, world):
    someone = resident(client)
    closed = submit(client, someone, description="A man with a knife by the chip shop right now.")
    still_open = submit(client, someone, description="Bins left out on the pavement again.")
    sign_in(client, app, "reviewer")
    path = f"/console/reports/{closed['id']}"
    response = client.post(
        f"{path}/transitions",
        data={"csrf_token": token(client, path), "to": "closed", "outcome": "no_further_action"},
    )
    assert response.status_code == 303
    default = client.get("/console/queue").get_data(as_text=True)
    assert still_open["reference"] in default
    assert closed["reference"] not in default  # a closed possible emergency is no longer on top
    everything = client.get("/console/queue?status=any").get_data(as_text=True)
    assert closed["reference"] in everything and still_open["reference"] in everything
    assert '<option value="any" selected>Any, including closed</option>' in everything
    only_closed = client.get("/console/queue?status=closed").get_data(as_text=True)
    assert closed["reference"] in only_closed and still_open["reference"] not in only_closed
    assert "<td>Closed</td>" in only_closed  # the status in words


def test_the_queue_filters_are_chosen_not_typed(app, client, world):
    report = submit(client, resident(client))
    sign_in(client, app, "reviewer")
    html = client.get("/console/queue").get_data(as_text=True)
    assert '<select id="category" name="category">' in html
    assert '<option value="asb" >' in html or '<option value="asb">' in html
    assert '<select id="local_authority" name="local_authority">' in html
    assert '<option value="E06000002" >Middlesbrough</option>' in html
    assert '<optgroup label="Middlesbrough">' in html
    assert '<option value="E05001497" >' in html  # Middlehaven ward
    chosen = client.get("/console/queue?ward=E05001497&category=asb").get_data(as_text=True)
    assert report["reference"] in chosen
    assert '<option value="E05001497" selected>' in chosen
    elsewhere = client.get("/console/queue?local_authority=E06000001").get_data(as_text=True)
    assert report["reference"] not in elsewhere


# --- words for codes, and times with their zone ---------------------------------------------------


def test_answers_show_question_text_and_option_labels(app, client, world):
    report = submit(
        client,
        resident(client),
        category="vehicle_asb",
        answers={"vehicle_type": "quad_bike", "registration": "AB12 CDE"},
        description="Quad bikes tearing up the park.",
    )
    sign_in(client, app, "reviewer")
    html = client.get(f"/console/reports/{report['id']}").get_data(as_text=True)
    assert "<dt>What kind of vehicle?</dt><dd>Quad bike</dd>" in html
    assert "<dt>Registration number, if you saw it</dt><dd>AB12 CDE</dd>" in html
    assert "quad_bike" not in html and "vehicle_type" not in html


def test_times_are_london_time_with_the_zone_shown(app, client, world):
    report = submit(client, resident(client))
    sign_in(client, app, "reviewer")
    html = client.get(f"/console/reports/{report['id']}").get_data(as_text=True)
    assert re.search(r">\d{1,2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2} (GMT|BST)</time>", html)
    assert ">routed<" not in html and "Routed" in html


def test_a_reviewer_withdraws_a_photo_with_a_reason(app, client, world, tmp_path, monkeypatch):
    from copa.reports import photos
    from tests.review.test_redaction import upload_photo

    monkeypatch.setitem(app.config, "PHOTO_STORAGE_DIR", str(tmp_path / "photos"))
    app.extensions.pop(photos.STORE_EXTENSION, None)
    someone = resident(client)
    report = submit(client, someone)
    photo = upload_photo(client, someone, report["id"])
    sign_in(client, app, "reviewer")
    path = f"/console/reports/{report['id']}"
    html = client.get(path).get_data(as_text=True)
    assert f'<option value="{photo["id"]}">Photo 1 (withdraw it)</option>' in html
    done = client.post(
        f"{path}/redactions",
        data={"csrf_token": token(client, path), "what": photo["id"], "reason": "A face."},
    )
    assert done.status_code == 303, done.get_data(as_text=True)
    html = client.get(path).get_data(as_text=True)
    assert f"/photos/{photo['id']}" not in html  # neither shown nor offered again
    again = client.post(
        f"{path}/redactions",
        data={"csrf_token": token(client, path), "what": photo["id"], "reason": "A face."},
    )
    assert again.status_code == 404 and "No such photo." in again.get_data(as_text=True)
    app.extensions.pop(photos.STORE_EXTENSION, None)
