"""The unsubscribe link of residents' emails: public, no sign-in (the signed token is the key).

``POST`` unsubscribes: a mail client's one-click button (RFC 8058) posts
``List-Unsubscribe=One-Click`` form-encoded, a browser posts the page's form; an empty body
works too. Nothing in the body changes what happens, so it is not parsed as JSON (the API's
parser would refuse a form with 415). ``GET`` only shows a page with the button: link scanners
and previews follow links, and must not unsubscribe anyone.
"""

from __future__ import annotations

import html

from flask import Response, request
from flask.views import MethodView

from copa.notifications import unsubscribe as service
from copa.notifications.unsubscribe_schemas import UnsubscribedOut
from copa.web.access import PUBLIC, requires
from copa.web.blueprint import Blueprint

blp = Blueprint(
    "unsubscribe",
    __name__,
    url_prefix="/v1/unsubscribe",
    description="The one-click unsubscribe link of residents' email updates (RFC 8058).",
)

JSON, HTML = "application/json", "text/html"
DONE = "You will get no more emails about your submissions at this address."
# The page loads nothing and posts only back here; the token in its URL goes nowhere else.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Robots-Tag": "noindex",
}
_ONE_CLICK_BODY = {
    "required": False,
    "content": {
        "application/x-www-form-urlencoded": {
            "schema": {
                "type": "object",
                "properties": {"List-Unsubscribe": {"type": "string", "enum": ["One-Click"]}},
            }
        }
    },
}
_PAGE = {
    "description": "A page with the unsubscribe button",
    "content": {HTML: {"schema": {"type": "string"}}},
}


def _page(heading: str, text: str, button: bool) -> Response:
    form = (
        '<form method="post"><input type="hidden" name="List-Unsubscribe" value="One-Click">'
        '<button type="submit">Unsubscribe</button></form>'
        if button
        else ""
    )
    body = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(heading)}</title>\n"
        "<style>body{font-family:sans-serif;max-width:32em;margin:2em auto;padding:0 1em}"
        "button{font-size:1.1em;padding:.5em 1.5em}</style>\n</head>\n<body>\n"
        f"<h1>{html.escape(heading)}</h1>\n<p>{html.escape(text)}</p>\n{form}\n</body>\n</html>\n"
    )
    return Response(body, mimetype=HTML, headers=PAGE_HEADERS)


@blp.route("/<string:unsubscribe_token>")
class Unsubscribe(MethodView):
    @requires(PUBLIC)
    @blp.doc(responses={"200": _PAGE})
    @blp.alt_response(404, response="NOT_FOUND", description="The link is not valid.")
    def get(self, unsubscribe_token):
        """A page with a button that unsubscribes.

        Opening the link changes nothing: mail scanners and link previews follow links."""
        service.contact_id_of(unsubscribe_token)  # a tampered link is a 404 here too
        return _page(
            "Stop email updates",
            "Press the button to stop getting email updates from COPA at this address. "
            "You will still see updates in the app.",
            button=True,
        )

    @requires(PUBLIC)
    @blp.doc(requestBody=_ONE_CLICK_BODY)
    @blp.response(200, UnsubscribedOut)
    @blp.alt_response(200, schema={"type": "string"}, content_type=HTML, description=DONE)
    @blp.alt_response(404, response="NOT_FOUND", description="The link is not valid.")
    def post(self, unsubscribe_token):
        """Unsubscribe from email updates.

        RFC 8058 one-click: the body `List-Unsubscribe=One-Click` (form-encoded), or none.
        Stops emails to this address about all the resident's submissions from this app
        install; repeating it is harmless. JSON, or a page for a browser (`Accept: text/html`).
        """
        service.unsubscribe(unsubscribe_token)
        if request.accept_mimetypes.best_match((JSON, HTML)) == HTML:
            return _page("Unsubscribed", DONE + " You will still see updates in the app.", False)
        return {"unsubscribed": True, "detail": DONE}
