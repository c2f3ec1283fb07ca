"""GET /v1/signposts: what the app lists, narrowed as asked, cached like categories."""

from __future__ import annotations

import pytest

from copa.signposts.seed import SEED_SIGNPOSTS
from tests.signposts.support import (
    ADMIN,
    COUNCIL_PAGES,
    HARTLEPOOL,
    HARTLEPOOL_PAGE,
    LIST,
    LONDON,
    PROBLEM_JSON,
    STOCKTON,
    STOCKTON_PAGE,
    VICTORIA,
    VICTORIA_WARD,
    codes,
    create,
    listed,
)

EVERYWHERE = [s["code"] for s in SEED_SIGNPOSTS if not s.get("local_authority_code")]


def refused(response, field: str) -> dict:
    assert response.status_code == 422, response.get_json()
    assert response.mimetype == PROBLEM_JSON
    body = response.get_json()
    assert any(key == field or key.startswith(f"{field}.") for key in body["errors"]), body
    return body


def test_every_active_signpost_is_listed_in_display_order(client, cleveland):
    assert listed(client) == [s["code"] for s in SEED_SIGNPOSTS]


def test_a_signpost_shows_what_the_app_needs(client, cleveland):
    signposts = client.get(LIST).get_json()
    hartlepool = next(s for s in signposts if s["code"] == HARTLEPOOL_PAGE)
    assert hartlepool["url"] == "https://www.hartlepool.gov.uk/report"
    assert hartlepool["organisation"] == "Hartlepool Borough Council"
    assert hartlepool["topic"] == "council_services"
    assert hartlepool["topic_label"] == "Council services"
    assert hartlepool["destination_kind"] == "partner"
    assert hartlepool["local_authority"] == {"code": HARTLEPOOL, "name": "Hartlepool"}
    assert hartlepool["language"] == "en"
    assert hartlepool["clicks_url"] == f"{LIST}/{hartlepool['id']}/clicks"
    assert hartlepool["go_url"] == f"/go/{HARTLEPOOL_PAGE}"
    everywhere = next(s for s in signposts if s["code"] == "crimestoppers")
    assert everywhere["local_authority"] is None


def test_topics_narrow_the_list_and_may_be_repeated(client, cleveland):
    assert listed(client, topic="careers") == ["cleveland-police-careers"]
    both = listed(client, topic=["council_services", "careers"])
    assert sorted(both) == sorted([*COUNCIL_PAGES.values(), "cleveland-police-careers"])
    refused(client.get(LIST, query_string={"topic": "parking"}), "topic")


def test_a_ward_narrows_to_its_authority_and_signposts_for_everywhere(client, cleveland):
    in_victoria = listed(client, area=VICTORIA_WARD)
    assert HARTLEPOOL_PAGE in in_victoria
    assert not set(in_victoria) & (set(COUNCIL_PAGES.values()) - {HARTLEPOOL_PAGE})
    assert [code for code in in_victoria if code != HARTLEPOOL_PAGE] == EVERYWHERE


def test_an_authority_narrows_to_its_own_council_page(client, cleveland):
    in_stockton = listed(client, area=STOCKTON)
    assert STOCKTON_PAGE in in_stockton and HARTLEPOOL_PAGE not in in_stockton
    assert listed(client, area=HARTLEPOOL) == listed(client, area=VICTORIA_WARD)


def test_without_an_area_every_council_page_is_listed(client, cleveland):
    assert set(COUNCIL_PAGES.values()) <= set(listed(client))


def test_an_unknown_area_is_refused_naming_it(client, cleveland):
    refused(client.get(LIST, query_string={"area": "E06999999"}), "area")


def test_a_point_narrows_to_the_authority_it_falls_in(client, cleveland):
    at_victoria = listed(client, **VICTORIA)
    assert at_victoria == listed(client, area=HARTLEPOOL)


def test_a_point_outside_cleveland_is_refused_as_for_reports(client, cleveland):
    body = refused(client.get(LIST, query_string=LONDON), "lat")
    assert body["type"].endswith("/out-of-area")
    assert body["errors"]["lat"] == ["Outside the Cleveland police force area."]


@pytest.mark.parametrize(
    "query,field",
    [
        ({"lat": 54.6863}, "lon"),
        ({"lon": -1.2129}, "lat"),
        ({"lat": 91, "lon": -1.2}, "lat"),
        ({"lat": "nan", "lon": -1.2}, "lat"),
        ({"lat": "north", "lon": -1.2}, "lat"),
        ({**VICTORIA, "area": HARTLEPOOL}, "area"),
    ],
)
def test_a_half_or_impossible_point_is_refused_naming_the_field(client, cleveland, query, field):
    refused(client.get(LIST, query_string=query), field)


def test_a_category_narrows_to_its_signposts(client, cleveland):
    assert sorted(listed(client, category="fly_tipping")) == sorted(COUNCIL_PAGES.values())
    assert listed(client, category="fly_tipping", area=VICTORIA_WARD) == [HARTLEPOOL_PAGE]
    assert listed(client, category="speeding") == []  # a known category with none


def test_an_unknown_category_is_refused_naming_it(client, cleveland):
    refused(client.get(LIST, query_string={"category": "parking_fines"}), "category")


def test_a_kind_of_feedback_narrows_to_its_signposts(client, cleveland):
    assert listed(client, feedback_kind="dissatisfaction") == ["victim-support", "iopc-complaints"]
    assert listed(client, feedback_kind="compliment") == ["cleveland-police-careers"]
    refused(client.get(LIST, query_string={"feedback_kind": "complaint"}), "feedback_kind")


def test_inactive_signposts_are_never_listed(client, admin):
    made = create(client, admin, category_codes=["fly_tipping"], feedback_kinds=["compliment"])
    assert made["code"] in listed(client)
    assert client.delete(f"{ADMIN}/{made['id']}", headers=admin).status_code == 204
    for query in (
        {},
        {"topic": "crime_prevention"},
        {"area": VICTORIA_WARD},
        VICTORIA,
        {"category": "fly_tipping"},
        {"feedback_kind": "compliment"},
    ):
        assert made["code"] not in listed(client, **query), query


def test_signposts_are_listed_by_sort_order_then_title(client, admin):
    late = create(client, admin, title="Zebra crossings", sort_order=0)
    early = create(client, admin, title="Allotments", sort_order=0)
    last = create(client, admin, title="Aardvarks", sort_order=1_000_000)
    order = listed(client)
    assert order[:2] == [early["code"], late["code"]]
    assert order[-1] == last["code"]


def test_the_list_is_cacheable_and_revalidated_with_its_etag(client, cleveland):
    first = client.get(LIST)
    assert first.status_code == 200
    etag = first.headers["ETag"]
    assert etag.startswith('"') and not etag.startswith("W/")
    assert first.cache_control.public is True
    assert first.cache_control.max_age > 0
    assert "Accept-Language" in first.headers["Vary"]

    again = client.get(LIST, headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.get_data() == b""
    assert again.headers["ETag"] == etag
    assert again.cache_control.public is True and "Accept-Language" in again.headers["Vary"]
    # A different list is a different representation.
    narrowed = client.get(LIST, query_string={"topic": "careers"}, headers={"If-None-Match": etag})
    assert narrowed.status_code == 200 and narrowed.headers["ETag"] != etag


def test_the_list_changes_its_etag_when_an_admin_changes_a_signpost(client, admin):
    etag = client.get(LIST).headers["ETag"]
    create(client, admin)
    assert client.get(LIST, headers={"If-None-Match": etag}).status_code == 200


def test_a_translation_is_given_when_accept_language_asks_for_it(client, admin):
    welsh = {"cy": {"title": "Gwarchod y gymdogaeth", "description": "Ymunwch â chynllun."}}
    made = create(client, admin, translations=welsh)

    def shown(**headers):
        response = client.get(LIST, query_string={"topic": "crime_prevention"}, headers=headers)
        assert response.status_code == 200
        return next(s for s in response.get_json() if s["code"] == made["code"]), response

    in_welsh, response = shown(**{"Accept-Language": "cy-GB, cy;q=0.9, en;q=0.5"})
    assert (in_welsh["title"], in_welsh["description"]) == (
        "Gwarchod y gymdogaeth",
        "Ymunwch â chynllun.",
    )
    assert in_welsh["language"] == "cy"
    in_english, english_response = shown(**{"Accept-Language": "en-GB"})
    assert (in_english["title"], in_english["language"]) == ("Neighbourhood watch", "en")
    assert shown()[0]["title"] == "Neighbourhood watch"
    assert shown(**{"Accept-Language": "pl"})[0]["title"] == "Neighbourhood watch"
    # The two languages are two representations.
    assert response.headers["ETag"] != english_response.headers["ETag"]


def test_a_signpost_without_the_translation_says_it_is_in_english(client, admin):
    welsh = {"cy": {"title": "Gwarchod y gymdogaeth"}}
    made = create(client, admin, translations=welsh)
    shown = {s["code"]: s for s in client.get(LIST, headers={"Accept-Language": "cy"}).get_json()}
    assert shown[made["code"]]["language"] == "cy"
    careers = shown["cleveland-police-careers"]
    assert (careers["title"], careers["language"]) == ("Join Cleveland Police", "en")


def test_a_title_only_translation_keeps_the_english_description(client, admin):
    made = create(client, admin, translations={"cy": {"title": "Gwarchod y gymdogaeth"}})
    response = client.get(LIST, headers={"Accept-Language": "cy"})
    shown = next(s for s in response.get_json() if s["code"] == made["code"])
    assert shown["title"] == "Gwarchod y gymdogaeth"
    assert shown["description"] == "Join a scheme near you."


def test_listing_needs_no_sign_in_and_ignores_a_bad_token(client, cleveland):
    anonymous = codes(client.get(LIST))
    assert codes(client.get(LIST, headers={"Authorization": "Bearer nonsense"})) == anonymous
