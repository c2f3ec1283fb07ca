"""Open311 GeoReport v2 over the catalogue and reports: its clients, and what they may do.

A report made through Open311 is an ordinary report (channel ``open311``): attributed to its
ward by point, routed, flagged and counted like an app report, in one transaction with the
``Open311Request`` row that remembers its client, token and what the client sent besides.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app, url_for
from marshmallow import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload
from werkzeug.datastructures import FileStorage, MultiDict

from copa.areas.service import OutOfArea, locate_point
from copa.audit.service import Actor, record
from copa.catalog.models import Category
from copa.catalog.service import (
    InvalidAnswers,
    UnknownCategory,
    category_for_report,
    questions_of,
    validate_answers,
)
from copa.db import begin_write, db, utcnow
from copa.open311 import schemas
from copa.open311.models import Open311Client, Open311Request
from copa.periods import LONDON
from copa.privacy.service import new_contact
from copa.reports import photos
from copa.reports.models import Channel, Photo, Report, ReportStatus
from copa.reports.service import new_report
from copa.submissions import EMERGENCY_ADVICE
from copa.web.access import Principal
from copa.web.pagination import PageResult, paginate
from copa.web.problems import Forbidden, NotFound, Problem, problem_type

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
MAX_WINDOW = timedelta(days=90)
MAX_RESULTS = 1000
_KEY_PREFIX = "copa311_"


class BadRequest(Problem):
    """Open311's 400: a parameter missing or not valid (one error per entry of ``errors``)."""

    status = 400
    title = "Bad Request"
    type = problem_type("open311-bad-request")


class ApiKeyRefused(Forbidden):
    type = problem_type("open311-api-key")


class ServiceNotFound(NotFound):
    type = problem_type("open311-service-not-found")


class ServiceRequestNotFound(NotFound):
    type = problem_type("open311-request-not-found")


class JurisdictionNotFound(NotFound):
    type = problem_type("open311-jurisdiction-not-found")


class ClientNotFound(NotFound):
    type = problem_type("open311-client-not-found")


# --- the clients (admins) ----------------------------------------------------------------


@dataclass(frozen=True)
class ClientWithKey:
    """A client and its api_key, in the one answer that shows the key."""

    client: Open311Client
    api_key: str

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)


def _new_key(client: Open311Client) -> str:
    api_key = _KEY_PREFIX + secrets.token_urlsafe(32)
    client.api_key_hash = key_hash(api_key)
    client.api_key_hint = api_key[-4:]
    return api_key


def key_hash(api_key: str) -> str:
    """What is stored of an api_key, and what finds its client."""
    return hashlib.sha256(api_key.encode()).hexdigest()


def create_client(principal: Principal | None, payload: Mapping[str, Any]) -> ClientWithKey:
    """Register an Open311 client; its api_key is in this answer only (only a hash is kept)."""
    begin_write()
    client = Open311Client(
        id=uuid.uuid4(),
        name=payload["name"],
        jurisdiction_id=payload["jurisdiction_id"],
        extended_statuses=payload.get("extended_statuses", False),
        status_without_key=payload.get("status_without_key", False),
        active=payload.get("active", True),
    )
    api_key = _new_key(client)
    db.session.add(client)
    _audit(principal, "open311_client.create", client, after=_summary(client))
    db.session.commit()
    return ClientWithKey(client, api_key)


def list_clients(active: bool | None, page: int, page_size: int) -> PageResult:
    statement = sa.select(Open311Client).order_by(Open311Client.name, Open311Client.id)
    if active is not None:
        statement = statement.where(Open311Client.active.is_(active))
    return paginate(statement, page, page_size)


def get_client(client_id: uuid.UUID) -> Open311Client:
    client = db.session.get(Open311Client, client_id)
    if client is None:
        raise ClientNotFound("No such Open311 client.")
    return client


def update_client(
    principal: Principal, client_id: uuid.UUID, changes: Mapping[str, Any]
) -> Open311Client:
    """Rename, move to another jurisdiction, switch extended statuses, (de)activate."""
    begin_write()
    client = get_client(client_id)
    before = _summary(client)
    for name in _SETTINGS:
        if name in changes:
            setattr(client, name, changes[name])
    after = _summary(client)
    changed = [name for name in after if before[name] != after[name]]
    _audit(
        principal,
        "open311_client.update",
        client,
        before={name: before[name] for name in changed},
        after={name: after[name] for name in changed},
    )
    db.session.commit()
    return client


def replace_api_key(principal: Principal, client_id: uuid.UUID) -> ClientWithKey:
    """A new api_key for the client (shown once); the old one stops working at once."""
    begin_write()
    client = get_client(client_id)
    before = {"api_key_hint": client.api_key_hint}
    api_key = _new_key(client)
    _audit(
        principal,
        "open311_client.replace_key",
        client,
        before=before,
        after={"api_key_hint": client.api_key_hint},
    )
    db.session.commit()
    return ClientWithKey(client, api_key)


_SETTINGS = ("name", "jurisdiction_id", "extended_statuses", "status_without_key", "active")


def _summary(client: Open311Client) -> dict[str, Any]:
    return {name: getattr(client, name) for name in _SETTINGS}


def _audit(principal: Principal | None, action: str, client: Open311Client, **change: Any) -> None:
    if principal is not None:
        record(Actor.of(principal), action, "open311_client", client.id, **change)


# --- who is calling ------------------------------------------------------------------------


def authenticate(api_key: str | None) -> Open311Client:
    """The active client holding this api_key; Open311's 403 otherwise."""
    if not api_key:
        raise ApiKeyRefused("api_key was not provided.")
    client = None
    if len(api_key) <= 200:
        client = db.session.scalar(
            sa.select(Open311Client).where(Open311Client.api_key_hash == key_hash(api_key))
        )
    if client is None or not client.active:
        raise ApiKeyRefused("Invalid api_key received: it is unknown or no longer active.")
    return client


def check_jurisdiction(given: str | None, client: Open311Client | None = None) -> None:
    """The standard's rule: jurisdiction_id is required only when more than one is served;
    when given it must be one served (for a client: its own)."""
    served = set(
        db.session.scalars(
            sa.select(Open311Client.jurisdiction_id).where(Open311Client.active.is_(True))
        )
    )
    if given:
        known = {client.jurisdiction_id} if client is not None else served
        if given not in known:
            raise JurisdictionNotFound(f"jurisdiction_id {given!r} was not found.")
    elif len(served) > 1:
        raise BadRequest(
            "jurisdiction_id was not provided: this endpoint serves more than one jurisdiction.",
            errors={"jurisdiction_id": ["Required: this endpoint serves more than one."]},
        )


# --- discovery and services ----------------------------------------------------------------


def discovery() -> dict[str, Any]:
    config = current_app.config
    changeset = _w3c(_catalogue_changed_at())
    return {
        "changeset": changeset,
        "contact": config["OPEN311_CONTACT"],
        "key_service": config["OPEN311_KEY_SERVICE"],
        "endpoints": [
            {
                "specification": SPECIFICATION,
                "url": url_for("open311.discovery", fmt="xml", _external=True).removesuffix(
                    "/discovery.xml"
                ),
                "changeset": changeset,
                "type": config["OPEN311_ENDPOINT_TYPE"],
                "formats": ["text/xml", "application/json"],
            }
        ],
    }


def _catalogue_changed_at() -> datetime:
    changed = db.session.scalar(sa.select(sa.func.max(Category.updated_at)))
    return changed or datetime(2022, 1, 1, tzinfo=LONDON)


def services() -> list[dict[str, Any]]:
    """The service list: one service per active category, in the app's order."""
    categories = db.session.scalars(
        sa.select(Category)
        .where(Category.active.is_(True))
        .order_by(Category.sort_order, Category.code)
    )
    return [
        {
            "service_code": category.code,
            "service_name": category.name,
            "description": category.description,
            "metadata": bool(questions_of(category)),
            "type": "realtime",
            "keywords": ", ".join(category.keywords or []),
            "group": category.group,
        }
        for category in categories
    ]


def service_definition(service_code: str) -> dict[str, Any]:
    """A service's extra questions as Open311 attributes."""
    category = _service(service_code)
    return {
        "service_code": category.code,
        "attributes": [
            {
                "variable": question.get("variable") is not False,
                "code": str(question["code"]),
                "datatype": question.get("datatype", "string"),
                "required": question.get("required") is True,
                "datatype_description": question.get("datatype_description"),
                "order": _order(question, position),
                "description": question.get("description") or str(question["code"]),
                "values": [
                    {"key": str(value["key"]), "name": str(value.get("name", value["key"]))}
                    for value in question.get("values") or []
                    if isinstance(value, Mapping) and "key" in value
                ],
            }
            for position, question in enumerate(questions_of(category), start=1)
        ],
    }


def _order(question: Mapping[str, Any], position: int) -> int:
    """The question's own order when it has one, else its place in the list."""
    order = question.get("order")
    if isinstance(order, int) and not isinstance(order, bool) and order > 0:
        return order
    return position


def _service(service_code: str) -> Category:
    try:
        return category_for_report(service_code)
    except UnknownCategory:
        raise ServiceNotFound(f"service_code {service_code!r} was not found.") from None


# --- POST requests -------------------------------------------------------------------------

_ATTRIBUTE = re.compile(r"^attribute\[([^\[\]]+)\](\[\])?$")


def submit_request(
    client: Open311Client, form: MultiDict[str, str], files: MultiDict[str, FileStorage]
) -> tuple[dict[str, Any], bool]:
    """Make a report from a client's POST; ``(answer, created)``. A retry of the same POST
    (same fields, same photo) finds the report the first one made: ``created`` is False.

    Nothing is written unless everything is valid.
    """
    fields = _load(schemas.RequestIn(), {k: v for k, v in form.items() if k != "api_key"})
    check_jurisdiction(fields.get("jurisdiction_id"), client)
    category = _service(fields["service_code"])
    answers = _answers(category, form)
    point = _point(fields, category)
    image = _photo(files.get("media"))  # decoded before the write lock, like an app photo
    fingerprint = _fingerprint(form, image)

    begin_write()
    earlier = _by_fingerprint(client, fingerprint)
    if earlier is not None:
        return _created(earlier), False
    try:
        area = locate_point(point) if point else None
    except OutOfArea as error:
        raise BadRequest(error.detail, errors={"lat/long": [error.detail or ""]}) from None
    details = {name: fields.get(name) for name in ("email", "phone")}
    if any(details.values()):
        name = " ".join(filter(None, (fields.get("first_name"), fields.get("last_name"))))
        details["name"] = name[:120] or None
    else:
        details = None
    now = utcnow()
    report = new_report(
        channel=Channel.OPEN311,
        device_id=None,
        category=category,
        description=fields["description"].replace("\r\n", "\n"),  # form encoding's CRLF
        point=point,
        area=area,
        address_text=fields.get("address_string") or None,
        answers=answers,
        contact=new_contact(None, details),
        created_at=now,
    )
    request = Open311Request(
        report=report,
        client_id=client.id,
        token=secrets.token_urlsafe(16),
        fingerprint=fingerprint,
        media_url=fields.get("media_url"),
        device_id=fields.get("device_id") or fields.get("deviceid"),
        account_id=fields.get("account_id"),
        address_id=fields.get("address_id"),
        created_at=now,
    )
    db.session.add(request)
    store, key = _keep_photo(report, image)
    try:
        db.session.commit()
    except IntegrityError:
        # The same POST, at the same moment, from the same client: the other one won.
        db.session.rollback()
        _forget(store, key)
        earlier = _by_fingerprint(client, fingerprint)
        if earlier is None:
            raise
        return _created(earlier), False
    except BaseException:
        db.session.rollback()
        _forget(store, key)
        raise
    return _created(request), True


def _load(schema: schemas.RequestIn, data: Mapping[str, str]) -> dict[str, Any]:
    try:
        return schema.load(data)
    except ValidationError as error:
        messages = error.normalized_messages()
        problems = {str(name): _texts(message) for name, message in messages.items()}
        for name in ("service_code", "description"):
            if problems.get(name) == ["Missing data for required field."]:
                problems[name] = [f"{name} was not provided."]
        raise BadRequest(
            "Some parameters are missing or not valid: " + ", ".join(sorted(problems)) + ".",
            errors=problems,
        ) from None


def _texts(message: object) -> list[str]:
    if isinstance(message, list):
        return [str(item) for item in message]
    return [str(message)]


def _answers(category: Category, form: MultiDict[str, str]) -> dict[str, Any]:
    """``attribute[code]`` and ``attribute[code][]`` as the category's answers, checked."""
    questions = {str(q["code"]): q for q in questions_of(category)}
    given: dict[str, list[str]] = {}
    listed: set[str] = set()
    problems: dict[str, list[str]] = {}
    for name in form:
        if not name.startswith("attribute"):
            continue
        match = _ATTRIBUTE.match(name)
        if match is None:
            problems[name] = ["Not an attribute: send attribute[code] or attribute[code][]."]
            continue
        code = match.group(1)
        given.setdefault(code, []).extend(form.getlist(name))
        if match.group(2):
            listed.add(code)
    answers: dict[str, Any] = {}
    for code, values in given.items():
        question = questions.get(code)
        datatype = question.get("datatype", "string") if question else None
        if datatype == "multivaluelist":
            answers[code] = [value for value in values if value.strip()] or None
        elif len(values) > 1 or code in listed:
            problems[f"attribute[{code}]"] = ["Takes one value, not a list."]
        elif datatype == "number":
            answers[code] = _number(values[0])
        else:
            answers[code] = values[0]
    try:
        cleaned = validate_answers(category, answers)
    except InvalidAnswers as error:
        for field, messages in (error.errors or {}).items():
            code = field.removeprefix("answers.")
            problems.setdefault(f"attribute[{code}]", list(messages))
        cleaned = {}
    if problems:
        raise BadRequest(
            "Some attributes are not valid for this service: " + ", ".join(sorted(problems)) + ".",
            errors=problems,
        )
    return cleaned


def _number(text: str) -> object:
    """A number sent as text; the text itself when it is none (the check then refuses it)."""
    text = text.strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def _point(fields: Mapping[str, Any], category: Category) -> dict[str, float] | None:
    lat, lon = fields.get("lat"), fields.get("lon")
    if (lat is None) != (lon is None):
        raise BadRequest(
            "lat and long go together: send both.",
            errors={"lat/long": ["Send both lat and long."]},
        )
    if lat is None and category.location_required:
        raise BadRequest(
            "lat and long were not provided: this service needs the point where it is "
            "(an address_string alone cannot be placed in a ward).",
            errors={"lat/long": ["Required for this service."]},
        )
    return None if lat is None else {"lat": lat, "lon": lon}


def _photo(upload: FileStorage | None) -> photos.CleanImage | None:
    if upload is None:
        return None
    config = current_app.config
    max_bytes = int(config["PHOTO_MAX_BYTES"])
    data = upload.stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise BadRequest(
            f"media is larger than {max_bytes // (1024 * 1024)} MiB.",
            errors={"media": [f"At most {max_bytes // (1024 * 1024)} MiB."]},
        )
    try:
        return photos.clean_image(data, int(config["PHOTO_MAX_PIXELS"]))
    except photos.PhotoUnreadable as error:
        raise BadRequest(error.detail, errors={"media": [error.detail or ""]}) from None


def _keep_photo(
    report: Report, image: photos.CleanImage | None
) -> tuple[photos.PhotoStore | None, str | None]:
    if image is None:
        return None, None
    store = photos.photo_store()
    key = f"{uuid.uuid4().hex}.{image.extension}"
    store.put(key, image.data, image.content_type)
    report.photos.append(
        Photo(
            storage_key=key,
            content_type=image.content_type,
            width=image.width,
            height=image.height,
            size_bytes=len(image.data),
        )
    )
    return store, key


def _forget(store: photos.PhotoStore | None, key: str | None) -> None:
    if store is not None and key is not None:
        photos.forget_file(store, key)


def _fingerprint(form: MultiDict[str, str], image: photos.CleanImage | None) -> str:
    fields = sorted((k, v) for k, v in form.items(multi=True) if k != "api_key")
    digest = hashlib.sha256(json.dumps(fields, ensure_ascii=False).encode())
    if image is not None:
        digest.update(hashlib.sha256(image.data).digest())
    return digest.hexdigest()


def _by_fingerprint(client: Open311Client, fingerprint: str) -> Open311Request | None:
    return db.session.scalar(
        sa.select(Open311Request).where(
            Open311Request.client_id == client.id, Open311Request.fingerprint == fingerprint
        )
    )


def _created(request: Open311Request) -> list[dict[str, Any]]:
    # Both the id and a token: the standard says a server "should" give one or the other, but
    # a client that always follows tokens/{token} then works too (FixMyStreet reads the id).
    return [
        {
            "service_request_id": request.report.reference,
            "token": request.token,
            "service_notice": _notice(request.report),
            "account_id": request.account_id,
        }
    ]


def _notice(report: Report) -> str:
    if report.possible_emergency:
        return EMERGENCY_ADVICE
    if report.unrouted:
        return "Received: OPCC staff will decide who acts on it."
    # Not "sent": the relay delivers it later, and may not manage to.
    return f"Being passed to {report.destination_name}."


# --- GET requests, requests/{id}, tokens/{token} ----------------------------------------------

OPEN = frozenset(
    {
        ReportStatus.RECEIVED,
        ReportStatus.ROUTED,
        ReportStatus.ACKNOWLEDGED,
        ReportStatus.IN_PROGRESS,
    }
)
_EXTENDED = {
    ReportStatus.RECEIVED: "OPEN",
    ReportStatus.ROUTED: "INVESTIGATING",
    ReportStatus.ACKNOWLEDGED: "ACTION_SCHEDULED",
    ReportStatus.IN_PROGRESS: "IN_PROGRESS",
    ReportStatus.RESOLVED: "FIXED",
    ReportStatus.DUPLICATE: "DUPLICATE",
    ReportStatus.REJECTED: "NO_FURTHER_ACTION",
}
# How a closed report ended, by its outcome (review/workflow.py REPORT_OUTCOMES).
_CLOSED_AS = {
    "no_further_action": "NO_FURTHER_ACTION",
    "signposted": "NOT_COUNCILS_RESPONSIBILITY",
    "referred_to_partner": "INTERNAL_REFERRAL",
    "passed_to_force_control_room": "INTERNAL_REFERRAL",
    "passed_to_resolution_team": "INTERNAL_REFERRAL",
    "with_opcc": "INTERNAL_REFERRAL",
    "resolved_by_opcc": "FIXED",
    "resolved_by_partner": "FIXED",
    "duplicate": "DUPLICATE",
}


def status_of(report: Report, extended: bool) -> str:
    """Our lifecycle as Open311's open/closed, or as mySociety's extended statuses."""
    if not extended:
        return "open" if report.status in OPEN else "closed"
    if report.status == ReportStatus.CLOSED:
        return _CLOSED_AS.get(report.outcome or "", "CLOSED")
    return _EXTENDED[ReportStatus(report.status)]


def extended_for(client: Open311Client | None, asked: str | None) -> bool:
    wanted = (asked or "").strip().lower() == "true"
    return wanted or (client is not None and client.extended_statuses)


def find_requests(client: Open311Client | None, query: Mapping[str, str]) -> list[dict[str, Any]]:
    """The client's own requests, newest first, at most 1000. Without a key (``client`` None),
    only requests named by ``service_request_id`` whose client shows status without a key."""
    ids = _list(query.get("service_request_id"))
    if client is None and not ids:
        raise ApiKeyRefused("api_key was not provided.")
    statement = _readable(client)
    if ids:
        if len(ids) > MAX_RESULTS:
            raise BadRequest(
                f"At most {MAX_RESULTS} service_request_id values at once.",
                errors={"service_request_id": [f"At most {MAX_RESULTS} values."]},
            )
        statement = statement.where(Report.reference.in_(ids))
    else:
        start, end = _window(query.get("start_date"), query.get("end_date"))
        statement = statement.where(
            Open311Request.created_at >= start, Open311Request.created_at <= end
        )
        codes = _list(query.get("service_code"))
        if codes:
            statement = statement.where(
                Report.category_id.in_(sa.select(Category.id).where(Category.code.in_(codes)))
            )
        statement = _with_status(statement, _list(query.get("status")))
    statement = statement.order_by(
        Open311Request.created_at.desc(), Open311Request.report_id
    ).limit(MAX_RESULTS)
    found = list(db.session.scalars(statement))
    if client is None and not found:
        raise ApiKeyRefused("api_key was not provided.")  # as for one request: no oracle
    extended = extended_for(client, query.get("extensions"))
    return [_request(row, extended, whole=client is not None) for row in found]


def _with_status(statement: sa.Select, wanted: list[str]) -> sa.Select:
    unknown = sorted(set(wanted) - {"open", "closed"})
    if unknown:
        raise BadRequest(
            "status must be open or closed (or both, comma-separated).",
            errors={"status": [f"Unknown: {', '.join(unknown)}."]},
        )
    if set(wanted) == {"open"}:
        return statement.where(Report.status.in_([str(s) for s in OPEN]))
    if set(wanted) == {"closed"}:
        return statement.where(Report.status.not_in([str(s) for s in OPEN]))
    return statement


def find_request(
    client: Open311Client | None, service_request_id: str, asked: str | None
) -> list[dict[str, Any]]:
    request = db.session.scalar(_readable(client).where(Report.reference == service_request_id))
    if request is None:
        _not_found(client, f"service_request_id {service_request_id!r} was not found.")
    return [_request(request, extended_for(client, asked), whole=client is not None)]


def find_token(client: Open311Client | None, token: str) -> list[dict[str, Any]]:
    request = db.session.scalar(_readable(client).where(Open311Request.token == token))
    if request is None:
        _not_found(client, f"token {token!r} was not found.")
    return [{"service_request_id": request.report.reference, "token": request.token}]


def _not_found(client: Open311Client | None, detail: str) -> None:
    # Without a key, "not found" would tell which references exist: the key is what is missing.
    if client is None:
        raise ApiKeyRefused("api_key was not provided.")
    raise ServiceRequestNotFound(detail)


def _readable(client: Open311Client | None) -> sa.Select:
    """The client's own requests; without a key, those of clients that show status so."""
    statement = (
        sa.select(Open311Request)
        .join(Open311Request.report)
        .options(selectinload(Open311Request.report).selectinload(Report.timeline))
    )
    if client is not None:
        return statement.where(Open311Request.client_id == client.id)
    return statement.join(Open311Request.client).where(
        Open311Client.status_without_key.is_(True), Open311Client.active.is_(True)
    )


def _request(request: Open311Request, extended: bool, whole: bool = True) -> dict[str, Any]:
    """A request as GeoReport v2 shows it; without ``whole`` only its status (no description,
    location, address or media: whoever asks without a key may not be its reporter)."""
    report = request.report
    notes = [entry.public_note for entry in report.timeline if entry.public_note]
    return {
        "service_request_id": report.reference,
        "status": status_of(report, extended),
        "status_notes": notes[-1] if notes else None,
        "service_name": report.category.name,
        "service_code": report.category.code,
        "description": report.description if whole else None,
        "agency_responsible": report.destination_name,
        "service_notice": _notice(report),
        "requested_datetime": _w3c(report.created_at),
        "updated_datetime": _w3c(report.updated_at),
        "expected_datetime": None,
        "address": report.address_text if whole else None,
        "address_id": request.address_id if whole else None,
        "zipcode": None,
        "lat": report.lat if whole else None,
        "long": report.lon if whole else None,
        "media_url": request.media_url if whole else None,
    }


def _list(value: str | None) -> list[str]:
    return [item.strip() for item in (value or "").split(",") if item.strip()]


def _window(start_text: str | None, end_text: str | None) -> tuple[datetime, datetime]:
    """The date window of GET requests: at most 90 days; the last 90 days by default."""
    start = _moment(start_text, "start_date")
    end = _moment(end_text, "end_date")
    if start is None and end is None:
        end = utcnow()
    if start is None:
        start = end - MAX_WINDOW
    if end is None:
        end = start + MAX_WINDOW
    if end < start:
        raise BadRequest(
            "end_date is before start_date.",
            errors={"end_date": ["Must not be before start_date."]},
        )
    if end - start > MAX_WINDOW:
        raise BadRequest(
            "start_date and end_date are more than 90 days apart.",
            errors={"end_date": ["At most 90 days after start_date."]},
        )
    return start, end


def _moment(text: str | None, name: str) -> datetime | None:
    if text is None or not text.strip():
        return None
    refusal = BadRequest(
        f"{name} is not a W3C datetime.",
        errors={name: ["Must be a W3C datetime, e.g. 2026-11-01T00:00:00Z."]},
    )
    if len(text) > 64:
        raise refusal
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise refusal from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=LONDON)  # a local time: the force area's
    try:
        # UTC: arithmetic between two Europe/London times would ignore a clock change between.
        return moment.astimezone(UTC)
    except OverflowError:
        raise refusal from None


def _w3c(moment: datetime) -> str:
    return moment.astimezone(LONDON).isoformat(timespec="seconds")
