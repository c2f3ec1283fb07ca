"""The console's forms and filters with hostile fields: never a 5xx, a console error page for a
refusal, and nothing written by it (see tests/web/hostile.py)."""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from copa.db import db
from copa.extensions import limiter
from tests.console.test_console_access import CONSOLE_MATRIX, _caller, _url, ids  # noqa: F401
from tests.web.hostile import HUGE, changed, encoded, errors_logged, form_fields, snapshot

# Every field name a console form or filter has (its templates' name="..." attributes).
FIELDS = [
    "allegation_group", "area", "assignee", "awaiting_first_contact", "baseline_year",
    "category", "code", "contacted_at", "description", "duplicate_of", "email", "event_date",
    "event_name", "fiscal_year", "group", "internal_note", "kind", "local_authority", "next",
    "note", "outcome", "partner_id", "passed_to", "password", "public_note", "quarter", "reason",
    "response", "state", "status", "text", "to", "year", "page",
]  # fmt: skip
EXAMPLES_PER_ROUTE = 5  # x 38 console routes: about 190 generated requests per database


def _fresh_csrf(app, client) -> str:
    from flask import g

    g.pop(app.config["WTF_CSRF_FIELD_NAME"], None)
    form = client.get("/console/login").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)


def _text(value: str) -> str:
    # A browser sends what it can encode: a lone surrogate goes out as U+FFFD.
    return value.encode("utf-8", "replace").decode()


def test_nul_and_huge_numbers_in_a_console_form_are_refused_and_nothing_saved(app, ids, caplog):  # noqa: F811 - the imported fixture
    client, _ = _caller(app, "admin")
    url = _url("/console/reports/<report_id>/notes", ids)
    before = snapshot(app)
    for text in ("Checked\x00", "\x1b[2J"):
        response = client.post(url, data={"csrf_token": _fresh_csrf(app, client), "text": text})
        assert response.status_code == 400
        assert response.mimetype == "text/html"
        assert "control character" in response.get_data(as_text=True)
    url = _url("/console/complaints/<case_id>/closure", ids)
    response = client.post(
        url, data={"csrf_token": _fresh_csrf(app, client), "outcome": HUGE, "text": HUGE}
    )
    assert 400 <= response.status_code < 500
    assert response.mimetype == "text/html"
    assert changed(before, snapshot(app)) == []
    assert client.get(f"/console/queue?state=%00&q={HUGE}").status_code == 400
    assert errors_logged(caplog.records) == []


def test_hostile_console_requests_get_no_5xx_and_refusals_write_nothing(app, ids, caplog):  # noqa: F811
    client, _ = _caller(app, "admin")  # an admin may open every console page
    failures: dict[str, str] = {}
    sent: list[str] = []
    routes = sorted((method, rule) for method, rule in CONSOLE_MATRIX if "<filename>" not in rule)
    for method, rule in routes:
        try:
            _walk(app, client, ids, caplog, method, rule, sent)
        except Exception as failure:  # noqa: BLE001 - every route's failure, not the first
            failures[f"{method} {rule}"] = f"{type(failure).__name__}: {failure}"[:600]
        finally:
            db.session.remove()
    print(f"{len(sent)} hostile console requests over {len(routes)} routes")
    assert failures == {}
    assert set(sent) == {rule for _, rule in routes}


def _walk(app, client, found: dict, caplog, method: str, rule: str, sent: list[str]) -> None:
    @settings(
        max_examples=EXAMPLES_PER_ROUTE,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(fields=form_fields(FIELDS), query=form_fields(FIELDS), keyed=st.booleans())
    def send(fields, query, keyed) -> None:
        with app.app_context():
            limiter.reset()
        url = _url(rule, found)
        if query:
            url += "?" + "&".join(f"{encoded(k)}={encoded(v)}" for k, v in query)
        data = None
        if method == "POST":
            data = {_text(k): _text(v) for k, v in fields}
            data["csrf_token"] = _fresh_csrf(app, client)
            if keyed:
                data["form_key"] = "k" + str(len(sent))
        before = snapshot(app)
        caplog.clear()
        response = client.open(url, method=method, data=data)
        sent.append(rule)
        where = f"{method} {url[:200]!r} {str(data)[:200]}"
        assert response.status_code < 500, f"{response.status_code} for {where}"
        assert errors_logged(caplog.records) == [], where
        if response.status_code >= 400:
            assert response.mimetype == "text/html", where
            assert changed(before, snapshot(app)) == [], f"wrote rows: {where}"

    send()
