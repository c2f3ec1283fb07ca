"""The Cleveland demo data that ``make run`` loads once: areas, categories, partners, users."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

import sqlalchemy as sa

from copa.areas import service as areas
from copa.auth.models import User
from copa.auth.service import hash_password
from copa.catalog.models import DefaultDestination
from copa.catalog.seed import SEED_CATEGORIES
from copa.catalog.service import ensure_seed_categories
from copa.db import db, write
from copa.outbox.signing import new_secret
from copa.routing.models import Channel, Partner, PartnerKind, RoutingRule
from copa.settings import settings
from copa.signposts.seed import ensure_seed_signposts, seed_demo_click_throughs
from copa.web.access import Role

COUNCILS = {  # partner code -> the local authority it is the council of
    "middlesbrough-council": "E06000002",
    "hartlepool-council": "E06000001",
    "redcar-cleveland-council": "E06000003",
    "stockton-council": "E06000004",
}

DEMO_PARTNERS = [
    ("middlesbrough-council", "Middlesbrough Council", PartnerKind.COUNCIL),
    ("hartlepool-council", "Hartlepool Borough Council", PartnerKind.COUNCIL),
    ("redcar-cleveland-council", "Redcar and Cleveland Borough Council", PartnerKind.COUNCIL),
    ("stockton-council", "Stockton-on-Tees Borough Council", PartnerKind.COUNCIL),
    ("thirteen-housing", "Thirteen Housing", PartnerKind.HOUSING_PROVIDER),
    ("habinteg-housing", "Habinteg Housing", PartnerKind.HOUSING_PROVIDER),
    ("environment-agency", "Environment Agency", PartnerKind.ENVIRONMENT_AGENCY),
    (
        "tees-health-social-care",
        "Tees health and social care partnership",
        PartnerKind.HEALTH_AND_SOCIAL_CARE,
    ),
    ("force-control-room", "Cleveland Police force control room", PartnerKind.POLICE),
    ("opcc", "Office of the Police and Crime Commissioner for Cleveland", PartnerKind.OPCC),
]

DEMO_CODES = frozenset(code for code, _, _ in DEMO_PARTNERS)

DEMO_USERS = [
    ("admin@copa.example", "Demo Admin", [Role.ADMIN], None),
    ("reviewer@copa.example", "Demo Reviewer", [Role.REVIEWER], None),
    ("resolution@copa.example", "Demo Resolution Officer", [Role.RESOLUTION], None),
    ("analyst@copa.example", "Demo Analyst", [Role.ANALYST], None),
    (
        "partner@copa.example",
        "Demo Partner (Middlesbrough Council)",
        [Role.PARTNER],
        "middlesbrough-council",
    ),
]


@dataclass
class DemoResult:
    wards: int = 0
    categories_added: int = 0
    partners_added: int = 0
    partners_on_webhook: int = 0
    rules_added: int = 0
    signposts_added: int = 0
    click_throughs_added: int = 0
    users_added: list[str] = field(default_factory=list)
    password: str | None = None  # set only when generated on this run


def seed_demo() -> DemoResult:
    """Load the demo data; running it again adds nothing that is already there."""
    result = DemoResult()
    for imported in areas.import_bundled():
        result.wards += imported.created + imported.updated + imported.unchanged
    result.categories_added = ensure_seed_categories()

    with write():
        partners, result.partners_added = ensure_partners()
        result.rules_added = ensure_routing_rules(partners)
        if settings().demo_webhook_url:
            result.partners_on_webhook = point_at_webhook(
                partners.values(), settings().demo_webhook_url
            )

        existing = set(db.session.scalars(sa.select(User.email)))
        missing = [u for u in DEMO_USERS if u[0] not in existing]
        if missing:
            password = settings().demo_password
            if not password:
                password = result.password = secrets.token_urlsafe(12)
            password_hash = hash_password(password)
            for email, name, roles, partner_code in missing:
                db.session.add(
                    User(
                        email=email,
                        display_name=name,
                        password_hash=password_hash,
                        roles=[str(r) for r in roles],
                        partner_id=partners[partner_code].id if partner_code else None,
                    )
                )
                result.users_added.append(email)
    result.signposts_added = ensure_seed_signposts()
    result.click_throughs_added = seed_demo_click_throughs()
    return result


def ensure_partners() -> tuple[dict[str, Partner], int]:
    """The demo partner organisations, added where missing (no commit): (by code, how many added)."""
    partners = {p.code: p for p in db.session.scalars(sa.select(Partner))}
    added = 0
    for code, name, kind in DEMO_PARTNERS:
        if code not in partners:
            partners[code] = Partner(
                code=code, name=name, kind=kind, local_authority_code=COUNCILS.get(code)
            )
            db.session.add(partners[code])
            added += 1
    db.session.flush()
    return partners, added


def point_at_webhook(partners, url: str) -> int:
    """Demo partners with no delivery channel get ``url`` as their webhook (COPA_DEMO_WEBHOOK_URL:
    a local receiver, to watch referrals leave); an admin's choice is left alone. How many."""
    changed = 0
    for partner in partners:
        if partner.code in DEMO_CODES and partner.channel == Channel.NONE:
            partner.channel = Channel.WEBHOOK
            partner.endpoint_url = url
            partner.webhook_secrets = [new_secret()]
            changed += 1
    return changed


def ensure_routing_rules(partners: dict[str, Partner]) -> int:
    """The demo rule set (DOMAIN.md's default destinations), when there are no rules yet.

    Policing matters go to the force control room, questions to the OPCC, council matters to
    the council of the area, large fly-tipping to the Environment Agency, a tenant's ASB to the
    landlord named in the answer (else the council), welfare concerns to health and social care.
    """
    if db.session.scalar(sa.select(sa.func.count()).select_from(RoutingRule)):
        return 0
    rules: list[RoutingRule] = []

    def rule(
        category: str,
        partner: str,
        level: str = "any",
        area: str | None = None,
        answer: tuple[str, str] | None = None,
    ) -> None:
        rules.append(
            RoutingRule(
                category_code=category,
                area_level=level,
                area_code=area,
                answer_code=answer[0] if answer else None,
                answer_value=answer[1] if answer else None,
                partner_id=partners[partner].id,
            )
        )

    for seed in SEED_CATEGORIES:
        code, destination = seed["code"], seed["default_destination"]
        if destination == DefaultDestination.FORCE_CONTROL_ROOM:
            rule(code, "force-control-room")
        elif destination == DefaultDestination.OPCC:
            rule(code, "opcc")
        elif destination == DefaultDestination.HEALTH_AND_SOCIAL_CARE:
            rule(code, "tees-health-social-care")
        elif destination in (DefaultDestination.COUNCIL, DefaultDestination.LANDLORD):
            for council, authority in COUNCILS.items():
                rule(code, council, "local_authority", authority)
    rule("fly_tipping", "environment-agency", answer=("size", "large"))
    rule("housing_asb", "thirteen-housing", answer=("landlord", "thirteen"))
    rule("housing_asb", "habinteg-housing", answer=("landlord", "habinteg"))
    db.session.add_all(rules)
    return len(rules)
