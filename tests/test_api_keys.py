"""API keys: shown once, hashed, permissions, expiry, revocation, session-only routes."""

import re
from datetime import UTC, datetime, timedelta

from pichr_appliance.models import ApiKey

KEYS = "/api/v1/api-keys"


def make_key(client, headers, **kw):
    body = {"name": "laptop", "permissions": ["upload", "read"]}
    body.update(kw)
    return client.post(KEYS, headers=headers, json=body)


def test_create_list_and_use(pichr_client, pichr_user):
    h = pichr_user["headers"]
    r = make_key(pichr_client, h)
    assert r.status == 201
    data = r.json
    assert re.fullmatch(r"pk_[1-9A-HJ-NP-Za-km-z]{32}", data["key"])
    assert data["id"].startswith("key_") and data["prefix"] == data["key"][:8]
    assert data["permissions"] == ["upload", "read"] and data["lastUsedAt"] is None
    assert set(data) == {
        "id",
        "name",
        "key",
        "prefix",
        "permissions",
        "createdAt",
        "expiresAt",
        "lastUsedAt",
    }
    # Only a digest is stored.
    row = pichr_client.run(ApiKey.get(id=data["id"]))
    assert data["key"] not in row.key_hash
    listed = pichr_client.get(KEYS, headers=h).json["apiKeys"]
    assert [k["id"] for k in listed] == [data["id"]] and "key" not in listed[0]
    kh = {"Authorization": f"Bearer {data['key']}"}
    me = pichr_client.get("/api/v1/auth/me", headers=kh)
    assert me.status == 200 and me.json["user"]["id"] == pichr_user["user"]["id"]
    listed = pichr_client.get(KEYS, headers=h).json["apiKeys"]
    assert listed[0]["lastUsedAt"] is not None


def test_keys_refused_on_session_only_routes(pichr_client, pichr_user):
    key = make_key(pichr_client, pichr_user["headers"]).json["key"]
    kh = {"Authorization": f"Bearer {key}"}
    assert pichr_client.get(KEYS, headers=kh).status == 403
    assert make_key(pichr_client, kh).status == 403
    r = pichr_client.post("/api/v1/auth/logout", headers=kh)
    assert r.status == 403 and r.json["code"] == "session_required"
    assert pichr_client.patch("/api/v1/auth/me", headers=kh, json={"firstName": "x"}).status == 403


def test_revoke_and_expiry(pichr_client, pichr_user):
    h = pichr_user["headers"]
    data = make_key(pichr_client, h).json
    kh = {"Authorization": f"Bearer {data['key']}"}
    assert pichr_client.delete(f"{KEYS}/{data['id']}", headers=h).status == 204
    assert pichr_client.get("/api/v1/auth/me", headers=kh).status == 401
    assert pichr_client.delete(f"{KEYS}/{data['id']}", headers=h).status == 404
    soon = make_key(
        pichr_client, h, expiresAt=(datetime.now(UTC) + timedelta(hours=1)).isoformat()
    ).json
    assert soon["expiresAt"].endswith("Z")
    pichr_client.run(
        ApiKey.filter(id=soon["id"]).update(expires_at=datetime.now(UTC) - timedelta(seconds=1))
    )
    kh = {"Authorization": f"Bearer {soon['key']}"}
    assert pichr_client.get("/api/v1/auth/me", headers=kh).status == 401
    # A made-up key of the right shape is refused too.
    fake = {"Authorization": "Bearer pk_" + "1" * 32}
    assert pichr_client.get("/api/v1/auth/me", headers=fake).status == 401


def test_foreign_key_cannot_be_revoked(pichr_client, pichr_user):
    data = make_key(pichr_client, pichr_user["headers"]).json
    other = pichr_client.signup()
    r = pichr_client.delete(f"{KEYS}/{data['id']}", headers=other["headers"])
    assert r.status == 404


def test_bad_input(pichr_client, pichr_user):
    h = pichr_user["headers"]
    for body, field in [
        ({"name": "", "permissions": ["read"]}, "name"),
        ({"name": "x", "permissions": []}, "permissions"),
        ({"name": "x", "permissions": ["admin"]}, "permissions"),
        ({"name": "x", "permissions": "read"}, "permissions"),
        ({"name": "x", "permissions": ["read"], "expiresAt": "yesterday"}, "expiresAt"),
        ({"name": "x", "permissions": ["read"], "expiresAt": "2001-01-01T00:00:00Z"}, "expiresAt"),
        ({"permissions": ["read"]}, "name"),
    ]:
        r = pichr_client.post(KEYS, headers=h, json=body)
        assert r.status == 400, (body, r.text)
        assert field in r.json["error"]
    assert pichr_client.post(KEYS, json={"name": "x", "permissions": ["read"]}).status == 401


def test_revoking_an_over_long_id_is_404(pichr_client, pichr_user):
    # Found by the OpenAPI fuzz test: 500 from Tortoise's length check on the lookup.
    r = pichr_client.delete("/api/v1/api-keys/key_" + "k" * 50, headers=pichr_user["headers"])
    assert r.status == 404 and r.json["code"] == "not_found"


def test_finalize_needs_the_upload_permission(pichr_client, pichr_user, sample_image):
    from urllib.parse import urlsplit

    h = pichr_user["headers"]
    read_only = make_key(pichr_client, h, permissions=["read"]).json["key"]
    uploader = make_key(pichr_client, h, permissions=["upload"]).json["key"]
    body = {"filename": "a.png", "mime": "image/png", "bytes": len(sample_image())}
    presign = pichr_client.post("/api/v1/upload/presign", headers=h, json=body).json
    url = urlsplit(presign["uploadUrl"])
    put = pichr_client.put(f"{url.path}?{url.query}", content=sample_image())
    assert put.status in (200, 201, 204)
    done = {"uploadId": presign["uploadId"], "fileId": presign["fileId"]}
    r = pichr_client.post(
        "/api/v1/upload/finalize", headers={"Authorization": f"Bearer {read_only}"}, json=done
    )
    assert r.status == 403 and r.json["code"] == "insufficient_permissions", r.text
    r = pichr_client.post(
        "/api/v1/upload/finalize", headers={"Authorization": f"Bearer {uploader}"}, json=done
    )
    assert r.status == 200, r.text
