"""GET /v1/metrics/partners: referrals sent, acknowledged and resolved per partner, with median
times estimated from the rollup's duration histogram."""

from __future__ import annotations

import statistics

from copa.metrics.rollups import DURATION_BUCKETS, duration_bucket
from tests.metrics.support import add_referral, at, get

URL = "/v1/metrics/partners"
Q3_2025 = {"from": "2025-10", "to": "2025-12"}
ACKNOWLEDGED = (600, 1200, 2000, 5000, 90_000)
RESOLVED = (100_000, 200_000, 4_000_000)


def bucket_bounds(seconds: float) -> tuple[int, float]:
    index = duration_bucket(int(seconds))
    lower = DURATION_BUCKETS[index - 1] if index else 0
    return lower, DURATION_BUCKETS[index] or float("inf")


def arrange(app) -> None:
    sent = at(2025, 11, 5)
    for n, acknowledged in enumerate(ACKNOWLEDGED):
        resolved = RESOLVED[n] if n < len(RESOLVED) else None
        add_referral(
            app,
            "middlesbrough-council",
            sent,
            acknowledged_after=acknowledged,
            resolved_after=resolved,
        )
    add_referral(app, "middlesbrough-council", sent)  # not acknowledged yet
    for seconds in (3_000_000, 4_000_000, 5_000_000):  # all beyond four weeks
        add_referral(app, "thirteen-housing", sent, acknowledged_after=seconds)
    add_referral(app, "environment-agency", at(2025, 9, 1), acknowledged_after=60)  # Q2


def test_sent_acknowledged_and_resolved_per_partner(app, client, analyst):
    arrange(app)

    response = get(client, analyst, URL, **Q3_2025)

    assert response.status_code == 200, response.get_json()
    partners = response.get_json()["partners"]
    assert [p["code"] for p in partners] == ["middlesbrough-council", "thirteen-housing"]
    council = partners[0]
    assert (council["name"], council["kind"]) == ("Middlesbrough Council", "council")
    assert (council["sent"], council["acknowledged"], council["resolved"]) == (6, 5, 3)


def test_estimated_medians_fall_in_the_bucket_of_the_true_median(app, client, analyst):
    arrange(app)

    council = get(client, analyst, URL, **Q3_2025).get_json()["partners"][0]

    for estimate, times in (
        (council["median_seconds_to_acknowledge"], ACKNOWLEDGED),
        (council["median_seconds_to_resolve"], RESOLVED),
    ):
        lower, upper = bucket_bounds(statistics.median(times))
        assert lower <= estimate <= upper, (estimate, times)
    # Interpolated halfway into the 30-60 minute bucket that holds the third of five.
    assert council["median_seconds_to_acknowledge"] == 2700


def test_in_the_open_last_bucket_the_median_is_that_bucket_s_mean(app, client, analyst):
    arrange(app)

    housing = get(client, analyst, URL, **Q3_2025).get_json()["partners"][1]

    assert housing["median_seconds_to_acknowledge"] == 4_000_000
    assert housing["resolved"] == 0 and housing["median_seconds_to_resolve"] is None


def test_partners_take_no_area(client, analyst):
    response = get(client, analyst, URL, area="E06000002")

    assert response.status_code == 422
    assert "area" in response.get_json()["errors"]
