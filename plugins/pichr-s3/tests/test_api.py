"""The appliance with ``storage.backend = "s3"`` on a real SeaweedFS: uploads (direct
PUT, multipart, straight to the bucket), serving (proxy with ranges, redirect), cdnUrl,
deletion, and a store that fails in the middle of an upload."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from urllib.parse import urlsplit

import httpx
import pytest
from PIL import Image

from pichr_appliance.models import File
from pichr_appliance.testing import sample_image_bytes

MIB = 1024 * 1024


@pytest.fixture
def storage_extra():
    return {}


@pytest.fixture
def pichr_overrides(seaweed, storage_extra):
    return {"storage": seaweed.storage_settings(part_size=5 * MIB, **storage_extra)}


def rel(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def noise_png(side: int = 1400) -> bytes:
    """A valid PNG of ~side*side*3 bytes (noise does not compress)."""
    img = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=0)
    return buf.getvalue()


def object_key(client, file_id: str) -> str:
    storage = client.runtime.storage
    return storage.object_key(client.run(File.get(id=file_id)).storage_key)


def test_upload_serve_ranges_and_delete(pichr_client, pichr_user, seaweed, bucket_keys):
    h = pichr_user["headers"]
    data = sample_image_bytes("JPEG", size=(300, 200))
    f = pichr_client.upload(pichr_user, data=data, filename="pic.jpg", mime="image/jpeg")
    assert f["status"] == "ready" and f["width"] == 300 and f["cdnUrl"] is None
    prefix = pichr_client.runtime.storage.options.prefix
    key = object_key(pichr_client, f["id"])
    assert bucket_keys(prefix) == [key]  # the original, nothing left in staging

    r = pichr_client.get(f"/i/{f['id']}")
    assert r.status == 200 and r.content == data
    assert r.headers["content-type"] == "image/jpeg"
    r = pichr_client.get(f"/i/{f['id']}", headers={"Range": "bytes=10-19"})
    assert r.status == 206 and r.content == data[10:20]
    assert r.headers["content-range"] == f"bytes 10-19/{len(data)}"
    r = pichr_client.get(f"/i/{f['id']}", headers={"Range": "bytes=-5"})
    assert r.status == 206 and r.content == data[-5:]
    r = pichr_client.get(f"/i/{f['id']}?w=64&format=webp")
    assert r.status == 200 and r.headers["content-type"] == "image/webp"
    assert len(bucket_keys(prefix)) == 2  # the variant is stored in the bucket too

    assert pichr_client.delete(f"/api/v1/files/{f['id']}", headers=h).status == 204
    assert bucket_keys(prefix) == []


def test_large_files_stream_through_in_parts(pichr_client, pichr_user, seaweed, bucket_keys):
    """Direct PUT and the appliance's multipart flow, both larger than one S3 part."""
    h = pichr_user["headers"]
    prefix = pichr_client.runtime.storage.options.prefix
    data = noise_png()
    assert len(data) > 5 * MIB
    f = pichr_client.upload(pichr_user, data=data)
    head = seaweed.client().head_object(
        Bucket=seaweed.bucket, Key=object_key(pichr_client, f["id"])
    )
    assert head["ETag"].strip('"').endswith("-2")  # stored as an S3 multipart upload
    big_range = pichr_client.get(f"/i/{f['id']}", headers={"Range": "bytes=5242870-5242889"})
    assert big_range.status == 206 and big_range.content == data[5242870:5242890]

    body = {"filename": "m.png", "mime": "image/png", "totalBytes": len(data), "partSize": 5 * MIB}
    init = pichr_client.post("/api/v1/upload/multipart/init", headers=h, json=body).json
    parts = []
    for n, url in enumerate(init["partUrls"]):
        chunk = data[n * 5 * MIB : (n + 1) * 5 * MIB]
        r = pichr_client.put(rel(url), content=chunk)
        assert r.status == 200, r.text
        parts.append({"partNumber": r.json["partNumber"], "etag": r.json["etag"]})
    assert any(k.startswith(f"{prefix}multipart/") for k in bucket_keys(prefix))
    done = {"uploadId": init["uploadId"], "fileId": init["fileId"], "parts": parts}
    r = pichr_client.post("/api/v1/upload/multipart/complete", headers=h, json=done)
    assert r.status == 200, r.text
    assert r.json["sha256"] == f["sha256"]
    assert pichr_client.get(f"/i/{init['fileId']}").content == data
    assert not any("multipart/" in k for k in bucket_keys(prefix))  # parts cleaned up


@pytest.mark.parametrize("storage_extra", [{"public_base_url": "https://cdn.example/pub"}])
def test_cdn_url_comes_from_public_base_url(pichr_client, pichr_user):
    f = pichr_client.upload(pichr_user)
    key = object_key(pichr_client, f["id"])
    assert f["cdnUrl"] == f"https://cdn.example/pub/{key}"


@pytest.mark.parametrize("storage_extra", [{"serve": "redirect", "presign_expires": 120}])
def test_redirect_serving_uses_presigned_urls(pichr_client, pichr_user):
    h = pichr_user["headers"]
    data = sample_image_bytes("PNG")
    f = pichr_client.upload(pichr_user, data=data, visibility="private", filename="my pic.png")
    assert pichr_client.get(f"/i/{f['id']}").status == 404  # access rules come first
    r = pichr_client.get(f"/i/{f['id']}", headers=h)
    assert r.status == 302 and r.headers["cache-control"] == "private, no-store"
    location = r.headers["location"]
    assert "X-Amz-Signature=" in location and "X-Amz-Expires=120" in location
    fetched = httpx.get(location)
    assert fetched.status_code == 200 and fetched.content == data
    assert fetched.headers["content-type"] == "image/png"
    assert httpx.get(location.replace("X-Amz-Expires=120", "X-Amz-Expires=999")).status_code == 403

    r = pichr_client.get(f"/i/{f['id']}?download=1", headers=h)
    fetched = httpx.get(r.headers["location"])
    assert fetched.content == data
    assert fetched.headers["content-disposition"] == 'attachment; filename="my-pic.png"'

    public = pichr_client.upload(pichr_user, data=data)
    r = pichr_client.get(f"/i/{public['id']}")
    assert r.status == 302 and r.headers["cache-control"] == "public, max-age=60"
    assert httpx.get(r.headers["location"]).content == data


@pytest.mark.parametrize(
    "storage_extra",
    [{"serve": "redirect", "public_base_url": "https://cdn.example", "public_max_age": 600}],
)
def test_redirect_to_the_public_url_for_public_files(pichr_client, pichr_user):
    h = pichr_user["headers"]
    public = pichr_client.upload(pichr_user)
    r = pichr_client.get(f"/i/{public['id']}")
    assert r.status == 302 and r.headers["location"] == public["cdnUrl"]
    assert r.headers["cache-control"] == "public, max-age=300"
    private = pichr_client.upload(pichr_user, visibility="private")
    r = pichr_client.get(f"/i/{private['id']}", headers=h)
    assert "X-Amz-Signature=" in r.headers["location"]  # never the public bucket URL


@pytest.mark.parametrize("storage_extra", [{"direct_uploads": True}])
def test_direct_to_bucket_uploads_are_verified(pichr_client, pichr_user, seaweed, bucket_keys):
    h = pichr_user["headers"]
    prefix = pichr_client.runtime.storage.options.prefix
    data = sample_image_bytes("PNG", size=(120, 80))
    body = {"filename": "pic.png", "mime": "image/png", "bytes": len(data)}
    p = pichr_client.post("/api/v1/upload/presign", headers=h, json=body).json
    assert p["uploadUrl"].startswith(f"{seaweed.endpoint}/{seaweed.bucket}/{prefix}incoming/")
    fin = {"uploadId": p["uploadId"], "fileId": p["fileId"]}
    r = pichr_client.post("/api/v1/upload/finalize", headers=h, json=fin)
    assert r.status == 409 and r.json["code"] == "upload_incomplete"

    # The signature covers the declared type: another Content-Type is refused by the store.
    bad = httpx.put(p["uploadUrl"], content=data, headers={"Content-Type": "text/html"})
    assert bad.status_code == 403

    # Not an image: finalize refuses it, deletes it, and nothing becomes visible.
    junk = b"<html>" + b"x" * (len(data) - 6)
    put = httpx.put(p["uploadUrl"], content=junk, headers={"Content-Type": "image/png"})
    assert put.status_code == 200
    r = pichr_client.post("/api/v1/upload/finalize", headers=h, json=fin)
    assert r.status == 415
    assert bucket_keys(prefix) == []
    assert pichr_client.get(f"/i/{p['fileId']}").status == 404

    # Longer than declared: refused as well.
    httpx.put(p["uploadUrl"], content=data + b"!", headers={"Content-Type": "image/png"})
    r = pichr_client.post("/api/v1/upload/finalize", headers=h, json=fin)
    assert r.status == 400 and r.json["code"] == "size_mismatch"

    put = httpx.put(p["uploadUrl"], content=data, headers={"Content-Type": "image/png"})
    assert put.status_code == 200
    r = pichr_client.post("/api/v1/upload/finalize", headers=h, json=fin)
    assert r.status == 200, r.text
    assert r.json["status"] == "ready" and (r.json["width"], r.json["height"]) == (120, 80)
    assert bucket_keys(prefix) == [object_key(pichr_client, p["fileId"])]  # staging gone
    assert pichr_client.get(f"/i/{p['fileId']}").content == data


@pytest.fixture
def own_seaweed(weed):
    from pichr_s3.testing import SeaweedS3

    server = SeaweedS3().start()
    yield server
    server.stop()


def test_store_failing_mid_upload_is_503_and_nothing_visible(tmp_path, own_seaweed):
    from sanic_testing.reusable import ReusableClient

    from pichr_appliance.app import create_app
    from pichr_appliance.testing import ApiClient, free_port, make_settings, migrate

    settings = make_settings(
        tmp_path / "data", {"storage": own_seaweed.storage_settings(max_attempts=1)}
    )
    migrate(settings)
    app = create_app(settings, name="s3_faults")
    with ReusableClient(app, host="127.0.0.1", port=free_port()) as raw:
        client = ApiClient(raw, app)
        user = client.signup()
        h = user["headers"]
        kept = client.upload(user)
        data = sample_image_bytes("PNG")
        body = {"filename": "pic.png", "mime": "image/png", "bytes": len(data)}
        p = client.post("/api/v1/upload/presign", headers=h, json=body).json
        own_seaweed.stop(crash=True)  # the store goes away between presign and PUT
        r = client.put(rel(p["uploadUrl"]), content=data)
        assert r.status == 503, r.text
        assert r.json["code"] == "storage_unavailable"
        assert client.get(f"/api/v1/files/{p['fileId']}", headers=h).json["status"] == "pending"
        assert client.get("/api/v1/files", headers=h).json["total"] == 1
        assert client.get(f"/i/{p['fileId']}").status == 404
        me = client.get("/api/v1/auth/me", headers=h).json["user"]
        assert me["usage"]["files"] == 1  # only the earlier upload counts
        # Reading an object that is not cached in memory is a 503 too, not a 500.
        client.runtime.hotcache.forget(kept["id"])
        r = client.get(f"/i/{kept['id']}")
        assert r.status == 503 and r.json["code"] == "storage_unavailable"
        health = client.get("/health")
        assert health.status == 503 and health.json["storage"] == "unavailable"


@pytest.mark.parametrize(
    ("override", "needle"),
    [
        ("storage.secret_access_key=wrong", "storage.access_key_id/storage.secret_access_key"),
        ("storage.bucket=absent-bucket", "storage.bucket: bucket 'absent-bucket' does not exist"),
    ],
)
def test_serve_refuses_to_start_with_one_line(tmp_path, seaweed, override, needle):
    args = []
    for name, value in seaweed.storage_settings().items():
        args += ["-s", f"storage.{name}={value}"]
    cmd = [sys.executable, "-m", "pichr_appliance", "serve", "--data-dir", str(tmp_path / "d")]
    out = subprocess.run(
        [*cmd, *args, "-s", override, "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 1
    errors = [line for line in out.stderr.splitlines() if line.startswith("Error")]
    assert errors == [out.stderr.strip().splitlines()[-1]], out.stderr  # one line, the last
    assert errors[0].startswith("Error: pichr-s3: ") and needle in errors[0]
    assert "Traceback" not in out.stdout + out.stderr
