"""The SSRF guard's decisions on partner endpoints, at registration and at send time.

Name resolution is stubbed and any connection attempt fails the test: these tests only ever
connect to a receiver on 127.0.0.1, and only where they say so.
"""

from __future__ import annotations

import socket
import ssl
from pathlib import Path

import pytest

from copa.outbox import ssrf
from copa.outbox.channels import http as outbound
from copa.outbox.models import MessageState
from copa.outbox.signing import new_secret
from copa.relay.service import run_relay
from copa.routing.models import Channel
from tests.outbox.support import (
    SLOW_SCHEDULE,
    Receiver,
    attempts_of,
    make_partner,
    make_referrals,
    messages_of,
    use_fast_relay,
)

PUBLIC = "93.184.216.34"


@pytest.fixture
def no_connections(monkeypatch):
    """Fail on any outbound connection."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"tried to connect: {args!r}")

    monkeypatch.setattr(socket, "create_connection", refuse)


def refusal(url: str, *, allow_loopback: bool = False) -> str:
    with pytest.raises(ssrf.UnsafeTarget) as raised:
        ssrf.check_target(url, allow_loopback=allow_loopback)
    problem = raised.value
    assert problem.status == 422
    assert problem.type.endswith("/unsafe-target")
    (message,) = problem.errors["endpoint_url"]
    return message


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1/hooks", "loopback"),
        ("http://127.1.2.3:8080/hooks", "loopback"),
        ("http://[::1]:8080/hooks", "loopback"),
        ("http://10.0.0.1/hooks", "private"),
        ("https://10.255.255.254/hooks", "private"),
        ("http://192.168.1.20/hooks", "private"),
        ("http://172.16.0.5/hooks", "private"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://[fe80::1]/hooks", "link-local"),
        ("http://[fd00::1]/hooks", "private"),
        ("http://0.0.0.0/hooks", "unspecified"),
        ("http://224.0.0.1/hooks", "multicast"),
        ("http://100.64.0.1/hooks", "non-public"),
        ("http://[::ffff:169.254.169.254]/hooks", "link-local"),  # IPv4-mapped
        ("http://[::ffff:127.0.0.1]/hooks", "loopback"),
        ("http://[64:ff9b::a9fe:a9fe]/hooks", "link-local"),  # NAT64 of 169.254.169.254
        ("http://[64:ff9b::a00:1]/hooks", "private"),  # NAT64 of 10.0.0.1
    ],
)
def test_internal_addresses_are_refused(dns, no_connections, url, reason):
    assert reason in refusal(url)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://partner.example/hooks", "only http and https"),
        ("file:///etc/passwd", "only http and https"),
        ("gopher://partner.example/", "only http and https"),
        ("https://user:secret@partner.example/hooks", "user name or password"),
        ("https:///hooks", "no host"),
        ("http://partner.example:99999/", "not valid"),
    ],
)
def test_urls_that_are_not_plain_http_are_refused(dns, no_connections, url, reason):
    dns["partner.example"] = [PUBLIC]
    assert reason in refusal(url)


def test_a_host_name_resolving_to_a_private_address_is_refused(dns, no_connections):
    dns["hooks.partner.example"] = ["10.20.30.40"]
    assert "private address (10.20.30.40)" in refusal("https://hooks.partner.example/copa")


def test_one_internal_address_among_public_ones_is_enough_to_refuse(dns, no_connections):
    dns["hooks.partner.example"] = [PUBLIC, "169.254.169.254"]
    assert "link-local" in refusal("https://hooks.partner.example/copa")


def test_a_host_name_that_does_not_resolve_is_refused(dns, no_connections):
    assert "does not resolve" in refusal("https://nowhere.partner.example/copa")


def test_a_public_endpoint_is_accepted_with_the_address_to_connect_to(dns, no_connections):
    dns["hooks.partner.example"] = [PUBLIC, "2606:2800:220:1::248"]

    ssrf.check_target("https://hooks.partner.example/copa?x=1", allow_loopback=False)
    target = ssrf.resolve_target("https://hooks.partner.example/copa?x=1", allow_loopback=False)

    assert target == ssrf.Target("https", "hooks.partner.example", 443, "/copa?x=1", PUBLIC)


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/hooks", "http://[::1]:8080/hooks"])
def test_the_development_setting_allows_loopback(dns, no_connections, url):
    ssrf.check_target(url, allow_loopback=True)


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.1/hooks",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fd00::1]/hooks",
        "http://0.0.0.0/hooks",
    ],
)
def test_the_development_setting_allows_nothing_but_loopback(dns, no_connections, url):
    refusal(url, allow_loopback=True)


def test_the_development_setting_is_ignored_in_production(app, monkeypatch):
    monkeypatch.setitem(app.config, "ALLOW_LOOPBACK_TARGETS", True)
    with app.app_context():
        assert ssrf.loopback_allowed() is True
        monkeypatch.setitem(app.config, "ENV", "production")
        assert ssrf.loopback_allowed() is False


def test_the_relay_refuses_at_send_time_an_endpoint_that_now_resolves_inside(
    app, monkeypatch, dns, no_connections
):
    # Registered while it resolved to a public address; its DNS now points inside.
    use_fast_relay(monkeypatch, app, RELAY_RETRY_SCHEDULE=SLOW_SCHEDULE)
    dns["hooks.partner.example"] = ["10.0.0.7"]
    with app.app_context():
        partner = make_partner(
            channel=Channel.WEBHOOK,
            endpoint_url="https://hooks.partner.example/copa",
            webhook_secrets=[new_secret()],
        )
        make_referrals(partner)
        run_relay(once=True, owner="test-relay")
        (message,) = messages_of(partner.id)
        (attempt,) = attempts_of(message.id)

    assert message.state == MessageState.PENDING  # retried later, in case it was a blip
    assert attempt.status_code is None
    assert attempt.error.startswith("unsafe target: it leads to a private address (10.0.0.7)")


def test_the_relay_connects_to_the_address_it_checked_under_the_partners_host_name(
    app, monkeypatch, dns
):
    """No second lookup between the check and the connection (DNS rebinding): the address
    checked is the address dialled, while the Host header keeps the partner's name."""
    use_fast_relay(monkeypatch, app)
    with Receiver() as receiver, app.app_context():
        port = receiver.server.server_address[1]
        dns["hooks.partner.test"] = ["127.0.0.1"]
        partner = make_partner(
            channel=Channel.WEBHOOK,
            endpoint_url=f"http://hooks.partner.test:{port}/copa",
            webhook_secrets=[new_secret()],
        )
        make_referrals(partner)
        run_relay(once=True, owner="test-relay")
        (message,) = messages_of(partner.id)

    assert message.state == MessageState.DELIVERED
    (request,) = receiver.received
    assert request.headers["host"] == f"hooks.partner.test:{port}"
    assert dns.lookups == ["hooks.partner.test"]  # resolved once, for the check


def test_http_client_refuses_an_unsafe_target_before_connecting(dns, no_connections):
    with pytest.raises(outbound.HttpFailure, match="unsafe target"):
        outbound.send(
            "POST",
            "http://169.254.169.254/latest/meta-data/",
            body=b"{}",
            allow_loopback=True,
            timeout=1.0,
            max_bytes=1024,
        )


TLS = Path(__file__).resolve().parent / "tls"  # a test CA and a certificate for hooks.partner.test


@pytest.fixture
def tls_receiver(monkeypatch):
    """A receiver on 127.0.0.1 speaking TLS with a certificate for hooks.partner.test, trusted
    by the relay through the test CA only; it notes the server name each client asked for."""
    server_names: list[str | None] = []
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(TLS / "partner.pem", TLS / "partner.key")
    context.sni_callback = lambda sock, name, ctx: server_names.append(name)
    trusting_the_test_ca = ssl.create_default_context(cafile=TLS / "ca.pem")
    monkeypatch.setattr(outbound, "tls_context", lambda: trusting_the_test_ca)
    with Receiver() as receiver:
        receiver.server.socket = context.wrap_socket(receiver.server.socket, server_side=True)
        receiver.server_names = server_names
        yield receiver


def test_https_is_pinned_to_the_checked_address_with_sni_and_the_certificate_of_the_name(
    dns, tls_receiver
):
    port = tls_receiver.server.server_address[1]
    dns["hooks.partner.test"] = ["127.0.0.1"]

    answer = outbound.send(
        "POST",
        f"https://hooks.partner.test:{port}/copa",
        body=b"{}",
        allow_loopback=True,
        timeout=5,
        max_bytes=1024,
    )

    assert answer.status == 200
    assert tls_receiver.server_names == ["hooks.partner.test"]
    assert tls_receiver.received[0].headers["host"] == f"hooks.partner.test:{port}"


def test_https_to_a_name_the_certificate_does_not_cover_is_refused(dns, tls_receiver):
    # Same address, another name: pinning the address must not skip the hostname check.
    port = tls_receiver.server.server_address[1]
    dns["other.partner.test"] = ["127.0.0.1"]

    with pytest.raises(outbound.HttpFailure, match="CERTIFICATE_VERIFY_FAILED|certificate"):
        outbound.send(
            "POST",
            f"https://other.partner.test:{port}/copa",
            body=b"{}",
            allow_loopback=True,
            timeout=5,
            max_bytes=1024,
        )
    assert tls_receiver.received == []
