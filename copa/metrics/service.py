"""The Commissioner's measures, read from the rollups (DOMAIN.md "Public confidence", "Demand
reduction", "Feedback and complaints", "Reporting periods"): what the metrics API answers.

Every function only reads. Periods are Europe/London months: a ``Span`` is one or more month
ranges, and every rollup row carries its financial quarter, so a whole series is one
``GROUP BY fiscal_year, fiscal_quarter`` query, never a query per quarter. Each measure lives in
a module of its own (``confidence``, ``demand``, ``complaints``, ``issues``, ``partners``, ``targets``;
click-throughs in ``click_throughs``); the PCC report (``copa.pcc_report.service``) is assembled
from their ``*_by_quarter`` functions, so its numbers are the metrics API's numbers.

The only raw rows read are complaint cases (a small table): the median time to first contact
must be exact, and escalation and service recovery are states of a case, not counts.
"""

from __future__ import annotations

from copa.metrics.complaints import feedback_and_complaints
from copa.metrics.confidence import public_confidence
from copa.metrics.demand import demand_reduction
from copa.metrics.issues import issues
from copa.metrics.partners import partners
from copa.metrics.targets import within_target

__all__ = [
    "demand_reduction",
    "feedback_and_complaints",
    "issues",
    "partners",
    "public_confidence",
    "within_target",
]
