"""Signposts and the clicks on them.

A ``Signpost`` is a link the app offers: the force's online crime reporting, Crimestoppers'
anonymous form, victim support, a council's own reporting page. A ``SignpostClick`` is one
counted click-through: which signpost, when, through what (the app or the counting redirect),
its topic and kind of destination as they were then, and the local authority when known. It
carries no address, device or resident: only the app's own event id, so a retried click counts
once. ``metrics/rollups.py`` counts clicks by month, authority, signpost, topic and kind in the
same transaction.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from copa.db import Timestamps, UUIDPrimaryKey, db, utcnow


class Topic(StrEnum):
    """What a signpost helps with: the rows of the click-through measures."""

    REPORT_CRIME_ONLINE = "report_crime_online"
    ANONYMOUS_REPORTING = "anonymous_reporting"
    VICTIM_SUPPORT = "victim_support"
    COUNCIL_SERVICES = "council_services"
    CRIME_PREVENTION = "crime_prevention"
    CAREERS = "careers"
    POLICE_COMPLAINTS = "police_complaints"
    HEALTH_AND_WELLBEING = "health_and_wellbeing"
    OTHER = "other"


TOPIC_LABELS: dict[str, str] = {
    Topic.REPORT_CRIME_ONLINE: "Report a crime online",
    Topic.ANONYMOUS_REPORTING: "Report anonymously",
    Topic.VICTIM_SUPPORT: "Victim support",
    Topic.COUNCIL_SERVICES: "Council services",
    Topic.CRIME_PREVENTION: "Crime prevention advice",
    Topic.CAREERS: "Careers and volunteering",
    Topic.POLICE_COMPLAINTS: "Complaints about the police",
    Topic.HEALTH_AND_WELLBEING: "Health and wellbeing",
    Topic.OTHER: "Other services",
}


class DestinationKind(StrEnum):
    """Who runs the service a signpost leads to."""

    POLICE = "police"
    PARTNER = "partner"  # a council, housing provider or other public partner
    CHARITY = "charity"
    OTHER = "other"


DESTINATION_KIND_LABELS: dict[str, str] = {
    DestinationKind.POLICE: "Police",
    DestinationKind.PARTNER: "Partner agencies",
    DestinationKind.CHARITY: "Charities",
    DestinationKind.OTHER: "Other",
}


# Feedback kinds a signpost may be offered with: feedback.models.FeedbackKind's values (a test
# keeps the two equal; signposts sits below feedback and does not import it).
FEEDBACK_KINDS = ("compliment", "suggestion", "dissatisfaction")


class ClickSource(StrEnum):
    APP = "app"  # POST /v1/signposts/{id}/clicks
    WEB = "web"  # GET /go/{code}


class Signpost(UUIDPrimaryKey, Timestamps, db.Model):
    """A link to another service that the app offers, where and with what it is relevant."""

    __tablename__ = "signpost"
    __table_args__ = (sa.Index("ix_signpost_active_order", "active", "sort_order"),)

    code: Mapped[str] = mapped_column(sa.String(64), unique=True)  # the /go/{code} slug
    title: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    organisation: Mapped[str] = mapped_column(sa.String(200))
    url: Mapped[str] = mapped_column(sa.String(2048))  # https only (schemas.https_url)
    topic: Mapped[str] = mapped_column(sa.String(32))
    destination_kind: Mapped[str] = mapped_column(sa.String(16))
    # Offered only in this authority's area (a council's own page); None: everywhere.
    local_authority_code: Mapped[str | None] = mapped_column(
        sa.ForeignKey("local_authority.code"), index=True
    )
    # Offered with a report of these categories, and with feedback of these kinds.
    category_codes: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    feedback_kinds: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    # Other languages: {"cy": {"title": "...", "description": "..."}}; English is the columns.
    translations: Mapped[dict[str, dict[str, str]]] = mapped_column(sa.JSON, default=dict)
    active: Mapped[bool] = mapped_column(default=True)
    sort_order: Mapped[int] = mapped_column(default=0)


class SignpostClick(db.Model):
    """One counted click-through; nothing in it identifies who clicked."""

    __tablename__ = "signpost_click"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    signpost_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("signpost.id"), index=True)
    # The app's id for the click, so a retry counts once; None for the counting redirect.
    event_id: Mapped[uuid.UUID | None] = mapped_column(unique=True)
    clicked_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    source: Mapped[str] = mapped_column(sa.String(8))
    # As they were at the click, so a later edit of the signpost does not rewrite history.
    topic: Mapped[str] = mapped_column(sa.String(32))
    destination_kind: Mapped[str] = mapped_column(sa.String(16))
    local_authority_code: Mapped[str] = mapped_column(sa.String(9), default="")  # '' unknown
