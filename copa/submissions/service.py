"""A resident's report being submitted, whatever its channel: checked, given its reference and
emergency flag, routed to a partner, matched against the repeat ASB rule and acknowledged to
the resident. Above reports, routing and notifications, which it brings together."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from copa.areas.service import Location, locate_point
from copa.catalog.models import Category
from copa.catalog.service import asked_copy, category_for_report, validate_answers
from copa.contacts.service import new_contact
from copa.db import db, utcnow, write
from copa.emergency import possible_emergency
from copa.notifications.service import notify
from copa.references import next_reference
from copa.reports.models import Channel, Report, ReportStatus, TimelineEntry
from copa.routing.service import route
from copa.settings import settings
from copa.web.access import Principal
from copa.web.problems import Unprocessable, problem_type


class LocationRequired(Unprocessable):
    type = problem_type("location-required")


def submit_report(principal: Principal, payload: Mapping[str, Any]) -> Report:
    """Accept a resident's report: attribute it to its area, route it, store it.

    Nothing is written unless everything is valid. A possible emergency is still stored (and
    flagged for the top of the staff queue); the response then tells the resident to call 999.
    """
    with write():
        category = category_for_report(payload["category"])
        answers = validate_answers(category, payload.get("answers") or {})
        point = payload.get("location")
        area = locate_point(point) if point else None
        if area is None and category.location_required:
            raise LocationRequired(
                "Say where it is: this category needs a location.",
                errors={"location": ["Required for this category."]},
            )
        contact_details = None if payload.get("anonymous") else payload.get("contact")
        if payload.get("anonymous") and payload.get("contact"):
            raise Unprocessable(
                "An anonymous report cannot carry contact details.",
                errors={"contact": ["Leave this out of an anonymous report."]},
            )
        report = new_report(
            channel=Channel.APP,
            device_id=principal.id,
            category=category,
            description=payload["description"],
            point=point,
            area=area,
            address_text=payload.get("address_text"),
            occurred_at=payload.get("occurred_at"),
            happening_now=payload.get("happening_now", False),
            answers=answers,
            anonymous=payload.get("anonymous", False),
            contact=new_contact(principal.id, contact_details),
            share_contact_with_partner=bool(contact_details)
            and payload.get("share_contact_with_partner", False),
            would_have_called_101=payload.get("would_have_called_101"),
        )
    return report


def new_report(
    *,
    channel: Channel,
    category: Category,
    description: str,
    point: Mapping[str, float] | None,
    area: Location | None,
    happening_now: bool = False,
    **fields: Any,
) -> Report:
    """A checked report, whatever its channel, made part of the session: its reference, its
    emergency flag, its first timeline row, its routing (referral and outbox message) and the
    repeat-ASB rule. The caller commits."""
    report = Report(
        id=uuid.uuid4(),
        reference=next_reference(),
        channel=channel,
        category=category,
        description=description,
        lat=point["lat"] if point else None,
        lon=point["lon"] if point else None,
        ward_code=area.ward_code if area else None,
        local_authority_code=area.local_authority_code if area else None,
        happening_now=happening_now,
        questions_asked=asked_copy(category),  # what the resident was asked, kept as asked
        status=ReportStatus.RECEIVED,
        possible_emergency=possible_emergency(description, happening_now),
        photos=[],  # known empty: no lazy load when the response lists them
        videos=[],
        timeline=[
            TimelineEntry(
                actor_kind="resident",
                to_status=ReportStatus.RECEIVED,
                public_note="Report received.",
            )
        ],
        **fields,
    )
    route(report)  # a referral and its outbox message, committed with the report
    db.session.add(report)
    flag_repeat_asb(report)  # the ASB Case Review threshold, for staff
    notify("report.received", report=report)  # and where it went
    return report


# --- repeat antisocial behaviour (DOMAIN.md) -----------------------------------------------


def flag_repeat_asb(report: Report) -> None:
    """DOMAIN.md's repeat ASB rule for a report being submitted (part of its transaction).

    When, counting itself, COPA_REPEAT_ASB_THRESHOLD reports of the ASB categories within
    COPA_REPEAT_ASB_WINDOW_DAYS come from the same resident, or the same ward and category,
    the new report and those earlier ones are flagged ``repeat_asb``.
    """
    config = settings()
    codes = _category_codes(config.repeat_asb_categories)
    if report.category.code not in codes:
        return
    same: list[Any] = []
    if report.device_id is not None:
        same.append(Report.device_id == report.device_id)
    if report.ward_code is not None:
        same.append(
            sa.and_(Report.ward_code == report.ward_code, Report.category_id == report.category.id)
        )
    if not same:
        return
    since = utcnow() - timedelta(days=config.repeat_asb_window_days)
    similar = sa.and_(
        Report.id != report.id,
        Report.created_at >= since,
        Report.category_id.in_(sa.select(Category.id).where(Category.code.in_(codes))),
        Report.status.not_in([ReportStatus.DUPLICATE.value, ReportStatus.REJECTED.value]),
        sa.or_(*same),
    )
    earlier = db.session.scalar(sa.select(sa.func.count()).select_from(Report).where(similar))
    if (earlier or 0) + 1 < config.repeat_asb_threshold:
        return
    report.repeat_asb = True
    db.session.execute(
        sa.update(Report)
        .where(similar, Report.repeat_asb.is_(False))
        .values(repeat_asb=True)
        .execution_options(synchronize_session=False)
    )


def _category_codes(setting: str | Iterable[str]) -> list[str]:
    """Category codes from a comma-separated setting (or a list given by a test)."""
    values = setting.split(",") if isinstance(setting, str) else setting
    return [code.strip() for code in values if code and code.strip()]
