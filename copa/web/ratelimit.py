"""Rate-limit keys: the client's address and, when signed in, the principal."""

from __future__ import annotations

from flask import g, request


def client_ip() -> str:
    """The caller's address as the proxy chain reports it (ProxyFix trusts COPA_PROXY_COUNT hops).

    Used only as a rate-limit key; never stored with a submission.
    """
    return request.remote_addr or "unknown"


def principal_key() -> str:
    principal = getattr(g, "principal", None)
    return f"principal:{principal.subject}" if principal else f"ip:{client_ip()}"
