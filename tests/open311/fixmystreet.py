"""FixMyStreet's Open311 client, reproduced in Python and pointed at the Flask test client.

mySociety's FixMyStreet (github.com/mysociety/fixmystreet) sends reports to councils through
``perllib/Open311.pm``. This module does what that code does, step by step, so that a test can
send copa exactly the request FixMyStreet would send and read the answer the way FixMyStreet
reads it. Sources followed (repository mysociety/fixmystreet):

- ``perllib/Open311.pm`` (commit 3092ba7a): ``send_service_request``,
  ``_populate_service_request_params``, ``_generate_service_request_description``,
  ``split_name``, ``_request`` (``_get``/``_post``), ``_get_xml_object``, ``get_service_list``,
  ``get_service_meta_info``, ``get_service_requests``, ``get_service_request_id_from_token``,
  ``map_state``;
- ``perllib/Utils.pm``: ``truncate_coordinate``;
- ``perllib/Open311/PopulateServiceList.pm``: ``process_body``, ``process_service``,
  ``_handle_existing_contact``, ``_add_meta_to_contact`` (how a service list and a service
  definition are read);
- ``perllib/FixMyStreet/DB/Result/Problem.pm``: ``update_from_open311_service_request``, and
  ``perllib/Open311/GetUpdates.pm``: ``update_reports`` (how a request's status is read back);
- ``t/open311.t``: the request bodies FixMyStreet's own tests expect;
- LWP's ``HTTP::Request::Common::POST`` and ``URI::_query::query_form``/``query`` (the
  ``application/x-www-form-urlencoded`` encoding of those bodies).

Where copa's contract asks for something FixMyStreet does not do, the difference is an explicit
option (``api_key_on_get``), never hidden.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote_plus
from xml.etree import ElementTree

ENDPOINT = "/open311/v2/"
FORM = "application/x-www-form-urlencoded"

# Open311.pm _get_xml_object: XML::Simple->new(ForceArray => [values %$group_tags],
# KeyAttr => {}, GroupTags => $group_tags, SuppressEmpty => undef).
GROUP_TAGS = {
    "services": "service",
    "attributes": "attribute",
    "values": "value",
    "service_requests": "request",
    "errors": "error",
    "service_request_updates": "request_update",
}
FORCE_ARRAY = frozenset(GROUP_TAGS.values())


@dataclass
class Problem:
    """The parts of a FixMyStreet ``Problem`` row (and its user) that Open311.pm reads."""

    title: str
    detail: str
    name: str  # $problem->name: the name the reporter gave on this report
    email: str | None
    latitude: float
    longitude: float
    phone: str | None = None
    service: str = ""  # the app or site it came from, e.g. "Android"; sent as deviceid
    used_map: bool = True
    postcode: str = ""
    # $problem->get_extra_fields: the answers to the category's questions, in order.
    # A list value (several choices) is sent as a repeated field (see form_urlencode).
    extra_fields: list[dict[str, Any]] = field(default_factory=list)


# --- values, as Open311.pm and Utils.pm compute them -----------------------------------------


def truncate_coordinate(value: float) -> str:
    """Utils.pm truncate_coordinate: ``sprintf('%0.6f', $in)``, then
    ``s{\\.?0+\\z}{} if $out =~ m{\\.}`` (trailing zeros, and a bare point, dropped)."""
    out = f"{value:.6f}"
    if "." in out:
        out = re.sub(r"\.?0+\Z", "", out)
    return out


def split_name(name: str | None) -> tuple[str, str]:
    """Open311.pm split_name: ``$name =~ /(\\w+)(?:\\.?\\s+(.+))?/``; ('', '') for no name."""
    if not name:
        return "", ""
    match = re.search(r"(\w+)(?:\.?\s+(.+))?", name)
    if not match:
        return "", ""
    return match.group(1) or "", match.group(2) or ""


def service_request_description(problem: Problem, extra: Mapping[str, Any]) -> str:
    """Open311.pm _generate_service_request_description, UK branch (``$extra->{easting}`` is
    set for every UK cobrand):

        detail: <detail>\\n\\nurl: <url>\\n\\nSubmitted via FixMyStreet\\n, prefixed with
        title: <title>\\n\\n

    t/open311.t 'posting service request' expects exactly
    "title: a problem\\n\\ndetail: problem detail\\n\\nurl: http://example.com/report/1\\n\\n
    Submitted via FixMyStreet\\n".
    """
    description = f"detail: {problem.detail}\n\n"
    description += f"url: {extra['url']}\n\n"
    description += "Submitted via FixMyStreet\n"
    return f"title: {problem.title}\n\n{description}"


# --- the body on the wire --------------------------------------------------------------------


def _escape(text: str) -> str:
    """URI::_query::query_form escapes ``[;/?:@&=+,$\\[\\]%]`` and turns spaces into ``+``;
    URI::_query::query then escapes every other character outside URI's ``uric`` set
    (unreserved ``A-Za-z0-9-_.!~*'()`` plus the reserved ones already escaped), as UTF-8
    bytes with upper-case hex. Together: everything but the unreserved characters is
    %XX-escaped and a space is ``+``, which is what quote_plus with ``!*'()`` safe does
    (``-_.~`` are always safe in quote_plus)."""
    return quote_plus(text, safe="!*'()", encoding="utf-8")


def form_urlencode(pairs: Iterable[tuple[str, Any]]) -> bytes:
    """The body ``HTTP::Request::Common::POST $url, $params`` makes.

    It calls ``$url->query_form(%$content)``: each key=value joined by ``&``; an array value
    (a multi-choice answer) becomes the key repeated once per value; an undefined value is
    the bare key (URI >= 1.72). Then ``s/(?<!%0D)%0A/%0D%0A/g``: every LF in a value goes as
    CRLF ("HTML/4.01 says that line breaks are represented as CR LF pairs"), which is why
    t/open311.t does ``s/\\r\\n/\\n/g`` on the description it reads back.
    """
    parts: list[str] = []
    for key, value in pairs:
        values = value if isinstance(value, list | tuple) else [value]
        for item in values:
            if item is None:
                parts.append(_escape(key))
            else:
                parts.append(f"{_escape(key)}={_escape(str(item))}")
    content = "&".join(parts)
    content = re.sub(r"(?<!%0D)%0A", "%0D%0A", content)
    return content.encode("ascii")


# --- reading answers: XML::Simple as Open311.pm configures it --------------------------------


def perl_true(value: Any) -> bool:
    """Perl truth for what XML::Simple gives: undef, '' and '0' are false."""
    return value is not None and value != "" and value != "0"


def xml_simple(xml: bytes | str | None) -> Any:
    """Open311.pm _get_xml_object: ``eval { XML::Simple->parse_string($xml) }``, or undef.

    An element with text only is its text; an empty one is undef (SuppressEmpty => undef);
    one with children is a hash of them, a repeated child (or one named in ForceArray) a list;
    GroupTags fold ``<values><value>..</value></values>`` to ``values => [..]``. The root
    element itself is dropped (KeepRoot is off). Anything that is not XML (JSON, say) is undef,
    as FixMyStreet's eval would make it.
    """
    if xml is None:
        return None
    try:
        root = ElementTree.fromstring(xml)
    except ElementTree.ParseError:
        return None
    return _simple(root)


def _simple(element: ElementTree.Element) -> Any:
    children = list(element)
    if not children and not element.attrib:
        text = element.text or ""
        return text if text.strip() else None
    out: dict[str, Any] = dict(element.attrib)
    for child in children:
        value = _simple(child)
        if child.tag in out:  # a repeated element: a list of them
            if not isinstance(out[child.tag], list):
                out[child.tag] = [out[child.tag]]
            out[child.tag].append(value)
        else:
            out[child.tag] = [value] if child.tag in FORCE_ARRAY else value
    for name, item in GROUP_TAGS.items():
        grouped = out.get(name)
        if isinstance(grouped, dict) and set(grouped) == {item}:
            out[name] = grouped[item]
    return out


# --- the client ------------------------------------------------------------------------------


@dataclass
class Sent:
    """One request as it went out and came back (Open311.pm's test_req_used/debug_details)."""

    method: str
    path: str
    body: bytes | None
    status: int
    content_type: str
    content: bytes


def insertion_order(pairs: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    return pairs


class FixMyStreet:
    """``Open311->new(endpoint => ..., jurisdiction => ..., api_key => ...)`` for one body.

    ``use_service_as_deviceid``: the body's setting that sends ``$problem->service`` as
    ``deviceid`` (t/open311.t 'if use_service_as_id set then deviceid sent with service as id').

    ``param_order``: Open311.pm keeps the parameters in a Perl hash and HTTP::Request::Common
    flattens it (``%$content``), so the order of fields on the wire is Perl's per-process hash
    order: a retry from the next cron run may list the same fields in another order. The
    default is the order the code assigns them in; a test can pass another.

    ``api_key_on_get``: Open311.pm ``_request`` adds ``api_key`` to POSTs only
    (``if $method eq 'POST' && $self->api_key``); its GETs of requests.xml and tokens/ carry
    ``jurisdiction_id`` alone, as the GeoReport v2 standard allows ("Requires API Key: No").
    copa answers a keyless read only for a client registered with ``status_without_key`` (and
    then only the status), so this client adds the key to those GETs (not to services) when True
    (the default) and behaves exactly like FixMyStreet when False.
    """

    def __init__(
        self,
        client,
        *,
        jurisdiction: str | None,
        api_key: str | None,
        endpoint: str = ENDPOINT,
        always_send_latlong: bool = True,
        use_service_as_deviceid: bool = True,
        param_order: Callable[[list[tuple[str, Any]]], list[tuple[str, Any]]] = insertion_order,
        api_key_on_get: bool = True,
    ) -> None:
        self.client = client
        self.jurisdiction = jurisdiction
        self.api_key = api_key
        self.endpoint = endpoint
        self.always_send_latlong = always_send_latlong
        self.use_service_as_deviceid = use_service_as_deviceid
        self.param_order = param_order
        self.api_key_on_get = api_key_on_get
        self.sent: list[Sent] = []
        self.success = False
        self.error = ""

    # Open311.pm get_service_list: _get('services.xml'), parsed, or undef.
    def get_service_list(self) -> Any:
        xml = self._get("services.xml")
        return xml_simple(xml) if xml else None

    # Open311.pm get_service_meta_info: _get("services/$service_id.xml"), parsed.
    def get_service_meta_info(self, service_id: str) -> Any:
        return xml_simple(self._get(f"services/{service_id}.xml"))

    # Open311.pm send_service_request.
    def send_service_request(
        self, problem: Problem, extra: Mapping[str, Any], service_code: str
    ) -> str | int:
        params = self.populate_service_request_params(problem, extra, service_code)
        response = self._post("requests.xml", params)
        if response:
            obj = xml_simple(response)
            if isinstance(obj, dict):
                request = (obj.get("request") or [{}])[0] or {}
                request_id = request.get("service_request_id")
                if perl_true(request_id):
                    # "return $request_id unless ref $request_id"
                    if not isinstance(request_id, dict | list):
                        return request_id
                elif perl_true(request.get("token")):
                    return self.get_service_request_id_from_token(request["token"])
        return 0

    # Open311.pm _populate_service_request_params (always_send_latlong is 1 by default).
    def populate_service_request_params(
        self, problem: Problem, extra: Mapping[str, Any], service_code: str
    ) -> list[tuple[str, Any]]:
        first_name, last_name = split_name(problem.name)
        params: dict[str, Any] = {
            "description": service_request_description(problem, extra),
            "service_code": service_code,
            "first_name": first_name,
            "last_name": last_name,
        }
        if problem.phone:
            params["phone"] = problem.phone
        if problem.email:
            params["email"] = problem.email
        if problem.used_map or self.always_send_latlong or not problem.postcode:
            params["lat"] = truncate_coordinate(problem.latitude)
            params["long"] = truncate_coordinate(problem.longitude)
        else:
            params["address_string"] = problem.postcode
        if extra.get("image_url"):
            params["media_url"] = extra["image_url"]
        if self.use_service_as_deviceid and problem.service:
            params["deviceid"] = problem.service
        for attr in problem.extra_fields:
            attr_name = attr["name"]
            if attr_name in ("first_name", "last_name"):
                if attr.get("value"):
                    params[attr_name] = attr["value"]
                if attr_name == "first_name":
                    continue
            attr_name = attr_name.replace("fms_extra_", "", 1)
            params[f"attribute[{attr_name}]"] = attr.get("value")
        return list(params.items())

    # Open311.pm get_service_requests: service_request_id joined with ',' plus other args.
    def get_service_requests(self, args: Mapping[str, Any] | None = None) -> Any:
        args = dict(args or {})
        params: dict[str, Any] = {}
        report_ids = args.pop("report_ids", None)
        if report_ids:
            params["service_request_id"] = ",".join(report_ids)
        params.update(args)
        return xml_simple(self._get("requests.xml", params))

    # Not in Open311.pm (FixMyStreet polls requests.xml?service_request_id=...): the standard's
    # GET Service Request, read the same way, for the acceptance test's GET requests/{id}.
    def get_service_request(self, service_request_id: str, **args: Any) -> Any:
        return xml_simple(self._get(f"requests/{service_request_id}.xml", dict(args)))

    # Open311.pm get_service_request_id_from_token.
    def get_service_request_id_from_token(self, token: str) -> str | int:
        obj = xml_simple(self._get(f"tokens/{token}.xml"))
        if isinstance(obj, dict):
            request = (obj.get("request") or [{}])[0] or {}
            if perl_true(request.get("service_request_id")):
                return request["service_request_id"]
        return 0

    # Open311.pm map_state: an incoming (extended or plain) status as a FixMyStreet state.
    def map_state(self, incoming_state: str, *, extended_statuses: bool = False) -> str:
        state = incoming_state.lower().replace("_", " ")
        state_map = {
            "fixed": "fixed - council",
            "not councils responsibility": "not responsible",
            "no further action": "unable to fix",
            "open": "confirmed",
            "closed": "closed" if extended_statuses else "fixed - council",
        }
        return state_map.get(state, state)

    # --- transport: Open311.pm _request ------------------------------------------------------

    def _get(self, path: str, params: dict[str, Any] | None = None) -> bytes | None:
        return self._request("GET", path, params)

    def _post(self, path: str, params: list[tuple[str, Any]]) -> bytes | None:
        return self._request("POST", path, params)

    def _request(self, method: str, path: str, params: Any) -> bytes | None:
        pairs: list[tuple[str, Any]] = list(
            params.items() if isinstance(params, Mapping) else (params or [])
        )
        # "$params->{jurisdiction_id} = $self->jurisdiction if $self->jurisdiction;"
        # "$params->{api_key} = ($self->api_key || '') if $method eq 'POST' && $self->api_key;"
        if self.jurisdiction:
            pairs.append(("jurisdiction_id", self.jurisdiction))
        keyed_get = self.api_key_on_get and path.startswith(("requests", "tokens/"))
        if self.api_key and (method == "POST" or keyed_get):
            pairs.append(("api_key", self.api_key))
        url = self.endpoint + path
        if method == "GET":
            # "$uri->query_form($params); GET $uri->as_string" - a hash ref, whose keys URI
            # (>= 1.72) sorts.
            query = form_urlencode(sorted(pairs, key=lambda pair: pair[0])).decode()
            response = self.client.get(f"{url}?{query}" if query else url)
            body = None
        else:
            # "POST $uri->as_string, $params": Content-Type application/x-www-form-urlencoded,
            # Content-Length set; no charset parameter.
            body = form_urlencode(self.param_order(pairs))
            response = self.client.post(url, data=body, content_type=FORM)
        content = response.get_data()
        self.sent.append(
            Sent(method, url, body, response.status_code, response.content_type or "", content)
        )
        # "if ( $res->is_success ) { ... return $res->decoded_content; }"
        if 200 <= response.status_code < 300:
            self.success = True
            return content
        self.success = False
        self.error = (
            f"request failed: {response.status_code}\nerror: {self._process_error(content)}"
        )
        return None

    # Open311.pm _process_error: "code: description" per <error>, or 'unknown error'.
    def _process_error(self, content: bytes) -> str:
        obj = xml_simple(content)
        message = ""
        if isinstance(obj, dict) and "error" in obj:
            for error in obj["error"] or []:
                error = error or {}
                code = error.get("code") or "???"
                description = error.get("description") or "unknown error"
                message += f"{code}: {description}\n"
        return message or "unknown error"


def service_by_code(service_list: Any, code: str) -> dict[str, Any] | None:
    """PopulateServiceList process_services: ``foreach my $service (@{$list->{service}})``."""
    for service in (service_list or {}).get("service") or []:
        if isinstance(service, dict) and service.get("service_code") == code:
            return service
    return None


def contact_extra_fields(meta_data: Any) -> list[dict[str, Any]] | None:
    """PopulateServiceList _add_meta_to_contact: undef unless ``ref $meta_data->{attributes}
    eq 'ARRAY'``; otherwise the attributes sorted by ``order`` (numerically) with the first
    ``:\\s*`` removed from each description - what FixMyStreet stores as the category's extra
    fields."""
    attributes = (meta_data or {}).get("attributes") if isinstance(meta_data, dict) else None
    if not isinstance(attributes, list):
        return None
    meta = sorted(attributes, key=lambda attribute: float(attribute["order"]))
    for attribute in meta:
        if attribute.get("description"):
            attribute["description"] = re.sub(r":\s*", "", attribute["description"], count=1)
    return meta


def fms_state_after_poll(problem_state: str, request: Mapping[str, Any]) -> str:
    """Problem.pm update_from_open311_service_request: ``if ( $request->{status} eq 'closed' )``
    the problem becomes 'fixed' (anything else leaves it as it is)."""
    if request.get("status") == "closed" and problem_state != "fixed":
        return "fixed"
    return problem_state


def pairs_of(body: bytes) -> Sequence[tuple[str, str]]:
    """A form body read back the way t/open311.t does with CGI::Simple (for assertions)."""
    from urllib.parse import parse_qsl

    return parse_qsl(body.decode("ascii"), keep_blank_values=True)
