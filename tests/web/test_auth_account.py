"""The sign-in, sign-up and account views in a real chromium against a real server:
the forms, the cookie session (kept across reloads, unreadable by page scripts), API
keys shown once, profile and password changes, the ShareX and export downloads and
account deletion."""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import expect

from tests.web.conftest import PASSWORD, api_token, create_user, sign_in, unique

API_KEY = re.compile(r"^pk_[1-9A-HJ-NP-Za-km-z]{32}$")


def sign_up_with_form(page: Any, username: str, password: str = PASSWORD) -> None:
    page.goto("/signup")
    page.get_by_label("Email", exact=True).fill(f"{username}@example.test")
    page.get_by_label("Username", exact=True).fill(username)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_label("First name (optional)").fill("Ada")
    page.get_by_label("I am 18 or older").check()
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url("**/my")


def sign_in_with_form(page: Any, login: str, password: str = PASSWORD) -> None:
    page.get_by_label("Email or username").fill(login)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in", exact=True).click()


def nav(page: Any) -> Any:
    return page.get_by_role("navigation", name="Site")


def test_sign_up_sign_out_and_sign_in_again(page: Any, web_server: Any) -> None:
    username = unique("ada")
    sign_up_with_form(page, username)
    expect(nav(page).get_by_role("link", name=username)).to_be_visible()
    me = httpx.get(
        f"{web_server.url}/api/v1/auth/me",
        headers={"Authorization": f"Bearer {api_token(web_server, username)}"},
    ).json()["user"]
    assert (me["firstName"], me["ageConfirmed"]) == ("Ada", True)

    nav(page).get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{web_server.url}/")
    page.goto("/signin?next=/account")
    expect(nav(page).get_by_role("link", name="Sign in")).to_be_visible()
    sign_in_with_form(page, username, "not the password")
    form_error = page.locator("#login-error")
    expect(form_error).to_have_text("Invalid email or password")
    expect(page.locator("#alert")).to_have_text("Invalid email or password")
    sign_in_with_form(page, username)
    page.wait_for_url("**/account")
    expect(page.get_by_role("heading", name="Account", exact=True)).to_be_visible()


def test_sign_up_refusal_names_the_field(page: Any, web_server: Any) -> None:
    taken = create_user(web_server, unique("taken"))
    page.goto("/signup")
    page.get_by_label("Email", exact=True).fill(f"{unique()}@example.test")
    page.get_by_label("Username", exact=True).fill(taken["username"])
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page.locator("#signup-error")).to_contain_text("Username")
    expect(page.locator("#signup-error")).to_contain_text("taken")
    assert "/signup" in page.url


def test_session_survives_a_reload_and_its_cookie_is_out_of_reach(
    page: Any, context: Any, web_server: Any
) -> None:
    user = create_user(web_server, unique("cookie"))
    page.goto("/signin")
    sign_in_with_form(page, user["email"])
    page.wait_for_url("**/my")
    page.goto("/account")
    page.reload()
    expect(page.get_by_role("heading", name="Profile")).to_be_visible()
    assert "/account" in page.url
    cookies = {c["name"]: c for c in context.cookies()}
    assert cookies["pichr_refresh"]["httpOnly"] is True
    assert cookies["pichr_refresh"]["sameSite"] == "Strict"
    assert "pichr_refresh" not in page.evaluate("document.cookie")


def test_next_goes_only_to_this_site(page: Any, web_server: Any) -> None:
    user = create_user(web_server, unique("next"))
    page.goto("/signin?next=//evil.example/x")
    sign_in_with_form(page, user["username"])
    page.wait_for_url(f"{web_server.url}/my")
    # Signed in already: the page offers to go on.
    page.goto("/signin?next=/upload")
    expect(page.get_by_role("heading", name="You are signed in")).to_be_visible()
    page.get_by_role("link", name="Continue").click()
    page.wait_for_url("**/upload")


def test_account_needs_sign_in(page: Any, web_server: Any) -> None:
    page.goto("/account")
    page.wait_for_url("**/signin?next=%2Faccount")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


def test_api_key_is_shown_once_listed_and_revoked(page: Any, context: Any, web_server: Any) -> None:
    user = create_user(web_server, unique("keys"))
    sign_in(context, web_server, user["username"])
    page.goto("/account")
    keys = page.get_by_role("region", name="API keys")
    keys.get_by_label("Name", exact=True).fill("laptop <script>")
    keys.get_by_label("Read files and albums").check()
    keys.get_by_role("button", name="Create key").click()
    secret = keys.get_by_label("API key", exact=True)
    expect(secret).to_have_value(API_KEY)
    key = secret.input_value()
    expect(keys.get_by_text("This key is shown only now.")).to_be_visible()
    expect(keys.get_by_role("button", name="Copy api key")).to_be_visible()
    answer = httpx.get(f"{web_server.url}/api/v1/files", headers={"Authorization": f"Bearer {key}"})
    assert answer.status_code == 200

    page.reload()
    row = page.get_by_role("row", name="laptop <script>")
    expect(row).to_be_visible()
    expect(row).to_contain_text("upload, read")
    assert key not in page.content()
    assert key[:6] in row.inner_text()

    row.get_by_role("button", name="Revoke laptop <script>").click()
    row.get_by_role("button", name="Keep").click()
    expect(row).to_be_visible()
    row.get_by_role("button", name="Revoke laptop <script>").click()
    row.get_by_role("button", name="Yes, revoke").click()
    expect(page.get_by_role("row", name="laptop <script>")).to_have_count(0)
    expect(page.get_by_text("No API keys yet.")).to_be_visible()
    answer = httpx.get(f"{web_server.url}/api/v1/files", headers={"Authorization": f"Bearer {key}"})
    assert answer.status_code == 401


def test_profile_and_password_change(page: Any, context: Any, web_server: Any) -> None:
    user = create_user(web_server, unique("prof"))
    sign_in(context, web_server, user["username"])
    page.goto("/account")
    profile = page.get_by_role("region", name="Profile")
    renamed = unique("renamed")
    profile.get_by_label("First name").fill("Grace")
    profile.get_by_label("Username").fill(renamed)
    profile.get_by_role("button", name="Save profile").click()
    expect(page.locator("#status")).to_have_text("Profile saved")
    expect(nav(page).get_by_role("link", name=renamed)).to_be_visible()
    me = httpx.get(
        f"{web_server.url}/api/v1/auth/me",
        headers={"Authorization": f"Bearer {api_token(web_server, renamed)}"},
    ).json()["user"]
    assert (me["firstName"], me["username"]) == ("Grace", renamed)

    password = page.get_by_role("region", name="Password")
    password.get_by_label("Current password").fill("wrong password")
    password.get_by_label("New password").fill("a brand new secret")
    password.get_by_role("button", name="Change password").click()
    expect(page.locator("#password-form-error")).to_have_text("Current password: does not match")
    password.get_by_label("Current password").fill(PASSWORD)
    password.get_by_label("New password").fill("a brand new secret")
    password.get_by_role("button", name="Change password").click()
    expect(page.locator("#status")).to_contain_text("Password changed")
    login = f"{web_server.url}/api/v1/auth/login"
    assert httpx.post(login, json={"email": renamed, "password": PASSWORD}).status_code == 401
    ok = httpx.post(login, json={"email": renamed, "password": "a brand new secret"})
    assert ok.status_code == 200
    page.reload()  # the session that changed the password stays signed in
    expect(page.get_by_role("heading", name="Profile")).to_be_visible()


def test_usage_sharex_and_export(page: Any, context: Any, web_server: Any) -> None:
    user = create_user(web_server, unique("data"))
    sign_in(context, web_server, user["username"])
    page.goto("/account")
    usage = page.get_by_role("region", name="Storage")
    expect(usage).to_contain_text("0 bytes of 5.0 GB used")

    with page.expect_download() as sharex:
        page.get_by_role("button", name="Download ShareX configuration").click()
    assert sharex.value.suggested_filename.endswith(".sxcu")
    sxcu = json.loads(Path(sharex.value.path()).read_text(encoding="utf-8"))
    assert sxcu["RequestURL"].endswith("/api/v1/upload")
    expect(page.get_by_role("row", name="ShareX")).to_be_visible()  # its key is listed

    with page.expect_download() as export:
        page.get_by_role("button", name="Download my data (ZIP)").click()
    assert export.value.suggested_filename.startswith(f"pichr-export-{user['username']}-")
    with zipfile.ZipFile(io.BytesIO(Path(export.value.path()).read_bytes())) as archive:
        assert archive.namelist()
    expect(page.get_by_role("region", name="Export")).to_contain_text("Export ready")


def test_delete_account(page: Any, context: Any, web_server: Any) -> None:
    user = create_user(web_server, unique("bye"))
    sign_in(context, web_server, user["username"])
    page.goto("/account")
    danger = page.get_by_role("region", name="Delete account")
    danger.get_by_label("Your password").fill("not it")
    danger.get_by_role("button", name="Delete my account").click()
    expect(page.locator("#delete-form-error")).to_have_text("Password: does not match")
    danger.get_by_label("Your password").fill(PASSWORD)
    danger.get_by_role("button", name="Delete my account").click()
    page.wait_for_url(f"{web_server.url}/")
    page.goto("/signin")
    expect(nav(page).get_by_role("link", name="Sign in")).to_be_visible()
    answer = httpx.post(
        f"{web_server.url}/api/v1/auth/login",
        json={"email": user["username"], "password": PASSWORD},
    )
    assert answer.status_code == 401


def test_pages_fit_a_360px_phone(page: Any, context: Any, web_server: Any) -> None:
    page.set_viewport_size({"width": 360, "height": 800})
    page.goto("/signup")
    expect(page.get_by_role("button", name="Create account")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    user = create_user(web_server, unique("phone"))
    sign_in(context, web_server, user["username"])
    page.goto("/account")
    keys = page.get_by_role("region", name="API keys")
    keys.get_by_label("Name", exact=True).fill("a key with a rather long name")
    keys.get_by_role("button", name="Create key").click()
    expect(page.get_by_role("row", name="a key with a rather long name")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 360


def test_account_page_shows_the_supabase_anon_key(page: Any, context: Any, web_server: Any) -> None:
    user = create_user(web_server, unique("dev"))
    sign_in(context, web_server, user["username"])
    page.goto("/account")
    key = (web_server.data_dir / "supabase-anon.key").read_text().strip()
    expect(page.get_by_label("Supabase anon key")).to_have_value(key)
    expect(page.get_by_label("Supabase URL")).to_have_value(web_server.url)
    expect(page.get_by_label("API base URL")).to_have_value(f"{web_server.url}/api/v1")
