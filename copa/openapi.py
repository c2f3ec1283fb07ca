"""The API description, generated from the views and schemas (never edited by hand)."""

from __future__ import annotations

import yaml


def render_openapi() -> str:
    """openapi.yaml as the code describes it today (stable order, so diffs are meaningful)."""
    from copa.extensions import api
    from copa.open311.views import describe_errors

    spec = api.spec.to_dict()
    describe_errors(spec)
    spec.setdefault("info", {})["description"] = (
        "COPA, the Cleveland Online Policing App: resident reports, feedback and public-confidence "
        "votes; OPCC review; partner referrals. Errors are RFC 9457 problem+json, except under "
        "/open311/, where they take Open311 GeoReport v2's own shape."
    )
    return yaml.safe_dump(spec, sort_keys=True, allow_unicode=True, width=100)
