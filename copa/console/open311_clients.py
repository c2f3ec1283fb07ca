"""Console pages of the Open311 clients (admins only): list, add, replace the API key, stop or
start a client; over the service behind /v1/admin/open311-clients (copa.open311.api_clients).

A client's API key is shown once, on the answer to adding the client or replacing its key: only
a hash of it is kept. That answer is never stored either: a repeat of the same form (a double
click, a resend) gets a page saying the key was shown already, with the way to replace it.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import flash, g, make_response, redirect, request, url_for
from marshmallow import ValidationError
from werkzeug.datastructures import MultiDict

from copa.console.pages import blp, console_page, load_form, page
from copa.db import abandon
from copa.open311 import api_clients
from copa.open311 import schemas as open311_schemas
from copa.web.access import Role
from copa.web.idempotency import STORED_INSTEAD
from copa.web.problems import flatten_messages

CLIENTS = (Role.ADMIN,)  # as /v1/admin/open311-clients
PAGE_SIZE = 100
FIELD_LABELS = {
    "name": "Name",
    "jurisdiction_id": "Jurisdiction id",
    "extended_statuses": "Extended statuses",
    "status_without_key": "Status without a key",
    "_body": "Client",
}
_FLAGS = ("extended_statuses", "status_without_key")


@blp.route("/open311-clients")
@console_page(*CLIENTS)
def open311_clients():
    """Every Open311 client by name (GET /v1/admin/open311-clients)."""
    args = MultiDict((k, v) for k, v in request.args.items(multi=True) if v != "")
    try:
        query = open311_schemas.ClientQuery().load({"page_size": PAGE_SIZE, **args.to_dict()})
    except ValidationError:
        query = open311_schemas.ClientQuery().load({"page_size": PAGE_SIZE})
    results = api_clients.list_clients(query.get("active"), query["page"], query["page_size"])
    return page("console/open311_clients.html", results=results, args=args)


def _new_page(status: int = 200, **context: Any) -> tuple[str, int]:
    if status >= 400:
        abandon()
    context.setdefault("form", {})
    context.setdefault("errors", {})
    return page("console/open311_client_new.html", status, labels=FIELD_LABELS, **context)


@blp.route("/open311-clients/new")
@console_page(*CLIENTS)
def open311_client_new():
    return _new_page()


def _key_shown_once(client: Any, api_key: str, added: bool):  # noqa: ANN202
    """The one page that shows ``api_key``; a repeat of its form gets the page without it."""
    shown = make_response(
        page("console/open311_key.html", client=client, api_key=api_key, added=added)
    )
    setattr(
        shown,
        STORED_INSTEAD,
        make_response(page("console/open311_key.html", client=client, api_key=None, added=added)),
    )
    return shown


@blp.route("/open311-clients", methods=["POST"])
@console_page(*CLIENTS)
def open311_client_create():
    """Register an Open311 client (POST /v1/admin/open311-clients); its key is shown once."""
    form = request.form.to_dict()
    data: dict[str, Any] = {key: form.get(key, "") for key in ("name", "jurisdiction_id")}
    data.update({flag: form.get(flag) == "yes" for flag in _FLAGS})
    try:
        payload = load_form(open311_schemas.ClientIn(), data)
    except ValidationError as error:
        return _new_page(422, form=form, errors=flatten_messages(error.messages))
    saved = api_clients.create_client(g.principal, payload)
    return _key_shown_once(saved.client, saved.api_key, added=True)


@blp.route("/open311-clients/<uuid:client_id>/api-key", methods=["POST"])
@console_page(*CLIENTS)
def open311_client_key(client_id: uuid.UUID):
    """Replace the client's key (POST /v1/admin/open311-clients/{id}/api-key): the new one is
    shown once, the old one stops working at once."""
    saved = api_clients.replace_api_key(g.principal, client_id)
    return _key_shown_once(saved.client, saved.api_key, added=False)


@blp.route("/open311-clients/<uuid:client_id>/deactivate", methods=["POST"])
@console_page(*CLIENTS)
def open311_client_deactivate(client_id: uuid.UUID):
    """Stop a client (PATCH active: false): its key is refused from now on."""
    client = api_clients.update_client(g.principal, client_id, {"active": False})
    flash(f"“{client.name}” is stopped: its API key is refused from now on.")
    return redirect(url_for("console.open311_clients"), 303)


@blp.route("/open311-clients/<uuid:client_id>/reactivate", methods=["POST"])
@console_page(*CLIENTS)
def open311_client_reactivate(client_id: uuid.UUID):
    """Let a stopped client in again (PATCH active: true), with the key it had."""
    client = api_clients.update_client(g.principal, client_id, {"active": True})
    flash(f"“{client.name}” may use the Open311 endpoint again, with the key it had.")
    return redirect(url_for("console.open311_clients"), 303)
