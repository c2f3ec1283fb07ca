"""Point-in-polygon lookup and the public area list, over the real Cleveland ward boundaries."""

from __future__ import annotations

import pytest

from copa.areas.service import import_bundled, import_geojson, locate

PROBLEM_JSON = "application/problem+json"


@pytest.fixture
def cleveland(app):
    """The four bundled local authorities and their 82 wards, imported for this test only."""
    with app.app_context():
        import_bundled()


def lookup(client, **query):
    return client.get("/v1/areas/lookup", query_string=query)


def assert_attributed(response, authority: tuple[str, str], ward: tuple[str, str]) -> None:
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {
        "local_authority": {"code": authority[0], "name": authority[1]},
        "ward": {"code": ward[0], "name": ward[1]},
    }


def test_point_in_middlesbrough_is_attributed_to_middlesbrough(client, cleveland):
    response = lookup(client, lat=54.5762, lon=-1.2348)
    assert_attributed(response, ("E06000002", "Middlesbrough"), ("E05001497", "Middlehaven"))


def test_point_in_hartlepool_is_attributed_to_hartlepool(client, cleveland):
    response = lookup(client, lat=54.6863, lon=-1.2129)
    assert_attributed(response, ("E06000001", "Hartlepool"), ("E05008952", "Victoria"))


def test_point_in_stockton_is_attributed_to_stockton_on_tees(client, cleveland):
    response = lookup(client, lat=54.5703, lon=-1.3187)
    assert_attributed(response, ("E06000004", "Stockton-on-Tees"), ("E05001541", "Newtown"))


def test_point_in_redcar_is_attributed_to_redcar_and_cleveland(client, cleveland):
    response = lookup(client, lat=54.6150, lon=-1.0700)
    assert_attributed(response, ("E06000003", "Redcar and Cleveland"), ("E05001516", "Newcomen"))


def test_lookup_answer_carries_area_codes_and_never_the_coordinates(client, cleveland):
    body = lookup(client, lat=54.5762, lon=-1.2348).get_json()
    assert set(body) == {"ward", "local_authority"}
    assert "54.5762" not in str(body)


def test_point_in_london_is_refused_as_out_of_area_with_101_advice(client, cleveland):
    response = lookup(client, lat=51.5074, lon=-0.1278)

    assert response.status_code == 422
    assert response.mimetype == PROBLEM_JSON
    problem = response.get_json()
    assert problem["type"].endswith("/out-of-area")
    assert problem["status"] == 422
    assert "outside the Cleveland police force area" in problem["detail"]
    assert "101" in problem["advice"]
    assert "999" in problem["advice"]


def test_point_in_the_sea_off_redcar_is_out_of_area(client, cleveland):
    response = lookup(client, lat=54.65, lon=-0.95)

    assert response.status_code == 422
    assert response.get_json()["type"].endswith("/out-of-area")


def test_point_on_a_vertex_shared_by_two_wards_is_still_found(app, cleveland):
    # A corner of the boundary between Burn Valley (E05008942) and Victoria (E05008952), exactly.
    with app.app_context():
        first = locate(54.68614503168963, -1.232232374093684)
        again = locate(54.68614503168963, -1.232232374093684)

    assert first.ward_code in {"E05008942", "E05008952"}
    assert first.local_authority_code == "E06000001"
    assert again == first  # the same ward every time, not whichever the index met first


def test_point_on_an_edge_shared_by_two_wards_is_still_found(app, client):
    # Two wards side by side; the point lies exactly on the line between them.
    def square(west: float) -> dict:
        ring = [[west, 54.5], [west + 0.1, 54.5], [west + 0.1, 54.6], [west, 54.6], [west, 54.5]]
        return {"type": "Polygon", "coordinates": [ring]}

    collection = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"code": f"E0599999{i}", "name": f"Side {i}"},
                "geometry": square(-1.5 + i * 0.1),
            }
            for i in (0, 1)
        ],
    }
    with app.app_context():
        import_geojson(collection, authority_code="E06000099", authority_name="Borderland")

    response = lookup(client, lat=54.55, lon=-1.4)

    assert response.status_code == 200
    assert response.get_json()["ward"]["code"] in {"E05999990", "E05999991"}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"lat": 91, "lon": -1.2}, "lat"),
        ({"lat": -90.5, "lon": -1.2}, "lat"),
        ({"lat": 54.5, "lon": 180.01}, "lon"),
        ({"lon": -1.2}, "lat"),
        ({"lat": 54.5}, "lon"),
        ({"lat": "middlesbrough", "lon": -1.2}, "lat"),
        ({"lat": "nan", "lon": -1.2}, "lat"),
        ({"lat": 54.5, "lon": "-inf"}, "lon"),
        ({"lat": 54.5, "lon": -1.2, "radius": 5}, "radius"),
    ],
    ids=[
        "lat-above-90",
        "lat-below-minus-90",
        "lon-above-180",
        "lat-missing",
        "lon-missing",
        "lat-not-a-number",
        "lat-nan",
        "lon-infinite",
        "unknown-parameter",
    ],
)
def test_lookup_with_a_bad_coordinate_is_a_422_naming_the_field(client, query, field):
    response = lookup(client, **query)

    assert response.status_code == 422
    assert response.mimetype == PROBLEM_JSON
    problem = response.get_json()
    assert problem["status"] == 422
    assert field in problem["errors"]


def test_area_list_shows_the_four_authorities_and_their_82_wards(client, cleveland):
    response = client.get("/v1/areas")

    assert response.status_code == 200
    authorities = response.get_json()
    assert [(a["code"], a["name"]) for a in authorities] == [
        ("E06000001", "Hartlepool"),
        ("E06000002", "Middlesbrough"),
        ("E06000003", "Redcar and Cleveland"),
        ("E06000004", "Stockton-on-Tees"),
    ]
    assert [len(a["wards"]) for a in authorities] == [11, 23, 22, 26]
    wards = [ward for a in authorities for ward in a["wards"]]
    assert len({w["code"] for w in wards}) == 82
    assert all(
        set(w) == {"code", "name"} and w["code"].startswith("E05") and w["name"] for w in wards
    )
    middlesbrough = authorities[1]["wards"]
    assert {"code": "E05001497", "name": "Middlehaven"} in middlesbrough
    assert [w["name"] for w in middlesbrough] == sorted(w["name"] for w in middlesbrough)


def test_area_list_may_be_cached_by_clients_for_five_minutes(client, cleveland):
    response = client.get("/v1/areas")

    assert response.headers["Cache-Control"] == "public, max-age=300"
