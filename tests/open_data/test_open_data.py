"""Open data: public confidence per completed quarter and local authority as CSV, with every
count below 5 suppressed and nothing a reader could subtract back (DOMAIN.md "Privacy")."""

from __future__ import annotations

import csv
import io
import random
from datetime import UTC, datetime, time, timedelta
from itertools import combinations_with_replacement

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from copa.areas.service import import_bundled
from copa.auth.models import Device
from copa.confidence.service import OPTION_KEYS, cast_vote
from copa.db import db
from copa.metrics.models import ConfidenceRollup
from copa.open_data.service import (
    CONFIDENCE_COLUMNS,
    SUPPRESSED,
    THRESHOLD,
    confidence_csv,
    control_disclosure,
)
from copa.periods import Quarter, today_london
from tests.factories import bearer, signed_in

URL = "/v1/open-data/confidence.csv"
AUTHORITIES = {
    "E06000001": "Hartlepool",
    "E06000002": "Middlesbrough",
    "E06000003": "Redcar and Cleveland",
    "E06000004": "Stockton-on-Tees",
}
MIDDLEHAVEN = "E05001497"  # a ward of Middlesbrough
C = SUPPRESSED


@pytest.fixture
def cleveland(app):
    """The four bundled local authorities and their wards, for this test only."""
    with app.app_context():
        import_bundled()


def previous_quarter() -> Quarter:
    """The last quarter that has ended in Europe/London."""
    return Quarter.of(Quarter.of(today_london()).first_day() - timedelta(days=1))


def parse(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


# --- the disclosure control, directly -----------------------------------------------------


def test_a_row_with_no_small_counts_is_shown_whole_with_its_percentage():
    assert control_disclosure([10, 20, 30, 40, 50]) == ["150", "10", "20", "30", "40", "50", "60.0"]


def test_a_lone_small_count_takes_the_smallest_other_count_with_it():
    # 63 - (12 + 30 + 10) would otherwise give the 3 back.
    assert control_disclosure([3, 8, 12, 30, 10]) == ["63", C, C, "12", "30", "10", C]


def test_counts_tied_for_smallest_are_suppressed_together():
    assert control_disclosure([3, 8, 8, 30, 10]) == ["59", C, C, C, "30", "10", C]


def test_small_counts_adding_up_to_under_5_take_another_count_with_them():
    # Two zeros alone would show 0 as responses minus the cells shown.
    assert control_disclosure([0, 0, 10, 12, 15]) == ["37", C, C, C, "12", "15", C]
    # Two small counts of 5 or more together need nothing more.
    assert control_disclosure([2, 3, 10, 12, 15]) == ["42", C, C, "10", "12", "15", C]


def test_small_counts_that_must_each_be_4_take_another_count_with_them():
    # Four [c] adding up to 16 could only be four 4s.
    assert control_disclosure([4, 4, 4, 4, 30]) == ["46", C, C, C, C, C, C]
    assert control_disclosure([4, 4, 20, 30, 40]) == ["98", C, C, C, "30", "40", C]


def test_a_row_with_fewer_than_5_responses_shows_nothing():
    assert control_disclosure([1, 0, 2, 1, 0]) == [C] * 7
    assert control_disclosure([0, 0, 0, 0, 0]) == [C] * 7


counts_rows = st.lists(
    st.one_of(st.integers(0, 12), st.integers(0, 100_000)),
    min_size=len(OPTION_KEYS),
    max_size=len(OPTION_KEYS),
)


@settings(max_examples=1000, deadline=None)
@given(counts_rows)
def test_no_published_count_is_below_5_and_none_is_responses_minus_the_rest(counts):
    responses, *options, percent = control_disclosure(counts)

    for cell in (responses, *options):
        assert cell == SUPPRESSED or int(cell) >= THRESHOLD
    hidden = [index for index, cell in enumerate(options) if cell == SUPPRESSED]
    assert [int(cell) for cell in options if cell != SUPPRESSED] == [
        count for index, count in enumerate(counts) if index not in hidden
    ]
    if responses != SUPPRESSED:
        assert int(responses) == sum(counts)
        shown = sum(int(cell) for cell in options if cell != SUPPRESSED)
        # What is suppressed is never one cell alone, nor a small total.
        assert len(hidden) != 1
        assert not hidden or int(responses) - shown >= THRESHOLD
    assert (percent == SUPPRESSED) == (bool(hidden) or responses == SUPPRESSED)


def _compositions(total: int, parts: int):
    """Every way of writing ``total`` as ``parts`` non-negative integers, in order."""
    for bars in combinations_with_replacement(range(total + 1), parts - 1):
        edges = (0, *bars, total)
        yield tuple(edges[i + 1] - edges[i] for i in range(parts))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 7), min_size=5, max_size=5))
def test_no_suppressed_count_can_be_worked_out_even_knowing_the_rule(counts):
    # A reader who knows the rule tries every value the suppressed cells could have had: each
    # suppressed cell must be consistent with at least two values.
    published = control_disclosure(counts)
    responses, *options, _ = published
    hidden = [index for index, cell in enumerate(options) if cell == SUPPRESSED]
    if responses == SUPPRESSED or not hidden:
        return
    rest = int(responses) - sum(int(cell) for cell in options if cell != SUPPRESSED)
    possible: dict[int, set[int]] = {index: set() for index in hidden}
    for values in _compositions(rest, len(hidden)):
        candidate = list(counts)
        for index, value in zip(hidden, values, strict=True):
            candidate[index] = value
        if control_disclosure(candidate) == published:
            for index, value in zip(hidden, values, strict=True):
                possible[index].add(value)
    assert all(len(values) >= 2 for values in possible.values()), possible


# --- the CSV ------------------------------------------------------------------------------


def test_hundreds_of_random_rows_never_show_a_count_below_5(app, cleveland):
    rng = random.Random(20251123)
    current = Quarter.of(today_london())
    quarters, quarter = [], Quarter(2020, 1)
    while quarter < current:
        quarters.append(quarter)
        quarter = quarter.next()
    truth: dict[tuple[int, int, str], list[int]] = {}
    with app.app_context():
        for quarter in quarters:
            for authority in AUTHORITIES:
                row = truth.setdefault(
                    (quarter.fiscal_year, quarter.quarter, authority), [0] * len(OPTION_KEYS)
                )
                for channel in ("app", "event"):
                    for index, option in enumerate(OPTION_KEYS):
                        count = rng.choice([0, 0, 1, 2, 3, 4, 5, 6, rng.randint(0, 60)])
                        row[index] += count
                        db.session.add(
                            ConfidenceRollup(
                                month=quarter.first_day(),
                                area_code=authority,
                                channel=channel,
                                option=option,
                                ward_code="",
                                local_authority_code=authority,
                                fiscal_year=quarter.fiscal_year,
                                fiscal_quarter=quarter.quarter,
                                count=count,
                            )
                        )
        db.session.commit()
        rows = parse(confidence_csv())

    assert len(rows) == len(quarters) * len(AUTHORITIES) >= 100
    count_columns = ["responses", *OPTION_KEYS]
    for row in rows:
        quarter = Quarter(int(row["fiscal_year"]), int(row["quarter"][-1]))
        assert row["quarter"] == quarter.label
        counts = truth[(quarter.fiscal_year, quarter.quarter, row["local_authority_code"])]
        assert row["local_authority_name"] == AUTHORITIES[row["local_authority_code"]]
        for column in count_columns:
            assert row[column] == SUPPRESSED or int(row[column]) >= THRESHOLD, row
        hidden = [key for key in OPTION_KEYS if row[key] == SUPPRESSED]
        for index, key in enumerate(OPTION_KEYS):
            assert row[key] in (SUPPRESSED, str(counts[index]))
        if row["responses"] != SUPPRESSED:
            assert int(row["responses"]) == sum(counts)
            difference = int(row["responses"]) - sum(
                int(row[key]) for key in OPTION_KEYS if key not in hidden
            )
            assert len(hidden) != 1
            assert not hidden or difference >= THRESHOLD


def _device(app):
    with app.app_context():
        device = Device(platform="android")
        db.session.add(device)
        db.session.commit()
        return device.id


def test_completed_quarters_are_published_per_authority_with_small_counts_suppressed(
    app, client, cleveland
):
    analyst = bearer(signed_in(app, client, "analyst")["access_token"])
    previous = previous_quarter()
    event_date = previous.first_day() + timedelta(days=10)

    def tally(area, counts):
        body = {
            "event_name": "Community counter",
            "event_date": event_date.isoformat(),
            "area": area,
            "counts": dict(zip(OPTION_KEYS, counts, strict=True)),
        }
        response = client.post("/v1/staff/confidence/tallies", json=body, headers=analyst)
        assert response.status_code == 201, response.get_json()

    tally(MIDDLEHAVEN, [3, 8, 12, 30, 10])  # a ward: counted in Middlesbrough
    tally("E06000001", [10, 10, 10, 10, 10])
    tally("E06000003", [2, 1, 1, 0, 0])
    with app.app_context():
        # An app vote in the completed quarter joins Middlesbrough's event counts; one in the
        # current quarter is not published while the quarter runs.
        cast_vote(
            _device(app),
            "very_confident",
            area="E06000002",
            now=datetime.combine(event_date, time(12), tzinfo=UTC),
        )
        cast_vote(_device(app), "very_confident", area="E06000004")

    response = client.get(URL)  # no token: open data

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert response.headers["Cache-Control"] == "public, max-age=3600"
    text = response.get_data(as_text=True)
    assert text.splitlines()[0] == ",".join(CONFIDENCE_COLUMNS)
    year, quarter = str(previous.fiscal_year), previous.label
    assert [list(row.values()) for row in parse(text)] == [
        [year, quarter, "E06000001", "Hartlepool", "50", "10", "10", "10", "10", "10", "40.0"],
        [year, quarter, "E06000002", "Middlesbrough", "64", C, C, "12", "30", "11", C],
        [year, quarter, "E06000003", "Redcar and Cleveland", C, C, C, C, C, C, C],
        [year, quarter, "E06000004", "Stockton-on-Tees", C, C, C, C, C, C, C],
    ]


def test_the_file_names_no_ward_and_no_location(app, client, cleveland):
    analyst = bearer(signed_in(app, client, "analyst")["access_token"])
    body = {
        "event_name": "Middlehaven fun day",
        "event_date": (previous_quarter().first_day() + timedelta(days=3)).isoformat(),
        "area": MIDDLEHAVEN,
        "counts": dict.fromkeys(OPTION_KEYS, 20),
    }
    assert (
        client.post("/v1/staff/confidence/tallies", json=body, headers=analyst).status_code == 201
    )

    text = client.get(URL).get_data(as_text=True)

    assert MIDDLEHAVEN not in text and "Middlehaven" not in text
    assert "Middlesbrough,100,20,20,20,20,20,40.0" in text
    assert {row["local_authority_code"] for row in parse(text)} == set(AUTHORITIES)


def test_without_any_answers_the_file_has_only_its_header(app, client, cleveland):
    response = client.get(URL)

    assert response.status_code == 200
    assert response.get_data(as_text=True) == ",".join(CONFIDENCE_COLUMNS) + "\r\n"
