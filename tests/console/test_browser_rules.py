"""Partners and routing rules in a real browser (headless Chromium), by labels and keyboard-
reachable controls only: an admin adds a webhook partner and is shown its signing secret once,
adds a routing rule for it, and the tester shows that rule chosen for a matching report."""

from __future__ import annotations

import re

import pytest

from tests.console.browser import (  # noqa: F401 - the fixtures browser, console_server, page
    MISSING,
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

ACKLAM = ("54.54418", "-1.24703")  # a point in Acklam ward, Middlesbrough
# A public address written as such: the server checks endpoints for real (no name to resolve).
ENDPOINT = "https://93.184.215.14/copa/webhooks"
SECRET = re.compile(r"whsec_[A-Za-z0-9+/=]{20,}")


def test_an_admin_adds_a_partner_and_a_rule_and_the_tester_chooses_it(page: Page, console_server):
    sign_in(page, console_server, "admin")
    sections = page.get_by_role("navigation", name="Console sections")

    # A webhook partner: its signing secret is shown on the answer, once.
    sections.get_by_role("link", name="Partners").click()
    page.get_by_role("link", name="Add a partner").click()
    page.get_by_label("Partner code").fill("tees-valley-hooks")
    page.get_by_label("Name", exact=True).fill("Tees Valley Waste Team")
    page.get_by_label("Kind", exact=True).select_option(label="Council")
    page.get_by_label("Channel", exact=True).select_option(label="Signed webhook")
    page.get_by_label("Endpoint URL (webhook and Open311)").fill(ENDPOINT)
    page.get_by_role("button", name="Add partner").click()
    expect(page.get_by_role("alert")).to_contain_text("shown this once, never again")
    secret = page.get_by_label("Signing secret", exact=True).input_value()
    assert SECRET.fullmatch(secret), secret

    page.get_by_role("link", name="All partners").click()
    page.get_by_role("link", name="Tees Valley Waste Team").click()
    expect(page.get_by_text("1 held")).to_be_visible()
    screen(page, "partner")
    assert secret not in page.content() and not SECRET.search(page.content())

    # A rule: small fly-tipping in Acklam goes to the new partner.
    sections.get_by_role("link", name="Routing rules").click()
    page.get_by_role("link", name="Add a rule").click()
    page.get_by_label("Category", exact=True).select_option(label="Fly-tipping")
    page.get_by_role("button", name="Choose category").click()
    page.get_by_label("Area", exact=True).select_option(label="Acklam ward")
    page.get_by_label("Answer condition").select_option(
        label="How much waste is there?: Small (up to a car boot load)"
    )
    page.get_by_label("Goes to").select_option(label="Tees Valley Waste Team (council)")
    page.get_by_role("button", name="Add rule").click()
    expect(page.get_by_role("status")).to_contain_text("Added the rule")
    screen(page, "routing-rules")

    # The tester: the same category, a point in Acklam and the answer -> that rule.
    page.get_by_role("link", name="Try the rules: where would a report go?").click()
    page.get_by_label("Category", exact=True).select_option(label="Fly-tipping")
    page.get_by_role("button", name="Choose category").click()
    page.get_by_label("Latitude").fill(ACKLAM[0])
    page.get_by_label("Longitude").fill(ACKLAM[1])
    page.get_by_label("How much waste is there?").select_option(
        label="Small (up to a car boot load)"
    )
    page.get_by_role("button", name="Find the destination").click()
    decision = page.locator("#decision")
    expect(decision).to_contain_text("Goes to Tees Valley Waste Team")
    expect(decision).to_contain_text("Acklam ward (Middlesbrough)")
    chosen = page.get_by_role("row").filter(has_text="Chosen")
    expect(chosen).to_have_count(1)
    expect(chosen).to_contain_text("Acklam ward")
    expect(chosen).to_contain_text("Tees Valley Waste Team")
    screen(page, "routing-tester")

    # A large load still goes to the Environment Agency: an answer rule for large outweighs.
    page.get_by_label("How much waste is there?").select_option(
        label="Large (a lorry load or more)"
    )
    page.get_by_role("button", name="Find the destination").click()
    expect(page.locator("#decision")).to_contain_text("Goes to Environment Agency")
