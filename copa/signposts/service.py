"""Use cases of signposts: offering them and counting click-throughs (admins change them in
``signpost_admin``).

Offering is a read: the active signposts of a topic, area, category or kind of feedback, in
display order, in the language asked for when a translation exists. A council's page is offered
only in its own area, so an area (or a point, attributed like a report's) narrows the list.

Counting keeps nothing that identifies who clicked: the app's random event id (a retried tap
counts once), when, which signpost with its topic and kind, and the local authority when known.
The rollup row moves in the same transaction (``metrics/rollups.py``), and ``flask copa
reconcile`` checks it against the clicks.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import has_request_context, request
from limits import parse as parse_limit
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from copa.areas import service as areas
from copa.areas.models import LocalAuthority
from copa.catalog.models import Category
from copa.db import db, utcnow, write
from copa.refcache import ReferenceCache
from copa.settings import settings
from copa.signposts.models import (
    TOPIC_LABELS,
    ClickSource,
    Signpost,
    SignpostClick,
    Topic,
)
from copa.web.problems import Conflict, NotFound, Unprocessable, problem_type
from copa.web.ratelimit import client_ip

logger = logging.getLogger(__name__)
ENGLISH = "en"
SIGNPOSTED = "signposted"  # the report outcome "not for the police: we pointed you elsewhere"
_CLOCK_SKEW = timedelta(minutes=5)


class SignpostNotFound(NotFound):
    type = problem_type("signpost-not-found")


class ClickEventReused(Conflict):
    type = problem_type("click-event-reused")


# --- offering -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Offered:
    """A signpost as offered: its text in the ``requested`` language when it has that
    translation (else English), everything else the signpost's."""

    signpost: Signpost
    requested: str
    local_authority: Mapping[str, str] | None

    @property
    def language(self) -> str:
        """The language of the text shown: the one asked for only when this signpost has it."""
        if self.requested != ENGLISH and self.requested in (self.signpost.translations or {}):
            return self.requested
        return ENGLISH

    @property
    def title(self) -> str:
        return self._text("title") or self.signpost.title

    @property
    def description(self) -> str:
        return self._text("description") or self.signpost.description or ""

    @property
    def topic_label(self) -> str:
        return TOPIC_LABELS.get(self.signpost.topic, self.signpost.topic)

    def _text(self, name: str) -> str | None:
        if self.language == ENGLISH:
            return None
        return (self.signpost.translations or {}).get(self.language, {}).get(name)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.signpost, name)


def requested_language(signposts: Iterable[Signpost]) -> str:
    """The best of English and the signposts' translations for the request's Accept-Language."""
    if not has_request_context():
        return ENGLISH
    available = {ENGLISH} | {lang for s in signposts for lang in (s.translations or {})}
    return request.accept_languages.best_match(sorted(available), default=ENGLISH) or ENGLISH


def offer(signposts: Sequence[Signpost]) -> list[Offered]:
    """The signposts as the app shows them, in the request's language."""
    language = requested_language(signposts)
    names = _authority_names({s.local_authority_code for s in signposts} - {None})
    return [
        Offered(
            s,
            language,
            {"code": s.local_authority_code, "name": names.get(s.local_authority_code, "")}
            if s.local_authority_code
            else None,
        )
        for s in signposts
    ]


def _authority_names(codes: set[str]) -> dict[str, str]:
    if not codes:
        return {}
    names = AUTHORITY_NAMES.get()
    return {code: names[code] for code in codes if code in names}


def _load_authority_names(session: Session) -> dict[str, str]:
    rows = session.execute(sa.select(LocalAuthority.code, LocalAuthority.name))
    return {code: name for code, name in rows}


AUTHORITY_NAMES = ReferenceCache("authority-names", _load_authority_names, LocalAuthority)


def _load_active(session: Session) -> tuple[Signpost, ...]:
    return tuple(
        session.scalars(
            sa.select(Signpost)
            .where(Signpost.active.is_(True))
            .order_by(Signpost.sort_order, Signpost.title, Signpost.id)
        )
    )


ACTIVE_SIGNPOSTS = ReferenceCache("active-signposts", _load_active, Signpost)


def _active() -> tuple[Signpost, ...]:
    """The active signposts in display order: from the per-process cache, to read only."""
    return ACTIVE_SIGNPOSTS.get()


def offered_in(signpost: Signpost, authority: str | None) -> bool:
    """A signpost for everywhere, or for ``authority``'s area."""
    return signpost.local_authority_code is None or signpost.local_authority_code == authority


def list_offered(query: Mapping[str, Any]) -> list[Offered]:
    """``GET /v1/signposts``: active signposts, narrowed by topic, area or point, category and
    kind of feedback. An unknown area or category, or a point outside Cleveland, is 422."""
    authority: str | None = None
    narrowed = False
    if "lat" in query:
        authority = areas.locate_point(query, field="lat").local_authority_code
        narrowed = True
    elif "area" in query:
        authority = areas.area_by_code(query["area"]).local_authority_code
        narrowed = True
    category = query.get("category")
    if category is not None and not _category_exists(category):
        raise Unprocessable(
            "There is no category with that code; fetch /v1/categories again.",
            errors={"category": ["Unknown category."]},
        )
    topics = set(query.get("topic") or ())
    kind = query.get("feedback_kind")
    chosen = [
        s
        for s in _active()
        if (not topics or s.topic in topics)
        and (not narrowed or offered_in(s, authority))
        and (category is None or category in (s.category_codes or ()))
        and (kind is None or kind in (s.feedback_kinds or ()))
    ]
    return offer(chosen)


def _category_exists(code: str) -> bool:
    return db.session.scalar(sa.select(Category.id).where(Category.code == code)) is not None


def for_report(category_code: str, authority: str | None, outcome: str | None) -> list[Offered]:
    """What to offer with a report or question: the signposts of its category in its area (a
    council that also takes the category online offers its own page). A report answered as not
    for the police (``signposted``) with none of those is offered its council's services."""
    active = _active()
    chosen = [
        s for s in active if category_code in (s.category_codes or ()) and offered_in(s, authority)
    ]
    if not chosen and outcome == SIGNPOSTED:
        chosen = [
            s
            for s in active
            if s.topic == Topic.COUNCIL_SERVICES
            and authority is not None
            and s.local_authority_code == authority
        ]
    return offer(chosen)


def for_feedback(kind: str, authority: str | None) -> list[Offered]:
    """What to offer with feedback of ``kind`` given in ``authority``'s area (None: anywhere)."""
    return offer(
        [s for s in _active() if kind in (s.feedback_kinds or ()) and offered_in(s, authority)]
    )


# --- counting click-throughs ----------------------------------------------------------------


@dataclass(frozen=True)
class CountedClick:
    event_id: uuid.UUID
    signpost_id: uuid.UUID
    counted: bool  # False: the event had been counted already


def record_click(
    signpost_id: uuid.UUID,
    event_id: uuid.UUID,
    *,
    clicked_at: datetime | None = None,
    area: str | None = None,
) -> CountedClick:
    """Count a tap in the app once per ``event_id`` (a retry answers ``counted: False``).

    A tap on a signpost that has since been deactivated still counts: it happened. 404 for a
    signpost that never existed; 409 for an event id already counted for another signpost; 422
    for a time in the future or older than ``SIGNPOST_CLICK_MAX_AGE_DAYS``, or an unknown area.
    """
    now = utcnow()
    at = _click_time(clicked_at, now)
    authority = areas.area_by_code(area).local_authority_code if area else None
    try:
        with write(savepoint=True):
            signpost = db.session.get(Signpost, signpost_id)
            if signpost is None:
                raise SignpostNotFound("There is no signpost with that id.")
            earlier = _counted(event_id)
            if earlier is None:
                db.session.add(_click(signpost, ClickSource.APP, at, authority, event_id))
    except IntegrityError:  # the same event, counted by a concurrent retry a moment ago
        earlier = _counted(event_id)
        if earlier is None:
            raise
    if earlier is not None:
        return _repeat(earlier, signpost_id, event_id)
    return CountedClick(event_id, signpost_id, True)


def _click_time(clicked_at: datetime | None, now: datetime) -> datetime:
    if clicked_at is None:
        return now
    if clicked_at > now + _CLOCK_SKEW:
        raise Unprocessable(
            "A tap cannot be in the future.", errors={"clicked_at": ["Must not be in the future."]}
        )
    days = settings().signpost_click_max_age_days
    if clicked_at < now - timedelta(days=days):
        raise Unprocessable(
            f"A tap is counted only when sent within {days} days; drop it.",
            errors={"clicked_at": [f"Must be within the last {days} days."]},
        )
    return clicked_at


def _counted(event_id: uuid.UUID) -> uuid.UUID | None:
    """The signpost an event id was counted for, if it was."""
    return db.session.scalar(
        sa.select(SignpostClick.signpost_id).where(SignpostClick.event_id == event_id)
    )


def _repeat(earlier: uuid.UUID, signpost_id: uuid.UUID, event_id: uuid.UUID) -> CountedClick:
    if earlier != signpost_id:
        raise ClickEventReused(
            "That event id was already counted for another signpost; make a new one per tap.",
            errors={"event_id": ["Already used for another signpost."]},
        )
    return CountedClick(event_id, signpost_id, False)


def _click(
    signpost: Signpost,
    source: str,
    at: datetime,
    authority: str | None,
    event_id: uuid.UUID | None = None,
) -> SignpostClick:
    return SignpostClick(
        id=uuid.uuid4(),
        signpost_id=signpost.id,
        event_id=event_id,
        clicked_at=at,
        source=source,
        topic=signpost.topic,
        destination_kind=signpost.destination_kind,
        # A council's page counts in its own area; otherwise where the app said it was, if it did.
        local_authority_code=signpost.local_authority_code or authority or "",
    )


def follow(code: str, *, count: bool = True) -> str:
    """``GET /go/{code}``: the URL of the active signpost with that code, the visit counted
    unless ``count`` is False (a HEAD, a link preview) or this address has been counted
    ``RATELIMIT_SIGNPOST_GO_PER_ADDRESS`` times already. Only a stored URL is ever returned:
    404 for an unknown or inactive code, whatever it looks like."""
    if not count:
        return _active_signpost(code).url
    with write():
        signpost = _active_signpost(code)
        if _within_go_limit():
            db.session.add(_click(signpost, ClickSource.WEB, utcnow(), None))
    return signpost.url


def _active_signpost(code: str) -> Signpost:
    signpost = db.session.scalar(
        sa.select(Signpost).where(Signpost.code == code, Signpost.active.is_(True))
    )
    if signpost is None:
        raise SignpostNotFound("There is no signpost at that address.")
    return signpost


def _within_go_limit() -> bool:
    """Counts this visit against the caller's address; False once over the limit."""
    from copa.extensions import limiter

    if not settings().ratelimit_enabled:
        return True
    item = parse_limit(settings().ratelimit_signpost_go_per_address)
    try:
        return limiter.limiter.hit(item, "signpost-go", client_ip())
    except Exception:  # the limits store (Redis) is down: the redirect works, uncounted
        logger.warning("signpost visit not counted: the rate-limit store did not answer")
        return False
