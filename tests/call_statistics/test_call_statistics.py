"""The force's 101 call statistics: staff set a quarter's figures, correct them, list them and
import a table of quarters in the seed performance report's shape (DOMAIN.md "Demand
reduction")."""

from __future__ import annotations

import io

import pytest
import sqlalchemy as sa

from copa.audit.models import AuditEvent
from copa.call_statistics.models import CallStatistics
from copa.db import db
from copa.periods import Quarter, today_london
from tests.factories import bearer, signed_in, table_counts

URL = "/v1/staff/call-stats"
IMPORT_URL = "/v1/staff/call-stats/import"
PROBLEM_JSON = "application/problem+json"
FIGURES = {
    "fiscal_year": 2024,
    "quarter": 1,
    "non_emergency_calls": 52104,
    "answered_within_2_minutes_percent": 67.9,
    "average_wait_seconds": 95,
}
SEED_TABLE = (
    "Measure,2024/25 Q1,2024/25 Q2,2024/25 Q3\n"
    'Non-999 calls received,"52,104",61000,58012\n'
    "% answered within 2 minutes,67.9%,71.2,84.6%\n"
    "Average wait (seconds),95,80,41\n"
    "999 calls received,,,\n"
    "% 999 answered within 10 seconds,,,\n"
)


@pytest.fixture
def analyst(app, client):
    return bearer(signed_in(app, client, "analyst")["access_token"])


def set_figures(client, headers, body=None, key=None, **overrides):
    extra = {"Idempotency-Key": key} if key else {}
    return client.post(URL, json=body or {**FIGURES, **overrides}, headers={**headers, **extra})


def import_table(client, headers, table: str | bytes, key=None, content_type="text/csv"):
    data = table.encode() if isinstance(table, str) else table
    extra = {"Idempotency-Key": key} if key else {}
    return client.post(
        IMPORT_URL, data=data, content_type=content_type, headers={**headers, **extra}
    )


def audit_events(app, action="call_statistics.set") -> list[AuditEvent]:
    with app.app_context():
        return list(
            db.session.scalars(
                sa.select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.at)
            )
        )


def stored(app) -> int:
    return table_counts(app, CallStatistics)["call_statistics"]


def next_quarter() -> Quarter:
    return Quarter.of(today_london()).next()


# --- setting one quarter ------------------------------------------------------------------


@pytest.mark.parametrize("role", ["analyst", "admin"])
def test_staff_set_a_quarter_s_figures_and_it_is_audited(app, client, role):
    signed = signed_in(app, client, role)
    headers = bearer(signed["access_token"])

    response = set_figures(client, headers)

    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body == {
        "id": body["id"],
        "fiscal_year": 2024,
        "quarter": 1,
        "label": "2024/25 Q1",
        "non_emergency_calls": 52104,
        "answered_within_2_minutes_percent": 67.9,
        "average_wait_seconds": 95,
        "emergency_calls": None,
        "emergency_answered_within_10_seconds_percent": None,
        "average_handling_seconds": None,
        "entered_by": signed["user_id"],
        "created_at": body["created_at"],
        "updated_at": body["updated_at"],
    }
    assert response.headers["Location"].endswith(f"{URL}/{body['id']}")
    assert client.get(response.headers["Location"], headers=headers).get_json() == body
    (event,) = audit_events(app)
    assert str(event.target_id) == body["id"] and event.target_kind == "call_statistics"
    assert event.before is None
    assert event.after["quarter"] == "2024/25 Q1" and event.after["non_emergency_calls"] == 52104


def test_setting_a_quarter_again_replaces_its_figures(app, client, analyst):
    first = set_figures(
        client, analyst, emergency_calls=21000, average_handling_seconds=300
    ).get_json()

    response = set_figures(client, analyst, non_emergency_calls=52140, average_wait_seconds=93)

    assert response.status_code == 200, response.get_json()
    assert "Location" not in response.headers
    body = response.get_json()
    assert body["id"] == first["id"]
    assert body["non_emergency_calls"] == 52140 and body["average_wait_seconds"] == 93
    # A correction is the quarter's whole set of figures: optional ones left out are cleared.
    assert body["emergency_calls"] is None and body["average_handling_seconds"] is None
    assert stored(app) == 1
    created, replaced = audit_events(app)
    assert replaced.before["non_emergency_calls"] == 52104
    assert replaced.before["emergency_calls"] == 21000
    assert replaced.after["non_emergency_calls"] == 52140
    assert replaced.after["emergency_calls"] is None


def test_the_optional_999_and_handling_figures_are_stored_when_given(app, client, analyst):
    response = set_figures(
        client,
        analyst,
        emergency_calls=21450,
        emergency_answered_within_10_seconds_percent=91.5,
        average_handling_seconds=312,
    )

    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["emergency_calls"] == 21450
    assert body["emergency_answered_within_10_seconds_percent"] == 91.5
    assert body["average_handling_seconds"] == 312


def test_the_current_quarter_can_be_set_but_not_one_that_has_not_started(app, client, analyst):
    current, upcoming = Quarter.of(today_london()), next_quarter()

    allowed = set_figures(client, analyst, fiscal_year=current.fiscal_year, quarter=current.quarter)
    refused = set_figures(
        client, analyst, fiscal_year=upcoming.fiscal_year, quarter=upcoming.quarter
    )
    next_year = set_figures(client, analyst, fiscal_year=current.fiscal_year + 1, quarter=4)

    assert allowed.status_code == 201, allowed.get_json()
    assert refused.status_code == 422
    assert refused.mimetype == PROBLEM_JSON
    field = "quarter" if upcoming.fiscal_year == current.fiscal_year else "fiscal_year"
    assert refused.get_json()["errors"] == {field: [f"{upcoming.label} has not started yet."]}
    assert next_year.status_code == 422
    assert list(next_year.get_json()["errors"]) == ["fiscal_year"]
    assert stored(app) == 1


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("answered_within_2_minutes_percent", 100.5, "Must be between 0 and 100."),
        ("answered_within_2_minutes_percent", -1, "Must be between 0 and 100."),
        ("emergency_answered_within_10_seconds_percent", 250, "Must be between 0 and 100."),
        ("non_emergency_calls", 10_000_001, "Must be between 0 and 10,000,000."),
        ("emergency_calls", -5, "Must be between 0 and 10,000,000."),
        ("average_wait_seconds", 86_401, "Must be between 0 and 86,400."),
        ("average_handling_seconds", -1, "Must be between 0 and 86,400."),
        ("average_wait_seconds", 95.5, "Not a valid integer."),
        ("non_emergency_calls", "52104", "Not a valid integer."),
        ("fiscal_year", 1999, "Must be greater than or equal to 2000"),
        ("fiscal_year", 10**15, "less than or equal to 9999"),
        ("quarter", 5, "Must be greater than or equal to 1 and less than or equal to 4."),
    ],
)
def test_implausible_figures_are_refused_naming_the_field(
    app, client, analyst, field, value, message
):
    response = set_figures(client, analyst, **{field: value})

    assert response.status_code == 422
    assert response.mimetype == PROBLEM_JSON
    errors = response.get_json()["errors"]
    assert list(errors) == [field]
    assert message in errors[field][0]
    assert stored(app) == 0


def test_missing_and_unknown_fields_are_refused(app, client, analyst):
    body = {k: v for k, v in FIGURES.items() if k != "average_wait_seconds"}

    response = set_figures(client, analyst, body={**body, "calls_avoided": 10})

    assert response.status_code == 422
    errors = response.get_json()["errors"]
    assert set(errors) == {"average_wait_seconds", "calls_avoided"}


@pytest.mark.parametrize("role", ["resident", "reviewer", "resolution", "partner"])
def test_only_analysts_and_admins_may_set_list_or_import(app, client, role):
    headers = bearer(signed_in(app, client, role)["access_token"])

    responses = [
        set_figures(client, headers),
        client.get(URL, headers=headers),
        import_table(client, headers, SEED_TABLE),
    ]

    assert [r.status_code for r in responses] == [403, 403, 403]
    assert stored(app) == 0


def test_anonymous_callers_are_asked_to_sign_in(app, client):
    assert client.post(URL, json=FIGURES).status_code == 401
    assert client.get(URL).status_code == 401
    assert client.post(IMPORT_URL, data=SEED_TABLE, content_type="text/csv").status_code == 401


def test_a_retried_set_with_the_same_key_is_stored_and_audited_once(app, client, analyst):
    first = set_figures(client, analyst, key="figures-2024-q1")
    again = set_figures(client, analyst, key="figures-2024-q1")

    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    assert stored(app) == 1 and len(audit_events(app)) == 1


# --- listing ------------------------------------------------------------------------------


def test_figures_are_listed_in_quarter_order_with_labels(app, client, analyst):
    for fiscal_year, quarter in [(2024, 3), (2023, 4), (2024, 1), (2023, 1)]:
        assert (
            set_figures(client, analyst, fiscal_year=fiscal_year, quarter=quarter).status_code
            == 201
        )

    everything = client.get(URL, headers=analyst).get_json()
    one_year = client.get(URL, query_string={"fiscal_year": 2024}, headers=analyst).get_json()
    second_page = client.get(URL, query_string={"page": 2, "page_size": 3}, headers=analyst)

    assert [item["label"] for item in everything["items"]] == [
        "2023/24 Q1",
        "2023/24 Q4",
        "2024/25 Q1",
        "2024/25 Q3",
    ]
    assert everything["total"] == 4
    assert [item["label"] for item in one_year["items"]] == ["2024/25 Q1", "2024/25 Q3"]
    assert one_year["total"] == 2
    assert [item["label"] for item in second_page.get_json()["items"]] == ["2024/25 Q3"]


def test_a_bad_list_filter_is_refused(app, client, analyst):
    response = client.get(URL, query_string={"fiscal_year": "last"}, headers=analyst)

    assert response.status_code == 422
    assert "fiscal_year" in response.get_json()["errors"]


def test_unknown_figures_are_404(app, client, analyst):
    response = client.get(f"{URL}/00000000-0000-4000-8000-000000000000", headers=analyst)

    assert response.status_code == 404
    assert response.mimetype == PROBLEM_JSON


# --- importing the seed report's table ----------------------------------------------------


def test_the_seed_report_s_table_is_imported_quarter_by_quarter(app, client, analyst):
    response = import_table(client, analyst, SEED_TABLE)

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["created"] == 3 and body["replaced"] == 0
    figures = [
        (
            q["label"],
            q["non_emergency_calls"],
            q["answered_within_2_minutes_percent"],
            q["average_wait_seconds"],
            q["emergency_calls"],
            q["emergency_answered_within_10_seconds_percent"],
        )
        for q in body["quarters"]
    ]
    assert figures == [
        ("2024/25 Q1", 52104, 67.9, 95, None, None),
        ("2024/25 Q2", 61000, 71.2, 80, None, None),
        ("2024/25 Q3", 58012, 84.6, 41, None, None),
    ]
    listed = client.get(URL, headers=analyst).get_json()
    assert listed["items"] == body["quarters"]
    assert sorted(e.after["quarter"] for e in audit_events(app)) == [
        "2024/25 Q1",
        "2024/25 Q2",
        "2024/25 Q3",
    ]


def test_an_import_replaces_quarters_already_entered(app, client, analyst):
    entered = set_figures(client, analyst, non_emergency_calls=50000).get_json()

    body = import_table(client, analyst, SEED_TABLE).get_json()

    assert body["created"] == 2 and body["replaced"] == 1
    q1 = body["quarters"][0]
    assert q1["id"] == entered["id"] and q1["non_emergency_calls"] == 52104
    assert stored(app) == 3
    corrected = [e for e in audit_events(app) if e.before is not None]
    assert len(corrected) == 1 and corrected[0].before["non_emergency_calls"] == 50000


def test_a_spreadsheet_s_export_is_understood(app, client, analyst):
    # A byte-order mark, quarter-first headings, other labels and case, spaces, a blank line,
    # a trailing empty column and the optional 999 figures.
    table = (
        "\ufeffMeasure , Q4 2023/24 ,Q1 2024/2025,\r\n"
        "\r\n"
        '  NON-EMERGENCY CALLS , 49 950 ," 52,104 ",\r\n'
        "Answered within 2 minutes, 54.0 % ,67.9%,\r\n"
        "average wait,140,95,\r\n"
        'Emergency calls,"20,001",,\r\n'
        "% 999 answered within 10 seconds,88.25%,,\r\n"
        "Average handling time,290,,\r\n"
    )

    response = import_table(client, analyst, table.encode("utf-8"))

    assert response.status_code == 200, response.get_json()
    q4, q1 = response.get_json()["quarters"]
    assert (q4["label"], q1["label"]) == ("2023/24 Q4", "2024/25 Q1")
    assert q4["non_emergency_calls"] == 49950 and q1["non_emergency_calls"] == 52104
    assert q4["answered_within_2_minutes_percent"] == 54.0
    assert q4["average_wait_seconds"] == 140
    assert q4["emergency_calls"] == 20001
    assert q4["emergency_answered_within_10_seconds_percent"] == 88.25
    assert q4["average_handling_seconds"] == 290
    assert q1["emergency_calls"] is None and q1["average_handling_seconds"] is None


def test_a_table_uploaded_as_a_form_file_is_imported(app, client, analyst):
    response = client.post(
        IMPORT_URL,
        data={"file": (io.BytesIO(SEED_TABLE.encode()), "performance.csv", "text/csv")},
        content_type="multipart/form-data",
        headers=analyst,
    )

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["created"] == 3


def test_a_form_without_the_file_is_refused(app, client, analyst):
    response = client.post(
        IMPORT_URL, data={"table": "x"}, content_type="multipart/form-data", headers=analyst
    )

    assert response.status_code == 422
    assert "file" in response.get_json()["errors"]


def test_bad_cells_are_named_and_nothing_is_imported(app, client, analyst):
    table = (
        "Measure,2024/25 Q1,2024/25 Q2,2024/25 Q3\n"
        'Non-999 calls received,"52,104",61000,"5,80,12"\n'
        "% answered within 2 minutes,67.9%,101,84.6%\n"
        "Average wait (seconds),95,about 80,41.5\n"
        "999 calls received,,12%,\n"
    )

    response = import_table(client, analyst, table)

    assert response.status_code == 422
    assert response.mimetype == PROBLEM_JSON
    assert response.get_json()["errors"] == {
        "2024/25 Q3 / Non-999 calls received": ["Not a number."],
        "2024/25 Q2 / % answered within 2 minutes": ["Must be between 0 and 100."],
        "2024/25 Q2 / Average wait (seconds)": ["Not a number."],
        "2024/25 Q3 / Average wait (seconds)": ["Must be a whole number."],
        "2024/25 Q2 / 999 calls received": ["Not a number."],
    }
    assert stored(app) == 0 and audit_events(app) == []


def test_unknown_measures_duplicate_quarters_and_missing_figures_are_refused(app, client, analyst):
    table = (
        "Measure,2024/25 Q1,Q1 2024/25,2024/25 Q5,2024/25 Q2\n"
        "Non-999 calls received,52104,52104,1,61000\n"
        "% answered within 2 minutes,67.9,67.9,1,\n"
        "Calls avoided,10,10,1,10\n"
    )

    response = import_table(client, analyst, table)

    assert response.status_code == 422
    errors = response.get_json()["errors"]
    assert errors["Q1 2024/25"] == [
        "Duplicate quarter: 2024/25 Q1 already has a column (2024/25 Q1)."
    ]
    assert errors["2024/25 Q5"] == ["Not a quarter: head it like 2024/25 Q1."]
    assert errors["2024/25 Q2 / % answered within 2 minutes"] == ["Required."]
    assert errors["Average wait (seconds)"] == ["Missing: the table needs this row."]
    assert errors["Calls avoided"][0].startswith("Unknown measure.")
    assert stored(app) == 0


def test_a_measure_given_twice_is_refused(app, client, analyst):
    table = SEED_TABLE + "Non-emergency calls,1,2,3\n"

    response = import_table(client, analyst, table)

    assert response.status_code == 422
    assert response.get_json()["errors"] == {
        "Non-emergency calls": ["The measure Non-999 calls received appears more than once."]
    }


def test_an_import_cannot_set_a_quarter_that_has_not_started(app, client, analyst):
    upcoming = next_quarter()
    table = (
        f"Measure,2024/25 Q1,{upcoming.label}\n"
        "Non-999 calls received,52104,60000\n"
        "% answered within 2 minutes,67.9,70\n"
        "Average wait (seconds),95,90\n"
    )

    response = import_table(client, analyst, table)

    assert response.status_code == 422
    assert response.get_json()["errors"] == {
        upcoming.label: [f"{upcoming.label} has not started yet."]
    }
    assert stored(app) == 0


@pytest.mark.parametrize(
    ("table", "errors"),
    [
        ("", {"file": ["Expected a header row and measures."]}),
        ("Measure\nNon-999 calls received\n", None),
        (b"Measure,2024/25 Q1\nNon-999 calls received,\xff\n", {"file": ["Save it as CSV UTF-8."]}),
    ],
)
def test_empty_or_undecodable_tables_are_refused(app, client, analyst, table, errors):
    response = import_table(client, analyst, table)

    assert response.status_code == 422
    if errors is not None:
        assert response.get_json()["errors"] == errors
    else:
        assert "file" in response.get_json()["errors"]


def test_a_table_over_256_kb_is_refused_with_413(app, client, analyst):
    big = SEED_TABLE + ("%" * 100 + "\n") * 2700  # a little over 256 KB

    response = import_table(client, analyst, big)
    as_file = client.post(
        IMPORT_URL,
        data={"file": (io.BytesIO(big.encode()), "big.csv", "text/csv")},
        content_type="multipart/form-data",
        headers=analyst,
    )

    assert response.status_code == 413
    assert response.mimetype == PROBLEM_JSON
    assert response.get_json()["errors"] == {"file": ["Must be at most 256 KB."]}
    assert as_file.status_code == 413
    assert stored(app) == 0


@pytest.mark.parametrize("content_type", ["application/json", "text/plain", "application/xml"])
def test_an_import_must_be_csv(app, client, analyst, content_type):
    response = import_table(client, analyst, SEED_TABLE, content_type=content_type)

    assert response.status_code == 415
    assert response.mimetype == PROBLEM_JSON
    assert "text/csv" in response.get_json()["detail"]


def test_a_retried_import_with_the_same_key_imports_once(app, client, analyst):
    first = import_table(client, analyst, SEED_TABLE, key="import-2024")
    again = import_table(client, analyst, SEED_TABLE, key="import-2024")
    other = import_table(client, analyst, SEED_TABLE.replace("95,", "96,"), key="import-2024")

    assert first.status_code == again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    assert other.status_code == 422
    assert len(audit_events(app)) == 3
