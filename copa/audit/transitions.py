"""What every feature's status changes share (STYLE.md 7): the check of a move against the
feature's own table of allowed transitions, a 409 naming the moves it does allow, and the
summary of the move that its audit event records. Each feature keeps its table and the one
function that applies a move (reports/workflow.py, feedback/workflow.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from copa.web.problems import Conflict, problem_type


class InvalidTransition(Conflict):
    type = problem_type("invalid-transition")


def check_transition(table: Mapping[str, frozenset[str]], what: str, current: str, to: str) -> None:
    """Refuse a move of ``what`` from ``current`` to ``to`` that ``table`` does not allow."""
    allowed = table.get(current, frozenset())
    if to not in allowed:
        raise InvalidTransition(
            f"A {what} that is {current} cannot become {to}."
            + (f" It can become: {', '.join(sorted(allowed))}." if allowed else ""),
            allowed=sorted(allowed),
        )


def transition_summary(
    to: str,
    outcome: str | None,
    public_note: str | None,
    internal_note: str | None,
    details: Mapping[str, Any] | None,
    *,
    key: str = "status",
) -> dict[str, Any]:
    """The ``after`` of a move's audit event: the new status (or state), the notes and the
    outcome given, and any details."""
    summary: dict[str, Any] = {key: to}
    for name, value in (
        ("outcome", outcome),
        ("public_note", public_note),
        ("internal_note", internal_note),
    ):
        if value is not None:
            summary[name] = value
    return {**summary, **(details or {})}
