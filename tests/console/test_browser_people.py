"""The admins' people pages in a real browser (headless Chromium), by labels and the keyboard's
own controls: an admin adds a user and then disables them, who is signed out and cannot sign in
again; an admin adds an Open311 client and sees its API key once (it works; no page shows it
again)."""

from __future__ import annotations

import re

import pytest

from tests.console.browser import (  # noqa: F401 - the fixtures browser, console_server, page
    MISSING,
    fresh_page,
    launch_browser,
    needs_browser,
    new_context,
    screen,
    serve_console,
    sign_in,
)

if MISSING is None:
    from playwright.sync_api import Page, expect

pytestmark = [pytest.mark.slow, needs_browser]

NEW_PASSWORD = "a long password for Kim 7"


def open_section(page: Page, name: str) -> None:
    page.get_by_role("navigation", name="Console sections").get_by_role("link", name=name).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(name)


def sign_in_as(page: Page, server, email: str, password: str) -> None:
    page.goto(server.url("/console/login"))
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_an_admin_disables_a_user_who_then_cannot_sign_in(page: Page, console_server, browser):
    sign_in(page, console_server, "admin")
    open_section(page, "Users")
    page.get_by_role("link", name="Add a user").click()
    page.get_by_label("Name", exact=True).fill("Kim Reviewer")
    page.get_by_label("Email").fill("kim@opcc.example")
    page.get_by_label("Password").fill(NEW_PASSWORD)
    page.get_by_label("Reviewer:").check()
    page.get_by_role("button", name="Add the user").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Kim Reviewer")
    expect(page.get_by_role("status")).to_contain_text("Added Kim Reviewer (kim@opcc.example)")

    # Kim signs in elsewhere, and works.
    kim_context = new_context(browser, console_server)
    kim = kim_context.new_page()
    try:
        sign_in_as(kim, console_server, "kim@opcc.example", NEW_PASSWORD)
        expect(kim.get_by_role("heading", level=1)).to_have_text("Queue")

        page.get_by_role("button", name="Disable Kim Reviewer").click()
        expect(page.get_by_role("status")).to_contain_text("cannot sign in")
        expect(page.get_by_role("button", name="Enable Kim Reviewer")).to_be_visible()

        kim.reload()  # signed out at once
        expect(kim).to_have_url(re.compile(r"/console/login"))
        sign_in_as(kim, console_server, "kim@opcc.example", NEW_PASSWORD)
        expect(kim.get_by_role("alert")).to_be_visible()
        expect(kim).to_have_url(re.compile(r"/console/login"))
    finally:
        kim_context.close()

    # The list says so in words, and the audit log names who did it.
    open_section(page, "Users")
    page.get_by_label("Signing in").select_option(label="Disabled only")
    page.get_by_role("button", name="Filter").click()
    row = page.get_by_role("row", name=re.compile("Kim Reviewer"))
    expect(row).to_contain_text("Reviewer")
    expect(row).to_contain_text("Disabled")
    screen(page, "users")
    open_section(page, "Audit log")
    admin = console_server.users["admin"]
    changed = page.get_by_role("row", name=re.compile("User changed")).first
    expect(changed).to_contain_text(f"{admin.display_name} ({admin.email}), as Admin")
    expect(changed).to_contain_text("Active: was yes; now no")
    screen(page, "audit-log")


def test_an_admin_adds_an_open311_client_and_sees_the_key_once(page: Page, console_server):
    sign_in(page, console_server, "admin")
    open_section(page, "Open311 clients")
    page.get_by_role("link", name="Add an Open311 client").click()
    page.get_by_label("Name").fill("FixMyStreet")
    page.get_by_label("Jurisdiction id").fill("cleveland.police.uk")
    page.get_by_role("button", name="Add the client").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Added FixMyStreet")
    expect(page.get_by_role("status")).to_contain_text("it is shown this once")
    api_key = page.get_by_label("API key of FixMyStreet").input_value()
    assert api_key.startswith("copa311_")
    works = console_server.api("GET", f"/open311/v2/requests.json?api_key={api_key}")
    assert works.status_code == 200, works.text

    page.get_by_role("link", name="Done: back to the clients").click()
    row = page.get_by_role("row", name=re.compile("FixMyStreet"))
    expect(row).to_contain_text(api_key[-4:])
    assert api_key not in page.content()
