"""The console's audit log page (admins): who by name and role, actions in words, times in London
with the zone, before and after readable, the API's filters as a GET form, and paging. The report
page's audit trail names the person too."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from copa.audit.models import AuditEvent
from copa.db import db
from tests.console.test_console import csrf_of, sign_in
from tests.console.test_operations import text_of
from tests.factories import bearer, load_reference_data, login, register_device, user_with_role
from tests.review.support import submit

AUDIT = "/console/audit"


@pytest.fixture
def admin(app, client):
    load_reference_data(app)
    return sign_in(client, app, "admin", display_name="Ada Admin", email="ada@opcc.example")


def rows(html: str) -> list[str]:
    body = html.split('<table id="audit-log">', 1)[1].split("</tbody>", 1)[0]
    inline = re.compile(r"</?(?:strong|a|code)\b[^>]*>")  # words, not blocks: no gap
    return [
        re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", inline.sub("", row)))
        for row in body.split("<tr>")[2:]
    ]


def take_report(app, client, reviewer_name: str = "Rob Reviewer") -> tuple[dict, object]:
    """A resident's report that a reviewer assigns to themself (through the API)."""
    report = submit(client, bearer(register_device(client)["access_token"]))
    reviewer = user_with_role(app, "reviewer", display_name=reviewer_name)
    tokens = login(client, reviewer.email)
    taken = client.post(
        f"/v1/staff/reports/{report['id']}/assignment",
        json={"assignee_id": str(reviewer.id)},
        headers=bearer(tokens["access_token"]),
    )
    assert taken.status_code == 200, taken.get_json()
    return report, reviewer


def test_the_log_names_who_did_what_in_words_with_london_times(app, client, admin):
    report, reviewer = take_report(app, client)
    html = text_of(client.get(AUDIT))
    assert 'href="/console/audit"' in html  # in the navigation
    (row,) = [row for row in rows(html) if "Assignment changed" in row]
    assert f"Rob Reviewer ({reviewer.email}), as Reviewer" in row
    assert re.search(r"\d{1,2} \w{3} \d{4} \d\d:\d\d (GMT|BST)", row)
    assert "report.assign" not in row  # words, not the code
    assert "Rob Reviewer" in row.split("Assignment changed", 1)[1]  # the assignee, readable
    assert f'href="/console/reports/{report["id"]}"' in html


def test_the_report_pages_trail_names_the_person_and_their_role(app, client, admin):
    report, reviewer = take_report(app, client)
    html = text_of(client.get(f"/console/reports/{report['id']}"))
    trail = html.split('id="audit"', 1)[1]
    assert f"Rob Reviewer ({reviewer.email}), as Reviewer" in trail


def test_before_and_after_show_what_changed(app, client, admin):
    user = user_with_role(app, "reviewer", display_name="Sam Jones")
    path = f"/console/users/{user.id}"
    token = csrf_of(text_of(client.get(path)))
    assert client.post(f"{path}/disable", data={"csrf_token": token}).status_code == 303
    (row,) = [row for row in rows(text_of(client.get(AUDIT))) if "User changed" in row]
    assert "Ada Admin (ada@opcc.example), as Admin" in row
    assert "Active: was yes; now no" in row
    assert "A user: Sam Jones" in row  # the user changed, by name (a link to their page)
    assert "Roles" not in row  # unchanged, so not shown


def test_the_filters_narrow_the_log_and_keep_their_choices(app, client, admin):
    _, reviewer = take_report(app, client)
    other = user_with_role(app, "analyst")
    path = f"/console/users/{other.id}"
    token = csrf_of(text_of(client.get(path)))
    disabled = client.post(f"{path}/disable", data={"csrf_token": token})
    assert disabled.status_code == 303, (path, text_of(disabled)[-1500:])

    by_reviewer = text_of(client.get(f"{AUDIT}?actor_id={reviewer.id}"))
    assert [row for row in rows(by_reviewer) if "Assignment changed" in row]
    assert not [row for row in rows(by_reviewer) if "User changed" in row]
    assert re.search(rf'<option value="{reviewer.id}"\s+selected', by_reviewer)

    users_only = rows(text_of(client.get(f"{AUDIT}?action=user.")))
    assert len(users_only) == 1 and "User changed" in users_only[0]
    one_target = text_of(client.get(f"{AUDIT}?target_kind=user&target_id={other.id}"))
    assert len(rows(one_target)) == 1

    today = datetime.now(UTC).date()
    assert "Nothing matches" in text_of(client.get(f"{AUDIT}?to=2020-01-01"))
    assert "Nothing matches" not in text_of(client.get(f"{AUDIT}?from={today}&to={today}"))

    bad = client.get(f"{AUDIT}?from=2026-05-02&to=2026-05-01&target_id=nope")
    assert bad.status_code == 422
    assert "Some filters are not valid" in text_of(bad) and 'value="nope"' in text_of(bad)


def test_the_log_pages_newest_first(app, client, admin):
    for n in range(55):
        user_with_role(app, "reviewer", email=f"many{n}@copa.example")
    with app.app_context():
        db.session.add_all(
            AuditEvent(
                actor_kind="staff",
                actor_id=admin.id,
                actor_roles="admin",
                action="user.update",
                target_kind="user",
                target_id=None,
                after={"n": n},
                at=datetime(2026, 1, 1, 12, n, tzinfo=UTC),
            )
            for n in range(55)
        )
        db.session.commit()
    first = text_of(client.get(AUDIT))
    assert len(rows(first)) == 50 and "N: 54" in rows(first)[0]
    older = re.search(r'href="(/console/audit\?[^"]*page=2[^"]*)">Older events', first).group(1)
    second = text_of(client.get(older.replace("&amp;", "&")))
    assert len(rows(second)) == 5 and "N: 0" in rows(second)[-1]
    assert "Newer events" in second and "Older events" not in second


def test_only_admins_read_the_log(app, client):
    load_reference_data(app)
    sign_in(client, app, "reviewer")
    assert client.get(AUDIT).status_code == 403
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)) == 0
