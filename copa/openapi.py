"""The API description, generated from the views and schemas (never edited by hand)."""

from __future__ import annotations

import yaml


def render_openapi() -> str:
    """openapi.yaml as the code describes it today (stable order, so diffs are meaningful)."""
    from copa.extensions import api
    from copa.open311.views import describe_errors

    spec = api.spec.to_dict()
    describe_errors(spec)
    _drop_unused_tags(spec)
    spec.setdefault("info", {})["description"] = (
        "COPA, the Cleveland Online Policing App: resident reports, feedback and public-confidence "
        "votes; OPCC review; partner referrals. Errors are RFC 9457 problem+json, except under "
        "/open311/, where they take Open311 GeoReport v2's own shape."
    )
    return yaml.safe_dump(spec, sort_keys=True, allow_unicode=True, width=100)


def _drop_unused_tags(spec: dict) -> None:
    """Leave out the tag of a blueprint whose operations are all documented under another
    blueprint's tag (submissions' POST /v1/reports is under reports): it would list nothing."""
    used = {
        tag
        for operations in spec.get("paths", {}).values()
        for operation in operations.values()
        if isinstance(operation, dict)  # not a path's shared "parameters" list
        for tag in operation.get("tags", ())
    }
    if "tags" in spec:
        spec["tags"] = [tag for tag in spec["tags"] if tag["name"] in used]
