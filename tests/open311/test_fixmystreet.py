"""Acceptance: FixMyStreet sends a report to copa over Open311 GeoReport v2 and follows it.

The client in tests/open311/fixmystreet.py sends what mySociety's perllib/Open311.pm sends
(form-encoded service_code, the "title: / detail: / url:" description, first_name/last_name,
email, six-decimal lat/long, deviceid, attribute[...], jurisdiction_id, api_key) and reads the
answers with XML::Simple's rules, as FixMyStreet does. A JSON answer, an answer without
service_request_id, a second report on a retry or a lost answer to the category's questions
each fails a test here.
"""

from __future__ import annotations

import re
from datetime import datetime

import pytest

from copa.open311.models import Open311Request
from copa.reports.models import Report
from tests.factories import bearer, signed_in, table_counts
from tests.open311.conftest import make_client
from tests.open311.fixmystreet import (
    FixMyStreet,
    Problem,
    contact_extra_fields,
    fms_state_after_poll,
    form_urlencode,
    pairs_of,
    service_by_code,
    service_request_description,
    split_name,
    truncate_coordinate,
    xml_simple,
)

REFERENCE = re.compile(r"COPA-\d{2}-\d{6}")
W3C = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)")
XML_DECLARATION = b'<?xml version="1.0" encoding="utf-8"?>'
XML_TYPE = "text/xml; charset=utf-8"

# A pin dropped in Middlesbrough (Middlehaven ward); FixMyStreet rounds it to six decimals.
LATITUDE, LONGITUDE = 54.57621349, -1.23480871
SENT_LAT, SENT_LONG = "54.576213", "-1.234809"
# What a UK cobrand passes as $extra (easting set: the "title: ... detail: ..." description).
EXTRA = {"url": "https://www.fixmystreet.com/report/4242", "easting": 449610, "northing": 520610}


def fly_tipping(size: str = "small", waste: tuple[str, ...] = ("household", "tyres")) -> Problem:
    return Problem(
        title="Mattresses & bin bags dumped",
        detail=(
            "Two mattresses and about ten bin bags behind the café on Parliament Road, "
            "blocking half (50%) of the alley."
        ),
        name="Sam O'Neill",
        email="sam.oneill@example.org",
        latitude=LATITUDE,
        longitude=LONGITUDE,
        service="Android",
        extra_fields=[
            {"name": "size", "value": size},
            {"name": "waste_type", "value": list(waste)},
        ],
    )


@pytest.fixture
def fms(client, open311_client) -> FixMyStreet:
    return FixMyStreet(
        client, jurisdiction=open311_client.jurisdiction_id, api_key=open311_client.api_key
    )


@pytest.fixture
def reviewer(app, client) -> dict[str, str]:
    return bearer(signed_in(app, client, "reviewer")["access_token"])


def assert_xml(sent) -> None:
    assert sent.content_type == XML_TYPE, (sent.content_type, sent.content[:200])
    assert sent.content.startswith(XML_DECLARATION), sent.content[:200]


def send(fms: FixMyStreet, problem: Problem) -> str:
    request_id = fms.send_service_request(problem, EXTRA, "fly_tipping")
    post = fms.sent[-1]
    assert post.method == "POST", [(s.method, s.path, s.status) for s in fms.sent]
    assert request_id, (post.status, post.content)
    return request_id


def same_text(stored: str, sent: str) -> bool:
    """The form sends each newline as CRLF; copa keeps LF (t/open311.t compares after the same
    s/\r\n/\n/g) and trims surrounding whitespace, so FixMyStreet's final newline is gone."""
    return stored == sent.strip()


def in_queue(client, reviewer, reference: str) -> dict:
    response = client.get(
        "/v1/staff/queue?kind=report&category=fly_tipping&page_size=100", headers=reviewer
    )
    assert response.status_code == 200, response.get_json()
    items = [item for item in response.get_json()["items"] if item["reference"] == reference]
    assert len(items) == 1, response.get_json()
    return items[0]


def one_request(obj) -> dict:
    assert isinstance(obj, dict), obj
    requests = obj.get("request")
    assert isinstance(requests, list) and len(requests) == 1, obj
    return requests[0]


def move(client, reviewer, report_id: str, **body) -> dict:
    response = client.post(
        f"/v1/staff/reports/{report_id}/transitions", json=body, headers=reviewer
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_fixmystreet_report_is_answered_in_xml_and_reaches_the_staff_queue(client, fms, reviewer):
    # PopulateServiceList: the service list, then the definition of a service with metadata.
    services = fms.get_service_list()
    assert_xml(fms.sent[-1])
    service = service_by_code(services, "fly_tipping")
    assert service is not None, services
    assert service["service_name"].rstrip() == "Fly-tipping"
    assert (service.get("metadata") or "").lower() == "true"

    fields = contact_extra_fields(fms.get_service_meta_info("fly_tipping"))
    assert_xml(fms.sent[-1])
    assert fields is not None, fms.sent[-1].content
    by_code = {field["code"]: field for field in fields}
    size, waste = by_code["size"], by_code["waste_type"]
    assert (size["variable"], size["required"], size["datatype"]) == (
        "true",
        "true",
        "singlevaluelist",
    )
    assert [value["key"] for value in size["values"]] == ["small", "large"]
    assert waste["datatype"] == "multivaluelist" and waste["required"] == "false"
    assert {"household", "tyres"} <= {value["key"] for value in waste["values"]}
    assert [field["code"] for field in fields][:2] == ["size", "waste_type"]  # by order

    # The resident picks from that definition; FixMyStreet sends the report.
    problem = fly_tipping()
    request_id = send(fms, problem)
    post = fms.sent[-1]
    assert post.status == 201, post.content
    assert_xml(post)
    assert REFERENCE.fullmatch(request_id), request_id
    # Read directly from <service_request_id> (no detour through tokens/), as FixMyStreet would.
    answer = one_request(xml_simple(post.content))
    assert answer["service_request_id"] == request_id
    assert answer.get("token"), post.content
    # What went on the wire is FixMyStreet's body.
    sent = pairs_of(post.body)
    assert ("service_code", "fly_tipping") in sent
    assert ("first_name", "Sam") in sent and ("last_name", "O'Neill") in sent
    assert ("lat", SENT_LAT) in sent and ("long", SENT_LONG) in sent
    assert ("deviceid", "Android") in sent
    assert ("attribute[size]", "small") in sent
    assert [v for k, v in sent if k == "attribute[waste_type]"] == ["household", "tyres"]
    assert b"attribute%5Bsize%5D=small" in post.body and b"%0D%0A" in post.body

    # GET requests/{id}.xml shows it, and so does FixMyStreet's own poll of requests.xml.
    shown = one_request(fms.get_service_request(request_id))
    assert_xml(fms.sent[-1])
    polled = one_request(fms.get_service_requests({"report_ids": [request_id]}))
    for request in (shown, polled):
        assert request["service_request_id"] == request_id
        assert request["status"] == "open"
        assert request["service_code"] == "fly_tipping"
        assert request["service_name"] == "Fly-tipping"
        assert same_text(request["description"], service_request_description(problem, EXTRA))
        assert request["agency_responsible"] == "Middlesbrough Council"
        assert abs(float(request["lat"]) - float(SENT_LAT)) < 1e-9
        assert abs(float(request["long"]) - float(SENT_LONG)) < 1e-9
        assert W3C.fullmatch(request["requested_datetime"]), request
        assert W3C.fullmatch(request["updated_datetime"]), request  # GetUpdates skips if empty
    assert fms.get_service_request_id_from_token(answer["token"]) == request_id

    # OPCC staff find it in the queue by its reference, routed to the council.
    item = in_queue(client, reviewer, request_id)
    assert item["status"] == "routed"
    assert item["category"]["code"] == "fly_tipping"
    assert item["area"]["local_authority"]["name"] == "Middlesbrough"
    response = client.get(f"/v1/staff/reports/{item['id']}", headers=reviewer)
    assert response.status_code == 200, response.get_json()
    report = response.get_json()
    assert report["reference"] == request_id
    assert report["channel"] == "open311"
    assert report["open311"]["client"] == "FixMyStreet"
    assert report["open311"]["device_id"] == "Android"  # FixMyStreet's deviceid
    assert report["contact"]["name"] == "Sam O'Neill"
    assert report["contact"]["email"] == "sam.oneill@example.org"
    assert report["answers"] == {"size": "small", "waste_type": ["household", "tyres"]}
    assert report["destination"] == {"kind": "council", "name": "Middlesbrough Council"}
    assert report["status"] == "routed" and report["unrouted"] is False
    assert same_text(report["description"], service_request_description(problem, EXTRA))
    assert abs(report["location"]["lat"] - float(SENT_LAT)) < 1e-9
    assert abs(report["location"]["lon"] - float(SENT_LONG)) < 1e-9


def test_fixmystreet_retrying_the_same_post_gets_the_same_id_and_no_second_report(app, fms):
    problem = fly_tipping()
    first = send(fms, problem)
    stored = table_counts(app, Report, Open311Request)

    # send-reports runs again (FixMyStreet never saw the first answer): the same POST.
    again = send(fms, problem)

    retry, original = fms.sent[-1], fms.sent[-2]
    assert retry.body == original.body
    assert retry.status == 200, retry.content
    assert_xml(retry)
    assert again == first
    assert retry.content == original.content
    assert table_counts(app, Report, Open311Request) == stored


def test_fixmystreet_retry_listing_the_same_fields_in_another_order_is_still_a_retry(
    app, client, open311_client, fms
):
    """Open311.pm builds the body from a Perl hash, whose order changes from one run of
    send-reports to the next: the retry is the same fields in a different order."""
    first = send(fms, fly_tipping())
    stored = table_counts(app, Report, Open311Request)
    next_run = FixMyStreet(
        client,
        jurisdiction=open311_client.jurisdiction_id,
        api_key=open311_client.api_key,
        param_order=lambda pairs: list(reversed(pairs)),
    )

    again = send(next_run, fly_tipping())

    assert next_run.sent[-1].body != fms.sent[-1].body
    assert sorted(pairs_of(next_run.sent[-1].body)) == sorted(pairs_of(fms.sent[-1].body))
    assert again == first, next_run.sent[-1].content
    assert next_run.sent[-1].status == 200
    assert table_counts(app, Report, Open311Request) == stored


def test_a_different_report_from_fixmystreet_is_a_new_report(app, fms):
    first = send(fms, fly_tipping())
    second = send(fms, fly_tipping(size="large"))
    assert second != first and REFERENCE.fullmatch(second)
    assert fms.sent[-1].status == 201


def test_staff_decisions_show_in_the_request_as_fixmystreet_reads_it(client, fms, reviewer):
    request_id = send(fms, fly_tipping())
    report_id = in_queue(client, reviewer, request_id)["id"]

    routed = one_request(fms.get_service_request(request_id, extensions="true"))
    assert routed["status"] == "INVESTIGATING"
    assert fms.map_state(routed["status"], extended_statuses=True) == "investigating"

    note = "The council has booked a crew to clear it."
    move(client, reviewer, report_id, to="in_progress", public_note=note)
    plain = one_request(fms.get_service_request(request_id))
    assert (plain["status"], plain["status_notes"]) == ("open", note)
    assert fms_state_after_poll("confirmed", plain) == "confirmed"
    extended = one_request(fms.get_service_request(request_id, extensions="true"))
    assert (extended["status"], extended["status_notes"]) == ("IN_PROGRESS", note)
    assert fms.map_state(extended["status"], extended_statuses=True) == "in progress"

    done = "The council cleared the waste on Thursday."
    move(
        client, reviewer, report_id, to="resolved", outcome="referred_to_partner", public_note=done
    )
    plain = one_request(fms.get_service_requests({"report_ids": [request_id]}))
    assert (plain["status"], plain["status_notes"]) == ("closed", done)
    assert fms_state_after_poll("confirmed", plain) == "fixed"
    assert datetime.fromisoformat(plain["updated_datetime"]) >= datetime.fromisoformat(
        plain["requested_datetime"]
    )
    extended = one_request(fms.get_service_request(request_id, extensions="true"))
    assert (extended["status"], extended["status_notes"]) == ("FIXED", done)
    assert fms.map_state(extended["status"], extended_statuses=True) == "fixed - council"


def test_the_client_builds_the_body_fixmystreets_own_tests_expect(client):
    """t/open311.t 'posting service request': the client itself is faithful to FixMyStreet."""
    problem = Problem(
        title="a problem",
        detail="problem detail",
        name="Test User",
        email="test@example.com",
        latitude=1,
        longitude=2,
    )
    fms = FixMyStreet(client, jurisdiction=None, api_key=None, use_service_as_deviceid=False)
    params = dict(
        fms.populate_service_request_params(
            problem, {"url": "http://example.com/report/1", "easting": "SET"}, "pothole"
        )
    )
    assert params["description"] == (
        "title: a problem\n\ndetail: problem detail\n\nurl: http://example.com/report/1\n\n"
        "Submitted via FixMyStreet\n"
    )
    assert (params["first_name"], params["last_name"]) == ("Test", "User")
    assert (params["lat"], params["long"]) == ("1", "2")
    assert "deviceid" not in params
    assert split_name("Nom de Report") == ("Nom", "de Report")
    assert truncate_coordinate(54.5762) == "54.5762" and truncate_coordinate(-1.23480871) == (
        "-1.234809"
    )
    assert form_urlencode([("attribute[size]", "small"), ("description", "a\nb é&+ (x)")]) == (
        b"attribute%5Bsize%5D=small&description=a%0D%0Ab+%C3%A9%26%2B+(x)"
    )


def test_a_client_configured_for_extended_statuses_gets_them_without_asking(
    app, client, reference_data, reviewer
):
    extended = make_client(app, name="FixMyStreet (extended)", extended_statuses=True)
    fms = FixMyStreet(client, jurisdiction=extended.jurisdiction_id, api_key=extended.api_key)
    request_id = send(fms, fly_tipping())
    report_id = in_queue(client, reviewer, request_id)["id"]
    move(client, reviewer, report_id, to="closed", outcome="signposted", public_note="Not ours.")

    request = one_request(fms.get_service_requests({"report_ids": [request_id]}))

    assert request["status"] == "NOT_COUNCILS_RESPONSIBILITY"
    assert fms.map_state(request["status"], extended_statuses=True) == "not responsible"


def test_a_report_outside_cleveland_is_refused_in_a_way_fixmystreet_can_log(app, fms):
    stored = table_counts(app, Report, Open311Request)
    outside = fly_tipping()
    outside.latitude, outside.longitude = 51.507400, -0.127800  # London

    assert fms.send_service_request(outside, EXTRA, "fly_tipping") == 0

    refused = fms.sent[-1]
    assert refused.status == 400
    assert_xml(refused)
    assert fms.error.startswith("request failed: 400\nerror: 400: ")  # _process_error's text
    assert "101" in fms.error
    assert table_counts(app, Report, Open311Request) == stored


def test_fixmystreet_as_it_is_polls_status_without_its_key_when_the_client_allows_it(
    app, client, reference_data, reviewer
):
    """FixMyStreet sends api_key with POSTs only. A client registered with
    status_without_key lets its keyless polls read the status (and nothing else)."""
    registered = make_client(app, name="FixMyStreet (keyless polls)", status_without_key=True)
    fms = FixMyStreet(
        client,
        jurisdiction=registered.jurisdiction_id,
        api_key=registered.api_key,
        api_key_on_get=False,
    )
    request_id = send(fms, fly_tipping())
    report_id = in_queue(client, reviewer, request_id)["id"]
    done = "The council cleared the waste on Thursday."
    move(
        client, reviewer, report_id, to="resolved", outcome="referred_to_partner", public_note=done
    )

    polled = one_request(fms.get_service_requests({"report_ids": [request_id]}))
    assert (polled["status"], polled["status_notes"]) == ("closed", done)
    assert fms_state_after_poll("confirmed", polled) == "fixed"
    assert polled.get("description") is None and polled.get("lat") is None


def test_fixmystreet_keyless_polls_are_refused_unless_the_client_allows_them(app, client, fms):
    request_id = send(fms, fly_tipping())
    fms.api_key_on_get = False
    assert fms.get_service_requests({"report_ids": [request_id]}) is None
    assert fms.sent[-1].status == 403
