"""Requests gunicorn refuses before the application sees them (gunicorn.conf.py's limits): a
4xx in problem+json that echoes nothing of the request, never a 5xx, and the server goes on
serving."""

from __future__ import annotations

import json
import os
import socket
import uuid

import pytest

from tests.factories import gunicorn_serving


@pytest.fixture(scope="module")
def port(tmp_path_factory):
    """gunicorn as `make run` serves, production settings; /healthz needs no database."""
    tmp = tmp_path_factory.mktemp("limits")
    env = {
        **os.environ,
        "COPA_ENV": "production",
        "COPA_SECRET_KEY": uuid.uuid4().hex * 2,
        "COPA_JWT_SECRET_KEY": uuid.uuid4().hex * 2,
        "COPA_DATABASE_URL": f"sqlite:///{tmp / 'limits.db'}",
        "COPA_LOG_LEVEL": "WARNING",
    }
    with gunicorn_serving(env, tmp / "gunicorn.log") as served_port:
        yield served_port


def exchange(port: int, raw: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send raw bytes on a new connection; the status, headers and body of the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(raw)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
            if len(answer) > 1 << 20:
                break
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), headers, body


def good_request(port: int) -> int:
    status, _, body = exchange(
        port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    assert json.loads(body) == {"status": "ok"}
    return status


SECRET = "do-not-echo-" + uuid.uuid4().hex

REFUSED = {
    "request line over 4094 bytes": (
        b"GET /open311/v2/requests.json?api_key="
        + SECRET.encode()
        + b"&x="
        + b"a" * 5000
        + b" HTTP/1.1\r\nHost: x\r\n\r\n",
        414,
    ),
    "header over 8190 bytes": (
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Note: "
        + SECRET.encode()
        + b"b" * 9000
        + b"\r\n\r\n",
        431,
    ),
    "more than 50 headers": (
        b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
        + b"".join(b"X-Header-%d: %s\r\n" % (i, SECRET.encode()) for i in range(60))
        + b"\r\n",
        431,
    ),
    "NUL in a header value": (
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Note: a\x00" + SECRET.encode() + b"\r\n\r\n",
        400,
    ),
    "bare CR in a header value": (
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Note: a\r" + SECRET.encode() + b"\r\n\r\n",
        400,
    ),
    "space in a header name": (
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nX Note: " + SECRET.encode() + b"\r\n\r\n",
        400,
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", list(REFUSED))
def test_a_request_over_the_limits_is_refused_as_a_problem_and_the_server_goes_on(port, case):
    raw, expected = REFUSED[case]

    status, headers, body = exchange(port, raw)

    assert status == expected
    assert headers["content-type"] == "application/problem+json"
    assert headers["connection"] == "close"
    problem = json.loads(body)
    assert problem["status"] == expected
    assert set(problem) == {"type", "title", "status", "detail"}
    assert SECRET not in body.decode()
    assert good_request(port) == 200


@pytest.mark.slow
def test_requests_just_within_the_limits_are_served(port):
    # The longest request line accepted (4094 bytes) and 40 headers of 8 KiB in all.
    prefix, suffix = b"GET /healthz?pad=", b" HTTP/1.1"
    line = prefix + b"a" * (4094 - len(prefix) - len(suffix)) + suffix
    headers = b"".join(b"X-Header-%d: v\r\n" % i for i in range(38))
    raw = line + b"\r\nHost: x\r\nX-Long: " + b"c" * 8000 + b"\r\n" + headers
    status, _, body = exchange(port, raw + b"Connection: close\r\n\r\n")

    assert status == 200
    assert json.loads(body) == {"status": "ok"}
