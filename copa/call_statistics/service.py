"""The force's 101 call statistics per quarter (DOMAIN.md "Demand reduction").

Staff set one quarter's figures at a time, or import a table of quarters in the seed
performance report's shape (a row per measure, a column per quarter). Both go through
``_set_quarter``: the first figures for a quarter create its row, later ones replace them
(staff correct figures), and each is audited. An import is all or nothing: every cell is
checked before anything is written, and all its quarters are set in one transaction.
"""

from __future__ import annotations

import csv
import io
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa

from copa.audit.service import Actor, record
from copa.call_statistics.models import CallStatistics
from copa.db import db, insert_for, write
from copa.periods import Quarter, today_london
from copa.web.access import Principal
from copa.web.pagination import PageResult, paginate
from copa.web.problems import NotFound, Problem, Unprocessable, problem_type

EARLIEST_FISCAL_YEAR = 2000
LATEST_FISCAL_YEAR = 9999  # bounded so a huge year is a 422, not an integer overflow
MAX_CALLS = 10_000_000  # a quarter's calls; Cleveland receives about 60,000
MAX_SECONDS = 86_400
MAX_TABLE_BYTES = 256 * 1024
TABLE_MEDIA_TYPES = ("text/csv", "application/csv")


@dataclass(frozen=True)
class Figure:
    """One measure of a quarter: its field, its label in the seed report's table, its range."""

    field: str
    label: str
    whole: bool  # a count or seconds (an integer), else a percentage
    maximum: int
    required: bool
    aliases: tuple[str, ...] = ()

    @property
    def range_message(self) -> str:
        return f"Must be between 0 and {self.maximum:,}."


# The measures in the seed report's order: the single definition of their names and ranges.
FIGURES: tuple[Figure, ...] = (
    Figure(
        "non_emergency_calls",
        "Non-999 calls received",
        whole=True,
        maximum=MAX_CALLS,
        required=True,
        aliases=(
            "non-999 calls",
            "non 999 calls received",
            "non-emergency calls",
            "non-emergency calls received",
            "101 calls",
            "101 calls received",
        ),
    ),
    Figure(
        "answered_within_2_minutes_percent",
        "% answered within 2 minutes",
        whole=False,
        maximum=100,
        required=True,
        aliases=(
            "answered within 2 minutes",
            "% non-999 answered within 2 minutes",
            "% 101 answered within 2 minutes",
            "% answered within 2 mins",
            "percent answered within 2 minutes",
        ),
    ),
    Figure(
        "average_wait_seconds",
        "Average wait (seconds)",
        whole=True,
        maximum=MAX_SECONDS,
        required=True,
        aliases=("average wait", "average wait in seconds", "average wait time (seconds)"),
    ),
    Figure(
        "emergency_calls",
        "999 calls received",
        whole=True,
        maximum=MAX_CALLS,
        required=False,
        aliases=("999 calls", "emergency calls", "emergency calls received"),
    ),
    Figure(
        "emergency_answered_within_10_seconds_percent",
        "% 999 answered within 10 seconds",
        whole=False,
        maximum=100,
        required=False,
        aliases=(
            "999 answered within 10 seconds",
            "% 999 calls answered within 10 seconds",
            "% emergency calls answered within 10 seconds",
            "percent 999 answered within 10 seconds",
        ),
    ),
    Figure(
        "average_handling_seconds",
        "Average handling time (seconds)",
        whole=True,
        maximum=MAX_SECONDS,
        required=False,
        aliases=(
            "average handling (seconds)",
            "average handling time",
            "average handling time in seconds",
            "average call handling time (seconds)",
        ),
    ),
)
FIGURE_FIELDS: tuple[str, ...] = tuple(figure.field for figure in FIGURES)


def _measure_key(label: str) -> str:
    """Labels compare case-insensitively, whatever the spacing or dash a spreadsheet used."""
    text = label.casefold().replace("\u2013", "-").replace("\u2014", "-")
    return " ".join(text.split())


_FIGURE_BY_LABEL: dict[str, Figure] = {
    _measure_key(name): figure
    for figure in FIGURES
    for name in (figure.label, figure.field, *figure.aliases)
}


class TableTooLarge(Problem):
    status = 413
    title = "Content Too Large"
    type = problem_type("table-too-large")


class NotATable(Problem):
    status = 415
    title = "Unsupported Media Type"
    type = problem_type("not-a-table")


class CallStatisticsNotFound(NotFound):
    pass


# --- setting one quarter ------------------------------------------------------------------


def quarter_errors(fiscal_year: int, quarter: int) -> dict[str, list[str]]:
    """Why figures cannot be set for that quarter (it has not started in Cleveland yet)."""
    if fiscal_year < EARLIEST_FISCAL_YEAR:
        return {"fiscal_year": [f"Must be {EARLIEST_FISCAL_YEAR} or later."]}
    current = Quarter.of(today_london())
    if Quarter(fiscal_year, quarter) <= current:
        return {}
    message = f"{Quarter(fiscal_year, quarter).label} has not started yet."
    return {"fiscal_year" if fiscal_year > current.fiscal_year else "quarter": [message]}


def set_call_statistics(
    principal: Principal, fiscal_year: int, quarter: int, **figures: Any
) -> tuple[CallStatistics, bool]:
    """Set one quarter's figures; True when the quarter had none before (else they were
    replaced). Optional figures left out are cleared."""
    errors = quarter_errors(fiscal_year, quarter)
    if errors:
        raise Unprocessable(
            "Figures can only be set for a quarter that has started.", errors=errors
        )
    with write():
        row, created = _set_quarter(principal, Quarter(fiscal_year, quarter), figures)
    return row, created


def _set_quarter(
    principal: Principal, quarter: Quarter, figures: Mapping[str, Any]
) -> tuple[CallStatistics, bool]:
    """Create or replace the quarter's row and audit it (part of the caller's transaction).

    The row is claimed with INSERT ... ON CONFLICT DO NOTHING rather than read first: two
    staff setting the same new quarter at once then cannot both insert it (the second waits,
    finds the first's row and replaces its figures).
    """
    values = {name: figures.get(name) for name in FIGURE_FIELDS}
    inserted = db.session.scalar(
        insert_for(CallStatistics)
        .values(
            id=uuid.uuid4(),
            fiscal_year=quarter.fiscal_year,
            fiscal_quarter=quarter.quarter,
            entered_by=principal.id,
            **values,
        )
        .on_conflict_do_nothing(index_elements=["fiscal_year", "fiscal_quarter"])
        .returning(CallStatistics.id)
    )
    row = db.session.scalar(
        sa.select(CallStatistics)
        .where(
            CallStatistics.fiscal_year == quarter.fiscal_year,
            CallStatistics.fiscal_quarter == quarter.quarter,
        )
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert row is not None  # inserted just now, or there before
    created = inserted is not None
    before = None if created else {"quarter": quarter.label, **_figures_of(row)}
    if not created:
        for name, value in values.items():
            setattr(row, name, value)
        row.entered_by = principal.id
        db.session.flush()
    record(
        Actor.of(principal),
        "call_statistics.set",
        "call_statistics",
        row.id,
        before=before,
        after={"quarter": quarter.label, **_figures_of(row)},
    )
    return row, created


def _figures_of(row: CallStatistics) -> dict[str, Any]:
    return {name: getattr(row, name) for name in FIGURE_FIELDS}


# --- reading ------------------------------------------------------------------------------


def list_call_statistics(page: int, page_size: int, fiscal_year: int | None = None) -> PageResult:
    """The quarters' figures in quarter order, optionally for one financial year."""
    statement = sa.select(CallStatistics).order_by(
        CallStatistics.fiscal_year, CallStatistics.fiscal_quarter
    )
    if fiscal_year is not None:
        statement = statement.where(CallStatistics.fiscal_year == fiscal_year)
    return paginate(statement, page, page_size)


def get_call_statistics(call_statistics_id: uuid.UUID) -> CallStatistics:
    """One quarter's figures."""
    row = db.session.get(CallStatistics, call_statistics_id)
    if row is None:
        raise CallStatisticsNotFound("No figures with this id.")
    return row


# --- importing a table --------------------------------------------------------------------


@dataclass
class ImportResult:
    created: int
    replaced: int
    quarters: list[CallStatistics]


def import_call_statistics(principal: Principal, data: bytes) -> ImportResult:
    """Set every quarter of a CSV table in the seed report's shape, all or nothing."""
    table = parse_table(data)
    with write():
        results = [_set_quarter(principal, quarter, figures) for quarter, figures in table]
    return ImportResult(
        created=sum(created for _, created in results),
        replaced=sum(not created for _, created in results),
        quarters=sorted(
            (row for row, _ in results), key=lambda row: (row.fiscal_year, row.fiscal_quarter)
        ),
    )


# "2024/25 Q1", "2024/2025 Q1", "2024-25 q1", or the quarter first: "Q1 2024/25".
_YEARS = r"(?P<start>\d{4})\s*[/-]\s*(?P<end>\d{2}|\d{4})"
_QUARTER_HEADINGS = (
    re.compile(rf"^{_YEARS}\s*Q(?P<quarter>[1-4])$", re.IGNORECASE),
    re.compile(rf"^Q(?P<quarter>[1-4])\s*{_YEARS}$", re.IGNORECASE),
)
# Digits with optional thousands separators and decimals: "52,104", "67.9", "1234".
_NUMBER = re.compile(r"^[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?$")


def parse_table(data: bytes) -> list[tuple[Quarter, dict[str, Any]]]:
    """The quarters of a CSV table and their figures, or a problem naming every bad cell.

    The first column names the measure; each further column is a quarter headed like
    ``2024/25 Q1`` (or ``Q1 2024/25``). Thousands separators, ``%`` after percentages,
    surrounding spaces, a UTF-8 byte-order mark and blank optional cells are accepted.
    """
    if len(data) > MAX_TABLE_BYTES:
        raise TableTooLarge(
            f"The table is larger than {MAX_TABLE_BYTES // 1024} KB.",
            errors={"file": [f"Must be at most {MAX_TABLE_BYTES // 1024} KB."]},
        )
    rows = _csv_rows(data)
    if not rows:
        raise Unprocessable(
            "The table is empty.", errors={"file": ["Expected a header row and measures."]}
        )
    header, body = rows[0], rows[1:]
    errors: dict[str, list[str]] = {}
    columns = _quarter_columns(header, body, errors)
    measures = _measure_rows(body, len(header), errors)
    table = []
    for column, heading, quarter in columns:
        figures: dict[str, Any] = {}
        for figure in FIGURES:
            found = measures.get(figure.field)
            if found is None:
                continue  # a missing row is reported once, below
            label, cells = found
            cell = f"{heading} / {label}"
            text = cells[column] if column < len(cells) else ""
            if not text:
                if figure.required:
                    errors.setdefault(cell, []).append("Required.")
                continue
            value, message = _number(text, figure)
            if message:
                errors.setdefault(cell, []).append(message)
            else:
                figures[figure.field] = value
        table.append((quarter, figures))
    for figure in FIGURES:
        if figure.required and figure.field not in measures:
            errors.setdefault(figure.label, []).append("Missing: the table needs this row.")
    if not columns and "file" not in errors:
        errors["file"] = ["No quarter columns: head them like 2024/25 Q1."]
    if errors:
        raise Unprocessable(
            "The table has cells that cannot be imported; nothing was imported.", errors=errors
        )
    return table


def _csv_rows(data: bytes) -> list[list[str]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Unprocessable(
            "The table is not UTF-8 text.", errors={"file": ["Save it as CSV UTF-8."]}
        ) from None
    try:
        rows = [[cell.strip() for cell in row] for row in csv.reader(io.StringIO(text))]
    except csv.Error as error:
        raise Unprocessable(
            "The table is not valid CSV.", errors={"file": [f"Not valid CSV: {error}."]}
        ) from None
    # Spreadsheets export blank lines and trailing empty columns; neither means anything.
    return [row for row in rows if any(row)]


def _quarter_columns(
    header: list[str], body: list[list[str]], errors: dict[str, list[str]]
) -> list[tuple[int, str, Quarter]]:
    """(column index, heading as written, quarter) of each quarter column."""
    columns: list[tuple[int, str, Quarter]] = []
    seen: dict[Quarter, str] = {}
    for index, heading in enumerate(header[1:], start=1):
        if not heading:
            if any(index < len(row) and row[index] for row in body):
                errors[f"column {index + 1}"] = ["No quarter heading: head it like 2024/25 Q1."]
            continue
        quarter = _quarter(heading)
        if quarter is None:
            errors.setdefault(heading, []).append("Not a quarter: head it like 2024/25 Q1.")
            continue
        if quarter in seen:
            errors.setdefault(heading, []).append(
                f"Duplicate quarter: {quarter.label} already has a column ({seen[quarter]})."
            )
            continue
        seen[quarter] = heading
        problems = quarter_errors(quarter.fiscal_year, quarter.quarter)
        if problems:
            errors.setdefault(heading, []).extend(
                message for messages in problems.values() for message in messages
            )
            continue
        columns.append((index, heading, quarter))
    return columns


def _quarter(heading: str) -> Quarter | None:
    for pattern in _QUARTER_HEADINGS:
        match = pattern.match(" ".join(heading.split()))
        if match is None:
            continue
        start, end = int(match["start"]), int(match["end"])
        # The second year must be the year after the first: 2024/25 or 2024/2025.
        if end != (start + 1) % (100 if len(match["end"]) == 2 else 10_000):
            return None
        return Quarter(start, int(match["quarter"]))
    return None


def _measure_rows(
    body: list[list[str]], width: int, errors: dict[str, list[str]]
) -> dict[str, tuple[str, list[str]]]:
    """The rows of known measures by field: (label as written, cells)."""
    measures: dict[str, tuple[str, list[str]]] = {}
    for number, row in enumerate(body, start=2):
        label = row[0]
        if not label:
            errors[f"row {number}"] = ["No measure named in the first column."]
            continue
        if len(row) > width and any(row[width:]):
            errors.setdefault(label, []).append("More cells than the header has columns.")
        figure = _FIGURE_BY_LABEL.get(_measure_key(label))
        if figure is None:
            known = "; ".join(item.label for item in FIGURES)
            errors.setdefault(label, []).append(f"Unknown measure. Known measures: {known}.")
            continue
        if figure.field in measures:
            errors.setdefault(label, []).append(
                f"The measure {figure.label} appears more than once."
            )
            continue
        measures[figure.field] = (label, row)
    return measures


def _number(text: str, figure: Figure) -> tuple[int | float | None, str | None]:
    """A cell's value, or what is wrong with it."""
    compact = text.replace(" ", "")
    if not figure.whole and compact.endswith("%"):
        compact = compact[:-1]
    if not _NUMBER.match(compact):
        return None, "Not a number."
    try:
        value = Decimal(compact.replace(",", ""))
    except InvalidOperation:  # pragma: no cover - the pattern admits only decimals
        return None, "Not a number."
    if not 0 <= value <= figure.maximum:
        return None, figure.range_message
    if figure.whole:
        if value != value.to_integral_value():
            return None, "Must be a whole number."
        return int(value), None
    return float(value), None
