"""Console pages of deliveries, counter tallies, 101 call statistics and the quarterly report:
each works end to end for a role the API allows, refuses other roles and anonymous visitors,
and re-renders a bad form with the field's error without storing anything."""

from __future__ import annotations

import csv
import io
import re
import uuid
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from copa.audit.models import AuditEvent
from copa.call_statistics.models import CallStatistics
from copa.confidence.models import Tally
from copa.db import db, utcnow
from copa.outbox.models import DeliveryAttempt, MessageState, OutboxMessage
from copa.outbox.signing import new_secret
from copa.periods import Quarter, today_london
from copa.routing.models import Channel
from tests.factories import PASSWORD, bearer, load_reference_data, signed_in, user_with_role
from tests.metrics.support import MIDDLEHAVEN, add_call_statistics, add_votes, at
from tests.outbox.support import make_partner, make_referrals

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


# --- shared helpers -------------------------------------------------------------------------


def csrf_of(html: str) -> str:
    match = CSRF.search(html)
    assert match, "the page has no form with a CSRF token"
    return match.group(1)


def sign_in(client, app, role: str):
    user = user_with_role(app, role)
    form = client.get("/console/login").get_data(as_text=True)
    response = client.post(
        "/console/login",
        data={"email": user.email, "password": PASSWORD, "csrf_token": csrf_of(form)},
    )
    assert response.status_code == 303, response.get_data(as_text=True)
    return user


def submit(client, page: str, action: str, data: dict, **kwargs):
    """Open ``page`` and post ``data`` to ``action`` with the page's CSRF token, as a browser
    submitting one of its forms would."""
    token = csrf_of(client.get(page).get_data(as_text=True))
    return client.post(action, data={**data, "csrf_token": token}, **kwargs)


def text_of(response) -> str:
    return response.get_data(as_text=True)


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def assert_sent_to_sign_in(response, path: str) -> None:
    assert response.status_code == 303
    assert response.headers["Location"].startswith("/console/login")
    assert path.split("?")[0] in response.headers["Location"]


@pytest.fixture
def cleveland(app):
    load_reference_data(app)


# --- dead-letter deliveries -----------------------------------------------------------------


def make_delivery(app, state: str = MessageState.DEAD) -> tuple[str, str]:
    """A referral's webhook message that ran out of attempts (or in ``state``): its id and
    its partner's name. Nothing is sent anywhere: the attempts are written as the relay would."""
    with app.app_context():
        partner = make_partner(
            channel=Channel.WEBHOOK,
            endpoint_url="https://partner.example/hooks",
            webhook_secrets=[new_secret()],
        )
        make_referrals(partner)
        message = db.session.scalar(
            sa.select(OutboxMessage).where(OutboxMessage.partner_id == partner.id)
        )
        message.state = state
        message.attempts = 10
        message.last_error = "500: down for maintenance"
        db.session.add(
            DeliveryAttempt(
                message=message,
                attempted_at=utcnow(),
                duration_ms=12,
                status_code=500,
                error="500: down for maintenance",
                outcome="dead",
            )
        )
        if state == MessageState.DELIVERED:
            message.delivered_at = utcnow()
        db.session.commit()
        return str(message.id), partner.name


def message_state(app, message_id: str) -> tuple[str, int]:
    with app.app_context():
        message = db.session.get(OutboxMessage, uuid.UUID(message_id))
        return message.state, message.attempts


@pytest.mark.parametrize("role", ["reviewer", "admin"])
def test_a_dead_letter_is_listed_and_retried_back_to_pending(app, client, role):
    message_id, partner_name = make_delivery(app)
    sign_in(client, app, role)

    listed = client.get("/console/deliveries")
    html = text_of(listed)
    assert listed.status_code == 200
    row = html[html.index(f'id="delivery-{message_id}"') :]
    row = row[: row.index("</tr>")]
    assert partner_name in row and "Referral created" in row
    assert "<td>10</td>" in row and "500: down for maintenance" in row
    assert f'action="/console/deliveries/{message_id}/retry"' in row
    assert "Retry" in row

    retried = submit(
        client,
        "/console/deliveries",
        f"/console/deliveries/{message_id}/retry",
        {"state": "dead"},
    )

    assert retried.status_code == 303
    assert retried.headers["Location"] == "/console/deliveries?state=dead"
    assert message_state(app, message_id) == (MessageState.PENDING, 0)
    with app.app_context():
        audited = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "delivery.retry")
        )
    assert audited == 1
    after = text_of(client.get(retried.headers["Location"]))
    assert "will be sent again" in after and partner_name in after
    assert f'id="delivery-{message_id}"' not in after  # no longer a dead letter
    assert "No deliveries in this state." in after
    pending = text_of(client.get("/console/deliveries?state=pending"))
    assert f'id="delivery-{message_id}"' in pending


def test_after_a_retry_the_attempt_count_still_counts_the_attempts_made(app, client):
    message_id, _ = make_delivery(app)
    with app.app_context():
        message = db.session.get(OutboxMessage, uuid.UUID(message_id))
        message.attempts = 3
        for _ in range(2):  # three attempts in its log in all
            db.session.add(
                DeliveryAttempt(
                    message=message,
                    attempted_at=utcnow(),
                    duration_ms=12,
                    status_code=500,
                    error="500: down for maintenance",
                    outcome="retry",
                )
            )
        db.session.commit()
    sign_in(client, app, "reviewer")
    submit(client, "/console/deliveries", f"/console/deliveries/{message_id}/retry", {})
    pending = text_of(client.get("/console/deliveries?state=pending"))
    row = pending[pending.index(f'id="delivery-{message_id}"') :]
    row = row[: row.index("</tr>")]
    assert "<td>3 (0 since the last retry)</td>" in row  # never "0" above three attempts


def test_the_deliveries_page_shows_dead_letters_unless_another_state_is_chosen(app, client):
    dead_id, _ = make_delivery(app)
    delivered_id, _ = make_delivery(app, MessageState.DELIVERED)
    sign_in(client, app, "reviewer")

    default = text_of(client.get("/console/deliveries"))
    delivered = text_of(client.get("/console/deliveries?state=delivered"))
    everything = text_of(client.get("/console/deliveries?state="))

    assert f"delivery-{dead_id}" in default and f"delivery-{delivered_id}" not in default
    assert f"delivery-{delivered_id}" in delivered and f"delivery-{dead_id}" not in delivered
    assert f"delivery-{dead_id}" in everything and f"delivery-{delivered_id}" in everything
    # A delivered message offers no retry.
    row = delivered[delivered.index(f'id="delivery-{delivered_id}"') :]
    assert "Retry" not in row[: row.index("</tr>")]


def test_a_delivered_message_is_not_retried(app, client):
    message_id, _ = make_delivery(app, MessageState.DELIVERED)
    sign_in(client, app, "reviewer")

    response = submit(client, "/console/deliveries", f"/console/deliveries/{message_id}/retry", {})

    assert response.status_code == 409
    assert "This message was delivered already." in text_of(response)
    assert message_state(app, message_id) == (MessageState.DELIVERED, 10)


def test_an_unknown_state_filter_is_shown_as_an_error(app, client):
    sign_in(client, app, "reviewer")

    response = client.get("/console/deliveries?state=lost")

    assert response.status_code == 400
    assert 'role="alert"' in text_of(response) and "Must be one of" in text_of(response)


@pytest.mark.parametrize("role", ["analyst", "resolution"])
def test_other_roles_cannot_see_or_retry_deliveries(app, client, role):
    message_id, partner_name = make_delivery(app)
    sign_in(client, app, role)

    listed = client.get("/console/deliveries")
    token = csrf_of(text_of(client.get("/console/login")))
    retried = client.post(f"/console/deliveries/{message_id}/retry", data={"csrf_token": token})

    assert listed.status_code == 403 and partner_name not in text_of(listed)
    assert retried.status_code == 403
    assert message_state(app, message_id) == (MessageState.DEAD, 10)


def test_anonymous_visitors_are_sent_to_sign_in_for_deliveries(app, client):
    message_id, _ = make_delivery(app)

    assert_sent_to_sign_in(client.get("/console/deliveries"), "/console/deliveries")
    token = csrf_of(text_of(client.get("/console/login")))
    retried = client.post(f"/console/deliveries/{message_id}/retry", data={"csrf_token": token})
    assert_sent_to_sign_in(retried, f"/console/deliveries/{message_id}/retry")
    assert message_state(app, message_id) == (MessageState.DEAD, 10)


# --- counter tallies ------------------------------------------------------------------------

MELA = {
    "event_name": "Middlesbrough Mela",
    "event_date": "2025-07-12",
    "area": MIDDLEHAVEN,
    "counts.not_at_all_confident": "1",
    "counts.not_very_confident": "2",
    "counts.neither": "3",
    "counts.quite_confident": "14",
    "counts.very_confident": "5",
}


@pytest.mark.parametrize("role", ["reviewer", "analyst", "admin"])
def test_a_tally_is_recorded_and_listed(app, client, cleveland, role):
    user = sign_in(client, app, role)

    response = submit(client, "/console/tallies", "/console/tallies", MELA)

    assert response.status_code == 303 and response.headers["Location"] == "/console/tallies"
    with app.app_context():
        (tally,) = db.session.scalars(sa.select(Tally)).all()
        stored = (
            tally.event_name,
            tally.event_date,
            tally.area_code,
            (tally.fiscal_year, tally.fiscal_quarter),
            tally.entered_by,
        )
        counts = [
            tally.not_at_all_confident,
            tally.not_very_confident,
            tally.neither,
            tally.quite_confident,
            tally.very_confident,
        ]
    assert stored == ("Middlesbrough Mela", date(2025, 7, 12), MIDDLEHAVEN, (2025, 2), user.id)
    assert counts == [1, 2, 3, 14, 5]
    listed = text_of(client.get("/console/tallies"))
    assert "Saved: 25 counters from Middlesbrough Mela (2025/26 Q2)." in listed
    table = listed[listed.index('id="tallies"') :]
    assert "Middlesbrough Mela" in table and "Middlehaven (E05001497)" in table
    assert "2025/26 Q2" in table and "<td>25</td>" in table


def test_the_tally_form_labels_each_count_with_the_question_s_options(app, client):
    sign_in(client, app, "reviewer")

    html = text_of(client.get("/console/tallies"))

    for key, label in [
        ("not_at_all_confident", "Not at all confident"),
        ("not_very_confident", "Not very confident"),
        ("neither", "Neither"),
        ("quite_confident", "Quite confident"),
        ("very_confident", "Very confident"),
    ]:
        assert f'<label for="counts-{key}">{label}</label>' in html
        assert f'id="counts-{key}" name="counts.{key}"' in html
    assert "How confident are you in policing in your area?" in html
    for field, label in [("event_name", "Event name"), ("event_date", "Event date")]:
        assert f'<label for="{field}">{label}</label>' in html


@pytest.mark.parametrize(
    ("change", "field_id", "message"),
    [
        (
            {f"counts.{key}": "0" for key in ("not_at_all_confident", "not_very_confident")}
            | {f"counts.{key}": "0" for key in ("neither", "quite_confident", "very_confident")},
            "counts",
            "At least one count must be more than 0.",
        ),
        ({"counts.neither": "three"}, "counts-neither", "Not a valid integer."),
        ({"counts.neither": "-1"}, "counts-neither", "greater than or equal to 0"),
        ({"event_name": ""}, "event_name", "Missing data for required field."),
        (
            {"event_date": (today_london() + timedelta(days=1)).isoformat()},
            "event_date",
            "Must not be in the future.",
        ),
        ({"area": "Middlehaven"}, "area", "Not a ward or local authority code."),
        ({"area": "E05999999"}, "area", "Not a known ward or local authority code."),
    ],
)
def test_a_bad_tally_is_shown_again_with_the_field_error(
    app, client, cleveland, change, field_id, message
):
    sign_in(client, app, "analyst")

    response = submit(client, "/console/tallies", "/console/tallies", {**MELA, **change})

    html = text_of(response)
    assert response.status_code == 422
    assert 'role="alert"' in html and "The tally was not saved" in html
    assert f'<p class="error" id="{field_id}-error">' in html
    error = html[html.index(f'id="{field_id}-error"') :]
    assert message in error[: error.index("</p>")]
    assert f'aria-describedby="{field_id}-error"' in html
    assert 'value="Middlesbrough Mela"' in html or change.get("event_name") == ""
    assert count(app, Tally) == 0


def test_other_roles_cannot_enter_tallies(app, client, cleveland):
    sign_in(client, app, "resolution")

    listed = client.get("/console/tallies")
    token = csrf_of(text_of(client.get("/console/login")))
    posted = client.post("/console/tallies", data={**MELA, "csrf_token": token})

    assert listed.status_code == 403 and posted.status_code == 403
    assert count(app, Tally) == 0


def test_anonymous_visitors_are_sent_to_sign_in_for_tallies(app, client, cleveland):
    assert_sent_to_sign_in(client.get("/console/tallies"), "/console/tallies")
    token = csrf_of(text_of(client.get("/console/login")))
    posted = client.post("/console/tallies", data={**MELA, "csrf_token": token})
    assert_sent_to_sign_in(posted, "/console/tallies")
    assert count(app, Tally) == 0


# --- 101 call statistics --------------------------------------------------------------------

QUARTER = {
    "fiscal_year": "2025",
    "quarter": "2",
    "non_emergency_calls": "52104",
    "answered_within_2_minutes_percent": "84.6",
    "average_wait_seconds": "95",
    "emergency_calls": "",
    "emergency_answered_within_10_seconds_percent": "",
    "average_handling_seconds": "",
}
TABLE = (
    "Measure,2024/25 Q1,2024/25 Q2,2024/25 Q3\n"
    'Non-999 calls received,"52,104",61000,58012\n'
    "% answered within 2 minutes,67.9%,71.2,84.6%\n"
    "Average wait (seconds),95,80,41\n"
    "999 calls received,,,\n"
    "% 999 answered within 10 seconds,,,\n"
)


def stored_quarters(app) -> dict[str, tuple]:
    with app.app_context():
        rows = db.session.scalars(sa.select(CallStatistics)).all()
        return {
            Quarter(row.fiscal_year, row.fiscal_quarter).label: (
                row.non_emergency_calls,
                row.answered_within_2_minutes_percent,
                row.average_wait_seconds,
                row.emergency_calls,
            )
            for row in rows
        }


@pytest.mark.parametrize("role", ["analyst", "admin"])
def test_a_quarter_s_call_statistics_are_saved_and_listed(app, client, role):
    sign_in(client, app, role)

    response = submit(client, "/console/call-statistics", "/console/call-statistics", QUARTER)

    assert response.status_code == 303
    assert response.headers["Location"] == "/console/call-statistics"
    assert stored_quarters(app) == {"2025/26 Q2": (52104, 84.6, 95, None)}
    listed = text_of(client.get("/console/call-statistics"))
    assert "Saved the figures of 2025/26 Q2." in listed
    row = listed[listed.index('id="quarter-2025-q2"') :]
    row = row[: row.index("</tr>")]
    assert "2025/26 Q2" in row and "52,104" in row and "84.6%" in row and "<td>95</td>" in row


def test_setting_a_quarter_again_replaces_its_figures(app, client):
    sign_in(client, app, "analyst")
    submit(client, "/console/call-statistics", "/console/call-statistics", QUARTER)

    again = submit(
        client,
        "/console/call-statistics",
        "/console/call-statistics",
        {**QUARTER, "non_emergency_calls": "50000", "emergency_calls": "21000"},
    )

    assert again.status_code == 303
    assert stored_quarters(app) == {"2025/26 Q2": (50000, 84.6, 95, 21000)}
    assert "Replaced the figures of 2025/26 Q2." in text_of(client.get(again.headers["Location"]))


def test_the_call_statistics_form_labels_each_measure(app, client):
    sign_in(client, app, "analyst")

    html = text_of(client.get("/console/call-statistics"))

    assert '<label for="non_emergency_calls">Non-999 calls received</label>' in html
    assert '<label for="emergency_calls">999 calls received (optional)</label>' in html
    assert '<label for="quarter">Quarter</label>' in html
    assert '<label for="file">CSV file</label>' in html


def test_a_csv_table_of_quarters_is_imported(app, client):
    sign_in(client, app, "analyst")
    token = csrf_of(text_of(client.get("/console/call-statistics")))

    response = client.post(
        "/console/call-statistics/import",
        data={"csrf_token": token, "file": (io.BytesIO(TABLE.encode()), "calls.csv")},
        content_type="multipart/form-data",
    )

    assert response.status_code == 303
    assert stored_quarters(app) == {
        "2024/25 Q1": (52104, 67.9, 95, None),
        "2024/25 Q2": (61000, 71.2, 80, None),
        "2024/25 Q3": (58012, 84.6, 41, None),
    }
    listed = text_of(client.get("/console/call-statistics"))
    assert "Imported 2024/25 Q1, 2024/25 Q2, 2024/25 Q3: 3 new, 0 replaced." in listed
    assert 'id="quarter-2024-q3"' in listed


def test_a_bad_csv_table_imports_nothing_and_names_the_cells(app, client):
    sign_in(client, app, "analyst")
    token = csrf_of(text_of(client.get("/console/call-statistics")))
    bad = TABLE.replace("61000", "lots")

    response = client.post(
        "/console/call-statistics/import",
        data={"csrf_token": token, "file": (io.BytesIO(bad.encode()), "calls.csv")},
        content_type="multipart/form-data",
    )

    html = text_of(response)
    assert response.status_code == 422
    assert 'role="alert"' in html and "nothing was imported" in html
    assert "2024/25 Q2 / Non-999 calls received: Not a number." in html
    assert stored_quarters(app) == {}


def test_an_import_without_a_file_asks_for_one(app, client):
    sign_in(client, app, "analyst")

    response = submit(client, "/console/call-statistics", "/console/call-statistics/import", {})

    assert response.status_code == 422 and "Choose a CSV file." in text_of(response)


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"non_emergency_calls": ""}, "non_emergency_calls", "Missing data for required field."),
        ({"non_emergency_calls": "52.5"}, "non_emergency_calls", "Not a valid integer."),
        (
            {"answered_within_2_minutes_percent": "101"},
            "answered_within_2_minutes_percent",
            "Must be between 0 and 100.",
        ),
        ({"fiscal_year": "twenty"}, "fiscal_year", "Not a valid integer."),
        ({"quarter": "5"}, "quarter", "greater than or equal to 1 and less than or equal to 4"),
    ],
)
def test_bad_call_statistics_are_shown_again_with_the_field_error(
    app, client, change, field, message
):
    sign_in(client, app, "analyst")

    response = submit(
        client, "/console/call-statistics", "/console/call-statistics", {**QUARTER, **change}
    )

    html = text_of(response)
    assert response.status_code == 422
    assert "The figures were not saved" in html
    error = html[html.index(f'id="{field}-error"') :]
    assert message in error[: error.index("</p>")]
    assert f'aria-describedby="{field}-error"' in html
    assert stored_quarters(app) == {}


def test_a_quarter_that_has_not_started_is_refused(app, client):
    upcoming = Quarter.of(today_london()).next()
    sign_in(client, app, "analyst")

    response = submit(
        client,
        "/console/call-statistics",
        "/console/call-statistics",
        {**QUARTER, "fiscal_year": str(upcoming.fiscal_year), "quarter": str(upcoming.quarter)},
    )

    assert response.status_code == 422
    assert f"{upcoming.label} has not started yet." in text_of(response)
    assert stored_quarters(app) == {}


@pytest.mark.parametrize("role", ["reviewer", "resolution"])
def test_other_roles_cannot_enter_call_statistics(app, client, role):
    sign_in(client, app, role)

    listed = client.get("/console/call-statistics")
    token = csrf_of(text_of(client.get("/console/login")))
    posted = client.post("/console/call-statistics", data={**QUARTER, "csrf_token": token})
    imported = client.post(
        "/console/call-statistics/import",
        data={"csrf_token": token, "file": (io.BytesIO(TABLE.encode()), "calls.csv")},
        content_type="multipart/form-data",
    )

    assert (listed.status_code, posted.status_code, imported.status_code) == (403, 403, 403)
    assert stored_quarters(app) == {}


def test_anonymous_visitors_are_sent_to_sign_in_for_call_statistics(app, client):
    assert_sent_to_sign_in(client.get("/console/call-statistics"), "/console/call-statistics")
    token = csrf_of(text_of(client.get("/console/login")))
    posted = client.post("/console/call-statistics", data={**QUARTER, "csrf_token": token})
    assert_sent_to_sign_in(posted, "/console/call-statistics")
    assert stored_quarters(app) == {}


# --- the quarterly report -------------------------------------------------------------------


@pytest.fixture
def arranged(app, cleveland):
    """Votes and 101 figures in 2024/25 Q2 and 2025/26 Q2."""
    add_votes(app, {"quite_confident": 6, "neither": 3, "not_very_confident": 1}, at(2024, 8, 1))
    add_votes(
        app,
        {"quite_confident": 30, "very_confident": 15, "neither": 30}
        | {"not_very_confident": 15, "not_at_all_confident": 10},
        at(2025, 8, 1),
    )
    add_call_statistics(app, 2024, 2, 55000, 67.9, 115)
    add_call_statistics(app, 2025, 2, 51920, 84.6, 95)


def api_report(app, client, accept: str = "application/json"):
    headers = bearer(signed_in(app, client, "analyst")["access_token"])
    response = client.get(
        "/v1/pcc-report",
        query_string={"year": 2025, "quarter": 2},
        headers={**headers, "Accept": accept},
    )
    assert response.status_code == 200
    return response


def quarter_row(section: dict, label: str) -> dict:
    (row,) = [row for row in section["quarters"] if row["label"] == label]
    return row


@pytest.mark.parametrize("role", ["analyst", "admin"])
def test_the_report_page_shows_the_report_s_numbers_and_charts(app, client, arranged, role):
    sign_in(client, app, role)

    response = client.get("/console/pcc-report?year=2025&quarter=2")

    html = text_of(response)
    assert response.status_code == 200
    body = api_report(app, client).get_json()
    confidence = quarter_row(body["public_confidence"], "2025/26 Q2")
    calls = quarter_row(body["demand_reduction"], "2025/26 Q2")["call_statistics"]
    assert confidence["percent_confident"] == 45.0  # 45 of 100 answers, from the arrangement
    assert (
        'data-measure="percent_confident" data-breakdown="" data-quarter="2025/26 Q2" '
        f'data-value="{confidence["percent_confident"]}"'
    ) in html
    assert (
        'data-measure="call_statistics.non_emergency_calls" data-breakdown="" '
        f'data-quarter="2025/26 Q2" data-value="{calls["non_emergency_calls"]}"'
    ) in html
    assert "51,920" in html and "45.0%" in html
    assert html.count('<svg xmlns="http://www.w3.org/2000/svg" class="chart"') >= 4
    assert "Public confidence" in html and "Partner performance" in html


def test_the_report_page_keeps_the_console_s_content_security_policy(app, client, arranged):
    sign_in(client, app, "analyst")

    response = client.get("/console/pcc-report?year=2025&quarter=2")

    html = text_of(response)
    policy = response.headers["Content-Security-Policy"]
    assert "style-src 'self'" in policy and "unsafe-inline" not in policy
    # Nothing the policy would block: no inline <style>, no style attributes, no scripts.
    assert "<style" not in html and " style=" not in html and "<script" not in html
    # The report's layout comes from a stylesheet the app serves.
    assert 'href="/console/static/pcc_report.css"' in html
    stylesheet = client.get("/console/static/pcc_report.css")
    assert stylesheet.status_code == 200 and stylesheet.mimetype == "text/css"
    assert ".pcc-report svg.chart" in text_of(stylesheet)
    # One page: the console's own heading, then the report's headings one level below.
    assert html.count("<h1") == 1 and "<main>" not in html.split('id="main"')[1]


def test_the_csv_link_downloads_the_report_as_an_attachment(app, client, arranged):
    sign_in(client, app, "analyst")
    html = text_of(client.get("/console/pcc-report?year=2025&quarter=2"))
    link = re.search(r'<a href="([^"]+)" id="report-csv"[^>]*>Download CSV</a>', html)
    assert link, "the report page links its CSV"

    response = client.get(link.group(1).replace("&amp;", "&"))

    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="pcc-report-2025-26-q2.csv"'
    )
    text = text_of(response)
    cells = {
        (row["section"], row["measure"], row["breakdown"], row["quarter"]): row["value"]
        for row in csv.DictReader(io.StringIO(text))
    }
    body = api_report(app, client).get_json()
    confidence = quarter_row(body["public_confidence"], "2025/26 Q2")
    baseline = quarter_row(body["public_confidence"], "2024/25 Q2")
    calls = quarter_row(body["demand_reduction"], "2025/26 Q2")["call_statistics"]
    key = ("public_confidence", "percent_confident", "", "2025/26 Q2")
    assert cells[key] == str(confidence["percent_confident"]) == "45.0"
    assert cells[("public_confidence", "n", "", "2025/26 Q2")] == str(confidence["n"]) == "100"
    assert cells[("public_confidence", "n", "", "2024/25 Q2")] == str(baseline["n"]) == "10"
    measure = "call_statistics.non_emergency_calls"
    assert cells[("demand_reduction", measure, "", "2025/26 Q2")] == str(
        calls["non_emergency_calls"]
    )
    # The same document the API answers with Accept: text/csv.
    assert text == text_of(api_report(app, client, "text/csv"))


def test_the_report_page_without_a_quarter_offers_the_form(app, client):
    sign_in(client, app, "analyst")

    response = client.get("/console/pcc-report")

    html = text_of(response)
    assert response.status_code == 200
    assert '<label for="year">' in html and '<label for="quarter">Quarter</label>' in html
    assert '<label for="baseline_year">' in html and "Show report" in html
    assert "<svg" not in html and "Download CSV" not in html


@pytest.mark.parametrize(
    ("params", "status", "field", "message"),
    [
        ("year=twenty&quarter=2", 400, "year", "Not a valid integer."),
        ("year=2025&quarter=2&baseline_year=2025", 422, "baseline_year", "Must be before 2025."),
    ],
)
def test_a_bad_report_request_shows_the_field_error(
    app, client, cleveland, params, status, field, message
):
    sign_in(client, app, "analyst")

    response = client.get(f"/console/pcc-report?{params}")

    html = text_of(response)
    assert response.status_code == status
    assert 'role="alert"' in html and "The report was not made" in html
    error = html[html.index(f'id="{field}-error"') :]
    assert message in error[: error.index("</p>")]
    assert "<svg" not in html


def test_a_quarter_that_has_not_started_has_no_report(app, client, cleveland):
    upcoming = Quarter.of(today_london()).next()
    sign_in(client, app, "analyst")
    query = f"year={upcoming.fiscal_year}&quarter={upcoming.quarter}"

    page = client.get(f"/console/pcc-report?{query}")
    download = client.get(f"/console/pcc-report.csv?{query}")

    assert page.status_code == 422 and "not started yet" in text_of(page)
    assert download.status_code == 422 and download.mimetype == "text/html"


@pytest.mark.parametrize("role", ["reviewer", "resolution"])
def test_other_roles_cannot_read_the_report(app, client, arranged, role):
    sign_in(client, app, role)

    page = client.get("/console/pcc-report?year=2025&quarter=2")
    download = client.get("/console/pcc-report.csv?year=2025&quarter=2")

    assert page.status_code == 403 and "<svg" not in text_of(page)
    assert download.status_code == 403 and download.mimetype == "text/html"


def test_anonymous_visitors_are_sent_to_sign_in_for_the_report(app, client, arranged):
    assert_sent_to_sign_in(
        client.get("/console/pcc-report?year=2025&quarter=2"), "/console/pcc-report"
    )
    assert_sent_to_sign_in(
        client.get("/console/pcc-report.csv?year=2025&quarter=2"), "/console/pcc-report.csv"
    )


def test_a_tally_form_sent_twice_is_saved_once(app, client, cleveland):
    """A double click on "Save tally": the same rendered form (its form_key) arrives twice."""
    sign_in(client, app, "reviewer")
    html = client.get("/console/tallies").get_data(as_text=True)
    form = {
        **MELA,
        "csrf_token": csrf_of(html),
        "form_key": re.search(r'name="form_key" value="([^"]+)"', html).group(1),
    }
    first = client.post("/console/tallies", data=form)
    again = client.post("/console/tallies", data=form)
    assert first.status_code == again.status_code == 303
    assert again.headers["Location"] == first.headers["Location"]
    assert count(app, Tally) == 1
    # The next form rendered is a new one: a second tally is a second tally.
    assert submit(client, "/console/tallies", "/console/tallies", MELA).status_code == 303
    assert count(app, Tally) == 2
