"""Multipart uploads: init, parts (resend replaces), resume status, complete, abort."""

import hashlib
import io
import os
from urllib.parse import urlsplit

import pytest
from PIL import Image

from pichr_appliance.models import File, UploadPart

MiB = 1024 * 1024


@pytest.fixture(scope="module")
def big_png():
    """An incompressible ~12 MB PNG: three 5 MiB parts."""
    img = Image.frombytes("RGB", (2000, 2000), os.urandom(2000 * 2000 * 3))
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=0)
    return buf.getvalue()


def rel(url):
    u = urlsplit(url)
    return f"{u.path}?{u.query}" if u.query else u.path


def init(client, user, data, part_size=5 * MiB, **kw):
    body = {
        "filename": "large-image.png",
        "mime": "image/png",
        "totalBytes": len(data),
        "partSize": part_size,
    }
    body.update(kw)
    return client.post("/api/v1/upload/multipart/init", headers=user["headers"], json=body)


def test_multipart_flow(pichr_client, pichr_user, big_png):
    h = pichr_user["headers"]
    r = init(pichr_client, pichr_user, big_png)
    assert r.status == 201, r.text
    m = r.json
    assert m["partSize"] == 5 * MiB and m["partCount"] == 3 and len(m["partUrls"]) == 3
    chunks = [big_png[i : i + 5 * MiB] for i in range(0, len(big_png), 5 * MiB)]
    etags = []
    for n, (url, chunk) in enumerate(zip(m["partUrls"], chunks, strict=True), start=1):
        r = pichr_client.put(rel(url), content=chunk)
        assert r.status == 200, r.text
        assert r.json == {
            "partNumber": n,
            "etag": hashlib.md5(chunk).hexdigest(),
            "bytes": len(chunk),
        }
        etags.append(r.json["etag"])
    # Re-sending a part replaces it (and leaves one record).
    assert pichr_client.put(rel(m["partUrls"][1]), content=chunks[1]).status == 200
    status = pichr_client.get(f"/api/v1/upload/multipart/{m['uploadId']}", headers=h).json
    assert [p["partNumber"] for p in status["parts"]] == [1, 2, 3]
    body = {
        "uploadId": m["uploadId"],
        "fileId": m["fileId"],
        "r2Key": m["r2Key"],
        "parts": [{"partNumber": n + 1, "etag": e} for n, e in enumerate(etags)],
    }
    r = pichr_client.post("/api/v1/upload/multipart/complete", headers=h, json=body)
    assert r.status == 200, r.text
    f = r.json
    assert f["status"] == "ready" and f["bytes"] == len(big_png)
    assert f["sha256"] == hashlib.sha256(big_png).hexdigest()
    assert (f["width"], f["height"]) == (2000, 2000)
    assert pichr_client.get(f"/i/{f['id']}").content == big_png
    # Parts are gone from storage and the database.
    storage = pichr_client.runtime.storage
    keys = pichr_client.run(_keys(storage, f"multipart/{m['uploadId']}/"))
    assert keys == []
    assert pichr_client.run(UploadPart.filter(upload_id=m["uploadId"]).count()) == 0
    r = pichr_client.post("/api/v1/upload/multipart/complete", headers=h, json=body)
    assert r.status == 409


async def _keys(storage, prefix):
    return [k async for k in storage.list_keys(prefix)]


def test_multipart_bad_input(pichr_client, pichr_user, big_png):
    h = pichr_user["headers"]
    for extra, status in [
        ({"partSize": 1000}, 400),
        ({"totalBytes": -1}, 400),
        ({"partSize": "big"}, 400),
        ({"mime": "image/svg+xml"}, 415),
        ({"totalBytes": 10**12, "partSize": 10**9}, 413),
    ]:
        r = init(pichr_client, pichr_user, big_png, **extra)
        assert r.status == status, (extra, r.text)
    # More than 10,000 parts.
    r = pichr_client.post(
        "/api/v1/upload/multipart/init",
        headers=h,
        json={"filename": "x.png", "mime": "image/png", "totalBytes": 49_000_000, "partSize": 4000},
    )
    assert r.status == 400
    m = init(pichr_client, pichr_user, big_png).json
    base = f"/api/v1/upload/multipart/{m['uploadId']}/parts"
    token = m["partUrls"][0].split("token=")[1]
    for n in ("0", "4", "abc", "99999999"):
        r = pichr_client.put(f"{base}/{n}?token={token}", content=b"x")
        assert r.status == 400, n
    # Wrong size for a part; a forged token; someone else's upload.
    r = pichr_client.put(f"{base}/1?token={token}", content=b"short")
    assert r.status == 400 and r.json["code"] == "size_mismatch"
    r = pichr_client.put(f"{base}/1?token={token}", content=big_png[: 5 * MiB + 10])
    assert r.status == 400
    assert pichr_client.put(f"{base}/1?token=forged", content=b"x").status == 401
    other = pichr_client.signup()
    assert (
        pichr_client.get(
            f"/api/v1/upload/multipart/{m['uploadId']}", headers=other["headers"]
        ).status
        == 404
    )
    # Complete with missing parts names them.
    pichr_client.put(rel(m["partUrls"][0]), content=big_png[: 5 * MiB])
    r = pichr_client.post(
        "/api/v1/upload/multipart/complete",
        headers=h,
        json={
            "uploadId": m["uploadId"],
            "fileId": m["fileId"],
            "r2Key": m["r2Key"],
            "parts": [{"partNumber": 1, "etag": "bogus"}],
        },
    )
    assert r.status == 400 and r.json["details"]["missingParts"] == [2, 3]
    # Abort drops parts and the pending file.
    assert (
        pichr_client.post(
            "/api/v1/upload/multipart/abort", headers=h, json={"uploadId": m["uploadId"]}
        ).status
        == 204
    )
    assert pichr_client.run(File.filter(id=m["fileId"]).count()) == 0
    storage = pichr_client.runtime.storage
    assert pichr_client.run(_keys(storage, f"multipart/{m['uploadId']}/")) == []
    assert (
        pichr_client.post(
            "/api/v1/upload/multipart/abort", headers=h, json={"uploadId": m["uploadId"]}
        ).status
        == 404
    )


def test_complete_with_wrong_etag(pichr_client, pichr_user, big_png):
    h = pichr_user["headers"]
    m = init(pichr_client, pichr_user, big_png).json
    chunks = [big_png[i : i + 5 * MiB] for i in range(0, len(big_png), 5 * MiB)]
    for url, chunk in zip(m["partUrls"], chunks, strict=True):
        assert pichr_client.put(rel(url), content=chunk).status == 200
    r = pichr_client.post(
        "/api/v1/upload/multipart/complete",
        headers=h,
        json={
            "uploadId": m["uploadId"],
            "fileId": m["fileId"],
            "parts": [{"partNumber": n, "etag": "0" * 32} for n in (1, 2, 3)],
        },
    )
    assert r.status == 400 and r.json["details"]["mismatchedParts"] == [1, 2, 3]
    usage = pichr_client.get("/api/v1/auth/me", headers=h).json["user"]["usage"]
    assert usage["bytes"] == 0
