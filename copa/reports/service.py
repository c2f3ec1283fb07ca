"""A resident's reads of their own reports (submitting one is copa.submissions)."""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from copa.db import db
from copa.reports.models import Report
from copa.web.access import Principal
from copa.web.pagination import PageResult, paginate
from copa.web.problems import NotFound, problem_type


class ReportNotFound(NotFound):
    type = problem_type("report-not-found")


def locked_report(report_id: uuid.UUID) -> Report:
    """The report, its row locked for the rest of the caller's transaction: two changes to it
    (staff decisions, messages) apply one after the other."""
    report = db.session.scalar(
        sa.select(Report)
        .where(Report.id == report_id)
        .with_for_update(of=Report)
        .execution_options(populate_existing=True)
    )
    if report is None:
        raise ReportNotFound("No such report.")
    return report


def own_reports(principal: Principal, page: int, page_size: int) -> PageResult:
    """The resident's reports, newest first."""
    statement = (
        sa.select(Report)
        .where(Report.device_id == principal.id)
        .order_by(Report.created_at.desc(), Report.id)
    )
    return paginate(statement, page, page_size)


def own_report(principal: Principal, report_id: uuid.UUID) -> Report:
    """One of the resident's reports; anyone else's is 'not found' (existence not confirmed)."""
    report = db.session.scalar(
        sa.select(Report)
        .where(Report.id == report_id, Report.device_id == principal.id)
        .options(
            selectinload(Report.timeline),
            selectinload(Report.photos),
            selectinload(Report.videos),
            selectinload(Report.contact),
        )
    )
    if report is None:
        raise ReportNotFound("No such report.")
    return report
