"""The partner API: a partner's own referrals, their photos, acknowledgement and updates
(progress, resolution, not their responsibility), each told to the resident."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from copa.audit.service import Actor, record
from copa.db import db, utcnow, write
from copa.messages.models import ResidentMessage
from copa.messages.service import passed_on_messages
from copa.reports.models import Photo, Report, ReportStatus, Video
from copa.reports.photos import PhotoFile, PhotoNotFound, photo_file
from copa.reports.videos import VideoFile, video_file
from copa.reports.workflow import transition
from copa.routing.models import Referral, ReferralState
from copa.routing.service import UNROUTED_KIND, UNROUTED_NAME
from copa.web.access import Principal
from copa.web.pagination import PageResult, paginate
from copa.web.problems import Conflict, NotFound, problem_type


class ReferralNotFound(NotFound):
    type = problem_type("referral-not-found")


class ReferralClosed(Conflict):
    type = problem_type("referral-closed")


_CLOSED_REFERRAL = frozenset({ReferralState.NOT_OUR_RESPONSIBILITY, ReferralState.WITHDRAWN})


@dataclass(frozen=True)
class PartnerReferral:
    """A referral as its partner reads it: with only the messages OPCC staff passed on."""

    referral: Referral
    messages: list[ResidentMessage]

    def __getattr__(self, name: str) -> Any:
        if name == "referral":  # not set yet (e.g. while copying): no recursion
            raise AttributeError(name)
        return getattr(self.referral, name)


def _for_partner(referral: Referral) -> PartnerReferral:
    return PartnerReferral(referral, passed_on_messages(referral.report_id))


def partner_referrals(
    principal: Principal, state: str | None, page: int, page_size: int
) -> PageResult:
    """The referrals sent to the caller's own partner organisation, newest first."""
    statement = (
        sa.select(Referral)
        .where(_own(principal))
        .options(selectinload(Referral.report))
        .order_by(Referral.sent_at.desc(), Referral.id)
    )
    if state is not None:
        statement = statement.where(Referral.state == state)
    return paginate(statement, page, page_size)


def partner_referral(principal: Principal, referral_id: uuid.UUID) -> PartnerReferral:
    """One referral to the caller's organisation, with the messages staff passed on to it;
    anyone else's is 'not found'."""
    return _for_partner(_own_referral(principal, referral_id))


def referral_video(principal: Principal, video_id: uuid.UUID, poster: bool = False) -> VideoFile:
    """A video (or its poster) of a report referred to the caller's organisation; anyone
    else's is 'not found'."""
    video = db.session.scalar(
        sa.select(Video)
        .join(Referral, Referral.report_id == Video.report_id)
        .where(Video.id == video_id, Referral.partner_id == principal.partner_id)
        .limit(1)
    )
    return video_file(video, poster)


def referral_photo(principal: Principal, photo_id: uuid.UUID) -> PhotoFile:
    """A photo of a report referred to the caller's organisation; anyone else's is 'not found'."""
    photo = db.session.scalar(
        sa.select(Photo)
        .join(Referral, Referral.report_id == Photo.report_id)
        .where(
            Photo.id == photo_id,
            Photo.redacted_at.is_(None),
            Referral.partner_id == principal.partner_id,
        )
        .limit(1)
    )
    if photo is None:
        raise PhotoNotFound("No such photo.")
    return photo_file(photo)


def acknowledge_referral(
    principal: Principal, referral_id: uuid.UUID, payload: Mapping[str, Any] | None = None
) -> PartnerReferral:
    """The partner confirms receipt, optionally with its own reference for the referral; the
    report becomes acknowledged. Repeating it changes nothing but a new reference."""
    with write():
        referral = _own_referral(principal, referral_id, lock=True)
        _refuse_closed(referral)
        external_reference = (payload or {}).get("external_reference")
        actor = Actor.of(principal)
        if referral.acknowledged_at is None:
            report = referral.report
            if report.status == ReportStatus.ROUTED:
                transition(
                    report,
                    ReportStatus.ACKNOWLEDGED,
                    actor,
                    public_note=f"{referral.partner.name} has received it.",
                    details={"referral_id": referral.id, "external_reference": external_reference},
                )
            else:  # the report moved on already: the acknowledgement is still the partner's act
                record(
                    actor,
                    "referral.acknowledge",
                    "referral",
                    referral.id,
                    before={"state": referral.state},
                    after={"state": ReferralState.ACKNOWLEDGED},
                )
            referral.acknowledged_at = utcnow()
            if referral.state in (ReferralState.SENT, ReferralState.DELIVERED):
                referral.state = ReferralState.ACKNOWLEDGED
        elif external_reference and external_reference != referral.external_reference:
            record(  # a repeat that only names the partner's reference: still the partner's act
                actor,
                "referral.acknowledge",
                "referral",
                referral.id,
                before={"external_reference": referral.external_reference},
                after={"external_reference": external_reference},
            )
        if external_reference:
            referral.external_reference = external_reference
    return _for_partner(referral)


def update_referral(
    principal: Principal, referral_id: uuid.UUID, payload: Mapping[str, Any]
) -> PartnerReferral:
    """The partner's progress: in progress, resolved, or not theirs (back to OPCC staff).

    Each update is a row on the resident's timeline with the partner's public note; a change
    the report's status does not allow is the workflow's 409.
    """
    with write():
        referral = _own_referral(principal, referral_id, lock=True)
        _refuse_closed(referral)
        report = referral.report
        status, note, now = payload["status"], payload.get("public_note"), utcnow()
        actor = Actor.of(principal)
        if status == ReferralState.IN_PROGRESS:
            transition(
                report,
                ReportStatus.IN_PROGRESS,
                actor,
                public_note=note,
                details={
                    "referral_id": referral.id,
                    "external_reference": payload.get("external_reference"),
                },
            )
            referral.resolved_at = None
        elif status == ReferralState.RESOLVED:
            transition(
                report,
                ReportStatus.RESOLVED,
                actor,
                outcome="resolved_by_partner",
                public_note=note,
                details={
                    "referral_id": referral.id,
                    "external_reference": payload.get("external_reference"),
                },
            )
            referral.resolved_at = now
        else:  # not our responsibility: staff route it again; it is never dropped
            transition(
                report,
                ReportStatus.RECEIVED,
                actor,
                details={
                    "referral_id": referral.id,
                    "referral_state": status,
                    "external_reference": payload.get("external_reference"),
                },
                public_note=note
                or f"{referral.partner.name} cannot deal with this; we will send it to the "
                "right place.",
            )
            report.unrouted = True
            report.destination_kind, report.destination_name = UNROUTED_KIND, UNROUTED_NAME
        referral.state = status
        if referral.acknowledged_at is None:  # acting on it confirms receipt
            referral.acknowledged_at = now
        if payload.get("external_reference"):
            referral.external_reference = payload["external_reference"]
    return _for_partner(referral)


def _own(principal: Principal) -> sa.ColumnElement[bool]:
    if principal.partner_id is None:  # a partner user not attached to an organisation
        return sa.false()
    return Referral.partner_id == principal.partner_id


def _own_referral(principal: Principal, referral_id: uuid.UUID, *, lock: bool = False) -> Referral:
    statement = (
        sa.select(Referral)
        .where(Referral.id == referral_id, _own(principal))
        .options(
            selectinload(Referral.report).options(
                selectinload(Report.photos),
                selectinload(Report.videos),
                selectinload(Report.contact),
            )
        )
    )
    if lock:  # two updates of one referral apply one after the other (PostgreSQL)
        statement = statement.with_for_update(of=Referral)
    referral = db.session.scalar(statement)
    if referral is None:
        raise ReferralNotFound("No such referral.")
    return referral


def _refuse_closed(referral: Referral) -> None:
    if referral.state in _CLOSED_REFERRAL:
        raise ReferralClosed(
            f"This referral is closed ({referral.state}); OPCC staff have it now.",
            state=str(referral.state),
        )
