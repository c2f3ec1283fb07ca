"""A reviewer handles a compliment or suggestion from its console page, reached from the queue."""

from __future__ import annotations

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
