"""The ward maps in a real browser (headless Chromium): the report page's map and the analysts'
choropleths are drawn by the server as inline SVG, so the page reaches nothing but the server
and breaks none of the Content-Security-Policy (the ``page`` fixture refuses and records any
request elsewhere and any CSP report; these tests also list every request the page made)."""

from __future__ import annotations

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
from tests.console.test_browser import submit_report

if MISSING is None:
    from playwright.sync_api import Page, expect

pytestmark = [pytest.mark.slow, needs_browser]


def watch(page: Page) -> tuple[list[str], list[str]]:
    """Every URL the page requests, and every CSP violation the page itself reports."""
    requests: list[str] = []
    violations: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    return requests, violations


ACKLAM = {"lat": 54.54418, "lon": -1.24703}  # Middlesbrough, ward E05001482


def report_in_acklam(server) -> None:
    response = server.api(
        "POST",
        "/v1/reports",
        token=server.resident_token(),
        json={"category": "asb", "description": "Fireworks at the flats.", "location": ACKLAM},
    )
    assert response.status_code == 201, response.text


def test_report_map_and_ward_choropleths_load_nothing_from_elsewhere(page: Page, console_server):
    reports = [
        submit_report(console_server, f"Bikes on the pavement, night {n}.") for n in range(6)
    ]
    # Five more elsewhere: the wards left without reports then add up to nothing that could be
    # worked back from the total, so Middlehaven's six are shown (the open data's rule).
    for _ in range(5):
        report_in_acklam(console_server)
    requests, violations = watch(page)

    sign_in(page, console_server, "admin")
    page.goto(console_server.url(f"/console/reports/{reports[0]['id']}"))
    ward_map = page.get_by_role("img", name=f"Where {reports[0]['reference']} was reported")
    expect(ward_map).to_be_visible()
    expect(ward_map.locator("circle.map-point")).to_have_count(1)
    expect(page.get_by_text("the circle marks the reported point")).to_be_visible()

    page.get_by_role("navigation", name="Console sections").get_by_role(
        "link", name="Ward maps"
    ).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Ward maps")
    page.get_by_label("Area", exact=True).select_option(label="Middlesbrough")
    page.get_by_role("button", name="Show maps").click()

    reports_map = page.get_by_role("img", name="Reports per ward, Middlesbrough", exact=False)
    expect(reports_map).to_be_visible()
    expect(page.get_by_role("img", name="% confident per ward", exact=False)).to_be_visible()
    # The table beside the map: Middlehaven's six reports, as the metrics count them.
    table = page.locator("#reports-map-table")
    row = table.get_by_role("row").filter(has_text="Middlehaven")
    expect(row.get_by_role("cell").last).to_have_text("6")
    expect(reports_map.locator('path[data-code="E05001497"] title')).to_have_text("Middlehaven: 6")
    screen(page, "ward-maps")

    server = console_server.base + "/"
    assert requests and all(url.startswith(server) for url in requests), [
        url for url in requests if not url.startswith(server)
    ]
    assert violations == []
