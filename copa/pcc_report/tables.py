"""Build the report's tables from its quarter rows: the helpers the section builders share.

``quarter_table`` lays a section's measures out against the eight quarters, grouping the quarter
columns by financial year (the baseline year marked) and reading each figure from its row by path
(a null or missing step, as in an unreported quarter, gives an empty cell); ``breakdown_keys``
and ``outcome_keys`` list the breakdowns a table shows (the known ones in order, then any others
the rows carry, so no number is lost) and ``humanise`` names an unknown key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from copa.pcc_report.view_model import Cell, Measure, QuarterColumn, QuarterTable, Row, RowGroup
from copa.periods import fiscal_year_label


def quarter_table(
    report: Mapping[str, Any],
    section: str,
    caption: str,
    rows: Sequence[Mapping[str, Any]],
    groups: Sequence[tuple[str, Sequence[Measure]]],
) -> QuarterTable:
    return QuarterTable(
        caption=caption,
        years=_year_groups(report, rows),
        quarters=[
            QuarterColumn(r["label"], f"Q{r['quarter']}", bool(r.get("reported", True)))
            for r in rows
        ],
        groups=[
            RowGroup(
                label or None,
                [
                    Row(
                        m.label,
                        [
                            Cell(
                                section, m.measure, m.breakdown, r["label"], _dig(r, m.path), m.kind
                            )
                            for r in rows
                        ],
                    )
                    for m in measures
                ],
            )
            for label, measures in groups
        ],
    )


def _year_groups(
    report: Mapping[str, Any], rows: Sequence[Mapping[str, Any]]
) -> list[tuple[str, int]]:
    """Consecutive quarters of one financial year share a header cell: [(label, span)]."""
    names = {
        report["baseline_year"]["fiscal_year"]: f"{report['baseline_year']['label']} (baseline)",
        report["current_year"]["fiscal_year"]: report["current_year"]["label"],
    }
    years: list[tuple[str, int]] = []
    previous = None
    for row in rows:
        year = row["fiscal_year"]
        if year == previous:
            years[-1] = (years[-1][0], years[-1][1] + 1)
        else:
            years.append((names.get(year, fiscal_year_label(year)), 1))
        previous = year
    return years


def _dig(row: Mapping[str, Any], path: Sequence[str]) -> Any:
    """The value at ``path``, or None when any step is null or missing (an unreported quarter)."""
    value: Any = row
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def breakdown_keys(
    rows: Sequence[Mapping[str, Any]], field_name: str, known: Mapping[str, str]
) -> list[tuple[str, str]]:
    """The known breakdown keys in order, then any others the rows carry, so no number is lost."""
    keys = dict(known)
    for row in rows:
        for key in row.get(field_name) or {}:
            keys.setdefault(key, humanise(key))
    return list(keys.items())


def outcome_keys(areas: Sequence[Mapping[str, Any]]) -> list[str]:
    keys: dict[str, None] = {}
    for area in areas:
        keys.update(dict.fromkeys(area.get("outcomes") or {}))
    return list(keys)


def humanise(key: str) -> str:
    return key.replace("_", " ").replace("-", " ").capitalize()
