"""Open311 GeoReport v2 under /open311/v2, and the admin API of its clients.

Every GeoReport resource comes as ``.xml`` (the standard's required format) or ``.json``. Errors
on /open311/ paths leave in Open311's own shape, not problem+json: ``open311_errors`` rewrites
whatever problem the rest of the service raised (see ``as_open311_errors``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Response, g, request, url_for
from flask.views import MethodView

from copa.extensions import limiter
from copa.open311 import api_clients, schemas, search, service, submit
from copa.open311.render import respond
from copa.settings import settings
from copa.web.access import POLICY_ATTR, PUBLIC, Role, current_principal, requires
from copa.web.blueprint import Blueprint
from copa.web.pagination import page_of
from copa.web.problems import PROBLEM_JSON
from copa.web.ratelimit import client_ip

blp = Blueprint(
    "open311",
    __name__,
    url_prefix="/open311/v2",
    description="Open311 GeoReport v2, for civic reporting clients such as FixMyStreet. Each "
    "resource as .xml (the standard's required format) or .json; errors in Open311's shape.",
)
clients = Blueprint(
    "open311_clients",
    __name__,
    url_prefix="/v1/admin/open311-clients",
    description="Civic reporting systems allowed to use the Open311 endpoint (admins).",
)

API_KEY = "open311-api-key"  # the policy of routes an Open311 client calls with its api_key
_FMT = "<any(json, xml):fmt>"
_LOCATION = {"Location": {"description": "The new resource's URL.", "schema": {"type": "string"}}}


# --- documentation: each answer in both formats -------------------------------------------


def _answer(description: str, schema: Any) -> dict[str, Any]:
    """A documented answer: XML as text, JSON by its schema."""
    return {
        "description": description,
        "content": {
            "text/xml": {"schema": {"type": "string"}},
            "application/json": {"schema": schema},
        },
    }


_ERRORS = _answer("Open311 errors", schemas.Open311ErrorOut(many=True))


def _documented(answers: dict[int, dict[str, Any]], errors: tuple[int, ...]) -> Callable:
    responses = {str(status): answer for status, answer in answers.items()}
    responses.update({str(status): _ERRORS for status in errors})
    return blp.doc(responses=responses)


def requires_api_key(
    view: Callable[..., Any] | None = None, *, or_status_without_key: bool = False
) -> Any:
    """Declare and enforce that an Open311 client calls this with its api_key (in the query
    string, or the form body of a POST); sets ``g.open311_client``. 403 otherwise.

    ``or_status_without_key``: a call with no key at all goes on with ``g.open311_client``
    None, and the view answers only what may be read so (search.find_request): the status of
    requests whose client allows it, a 403 for anything else.
    """

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            api_key = request.values.get("api_key")
            keyless = or_status_without_key and not api_key
            g.open311_client = None if keyless else api_clients.authenticate(api_key)
            return view(*args, **kwargs)

        setattr(wrapper, POLICY_ATTR, frozenset({API_KEY}))
        documented = blp.doc(security=[{"open311ApiKey": []}])(wrapper)
        setattr(documented, POLICY_ATTR, frozenset({API_KEY}))
        return documented

    return decorate(view) if view is not None else decorate


def _client_key() -> str:
    """The rate-limit key of a POST: the client's api_key (hashed), else the address."""
    api_key = request.values.get("api_key")
    if api_key:
        return "open311:" + api_clients.key_hash(api_key)
    return f"ip:{client_ip()}"


# --- GeoReport v2 --------------------------------------------------------------------------


@blp.route(f"/discovery.{_FMT}", endpoint="discovery")
class Discovery(MethodView):
    @requires(PUBLIC)
    @_documented(
        {200: _answer("Where and how to use this endpoint", schemas.Open311DiscoveryOut)}, (404,)
    )
    def get(self, fmt):
        """Discovery: the endpoint's URL, formats and whom to ask for a key."""
        endpoint = url_for("open311.discovery", fmt="xml", _external=True)
        return respond(fmt, "discovery", service.discovery(endpoint.removesuffix("/discovery.xml")))


@blp.route(f"/services.{_FMT}")
class Services(MethodView):
    @requires(PUBLIC)
    @blp.arguments(schemas.JurisdictionQuery, location="query", unknown="exclude")
    @_documented(
        {200: _answer("The service list", schemas.Open311ServiceOut(many=True))}, (400, 404)
    )
    def get(self, query, fmt):
        """The service list: one service per report category (`metadata` true when it has
        extra questions)."""
        api_clients.check_jurisdiction(query.get("jurisdiction_id"))
        return respond(fmt, "services", service.services())


@blp.route(f"/services/<string:service_code>.{_FMT}")
class ServiceDefinition(MethodView):
    @requires(PUBLIC)
    @blp.arguments(schemas.JurisdictionQuery, location="query", unknown="exclude")
    @_documented(
        {200: _answer("The service definition", schemas.Open311ServiceDefinitionOut)}, (400, 404)
    )
    def get(self, query, service_code, fmt):
        """A service definition: the category's extra questions as Open311 attributes."""
        api_clients.check_jurisdiction(query.get("jurisdiction_id"))
        return respond(fmt, "service_definition", service.service_definition(service_code))


_POST_FIELDS = {
    "api_key": {"type": "string"},
    "jurisdiction_id": {"type": "string"},
    "service_code": {"type": "string"},
    "lat": {"type": "number"},
    "long": {"type": "number"},
    "address_string": {"type": "string"},
    "address_id": {"type": "string"},
    "email": {"type": "string"},
    "first_name": {"type": "string"},
    "last_name": {"type": "string"},
    "phone": {"type": "string"},
    "description": {"type": "string"},
    "media_url": {"type": "string"},
    "device_id": {"type": "string"},
    "deviceid": {"type": "string"},
    "account_id": {"type": "string"},
}
_POST_BODY = {
    "required": True,
    "description": "Open311's fields, plus `attribute[code]=value` for each extra question "
    "(`attribute[code][]` once per value of a multi-value one). Multipart may carry a photo "
    "as `media`: JPEG, PNG or HEIC/HEIF (told apart by content), at most 8 MiB, stored "
    "re-encoded with no metadata (a HEIC photo as JPEG).",
    "content": {
        "application/x-www-form-urlencoded": {
            "schema": {
                "type": "object",
                "properties": _POST_FIELDS,
                "required": ["api_key", "service_code", "description"],
                "additionalProperties": {"type": "string"},
            }
        },
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "properties": {**_POST_FIELDS, "media": {"type": "string", "format": "binary"}},
                "required": ["api_key", "service_code", "description"],
                "additionalProperties": {"type": "string"},
            }
        },
    },
}


@blp.route(f"/requests.{_FMT}")
class Requests(MethodView):
    @requires_api_key(or_status_without_key=True)
    @blp.arguments(schemas.RequestsQuery, location="query", unknown="exclude")
    @_documented(
        {
            200: _answer(
                "The client's own requests, newest first", schemas.Open311RequestOut(many=True)
            )
        },
        (400, 403, 404),
    )
    def get(self, query, fmt):
        """The client's own service requests: by `service_request_id` (comma-separated), or
        by `service_code`, `status` and a `start_date`..`end_date` window of at most 90 days
        (by default the last 90 days); at most 1000, newest first. `extensions=true` gives
        mySociety's extended statuses.

        Without an api_key: only `service_request_id` lookups, and only the status of requests
        whose client is set to show it so (no description, location, address or media)."""
        api_clients.check_jurisdiction(query.get("jurisdiction_id"), g.open311_client)
        return respond(fmt, "service_requests", search.find_requests(g.open311_client, query))

    @requires_api_key
    @limiter.limit(lambda: settings().ratelimit_open311, key_func=_client_key)
    @blp.doc(requestBody=_POST_BODY)
    @_documented(
        {
            201: _answer("The new report's id and token", schemas.Open311CreatedOut(many=True)),
            200: _answer(
                "A retry of an earlier POST: its report", schemas.Open311CreatedOut(many=True)
            ),
        },
        (400, 403, 404),
    )
    def post(self, fmt):
        """Make a report. A retry of exactly the same POST finds the report the first one made
        (200) instead of making another."""
        if request.mimetype not in ("application/x-www-form-urlencoded", "multipart/form-data"):
            raise service.BadRequest(
                "Send the request form-encoded (application/x-www-form-urlencoded) or as "
                "multipart/form-data.",
                errors={"Content-Type": ["Must be a form."]},
            )
        answer, created = submit.submit_request(g.open311_client, request.form, request.files)
        return respond(fmt, "service_requests", answer, status=201 if created else 200)


@blp.route(f"/requests/<string:service_request_id>.{_FMT}")
class RequestItem(MethodView):
    @requires_api_key(or_status_without_key=True)
    @blp.arguments(schemas.RequestQuery, location="query", unknown="exclude")
    @_documented(
        {200: _answer("The request", schemas.Open311RequestOut(many=True))}, (400, 403, 404)
    )
    def get(self, query, service_request_id, fmt):
        """One of the client's own requests, by its id (the report's reference). Without an
        api_key: its status only, when its client is set to show it so."""
        api_clients.check_jurisdiction(query.get("jurisdiction_id"), g.open311_client)
        found = search.find_request(g.open311_client, service_request_id, query.get("extensions"))
        return respond(fmt, "service_requests", found)


@blp.route(f"/tokens/<string:token>.{_FMT}")
class Token(MethodView):
    @requires_api_key(or_status_without_key=True)
    @blp.arguments(schemas.JurisdictionQuery, location="query", unknown="exclude")
    @_documented(
        {200: _answer("The request id the token stands for", schemas.Open311TokenOut(many=True))},
        (400, 403, 404),
    )
    def get(self, query, token, fmt):
        """The service_request_id of a token given when a request was made (without an
        api_key too, when the request's client shows status without a key)."""
        api_clients.check_jurisdiction(query.get("jurisdiction_id"), g.open311_client)
        return respond(fmt, "service_requests", search.find_token(g.open311_client, token))


# --- errors in Open311's shape ---------------------------------------------------------------

# Open311 speaks of 400, 403 and 404; ours that mean the same are said its way.
_STATUS = {401: 403, 415: 400, 422: 400}
_EXTENSION = re.compile(r"\.(json|xml)$")


@blp.after_app_request
def open311_errors(response: Response) -> Response:
    """Any problem+json answer on an /open311/ path, as Open311's error list."""
    if response.mimetype != PROBLEM_JSON or not request.path.startswith("/open311/"):
        return response
    return as_open311_errors(response)


def as_open311_errors(response: Response) -> Response:
    problem = json.loads(response.get_data())
    status = _STATUS.get(response.status_code, response.status_code)
    errors = [
        {"code": status, "description": f"{field}: {message}"}
        for field, messages in (problem.get("errors") or {}).items()
        for message in messages
    ] or [{"code": status, "description": problem.get("detail") or problem.get("title")}]
    match = _EXTENSION.search(request.path)
    rewritten = respond(match.group(1) if match else "xml", "errors", errors, status=status)
    for name, value in response.headers.items():
        if name.lower() not in ("content-type", "content-length"):
            rewritten.headers[name] = value
    return rewritten


def describe_errors(spec: dict[str, Any]) -> None:
    """In the API description, /open311/ operations answer other errors in Open311's shape
    too (flask-smorest writes problem+json as every operation's default, and a 422 for a
    query schema, which reaches an Open311 client as a 400)."""
    for path, operations in spec.get("paths", {}).items():
        if not path.startswith("/open311/"):
            continue
        for operation in operations.values():
            if isinstance(operation, dict) and "responses" in operation:
                operation["responses"].pop("422", None)
                operation["responses"]["default"] = _ERRORS_DOC


_ERRORS_DOC = {
    "description": "Open311 errors",
    "content": {
        "text/xml": {"schema": {"type": "string"}},
        "application/json": {
            "schema": {"type": "array", "items": {"$ref": "#/components/schemas/Open311ErrorOut"}}
        },
    },
}


# --- the clients (admins) ---------------------------------------------------------------------


@clients.route("")
class Clients(MethodView):
    @requires(Role.ADMIN)
    @clients.arguments(schemas.ClientIn)
    @clients.response(201, schemas.ClientKeyOut, headers=_LOCATION)
    def post(self, payload):
        """Register an Open311 client. Its `api_key` is in this answer only: only a hash of
        it is kept, so it cannot be shown again (replace it if it is lost)."""
        saved = api_clients.create_client(current_principal(), payload)
        return saved, {"Location": url_for("open311_clients.ClientItem", client_id=saved.id)}

    @requires(Role.ADMIN)
    @clients.arguments(schemas.ClientQuery, location="query")
    @clients.response(200, page_of(schemas.ClientOut))
    def get(self, query):
        """Open311 clients by name, optionally only active (or inactive) ones."""
        return api_clients.list_clients(query.get("active"), query["page"], query["page_size"])


@clients.route("/<uuid:client_id>")
class ClientItem(MethodView):
    @requires(Role.ADMIN)
    @clients.response(200, schemas.ClientOut)
    def get(self, client_id):
        """One Open311 client (never its api_key)."""
        return api_clients.get_client(client_id)

    @requires(Role.ADMIN)
    @clients.arguments(schemas.ClientPatchIn)
    @clients.response(200, schemas.ClientOut)
    def patch(self, changes, client_id):
        """Change a client; `active: false` refuses its api_key from then on."""
        return api_clients.update_client(current_principal(), client_id, changes)


@clients.route("/<uuid:client_id>/api-key")
class ClientKey(MethodView):
    @requires(Role.ADMIN)
    @clients.response(200, schemas.ClientKeyOut)
    def post(self, client_id):
        """Replace the client's api_key: the new one is in this answer only, the old one stops
        working at once."""
        return api_clients.replace_api_key(current_principal(), client_id)
