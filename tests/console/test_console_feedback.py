"""A reviewer handles a compliment or suggestion from its console page, reached from the queue."""

from __future__ import annotations

import re

from tests.console.test_console import resident, sign_in, token, world  # noqa: F401  (fixture)
from tests.review.support import give_feedback


def test_a_reviewer_passes_a_compliment_on_from_its_page(app, client, world):  # noqa: F811
    giver = resident(client)
    compliment = give_feedback(client, giver)
    sign_in(client, app, "reviewer")
    queue = client.get("/console/queue?kind=compliment").get_data(as_text=True)
    assert f'href="/console/feedback/{compliment["id"]}"' in queue
    page = f"/console/feedback/{compliment['id']}"
    assert "Pass on and close" in client.get(page).get_data(as_text=True)

    response = client.post(
        f"{page}/pass-on",
        data={"csrf_token": token(client, page), "passed_to": "Acklam NPT", "public_note": ""},
    )

    assert response.status_code == 303
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Passed on." in html and "Acklam NPT" in html
    assert "Pass on and close" not in html  # handled: nothing more to do
    mine = client.get(f"/v1/feedback/{compliment['id']}", headers=giver).get_json()
    assert (mine["state"], mine["passed_to"]) == ("closed", "Acklam NPT")


def test_answering_a_compliment_is_refused_on_the_page(app, client, world):  # noqa: F811
    compliment = give_feedback(client, resident(client))
    sign_in(client, app, "reviewer")
    page = f"/console/feedback/{compliment['id']}"

    response = client.post(
        f"{page}/answer", data={"csrf_token": token(client, page), "response": "Noted."}
    )

    assert response.status_code == 409
    assert "A compliment cannot become answered." in response.get_data(as_text=True)


def test_a_suggestion_is_closed_as_it_is_with_a_reason_kept_for_staff(app, client, world):  # noqa: F811
    giver = resident(client)
    suggestion = give_feedback(client, giver, kind="suggestion", text="More bins in the park.")
    sign_in(client, app, "reviewer")
    page = f"/console/feedback/{suggestion['id']}"
    html = client.get(page).get_data(as_text=True)
    assert "Answer and close" in html and "Close without answering" in html
    assert "Pass on and close" not in html  # not for a suggestion

    refused = client.post(f"{page}/close", data={"csrf_token": token(client, page), "reason": ""})
    assert refused.status_code == 422
    assert 'aria-invalid="true"' in refused.get_data(as_text=True)

    closed = client.post(
        f"{page}/close",
        data={"csrf_token": token(client, page), "reason": "Already asked for by the council."},
    )

    assert closed.status_code == 303
    html = client.get(page).get_data(as_text=True)
    assert "Closed. The resident is not told." in html
    assert '<dd id="feedback-state">Closed</dd>' in html
    assert "Already asked for by the council." in html  # in the audit trail
    assert "Close without answering" not in html
    mine = client.get(f"/v1/feedback/{suggestion['id']}", headers=giver).get_json()
    assert mine["state"] == "closed"


def test_a_refused_pass_on_keeps_what_was_typed(app, client, world):  # noqa: F811
    compliment = give_feedback(client, resident(client))
    sign_in(client, app, "reviewer")
    page = f"/console/feedback/{compliment['id']}"

    refused = client.post(
        f"{page}/pass-on",
        data={"csrf_token": token(client, page), "passed_to": "", "public_note": "Thanks!"},
    )

    assert refused.status_code == 422
    html = refused.get_data(as_text=True)
    assert "This was not saved" in html and ">Thanks!</textarea>" in html


def test_a_possible_emergency_opens_from_the_queue_and_says_so(app, client, world):  # noqa: F811
    urgent = give_feedback(
        client, resident(client), kind="suggestion", text="Help me, someone is bleeding outside"
    )
    sign_in(client, app, "reviewer")
    queue = client.get("/console/queue?possible_emergency=true").get_data(as_text=True)
    assert f'<a href="/console/feedback/{urgent["id"]}">{urgent["reference"]}</a>' in queue

    html = client.get(f"/console/feedback/{urgent['id']}").get_data(as_text=True)

    assert 'role="alert"' in html and "<strong>Possible emergency.</strong>" in html
    assert "Help me, someone is bleeding outside" in html


def test_a_dissatisfaction_links_to_its_case_and_back_with_the_conversation(app, client, world):  # noqa: F811
    giver = resident(client)
    complaint = give_feedback(
        client, giver, kind="dissatisfaction", text="Nobody came when I rang 101."
    )
    added = client.post(
        f"/v1/feedback/{complaint['id']}/messages",
        json={"text": "It was on the 3rd, about 9pm."},
        headers=giver,
    )
    assert added.status_code == 201, added.get_json()
    sign_in(client, app, "resolution")
    page = f"/console/feedback/{complaint['id']}"

    html = client.get(page).get_data(as_text=True)

    case = re.search(r'href="(/console/complaints/[0-9a-f-]+)"', html).group(1)
    assert "Dissatisfaction (a complaint)" in html and ": Logged" in html
    assert "It was on the 3rd, about 9pm." in html  # the resident's message
    assert "Pass on and close" not in html and "Close without" not in html
    back = client.get(case).get_data(as_text=True)
    assert f'href="{page}"' in back


def test_a_reviewer_sees_the_case_without_a_link_to_the_resolution_teams_page(app, client, world):  # noqa: F811
    complaint = give_feedback(client, resident(client), kind="dissatisfaction", text="Rude.")
    sign_in(client, app, "reviewer")

    html = client.get(f"/console/feedback/{complaint['id']}").get_data(as_text=True)

    assert "Handled by the Resolution Team as a complaint case" in html
    assert "/console/complaints/" not in html
