"""The API description, generated from the views and schemas (never edited by hand)."""

from __future__ import annotations

import yaml


def render_openapi() -> str:
    """openapi.yaml as the code describes it today (stable order, so diffs are meaningful)."""
    from copa.extensions import api

    spec = api.spec.to_dict()
    spec.setdefault("info", {})["description"] = (
        "COPA, the Cleveland Online Policing App: resident reports, feedback and public-confidence "
        "votes; OPCC review; partner referrals. Errors are RFC 9457 problem+json."
    )
    return yaml.safe_dump(spec, sort_keys=True, allow_unicode=True, width=100)
