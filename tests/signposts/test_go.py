"""ACCEPTANCE: /go/{code}, the counting redirect for web pages, goes only to a signpost's stored URL
and counts a visit once, never a HEAD, and never more than the per-address limit."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from copa.signposts.seed import SEED_SIGNPOSTS
from tests.signposts.support import (
    ADMIN,
    HARTLEPOOL,
    HARTLEPOOL_PAGE,
    PROBLEM_JSON,
    clicks_of,
    rollup_total,
    signpost_id,
)

HARTLEPOOL_URL = "https://www.hartlepool.gov.uk/report"
SEED_CODES = {s["code"] for s in SEED_SIGNPOSTS}


def test_a_visit_is_sent_to_the_stored_url_and_counted(app, client, cleveland):
    response = client.get(f"/go/{HARTLEPOOL_PAGE}")
    assert response.status_code == 302
    assert response.headers["Location"] == HARTLEPOOL_URL
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    signpost = signpost_id(app, HARTLEPOOL_PAGE)
    assert rollup_total(app, signpost, source="web", local_authority_code=HARTLEPOOL) == 1
    (stored,) = clicks_of(app, signpost)
    assert (stored.source, stored.event_id) == ("web", None)


def test_each_visit_counts_once(app, client, cleveland):
    for _ in range(3):
        assert client.get(f"/go/{HARTLEPOOL_PAGE}").status_code == 302
    assert rollup_total(app, signpost_id(app, HARTLEPOOL_PAGE), source="web") == 3


def test_a_head_is_answered_but_not_counted(app, client, cleveland):
    response = client.head(f"/go/{HARTLEPOOL_PAGE}")
    assert response.status_code == 302
    assert response.headers["Location"] == HARTLEPOOL_URL
    assert response.headers["Cache-Control"] == "no-store"
    signpost = signpost_id(app, HARTLEPOOL_PAGE)
    assert rollup_total(app, signpost) == 0 and clicks_of(app, signpost) == []


def test_the_query_string_never_changes_where_it_goes(app, client, cleveland):
    for query in ("next=https://evil.example", "url=//evil.example", "code=crimestoppers"):
        response = client.get(f"/go/{HARTLEPOOL_PAGE}?{query}")
        assert response.headers["Location"] == HARTLEPOOL_URL


def test_an_unknown_code_is_not_found(client, cleveland):
    response = client.get("/go/no-such-signpost")
    assert response.status_code == 404
    assert response.mimetype == PROBLEM_JSON
    assert "Location" not in response.headers


def test_a_deactivated_signpost_is_not_found_and_its_counts_stay(app, client, admin):
    signpost = signpost_id(app, HARTLEPOOL_PAGE)
    assert client.get(f"/go/{HARTLEPOOL_PAGE}").status_code == 302
    assert client.delete(f"{ADMIN}/{signpost}", headers=admin).status_code == 204
    response = client.get(f"/go/{HARTLEPOOL_PAGE}")
    assert response.status_code == 404 and "Location" not in response.headers
    assert client.head(f"/go/{HARTLEPOOL_PAGE}").status_code == 404
    assert rollup_total(app, signpost) == 1 and len(clicks_of(app, signpost)) == 1


def test_a_changed_url_is_where_the_next_visit_goes(app, client, admin):
    signpost = signpost_id(app, HARTLEPOOL_PAGE)
    moved = "https://www.hartlepool.gov.uk/xfp/form/123"
    changed = client.patch(f"{ADMIN}/{signpost}", json={"url": moved}, headers=admin)
    assert changed.status_code == 200, changed.get_json()
    assert client.get(f"/go/{HARTLEPOOL_PAGE}").headers["Location"] == moved


def test_over_the_address_limit_a_visit_still_goes_through_uncounted(
    app, client, cleveland, monkeypatch
):
    monkeypatch.setitem(app.config, "RATELIMIT_SIGNPOST_GO_PER_ADDRESS", "2/hour")
    answers = [client.get(f"/go/{HARTLEPOOL_PAGE}") for _ in range(4)]
    assert [a.status_code for a in answers] == [302] * 4
    assert {a.headers["Location"] for a in answers} == {HARTLEPOOL_URL}
    signpost = signpost_id(app, HARTLEPOOL_PAGE)
    assert rollup_total(app, signpost) == 2
    # Another address is counted again.
    other = client.get(f"/go/{HARTLEPOOL_PAGE}", environ_base={"REMOTE_ADDR": "198.51.100.9"})
    assert other.status_code == 302 and rollup_total(app, signpost) == 3


def test_heads_do_not_use_up_the_address_limit(app, client, cleveland, monkeypatch):
    monkeypatch.setitem(app.config, "RATELIMIT_SIGNPOST_GO_PER_ADDRESS", "1/hour")
    for _ in range(3):
        client.head(f"/go/{HARTLEPOOL_PAGE}")
    client.get(f"/go/{HARTLEPOOL_PAGE}")
    assert rollup_total(app, signpost_id(app, HARTLEPOOL_PAGE)) == 1


def test_only_get_and_head_are_answered(client, cleveland):
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        response = client.open(f"/go/{HARTLEPOOL_PAGE}", method=method)
        assert response.status_code == 405, method
        assert "Location" not in response.headers


CRAFTED = [
    "//evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "%2F%2Fevil.example",
    "%2f%2fevil.example",
    "%252F%252Fevil.example",
    "https://evil.example/",
    "https:evil.example",
    "javascript:alert(1)",
    "hartlepool-council-report-it/../../v1/signposts",
    f"{HARTLEPOOL_PAGE}%0d%0aLocation:%20https://evil.example",
    f"{HARTLEPOOL_PAGE}\r\nLocation: https://evil.example",
    f"{HARTLEPOOL_PAGE}%00",
    f"{HARTLEPOOL_PAGE.upper()}",
    f"{HARTLEPOOL_PAGE} ",
    f"{HARTLEPOOL_PAGE}/",
    "hartlepool‐council‐report‐it",  # Unicode hyphens
    "ｃｒｉｍｅｓｔｏｐｐｅｒｓ",  # fullwidth letters
    "crimestoppers" + "\u200b",
    "a" * 65,
    "a" * 10_000,
    "..",
    ".",
    "",
]

texts = st.one_of(
    st.sampled_from(CRAFTED),
    st.text(st.characters(exclude_categories=("Cs",)), max_size=200),
    st.builds(
        lambda scheme, host, path: f"{scheme}{host}/{path}",
        st.sampled_from(["https://", "http://", "//", "/\\", "", "%2F%2F", "https:/"]),
        st.from_regex(r"[a-z0-9.-]{1,30}\.(example|com|uk)", fullmatch=True),
        st.text(max_size=30).map(lambda t: quote(t, safe="/")),
    ),
    st.text(alphabet="/%2Fabcdef:\\.-\r\n\t ", max_size=80),
)
# Which characters reach the server unescaped: none, slashes, or percent signs too (so
# "%2F%2F" arrives as it was written and is decoded to slashes by the server).
SAFE = st.sampled_from(["", "/", "/%", "/:%@\\"])


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(text=texts, safe=SAFE, method=st.sampled_from(["GET", "HEAD"]))
def test_a_crafted_code_never_redirects_anywhere(app, client, cleveland, text, safe, method):
    assume(text not in SEED_CODES)
    path = "/go/" + quote(text, safe=safe)
    response = client.open(path, method=method)
    assert response.status_code in (400, 404, 405), (path, response.status_code)
    assert "Location" not in response.headers, (path, response.headers.get("Location"))
    assert response.mimetype == PROBLEM_JSON


@pytest.mark.parametrize("code", sorted(SEED_CODES))
def test_every_seed_code_goes_to_its_own_url(app, client, cleveland, code):
    url = next(s["url"] for s in SEED_SIGNPOSTS if s["code"] == code)
    assert client.head(f"/go/{code}").headers["Location"] == url
