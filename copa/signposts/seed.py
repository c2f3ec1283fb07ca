"""The Cleveland signposts the demo loads, and the click-throughs it counts on them.

The links are the organisations' own sites as published; an OPCC deploying copa checks each
before offering it. The demo's click-throughs follow COPA's first eleven months as the
Commissioner reported them: 2,723 of 5,568 click-throughs (48.9%) went to the police's online
crime reporting; the rest are spread over the other topics in plausible proportions.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from copa.db import db, write
from copa.periods import Quarter
from copa.signposts.models import ClickSource, DestinationKind, Signpost, SignpostClick, Topic

HARTLEPOOL, MIDDLESBROUGH, REDCAR, STOCKTON = "E06000001", "E06000002", "E06000003", "E06000004"
AUTHORITIES = (HARTLEPOOL, MIDDLESBROUGH, REDCAR, STOCKTON)
# What a council takes online itself (catalog seed codes).
COUNCIL_CATEGORIES = [
    "fly_tipping",
    "abandoned_vehicle",
    "noise",
    "street_lighting",
    "highways",
    "graffiti",
    "dog_fouling",
]


def _council(code: str, authority: str, name: str, url: str) -> dict:
    return {
        "code": code,
        "title": f"Report it to {name}",
        "description": "Fly-tipping, noise, street lights, roads, graffiti and dog fouling: "
        "report them on the council's own site and follow them there.",
        "organisation": name,
        "url": url,
        "topic": Topic.COUNCIL_SERVICES,
        "destination_kind": DestinationKind.PARTNER,
        "local_authority_code": authority,
        "category_codes": COUNCIL_CATEGORIES,
    }


SEED_SIGNPOSTS: list[dict] = [
    {
        "code": "report-crime-online",
        "title": "Report a crime online",
        "description": "Report a crime that has already happened to Cleveland Police online, "
        "any time. In an emergency call 999.",
        "organisation": "Cleveland Police",
        "url": "https://www.cleveland.police.uk/ro/report/ocr/af/how-to-report-a-crime/",
        "topic": Topic.REPORT_CRIME_ONLINE,
        "destination_kind": DestinationKind.POLICE,
        "category_codes": ["question", "asb", "vehicle_asb", "drugs", "suspicious"],
    },
    {
        "code": "crimestoppers",
        "title": "Tell Crimestoppers anonymously",
        "description": "Give information about crime 100% anonymously, online or on "
        "0800 555 111. Nobody will know it was you.",
        "organisation": "Crimestoppers",
        "url": "https://crimestoppers-uk.org/give-information/forms/give-information-anonymously",
        "topic": Topic.ANONYMOUS_REPORTING,
        "destination_kind": DestinationKind.CHARITY,
        "category_codes": ["drugs", "suspicious", "asb"],
    },
    {
        "code": "hate-crime-true-vision",
        "title": "Report a hate crime online",
        "description": "True Vision, the police's hate crime reporting site.",
        "organisation": "True Vision (National Police Chiefs' Council)",
        "url": "https://www.report-it.org.uk/",
        "topic": Topic.REPORT_CRIME_ONLINE,
        "destination_kind": DestinationKind.POLICE,
        "category_codes": ["hate_incident"],
    },
    {
        "code": "action-fraud",
        "title": "Report fraud or cyber crime",
        "description": "Action Fraud is the national reporting centre for fraud and cyber crime.",
        "organisation": "Action Fraud",
        "url": "https://www.actionfraud.police.uk/",
        "topic": Topic.REPORT_CRIME_ONLINE,
        "destination_kind": DestinationKind.POLICE,
        "category_codes": ["question"],
    },
    {
        "code": "victim-support",
        "title": "Support after a crime",
        "description": "Free, confidential help for anyone affected by crime, whether or not "
        "it was reported to the police.",
        "organisation": "Victim Support",
        "url": "https://www.victimsupport.org.uk/",
        "topic": Topic.VICTIM_SUPPORT,
        "destination_kind": DestinationKind.CHARITY,
        "category_codes": ["hate_incident", "asb", "housing_asb"],
        "feedback_kinds": ["dissatisfaction"],
    },
    {
        "code": "crime-prevention",
        "title": "Crime prevention advice",
        "description": "How to keep your home, vehicle and belongings safe.",
        "organisation": "Cleveland Police",
        "url": "https://www.cleveland.police.uk/cp/crime-prevention/",
        "topic": Topic.CRIME_PREVENTION,
        "destination_kind": DestinationKind.POLICE,
        "category_codes": ["suspicious", "vehicle_asb"],
    },
    _council(
        "hartlepool-council-report-it",
        HARTLEPOOL,
        "Hartlepool Borough Council",
        "https://www.hartlepool.gov.uk/report",
    ),
    _council(
        "middlesbrough-council-report-it",
        MIDDLESBROUGH,
        "Middlesbrough Council",
        "https://www.middlesbrough.gov.uk/report-it/",
    ),
    _council(
        "redcar-cleveland-council-report-it",
        REDCAR,
        "Redcar and Cleveland Borough Council",
        "https://www.redcar-cleveland.gov.uk/report-it",
    ),
    _council(
        "stockton-council-report-it",
        STOCKTON,
        "Stockton-on-Tees Borough Council",
        "https://www.stockton.gov.uk/report-it",
    ),
    {
        "code": "nhs-111-mental-health",
        "title": "Urgent help for mental health",
        "description": "If someone needs urgent mental health help, NHS 111 can help; in an "
        "emergency call 999.",
        "organisation": "NHS 111",
        "url": "https://111.nhs.uk/",
        "topic": Topic.HEALTH_AND_WELLBEING,
        "destination_kind": DestinationKind.OTHER,
        "category_codes": ["welfare_concern"],
    },
    {
        "code": "iopc-complaints",
        "title": "How police complaints work",
        "description": "The Independent Office for Police Conduct explains how complaints about "
        "the police are handled, and how to ask for a review.",
        "organisation": "Independent Office for Police Conduct",
        "url": "https://www.policeconduct.gov.uk/complaints-reviews-and-appeals/make-complaint",
        "topic": Topic.POLICE_COMPLAINTS,
        "destination_kind": DestinationKind.OTHER,
        "feedback_kinds": ["dissatisfaction"],
    },
    {
        "code": "cleveland-police-careers",
        "title": "Join Cleveland Police",
        "description": "Careers as a police officer, PCSO, special constable, staff member or "
        "volunteer.",
        "organisation": "Cleveland Police",
        "url": "https://www.cleveland.police.uk/careers/",
        "topic": Topic.CAREERS,
        "destination_kind": DestinationKind.POLICE,
        "feedback_kinds": ["compliment"],
    },
    {
        "code": "police-and-crime-plan",
        "title": "Have your say on the Police and Crime Plan",
        "description": "The Commissioner's priorities for Cleveland, and how to take part.",
        "organisation": "Office of the Police and Crime Commissioner for Cleveland",
        "url": "https://www.cleveland.pcc.police.uk/",
        "topic": Topic.OTHER,
        "destination_kind": DestinationKind.OTHER,
        "feedback_kinds": ["suggestion"],
    },
]

# The demo's click-throughs per signpost code: 5,568 in all, 2,723 of them (48.9%) to online
# crime reporting (2,431 + 201 + 91), as COPA's first eleven months.
DEMO_CLICKS: dict[str, int] = {
    "report-crime-online": 2431,
    "action-fraud": 201,
    "hate-crime-true-vision": 91,
    "crimestoppers": 702,
    "victim-support": 418,
    "middlesbrough-council-report-it": 301,
    "stockton-council-report-it": 262,
    "redcar-cleveland-council-report-it": 187,
    "hartlepool-council-report-it": 146,
    "crime-prevention": 356,
    "cleveland-police-careers": 312,
    "iopc-complaints": 96,
    "nhs-111-mental-health": 65,
}
ONLINE_CRIME_REPORTING_CLICKS = 2723
ALL_DEMO_CLICKS = 5568


def ensure_seed_signposts() -> int:
    """Add the seed signposts that are missing (those already there, maybe edited, stay)."""
    with write():
        existing = set(db.session.scalars(sa.select(Signpost.code)))
        added = 0
        for order, seed in enumerate(SEED_SIGNPOSTS, start=1):
            if seed["code"] in existing:
                continue
            values = {
                "description": "",
                "local_authority_code": None,
                "category_codes": [],
                "feedback_kinds": [],
                "translations": {},
                **seed,
            }
            db.session.add(Signpost(id=uuid.uuid4(), active=True, sort_order=order, **values))
            added += 1
    return added


def seed_click_throughs(quarter: Quarter, *, scale: float = 1.0) -> int:
    """Count the demo's click-throughs (``DEMO_CLICKS`` times ``scale``) in ``quarter``, spread
    over its days and, where a signpost is not a council's own, over the four authorities and
    "unknown". Returns how many were added."""
    signposts = {
        s.code: s
        for s in db.session.scalars(sa.select(Signpost).where(Signpost.code.in_(DEMO_CLICKS)))
    }
    first, after = quarter.bounds()
    seconds = int((after - first).total_seconds())
    added = 0
    with write():
        for code, clicks in DEMO_CLICKS.items():
            signpost = signposts.get(code)
            if signpost is None:
                continue
            count = round(clicks * scale)
            for n, authority in zip(range(count), _authorities(signpost), strict=False):
                db.session.add(
                    SignpostClick(
                        id=uuid.uuid4(),
                        signpost_id=signpost.id,
                        event_id=uuid.uuid4(),
                        # Evenly over the quarter, offset per signpost so days differ.
                        clicked_at=first
                        + timedelta(seconds=(n * seconds // count + added) % seconds),
                        source=ClickSource.APP if n % 10 else ClickSource.WEB,
                        topic=signpost.topic,
                        destination_kind=signpost.destination_kind,
                        local_authority_code=authority,
                    )
                )
            added += count
            db.session.flush()
    return added


def _authorities(signpost: Signpost) -> Iterator[str]:
    while True:
        if signpost.local_authority_code:
            yield signpost.local_authority_code
        else:
            yield from (*AUTHORITIES, "")


def seed_demo_click_throughs(now: datetime | None = None) -> int:
    """The demo's click-throughs, once: the last completed quarter as COPA's first eleven
    months, the same quarter a year earlier at 60% for the baseline. Nothing if any exist."""
    if db.session.scalar(sa.select(SignpostClick.id).limit(1)) is not None:
        return 0
    last = Quarter.of(now or datetime.now(UTC)).previous()
    return seed_click_throughs(last) + seed_click_throughs(
        Quarter(last.fiscal_year - 1, last.quarter), scale=0.6
    )
