"""POST requests.{fmt}: a service request made a report, in one transaction with its
Open311Request row (the client, a token, what the client sent besides), idempotent on what
was sent."""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import uuid
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from marshmallow import ValidationError
from sqlalchemy.exc import IntegrityError
from werkzeug.datastructures import FileStorage, MultiDict

from copa.areas.service import OutOfArea, locate_point
from copa.catalog.models import Category
from copa.catalog.service import (
    InvalidAnswers,
    questions_of,
    validate_answers,
)
from copa.contacts.service import new_contact
from copa.db import db, utcnow, write
from copa.open311 import schemas
from copa.open311.api_clients import check_jurisdiction
from copa.open311.models import Open311Client, Open311Request
from copa.open311.service import BadRequest, service_category, service_notice
from copa.reports import photos
from copa.reports.models import Channel, Photo, Report
from copa.settings import settings
from copa.submissions.service import new_report

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
    category = service_category(fields["service_code"])
    answers = _answers(category, form)
    point = _point(fields, category)
    image = _photo(files.get("media"))  # decoded before the write lock, like an app photo
    fingerprint = _fingerprint(form, image)

    # Where the photo goes; the file is removed again if the report is not stored.
    store = photos.photo_store() if image is not None else None
    key = f"{uuid.uuid4().hex}.{image.extension}" if image is not None else None
    try:
        with write(savepoint=True):
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
            _keep_photo(report, image, store, key)
    except IntegrityError:
        # The same POST, at the same moment, from the same client: the other one won.
        _forget(store, key)
        earlier = _by_fingerprint(client, fingerprint)
        if earlier is None:
            raise
        return _created(earlier), False
    except BaseException:
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
    config = settings()
    max_bytes = config.photo_max_bytes
    data = upload.stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise BadRequest(
            f"media is larger than {max_bytes // (1024 * 1024)} MiB.",
            errors={"media": [f"At most {max_bytes // (1024 * 1024)} MiB."]},
        )
    try:
        return photos.clean_image(data, config.photo_max_pixels)
    except photos.PhotoUnreadable as error:
        raise BadRequest(error.detail, errors={"media": [error.detail or ""]}) from None


def _keep_photo(
    report: Report,
    image: photos.CleanImage | None,
    store: photos.PhotoStore | None,
    key: str | None,
) -> None:
    if image is None or store is None or key is None:
        return
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
            "service_notice": service_notice(request.report),
            "account_id": request.account_id,
        }
    ]
