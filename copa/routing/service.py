"""Where a report goes. For now each category's default destination (DOMAIN.md), named from the
partner organisations; routing rules will refine this."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import sqlalchemy as sa

from copa.catalog.models import Category, DefaultDestination
from copa.db import db
from copa.routing.models import Partner, PartnerKind

# What to call a destination when no partner organisation of that kind is registered.
FALLBACK_NAMES = {
    DefaultDestination.FORCE_CONTROL_ROOM: "Cleveland Police force control room",
    DefaultDestination.OPCC: "Office of the Police and Crime Commissioner for Cleveland",
    DefaultDestination.COUNCIL: "the council for the area",
    DefaultDestination.LANDLORD: "the tenant's landlord",
    DefaultDestination.HEALTH_AND_SOCIAL_CARE: "the health and social care partnership",
}
_KIND_FOR = {
    DefaultDestination.FORCE_CONTROL_ROOM: PartnerKind.POLICE,
    DefaultDestination.OPCC: PartnerKind.OPCC,
    DefaultDestination.HEALTH_AND_SOCIAL_CARE: PartnerKind.HEALTH_AND_SOCIAL_CARE,
}
# Landlord answers of the housing_asb category -> partner codes.
_LANDLORD_PARTNERS = {"thirteen": "thirteen-housing", "habinteg": "habinteg-housing"}


@dataclass(frozen=True)
class Destination:
    kind: str  # a DefaultDestination value
    name: str
    partner: Partner | None = None


def default_destination(
    category: Category, local_authority_code: str | None, answers: Mapping[str, object]
) -> Destination:
    """The category's default destination, named after the partner that stands for it."""
    kind = DefaultDestination(category.default_destination)
    partner: Partner | None = None
    if kind is DefaultDestination.COUNCIL and local_authority_code:
        partner = _first(
            Partner.kind == PartnerKind.COUNCIL,
            Partner.local_authority_code == local_authority_code,
        )
    elif kind is DefaultDestination.LANDLORD:
        code = _LANDLORD_PARTNERS.get(str(answers.get("landlord", "")))
        partner = _first(Partner.code == code) if code else None
    elif kind in _KIND_FOR:
        partner = _first(Partner.kind == _KIND_FOR[kind])
    return Destination(kind.value, partner.name if partner else FALLBACK_NAMES[kind], partner)


def _first(*conditions: sa.ColumnElement[bool]) -> Partner | None:
    return db.session.scalar(
        sa.select(Partner)
        .where(Partner.active.is_(True), *conditions)
        .order_by(Partner.name)
        .limit(1)
    )
