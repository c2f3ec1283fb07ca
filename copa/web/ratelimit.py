"""Rate limits: the Flask-Limiter instance and its keys, the client's address and, when signed in,
the principal."""

from __future__ import annotations

from flask import current_app, g, request
from flask_limiter import Limiter


def client_ip() -> str:
    """The caller's address as the proxy chain reports it (ProxyFix trusts COPA_PROXY_COUNT hops).

    Used only as a rate-limit key; never stored with a submission.
    """
    return request.remote_addr or "unknown"


# The one limiter (copa.extensions exposes it with the other extensions).
limiter = Limiter(key_func=client_ip, headers_enabled=False)


def principal_key() -> str:
    principal = getattr(g, "principal", None)
    return f"principal:{principal.subject}" if principal else f"ip:{client_ip()}"


def limit_per_caller(setting: str):
    """Two limits: ``setting`` per signed-in principal, ``setting``_PER_ADDRESS per client address.

    The address limit is higher: many phones share one carrier address (CGNAT).
    """
    per_principal = limiter.limit(lambda: current_app.config[setting], key_func=principal_key)
    per_address = limiter.limit(
        lambda: current_app.config[f"{setting}_PER_ADDRESS"], key_func=client_ip
    )

    def decorator(view):  # noqa: ANN001, ANN202
        return per_address(per_principal(view))

    return decorator
