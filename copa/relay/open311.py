"""Open311 channel: a GeoReport v2 ``POST requests`` to the partner's Open311 endpoint.

The partner's ``endpoint_url`` is its GeoReport v2 base URL (``https://council.example/open311/v2``);
the request goes to ``{base}/requests.json``, form-encoded, with ``api_key``, ``jurisdiction_id``,
``service_code`` (our category mapped through ``open311_service_codes``, else the category code),
``lat``/``long`` or ``address_string``, ``description`` and ``attribute[code]`` for each answer
(``attribute[code][]`` for each value of a multi-value answer). The resident's email, name and
phone go only when they agreed to share them with the partner.

``media_url`` is not sent: photos are served only to authenticated callers, so there is no
public URL to give (a signed, expiring photo link would be needed first).

The answer's ``service_request_id`` becomes the referral's external reference. When the
endpoint answers with a ``token`` instead, a follow-up message (``open311.token``) polls
``{base}/tokens/{token}.json`` on the retry schedule until the id is known.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import quote, urlencode

from copa.outbox.channels import CannotSend, Outcome, Result, Settings, answer_outcome
from copa.outbox.channels import http as outbound
from copa.outbox.models import OutboxMessage
from copa.reports.models import Report
from copa.routing.models import Partner, Referral

TOKEN_EVENT = "open311.token"
REQUEST_EVENTS = frozenset({"referral.created"})


@dataclass(frozen=True)
class Open311Request:
    url: str
    fields: tuple[tuple[str, str], ...]

    def send(self, settings: Settings) -> Outcome:
        try:
            answer = outbound.send(
                "POST",
                self.url,
                body=urlencode(self.fields).encode(),
                headers={
                    "Content-Type": "application/x-www-form-urlencoded",
                    "Accept": "application/json",
                },
                allow_loopback=settings.allow_loopback,
                timeout=settings.timeout,
                max_bytes=settings.max_response_bytes,
                connections=settings.connections,
            )
        except outbound.HttpFailure as error:
            return Outcome(Result.FAILED, error=str(error))
        outcome = answer_outcome(answer)
        if outcome.result != Result.DELIVERED:
            return outcome
        # Accepted: never retried from here on (a second POST would be a second request).
        request_id, token = _first_answer(answer.body)
        if request_id or token:
            return Outcome(
                Result.DELIVERED,
                answer.status,
                error=answer.note,
                external_reference=request_id,
                token=None if request_id else token,
            )
        return Outcome(
            Result.DELIVERED,
            answer.status,
            error=answer.note
            or "accepted, but the answer had neither service_request_id nor token",
        )


@dataclass(frozen=True)
class Open311TokenPoll:
    url: str

    def send(self, settings: Settings) -> Outcome:
        try:
            answer = outbound.send(
                "GET",
                self.url,
                headers={"Accept": "application/json"},
                allow_loopback=settings.allow_loopback,
                timeout=settings.timeout,
                max_bytes=settings.max_response_bytes,
                connections=settings.connections,
            )
        except outbound.HttpFailure as error:
            return Outcome(Result.FAILED, error=str(error))
        outcome = answer_outcome(answer)
        if outcome.result != Result.DELIVERED:
            return outcome
        request_id, _ = _first_answer(answer.body)
        if not request_id:
            return Outcome(Result.FAILED, answer.status, error="no service_request_id yet")
        return Outcome(Result.DELIVERED, answer.status, external_reference=request_id)


def prepare(
    message: OutboxMessage, referral: Referral, report: Report, partner: Partner
) -> Open311Request:
    if message.event_type not in REQUEST_EVENTS:
        raise CannotSend(f"Open311 has no way to send {message.event_type}")
    fields = request_fields(report, partner)
    return Open311Request(_base(partner) + "/requests.json", tuple(fields))


def prepare_token_poll(message: OutboxMessage, partner: Partner) -> Open311TokenPoll:
    token = str(message.payload.get("token") or "")
    if not token:
        raise CannotSend("the token message has no token")
    query = [("api_key", partner.open311_api_key or "")]
    if partner.open311_jurisdiction_id:
        query.append(("jurisdiction_id", partner.open311_jurisdiction_id))
    url = f"{_base(partner)}/tokens/{quote(token, safe='')}.json?{urlencode(query)}"
    return Open311TokenPoll(url)


def request_fields(report: Report, partner: Partner) -> list[tuple[str, str]]:
    """The form fields of a GeoReport v2 POST requests for this report, in a stable order."""
    if not partner.open311_api_key:
        raise CannotSend("the partner has no Open311 api_key")
    category = report.category.code
    codes = partner.open311_service_codes or {}
    fields: list[tuple[str, str]] = [("api_key", partner.open311_api_key)]
    if partner.open311_jurisdiction_id:
        fields.append(("jurisdiction_id", partner.open311_jurisdiction_id))
    fields.append(("service_code", str(codes.get(category) or category)))
    if report.lat is not None and report.lon is not None:
        fields += [("lat", repr(float(report.lat))), ("long", repr(float(report.lon)))]
    if report.address_text:
        fields.append(("address_string", report.address_text))
    fields.append(("description", report.description))
    for code, value in sorted((report.answers or {}).items()):
        if isinstance(value, list):
            fields += [(f"attribute[{code}][]", _text(item)) for item in value]
        else:
            fields.append((f"attribute[{code}]", _text(value)))
    contact = report.contact if report.share_contact_with_partner else None
    if contact is not None:
        if contact.email:
            fields.append(("email", contact.email))
        if contact.name:
            first, _, last = contact.name.strip().rpartition(" ")
            fields.append(("first_name", first or last))
            if first:
                fields.append(("last_name", last))
        if contact.phone:
            fields.append(("phone", contact.phone))
    return fields


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _base(partner: Partner) -> str:
    if not partner.endpoint_url:
        raise CannotSend("the partner has no Open311 endpoint URL")
    return partner.endpoint_url.rstrip("/")


def _first_answer(body: bytes) -> tuple[str | None, str | None]:
    """(service_request_id, token) from a GeoReport v2 JSON answer (a list of one object)."""
    try:
        data = json.loads(body)
    except ValueError:
        return None, None
    if isinstance(data, list):
        data = data[0] if data else None
    if not isinstance(data, dict):
        return None, None

    def text(key: str) -> str | None:
        value = data.get(key)
        return str(value)[:200] if value not in (None, "") else None

    return text("service_request_id"), text("token")
