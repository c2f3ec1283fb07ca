"""The staff console's complaint case pages: the Resolution Team's list and a case, worked from
first contact to closing through the same services as /v1/staff/complaints."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest
import sqlalchemy as sa

from copa.audit.models import AuditEvent, InternalNote
from copa.db import db
from copa.feedback.models import (
    Allegation,
    ComplaintCase,
    ComplaintTimelineEntry,
    Feedback,
    ServiceRecoveryAction,
)
from copa.periods import LONDON
from tests.factories import PASSWORD, bearer, register_device, table_counts, user_with_role

LIST = "/console/complaints"


# --- helpers (kept here: other console test files are written by someone else) --------------


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def sign_in(client, app, role: str):
    user = user_with_role(app, role)
    form = client.get("/console/login").get_data(as_text=True)
    response = client.post(
        "/console/login",
        data={"email": user.email, "password": PASSWORD, "csrf_token": csrf_of(form)},
    )
    assert response.status_code == 303, response.get_data(as_text=True)
    return user


def text_of(response) -> str:
    """The page as a person reads it: tags dropped, entities decoded, spaces collapsed."""
    html = response.get_data(as_text=True)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def complain(client, text="The officer at the front desk was rude to me.", **extra):
    """A resident's expression of dissatisfaction through the API: (case id, reference)."""
    resident = bearer(register_device(client)["access_token"])
    response = client.post(
        "/v1/feedback", json={"kind": "dissatisfaction", "text": text, **extra}, headers=resident
    )
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    with client.application.app_context():
        case_id = db.session.scalar(
            sa.select(ComplaintCase.id).where(ComplaintCase.feedback_id == uuid.UUID(body["id"]))
        )
    return str(case_id), body["reference"]


def set_logged_at(app, case_id: str, moment: datetime) -> None:
    with app.app_context():
        db.session.get(ComplaintCase, uuid.UUID(case_id)).logged_at = moment
        db.session.commit()


def stored(app, case_id: str) -> dict:
    with app.app_context():
        case = db.session.get(ComplaintCase, uuid.UUID(case_id))
        return {
            "state": case.state,
            "outcome": case.outcome,
            "first_contact_at": case.first_contact_at,
            "assignee_id": case.assignee_id,
            "allegations": [(a.group, a.code) for a in case.allegations],
            "actions": [(a.kind, a.note) for a in case.actions],
        }


def written(app) -> dict[str, int]:
    return table_counts(
        app,
        ComplaintTimelineEntry,
        AuditEvent,
        Allegation,
        ServiceRecoveryAction,
        InternalNote,
    )


def post(client, case_id: str, action: str, **fields):
    """Submit one of the case page's forms, with the page's own CSRF token."""
    page = client.get(f"{LIST}/{case_id}")
    assert page.status_code == 200, page.get_data(as_text=True)
    data = {"csrf_token": csrf_of(page.get_data(as_text=True)), **fields}
    return client.post(f"{LIST}/{case_id}/{action}", data=data)


def done(client, case_id: str, action: str, **fields):
    """Submit a form that must succeed; the case page it leads back to."""
    response = post(client, case_id, action, **fields)
    assert response.status_code == 303, text_of(response)
    assert response.headers["Location"].endswith(f"{LIST}/{case_id}")
    return client.get(response.headers["Location"])


def as_uuid(value) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


# --- a case from first contact to closing -----------------------------------------------------


def test_a_resolution_officer_works_a_case_from_first_contact_to_closing(app, client):
    case_id, reference = complain(
        client,
        text="The officer at the front desk was rude to me.",
        contact={"name": "Alex Resident", "email": "alex@example.org"},
    )
    set_logged_at(app, case_id, datetime(2025, 1, 6, 9, 0, tzinfo=UTC))  # GMT: London = UTC
    sign_in(client, app, "resolution")

    listing = client.get(LIST)
    assert listing.status_code == 200
    assert f'href="/console/complaints/{case_id}"' in listing.get_data(as_text=True)
    assert reference in text_of(listing) and "Not contacted yet" in text_of(listing)

    opened = client.get(f"{LIST}/{case_id}")
    assert opened.status_code == 200
    shown = text_of(opened)
    assert f"{reference}: complaint case" in shown
    assert "The officer at the front desk was rude to me." in shown
    assert "Alex Resident, alex@example.org" in shown
    assert "State Logged" in shown and "Time to first contact Not contacted yet" in shown

    page = done(client, case_id, "first-contact", contacted_at="2025-01-07T11:30")
    shown = text_of(page)
    assert "First contact recorded." in shown
    assert "State Contacted" in shown
    assert "First contact 7 Jan 2025 11:30 GMT" in shown
    assert "Time to first contact 1 day, 2 hours and 30 minutes" in shown
    assert stored(app, case_id)["first_contact_at"] == datetime(2025, 1, 7, 11, 30, tzinfo=UTC)

    page = done(
        client,
        case_id,
        "allegations",
        group="individual_behaviour",
        code="incivility",
        description="Raised voice at the front desk.",
    )
    assert "Allegation added." in text_of(page)
    assert "Individual behaviour Incivility Raised voice at the front desk." in text_of(page)

    page = done(client, case_id, "actions", kind="apology", note="Apologised by phone.")
    assert "Apology Apologised by phone." in text_of(page)
    assert "State Service recovery" in text_of(page)  # the first action starts service recovery

    done(client, case_id, "resolution", public_note="We are sorry.")
    page = done(
        client, case_id, "closure", outcome="apology_given", internal_note="Complainant content."
    )
    shown = text_of(page)
    assert "Case closed." in shown
    assert "State Closed (Apology given)" in shown
    assert "This case is closed: no further changes of state." in shown
    assert "Close case" not in shown and "Add allegation" not in shown

    case = stored(app, case_id)
    assert case["state"] == "closed" and case["outcome"] == "apology_given"
    assert case["allegations"] == [("individual_behaviour", "incivility")]
    assert case["actions"] == [("apology", "Apologised by phone.")]
    with app.app_context():
        steps = db.session.execute(
            sa.select(ComplaintTimelineEntry.to_state, ComplaintTimelineEntry.actor_kind)
            .where(ComplaintTimelineEntry.case_id == uuid.UUID(case_id))
            .order_by(ComplaintTimelineEntry.at)
        ).all()
    assert [tuple(step) for step in steps] == [
        ("contacted", "staff"),
        ("service_recovery", "staff"),
        ("resolved", "staff"),
        ("closed", "staff"),
    ]


def test_contacted_at_is_london_wall_clock_time_in_summer_too(app, client):
    case_id, _ = complain(client)
    set_logged_at(app, case_id, datetime(2025, 7, 1, 8, 0, tzinfo=UTC))
    sign_in(client, app, "resolution")

    page = done(client, case_id, "first-contact", contacted_at="2025-07-01T10:00")

    # 10:00 in London in July is 09:00 UTC: an hour after the case was logged.
    assert stored(app, case_id)["first_contact_at"] == datetime(2025, 7, 1, 9, 0, tzinfo=UTC)
    assert "Time to first contact 1 hour" in text_of(page)
    assert "First contact 1 Jul 2025 10:00 BST" in text_of(page)


def test_first_contact_without_a_time_is_now(app, client):
    case_id, _ = complain(client)
    set_logged_at(app, case_id, datetime.now(UTC) - timedelta(hours=3))
    sign_in(client, app, "resolution")
    before = datetime.now(UTC)

    page = done(client, case_id, "first-contact", contacted_at="")

    contacted = stored(app, case_id)["first_contact_at"]
    assert before - timedelta(seconds=1) <= contacted <= datetime.now(UTC)
    assert "State Contacted" in text_of(page)
    assert "Time to first contact 3 hours" in text_of(page)


def test_escalating_needs_a_reason_and_shows_it(app, client):
    case_id, _ = complain(client)
    sign_in(client, app, "resolution")
    counts = written(app)

    refused = post(client, case_id, "escalation", reason="")
    assert refused.status_code == 422
    assert "Reason for escalation: Required to escalate." in text_of(refused)
    assert 'id="escalate-reason-error"' in refused.get_data(as_text=True)
    assert stored(app, case_id)["state"] == "logged" and written(app) == counts

    page = done(client, case_id, "escalation", reason="Alleged assault: a Schedule 3 matter.")
    assert "State Escalated" in text_of(page)
    assert "Alleged assault: a Schedule 3 matter." in text_of(page)
    assert stored(app, case_id)["state"] == "escalated"


def test_assigning_to_me_and_to_nobody(app, client):
    case_id, _ = complain(client)
    officer = sign_in(client, app, "resolution")

    page = done(client, case_id, "assignment", assignee="me")
    assert "Case assigned." in text_of(page)
    assert f"Assigned to {officer.display_name}" in text_of(page)
    assert stored(app, case_id)["assignee_id"] == as_uuid(officer.id)
    mine = text_of(client.get(f"{LIST}?assignee=me"))
    assert officer.display_name in mine and "1 case," in mine

    page = done(client, case_id, "assignment", assignee="none")
    assert "Case unassigned." in text_of(page) and "Assigned to Nobody" in text_of(page)
    assert stored(app, case_id)["assignee_id"] is None
    assert "0 cases," in text_of(client.get(f"{LIST}?assignee=me"))


def test_assigning_to_someone_who_may_not_hold_cases_is_refused(app, client):
    case_id, _ = complain(client)
    reviewer = user_with_role(app, "reviewer")
    sign_in(client, app, "resolution")

    refused = post(client, case_id, "assignment", assignee=str(reviewer.id))

    assert refused.status_code == 422
    assert "Not an active admin or resolution user." in text_of(refused)
    assert stored(app, case_id)["assignee_id"] is None


def test_an_internal_note_is_kept_with_its_author(app, client):
    case_id, _ = complain(client)
    officer = sign_in(client, app, "resolution")

    page = done(client, case_id, "notes", text="Called twice, no answer.")

    assert "Note added." in text_of(page)
    assert f"Called twice, no answer. {officer.display_name}," in text_of(page)
    with app.app_context():
        notes = db.session.scalars(
            sa.select(InternalNote.text).where(InternalNote.complaint_case_id == uuid.UUID(case_id))
        ).all()
    assert notes == ["Called twice, no answer."]


def test_an_admin_may_work_cases_too(app, client):
    case_id, reference = complain(client)
    sign_in(client, app, "admin")

    assert reference in text_of(client.get(LIST))
    page = done(client, case_id, "first-contact")
    assert "State Contacted" in text_of(page)


# --- the list -------------------------------------------------------------------------------


def test_the_list_is_oldest_logged_first_and_filters_like_the_api(app, client):
    newer_id, newer = complain(client, text="Nobody came when I called 101.")
    older_id, older = complain(client, text="The officer would not give his number.")
    set_logged_at(app, older_id, datetime.now(UTC) - timedelta(days=2))
    sign_in(client, app, "resolution")
    done(client, older_id, "first-contact")
    done(client, older_id, "allegations", group="individual_behaviour", code="incivility")

    everything = text_of(client.get(LIST))
    assert "2 cases, oldest logged first." in everything
    assert everything.index(older) < everything.index(newer)
    older_row = everything[everything.index(older) :].split("The officer would not give")[0]
    assert "Individual behaviour" in older_row  # the older case's allegation group, in words

    def listed(query: str) -> list[str]:
        response = client.get(f"{LIST}?{query}")
        assert response.status_code == 200
        shown = text_of(response)
        return [reference for reference in (older, newer) if reference in shown]

    assert listed("awaiting_first_contact=true") == [newer]
    assert listed("awaiting_first_contact=false") == [older]
    assert listed("allegation_group=individual_behaviour") == [older]
    assert listed("allegation_group=other") == []
    assert listed("state=logged") == [newer]
    assert listed("state=contacted&state=logged") == [older, newer]
    assert listed("assignee=none") == [older, newer]
    assert listed("state=&assignee=&allegation_group=&awaiting_first_contact=") == [older, newer]
    filtered = client.get(f"{LIST}?state=contacted").get_data(as_text=True)
    assert '<option value="contacted" selected>' in filtered  # the filter stays chosen

    refused = client.get(f"{LIST}?state=pending")
    assert refused.status_code == 422
    assert "Some filters are not valid" in text_of(refused)
    assert older not in text_of(refused)


# --- who may open the pages -------------------------------------------------------------------


@pytest.mark.parametrize("role", ["reviewer", "analyst"])
def test_other_staff_roles_get_403(app, client, role):
    case_id, reference = complain(client)
    sign_in(client, app, role)
    counts = written(app)

    for url in (LIST, f"{LIST}/{case_id}"):
        response = client.get(url)
        assert response.status_code == 403
        assert "Your role does not allow this." in text_of(response)
        assert reference not in text_of(response)
    token = csrf_of(client.get(LIST).get_data(as_text=True))  # the sign-out form's token
    for action, fields in (
        ("first-contact", {}),
        ("closure", {"outcome": "withdrawn"}),
        ("notes", {"text": "Not mine to write."}),
        ("assignment", {"assignee": "none"}),
    ):
        response = client.post(f"{LIST}/{case_id}/{action}", data={"csrf_token": token, **fields})
        assert response.status_code == 403
    assert stored(app, case_id)["state"] == "logged" and written(app) == counts
    assert 'href="/console/complaints"' not in client.get(LIST).get_data(as_text=True)  # no link


def test_a_resolution_officer_sees_complaint_cases_in_the_navigation(app, client):
    sign_in(client, app, "resolution")
    html = client.get(LIST).get_data(as_text=True)
    assert '<a href="/console/complaints">Complaint cases</a>' in html


def test_signed_out_visitors_are_sent_to_sign_in(app, client):
    case_id, reference = complain(client)
    for url in (LIST, f"{LIST}/{case_id}"):
        response = client.get(url)
        assert response.status_code == 303
        assert response.headers["Location"].startswith("/console/login")
        assert reference not in response.get_data(as_text=True)


def test_an_unknown_case_is_404(app, client):
    sign_in(client, app, "resolution")
    response = client.get(f"{LIST}/{uuid.uuid4()}")
    assert response.status_code == 404
    assert "There is no complaint case with that id." in text_of(response)


# --- forms that fail change nothing -----------------------------------------------------------


def test_closing_without_an_outcome_re_renders_with_the_error(app, client):
    case_id, _ = complain(client)
    sign_in(client, app, "resolution")
    done(client, case_id, "first-contact")
    done(client, case_id, "resolution")
    counts = written(app)

    refused = post(client, case_id, "closure", outcome="", public_note="Done.")

    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert "Outcome: Required to close." in text_of(refused)
    assert 'aria-describedby="close-outcome-error"' in html  # the error is tied to its field
    assert '<p class="error" id="close-outcome-error">Required to close.</p>' in html
    assert ">Done.</textarea>" in html  # what was typed is kept
    assert stored(app, case_id)["state"] == "resolved" and written(app) == counts

    unknown = post(client, case_id, "closure", outcome="sorted")
    assert unknown.status_code == 422
    assert "Outcome: Must be one of:" in text_of(unknown)
    assert stored(app, case_id)["state"] == "resolved" and written(app) == counts


def test_first_contact_in_the_future_or_before_logging_is_refused(app, client):
    case_id, _ = complain(client)
    set_logged_at(app, case_id, datetime(2025, 1, 6, 9, 0, tzinfo=UTC))
    sign_in(client, app, "resolution")
    counts = written(app)
    tomorrow = (datetime.now(LONDON) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")

    future = post(client, case_id, "first-contact", contacted_at=tomorrow)
    assert future.status_code == 422
    assert "Contacted at: Must not be in the future." in text_of(future)
    assert f'value="{tomorrow}"' in future.get_data(as_text=True)
    assert 'id="contact-contacted_at-error"' in future.get_data(as_text=True)

    early = post(client, case_id, "first-contact", contacted_at="2025-01-06T08:59")
    assert early.status_code == 422
    assert "Contacted at: Must not be before the case was logged." in text_of(early)

    garbled = post(client, case_id, "first-contact", contacted_at="next Tuesday")
    assert garbled.status_code == 422
    assert "Contacted at:" in text_of(garbled)

    case = stored(app, case_id)
    assert case["state"] == "logged" and case["first_contact_at"] is None
    assert written(app) == counts
    assert "State Logged" in text_of(early)


def test_moves_the_workflow_does_not_allow_are_409(app, client):
    case_id, _ = complain(client)
    sign_in(client, app, "resolution")
    counts = written(app)

    closing = post(client, case_id, "closure", outcome="withdrawn")
    assert closing.status_code == 409
    assert "State: A complaint case that is logged cannot become closed." in text_of(closing)
    assert "Close case" not in text_of(closing)  # still no closing form on a logged case

    action = post(client, case_id, "actions", kind="apology")
    assert action.status_code == 409
    assert "contact the complainant first" in text_of(action)

    assert stored(app, case_id)["state"] == "logged" and written(app) == counts


def test_bad_allegations_actions_and_notes_store_nothing(app, client):
    case_id, _ = complain(client)
    sign_in(client, app, "resolution")
    done(client, case_id, "first-contact")
    counts = written(app)

    allegation = post(client, case_id, "allegations", group="individual_behaviour", code="")
    assert allegation.status_code == 422
    assert "Allegation code: Missing data for required field." in text_of(allegation)
    group = post(client, case_id, "allegations", group="rudeness", code="incivility")
    assert group.status_code == 422
    assert "Allegation group: Must be one of:" in text_of(group)
    action = post(client, case_id, "actions", kind="", note="Rang them.")
    assert action.status_code == 422
    assert "Action: Missing data for required field." in text_of(action)
    note = post(client, case_id, "notes", text="")
    assert note.status_code == 422
    assert "New internal note: Missing data for required field." in text_of(note)

    assert written(app) == counts
    case = stored(app, case_id)
    assert case["allegations"] == [] and case["actions"] == [] and case["state"] == "contacted"


def test_a_closed_case_takes_no_allegations(app, client):
    case_id, _ = complain(client)
    sign_in(client, app, "resolution")
    for action, fields in (
        ("first-contact", {}),
        ("resolution", {}),
        ("closure", {"outcome": "withdrawn"}),
    ):
        done(client, case_id, action, **fields)
    counts = written(app)

    refused = post(client, case_id, "allegations", group="other", code="late")

    assert refused.status_code == 409
    assert "it takes no more allegations" in text_of(refused)
    assert written(app) == counts


@pytest.mark.parametrize(
    ("action", "fields"),
    [
        ("first-contact", {}),
        ("closure", {"outcome": "withdrawn"}),
        ("notes", {"text": "Forged."}),
        ("allegations", {"group": "other", "code": "forged"}),
        ("assignment", {"assignee": "me"}),
    ],
)
def test_a_post_without_the_csrf_token_is_400_and_changes_nothing(app, client, action, fields):
    case_id, _ = complain(client)
    sign_in(client, app, "resolution")
    counts = written(app)

    response = client.post(f"{LIST}/{case_id}/{action}", data=fields)

    assert response.status_code == 400
    assert "The form had expired or was not ours." in text_of(response)
    case = stored(app, case_id)
    assert case["state"] == "logged" and case["assignee_id"] is None
    assert written(app) == counts


def test_the_case_page_is_labelled_for_screen_readers(app, client):
    case_id, _ = complain(client)
    sign_in(client, app, "resolution")
    html = client.get(f"{LIST}/{case_id}").get_data(as_text=True)

    ids = re.findall(r'<(?:input|select|textarea) id="([^"]+)"', html)
    assert {"contacted_at", "reason", "allegation_group", "allegation_code", "note_text"} <= set(
        ids
    )
    for field_id in ids:
        assert f'<label for="{field_id}">' in html, field_id
    assert len(ids) == len(set(ids))  # every id once: each label names one field
    assert "<script" not in html and "style=" not in html
    headings = [int(level) for level in re.findall(r"<h([1-6])", html)]
    assert headings[0] == 1 and all(
        b - a <= 1 for a, b in zip(headings, headings[1:], strict=False)
    )


def test_feedback_that_is_not_a_complaint_has_no_case(app, client):
    resident = bearer(register_device(client)["access_token"])
    response = client.post(
        "/v1/feedback", json={"kind": "compliment", "text": "Thank you!"}, headers=resident
    )
    assert response.status_code == 201
    sign_in(client, app, "resolution")
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Feedback)) == 1
    assert "0 cases," in text_of(client.get(LIST))
