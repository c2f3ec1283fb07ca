"""Use cases of resident feedback: giving it, and reading one's own back.

An expression of dissatisfaction is a complaint (Police Reform Act 2002): it opens a complaint
case in ``logged`` in the same transaction as the feedback, so the Resolution Team never misses one.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from copa.areas.models import LocalAuthority, Ward
from copa.areas.service import OutOfArea, locate
from copa.db import begin_write, db, utcnow
from copa.feedback.models import ComplaintCase, ComplaintState, Feedback, FeedbackKind
from copa.privacy.service import new_contact
from copa.submissions import EMERGENCY_ADVICE, next_reference, possible_emergency
from copa.web.access import Principal
from copa.web.pagination import PageResult, paginate
from copa.web.problems import NotFound, Unprocessable


def submit_feedback(principal: Principal, payload: Mapping[str, Any]) -> dict[str, Any]:
    """Store a resident's feedback (and, for dissatisfaction, its complaint case); returns it."""
    begin_write()
    try:
        ward_code, authority_code = _attribute(payload)
        now = utcnow()
        text = payload["text"]
        feedback = Feedback(
            reference=next_reference(),
            device_id=principal.id,
            kind=payload["kind"],
            text=text,
            incident_date=payload.get("incident_date"),
            lat=(payload.get("location") or {}).get("lat"),
            lon=(payload.get("location") or {}).get("lon"),
            ward_code=ward_code,
            local_authority_code=authority_code,
            officer_identifier=payload.get("officer_identifier"),
            contact=new_contact(principal.id, payload.get("contact")),
            possible_emergency=possible_emergency(text),
            created_at=now,
            updated_at=now,
        )
        if feedback.kind == FeedbackKind.DISSATISFACTION:
            feedback.complaint = ComplaintCase(state=ComplaintState.LOGGED, logged_at=now)
        db.session.add(feedback)
        db.session.flush()
        [presented] = _present([feedback])
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return presented


def list_feedback(principal: Principal, page: int, page_size: int) -> PageResult:
    """The resident's own feedback, newest first, one page of it."""
    statement = (
        _own(principal)
        .options(selectinload(Feedback.contact), selectinload(Feedback.complaint))
        .order_by(Feedback.created_at.desc(), Feedback.id.desc())
    )
    result = paginate(statement, page, page_size)
    result.items = _present(result.items)
    return result


def get_feedback(principal: Principal, feedback_id: uuid.UUID) -> dict[str, Any]:
    """One of the resident's own feedback; anyone else's is answered as missing."""
    feedback = db.session.scalar(
        _own(principal)
        .where(Feedback.id == feedback_id)
        .options(selectinload(Feedback.contact), selectinload(Feedback.complaint))
    )
    if feedback is None:
        raise NotFound("There is no feedback of yours with that id.")
    [presented] = _present([feedback])
    return presented


def _own(principal: Principal) -> sa.Select[tuple[Feedback]]:
    return sa.select(Feedback).where(Feedback.device_id == principal.id)


def _attribute(payload: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(ward code, local authority code) from the location or the area code given, if any."""
    point = payload.get("location")
    if point is not None:
        try:
            found = locate(point["lat"], point["lon"])
        except OutOfArea as error:
            # The same problem, naming the field the client must change.
            raise OutOfArea(
                error.detail,
                errors={"location": ["Outside the Cleveland police force area."]},
                **error.extensions,
            ) from None
        return found.ward_code, found.local_authority_code
    code = payload.get("area")
    if code is None:
        return None, None
    ward = db.session.get(Ward, code)
    if ward is not None:
        return ward.code, ward.local_authority_code
    if db.session.get(LocalAuthority, code) is not None:
        return None, code
    raise Unprocessable(
        "That area is not a ward or local authority of the Cleveland police force area.",
        errors={"area": ["Unknown ward or local authority code."]},
    )


def _present(feedbacks: Iterable[Feedback]) -> list[dict[str, Any]]:
    """What the resident sees of each feedback: area names looked up once for the lot."""
    feedbacks = list(feedbacks)
    wards = _names(Ward, {f.ward_code for f in feedbacks if f.ward_code})
    authorities = _names(
        LocalAuthority, {f.local_authority_code for f in feedbacks if f.local_authority_code}
    )
    return [_as_dict(f, wards, authorities) for f in feedbacks]


def _names(model: type[Ward] | type[LocalAuthority], codes: set[str]) -> dict[str, str]:
    if not codes:
        return {}
    rows = db.session.execute(sa.select(model.code, model.name).where(model.code.in_(codes)))
    return {code: name for code, name in rows}


def _as_dict(
    feedback: Feedback, wards: Mapping[str, str], authorities: Mapping[str, str]
) -> dict[str, Any]:
    area = None
    if feedback.ward_code or feedback.local_authority_code:
        area = {
            "ward": _ref(feedback.ward_code, wards),
            "local_authority": _ref(feedback.local_authority_code, authorities),
        }
    complaint = feedback.complaint
    contact = feedback.contact
    out: dict[str, Any] = {
        "id": feedback.id,
        "reference": feedback.reference,
        "kind": feedback.kind,
        "text": feedback.text,
        "incident_date": feedback.incident_date,
        "area": area,
        "officer_identifier": feedback.officer_identifier,
        "contact": (
            {"name": contact.name, "email": contact.email, "phone": contact.phone}
            if contact is not None
            else None
        ),
        "created_at": feedback.created_at,
        "complaint": (
            {"state": complaint.state, "logged_at": complaint.logged_at}
            if complaint is not None
            else None
        ),
    }
    if feedback.possible_emergency:
        out["emergency_advice"] = EMERGENCY_ADVICE
    return out


def _ref(code: str | None, names: Mapping[str, str]) -> dict[str, str] | None:
    return {"code": code, "name": names.get(code, code)} if code else None
