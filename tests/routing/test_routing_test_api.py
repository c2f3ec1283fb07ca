"""POST /v1/admin/routing-rules/test: where a report would go and by which rule, as routing
decides it for a real report, with nothing saved."""

from __future__ import annotations

import pytest

from copa.reports.models import Report
from copa.routing.models import Referral
from tests.factories import bearer, load_reference_data, signed_in, table_counts

URL = "/v1/admin/routing-rules/test"
ACKLAM = {"lat": 54.54418, "lon": -1.24703}  # Middlesbrough


@pytest.fixture
def admin(app, client):
    load_reference_data(app)
    return bearer(signed_in(app, client, "admin")["access_token"])


def test_a_large_load_goes_to_the_environment_agency_by_its_answer_rule(app, client, admin):
    before = table_counts(app, Report, Referral)
    response = client.post(
        URL,
        json={"category_code": "fly_tipping", "location": ACKLAM, "answers": {"size": "large"}},
        headers=admin,
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["destination_name"] == "Environment Agency"
    assert body["rule"]["answer_code"] == "size" and body["outcome"] == "referred_to_partner"
    assert body["local_authority_code"] == "E06000002"
    chosen = [check for check in body["checks"] if check["chosen"]]
    assert [check["rule"]["id"] for check in chosen] == [body["rule"]["id"]]
    outweighed = [c for c in body["checks"] if c["matched"] and not c["chosen"]]
    assert [c["rule"]["area_code"] for c in outweighed] == ["E06000002"]
    assert table_counts(app, Report, Referral) == before  # nothing written


def test_with_no_matching_rule_the_report_would_wait_for_opcc_staff(client, admin):
    response = client.post(URL, json={"category_code": "fly_tipping"}, headers=admin)
    body = response.get_json()
    assert response.status_code == 200, body
    assert body["rule"] is None and body["destination_kind"] == "unrouted"
    assert "OPCC staff" in body["destination_name"]


def test_an_unknown_category_or_area_is_refused_naming_the_field(client, admin):
    response = client.post(URL, json={"category_code": "nope"}, headers=admin)
    assert response.status_code == 422 and "category_code" in response.get_json()["errors"]
    response = client.post(
        URL, json={"category_code": "fly_tipping", "area_code": "E0000000X"}, headers=admin
    )
    assert response.status_code == 422 and "area_code" in response.get_json()["errors"]
