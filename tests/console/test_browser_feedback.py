"""Feedback in a real browser (headless Chromium): a reviewer opens a resident's possible-
emergency feedback from the queue and sees the emergency first; a compliment is passed on from
its own page, and the resident's app then shows to whom."""

from __future__ import annotations

import re

import pytest

from tests.console.browser import (  # noqa: F401 - the fixtures browser, console_server, page
    MISSING,
    Server,
    fresh_page,
    launch_browser,
    needs_browser,
    screen,
    serve_console,
    sign_in,
)

if MISSING is None:
    from playwright.sync_api import Page, expect

pytestmark = [pytest.mark.slow, needs_browser]


def give_feedback(server: Server, kind: str, text: str) -> tuple[dict, str]:
    """A resident's feedback through the API, and the resident's token."""
    token = server.resident_token()
    response = server.api("POST", "/v1/feedback", token=token, json={"kind": kind, "text": text})
    assert response.status_code == 201, response.text
    return response.json(), token


def test_a_reviewer_opens_a_possible_emergency_feedback_from_the_queue(page: Page, console_server):
    urgent, _ = give_feedback(console_server, "suggestion", "Help me, someone is bleeding outside")
    assert urgent["emergency_advice"]  # the app told the resident to call 999

    sign_in(page, console_server, "reviewer")
    page.get_by_label("Possible emergencies only").check()
    page.get_by_role("button", name="Filter").click()
    row = page.get_by_role("row").filter(has_text=urgent["reference"])
    expect(row).to_contain_text("Possible emergency")
    row.get_by_role("link", name=urgent["reference"]).click()

    expect(page).to_have_url(re.compile(rf"/console/feedback/{urgent['id']}$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(urgent["reference"])
    emergency = page.get_by_role("alert")
    expect(emergency).to_contain_text("Possible emergency.")
    expect(emergency).to_contain_text("999")
    expect(page.locator("#feedback-text")).to_have_text("Help me, someone is bleeding outside")
    screen(page, "feedback-emergency")


def test_a_compliment_is_passed_on_from_its_page(page: Page, console_server):
    compliment, token = give_feedback(
        console_server, "compliment", "PC Jones found my stolen bike within a day. Thank you!"
    )

    sign_in(page, console_server, "reviewer")
    page.get_by_label("Kind").select_option("compliment")
    page.get_by_role("button", name="Filter").click()
    page.get_by_role("row").filter(has_text=compliment["reference"]).get_by_role(
        "link", name=compliment["reference"]
    ).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        f"{compliment['reference']}: Compliment"
    )
    expect(page.locator("#feedback-state")).to_have_text("Received")
    screen(page, "feedback")

    page.get_by_label("To (officer, team or organisation)").fill("Middlesbrough NPT, PC Jones")
    page.get_by_label("A word to the resident (optional)").fill("We have told PC Jones.")
    page.get_by_role("button", name="Pass on and close").click()

    expect(page.get_by_role("status")).to_contain_text("Passed on.")
    expect(page.locator("#feedback-state")).to_have_text("Closed")
    expect(page.locator("#feedback-passed-to")).to_have_text("Middlesbrough NPT, PC Jones")
    expect(page.get_by_role("button", name="Pass on and close")).to_have_count(0)
    expect(page.locator("#audit")).to_be_visible()

    mine = console_server.api("GET", f"/v1/feedback/{compliment['id']}", token=token).json()
    assert (mine["state"], mine["passed_to"]) == ("closed", "Middlesbrough NPT, PC Jones")
