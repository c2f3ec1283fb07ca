"""ACCEPTANCE: the signposts a resident is offered with a report, a question or feedback are the
ones for what they said and where: a Hartlepool resident reporting fly-tipping is pointed to
Hartlepool's own page, not Stockton's."""

from __future__ import annotations

from tests.factories import bearer, signed_in
from tests.signposts.support import (
    HARTLEPOOL_PAGE,
    LIST,
    LONDON,
    PROBLEM_JSON,
    STOCKTON_PAGE,
    VICTORIA,
    codes,
    listed,
)

STOCKTON_POINT = {"lat": 54.5700, "lon": -1.3200}  # Stockton-on-Tees, ward E05001541


def report(client, resident, **overrides):
    body = {
        "category": "fly_tipping",
        "description": "Mattresses and bin bags dumped in the back lane.",
        "location": VICTORIA,
        "answers": {"size": "small"},
        **overrides,
    }
    return client.post("/v1/reports", json=body, headers=resident)


def offered(body: dict) -> list[str]:
    return [signpost["code"] for signpost in body["signposts"]]


def test_a_hartlepool_resident_reporting_fly_tipping_is_offered_hartlepools_page(
    client, cleveland, resident
):
    response = report(client, resident)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert offered(body) == [HARTLEPOOL_PAGE]
    page = body["signposts"][0]
    assert page["url"] == "https://www.hartlepool.gov.uk/report"
    assert page["local_authority"]["code"] == "E06000001"
    # Read back, the report offers the same.
    again = client.get(f"/v1/reports/{body['id']}", headers=resident).get_json()
    assert offered(again) == [HARTLEPOOL_PAGE]


def test_a_stockton_resident_reporting_fly_tipping_is_offered_stocktons_page(
    client, cleveland, resident
):
    response = report(client, resident, location=STOCKTON_POINT)
    assert response.status_code == 201, response.get_json()
    assert offered(response.get_json()) == [STOCKTON_PAGE]


def test_the_list_for_a_hartlepool_point_and_fly_tipping_is_hartlepools_page(client, cleveland):
    assert listed(client, category="fly_tipping", **VICTORIA) == [HARTLEPOOL_PAGE]
    assert listed(client, category="fly_tipping", **STOCKTON_POINT) == [STOCKTON_PAGE]


def test_a_point_outside_cleveland_is_refused_for_the_list_as_for_a_report(
    client, cleveland, resident
):
    for_report = report(client, resident, location=LONDON)
    for_list = client.get(LIST, query_string={"category": "fly_tipping", **LONDON})
    assert for_report.status_code == for_list.status_code == 422
    assert for_report.mimetype == for_list.mimetype == PROBLEM_JSON
    assert for_list.get_json()["type"] == for_report.get_json()["type"]
    assert for_list.get_json()["errors"] == {"lat": ["Outside the Cleveland police force area."]}


def test_a_question_names_online_crime_reporting(client, cleveland, resident):
    response = client.post(
        "/v1/reports",
        json={"category": "question", "description": "How do I report a burglary from last week?"},
        headers=resident,
    )
    assert response.status_code == 201, response.get_json()
    signposts = response.get_json()["signposts"]
    assert "report-crime-online" in [s["code"] for s in signposts]
    assert {s["topic"] for s in signposts} == {"report_crime_online"}


def test_a_report_signposted_elsewhere_names_its_councils_page(app, client, cleveland, resident):
    response = report(
        client,
        resident,
        category="speeding",
        description="Cars racing down the road every night.",
        answers={},
    )
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert offered(body) == []  # speeding has no signposts of its own
    reviewer = bearer(signed_in(app, client, "reviewer")["access_token"])
    moved = client.post(
        f"/v1/staff/reports/{body['id']}/transitions",
        json={"to": "closed", "outcome": "signposted", "public_note": "A matter for the council."},
        headers=reviewer,
    )
    assert moved.status_code == 200, moved.get_json()

    again = client.get(f"/v1/reports/{body['id']}", headers=resident).get_json()
    assert again["status"] == "closed"
    assert offered(again) == [HARTLEPOOL_PAGE]


def test_a_signposted_report_with_signposts_of_its_category_keeps_those(
    app, client, cleveland, resident
):
    body = report(client, resident, category="asb", description="Shouting.", answers={})
    assert body.status_code == 201, body.get_json()
    before = offered(body.get_json())
    assert before and HARTLEPOOL_PAGE not in before
    reviewer = bearer(signed_in(app, client, "reviewer")["access_token"])
    moved = client.post(
        f"/v1/staff/reports/{body.get_json()['id']}/transitions",
        json={"to": "closed", "outcome": "signposted", "public_note": "Not for us."},
        headers=reviewer,
    )
    assert moved.status_code == 200, moved.get_json()
    again = client.get(f"/v1/reports/{body.get_json()['id']}", headers=resident).get_json()
    assert offered(again) == before


def give(client, resident, kind: str, **extra):
    response = client.post(
        "/v1/feedback",
        json={"kind": kind, "text": "About last Tuesday.", **extra},
        headers=resident,
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_dissatisfaction_names_the_iopc(client, cleveland, resident):
    body = give(client, resident, "dissatisfaction")
    assert "iopc-complaints" in offered(body)
    iopc = next(s for s in body["signposts"] if s["code"] == "iopc-complaints")
    assert iopc["topic"] == "police_complaints"
    again = client.get(f"/v1/feedback/{body['id']}", headers=resident).get_json()
    assert offered(again) == offered(body)


def test_a_compliment_names_careers(client, cleveland, resident):
    body = give(client, resident, "compliment", area="E06000001")
    assert offered(body) == ["cleveland-police-careers"]


def test_a_suggestion_names_the_police_and_crime_plan(client, cleveland, resident):
    assert offered(give(client, resident, "suggestion")) == ["police-and-crime-plan"]


def test_a_council_page_for_feedback_is_offered_only_in_its_area(client, admin, resident):
    made = client.post(
        "/v1/admin/signposts",
        json={
            "code": "hartlepool-community-safety",
            "title": "Community safety in Hartlepool",
            "organisation": "Hartlepool Borough Council",
            "url": "https://www.hartlepool.gov.uk/community-safety",
            "topic": "council_services",
            "destination_kind": "partner",
            "local_authority_code": "E06000001",
            "feedback_kinds": ["suggestion"],
        },
        headers=admin,
    )
    assert made.status_code == 201, made.get_json()
    assert "hartlepool-community-safety" in offered(
        give(client, resident, "suggestion", location=VICTORIA)
    )
    assert "hartlepool-community-safety" not in offered(
        give(client, resident, "suggestion", location=STOCKTON_POINT)
    )
    in_stockton = codes(
        client.get(LIST, query_string={"feedback_kind": "suggestion", "area": "E06000004"})
    )
    assert in_stockton == ["police-and-crime-plan"]
