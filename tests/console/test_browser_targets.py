"""Targets in a real browser (headless Chromium): an admin changes a category's target on the
targets page, and a report waiting past it is flagged overdue, in words, in the queue."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa

from tests.console.browser import (  # noqa: F401 - the fixtures browser, console_server, page
    MISSING,
    fresh_page,
    launch_browser,
    needs_browser,
    screen,
    serve_console,
    sign_in,
)
from tests.console.test_browser import submit_report

if MISSING is None:
    from playwright.sync_api import Page, expect

pytestmark = [pytest.mark.slow, needs_browser]


def received_hours_ago(server, report_id: str, hours: float) -> None:
    """Arrange the report's arrival in the past (the served app's own database)."""
    from copa.db import db, utcnow
    from copa.reports.models import Report

    with server.app.app_context():
        db.session.execute(
            sa.update(Report)
            .where(Report.id == uuid.UUID(report_id))
            .values(created_at=utcnow() - timedelta(hours=hours))
        )
        db.session.commit()
        db.session.remove()
        db.engine.dispose()


def test_admin_sets_a_target_and_an_overdue_report_is_flagged(page: Page, console_server):
    report = submit_report(console_server, "Youths throwing stones at windows again.")
    received_hours_ago(console_server, report["id"], 3)

    sign_in(page, console_server, "admin")
    page.get_by_role("link", name="Targets").click()
    expect(page.get_by_role("heading", name="Targets", level=1)).to_be_visible()
    field = page.get_by_label("Antisocial behaviour", exact=True)
    expect(field).to_have_value("")  # the default applies
    field.fill("1")
    page.get_by_role("button", name="Save targets").click()

    expect(page.get_by_text("Targets saved.")).to_be_visible()
    expect(page.get_by_label("Antisocial behaviour", exact=True)).to_have_value("1")
    expect(page.get_by_text("In force: 1 hour.")).to_be_visible()
    screen(page, "targets")

    page.get_by_role("link", name="Queue").click()
    page.get_by_label("Order").select_option("due")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"sort=due"))
    row = page.get_by_role("row").filter(has_text=report["reference"])
    expect(row).to_contain_text(re.compile(r"Overdue by 2 hours( \d+ minutes?)?"))
    expect(row).to_contain_text(re.compile(r"was due \d{1,2} \w{3} \d{4} \d\d:\d\d (GMT|BST)"))
    # the first row under "due soonest" is the most overdue: this one
    expect(page.get_by_role("row").nth(1)).to_contain_text(report["reference"])
    screen(page, "queue-overdue")
