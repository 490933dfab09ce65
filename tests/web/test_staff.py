"""Staff pages (/staff, /staff/audit, /staff/users, /staff/stats) in a real browser
against a real server: the queue and its decisions, the audit log, accounts, figures,
and the refusal for everyone the API refuses."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from .library_helpers import Account, eventually, no_dialogs


def report(server: Any, file_id: str, reason: str = "spam", details: str = "", by=None) -> str:
    client = by.http if by else httpx.Client(base_url=server.url)
    r = client.post(
        "/api/v1/moderation/report", json={"fileId": file_id, "reason": reason, "details": details}
    )
    assert r.status_code == 201, r.text
    return r.json()["id"]


@pytest.fixture(scope="module")
def admin(web_server: Any) -> Account:
    """One admin for the module (made with the CLI, as an operator would)."""
    return Account(web_server, "admin", "adm")


def queue_item(tab: Any, target_id: str) -> Any:
    return tab.locator(f'li.queue-item[data-target-id="{target_id}"]')


def test_admin_removes_a_reported_file_and_sees_the_audit_entry(web_server, context, page, admin):
    owner = Account(web_server)
    file = owner.upload("Reported picture", visibility="private")
    reporter = Account(web_server)
    # The reporter cannot see a private file: report a public one, then the owner's
    # private one through the owner's own account... both kinds show in the queue.
    public = owner.upload("Reported in public")
    report(web_server, public["id"], "spam", "Adverts all over it", by=reporter)
    report(web_server, public["id"], "copyright")
    report(web_server, file["id"], "other", "found it", by=owner)
    admin.sign_in(context)
    page.goto("/staff")
    item = queue_item(page, public["id"])
    expect(item.get_by_role("heading")).to_have_text("Reported in public")
    expect(item).to_contain_text("2 reports: spam × 1, copyright × 1")
    expect(item).to_contain_text(f"owner {owner.username} (user)")
    item.get_by_text("The 2 reports").click()
    expect(item.locator(".report-details")).to_have_text("Adverts all over it")
    thumb = item.locator("img")
    expect(thumb).to_have_attribute("data-state", "loaded")
    # The private one is shown to staff through an object URL.
    expect(queue_item(page, file["id"]).locator("img")).to_have_attribute("data-state", "loaded")

    item.get_by_label("Action").select_option("remove")
    item.get_by_label("Note (optional)").fill("Spam, removed by the test")
    item.get_by_role("button", name="Apply decision").click()
    expect(page.locator("#status")).to_have_text("Remove: Reported in public")
    expect(queue_item(page, public["id"])).to_have_count(0)
    gone = owner.http.get(f"/api/v1/files/{public['id']}")
    assert (gone.status_code, gone.json()["code"]) == (410, "removed")
    assert httpx.get(f"{web_server.url}/i/{public['id']}").status_code == 410

    page.get_by_role("navigation", name="Staff pages").get_by_role("link", name="Audit log").click()
    row = page.locator("tbody tr", has_text=public["id"]).first
    expect(row).to_contain_text("remove")
    expect(row).to_contain_text("Spam, removed by the test")
    expect(row).to_contain_text(admin.username)

    # The filter by target finds exactly that entry, and survives a reload.
    page.get_by_label("Target id").fill(public["id"])
    page.get_by_role("button", name="Apply filters").click()
    expect(page.locator("tbody tr")).to_have_count(1)
    page.reload()
    expect(page.get_by_label("Target id")).to_have_value(public["id"])
    expect(page.locator("tbody tr")).to_have_count(1)

    # Resolved reports are listed under "Resolved".
    page.goto("/staff")
    page.get_by_label("Reports").select_option("resolved")
    expect(queue_item(page, public["id"])).to_contain_text("resolved: remove")


def test_dismiss_and_ban_the_owner(web_server, context, page, admin):
    owner = Account(web_server)
    file = owner.upload("Harmless")
    report(web_server, file["id"], "nsfw")
    admin.sign_in(context)
    page.goto("/staff")
    item = queue_item(page, file["id"])
    item.get_by_label("Ban the owner (disable the account)").check()
    item.get_by_role("button", name="Apply decision").click()
    expect(page.locator("#status")).to_have_text("Dismiss: Harmless; the owner is banned")
    users = admin.http.get("/api/v1/admin/users", params={"q": owner.username}).json()["users"]
    assert users[0]["disabled"] is True
    assert owner.http.get("/api/v1/auth/me").status_code == 401


def test_users_without_the_role_are_refused(web_server, context, page):
    user = Account(web_server)
    victim = user.upload("Someone's picture")
    report(web_server, victim["id"], "spam", "SECRET-DETAILS")
    user.sign_in(context)
    for path, title in (
        ("/staff", "Moderation"),
        ("/staff/audit", "Audit log"),
        ("/staff/users", "Users"),
        ("/staff/stats", "Statistics"),
    ):
        page.goto(path)
        expect(page.get_by_text("You do not have access to this page.")).to_be_visible()
        expect(page.get_by_role("heading", level=1)).to_have_text(title)
        assert page.locator("li.queue-item, table, .user-card, .stats").count() == 0
        expect(page.get_by_role("navigation", name="Staff pages")).to_have_count(0)
        assert "SECRET-DETAILS" not in page.content()
    # The site navigation has no staff links for them.
    expect(page.get_by_role("link", name="Moderation")).to_have_count(0)


def test_moderators_see_the_queue_but_not_the_admin_pages(web_server, context, page):
    mod = Account(web_server, "moderator", "mod")
    mod.sign_in(context)
    page.goto("/staff")
    nav = page.get_by_role("navigation", name="Staff pages")
    expect(nav.get_by_role("link", name="Queue")).to_have_attribute("aria-current", "page")
    expect(nav.get_by_role("link", name="Users")).to_have_count(0)
    page.goto("/staff/users")
    expect(page.get_by_text("You do not have access to this page.")).to_be_visible()
    assert page.locator(".user-card").count() == 0
    page.goto("/staff/stats")
    expect(page.get_by_text("You do not have access to this page.")).to_be_visible()


def test_admin_changes_plan_and_role_and_sees_refusals(web_server, context, page, admin):
    target = Account(web_server)
    admin.sign_in(context)
    page.goto("/staff/users")
    page.get_by_label("Email or username").fill(target.username)
    page.get_by_role("button", name="Search").click()
    card = page.locator(f'form.user-card[data-user-id="{target.id}"]')
    expect(page.locator("form.user-card")).to_have_count(1)
    assert f"q={target.username}" in page.url
    expect(card.get_by_label("Plan")).to_have_value("free")
    card.get_by_label("Plan").fill("pro")
    card.get_by_label("Role").select_option("moderator")
    card.get_by_role("button", name="Save changes").click()
    expect(page.locator("#status")).to_have_text(f"Saved {target.username}")
    me = target.http.get("/api/v1/auth/me").json()["user"]
    assert (me["plan"], me["role"]) == ("pro", "moderator")

    # An unknown plan: the server's words, and the form shows the stored values again.
    card.get_by_label("Plan").fill("platinum")
    card.get_by_role("button", name="Save changes").click()
    expect(page.locator("#alert")).to_contain_text("plan")
    expect(card.get_by_label("Plan")).to_have_value("pro")

    card.get_by_label("Disabled").check()
    card.get_by_role("button", name="Save changes").click()
    expect(card.locator("legend")).to_contain_text("Disabled")
    assert target.http.get("/api/v1/auth/me").status_code == 401

    # Their own account: the server refuses a self-demotion.
    page.get_by_label("Email or username").fill(admin.username)
    page.get_by_role("button", name="Search").click()
    own = page.locator(f'form.user-card[data-user-id="{admin.id}"]')
    own.get_by_label("Role").select_option("user")
    own.get_by_role("button", name="Save changes").click()
    expect(page.locator("#alert")).to_have_text("You cannot demote or disable your own account")


def test_stats_show_the_site_figures(web_server, context, page, admin):
    figures = admin.http.get("/api/v1/admin/stats").json()
    admin.sign_in(context)
    page.goto("/staff/stats")
    accounts = page.locator(".stat", has=page.get_by_text("Accounts", exact=True))
    expect(accounts.locator("dd")).to_have_text(str(figures["users"]))
    open_reports = page.locator(".stat", has=page.get_by_text("Open reports", exact=True))
    expect(open_reports.locator("dd")).to_have_text(str(figures["reportsOpen"]))


def test_hostile_text_in_the_queue_is_text(web_server, context, page, admin):
    owner = Account(web_server)
    hostile = "<img src=x onerror=alert(1)>"
    file = owner.upload(hostile)
    report(web_server, file["id"], "other", "<script>alert(2)</script>")
    dialogs = no_dialogs(page)
    admin.sign_in(context)
    page.goto("/staff")
    item = queue_item(page, file["id"])
    expect(item.get_by_role("heading")).to_have_text(hostile)
    item.get_by_text("The 1 report").click()
    expect(item.locator(".report-details")).to_have_text("<script>alert(2)</script>")
    assert page.locator("main img[src='x'], main script").count() == 0
    page.goto("/staff/audit")
    eventually(lambda: page.locator("tbody tr").count() > 0)
    page.wait_for_timeout(300)
    assert dialogs == []
