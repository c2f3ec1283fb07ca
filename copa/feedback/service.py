"""Use cases of resident feedback: giving it, and reading one's own back.

An expression of dissatisfaction is a complaint (Police Reform Act 2002): it opens a complaint
case in ``logged`` in the same transaction as the feedback, so the Resolution Team never misses one.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from copa.areas.service import area_by_code, locate_point
from copa.db import begin_write, db, utcnow
from copa.feedback.models import ComplaintCase, ComplaintState, Feedback, FeedbackKind
from copa.privacy.service import new_contact
from copa.submissions import next_reference, possible_emergency
from copa.web.access import Principal
from copa.web.pagination import PageResult, paginate
from copa.web.problems import NotFound


def submit_feedback(principal: Principal, payload: Mapping[str, Any]) -> Feedback:
    """Store a resident's feedback and, for a dissatisfaction, its complaint case."""
    begin_write()
    ward_code, authority_code = _attribute(payload)
    point = payload.get("location") or {}
    now = utcnow()  # the case is logged the moment the feedback is received
    feedback = Feedback(
        created_at=now,
        reference=next_reference(),
        device_id=principal.id,
        kind=payload["kind"],
        text=payload["text"],
        incident_date=payload.get("incident_date"),
        lat=point.get("lat"),
        lon=point.get("lon"),
        ward_code=ward_code,
        local_authority_code=authority_code,
        officer_identifier=payload.get("officer_identifier"),
        contact=new_contact(principal.id, payload.get("contact")),
        possible_emergency=possible_emergency(payload["text"]),
    )
    if feedback.kind == FeedbackKind.DISSATISFACTION:
        feedback.complaint = ComplaintCase(state=ComplaintState.LOGGED, logged_at=now)
    db.session.add(feedback)
    db.session.commit()
    return feedback


def list_feedback(principal: Principal, page: int, page_size: int) -> PageResult:
    """The resident's own feedback, newest first, one page of it."""
    statement = _own(principal).order_by(Feedback.created_at.desc(), Feedback.id.desc())
    return paginate(statement, page, page_size)


def get_feedback(principal: Principal, feedback_id: uuid.UUID) -> Feedback:
    """One of the resident's own feedback; anyone else's is answered as missing."""
    feedback = db.session.scalar(_own(principal).where(Feedback.id == feedback_id))
    if feedback is None:
        raise NotFound("There is no feedback of yours with that id.")
    return feedback


def _own(principal: Principal) -> sa.Select[tuple[Feedback]]:
    return (
        sa.select(Feedback)
        .where(Feedback.device_id == principal.id)
        .options(*(selectinload(getattr(Feedback, name)) for name in ("contact", "complaint")))
    )


def _attribute(payload: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(ward code, local authority code) from the location or the area code given, if any."""
    if payload.get("location") is not None:
        found = locate_point(payload["location"])
        return found.ward_code, found.local_authority_code
    if payload.get("area") is not None:
        area = area_by_code(payload["area"])
        return area.ward_code, area.local_authority_code
    return None, None
