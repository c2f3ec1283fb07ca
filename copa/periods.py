"""Reporting periods: UK financial-year quarters in Europe/London local time (DOMAIN.md).

Q1 Apr-Jun, Q2 Jul-Sep, Q3 Oct-Dec, Q4 Jan-Mar; the year 2025/26 runs 1 April 2025 to
31 March 2026. A timestamp is bucketed by its local date, so 23:30 BST on 31 March is still Q4.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

LONDON = ZoneInfo("Europe/London")


@dataclass(frozen=True, order=True)
class Quarter:
    fiscal_year: int  # the calendar year the financial year starts in: 2025 for 2025/26
    quarter: int  # 1..4

    @classmethod
    def of(cls, moment: datetime | date) -> Quarter:
        """The quarter a UTC timestamp (or a local date) falls in."""
        day = moment.astimezone(LONDON).date() if isinstance(moment, datetime) else moment
        fiscal_year = day.year if day.month >= 4 else day.year - 1
        return cls(fiscal_year, (day.month - 4) % 12 // 3 + 1)

    @property
    def label(self) -> str:
        """``2025/26 Q3``."""
        return f"{fiscal_year_label(self.fiscal_year)} Q{self.quarter}"

    def first_day(self) -> date:
        month = 4 + 3 * (self.quarter - 1)
        year = self.fiscal_year + (month - 1) // 12
        return date(year, (month - 1) % 12 + 1, 1)

    def bounds(self) -> tuple[datetime, datetime]:
        """[start, end) as UTC timestamps: local midnights, so BST changes are respected."""
        start = self.first_day()
        nxt = self.next().first_day()
        return _local_midnight_utc(start), _local_midnight_utc(nxt)

    def next(self) -> Quarter:
        if self.quarter == 4:
            return Quarter(self.fiscal_year + 1, 1)
        return Quarter(self.fiscal_year, self.quarter + 1)

    def previous(self) -> Quarter:
        if self.quarter == 1:
            return Quarter(self.fiscal_year - 1, 4)
        return Quarter(self.fiscal_year, self.quarter - 1)


def fiscal_year_label(fiscal_year: int) -> str:
    """``2025/26`` for the financial year starting in 2025."""
    return f"{fiscal_year}/{(fiscal_year + 1) % 100:02d}"


def _local_midnight_utc(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=LONDON).astimezone(UTC)


def local_date(moment: datetime | date) -> date:
    """The Europe/London date of a UTC timestamp (a date is already local)."""
    return moment.astimezone(LONDON).date() if isinstance(moment, datetime) else moment


def month_of(moment: datetime | date) -> date:
    """The first day of the Europe/London month ``moment`` falls in: the metrics' month key."""
    return local_date(moment).replace(day=1)


def week_of(moment: datetime | date) -> date:
    """The Monday of the local week, or the month's first day when the week began before it.

    Weeks are cut at month (and so quarter) boundaries, so summing weeks gives exact months.
    """
    day = local_date(moment)
    return max(day - timedelta(days=day.weekday()), day.replace(day=1))


def local_year(moment: datetime) -> int:
    return moment.astimezone(LONDON).year


def today_london() -> date:
    return datetime.now(LONDON).date()


def local_day_start(day: date) -> datetime:
    """The UTC instant a Europe/London day starts (date-range filters use it)."""
    return _local_midnight_utc(day)


def local_day_end(day: date) -> datetime:
    """The UTC instant the Europe/London day after ``day`` starts: ``to`` dates are inclusive."""
    return _local_midnight_utc(date.fromordinal(day.toordinal() + 1))
