"""The emergency rule every resident submission goes through (DOMAIN.md, "Emergencies")."""

from __future__ import annotations

import re
from functools import lru_cache

from copa.settings import settings

EMERGENCY_ADVICE = (
    "If someone is in danger or a crime is happening now, call 999 now. This app is not watched "
    "all the time. For other non-emergencies you can also call 101."
)

DEFAULT_EMERGENCY_TERMS = (
    "weapon",
    "knife",
    "knives",
    "gun",
    "firearm",
    "shooting",
    "stabbed",
    "stabbing",
    "bleeding",
    "blood",
    "injured",
    "unconscious",
    "not breathing",
    "fire",
    "help me",
    "attacking",
    "being attacked",
    "kidnap",
    "overdose",
    "suicide",
    "kill myself",
)


def possible_emergency(text: str, happening_now: bool = False) -> bool:
    """DOMAIN.md's rule: it says it is happening now, or the text names an emergency term."""
    return happening_now or bool(_emergency_pattern(_terms()).search(text))


def _terms() -> tuple[str, ...]:
    configured = settings().emergency_terms
    if not configured:
        return DEFAULT_EMERGENCY_TERMS
    return tuple(t.strip().lower() for t in configured.split(",") if t.strip())


@lru_cache(maxsize=8)
def _emergency_pattern(terms: tuple[str, ...]) -> re.Pattern[str]:
    alternatives = "|".join(re.escape(term).replace(r"\ ", r"\s+") for term in terms)
    return re.compile(rf"\b(?:{alternatives})\b", re.IGNORECASE)
