"""POST and GET requests through Open311: what a civic reporting client can do, and every way a
bad request is refused in Open311's own shape (never a 5xx, never half-stored)."""

from __future__ import annotations

import io
import uuid
from datetime import timedelta
from xml.etree import ElementTree

import pytest
import sqlalchemy as sa
from PIL import Image

from copa.contacts.models import Contact
from copa.db import db, utcnow
from copa.open311 import search
from copa.open311.models import Open311Request
from copa.reports.models import Photo, Report
from copa.reports.workflow import REPORT_OUTCOMES
from copa.routing.models import Referral
from tests.factories import bearer, signed_in, table_counts
from tests.open311.conftest import make_client

MIDDLESBROUGH = ("54.576200", "-1.234800")
LONDON = ("51.507400", "-0.127800")


def _form(client_, **changes) -> dict:
    form = {
        "api_key": client_.api_key,
        "jurisdiction_id": client_.jurisdiction_id,
        "service_code": "fly_tipping",
        "lat": MIDDLESBROUGH[0],
        "long": MIDDLESBROUGH[1],
        "description": "A mattress and two bin bags dumped behind the shops",
        "attribute[size]": "small",
    }
    form.update(changes)
    return {k: v for k, v in form.items() if v is not None}


def _post(client, data, fmt="json", **kwargs):
    return client.post(f"/open311/v2/requests.{fmt}", data=data, **kwargs)


def _errors(response) -> list[dict]:
    """Open311's error list from either format."""
    if response.mimetype == "application/json":
        return response.get_json()
    root = ElementTree.fromstring(response.get_data())
    assert root.tag == "errors"
    return [
        {"code": int(error.findtext("code")), "description": error.findtext("description")}
        for error in root.findall("error")
    ]


def _stored(app) -> dict[str, int]:
    return table_counts(app, Report, Open311Request, Contact, Referral, Photo)


# --- making a report ------------------------------------------------------------------------


def test_a_request_becomes_an_attributed_routed_report(app, client, open311_client):
    response = _post(
        client,
        _form(
            open311_client,
            email="ann@example.org",
            first_name="Ann",
            last_name="Smith",
            phone="01642 123456",
            deviceid="iOS",
            account_id="fms-user-42",
            address_string="Behind 12 Linthorpe Road",
            media_url="https://www.fixmystreet.com/photo/123.jpeg",
            **{"attribute[waste_type][]": ["household", "tyres"]},
        ),
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    [answer] = response.get_json()
    assert answer["service_request_id"].startswith("COPA-")
    assert answer["service_notice"] == "Being passed to Middlesbrough Council."
    assert answer["account_id"] == "fms-user-42"
    with app.app_context():
        report = db.session.scalar(
            sa.select(Report).where(Report.reference == answer["service_request_id"])
        )
        assert report.channel == "open311"
        assert report.device_id is None
        assert report.local_authority_code == "E06000002"
        assert report.ward_code is not None
        assert report.status == "routed"
        assert report.destination_name == "Middlesbrough Council"
        assert report.answers == {"size": "small", "waste_type": ["household", "tyres"]}
        assert report.address_text == "Behind 12 Linthorpe Road"
        assert (report.contact.name, report.contact.email, report.contact.phone) == (
            "Ann Smith",
            "ann@example.org",
            "+441642123456",  # E.164, as every phone number is kept
        )
        assert report.share_contact_with_partner is False
        kept = db.session.get(Open311Request, report.id)
        assert kept.token == answer["token"]
        assert kept.device_id == "iOS"
        assert kept.media_url == "https://www.fixmystreet.com/photo/123.jpeg"


def test_open311_reports_are_counted_in_the_metrics(app, client, open311_client):
    for n in range(2):
        response = _post(client, _form(open311_client, description=f"Dumped bags, heap {n}"))
        assert response.status_code == 201
    analyst = bearer(signed_in(app, client, "analyst")["access_token"])
    demand = client.get("/v1/metrics/demand", headers=analyst)
    assert demand.status_code == 200, demand.get_json()
    body = demand.get_json()
    assert body["totals"]["by_channel"]["open311"] == 2, body["totals"]


def test_multipart_carries_a_photo_stored_without_its_metadata(
    app, client, open311_client, tmp_path, monkeypatch
):
    from copa.reports import photos

    monkeypatch.setitem(app.config, "PHOTO_STORAGE_DIR", str(tmp_path))
    app.extensions.pop(photos.STORE_EXTENSION, None)
    picture = io.BytesIO()
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # Make
    Image.new("RGB", (40, 30), "green").save(picture, "JPEG", exif=exif, comment=b"home")
    form = _form(open311_client)
    form["media"] = (io.BytesIO(picture.getvalue()), "photo.jpg")
    response = _post(client, form, content_type="multipart/form-data")
    assert response.status_code == 201, response.get_data(as_text=True)
    with app.app_context():
        [photo] = db.session.scalars(sa.select(Photo)).all()
        stored = photos.photo_store().get(photo.storage_key)
    assert (photo.width, photo.height) == (40, 30)
    assert b"SecretCam" not in stored and b"home" not in stored
    app.extensions.pop(photos.STORE_EXTENSION, None)


def test_a_number_attribute_sent_as_text_is_read_as_a_number(app, client, open311_client):
    response = _post(
        client,
        _form(
            open311_client,
            service_code="abandoned_vehicle",
            **{"attribute[size]": None, "attribute[days_seen]": "12"},
        ),
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    with app.app_context():
        report = db.session.scalar(sa.select(Report))
        assert report.answers["days_seen"] == 12


def test_a_question_needs_no_point(app, client, open311_client):
    response = _post(
        client,
        _form(
            open311_client,
            service_code="question",
            lat=None,
            long=None,
            address_string="Stockton",
            description="When is the next community meeting?",
            **{"attribute[size]": None},
        ),
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    with app.app_context():
        report = db.session.scalar(sa.select(Report))
        assert report.ward_code is None and report.lat is None


def test_a_possible_emergency_is_kept_and_the_notice_says_call_999(app, client, open311_client):
    response = _post(client, _form(open311_client, description="Man with a knife behind the shops"))
    assert response.status_code == 201
    assert "call 999" in response.get_json()[0]["service_notice"]
    with app.app_context():
        assert db.session.scalar(sa.select(Report.possible_emergency)) is True


def test_a_retried_post_finds_the_first_report(app, client, open311_client):
    form = _form(open311_client)
    first = _post(client, form, fmt="xml")
    again = _post(client, form, fmt="xml")
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.get_data() == again.get_data()
    assert _stored(app)["report"] == 1
    different = _post(client, _form(open311_client, description="Another heap of rubbish"))
    assert different.status_code == 201
    assert _stored(app)["report"] == 2


def test_the_same_post_from_another_client_is_its_own_report(app, client, open311_client):
    other = make_client(app, name="Council app")
    assert _post(client, _form(open311_client)).status_code == 201
    assert _post(client, _form(other)).status_code == 201
    assert _stored(app)["report"] == 2


# --- refusals ----------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_a_missing_or_wrong_api_key_is_403_in_open311_shape(app, client, open311_client, fmt):
    before = _stored(app)
    for key in (None, "", "copa311_not-a-key", "x" * 500):
        response = _post(client, _form(open311_client, api_key=key), fmt=fmt)
        assert response.status_code == 403
        assert response.mimetype == ("text/xml" if fmt == "xml" else "application/json")
        [error] = _errors(response)
        assert error["code"] == 403 and "api_key" in error["description"]
    assert _stored(app) == before


REFUSALS = {
    "no service_code": (
        {"service_code": None},
        400,
        ["service_code: service_code was not provided."],
    ),
    "unknown service_code": (
        {"service_code": "potholes"},
        404,
        ["service_code 'potholes' was not found."],
    ),
    "no description": ({"description": None}, 400, ["description: description was not provided."]),
    "outside Cleveland": (
        {"lat": LONDON[0], "long": LONDON[1]},
        400,
        [
            "lat/long: That location is outside the Cleveland police force area. Contact the "
            "police force for that area on 101, or 999 in an emergency."
        ],
    ),
    "lat without long": ({"long": None}, 400, ["lat/long: Send both lat and long."]),
    "no point": (
        {"lat": None, "long": None, "address_string": "Linthorpe Road"},
        400,
        ["lat/long: Required for this service."],
    ),
    "lat not a number": ({"lat": "north"}, 400, ["lat: Not a valid number."]),
    "lat beyond the pole": (
        {"lat": "91"},
        400,
        ["lat: Must be greater than or equal to -90 and less than or equal to 90."],
    ),
    "email not an email": ({"email": "ann at example"}, 400, ["email: Not a valid email address."]),
    "phone not a phone number": ({"phone": "1234567"}, 400, ["phone: Not a valid phone number."]),
    "phone with an extension": (
        {"phone": "01642 301653 ext 12"},
        400,
        ["phone: Give the number without an extension."],
    ),
    "media_url not a URL": (
        {"media_url": "file:///etc/passwd"},
        400,
        ["media_url: Not a valid URL."],
    ),
    "value not in the list": (
        {"attribute[size]": "huge"},
        400,
        ["attribute[size]: Must be one of: small, large."],
    ),
    "required attribute missing": (
        {"attribute[size]": None},
        400,
        ["attribute[size]: An answer is required."],
    ),
    "unknown attribute": (
        {"attribute[colour]": "red"},
        400,
        ["attribute[colour]: Unknown question for this category."],
    ),
    "unclosed bracket": (
        {"attribute[size": "small"},
        400,
        ["attribute[size: Not an attribute: send attribute[code] or attribute[code][]."],
    ),
    "empty code": (
        {"attribute[]": "small"},
        400,
        ["attribute[]: Not an attribute: send attribute[code] or attribute[code][]."],
    ),
    "a list for a single value": (
        {"attribute[size]": None, "attribute[size][]": ["small", "large"]},
        400,
        ["attribute[size]: Takes one value, not a list."],
    ),
    "value not in a multi-value list": (
        {"attribute[waste_type][]": ["household", "gold"]},
        400,
        [
            "attribute[waste_type]: Each value must be one of: "
            "household, garden, building, tyres, hazardous, "
            "other."
        ],
    ),
}


@pytest.mark.parametrize("name", sorted(REFUSALS))
def test_bad_requests_are_refused_in_open311_shape_and_store_nothing(
    app, client, open311_client, name
):
    changes, status, descriptions = REFUSALS[name]
    before = _stored(app)
    for fmt in ("json", "xml"):
        response = _post(client, _form(open311_client, **changes), fmt=fmt)
        assert response.status_code == status, response.get_data(as_text=True)
        errors = _errors(response)
        assert [e["description"] for e in errors] == descriptions
        assert {e["code"] for e in errors} == {status}
    assert _stored(app) == before


def test_several_bad_attributes_are_one_error_each(app, client, open311_client):
    response = _post(
        client,
        _form(open311_client, **{"attribute[size]": "huge", "attribute[colour]": "red"}),
    )
    assert response.status_code == 400
    assert sorted(e["description"].split(":")[0] for e in _errors(response)) == [
        "attribute[colour]",
        "attribute[size]",
    ]


def test_a_json_body_is_refused(client, open311_client):
    response = client.post("/open311/v2/requests.json", json=_form(open311_client))
    assert response.status_code == 403  # a JSON body carries no form api_key
    response = client.post(
        f"/open311/v2/requests.json?api_key={open311_client.api_key}", json=_form(open311_client)
    )
    assert response.status_code == 400
    assert "form" in _errors(response)[0]["description"]


def test_unknown_paths_and_methods_answer_open311_errors(client, open311_client):
    missing = client.get("/open311/v2/nothing-here")
    assert missing.status_code == 404 and missing.mimetype == "text/xml"
    assert _errors(missing)[0]["code"] == 404
    wrong_method = client.delete(f"/open311/v2/requests.json?api_key={open311_client.api_key}")
    assert wrong_method.status_code == 405
    assert wrong_method.headers["Allow"]
    assert _errors(wrong_method)[0]["code"] == 405


def test_an_unknown_service_definition_is_404(client, reference_data):
    for fmt in ("json", "xml"):
        response = client.get(f"/open311/v2/services/potholes.{fmt}")
        assert response.status_code == 404
        assert _errors(response)[0]["description"] == "service_code 'potholes' was not found."


# --- jurisdictions ----------------------------------------------------------------------------


def test_jurisdiction_id_is_needed_once_two_are_served(app, client, open311_client):
    assert client.get("/open311/v2/services.json").status_code == 200
    assert _post(client, _form(open311_client, jurisdiction_id=None)).status_code == 201
    make_client(app, name="Hartlepool app", jurisdiction_id="hartlepool.gov.uk")

    services = client.get("/open311/v2/services.json")
    assert services.status_code == 400
    assert "jurisdiction_id" in _errors(services)[0]["description"]
    served = client.get("/open311/v2/services.json?jurisdiction_id=hartlepool.gov.uk")
    assert served.status_code == 200
    unknown = client.get("/open311/v2/services.json?jurisdiction_id=leeds.gov.uk")
    assert unknown.status_code == 404

    form = _form(open311_client, jurisdiction_id=None, description="Second heap of bags")
    assert _post(client, form).status_code == 400
    # Another client's jurisdiction is not this client's.
    form["jurisdiction_id"] = "hartlepool.gov.uk"
    assert _post(client, form).status_code == 404


# --- GET requests ------------------------------------------------------------------------------


def _make(client, client_, description: str, **changes) -> str:
    response = _post(client, _form(client_, description=description, **changes))
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()[0]["service_request_id"]


def _backdate(app, reference: str, days: int) -> None:
    with app.app_context():
        report_id = db.session.scalar(sa.select(Report.id).where(Report.reference == reference))
        moment = utcnow() - timedelta(days=days)
        db.session.execute(
            sa.update(Open311Request)
            .where(Open311Request.report_id == report_id)
            .values(created_at=moment)
        )
        db.session.execute(
            sa.update(Report).where(Report.id == report_id).values(created_at=moment)
        )
        db.session.commit()


def _ids(response) -> list[str]:
    assert response.status_code == 200, response.get_data(as_text=True)
    return [request["service_request_id"] for request in response.get_json()]


def test_requests_are_listed_newest_first_within_the_last_90_days(app, client, open311_client):
    old = _make(client, open311_client, "Heap one")
    middle = _make(client, open311_client, "Heap two")
    new = _make(client, open311_client, "Heap three")
    _backdate(app, old, 100)
    _backdate(app, middle, 10)
    listed = client.get(
        "/open311/v2/requests.json", query_string={"api_key": open311_client.api_key}
    )
    assert _ids(listed) == [new, middle]
    start = (utcnow() - timedelta(days=120)).isoformat()
    end = (utcnow() - timedelta(days=50)).isoformat()
    window = client.get(
        "/open311/v2/requests.json",
        query_string={"api_key": open311_client.api_key, "start_date": start, "end_date": end},
    )
    assert _ids(window) == [old]
    by_id = client.get(
        "/open311/v2/requests.json",
        query_string={"api_key": open311_client.api_key, "service_request_id": f"{old},{new}"},
    )
    assert sorted(_ids(by_id)) == sorted([old, new])  # ids override the default window


def test_requests_filter_by_service_and_status(app, client, open311_client):
    tipped = _make(client, open311_client, "Heap of bags")
    lamp = _make(
        client,
        open311_client,
        "Lamp post flickering all night",
        service_code="street_lighting",
        **{"attribute[size]": None},
    )
    key = open311_client.api_key
    by_code = client.get(f"/open311/v2/requests.json?api_key={key}&service_code=street_lighting")
    assert _ids(by_code) == [lamp]
    both = client.get(
        f"/open311/v2/requests.json?api_key={key}&service_code=street_lighting,fly_tipping"
    )
    assert sorted(_ids(both)) == sorted([tipped, lamp])
    reviewer = bearer(signed_in(app, client, "reviewer")["access_token"])
    with app.app_context():
        report_id = db.session.scalar(sa.select(Report.id).where(Report.reference == tipped))
    closed = client.post(
        f"/v1/staff/reports/{report_id}/transitions",
        json={"to": "closed", "outcome": "no_further_action", "public_note": "Cleared."},
        headers=reviewer,
    )
    assert closed.status_code == 200, closed.get_json()
    assert _ids(client.get(f"/open311/v2/requests.json?api_key={key}&status=open")) == [lamp]
    assert _ids(client.get(f"/open311/v2/requests.json?api_key={key}&status=closed")) == [tipped]
    assert len(_ids(client.get(f"/open311/v2/requests.json?api_key={key}&status=open,closed"))) == 2


def test_at_most_the_limit_is_listed(app, client, open311_client, monkeypatch):
    references = [_make(client, open311_client, f"Heap number {n}") for n in range(4)]
    monkeypatch.setattr(search, "MAX_RESULTS", 3)
    listed = client.get(f"/open311/v2/requests.json?api_key={open311_client.api_key}")
    assert _ids(listed) == list(reversed(references))[:3]


@pytest.mark.parametrize(
    "query,field",
    [
        ({"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-06-01T00:00:00Z"}, "end_date"),
        ({"start_date": "2026-03-01T00:00:00Z", "end_date": "2026-02-01T00:00:00Z"}, "end_date"),
        ({"start_date": "yesterday"}, "start_date"),
        ({"end_date": "2026-02-30T00:00:00Z"}, "end_date"),
        ({"status": "pending"}, "status"),
    ],
)
def test_bad_request_queries_are_400(client, open311_client, query, field):
    for fmt in ("json", "xml"):
        response = client.get(
            f"/open311/v2/requests.{fmt}",
            query_string={"api_key": open311_client.api_key, **query},
        )
        assert response.status_code == 400
        [error] = _errors(response)
        assert error["description"].startswith(f"{field}: ")


def test_a_window_of_exactly_90_days_is_fine(client, open311_client):
    response = client.get(
        "/open311/v2/requests.xml",
        query_string={
            "api_key": open311_client.api_key,
            "start_date": "2026-01-01T00:00:00+00:00",
            "end_date": "2026-04-01T00:00:00+00:00",
        },
    )
    assert response.status_code == 200
    assert ElementTree.fromstring(response.get_data()).tag == "service_requests"


def test_a_request_and_its_token(client, open311_client):
    response = _post(client, _form(open311_client), fmt="xml")
    created = ElementTree.fromstring(response.get_data()).find("request")
    reference, token = created.findtext("service_request_id"), created.findtext("token")
    key = open311_client.api_key
    one = client.get(f"/open311/v2/requests/{reference}.xml?api_key={key}")
    assert one.status_code == 200
    request = ElementTree.fromstring(one.get_data()).find("request")
    assert request.findtext("service_request_id") == reference
    assert request.findtext("status") == "open"
    assert request.findtext("agency_responsible") == "Middlesbrough Council"
    assert request.findtext("status_notes") == "Passed to Middlesbrough Council."
    assert float(request.findtext("lat")) == pytest.approx(54.5762)
    by_token = client.get(f"/open311/v2/tokens/{token}.json?api_key={key}")
    assert by_token.get_json() == [{"service_request_id": reference, "token": token}]
    assert client.get(f"/open311/v2/tokens/nope.json?api_key={key}").status_code == 404
    assert client.get(f"/open311/v2/requests/COPA-00-000000.json?api_key={key}").status_code == 404


# --- statuses -------------------------------------------------------------------------------------

PLAIN_AND_EXTENDED = [
    ("received", None, "open", "OPEN"),
    ("routed", None, "open", "INVESTIGATING"),
    ("acknowledged", None, "open", "ACTION_SCHEDULED"),
    ("in_progress", None, "open", "IN_PROGRESS"),
    ("resolved", "resolved_by_opcc", "closed", "FIXED"),
    ("closed", "no_further_action", "closed", "NO_FURTHER_ACTION"),
    ("closed", "signposted", "closed", "NOT_COUNCILS_RESPONSIBILITY"),
    ("closed", "referred_to_partner", "closed", "INTERNAL_REFERRAL"),
    ("closed", "passed_to_force_control_room", "closed", "INTERNAL_REFERRAL"),
    ("closed", "passed_to_resolution_team", "closed", "INTERNAL_REFERRAL"),
    ("closed", "resolved_by_opcc", "closed", "FIXED"),
    ("closed", "with_opcc", "closed", "INTERNAL_REFERRAL"),
    ("closed", "resolved_by_partner", "closed", "FIXED"),
    ("closed", "duplicate", "closed", "DUPLICATE"),
    ("closed", None, "closed", "CLOSED"),
    ("duplicate", "duplicate", "closed", "DUPLICATE"),
    ("rejected", None, "closed", "NO_FURTHER_ACTION"),
]


def test_every_status_and_outcome_has_a_mapping():
    from copa.reports.models import ReportStatus

    assert {row[0] for row in PLAIN_AND_EXTENDED} == {str(s) for s in ReportStatus}
    closed_outcomes = {row[1] for row in PLAIN_AND_EXTENDED if row[0] == "closed"}
    assert set(REPORT_OUTCOMES) <= closed_outcomes


@pytest.mark.parametrize("status,outcome,plain,extended", PLAIN_AND_EXTENDED)
def test_statuses_are_open_or_closed_or_mysocietys_extended(status, outcome, plain, extended):
    report = Report(status=status, outcome=outcome)
    assert search.status_of(report, extended=False) == plain
    assert search.status_of(report, extended=True) == extended


def test_extended_statuses_on_request_or_by_the_clients_setting(app, client, open311_client):
    reference = _make(client, open311_client, "Heap of bags")
    key = open311_client.api_key

    def status(query="", key=key):
        response = client.get(f"/open311/v2/requests/{reference}.json?api_key={key}{query}")
        return response.get_json()[0]["status"]

    assert status() == "open"
    assert status("&extensions=true") == "INVESTIGATING"
    admin = bearer(signed_in(app, client, "admin")["access_token"])
    changed = client.patch(
        f"/v1/admin/open311-clients/{open311_client.id}",
        json={"extended_statuses": True},
        headers=admin,
    )
    assert changed.status_code == 200
    assert status() == "INVESTIGATING"


def test_an_unused_uuid_never_reaches_a_report(client, open311_client):
    response = client.get(
        f"/open311/v2/requests/{uuid.uuid4()}.json?api_key={open311_client.api_key}"
    )
    assert response.status_code == 404
