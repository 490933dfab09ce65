"""Administration through the API: accounts, roles, plans, disabling, figures, audit."""

import pytest

from pichr_appliance.models import User
from pichr_appliance.testing import sample_image_bytes


@pytest.fixture
def admin(pichr_client):
    account = pichr_client.signup("chief")
    pichr_client.run(User.filter(id=account["user"]["id"]).update(role="admin"))
    return account


def test_list_search_and_paging(pichr_client, admin):
    h = admin["headers"]
    for name in ("alice", "bob", "alina"):
        pichr_client.signup(name)
    r = pichr_client.get("/api/v1/admin/users", headers=h)
    assert r.status == 200 and r.json["total"] == 4 and r.json["limit"] == 20
    assert r.json["users"][0]["username"] == "chief" and "usage" in r.json["users"][0]
    found = pichr_client.get("/api/v1/admin/users?q=ali", headers=h).json
    assert sorted(u["username"] for u in found["users"]) == ["alice", "alina"]
    page = pichr_client.get("/api/v1/admin/users?limit=2&offset=2", headers=h).json
    assert [u["username"] for u in page["users"]] == ["bob", "alina"] and page["total"] == 4
    assert pichr_client.get("/api/v1/admin/users?limit=0", headers=h).status == 400


def test_admin_only_and_session_only(pichr_client, admin):
    user = pichr_client.signup()
    mod = pichr_client.signup()
    pichr_client.run(User.filter(id=mod["user"]["id"]).update(role="moderator"))
    key = pichr_client.post(
        "/api/v1/api-keys", headers=admin["headers"], json={"name": "k", "permissions": ["read"]}
    ).json["key"]
    target = f"/api/v1/admin/users/{user['user']['id']}"
    for headers, status in (
        (None, 401),
        (user["headers"], 403),
        (mod["headers"], 403),
        ({"Authorization": f"Bearer {key}"}, 403),
    ):
        assert pichr_client.get("/api/v1/admin/users", headers=headers).status == status
        assert pichr_client.get("/api/v1/admin/stats", headers=headers).status == status
        r = pichr_client.patch(target, headers=headers, json={"role": "admin"})
        assert r.status == status
    assert pichr_client.run(User.get(id=user["user"]["id"])).role == "user"


def test_patch_role_plan_disabled_and_bad_input(pichr_client, admin):
    h = admin["headers"]
    u = pichr_client.signup()
    path = f"/api/v1/admin/users/{u['user']['id']}"
    r = pichr_client.patch(path, headers=h, json={"role": "moderator", "plan": "pro"})
    assert r.status == 200
    assert r.json["user"]["role"] == "moderator" and r.json["user"]["plan"] == "pro"
    for bad in (
        {"role": "king"},
        {"plan": "platinum"},
        {"plan": "anonymous"},
        {"disabled": "yes"},
    ):
        r = pichr_client.patch(path, headers=h, json=bad)
        assert r.status == 400, bad
    as_json = {**h, "Content-Type": "application/json"}
    assert pichr_client.patch(path, headers=as_json, content=b"[]").status == 400
    assert pichr_client.patch("/api/v1/admin/users/usr_nobody", headers=h, json={}).status == 404
    me = f"/api/v1/admin/users/{admin['user']['id']}"
    assert pichr_client.patch(me, headers=h, json={"disabled": True}).status == 403
    assert pichr_client.patch(me, headers=h, json={"role": "user"}).status == 403
    assert pichr_client.patch(me, headers=h, json={"plan": "pro"}).status == 200
    entries = pichr_client.get("/api/v1/moderation/audit", headers=h).json["entries"]
    assert [(e["action"], e["data"]) for e in entries] == [
        ("set_plan", {"from": "free", "to": "pro"}),
        ("set_plan", {"from": "free", "to": "pro"}),
        ("set_role", {"from": "user", "to": "moderator"}),
    ]
    assert entries[0]["actor"] == "chief" and entries[0]["targetId"] == admin["user"]["id"]


def test_disabling_revokes_at_once_and_hides_content(pichr_client, admin):
    owner = pichr_client.signup()
    oh = owner["headers"]
    fid = pichr_client.upload(owner)["id"]
    album = pichr_client.post("/api/v1/albums", headers=oh, json={"title": "a", "fileIds": [fid]})
    key = pichr_client.post(
        "/api/v1/api-keys", headers=oh, json={"name": "k", "permissions": ["read"]}
    ).json["key"]
    path = f"/api/v1/admin/users/{owner['user']['id']}"
    r = pichr_client.patch(path, headers=admin["headers"], json={"disabled": True})
    assert r.status == 200 and r.json["user"]["disabled"] is True
    assert pichr_client.get("/api/v1/auth/me", headers=oh).status in (401, 403)
    assert (
        pichr_client.get("/api/v1/files", headers={"Authorization": f"Bearer {key}"}).status == 401
    )
    login = {"email": owner["user"]["email"], "password": owner["password"]}
    assert pichr_client.post("/api/v1/auth/login", json=login).status == 403
    assert pichr_client.get(f"/i/{fid}").status == 404
    assert pichr_client.get(f"/api/v1/files/{fid}").status == 404
    assert pichr_client.get(f"/api/v1/albums/{album.json['id']}").status == 404
    assert pichr_client.get("/api/v1/files/public").json["total"] == 0
    # Enabled again: content is back; the old credentials stay revoked.
    pichr_client.patch(path, headers=admin["headers"], json={"disabled": False})
    assert pichr_client.get(f"/api/v1/files/{fid}").status == 200
    assert pichr_client.get(f"/api/v1/albums/{album.json['id']}").status == 200
    assert pichr_client.get("/api/v1/auth/me", headers=oh).status == 401
    assert pichr_client.post("/api/v1/auth/login", json=login).status == 200


def test_stats(pichr_client, admin):
    h = admin["headers"]
    u = pichr_client.signup()
    a = pichr_client.upload(u, sample_image_bytes("PNG", color=(1, 1, 1)))
    b = pichr_client.upload(u, sample_image_bytes("PNG", color=(2, 200, 2)))
    pichr_client.post("/api/v1/albums", headers=u["headers"], json={"title": "t"})
    pichr_client.post("/api/v1/moderation/report", json={"fileId": a["id"], "reason": "spam"})
    r = pichr_client.get("/api/v1/admin/stats", headers=h)
    assert r.status == 200
    assert r.json == {
        "users": 2,
        "disabledUsers": 0,
        "files": 2,
        "removedFiles": 0,
        "bytes": a["bytes"] + b["bytes"],
        "albums": 1,
        "reportsOpen": 1,
    }


def test_patching_an_over_long_user_id_is_404(pichr_client, admin):
    # Found by the OpenAPI fuzz test: 500 from Tortoise's length check on the lookup.
    r = pichr_client.patch(
        "/api/v1/admin/users/usr_" + "u" * 40, headers=admin["headers"], json={"plan": "pro"}
    )
    assert r.status == 404 and r.json["code"] == "not_found"
