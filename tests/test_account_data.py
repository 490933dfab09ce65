"""GDPR: the streamed ZIP export and account deletion (complete, and resumable)."""

import io
import json
import os
import zipfile

from PIL import Image

from pichr_appliance.models import Album, ApiKey, AuditEntry, File, Report, Session, User
from pichr_appliance.services import export
from pichr_appliance.testing import sample_image_bytes


def noise_png(width, height):
    img = Image.frombytes("RGB", (width, height), os.urandom(width * height * 3))
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=0)
    return buf.getvalue()


def test_export_zip_layout_and_contents(pichr_client, pichr_user):
    h = pichr_user["headers"]
    pic = sample_image_bytes("PNG", color=(1, 100, 1))
    f1 = pichr_client.upload(pichr_user, pic, filename="holiday photo.png")
    f2 = pichr_client.upload(pichr_user, sample_image_bytes("PNG"), visibility="private")
    gone = pichr_client.upload(pichr_user, sample_image_bytes("PNG", color=(3, 3, 250)))
    pichr_client.run(File.filter(id=gone["id"]).update(status="removed"))
    album = pichr_client.post(
        "/api/v1/albums", headers=h, json={"title": "a", "fileIds": [f2["id"], f1["id"]]}
    ).json
    pichr_client.post("/api/v1/api-keys", headers=h, json={"name": "k", "permissions": ["read"]})
    other = pichr_client.signup()
    theirs = pichr_client.upload(other, sample_image_bytes("PNG", color=(90, 9, 9)))
    pichr_client.post(
        "/api/v1/moderation/report", headers=h, json={"fileId": theirs["id"], "reason": "spam"}
    )

    r = pichr_client.get("/api/v1/account/export", headers=h)
    assert r.status == 200, r.text
    assert r.headers["content-type"] == "application/zip"
    assert r.headers["content-disposition"].startswith('attachment; filename="pichr-export-')
    assert "content-length" not in r.headers  # streamed, not built first
    zf = zipfile.ZipFile(io.BytesIO(r.content))
    assert zf.testzip() is None
    names = zf.namelist()
    assert names[:5] == [
        "profile.json",
        "files.json",
        "albums.json",
        "reports.json",
        "api-keys.json",
    ]
    assert names[-1] == "manifest.json"
    profile = json.loads(zf.read("profile.json"))
    assert profile["id"] == pichr_user["user"]["id"] and profile["usage"]["files"] == 3
    files = json.loads(zf.read("files.json"))
    assert {f["id"] for f in files} == {f1["id"], f2["id"], gone["id"]}
    assert json.loads(zf.read("albums.json"))[0]["fileIds"] == [f2["id"], f1["id"]]
    assert album["id"] == json.loads(zf.read("albums.json"))[0]["id"]
    reports = json.loads(zf.read("reports.json"))
    assert [x["fileId"] for x in reports] == [theirs["id"]]
    keys = json.loads(zf.read("api-keys.json"))
    assert keys[0]["name"] == "k" and "key" not in keys[0]
    assert zf.read(f"files/{f1['id']}/holiday-photo.png") == pic
    assert f"files/{f2['id']}/pic.png" in names
    assert not any(n.startswith(f"files/{gone['id']}") for n in names)  # removed: no bytes
    manifest = json.loads(zf.read("manifest.json"))
    assert manifest["originalsIncluded"] == 2
    assert manifest["originalsLeftOut"] == [{"id": gone["id"], "reason": "removed"}]
    assert theirs["id"] not in {f["id"] for f in files}


def test_export_streams_in_bounded_chunks(pichr_client, pichr_user):
    big = noise_png(1200, 1000)  # ~3.6 MB
    f = pichr_client.upload(pichr_user, big)
    user = pichr_client.run(User.get(id=pichr_user["user"]["id"]))
    rt = pichr_client.app.ctx.runtime

    async def collect():
        return [chunk async for chunk in export.stream(rt, user)]

    chunks = pichr_client.run(collect())
    assert sum(map(len, chunks)) > len(big)
    assert max(map(len, chunks)) < 2 * export.FLUSH_BYTES  # never the whole file at once
    zf = zipfile.ZipFile(io.BytesIO(b"".join(chunks)))
    assert zf.read(f"files/{f['id']}/pic.png") == big


def test_export_and_delete_need_a_session_and_the_password(pichr_client, pichr_user):
    h = pichr_user["headers"]
    key = pichr_client.post(
        "/api/v1/api-keys",
        headers=h,
        json={"name": "k", "permissions": ["read", "write", "delete"]},
    ).json["key"]
    kh = {"Authorization": f"Bearer {key}"}
    assert pichr_client.get("/api/v1/account/export").status == 401
    assert pichr_client.get("/api/v1/account/export", headers=kh).status == 403
    bad = {"Authorization": "Bearer not-a-token"}
    assert pichr_client.get("/api/v1/account/export", headers=bad).status == 401
    assert pichr_client.delete("/api/v1/account", json={"password": "x"}).status == 401
    r = pichr_client.delete(
        "/api/v1/account", headers=kh, json={"password": pichr_user["password"]}
    )
    assert r.status == 403
    assert pichr_client.delete("/api/v1/account", headers=h).status == 400
    assert pichr_client.delete("/api/v1/account", headers=h, json={}).status == 400
    r = pichr_client.delete("/api/v1/account", headers=h, json={"password": "wrong password"})
    assert r.status == 403 and r.json["code"] == "wrong_password"
    assert pichr_client.get("/api/v1/auth/me", headers=h).status == 200  # nothing happened


async def _keys(storage, prefix=""):
    return [k async for k in storage.list_keys(prefix)]


def test_delete_account_removes_everything(pichr_client, pichr_user):
    h = pichr_user["headers"]
    uid = pichr_user["user"]["id"]
    fids = [
        pichr_client.upload(pichr_user, sample_image_bytes("PNG", color=(i * 60, 0, 0)))["id"]
        for i in range(3)
    ]
    pichr_client.get(f"/i/{fids[0]}?w=64")  # a variant, to be deleted too
    pichr_client.post("/api/v1/albums", headers=h, json={"title": "a", "fileIds": fids})
    pichr_client.post("/api/v1/api-keys", headers=h, json={"name": "k", "permissions": ["read"]})
    other = pichr_client.signup()
    keep = pichr_client.upload(other, sample_image_bytes("PNG", color=(0, 0, 99)))["id"]
    pichr_client.post(
        "/api/v1/moderation/report", headers=h, json={"fileId": keep, "reason": "spam"}
    )
    storage = pichr_client.runtime.storage
    assert len(pichr_client.run(_keys(storage))) == 5

    r = pichr_client.delete("/api/v1/account", headers=h, json={"password": pichr_user["password"]})
    assert r.status == 204
    assert pichr_client.run(User.filter(id=uid).exists()) is False
    assert pichr_client.run(File.filter(id__in=fids).count()) == 0
    assert pichr_client.run(Album.filter(owner_id=uid).count()) == 0
    assert pichr_client.run(Session.filter(user_id=uid).count()) == 0
    assert pichr_client.run(ApiKey.filter(user_id=uid).count()) == 0
    keys = pichr_client.run(_keys(storage))
    assert len(keys) == 1 and keep in keys[0]  # only the other user's file is left
    # The report stays (without its reporter); the deletion is audited.
    assert pichr_client.run(Report.filter(target_id=keep).first()).reporter_id is None
    assert pichr_client.run(AuditEntry.filter(action="delete_account", target_id=uid).exists())
    assert pichr_client.get("/api/v1/auth/me", headers=h).status == 401
    r = pichr_client.post(
        "/api/v1/auth/login",
        json={"email": pichr_user["user"]["email"], "password": pichr_user["password"]},
    )
    assert r.status == 401


class FailOnce:
    """Storage whose ``delete`` fails once on the n-th call (a disk error halfway)."""

    def __init__(self, real, fail_at):
        self.real, self.calls, self.fail_at = real, 0, fail_at

    async def __call__(self, key):
        self.calls += 1
        if self.calls == self.fail_at:
            raise OSError("simulated I/O error")
        await self.real(key)


def test_a_failed_deletion_leaves_whole_files_and_a_retry_completes_it(
    pichr_client, pichr_user, monkeypatch
):
    h = pichr_user["headers"]
    email, password = pichr_user["user"]["email"], pichr_user["password"]
    for i in range(3):
        pichr_client.upload(pichr_user, sample_image_bytes("PNG", color=(0, i * 70, 0)))
    storage = pichr_client.runtime.storage
    monkeypatch.setattr(storage, "delete", FailOnce(storage.delete, fail_at=2))
    r = pichr_client.delete("/api/v1/account", headers=h, json={"password": password})
    assert r.status == 500
    left = pichr_client.run(File.filter(owner_id=pichr_user["user"]["id"]))
    assert len(left) == 2
    for f in left:  # no record without its bytes
        assert storage.local_path(f.storage_key).exists()
    assert len(pichr_client.run(_keys(storage))) == 2  # no bytes without a record
    monkeypatch.undo()

    session = pichr_client.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert session.status == 200
    h = {"Authorization": f"Bearer {session.json['session']['access_token']}"}
    assert (
        pichr_client.delete("/api/v1/account", headers=h, json={"password": password}).status == 204
    )
    assert pichr_client.run(_keys(storage)) == []
    assert pichr_client.run(User.filter(email=email).exists()) is False
