"""Who reads what through Open311: a client sees only the requests it made; without a key,
only the status of requests whose client allows it, and never a description or a place."""

from __future__ import annotations

import pytest

from tests.factories import bearer, register_device, signed_in
from tests.open311.conftest import make_client

WORDS = "Sofa and fridge dumped at the end of Acacia Avenue"


def _submit(client, client_) -> dict:
    response = client.post(
        "/open311/v2/requests.json",
        data={
            "api_key": client_.api_key,
            "service_code": "fly_tipping",
            "lat": "54.576200",
            "long": "-1.234800",
            "description": WORDS,
            "attribute[size]": "small",
            "email": "reporter@example.org",
            "media_url": "https://www.fixmystreet.com/photo/1.jpeg",
        },
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()[0]


@pytest.fixture
def made(client, open311_client) -> dict:
    return _submit(client, open311_client)


def _read(client, made, key=None) -> dict[str, object]:
    """Status codes of every read of ``made``'s request, with ``key`` (or none)."""
    query = f"?api_key={key}" if key else ""
    joiner = "&" if key else "?"
    reference, token = made["service_request_id"], made["token"]
    return {
        "one": client.get(f"/open311/v2/requests/{reference}.json{query}"),
        "by_id": client.get(
            f"/open311/v2/requests.json{query}{joiner}service_request_id={reference}"
        ),
        "list": client.get(f"/open311/v2/requests.json{query}"),
        "token": client.get(f"/open311/v2/tokens/{token}.json{query}"),
    }


def test_a_client_reads_its_own_requests_whole(client, open311_client, made):
    answers = _read(client, made, open311_client.api_key)
    assert {name: r.status_code for name, r in answers.items()} == dict.fromkeys(answers, 200)
    [request] = answers["one"].get_json()
    assert request["description"] == WORDS
    assert request["media_url"] == "https://www.fixmystreet.com/photo/1.jpeg"
    assert request["lat"] == pytest.approx(54.5762)
    assert [r["service_request_id"] for r in answers["list"].get_json()] == [
        made["service_request_id"]
    ]


def test_another_client_cannot_see_them(app, client, made):
    other = make_client(app, name="Council app")
    answers = _read(client, made, other.api_key)
    assert answers["one"].status_code == 404
    assert answers["token"].status_code == 404
    assert answers["by_id"].get_json() == []
    assert answers["list"].get_json() == []
    for response in answers.values():
        assert WORDS not in response.get_data(as_text=True)


def test_app_reports_are_never_open311_requests(app, client, open311_client):
    resident = bearer(register_device(client)["access_token"])
    report = client.post(
        "/v1/reports",
        json={
            "category": "graffiti",
            "description": "Tags on the bus shelter",
            "location": {"lat": 54.5762, "lon": -1.2348},
            "answers": {"offensive": "no"},
        },
        headers=resident,
    )
    assert report.status_code == 201
    reference = report.get_json()["reference"]
    key = open311_client.api_key
    assert client.get(f"/open311/v2/requests/{reference}.json?api_key={key}").status_code == 404
    listed = client.get(f"/open311/v2/requests.json?api_key={key}")
    assert listed.get_json() == []


def test_without_a_key_nothing_is_read_unless_the_client_allows_it(client, made):
    answers = _read(client, made)
    assert {name: r.status_code for name, r in answers.items()} == dict.fromkeys(answers, 403)
    for response in answers.values():
        assert response.get_json() == [{"code": 403, "description": "api_key was not provided."}]


def test_a_client_may_let_anyone_read_status_but_not_the_report(app, client, open311_client):
    admin = bearer(signed_in(app, client, "admin")["access_token"])
    switched = client.patch(
        f"/v1/admin/open311-clients/{open311_client.id}",
        json={"status_without_key": True},
        headers=admin,
    )
    assert switched.status_code == 200 and switched.get_json()["status_without_key"] is True
    made = _submit(client, open311_client)
    answers = _read(client, made)
    assert answers["one"].status_code == 200
    [request] = answers["one"].get_json()
    assert request["status"] == "open"
    assert request["service_code"] == "fly_tipping"
    assert request["agency_responsible"] == "Middlesbrough Council"
    for hidden in ("description", "lat", "long", "address", "address_id", "media_url"):
        assert request[hidden] is None, hidden
    assert answers["by_id"].get_json() == [request]
    assert answers["token"].get_json() == [
        {"service_request_id": made["service_request_id"], "token": made["token"]}
    ]
    assert answers["list"].status_code == 403  # listing always needs the key
    for response in answers.values():
        assert WORDS not in response.get_data(as_text=True)
        assert "reporter@example.org" not in response.get_data(as_text=True)
    # A reference that is not such a request is a missing key, not "not found": no oracle.
    unknown = client.get("/open311/v2/requests/COPA-26-999999.json")
    assert unknown.status_code == 403


def test_staff_tokens_are_not_api_keys(app, client, made):
    reviewer = bearer(signed_in(app, client, "reviewer")["access_token"])
    response = client.get(
        f"/open311/v2/requests/{made['service_request_id']}.json", headers=reviewer
    )
    assert response.status_code == 403


def test_a_deactivated_client_is_refused(app, client, open311_client, made):
    admin = bearer(signed_in(app, client, "admin")["access_token"])
    response = client.patch(
        f"/v1/admin/open311-clients/{open311_client.id}", json={"active": False}, headers=admin
    )
    assert response.status_code == 200
    answers = _read(client, made, open311_client.api_key)
    assert {name: r.status_code for name, r in answers.items()} == dict.fromkeys(answers, 403)
    assert "no longer active" in answers["one"].get_json()[0]["description"]
