"""Open data: signpost click-throughs per completed quarter and topic as CSV, every count below
5 suppressed and none a reader could work out from the total (DOMAIN.md "Privacy")."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from copa.areas.service import import_bundled
from copa.open_data.service import (
    CLICK_THROUGH_COLUMNS,
    SUPPRESSED,
    THRESHOLD,
    click_throughs_csv,
    disclose,
)
from copa.periods import Quarter
from copa.signposts.models import Topic
from tests.metrics.support import add_clicks, last_completed_quarter, seed_clicks

URL = "/v1/open-data/click-throughs.csv"
C = SUPPRESSED
TOPICS = [topic.value for topic in Topic]


@pytest.fixture
def cleveland(app):
    """The four bundled local authorities (the council signposts name theirs)."""
    with app.app_context():
        import_bundled()


def parse(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def middle(quarter: Quarter) -> datetime:
    return quarter.bounds()[0] + timedelta(days=20)


# --- the control, for any number of cells -------------------------------------------------


def test_a_row_of_any_length_is_shown_whole_without_small_counts():
    assert disclose([10, 20]) == ["30", "10", "20"]
    assert disclose([5] * 9) == ["45", *["5"] * 9]


def test_a_small_count_takes_the_smallest_other_with_it_whatever_the_length():
    assert disclose([3, 8, 12, 30, 10, 40, 50, 60, 70]) == [
        "283",
        *[C, C],
        *["12", "30", "10", "40", "50", "60", "70"],
    ]
    assert disclose([0, 0, 0, 9, 9, 20]) == ["38", C, C, C, C, C, "20"]
    assert disclose([4, 100]) == ["104", C, C]  # two cells: both, or the total gives one back
    assert disclose([1, 1, 2]) == [C, C, C, C]  # under 5 in all: nothing but the labels


counts_rows = st.lists(
    st.one_of(st.integers(0, 12), st.integers(0, 100_000)), min_size=1, max_size=12
)


@settings(max_examples=1000, deadline=None)
@given(counts_rows)
def test_no_published_count_is_small_and_no_suppressed_one_is_the_total_minus_the_rest(counts):
    total, *cells = disclose(counts)

    assert len(cells) == len(counts)
    for cell in (total, *cells):
        assert cell == SUPPRESSED or int(cell) >= THRESHOLD
    hidden = [index for index, cell in enumerate(cells) if cell == SUPPRESSED]
    assert all(cells[i] == str(counts[i]) for i in range(len(counts)) if i not in hidden)
    if total == SUPPRESSED:
        assert sum(counts) < THRESHOLD and len(hidden) == len(counts)
    else:
        assert int(total) == sum(counts)
        assert len(hidden) != 1
        assert not hidden or int(total) - sum(int(c) for c in cells if c != C) >= THRESHOLD


# --- the CSV ------------------------------------------------------------------------------


def test_a_topic_with_3_clicks_is_suppressed_with_the_next_smallest(app, client, cleveland):
    quarter = last_completed_quarter()
    seed_clicks(app, quarter)
    add_clicks(app, "police-and-crime-plan", 3, middle(quarter))  # topic "other"

    response = client.get(URL)  # no token: open data

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="copa-click-throughs.csv"'
    )
    assert response.headers["Cache-Control"] == "public, max-age=3600"
    text = response.get_data(as_text=True)
    assert text.splitlines()[0] == ",".join(CLICK_THROUGH_COLUMNS)
    (row,) = parse(text)
    assert list(row.values()) == [
        str(quarter.fiscal_year),
        quarter.label,
        "5571",  # the total is shown...
        "2723",
        "702",
        "418",
        "896",
        "356",
        "312",
        "96",
        C,  # ...so health and wellbeing's 65 goes too: 5,571 minus the rest would be the 3
        C,
    ]
    assert row["report_crime_online"] == "2723" and row["other"] == C


def test_a_running_quarter_is_not_published_and_a_small_one_shows_only_its_labels(
    app, client, cleveland
):
    done = last_completed_quarter()
    small = done.previous().previous()
    seed_clicks(app, done, scale=0.1)
    add_clicks(app, "crimestoppers", 4, middle(small))
    add_clicks(app, "crimestoppers", 50, datetime.now(UTC))  # this quarter: still running

    with app.app_context():
        rows = parse(click_throughs_csv())

    assert [row["quarter"] for row in rows] == [
        small.label,
        small.next().label,  # no clicks at all: shown, withheld like any small row
        done.label,
    ]
    for row in rows[:2]:
        assert [row[column] for column in ("click_throughs", *TOPICS)] == [C] * 10
        assert row["fiscal_year"] != C
    assert rows[2]["click_throughs"] == "557"  # 10% of the seed
    assert rows[2]["report_crime_online"] == str(243 + 20 + 9)


def test_without_any_clicks_the_file_has_only_its_header(app, client, cleveland):
    response = client.get(URL)

    assert response.status_code == 200
    assert response.get_data(as_text=True) == ",".join(CLICK_THROUGH_COLUMNS) + "\r\n"
