"""Harness of the console's browser tests: the real app served on loopback, headless Chromium.

``console_server`` migrates a scratch database (a SQLite file, or a throwaway PostgreSQL database
under ``COPA_TEST_DATABASE_URL``), loads the reference data, creates one staff user per role with
``tests.factories.PASSWORD``, and serves the app with gunicorn (production settings) on a free
127.0.0.1 port. ``page`` is a fresh browser context and page for each test, which may only talk to
that server; when a test fails, a full-page screenshot (and the page's HTML) goes into the test's
output directory (``COPA_TEST_OUTPUT_DIR/console-screenshots`` when set, else the test's
``tmp_path``) and its path is printed in the failure report.

Chromium is Debian's (``/usr/bin/chromium``, or ``COPA_TEST_CHROMIUM``) driven by Playwright's
Python library; nothing is ever downloaded. Without either, the tests are skipped with a reason
that says what to install (or fail, with ``COPA_TEST_REQUIRE_BROWSER=1``, as CI sets).
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from tests.factories import PASSWORD, free_port, load_reference_data, scratch_database

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("COPA_TEST_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
INSTALL_HINT = (
    "install Debian's chromium (apt-get install chromium) to run the console browser tests"
)
TIMEOUT_MS = 10_000  # any one wait of a page (an element, a navigation, a download)
HTTP_TIMEOUT = 10  # seconds, any one request of the harness to the server
_http = requests.Session()
_http.trust_env = False  # straight to 127.0.0.1: never through a proxy from the environment

try:
    from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright
except ImportError:  # pragma: no cover - depends on the machine
    sync_playwright = None


def _missing() -> str | None:
    if sync_playwright is None:
        return (
            "Playwright's Python library is not installed (pip install playwright; no browser "
            f"download needed); also {INSTALL_HINT}"
        )
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        return f"Chromium not found at {CHROMIUM}: {INSTALL_HINT}"
    return None


MISSING = _missing()
# CI sets COPA_TEST_REQUIRE_BROWSER=1: there a missing browser fails the tests, never skips them.
REQUIRED = os.environ.get("COPA_TEST_REQUIRE_BROWSER", "").lower() in ("1", "true", "yes")
needs_browser = pytest.mark.skipif(MISSING is not None and not REQUIRED, reason=MISSING or "")


def _unavailable() -> None:
    """Skip (or fail, where the browser is required) a test that cannot have its browser."""
    if MISSING and REQUIRED:
        pytest.fail(f"COPA_TEST_REQUIRE_BROWSER is set but {MISSING}", pytrace=False)
    if MISSING:
        pytest.skip(MISSING)


# The server, for the tests: production settings (Secure cookie, no development secrets), but
# no rate limits (one test module signs in more often than the login limit allows from one IP).
SERVER_SETTINGS = {
    "COPA_ENV": "production",
    "COPA_RATELIMIT_ENABLED": "false",
    "COPA_LOG_LEVEL": "WARNING",
}


@dataclass
class StaffUser:
    role: str
    email: str
    display_name: str
    password: str = PASSWORD


@dataclass
class Server:
    """The served app: its base URL, its staff users by role, and the in-process app object of
    the same database (for its URL map and for arranging data the API cannot)."""

    base: str
    app: object
    users: dict[str, StaffUser] = field(default_factory=dict)
    log: Path | None = None

    def url(self, path: str) -> str:
        return self.base + path

    # --- the public API, as a resident's app or a staff member's tool would call it ----------

    def api(self, method: str, path: str, token: str | None = None, **kwargs) -> requests.Response:
        headers = kwargs.pop("headers", {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return _http.request(
            method, self.url(path), headers=headers, timeout=HTTP_TIMEOUT, **kwargs
        )

    def resident_token(self) -> str:
        response = self.api(
            "POST", "/v1/auth/devices", json={"platform": "android", "app_version": "1.0.0"}
        )
        assert response.status_code == 201, response.text
        return response.json()["access_token"]

    def staff_token(self, role: str) -> str:
        user = self.users[role]
        response = self.api(
            "POST", "/v1/auth/login", json={"email": user.email, "password": user.password}
        )
        assert response.status_code == 200, response.text
        return response.json()["access_token"]


def _wait_until_ready(base: str, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            if _http.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except (requests.ConnectionError, requests.Timeout):
            pass  # not listening yet, or the worker still imports the app
        if server.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the server did not start:\n{log.read_text(errors='replace')}")
        time.sleep(0.2)


def _seed(database_url: str) -> tuple[object, dict[str, StaffUser]]:
    """Migrate the scratch database, load the reference data and one user per role."""
    from flask_migrate import upgrade

    from copa import create_app
    from copa.db import db
    from tests.conftest import TEST_SETTINGS
    from tests.factories import UserFactory

    app = create_app({**TEST_SETTINGS, "DATABASE_URL": database_url})
    with app.app_context():
        upgrade()
    load_reference_data(app)
    users: dict[str, StaffUser] = {}
    with app.app_context():
        for role in ("reviewer", "resolution", "analyst", "admin", "partner"):
            tag = uuid.uuid4().hex[:8]
            extra = {"partner_user": True} if role == "partner" else {"roles": [role]}
            user = UserFactory(
                email=f"{role}-{tag}@copa.example", display_name=f"{role.title()} {tag}", **extra
            )
            users[role] = StaffUser(role, user.email, user.display_name)
        db.session.remove()
        db.engine.dispose()  # the server process is the only one writing from now on
    return app, users


@pytest.fixture(scope="module", name="console_server")
def serve_console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """gunicorn serving the app on 127.0.0.1 against a scratch database of its own."""
    _unavailable()
    workdir = tmp_path_factory.mktemp("console-server")
    with scratch_database(workdir, "console") as database_url:
        app, users = _seed(database_url)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        log = workdir / "server.log"
        env = {
            **os.environ,
            **SERVER_SETTINGS,
            "COPA_DATABASE_URL": database_url,
            "COPA_SECRET_KEY": uuid.uuid4().hex * 2,
            "COPA_JWT_SECRET_KEY": uuid.uuid4().hex * 2,
            "COPA_PHOTO_STORAGE_DIR": str(workdir / "photos"),
            "COPA_MAIL_DIR": str(workdir / "mail"),
        }
        with log.open("wb") as output:
            server = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "--bind",
                    f"127.0.0.1:{port}",
                    "--workers",
                    "1",
                    "--threads",
                    "4",
                    "wsgi:app",
                ],
                cwd=ROOT,
                env=env,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        try:
            _wait_until_ready(base, server, log)
            yield Server(base=base, app=app, users=users, log=log)
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=10)
            with app.app_context():
                from copa.db import db

                db.session.remove()
                db.engine.dispose()


@pytest.fixture(scope="module", name="browser")
def launch_browser() -> Iterator[Browser]:
    _unavailable()
    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            timeout=30_000,
            args=[
                # Nothing but the server on loopback: every other host name fails to resolve.
                "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        try:
            yield chromium
        finally:
            chromium.close()
    finally:
        playwright.stop()


class _Screenshots:
    """A pytest plugin (registered by the ``page`` fixture): a failed browser test leaves a
    screenshot and the page's HTML in the test output, named in the failure report."""

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):  # noqa: ANN001
        outcome = yield
        report = outcome.get_result()
        if report.when not in ("setup", "call") or not report.failed:
            return
        shown: Page | None = item.funcargs.get("page") if hasattr(item, "funcargs") else None
        if shown is None or shown.is_closed():
            return
        directory = _output_dir(item)
        directory.mkdir(parents=True, exist_ok=True)
        stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", item.nodeid.split("::", 1)[-1])[:120]
        picture = directory / f"{stem}.png"
        html = directory / f"{stem}.html"
        try:
            shown.screenshot(path=str(picture), full_page=True, timeout=TIMEOUT_MS)
            html.write_text(shown.content(), encoding="utf-8")
        except Exception as error:  # noqa: BLE001 - the failure itself matters more
            report.sections.append(("console screenshot", f"no screenshot: {error}"))
            return
        report.sections.append(
            (
                "console screenshot",
                f"page {shown.url}\nscreenshot {picture}\nhtml {html}",
            )
        )


def _output_dir(item) -> Path:  # noqa: ANN001
    configured = os.environ.get("COPA_TEST_OUTPUT_DIR")
    if configured:
        return Path(configured) / "console-screenshots"
    return Path(item.funcargs["tmp_path"]) / "console-screenshots"


@pytest.fixture(name="page")
def fresh_page(
    request: pytest.FixtureRequest, browser: Browser, console_server: Server, tmp_path: Path
) -> Iterator[Page]:
    """A fresh browser context (no cookies) and page; only the server may be reached."""
    manager = request.config.pluginmanager
    if not manager.has_plugin("copa-console-screenshots"):
        manager.register(_Screenshots(), "copa-console-screenshots")
    context = new_context(browser, console_server)
    shown = context.new_page()
    try:
        yield shown
    finally:
        context.close()
    assert not context.copa_elsewhere, f"the page tried to reach {context.copa_elsewhere}"
    assert not context.copa_errors, "the browser refused or broke on:\n" + "\n".join(
        context.copa_errors
    )


def new_context(browser: Browser, server: Server, **options) -> BrowserContext:
    """A browser context whose requests anywhere but ``server`` are refused (and recorded in
    ``context.copa_elsewhere``: the console loads nothing from elsewhere)."""
    context = browser.new_context(accept_downloads=True, **options)
    context.set_default_timeout(TIMEOUT_MS)
    context.set_default_navigation_timeout(TIMEOUT_MS)
    context.copa_elsewhere = []
    # What the browser refused or broke on: a Content-Security-Policy violation (an inline style
    # or script, something from elsewhere) or an uncaught script error.
    context.copa_errors = []

    def on_console(message) -> None:  # noqa: ANN001
        if "Content Security Policy" in message.text:
            context.copa_errors.append(
                f"{message.page.url if message.page else ''}: {message.text}"
            )

    context.on("console", on_console)
    context.on("weberror", lambda error: context.copa_errors.append(str(error.error)))

    def only_the_server(route) -> None:  # noqa: ANN001
        url = route.request.url
        if url.startswith(server.base + "/"):
            route.continue_()
        else:
            context.copa_elsewhere.append(url)
            route.abort()

    context.route("**/*", only_the_server)
    return context


if sync_playwright is not None:
    expect.set_options(timeout=TIMEOUT_MS)


def screen(page: Page, name: str) -> None:
    """Save the page as ``<COPA_SCREENS_DIR>/<name>.png`` (full page) when that variable is set
    (``make screens`` sets it to docs/screens, the pictures of the README); else nothing. The
    picture is cut to 128 colours: a third of the size, and text and maps still read the same."""
    directory = os.environ.get("COPA_SCREENS_DIR")
    if not directory:
        return
    from PIL import Image  # Pillow: already a dependency of the service (photos)

    shot = Image.open(io.BytesIO(page.screenshot(full_page=True, timeout=TIMEOUT_MS)))
    Path(directory).mkdir(parents=True, exist_ok=True)
    shot.convert("RGB").quantize(colors=128, method=Image.Quantize.FASTOCTREE).save(
        Path(directory) / f"{name}.png", optimize=True
    )


def sign_in(page: Page, server: Server, role: str) -> None:
    """Sign in through the form, by its labels, as the staff user of ``role``."""
    user = server.users[role]
    page.goto(server.url("/console/login"))
    page.get_by_label("Email address").fill(user.email)
    page.get_by_label("Password").fill(user.password)
    page.get_by_role("button", name="Sign in").click()
    expect(page).not_to_have_url(re.compile(r"/console/login"))
