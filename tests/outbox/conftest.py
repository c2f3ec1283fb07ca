"""Fixtures of the outbox tests."""

from __future__ import annotations

import socket

import pytest

from copa.outbox import ssrf


class StubDNS:
    """Host name -> addresses, instead of the real resolver; IP literals resolve to themselves."""

    def __init__(self) -> None:
        self.names: dict[str, list[str]] = {}
        self.lookups: list[str] = []

    def __setitem__(self, host: str, addresses: list[str]) -> None:
        self.names[host] = addresses

    def resolve(self, host: str, port: int) -> list[str]:
        self.lookups.append(host)
        if host in self.names:
            return self.names[host]
        try:
            socket.inet_pton(socket.AF_INET6 if ":" in host else socket.AF_INET, host)
        except OSError:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known") from None
        return [host]


@pytest.fixture
def dns(monkeypatch) -> StubDNS:
    stub = StubDNS()
    monkeypatch.setattr(ssrf, "resolve", stub.resolve)
    return stub
