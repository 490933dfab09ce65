"""The optional storage capabilities the core uses: redirect serving, bucket uploads,
and storage failures answered as 503 with nothing half-visible.

The backends here are the real local backend with one capability switched on, loaded
from ``plugins.dir`` exactly as a third-party plugin would be.
"""

import textwrap
from urllib.parse import urlsplit

import pytest

from pichr_appliance.models import File, Upload
from pichr_appliance.testing import sample_image_bytes

PLUGIN = """
from urllib.parse import quote

from pichr_appliance import hookimpl
from pichr_appliance.storage.base import StorageError
from pichr_appliance.storage.local import LocalStorage


class RedirectingStorage(LocalStorage):
    name = "redirecting"
    redirects = True

    async def redirect_url(self, key, *, public, content_type=None, download_name=None):
        if public and not download_name:
            return f"https://cdn.test/{key}", 86400
        extra = "&dl=" + quote(download_name) if download_name else ""
        return "https://signed.test/" + key + "?ct=" + quote(content_type, safe="") + extra, 300


class InboxStorage(LocalStorage):
    # Hands out URLs of its own; the test writes the "uploaded" bytes with put().
    name = "inbox"
    direct_uploads = True

    async def presign_put(self, key, *, content_type, expires):
        ct = quote(content_type, safe="")
        return f"https://bucket.test/{key}?ct={ct}&exp={expires}"


class BrokenStorage(LocalStorage):
    name = "broken"

    async def put_file(self, key, path, *, content_type=None, move=False):
        raise StorageError("the bucket went away")


@hookimpl
def register_storage_backends(settings):
    return [RedirectingStorage, InboxStorage, BrokenStorage]
"""


@pytest.fixture
def backend():
    return "redirecting"


@pytest.fixture
def pichr_overrides(tmp_path, backend):
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "capabilities.py").write_text(textwrap.dedent(PLUGIN))
    return {"plugins": {"dir": str(folder)}, "storage": {"backend": backend}}


def test_redirect_serving_sends_clients_to_the_store(pichr_client, pichr_user):
    h = pichr_user["headers"]
    public = pichr_client.upload(pichr_user)
    r = pichr_client.get(f"/i/{public['id']}")
    key = pichr_client.run(File.get(id=public["id"])).storage_key
    assert r.status == 302
    assert r.headers["location"] == f"https://cdn.test/{key}"
    # half the URL's lifetime, capped at images.cache_max_age (a moderator relies on it)
    assert r.headers["cache-control"] == "public, max-age=300"

    r = pichr_client.get(f"/i/{public['id']}?download=1")
    assert r.status == 302 and "dl=pic.png" in r.headers["location"]

    private = pichr_client.upload(pichr_user, visibility="private")
    assert pichr_client.get(f"/i/{private['id']}").status == 404  # rules still apply first
    r = pichr_client.get(f"/i/{private['id']}", headers=h)
    assert r.status == 302
    assert r.headers["location"].startswith("https://signed.test/uploads/")
    assert "ct=image%2Fpng" in r.headers["location"]
    assert r.headers["cache-control"] == "private, no-store"

    # Variants are made (once) and then redirected to as well.
    r = pichr_client.get(f"/i/{public['id']}?w=64&format=webp")
    # a 64 px request of a smaller image is the original size (variants never upscale)
    assert r.status == 302 and r.headers["location"].endswith("x0-contain.webp")


@pytest.mark.parametrize("backend", ["inbox"])
def test_bucket_uploads_are_verified_at_finalize(pichr_client, pichr_user):
    h = pichr_user["headers"]
    rt = pichr_client.app.ctx.runtime
    data = sample_image_bytes("PNG")
    body = {"filename": "pic.png", "mime": "image/png", "bytes": len(data)}
    p = pichr_client.post("/api/v1/upload/presign", headers=h, json=body).json
    staging = f"incoming/{p['uploadId']}"
    assert p["uploadUrl"] == f"https://bucket.test/{staging}?ct=image%2Fpng&exp=3600"
    fin = {"uploadId": p["uploadId"], "fileId": p["fileId"]}

    r = pichr_client.post("/api/v1/upload/finalize", headers=h, json=fin)
    assert r.status == 409 and r.json["code"] == "upload_incomplete"

    async def land(payload: bytes) -> None:
        async def one():
            yield payload

        await rt.storage.put(staging, one())

    # Bytes that are not the declared image: refused, deleted, nothing visible.
    pichr_client.run(land(b"GIF89a" + b"\0" * (len(data) - 6)))
    r = pichr_client.post("/api/v1/upload/finalize", headers=h, json=fin)
    assert r.status == 415
    assert pichr_client.run(rt.storage.size(staging)) is None
    assert pichr_client.get(f"/i/{p['fileId']}").status == 404
    assert pichr_client.get("/api/v1/files", headers=h).json["total"] == 0

    # The client PUTs again (same URL) and finalizes: processed like a direct PUT.
    pichr_client.run(land(data))
    r = pichr_client.post("/api/v1/upload/finalize", headers=h, json=fin)
    assert r.status == 200, r.text
    assert r.json["status"] == "ready" and r.json["width"] == 64
    assert pichr_client.run(rt.storage.size(staging)) is None
    assert pichr_client.get(f"/i/{p['fileId']}").content == data
    again = pichr_client.post("/api/v1/upload/finalize", headers=h, json=fin)
    assert again.status == 200 and again.json["id"] == p["fileId"]

    # Multipart never goes to the bucket directly.
    init = {"filename": "b.png", "mime": "image/png", "totalBytes": 100, "partSize": 100}
    r = pichr_client.post("/api/v1/upload/multipart/init", headers=h, json=init)
    assert urlsplit(r.json["partUrls"][0]).path.startswith("/api/v1/upload/multipart/")


@pytest.mark.parametrize("backend", ["inbox"])
def test_sweeper_ingests_bucket_uploads_nobody_finalized(pichr_client, pichr_user):
    from pichr_appliance.services import sweeper

    h = pichr_user["headers"]
    rt = pichr_client.app.ctx.runtime
    data = sample_image_bytes("PNG")
    body = {"filename": "pic.png", "mime": "image/png", "bytes": len(data)}
    p = pichr_client.post("/api/v1/upload/presign", headers=h, json=body).json
    waiting = pichr_client.post("/api/v1/upload/presign", headers=h, json=body).json

    async def one():
        yield data

    pichr_client.run(rt.storage.put(f"incoming/{p['uploadId']}", one()))
    done = pichr_client.run(sweeper.sweep(rt))
    assert done["bucketUploads"] == 1
    assert pichr_client.get(f"/api/v1/files/{p['fileId']}", headers=h).json["status"] == "ready"
    left = pichr_client.run(Upload.get(id=waiting["uploadId"]))
    assert left.status == "pending"


@pytest.mark.parametrize("backend", ["broken"])
def test_storage_failure_is_503_and_leaves_nothing_visible(pichr_client, pichr_user):
    h = pichr_user["headers"]
    data = sample_image_bytes("PNG")
    body = {"filename": "pic.png", "mime": "image/png", "bytes": len(data)}
    p = pichr_client.post("/api/v1/upload/presign", headers=h, json=body).json
    r = pichr_client.put(
        urlsplit(p["uploadUrl"]).path + "?" + urlsplit(p["uploadUrl"]).query, content=data
    )
    assert r.status == 503
    assert r.json["code"] == "storage_unavailable" and r.headers["retry-after"] == "5"
    assert "Traceback" not in r.text
    assert pichr_client.get(f"/i/{p['fileId']}").status == 404
    assert pichr_client.get("/api/v1/files", headers=h).json["total"] == 0
    assert pichr_client.run(Upload.get(id=p["uploadId"])).status == "pending"  # may retry
    me = pichr_client.get("/api/v1/auth/me", headers=h).json["user"]
    assert me["usage"]["files"] == 0
