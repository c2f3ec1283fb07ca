"""Reporting periods: UK financial-year quarters in Europe/London time (DOMAIN.md)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from copa.periods import LONDON, Quarter, month_of, week_of


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_half_past_eleven_bst_on_31_march_is_still_q4_of_the_old_year():
    moment = utc(2026, 3, 31, 22, 30)  # 23:30 BST
    assert moment.astimezone(LONDON).hour == 23
    assert Quarter.of(moment) == Quarter(2025, 4)


def test_half_past_midnight_bst_on_1_april_is_q1_of_the_new_year():
    moment = utc(2026, 3, 31, 23, 30)  # 00:30 BST on 1 April
    assert moment.astimezone(LONDON).date() == date(2026, 4, 1)
    assert Quarter.of(moment) == Quarter(2026, 1)


def test_a_timestamp_in_another_zone_is_bucketed_by_its_london_date():
    # 20:30 on New Year's Eve in New York is already 01:30 on 1 January in London.
    new_york = datetime(2025, 12, 31, 20, 30, tzinfo=ZoneInfo("America/New_York"))
    assert Quarter.of(new_york) == Quarter(2025, 4)
    assert Quarter.of(utc(2025, 12, 31, 23, 59)) == Quarter(2025, 3)  # GMT: UTC is London time


@pytest.mark.parametrize(
    "day,expected",
    [
        (date(2025, 4, 1), Quarter(2025, 1)),
        (date(2025, 6, 30), Quarter(2025, 1)),
        (date(2025, 7, 1), Quarter(2025, 2)),
        (date(2025, 9, 30), Quarter(2025, 2)),
        (date(2025, 10, 1), Quarter(2025, 3)),
        (date(2025, 12, 31), Quarter(2025, 3)),
        (date(2026, 1, 1), Quarter(2025, 4)),
        (date(2026, 3, 31), Quarter(2025, 4)),
        (date(2026, 4, 1), Quarter(2026, 1)),
    ],
)
def test_a_date_is_taken_as_a_london_date(day, expected):
    assert Quarter.of(day) == expected


@pytest.mark.parametrize(
    "quarter,label",
    [
        (Quarter(2025, 1), "2025/26 Q1"),
        (Quarter(2025, 3), "2025/26 Q3"),
        (Quarter(2025, 4), "2025/26 Q4"),
        (Quarter(1999, 2), "1999/00 Q2"),
        (Quarter(2009, 4), "2009/10 Q4"),
    ],
)
def test_labels_read_like_the_pcc_report(quarter, label):
    assert quarter.label == label


def test_q4_starts_at_midnight_gmt_and_ends_at_midnight_bst():
    # Jan to Mar 2026: GMT at the start; the clocks go forward on 29 March, so the next
    # quarter starts at 00:00 BST on 1 April, which is 23:00 UTC on 31 March.
    start, end = Quarter(2025, 4).bounds()
    assert start == utc(2026, 1, 1, 0, 0)
    assert end == utc(2026, 3, 31, 23, 0)
    assert end - start == timedelta(days=90) - timedelta(hours=1)


def test_q3_spans_the_change_back_to_gmt():
    # Oct to Dec 2025: starts at 00:00 BST (23:00 UTC on 30 September); the clocks go back on
    # 26 October, so it ends at 00:00 GMT on 1 January.
    start, end = Quarter(2025, 3).bounds()
    assert start == utc(2025, 9, 30, 23, 0)
    assert end == utc(2026, 1, 1, 0, 0)
    assert end - start == timedelta(days=92) + timedelta(hours=1)


def test_every_moment_of_a_quarter_falls_inside_its_bounds():
    quarter = Quarter(2025, 4)
    start, end = quarter.bounds()
    assert Quarter.of(start) == quarter
    assert Quarter.of(end - timedelta(microseconds=1)) == quarter
    assert Quarter.of(end) == quarter.next()
    assert Quarter.of(start - timedelta(microseconds=1)) == Quarter(2025, 3)


def test_the_quarter_after_q4_is_q1_of_the_next_year():
    assert Quarter(2025, 4).next() == Quarter(2026, 1)
    assert Quarter(2025, 1).next() == Quarter(2025, 2)


@pytest.mark.parametrize(
    "quarter,first",
    [
        (Quarter(2025, 1), date(2025, 4, 1)),
        (Quarter(2025, 2), date(2025, 7, 1)),
        (Quarter(2025, 3), date(2025, 10, 1)),
        (Quarter(2025, 4), date(2026, 1, 1)),
    ],
)
def test_first_day_of_each_quarter(quarter, first):
    assert quarter.first_day() == first


def test_quarters_sort_in_time_order():
    assert sorted([Quarter(2026, 1), Quarter(2025, 4), Quarter(2025, 1)]) == [
        Quarter(2025, 1),
        Quarter(2025, 4),
        Quarter(2026, 1),
    ]


def test_the_metrics_month_of_a_late_bst_evening_is_the_london_month():
    assert month_of(utc(2026, 3, 31, 22, 30)) == date(2026, 3, 1)  # 23:30 BST, 31 March
    assert month_of(utc(2026, 3, 31, 23, 30)) == date(2026, 4, 1)  # 00:30 BST, 1 April


def test_a_week_that_spans_two_quarters_is_cut_at_the_first_of_the_month():
    # Monday 30 March 2026 to Sunday 5 April: its April days start a week of their own, so
    # weekly counts add up to exact months and quarters.
    assert week_of(date(2026, 3, 31)) == date(2026, 3, 30)
    assert week_of(date(2026, 4, 2)) == date(2026, 4, 1)
    assert week_of(date(2026, 4, 6)) == date(2026, 4, 6)
    assert Quarter.of(week_of(date(2026, 4, 5))) == Quarter(2026, 1)
