"""An admin rewords a category's question in the console: residents' apps see the new wording
(the list's ETag changes), while a report made before keeps the question it was asked."""

from __future__ import annotations

import pytest

from tests.console.browser import (  # noqa: F401 - the fixtures browser, console_server, page
    MISSING,
    fresh_page,
    launch_browser,
    needs_browser,
    serve_console,
    sign_in,
)
from tests.console.test_browser import MIDDLEHAVEN

if MISSING is None:
    from playwright.sync_api import Page, expect

pytestmark = [pytest.mark.slow, needs_browser]

OLD_QUESTION = "How much waste is there?"
NEW_QUESTION = "Roughly how much has been dumped?"


def small_fly_tipping(server, description: str) -> dict:
    """A resident's fly-tipping report answering "small" to the size question."""
    made = server.api(
        "POST",
        "/v1/reports",
        token=server.resident_token(),
        json={
            "category": "fly_tipping",
            "description": description,
            "location": MIDDLEHAVEN,
            "answers": {"size": "small"},
        },
    )
    assert made.status_code == 201, made.text
    return made.json()


def test_a_reworded_question_reaches_the_app_and_leaves_old_reports_as_asked(
    page: Page, console_server
):
    report = small_fly_tipping(console_server, "Sofa and mattresses dumped in the back lane.")
    before = console_server.api("GET", "/v1/categories")
    etag = before.headers["ETag"]

    sign_in(page, console_server, "admin")
    page.goto(console_server.url("/console/categories/fly_tipping"))
    size = page.get_by_role("group", name="Question 1")
    expect(size.get_by_label("Question as residents read it")).to_have_value(OLD_QUESTION)
    size.get_by_label("Question as residents read it").fill(NEW_QUESTION)
    size.get_by_label("Choices (for a list), one a line as key = Label").fill(
        "small = A few bags\nlarge = A lorry load or more"
    )
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_role("status")).to_contain_text("Reports already made keep the questions")

    # The app revalidating its cached list gets the new wording, not a 304.
    after = console_server.api("GET", "/v1/categories", headers={"If-None-Match": etag})
    assert after.status_code == 200 and after.headers["ETag"] != etag
    fly_tipping = next(c for c in after.json() if c["code"] == "fly_tipping")
    asked = next(q for q in fly_tipping["questions"] if q["code"] == "size")
    assert asked["description"] == NEW_QUESTION
    assert {"key": "small", "name": "A few bags"} in asked["values"]

    # The report made before still shows what its resident was asked and answered.
    page.goto(console_server.url(f"/console/reports/{report['id']}"))
    answers = page.locator("#report-answers")
    expect(answers).to_contain_text(OLD_QUESTION)
    expect(answers).to_contain_text("Small (up to a car boot load)")
    expect(answers).not_to_contain_text(NEW_QUESTION)
    expect(answers).not_to_contain_text("A few bags")

    # A report made now is asked the new question.
    later = small_fly_tipping(console_server, "More bags by the same lane.")
    page.goto(console_server.url(f"/console/reports/{later['id']}"))
    expect(page.locator("#report-answers")).to_contain_text(NEW_QUESTION)
    expect(page.locator("#report-answers")).to_contain_text("A few bags")
