"""Every Open311 route answers the documents of GeoReport v2, in XML and in JSON.

The schemas are in georeport.py, written from the standard's text; these tests drive each route
in both formats and validate what comes back, then show that the schemas refuse wrong documents
(so that a pass means something). Behaviour beyond the documents' shape is tested elsewhere.
"""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from PIL import Image
from werkzeug.datastructures import Headers

from copa.reports import photos
from tests.open311.georeport import (
    KINDS,
    SchemaViolation,
    check_content_type,
    validate,
    validate_document,
)

BASE = "/open311/v2"
FORMATS = ("xml", "json")
IN_MIDDLEHAVEN = {"lat": "54.5762", "long": "-1.2348"}  # Middlesbrough
IN_ACKLAM = {"lat": "54.55", "long": "-1.26"}  # Middlesbrough, another ward
SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
# "UTF-8 is required everywhere" (GeoReport v2, Internationalization and Encoding): text that
# is not ASCII, an XML special character and a line break ("This may contain line breaks").
UNICODE_DESCRIPTION = "Two mattresses & a sofa by the café bins\nsince Tuesday – please help"


def fly_tipping(api_key: str, **extra) -> dict:
    return {
        "api_key": api_key,
        "service_code": "fly_tipping",
        **IN_MIDDLEHAVEN,
        "description": "Bags of rubbish dumped in the back lane",
        "attribute[size]": "small",
        **extra,
    }


def post(client, fmt: str, data: dict, **kwargs):
    return client.post(f"{BASE}/requests.{fmt}", data=data, **kwargs)


def created(client, fmt: str, data: dict, **kwargs) -> dict:
    """POST a request that must be accepted; answer the one request of the valid answer."""
    response = post(client, fmt, data, **kwargs)
    assert response.status_code == 201, response.get_data(as_text=True)
    (request,) = validate("request_created", fmt, response)
    return request


def get(client, path: str, **params):
    return client.get(f"{BASE}/{path}", query_string=params)


# --- discovery and services (public) ---------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_discovery_is_the_service_discovery_document(client, fmt):
    response = get(client, f"discovery.{fmt}")

    assert response.status_code == 200
    discovery = validate("discovery", fmt, response)
    (endpoint,) = [e for e in discovery["endpoints"] if e["specification"] == SPECIFICATION]
    # The formats served are the ones discovery announces (GeoReport v2, Format Support).
    assert set(endpoint["formats"]) == {"text/xml", "application/json"}
    assert endpoint["url"].endswith(BASE)


@pytest.mark.parametrize("fmt", FORMATS)
def test_service_list_validates(client, reference_data, fmt):
    from copa.catalog.seed import SEED_CATEGORIES

    response = get(client, f"services.{fmt}")

    assert response.status_code == 200
    services = {service["service_code"]: service for service in validate("services", fmt, response)}
    assert set(services) == {category["code"] for category in SEED_CATEGORIES}
    # metadata: true means the client must call the service definition (its attributes).
    assert services["fly_tipping"]["metadata"] is True
    assert services["asb"]["metadata"] is False


@pytest.mark.parametrize("fmt", FORMATS)
def test_service_definitions_with_attributes_of_every_seeded_datatype(client, reference_data, fmt):
    datatypes = set()
    for code in ("fly_tipping", "abandoned_vehicle", "hate_incident", "graffiti"):
        response = get(client, f"services/{code}.{fmt}")
        assert response.status_code == 200
        definition = validate("service_definition", fmt, response)
        assert definition["service_code"] == code
        datatypes |= {attribute["datatype"] for attribute in definition["attributes"]}
        if code == "fly_tipping":
            size = next(a for a in definition["attributes"] if a["code"] == "size")
            assert (size["datatype"], size["required"], size["variable"]) == (
                "singlevaluelist",
                True,
                True,
            )
            assert {value["key"] for value in size["values"]} == {"small", "large"}

    assert datatypes == {"singlevaluelist", "multivaluelist", "string", "number"}


@pytest.mark.parametrize("fmt", FORMATS)
def test_service_definition_without_attributes_validates(client, reference_data, fmt):
    response = get(client, f"services/asb.{fmt}")

    assert response.status_code == 200
    assert validate("service_definition", fmt, response) == {
        "service_code": "asb",
        "attributes": [],
    }


@pytest.mark.parametrize(
    "path", ["discovery", "services", "services/fly_tipping", "services/abandoned_vehicle"]
)
def test_xml_and_json_are_the_same_document(client, reference_data, path):
    """JSON is the XML mapped by the Spark convention (GeoReport v2, Format Support)."""
    kind = {"discovery": "discovery", "services": "services"}.get(path, "service_definition")

    as_xml = validate(kind, "xml", get(client, f"{path}.xml"))
    as_json = validate(kind, "json", get(client, f"{path}.json"))

    assert as_xml == as_json


# --- POST requests ---------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_post_form_encoded_answers_a_request_creation(client, open311_client, fmt):
    request = created(
        client,
        fmt,
        fly_tipping(
            open311_client.api_key,
            **{"attribute[waste_type][]": ["household", "tyres"]},
            email="resident@example.org",
            first_name="Sam",
            last_name="Smith",
            account_id="acct-77",
            device_id="device-1",
            address_string="Back lane behind Station Street",
        ),
    )

    assert request["service_request_id"].startswith("COPA-")


@pytest.fixture
def photo_dir(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "PHOTO_STORAGE_DIR", str(tmp_path / "photos"))
    app.extensions.pop(photos.STORE_EXTENSION, None)
    yield
    app.extensions.pop(photos.STORE_EXTENSION, None)


@pytest.mark.parametrize("fmt", FORMATS)
def test_post_multipart_with_a_photo_answers_a_request_creation(
    client, open311_client, photo_dir, fmt
):
    jpeg = io.BytesIO()
    Image.new("RGB", (40, 30), "green").save(jpeg, "JPEG")
    jpeg.seek(0)
    data = {**fly_tipping(open311_client.api_key), "media": (jpeg, "photo.jpg", "image/jpeg")}

    request = created(client, fmt, data, content_type="multipart/form-data")

    assert request["service_request_id"].startswith("COPA-")


@pytest.mark.parametrize("fmt", FORMATS)
def test_post_of_a_question_without_a_location_validates(client, open311_client, fmt):
    created(
        client,
        fmt,
        {
            "api_key": open311_client.api_key,
            "service_code": "question",
            "description": "How do I contact my neighbourhood team?",
        },
    )


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_retried_post_answers_the_same_valid_document(client, open311_client, fmt):
    data = fly_tipping(open311_client.api_key, description="A sofa left on the verge")
    first = post(client, fmt, data)
    again = post(client, fmt, data)

    assert (first.status_code, again.status_code) == (201, 200)
    assert validate("request_created", fmt, again) == validate("request_created", fmt, first)


# --- GET requests, requests/{id}, tokens/{token} ---------------------------------------------


@pytest.fixture
def submitted(client, open311_client) -> list[dict]:
    """Four requests of the client: three services, two places, one without a location; the
    answers of their POSTs (service_request_id and token)."""
    key = open311_client.api_key
    answers = [
        created(client, "json", fly_tipping(key, media_url="https://example.org/tip.jpg")),
        created(
            client,
            "xml",
            {
                "api_key": key,
                "service_code": "abandoned_vehicle",
                **IN_ACKLAM,
                "description": "A burnt-out car",
                "attribute[registration]": "AB12 CDE",
                "attribute[days_seen]": "12",
                "address_string": "Acklam Road",
                "address_id": "UPRN-100110",
            },
        ),
        created(client, "json", fly_tipping(key, description=UNICODE_DESCRIPTION)),
        created(
            client,
            "json",
            {"api_key": key, "service_code": "question", "description": "Who is my PCSO?"},
        ),
    ]
    return answers


def _ids(requests: list[dict]) -> set[str]:
    return {request["service_request_id"] for request in requests}


@pytest.mark.parametrize("fmt", FORMATS)
def test_request_list_validates(client, open311_client, submitted, fmt):
    response = get(client, f"requests.{fmt}", api_key=open311_client.api_key)

    assert response.status_code == 200
    requests = validate("requests", fmt, response)
    assert _ids(requests) == _ids(submitted)
    assert {request["status"] for request in requests} == {"open"}


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"service_code": "fly_tipping"}, [0, 2]),
        ({"service_code": "fly_tipping,abandoned_vehicle"}, [0, 1, 2]),
        ({"status": "open"}, [0, 1, 2, 3]),
        ({"status": "closed"}, []),
        ({"status": "open,closed", "service_code": "question"}, [3]),
        ("window", [0, 1, 2, 3]),
        ("ids", [1, 3]),
    ],
    ids=["service_code", "two_codes", "open", "closed_none", "statuses", "dates", "ids"],
)
def test_filtered_request_lists_validate(client, open311_client, submitted, fmt, params, expected):
    if params == "window":
        now = datetime.now(UTC)
        params = {
            "start_date": (now - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "end_date": (now + timedelta(minutes=5)).isoformat(timespec="seconds"),
        }
    elif params == "ids":
        params = {
            "service_request_id": ",".join(submitted[i]["service_request_id"] for i in (1, 3))
        }

    response = get(client, f"requests.{fmt}", api_key=open311_client.api_key, **params)

    assert response.status_code == 200
    assert _ids(validate("requests", fmt, response)) == _ids([submitted[i] for i in expected])


def test_an_empty_request_list_is_a_valid_document(client, open311_client):
    xml = get(client, "requests.xml", api_key=open311_client.api_key)
    json = get(client, "requests.json", api_key=open311_client.api_key)

    assert validate("requests", "xml", xml) == validate("requests", "json", json) == []


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_single_request_validates(client, open311_client, submitted, fmt):
    for answer in submitted:
        reference = answer["service_request_id"]
        response = get(client, f"requests/{reference}.{fmt}", api_key=open311_client.api_key)

        assert response.status_code == 200
        (request,) = validate("requests", fmt, response)
        assert request["service_request_id"] == reference


@pytest.mark.parametrize("fmt", FORMATS)
def test_lat_long_are_numbers_when_known_and_empty_when_not(client, open311_client, submitted, fmt):
    def request(i: int) -> dict:
        path = f"requests/{submitted[i]['service_request_id']}.{fmt}"
        return validate("requests", fmt, get(client, path, api_key=open311_client.api_key))[0]

    located, question = request(1), request(3)

    assert (located["lat"], located["long"]) == (54.55, -1.26)
    assert (question["lat"], question["long"]) == (None, None)


def test_request_documents_are_the_same_in_xml_and_json(client, open311_client, submitted):
    key = open311_client.api_key
    assert validate("requests", "xml", get(client, "requests.xml", api_key=key)) == validate(
        "requests", "json", get(client, "requests.json", api_key=key)
    )
    reference = submitted[2]["service_request_id"]
    as_xml = validate("requests", "xml", get(client, f"requests/{reference}.xml", api_key=key))
    assert as_xml[0]["description"] == UNICODE_DESCRIPTION
    reference = submitted[1]["service_request_id"]
    assert validate(
        "requests", "xml", get(client, f"requests/{reference}.xml", api_key=key)
    ) == validate("requests", "json", get(client, f"requests/{reference}.json", api_key=key))


@pytest.mark.parametrize("fmt", FORMATS)
def test_extended_statuses_keep_the_request_document(client, open311_client, submitted, fmt):
    response = get(client, f"requests.{fmt}", api_key=open311_client.api_key, extensions="true")

    assert response.status_code == 200
    requests = validate("requests_extended", fmt, response)
    assert _ids(requests) == _ids(submitted)


@pytest.mark.parametrize("fmt", FORMATS)
def test_token_lookup_validates(client, open311_client, submitted, fmt):
    answer = submitted[0]
    token = answer.get("token")
    assert token, "the POST answer carries no token to look up"

    response = get(client, f"tokens/{token}.{fmt}", api_key=open311_client.api_key)

    assert response.status_code == 200
    assert validate("tokens", fmt, response) == [
        {"service_request_id": answer["service_request_id"], "token": token}
    ]


# --- Errors ----------------------------------------------------------------------------------


def _error_cases(key: str, other_reference: str) -> list[tuple[int, str, str, dict | None]]:
    """(status, method, path without its extension, form or query)."""
    return [
        (400, "POST", "requests", {"api_key": key, **IN_MIDDLEHAVEN, "description": "x"}),
        (400, "POST", "requests", {**fly_tipping(key), **{"lat": "51.5", "long": "-0.12"}}),
        (
            400,
            "GET",
            "requests",
            {
                "api_key": key,
                "start_date": "2026-01-01T00:00:00Z",
                "end_date": "2026-12-01T00:00:00Z",
            },
        ),
        (400, "GET", "requests", {"api_key": key, "start_date": "yesterday"}),
        (403, "GET", "requests", {}),
        (403, "GET", "requests", {"api_key": "not-a-key"}),
        (403, "POST", "requests", fly_tipping("not-a-key")),
        (403, "GET", f"requests/{other_reference}", {}),
        (403, "GET", "tokens/abc", {}),
        (404, "GET", "services/no_such_service", {}),
        (404, "POST", "requests", fly_tipping(key, service_code="no_such_service")),
        (404, "GET", "requests/COPA-26-999999", {"api_key": key}),
        (404, "GET", "tokens/no-such-token", {"api_key": key}),
        (404, "GET", "no_such_resource", {}),
    ]


@pytest.mark.parametrize("fmt", FORMATS)
def test_errors_are_error_lists(client, open311_client, submitted, fmt):
    problems = []
    for status, method, path, data in _error_cases(
        open311_client.api_key, submitted[0]["service_request_id"]
    ):
        url = f"{BASE}/{path}.{fmt}"
        response = (
            client.post(url, data=data) if method == "POST" else client.get(url, query_string=data)
        )
        try:
            assert response.status_code == status, response.get_data(as_text=True)
            errors = validate("errors", fmt, response)
            # "In most cases, this should match the HTTP status code" (GeoReport v2, Errors).
            assert {error["code"] for error in errors} == {status}
        except AssertionError as error:
            problems.append(f"{method} {url} {data}: {error}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("fmt", FORMATS)
def test_several_problems_are_several_errors(client, open311_client, fmt):
    data = fly_tipping(open311_client.api_key, **{"attribute[colour]": "red"})
    del data["attribute[size]"]  # required, missing; and an attribute fly_tipping does not have

    response = post(client, fmt, data)

    assert response.status_code == 400
    assert len(validate("errors", fmt, response)) >= 2


def test_an_unknown_path_without_extension_answers_xml_errors(client):
    response = client.get(f"{BASE}/no_such_resource")

    assert response.status_code == 404
    validate("errors", "xml", response)


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_method_not_allowed_answers_an_error_list(client, fmt):
    response = client.delete(f"{BASE}/services.{fmt}")

    assert response.status_code == 405
    validate("errors", fmt, response)


# --- The schemas accept the standard's own examples ------------------------------------------

# The example responses of GeoReport v2 (GeoReport_v2/index.md) and Service_Discovery.md,
# verbatim for XML. Their JSON writes codes with leading zeros (001, 006): not JSON, so here they
# are strings.
STANDARD_EXAMPLES = {
    "discovery": """<?xml version="1.0" encoding="UTF-8"?>
<discovery>
    <changeset>2011-02-03 14:18</changeset>
    <contact>You can email or call for assistance api@mycity.org +1 (555) 555-5555</contact>
    <key_service>You can request a key here: http://api.mycity.gov/api_key/request</key_service>
    <endpoints>
        <endpoint>
            <specification>http://wiki.open311.org/GeoReport_v2</specification>
            <url>http://open311.mycity.gov/v2</url>
            <changeset>2010-11-23 09:01</changeset>
            <type>production</type>
            <formats>
                <format>text/xml</format>
            </formats>
        </endpoint>
        <endpoint>
            <specification>http://wiki.open311.org/GeoReport_v2</specification>
            <url>http://open311.mycity.gov/test/v2</url>
            <changeset>2010-10-02 09:01</changeset>
            <type>test</type>
            <formats>
                <format>text/xml</format>
                <format>application/json</format>
            </formats>
        </endpoint>
    </endpoints>
</discovery>""",
    "services": """<?xml version="1.0" encoding="utf-8"?>
<services>
    <service>
        <service_code>001</service_code>
        <service_name>Cans left out 24x7</service_name>
        <description>Garbage or recycling cans that have been left out.</description>
        <metadata>true</metadata>
        <type>realtime</type>
        <keywords>lorem, ipsum, dolor</keywords>
        <group>sanitation</group>
    </service>
    <service>
        <service_code>002</service_code>
        <metadata>true</metadata>
        <type>realtime</type>
        <keywords>lorem, ipsum, dolor</keywords>
        <group>street</group>
        <service_name>Construction plate shifted</service_name>
        <description>Metal construction plate covering the street has been moved.</description>
    </service>
</services>""",
    "service_definition": """<?xml version="1.0" encoding="utf-8"?>
<service_definition>
    <service_code>DMV66</service_code>
    <attributes>
        <attribute>
            <variable>true</variable>
            <code>WHISHETN</code>
            <datatype>singlevaluelist</datatype>
            <required>true</required>
            <datatype_description></datatype_description>
            <order>1</order>
            <description>What is the ticket/tag/DL number?</description>
            <values>
                <value>
                    <key>123</key>
                    <name>Ford</name>
                </value>
                <value>
                    <key>124</key>
                    <name>Chrysler</name>
                </value>
            </values>
        </attribute>
    </attributes>
</service_definition>""",
    "request_created": """<?xml version="1.0" encoding="utf-8"?>
<service_requests>
    <request>
        <service_request_id>293944</service_request_id>
        <service_notice>
            The City will inspect and require the responsible party to correct within 24 hours
        </service_notice>
        <account_id/>
    </request>
</service_requests>""",
    "tokens": """<?xml version="1.0" encoding="utf-8"?>
<service_requests>
    <request>
        <service_request_id>638344</service_request_id>
        <token>12345</token>
    </request>
</service_requests>""",
    "requests": """<?xml version="1.0" encoding="utf-8"?>
<service_requests>
    <request>
        <service_request_id>638344</service_request_id>
        <status>closed</status>
        <status_notes>Duplicate request.</status_notes>
        <service_name>Sidewalk and Curb Issues</service_name>
        <service_code>006</service_code>
        <description></description>
        <agency_responsible></agency_responsible>
        <service_notice></service_notice>
        <requested_datetime>2010-04-14T06:37:38-08:00</requested_datetime>
        <updated_datetime>2010-04-14T06:37:38-08:00</updated_datetime>
        <expected_datetime>2010-04-15T06:37:38-08:00</expected_datetime>
        <address>8TH AVE and JUDAH ST</address>
        <address_id>545483</address_id>
        <zipcode>94122</zipcode>
        <lat>37.762221815</lat>
        <long>-122.4651145</long>
        <media_url>http://city.gov.s3.amazonaws.com/requests/media/638344.jpg </media_url>
    </request>
    <request>
        <service_request_id>638349</service_request_id>
        <status>open</status>
        <status_notes></status_notes>
        <service_name>Sidewalk and Curb Issues</service_name>
        <service_code>006</service_code>
        <description></description>
        <agency_responsible></agency_responsible>
        <service_notice></service_notice>
        <requested_datetime>2010-04-19T06:37:38-08:00</requested_datetime>
        <updated_datetime>2010-04-19T06:37:38-08:00</updated_datetime>
        <expected_datetime>2010-04-19T06:37:38-08:00</expected_datetime>
        <address>8TH AVE and JUDAH ST</address>
        <address_id>545483</address_id>
        <zipcode>94122</zipcode>
        <lat>37.762221815</lat>
        <long>-122.4651145</long>
        <media_url>http://city.gov.s3.amazonaws.com/requests/media/638349.jpg </media_url>
    </request>
</service_requests>""",
    "errors": """<?xml version="1.0" encoding="utf-8"?>
<errors>
    <error>
        <code>403</code>
        <description>Invalid api_key received -- can't proceed with create_request.</description>
    </error>
</errors>""",
}
STANDARD_JSON_EXAMPLES = {
    "discovery": """{"changeset":"2011-02-03 14:18",
        "contact":"You can email or call for assistance api@mycity.org +1 (555) 555-5555",
        "key_service":"You can request a key here: http://api.mycity.gov/api_key/request",
        "endpoints":[{"specification":"http://wiki.open311.org/GeoReport_v2",
            "url":"http://open311.mycity.gov/v2","changeset":"2010-11-23 09:01",
            "type":"production","formats":["text/xml"]}]}""",
    "services": """[{"service_code":"001","service_name":"Cans left out 24x7",
        "description":"Garbage or recycling cans that have been left out.","metadata":true,
        "type":"realtime","keywords":"lorem, ipsum, dolor","group":"sanitation"}]""",
    "service_definition": """{"service_code":"DMV66","attributes":[{"variable":true,
        "code":"WHISHETN","datatype":"singlevaluelist","required":true,
        "datatype_description":null,"order":1,"description":"What is the ticket/tag/DL number?",
        "values":[{"key":123,"name":"Ford"},{"key":124,"name":"Chrysler"}]}]}""",
    "request_created": """[{"service_request_id":293944,
        "service_notice":"The City will inspect and require the responsible party to correct",
        "account_id":null}]""",
    "tokens": """[{"service_request_id":638344,"token":12345}]""",
    "requests": """[{"service_request_id":638344,"status":"closed",
        "status_notes":"Duplicate request.","service_name":"Sidewalk and Curb Issues",
        "service_code":"006","description":null,"agency_responsible":null,"service_notice":null,
        "requested_datetime":"2010-04-14T06:37:38-08:00",
        "updated_datetime":"2010-04-14T06:37:38-08:00",
        "expected_datetime":"2010-04-15T06:37:38-08:00","address":"8TH AVE and JUDAH ST",
        "address_id":545483,"zipcode":94122,"lat":37.762221815,"long":-122.4651145,
        "media_url":"http://city.gov.s3.amazonaws.com/requests/media/638344.jpg"}]""",
    "errors": """[{"code":403,
        "description":"Invalid api_key received -- can't proceed with create_request."}]""",
}


@pytest.mark.parametrize("kind", sorted(STANDARD_EXAMPLES))
def test_the_schemas_accept_the_standards_examples(kind):
    validate_document(kind, "xml", STANDARD_EXAMPLES[kind])
    validate_document(kind, "json", STANDARD_JSON_EXAMPLES[kind])


def test_every_kind_has_an_example():
    assert set(STANDARD_EXAMPLES) == set(KINDS) - {"requests_extended"}


# --- ... and refuse wrong documents ----------------------------------------------------------


def _without(text: str, line: str) -> str:
    assert line in text
    return text.replace(line, "", 1)


def _swap(text: str, old: str, new: str) -> str:
    assert old in text
    return text.replace(old, new)


REQUESTS_XML = STANDARD_EXAMPLES["requests"]
WRONG_XML = {
    "requests: no service_request_id": (
        "requests",
        _without(REQUESTS_XML, "<service_request_id>638349</service_request_id>"),
        "request[2]: Unexpected child with tag 'status'",
    ),
    "requests: <requests> root": (
        "requests",
        _swap(REQUESTS_XML, "service_requests>", "requests>"),
        "'requests' is not an element",
    ),
    "requests: a status that is not open/closed": (
        "requests",
        _swap(REQUESTS_XML, "<status>open</status>", "<status>pending</status>"),
        "request[2]/status",
    ),
    "requests: a datetime without its zone": (
        "requests",
        _swap(
            REQUESTS_XML, "2010-04-19T06:37:38-08:00</requested", "2010-04-19T06:37:38</requested"
        ),
        "request[2]/requested_datetime",
    ),
    "requests: fields out of order": (
        "requests",
        _swap(
            REQUESTS_XML,
            "<lat>37.762221815</lat>\n        <long>-122.4651145</long>",
            "<long>-122.4651145</long>\n        <lat>37.762221815</lat>",
        ),
        "Unexpected child with tag 'long'",
    ),
    "requests: a foreign element": (
        "requests",
        _swap(REQUESTS_XML, "<zipcode>94122</zipcode>", "<zipcode>94122</zipcode><ward/>"),
        "Unexpected child with tag 'ward'",
    ),
    "requests: the same request twice": (
        "requests",
        _swap(REQUESTS_XML, "638349</service_request_id>", "638344</service_request_id>"),
        "duplicated value ('638344',)",
    ),
    "requests: no XML declaration": (
        "requests",
        _swap(REQUESTS_XML, '<?xml version="1.0" encoding="utf-8"?>\n', ""),
        "declaration",
    ),
    "services: metadata yes": (
        "services",
        _swap(
            STANDARD_EXAMPLES["services"], "<metadata>true</metadata>", "<metadata>yes</metadata>"
        ),
        "service[1]/metadata",
    ),
    "services: metadata 1": (
        "services",
        _swap(STANDARD_EXAMPLES["services"], "<metadata>true</metadata>", "<metadata>1</metadata>"),
        "service[1]/metadata",
    ),
    "services: <service_list> root": (
        "services",
        _swap(STANDARD_EXAMPLES["services"], "services>", "service_list>"),
        "'service_list' is not an element",
    ),
    "service definition: required yes": (
        "service_definition",
        _swap(
            STANDARD_EXAMPLES["service_definition"],
            "<required>true</required>",
            "<required>yes</required>",
        ),
        "attribute/required",
    ),
    "service definition: a list without values": (
        "service_definition",
        _swap(STANDARD_EXAMPLES["service_definition"], "<value>", "<!-- ").replace(
            "</value>", " -->"
        ),
        "attribute: assertion test is false",
    ),
    "service definition: order 0": (
        "service_definition",
        _swap(STANDARD_EXAMPLES["service_definition"], "<order>1</order>", "<order>0</order>"),
        "attribute/order",
    ),
    "tokens: no token": (
        "tokens",
        _without(STANDARD_EXAMPLES["tokens"], "<token>12345</token>"),
        "Tag 'token' expected",
    ),
    "errors: no error": (
        "errors",
        '<?xml version="1.0" encoding="utf-8"?>\n<errors/>',
        "Tag 'error' expected",
    ),
    "errors: a code that is not a number": (
        "errors",
        _swap(STANDARD_EXAMPLES["errors"], "<code>403</code>", "<code>forbidden</code>"),
        "error/code",
    ),
    "errors: an <error> root": (
        "errors",
        '<?xml version="1.0" encoding="utf-8"?>\n'
        "<error><code>400</code><description>Bad</description></error>",
        "'error' is not an element",
    ),
    "discovery: an unknown endpoint type": (
        "discovery",
        _swap(STANDARD_EXAMPLES["discovery"], "<type>test</type>", "<type>staging</type>"),
        "endpoint[2]/type",
    ),
}


@pytest.mark.parametrize("case", sorted(WRONG_XML))
def test_the_xml_schemas_refuse_wrong_documents(case):
    kind, document, reason = WRONG_XML[case]

    with pytest.raises(SchemaViolation, match=re.escape(reason)):
        validate_document(kind, "xml", document)


REQUESTS_JSON = STANDARD_JSON_EXAMPLES["requests"]
WRONG_JSON = {
    "requests: no service_request_id": (
        "requests",
        _swap(REQUESTS_JSON, '"service_request_id":638344,', ""),
        "'service_request_id' is a required property",
    ),
    "requests: wrapped in a root object": (
        "requests",
        '{"service_requests":' + REQUESTS_JSON + "}",
        "(root):",
    ),
    "requests: lat as text": (
        "requests",
        _swap(REQUESTS_JSON, "37.762221815", '"37.762221815"'),
        "0/lat:",
    ),
    "requests: no updated_datetime": (
        "requests",
        _swap(REQUESTS_JSON, '"updated_datetime":"2010-04-14T06:37:38-08:00",', ""),
        "'updated_datetime' is a required property",
    ),
    "requests: a foreign field": (
        "requests",
        _swap(REQUESTS_JSON, '"zipcode"', '"ward":1,"zipcode"'),
        "'ward' was unexpected",
    ),
    "services: metadata yes": (
        "services",
        _swap(STANDARD_JSON_EXAMPLES["services"], '"metadata":true', '"metadata":"yes"'),
        "0/metadata: 'yes'",
    ),
    "services: metadata as text": (
        "services",
        _swap(STANDARD_JSON_EXAMPLES["services"], '"metadata":true', '"metadata":"true"'),
        "0/metadata: 'true'",
    ),
    "services: an unknown type": (
        "services",
        _swap(STANDARD_JSON_EXAMPLES["services"], '"realtime"', '"sometimes"'),
        "0/type:",
    ),
    "services: the same code twice": (
        "services",
        STANDARD_JSON_EXAMPLES["services"][:-1] + "," + STANDARD_JSON_EXAMPLES["services"][1:],
        "service_code '001' appears more than once",
    ),
    "service definition: variable yes": (
        "service_definition",
        _swap(STANDARD_JSON_EXAMPLES["service_definition"], '"variable":true', '"variable":"yes"'),
        "attributes/0/variable",
    ),
    "service definition: two options with one key": (
        "service_definition",
        _swap(STANDARD_JSON_EXAMPLES["service_definition"], '"key":124', '"key":123'),
        "key '123' appears more than once",
    ),
    "request creation: an object, not an array": (
        "request_created",
        STANDARD_JSON_EXAMPLES["request_created"].strip()[1:-1],
        "is not of type 'array'",
    ),
    "errors: problem+json": (
        "errors",
        '{"type":"about:blank","title":"Forbidden","status":403,"detail":"Invalid api_key"}',
        "is not of type 'array'",
    ),
    "errors: the code as text": (
        "errors",
        _swap(STANDARD_JSON_EXAMPLES["errors"], '"code":403', '"code":"403"'),
        "0/code:",
    ),
    "discovery: formats as one string": (
        "discovery",
        _swap(STANDARD_JSON_EXAMPLES["discovery"], '["text/xml"]', '"text/xml"'),
        "endpoints/0/formats",
    ),
}


@pytest.mark.parametrize("case", sorted(WRONG_JSON))
def test_the_json_schemas_refuse_wrong_documents(case):
    kind, document, reason = WRONG_JSON[case]

    with pytest.raises(SchemaViolation, match=re.escape(reason)):
        validate_document(kind, "json", document)


@pytest.mark.parametrize(
    ("fmt", "content_type"),
    [
        ("xml", "application/xml; charset=utf-8"),
        ("xml", "text/xml"),
        ("xml", "text/xml; charset=iso-8859-1"),
        ("json", "text/json"),
        ("json", "application/problem+json"),
        ("json", "application/json; charset=latin-1"),
        ("json", None),
    ],
)
def test_a_wrong_content_type_is_refused(fmt, content_type):
    with pytest.raises(SchemaViolation):
        check_content_type(fmt, content_type)


@pytest.mark.parametrize(
    ("fmt", "content_type"),
    [
        ("xml", "text/xml; charset=utf-8"),
        ("xml", 'text/xml; charset="UTF-8"'),
        ("json", "application/json"),
        ("json", "application/json; charset=utf-8"),
    ],
)
def test_the_standards_content_types_are_accepted(fmt, content_type):
    check_content_type(fmt, content_type)


def test_a_body_that_is_not_utf8_is_refused():
    latin1 = STANDARD_EXAMPLES["errors"].replace("can't", "ne peut pas \xeatre").encode("latin-1")

    with pytest.raises(SchemaViolation, match="UTF-8"):
        validate_document("errors", "xml", latin1)


def test_validate_checks_the_response_headers_too():
    class Fake:
        headers = Headers({"Content-Type": "application/xml"})

        def get_data(self) -> bytes:
            return STANDARD_EXAMPLES["errors"].encode()

    with pytest.raises(SchemaViolation, match="Content-Type"):
        validate("errors", "xml", Fake())


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_body_too_large_answers_an_error_list(app, client, open311_client, monkeypatch, fmt):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 2000)

    response = post(client, fmt, fly_tipping(open311_client.api_key, description="x" * 4000))

    assert response.status_code == 413
    validate("errors", fmt, response)


@pytest.mark.parametrize("fmt", FORMATS)
def test_too_many_requests_answers_an_error_list(app, client, open311_client, monkeypatch, fmt):
    monkeypatch.setitem(app.config, "RATELIMIT_OPEN311", "1/hour")
    key = open311_client.api_key
    post(client, fmt, fly_tipping(key, description="The first"))

    response = post(client, fmt, fly_tipping(key, description="The second"))

    assert response.status_code == 429
    validate("errors", fmt, response)


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_server_error_answers_an_error_list(client, reference_data, monkeypatch, fmt):
    from copa.open311 import service

    def broken(*args, **kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(service, "services", broken)

    response = get(client, f"services.{fmt}")

    assert response.status_code == 500
    validate("errors", fmt, response)
