"""The staff console in a real browser (headless Chromium): what each role does there every day,
keyboard use, and who cannot get in at all.

Pages are driven by their accessible labels and roles, so a missing label fails a test. The data a
page starts from is made through the public API, as residents' apps make it.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from tests.console.browser import (  # noqa: F401 - the fixtures browser, console_server, page
    MISSING,
    Server,
    fresh_page,
    launch_browser,
    needs_browser,
    new_context,
    screen,
    serve_console,
    sign_in,
)

if MISSING is None:
    from playwright.sync_api import Page, expect

pytestmark = [pytest.mark.slow, needs_browser]

MIDDLEHAVEN = {"lat": 54.5762, "lon": -1.2348}  # Middlesbrough, ward E05001497


def submit_report(server: Server, description: str, category: str = "asb") -> dict:
    """A resident's report through the API."""
    response = server.api(
        "POST",
        "/v1/reports",
        token=server.resident_token(),
        json={
            "category": category,
            "description": description,
            "location": MIDDLEHAVEN,
            "address_text": "Bus shelter, Middlesbrough Road",
        },
    )
    assert response.status_code == 201, response.text
    return response.json()


def staff_report(server: Server, role: str, report_id: str) -> dict:
    response = server.api("GET", f"/v1/staff/reports/{report_id}", token=server.staff_token(role))
    assert response.status_code == 200, response.text
    return response.json()


# --- the reviewer ---------------------------------------------------------------------------


def test_reviewer_filters_to_emergencies_and_routes_one_to_a_partner(page: Page, console_server):
    knife = submit_report(console_server, "A man waving a knife outside the chip shop right now.")
    ordinary = submit_report(console_server, "Youths kicking the bus shelter every evening.")

    sign_in(page, console_server, "reviewer")
    expect(page.get_by_role("heading", name="Queue", level=1)).to_be_visible()
    screen(page, "queue")

    page.get_by_label("Possible emergencies only").check()
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"possible_emergency=true"))
    queue = page.get_by_role("table")
    knife_row = queue.get_by_role("row").filter(has_text=knife["reference"])
    expect(knife_row).to_contain_text("Possible emergency")
    expect(queue).not_to_contain_text(ordinary["reference"])
    expect(page.get_by_label("Possible emergencies only")).to_be_checked()  # the filter stays on

    knife_row.get_by_role("link", name=knife["reference"]).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(knife["reference"])
    expect(page.get_by_role("alert")).to_contain_text("Possible emergency")
    # Routing sent it to the force control room on arrival; the reviewer refers it on as well.
    expect(page.locator("#report-destination")).to_have_text("Cleveland Police force control room")
    thirteen = page.get_by_role("region", name=re.compile(r"^Thirteen Housing: "))
    expect(thirteen).to_have_count(0)

    page.get_by_label("New status").select_option("routed")
    page.get_by_label("Partner (when referring)").select_option(label="Thirteen Housing")
    page.get_by_label("Outcome (needed to resolve, close or reject)").select_option(
        "referred_to_partner"
    )
    page.get_by_label("Internal note (staff only)").fill("Knife: control room told by phone.")
    page.get_by_role("button", name="Save decision").click()

    expect(page.get_by_role("status")).to_contain_text("Saved.")
    expect(page.locator("#report-status")).to_contain_text("Routed")
    expect(page.locator("#report-destination")).to_have_text("Thirteen Housing")
    expect(thirteen).to_be_visible()
    expect(thirteen).to_contain_text("Sent ")
    screen(page, "report")
    timeline = page.get_by_role("table").filter(has_text="Internal note").last
    expect(timeline).to_contain_text("Knife: control room told by phone.")

    # The referral is stored, not only shown: the API sees the same.
    stored = staff_report(console_server, "reviewer", knife["id"])
    assert stored["status"] == "routed"
    assert "Thirteen Housing" in [r["partner"]["name"] for r in stored["referrals"]]


# --- the resolution officer ------------------------------------------------------------------


def complain(server: Server, text: str) -> dict:
    """A resident's expression of dissatisfaction through the API (it opens a complaint case)."""
    response = server.api(
        "POST",
        "/v1/feedback",
        token=server.resident_token(),
        json={"kind": "dissatisfaction", "text": text},
    )
    assert response.status_code == 201, response.text
    return response.json()


def test_resolution_officer_records_first_contact_and_closes_a_complaint(
    page: Page, console_server
):
    feedback = complain(console_server, "The officer at the front desk was rude to my mother.")

    sign_in(page, console_server, "resolution")
    page.get_by_role("navigation", name="Console sections").get_by_role(
        "link", name="Complaint cases"
    ).click()
    expect(page.get_by_role("heading", name="Complaint cases", level=1)).to_be_visible()
    page.get_by_label("First contact").select_option("true")
    page.get_by_role("button", name="Filter").click()
    row = page.get_by_role("row").filter(has_text=feedback["reference"])
    expect(row).to_contain_text("Not contacted yet")
    screen(page, "complaints")
    row.get_by_role("link", name=feedback["reference"]).click()

    expect(page.get_by_role("heading", level=1)).to_contain_text(feedback["reference"])
    expect(page.get_by_text("The officer at the front desk was rude")).to_be_visible()
    expect(page.locator("#case-state")).to_have_text("Logged")
    expect(page.locator("#case-first-contact")).to_have_text("Not contacted yet")

    contact = page.get_by_role("region", name="Record first contact")
    contact.get_by_label("Note for the complainant (first contact)").fill(
        "We rang you and have spoken to the front desk team."
    )
    contact.get_by_role("button", name="Record first contact").click()
    expect(page.get_by_role("status")).to_contain_text("First contact recorded.")
    expect(page.locator("#case-state")).to_have_text("Contacted")
    expect(page.locator("#case-first-contact").locator("time")).to_be_visible()
    expect(page.get_by_role("region", name="Record first contact")).to_have_count(0)

    page.get_by_role("region", name="Resolve").get_by_role("button", name="Mark resolved").click()
    expect(page.get_by_role("status")).to_contain_text("Case marked resolved.")
    expect(page.locator("#case-state")).to_have_text("Resolved")

    # Closing needs an outcome: without one nothing changes and the error is on the field.
    closing = page.get_by_role("region", name="Close")
    closing.get_by_role("button", name="Close case").click()
    expect(page.get_by_role("alert")).to_contain_text("Outcome")
    outcome = page.get_by_role("region", name="Close").get_by_label("Outcome")
    expect(outcome).to_have_attribute("aria-invalid", "true")
    expect(outcome).not_to_have_accessible_description("")
    expect(page.locator("#case-state")).to_have_text("Resolved")

    outcome.select_option("apology_given")
    page.get_by_role("region", name="Close").get_by_label(
        "Note for the complainant (closing)"
    ).fill("We are sorry; the desk officer has been spoken to.")
    page.get_by_role("region", name="Close").get_by_role("button", name="Close case").click()
    expect(page.get_by_role("status")).to_contain_text("Case closed.")
    expect(page.locator("#case-state")).to_have_text("Closed (Apology given)")
    expect(page.get_by_text("This case is closed: no further changes of state.")).to_be_visible()
    expect(page.get_by_role("button", name="Close case")).to_have_count(0)
    timeline = page.get_by_role("table", name="Timeline")
    expect(timeline.get_by_role("row")).to_have_count(4)  # the header, contacted, resolved, closed
    expect(timeline).to_contain_text("We rang you and have spoken to the front desk team.")
    screen(page, "complaint")

    # Stored as the API sees it.
    case_id = page.url.rstrip("/").rsplit("/", 1)[-1]
    response = console_server.api(
        "GET", f"/v1/staff/complaints/{case_id}", token=console_server.staff_token("resolution")
    )
    assert response.status_code == 200, response.text
    case = response.json()
    assert case["reference"] == feedback["reference"]
    assert case["state"] == "closed"
    assert case["outcome"] == "apology_given"
    assert case["first_contact_at"] is not None


# --- the analyst ----------------------------------------------------------------------------


def this_quarter() -> tuple[int, int]:
    """The financial year (April to March, by the year it starts) and quarter of today in
    London: the quarter this module's reports and feedback fall into."""
    today = datetime.now(ZoneInfo("Europe/London")).date()
    year = today.year if today.month >= 4 else today.year - 1
    return year, (today.month - 4) % 12 // 3 + 1


def test_analyst_opens_the_quarterly_report_and_downloads_its_csv(
    page: Page, console_server, tmp_path
):
    complain(console_server, "Nobody called me back about the burglary.")
    year, quarter = this_quarter()
    label = f"{year}/{(year + 1) % 100:02d} Q{quarter}"

    sign_in(page, console_server, "analyst")
    page.get_by_role("navigation", name="Console sections").get_by_role(
        "link", name="Quarterly report"
    ).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Quarterly report to the Police and Crime Panel"
    )
    page.get_by_label("Financial year").fill(str(year))
    page.get_by_label("Quarter", exact=True).select_option(str(quarter))
    page.get_by_role("button", name="Show report").click()

    report = page.locator("article.pcc-report")
    expect(report).to_be_visible()
    expect(report).to_have_attribute("aria-label", re.compile(re.escape(label)))
    expect(report.locator("svg").first).to_be_visible()  # its charts, drawn by the server
    screen(page, "quarterly-report")

    with page.expect_download(timeout=10_000) as started:
        page.get_by_role("link", name="Download CSV").click()
    download = started.value
    assert download.failure() is None
    assert download.suggested_filename == f"pcc-report-{year}-{(year + 1) % 100:02d}-q{quarter}.csv"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    text = saved.read_bytes().decode("utf-8")  # as served: RFC 4180 line ends (CRLF)

    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["section", "measure", "breakdown", "quarter", "value"]
    assert ["notes", "report_quarter", "", label, ""] in rows
    assert len(rows) > 20  # one row per number of the report
    # The same report as the API's CSV for the same quarter.
    response = console_server.api(
        "GET",
        "/v1/pcc-report",
        token=console_server.staff_token("analyst"),
        params={"year": year, "quarter": quarter},
        headers={"Accept": "text/csv"},
    )
    assert response.status_code == 200, response.text
    assert text == response.text


# --- the admin ------------------------------------------------------------------------------


def test_admin_adds_a_category_with_a_question_that_the_app_then_offers(page: Page, console_server):
    before = console_server.api("GET", "/v1/categories")
    etag = before.headers["ETag"]

    sign_in(page, console_server, "admin")
    page.get_by_role("navigation", name="Console sections").get_by_role(
        "link", name="Categories"
    ).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Categories")
    page.get_by_role("link", name="Add a category").click()
    page.get_by_label("Category code").fill("bins_left_out")
    page.get_by_label("Name").fill("Bins left out")
    page.get_by_label("Group").select_option(label="Not for the police")
    page.get_by_label("Default destination").select_option(label="The council of the area")
    page.get_by_label("Keywords").fill("bins, pavement")
    first = page.get_by_role("group", name="Question 1 (optional)")
    first.get_by_label("Question code").fill("how_many")
    first.get_by_label("Question as residents read it").fill("How many bins?")
    first.get_by_label("Kind of answer").select_option(label="One choice from a list")
    first.get_by_label("Choices (for a list)").fill("one = One\nseveral = Several")
    first.get_by_label("An answer is required").check()
    screen(page, "category-form")
    page.get_by_role("button", name="Add category").click()

    expect(page.get_by_role("status")).to_contain_text("Added “Bins left out”")
    expect(page.get_by_role("link", name="Bins left out")).to_be_visible()
    screen(page, "categories")

    # A resident's app that kept the old list is told it changed, and sees the question.
    after = console_server.api("GET", "/v1/categories", headers={"If-None-Match": etag})
    assert after.status_code == 200 and after.headers["ETag"] != etag
    added = next(c for c in after.json() if c["code"] == "bins_left_out")
    assert added["questions"] == [
        {
            "code": "how_many",
            "datatype": "singlevaluelist",
            "required": True,
            "description": "How many bins?",
            "order": 1,
            "values": [{"key": "one", "name": "One"}, {"key": "several", "name": "Several"}],
        }
    ]


# --- keyboard use ---------------------------------------------------------------------------


def focused(page: Page) -> str:
    """What has the keyboard focus: its id (or tag name)."""
    return page.evaluate("document.activeElement.id || document.activeElement.tagName")


def test_sign_in_with_the_keyboard_alone(page: Page, console_server):
    user = console_server.users["reviewer"]
    page.goto(console_server.url("/console/login"))

    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to main content")).to_be_focused()
    for _ in range(10):  # bounded: the email field is a few Tab stops in
        if focused(page) == "email":
            break
        page.keyboard.press("Tab")
    expect(page.get_by_label("Email address")).to_be_focused()
    page.keyboard.type(user.email)
    page.keyboard.press("Tab")
    expect(page.get_by_label("Password")).to_be_focused()
    page.keyboard.type(user.password)
    page.keyboard.press("Enter")

    expect(page).to_have_url(re.compile(r"/console/queue"))
    expect(page.get_by_role("heading", name="Queue", level=1)).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def test_a_wrong_password_is_announced_and_tied_to_the_field(page: Page, console_server):
    user = console_server.users["reviewer"]
    page.goto(console_server.url("/console/login"))
    page.get_by_label("Email address").fill(user.email)
    page.get_by_label("Password").fill("not the password")
    page.get_by_label("Password").press("Enter")

    expect(page.get_by_role("alert")).to_have_text("Email or password is wrong.")
    expect(page.get_by_label("Email address")).to_have_accessible_description(
        "Email or password is wrong."
    )
    expect(page.get_by_label("Email address")).to_have_value(user.email)
    page.goto(console_server.url("/console/queue"))
    expect(page).to_have_url(re.compile(r"/console/login"))


# --- who cannot get in ----------------------------------------------------------------------


def console_pages(server: Server, report_id: str) -> list[str]:
    """Every page of the console a browser can open (GET), from the app's own URL map, with a
    real report's id where a path needs one (sign-in and the stylesheet are open to all)."""
    paths = []
    with server.app.test_request_context():
        for rule in server.app.url_map.iter_rules():
            if not rule.endpoint.startswith("console.") or "GET" not in rule.methods:
                continue
            if rule.endpoint in ("console.login", "console.static"):
                continue
            values = {name: report_id for name in rule.arguments}
            paths.append(rule.build(values, append_unknown=False)[1])
    assert "/console/queue" in paths
    return sorted(paths)


def assert_kept_out(page: Page, server: Server, paths: list[str]) -> None:
    """Each page sends the browser to sign in and shows nothing of itself."""
    for path in paths:
        response = page.goto(server.url(path))
        assert response is not None and response.ok, (path, response and response.status)
        expect(page, f"{path} let them in").to_have_url(re.compile(r"/console/login\?next="))
        expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
        expect(page.get_by_role("button", name="Sign out")).to_have_count(0)


def test_a_residents_bearer_token_opens_no_console_page(browser, console_server):
    report = submit_report(console_server, "Someone dumped a sofa in the back lane.")
    token = console_server.resident_token()
    context = new_context(
        browser, console_server, extra_http_headers={"Authorization": f"Bearer {token}"}
    )
    try:
        assert_kept_out(
            context.new_page(), console_server, console_pages(console_server, report["id"])
        )
    finally:
        context.close()
    assert not context.copa_elsewhere


def test_a_partner_user_cannot_sign_in_nor_open_a_console_page(page: Page, console_server):
    report = submit_report(console_server, "Graffiti on the underpass again.")
    partner = console_server.users["partner"]

    page.goto(console_server.url("/console/login"))
    page.get_by_label("Email address").fill(partner.email)
    page.get_by_label("Password").fill(partner.password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("The console is for OPCC staff")
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)
    assert_kept_out(page, console_server, console_pages(console_server, report["id"]))

    # Nor with the partner API's bearer token in the browser's requests.
    token = console_server.api(
        "POST", "/v1/auth/login", json={"email": partner.email, "password": partner.password}
    ).json()["access_token"]
    page.context.set_extra_http_headers({"Authorization": f"Bearer {token}"})
    assert_kept_out(page, console_server, console_pages(console_server, report["id"]))


# --- the first page after sign-in -------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "path", "heading"),
    [
        ("reviewer", "/console/queue", "Queue"),
        ("admin", "/console/queue", "Queue"),
        ("resolution", "/console/complaints", "Complaint cases"),
        ("analyst", "/console/pcc-report", "Quarterly report to the Police and Crime Panel"),
    ],
)
def test_each_role_signs_in_to_its_own_first_page(page: Page, console_server, role, path, heading):
    sign_in(page, console_server, role)
    expect(page).to_have_url(console_server.url(path))
    expect(page.get_by_role("heading", level=1)).to_have_text(heading)
    expect(page.get_by_text("Your role does not allow this.")).to_have_count(0)


# --- the decision form ------------------------------------------------------------------------


def test_a_note_only_save_leaves_the_status_unchanged(page: Page, console_server):
    report = submit_report(console_server, "Graffiti on the underpass again.")
    sign_in(page, console_server, "reviewer")
    page.goto(console_server.url(f"/console/reports/{report['id']}"))
    expect(page.get_by_label("New status")).to_have_value("")  # "No change" unless chosen
    page.get_by_label("Note for the resident").fill("Thanks: the council has been told.")
    page.get_by_role("button", name="Save decision").click()

    expect(page.get_by_role("status")).to_contain_text("Status unchanged.")
    expect(page.locator("#report-status")).to_have_text(re.compile(r"^Routed \("))
    expect(
        page.locator("article.note").filter(has_text="Thanks: the council has been told.")
    ).to_contain_text("to the resident")  # sent as a message
    stored = staff_report(console_server, "reviewer", report["id"])
    assert stored["status"] == "routed"
    assert [entry["to_status"] for entry in stored["timeline"]] == ["received", "routed"]


def test_a_refused_duplicate_keeps_the_input_then_succeeds_by_reference(page: Page, console_server):
    original = submit_report(console_server, "Motorbikes on the playing field.")
    again = submit_report(console_server, "Motorbikes on the playing field again.")
    sign_in(page, console_server, "reviewer")
    page.goto(console_server.url(f"/console/reports/{again['id']}"))
    page.get_by_label("New status").select_option("duplicate")
    reference = page.get_by_label("Original report reference (when marking a duplicate)")
    reference.fill("COPA-99-999999")
    page.get_by_label("Note for the resident").fill("Already reported: we are on it.")
    page.get_by_role("button", name="Save decision").click()

    expect(page.get_by_role("alert")).to_contain_text("No report has the reference COPA-99-999999.")
    expect(page.get_by_label("New status")).to_have_value("duplicate")
    expect(reference).to_have_value("COPA-99-999999")
    expect(reference).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Note for the resident")).to_have_value(
        "Already reported: we are on it."
    )

    reference.fill(original["reference"])
    page.get_by_role("button", name="Save decision").click()
    expect(page.get_by_role("status")).to_contain_text("Saved.")
    expect(page.locator("#report-status")).to_contain_text("Duplicate")
    stored = staff_report(console_server, "reviewer", again["id"])
    assert stored["status"] == "duplicate"


# --- assignment, redaction and the audit trail on the report page -------------------------------


def test_assignment_and_redaction_from_the_report_page(page: Page, console_server):
    report = submit_report(console_server, "Jane Doe at number 12 lets her dog foul the path.")
    sign_in(page, console_server, "reviewer")
    page.goto(console_server.url(f"/console/reports/{report['id']}"))
    expect(page.locator("#report-assignee")).to_have_text("Nobody")
    page.get_by_role("button", name="Assign to me").click()
    expect(page.get_by_role("status")).to_contain_text("Report assigned to you.")
    expect(page.locator("#report-assignee")).to_have_text(
        console_server.users["reviewer"].display_name
    )

    page.get_by_label("What to redact").select_option("description")
    page.get_by_label("Replacement description (when redacting the description)").fill(
        "[name removed] lets her dog foul the path."
    )
    page.get_by_role("button", name="Redact").click()  # no reason: refused, input kept
    expect(page.get_by_role("alert")).to_contain_text("Reason")
    expect(page.get_by_label("Reason")).to_have_attribute("aria-invalid", "true")
    expect(
        page.get_by_label("Replacement description (when redacting the description)")
    ).to_have_value("[name removed] lets her dog foul the path.")
    page.get_by_label("Reason").fill("A named neighbour.")
    page.get_by_role("button", name="Redact").click()
    expect(page.get_by_role("status")).to_contain_text("Redacted.")
    expect(page.locator("p.description")).to_have_text("[name removed] lets her dog foul the path.")
    expect(page.locator("body")).not_to_contain_text("Jane Doe")

    audit = page.get_by_role("table", name="Audit trail of this report, oldest first")
    expect(audit).to_contain_text("Assignment changed")
    expect(audit).to_contain_text("Redacted")

    stored = staff_report(console_server, "reviewer", report["id"])
    assert stored["description"] == "[name removed] lets her dog foul the path."
    assert stored["assignee"]["display_name"] == console_server.users["reviewer"].display_name
