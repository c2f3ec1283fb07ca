"""What a signpost may link to: only an https URL on a public domain name, as a browser reads it."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from copa.feedback.models import FeedbackKind
from copa.signposts.models import FEEDBACK_KINDS
from copa.signposts.schemas import URL_MAX, https_url_problems

# WHATWG URL: a host whose last label is a number (decimal, or 0x hex) is an IPv4 address.
ENDS_IN_A_NUMBER = re.compile(r"^(?:[0-9]+|0x[0-9a-f]*)$")


def test_signposts_know_every_kind_of_feedback():
    assert set(FEEDBACK_KINDS) == {kind.value for kind in FeedbackKind}
    assert len(FEEDBACK_KINDS) == len(FeedbackKind)


@pytest.mark.parametrize(
    "url",
    [
        "https://www.cleveland.police.uk/ro/report/ocr/af/how-to-report-a-crime/",
        "https://www.hartlepool.gov.uk/report",
        "https://crimestoppers-uk.org/give-information/forms/give-information-anonymously",
        "https://111.nhs.uk/",
        "https://www.example.org:8443/path?q=1#part",
        "https://bücher.example/",
        "https://www.example.org./",
    ],
)
def test_a_public_https_address_is_accepted(url):
    assert https_url_problems(url) == []


@pytest.mark.parametrize(
    "url",
    [
        "http://www.example.org/",
        "javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "//www.example.org/",
        "www.example.org",
        "https:www.example.org",
        "https:///www.example.org",
        "https://",
        "https://localhost/",
        "https://localhost:8443/",
        "https://intranet.local/",
        "https://service.internal/",
        "https://single/",
        "https://127.0.0.1/",
        "https://10.0.0.1/",
        "https://[::1]/",
        "https://[::ffff:127.0.0.1]/",
        "https://[v1.example]/",
        "https://127.1/",
        "https://0x7f.0.0.1/",
        "https://2130706433/",
        "https://1.2.3.04/",
        "https://１２７.０.０.１/",  # fullwidth digits: 127.0.0.1 once folded
        "https://www.example.123/",
        "https://user@www.example.org/",
        "https://user:secret@www.example.org/",
        "https://www.example.org@evil.example/",
        "https://www.example.org\\@evil.example/",
        "https://www.example.org/a page",
        " https://www.example.org/",
        "https://www.example.org/\r\nSet-Cookie: x=1",
        "https://www.example.org/\x00",
        "https://www.example.org:0/",
        "https://www.example.org:99999/",
        "https://www.example.org:port/",
        "https://under_score.example.org/",
        "https://-leading.example.org/",
        "https://" + "a" * 64 + ".example.org/",
        "https://www.example.org/" + "a" * URL_MAX,
    ],
)
def test_anything_else_is_refused(url):
    assert https_url_problems(url) != []


def _browser_host(host: str) -> str:
    return host.encode("idna").decode("ascii").lower().rstrip(".")


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return bool(ENDS_IN_A_NUMBER.match(host.rsplit(".", 1)[-1]))
    return True


DIGITS = "0123456789"
FULLWIDTH = str.maketrans(DIGITS + ".", "０１２３４５６７８９．")

hosts = st.one_of(
    st.from_regex(r"(?:[a-z0-9-]{1,12}\.){1,3}[a-z]{2,6}", fullmatch=True),
    st.from_regex(r"[a-z0-9]{1,8}\.[0-9]{1,4}", fullmatch=True),  # ends in a number
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=4).map(lambda a: str(a).translate(FULLWIDTH)),
    st.ip_addresses(v=6).map(lambda a: f"[{a}]"),
    st.integers(min_value=0, max_value=2**32).map(str),
    st.integers(min_value=0, max_value=2**32).map(lambda n: f"0x{n:x}.0.1"),
    st.tuples(st.integers(0, 255), st.integers(0, 2**24)).map(lambda t: f"{t[0]}.{t[1]}"),
    st.sampled_from(["localhost", "example.local", "a.internal", "xn--bcher-kva.example"]),
    st.text(max_size=20),
)
urls = st.one_of(
    st.builds(
        lambda scheme, separator, userinfo, host, port, path: (
            f"{scheme}{separator}{userinfo}{host}{port}{path}"
        ),
        st.sampled_from(["https", "HTTPS", "hTTps", "http", "javascript", "ftp", "data", ""]),
        st.sampled_from(["://", ":", ":/", ":///", ":\\\\", "://\\"]),
        st.sampled_from(["", "user@", "user:pw@", ":@", "@", "a%40b@"]),
        hosts,
        st.sampled_from(["", ":443", ":8443", ":0", ":99999", ":", ":x"]),
        st.one_of(st.just("/"), st.text(max_size=40)),
    ),
    st.text(max_size=80),
)


@settings(max_examples=2000, deadline=None)
@given(urls)
@example("https://127.1/")
@example("https://0x7f.0.0.1/")
@example("https://１２７.０.０.１/")
@example("https://[v1.example]/")
@example("https://www.example.org/")
def test_whatever_is_accepted_is_https_on_a_named_host_without_credentials(url):
    if https_url_problems(url):
        return
    parts = urlsplit(url)
    assert parts.scheme == "https"
    assert url[: len("https://")].lower() == "https://"
    assert parts.username is None and parts.password is None and "@" not in parts.netloc
    assert parts.hostname
    host = _browser_host(parts.hostname)
    assert not _is_address(host), host
    assert "." in host and host.rsplit(".", 1)[-1] not in {"localhost", "local", "internal"}
    assert len(url) <= URL_MAX
    assert not re.search(r"[\s\x00-\x1f\x7f-\x9f]", url)
