"""Presign + direct PUT + finalize, with the bad input a clumsy or hostile client sends."""

import hashlib
from urllib.parse import urlsplit

import pytest

from pichr_appliance.models import File, Upload, User
from pichr_appliance.testing import sample_image_bytes

PRESIGN = "/api/v1/upload/presign"


def rel(url):
    parts = urlsplit(url)
    return parts.path + ("?" + parts.query if parts.query else "")


def presign(client, headers, data, **kw):
    body = {
        "filename": "cat.png",
        "mime": "image/png",
        "bytes": len(data),
        "title": "My Cute Cat",
        "visibility": "public",
    }
    body.update(kw)
    return client.post(PRESIGN, headers=headers, json=body)


def test_guide_flow(pichr_client, pichr_user):
    h = pichr_user["headers"]
    data = sample_image_bytes("PNG", (64, 48))
    r = presign(pichr_client, h, data)
    assert r.status == 201, r.text
    p = r.json
    assert p["uploadId"].startswith("upl_") and p["fileId"].startswith("file_")
    assert p["r2Key"].startswith("uploads/") and p["r2Key"].endswith(f"/{p['fileId']}/cat.png")
    assert p["uploadUrl"].startswith(
        f"{pichr_client.base}/api/v1/upload/direct/{p['fileId']}?token="
    )
    # The guide's Python client: PUT with the Bearer token and no Content-Type.
    r = pichr_client.put(rel(p["uploadUrl"]), headers=h, content=data)
    assert r.status == 200, r.text
    assert r.json == {
        "fileId": p["fileId"],
        "url": f"{pichr_client.base}/i/{p['fileId']}",
        "mime": "image/png",
        "bytes": len(data),
        "status": "ready",
    }
    r = pichr_client.post(
        "/api/v1/upload/finalize",
        headers=h,
        json={
            "uploadId": p["uploadId"],
            "fileId": p["fileId"],
            "width": 1,
            "height": 1,
            "nsfwScore": 0.99,
            "phash": "0",
        },
    )
    assert r.status == 200
    f = r.json
    assert (f["width"], f["height"]) == (64, 48)  # computed, not the client's
    assert f["nsfwScore"] is None and f["ageRestricted"] is False
    assert f["sha256"] == hashlib.sha256(data).hexdigest() and len(f["phash"]) == 16
    assert f["title"] == "My Cute Cat" and f["status"] == "ready"
    # Finalize is idempotent; a second PUT is a conflict.
    assert (
        pichr_client.post(
            "/api/v1/upload/finalize",
            headers=h,
            json={"uploadId": p["uploadId"], "fileId": p["fileId"]},
        ).json
        == f
    )
    assert pichr_client.put(rel(p["uploadUrl"]), content=data).status == 409
    me = pichr_client.get("/api/v1/auth/me", headers=h).json["user"]
    assert me["usage"]["bytes"] == len(data) and me["usage"]["files"] == 1
    stored = pichr_client.runtime.storage.local_path(p["r2Key"])
    assert stored.read_bytes() == data


def test_signed_url_works_without_other_credentials(pichr_client, pichr_user):
    data = sample_image_bytes("JPEG", (32, 32))
    p = presign(pichr_client, pichr_user["headers"], data, mime="image/jpeg", filename="x.jpg").json
    r = pichr_client.put(rel(p["uploadUrl"]), content=data, headers={"content-type": "image/jpeg"})
    assert r.status == 200 and r.json["mime"] == "image/jpeg"


def test_duplicates_are_flagged(pichr_client, pichr_user):
    data = sample_image_bytes("PNG", (64, 48))
    ids = []
    for _ in range(3):
        p = presign(pichr_client, pichr_user["headers"], data).json
        assert pichr_client.put(rel(p["uploadUrl"]), content=data).status == 200
        ids.append(p["fileId"])
    second, third = (pichr_client.run(File.get(id=i)) for i in ids[1:])
    assert second.duplicate_of == ids[0] and third.duplicate_of == ids[0]  # the earliest


def test_near_duplicates_are_flagged_within_one_account(pichr_client, pichr_user):
    # One picture saved twice at other qualities: other bytes, the same perceptual hash
    # within a few bits. The earliest such file of the owner is named; another
    # picture, or the same one in another account, is no duplicate.
    import io

    from PIL import Image, ImageDraw

    picture = Image.new("RGB", (160, 120), "white")
    ImageDraw.Draw(picture).rectangle((20, 10, 90, 100), fill="navy")

    def jpeg(image, quality):
        buf = io.BytesIO()
        image.save(buf, "JPEG", quality=quality)
        return buf.getvalue()

    def upload(data, headers):
        p = presign(pichr_client, headers, data, mime="image/jpeg", filename="p.jpg").json
        assert pichr_client.put(rel(p["uploadUrl"]), content=data).status == 200
        return pichr_client.run(File.get(id=p["fileId"]))

    h = pichr_user["headers"]
    first, again, later = (upload(jpeg(picture, q), h) for q in (90, 60, 40))
    assert len({first.sha256, again.sha256, later.sha256}) == 3
    assert first.duplicate_of is None
    assert again.duplicate_of == first.id and later.duplicate_of == first.id
    other = picture.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    assert upload(jpeg(other, 90), h).duplicate_of is None
    stranger = pichr_client.signup()
    assert upload(jpeg(picture, 90), stranger["headers"]).duplicate_of is None


def test_presign_bad_input(pichr_client, pichr_user):
    h = pichr_user["headers"]
    data = b"x" * 10
    cases = [
        ({"mime": "image/svg+xml"}, 415),
        ({"mime": "text/html"}, 415),
        ({"bytes": -1}, 400),
        ({"bytes": 0}, 400),
        ({"bytes": "12"}, 400),
        ({"bytes": 10**12}, 413),
        ({"filename": "a" * 1000}, 400),
        ({"filename": "bad\x00name.png"}, 400),
        ({"filename": ""}, 400),
        ({"visibility": "secret"}, 400),
        ({"tags": "cat"}, 400),
        ({"expiresIn": -5}, 400),
        ({"sha256": "zz"}, 400),
        ({"albumId": "alb_nope"}, 404),
    ]
    for extra, status in cases:
        r = presign(pichr_client, h, data, **extra)
        assert r.status == status, (extra, r.text)
        assert r.json["code"]
    assert pichr_client.run(File.all().count()) == 0
    # Anonymous uploads are off by default.
    assert presign(pichr_client, {}, data).status == 401


def test_quota_is_402(pichr_client, pichr_user):
    pichr_client.run(User.filter(id=pichr_user["user"]["id"]).update(usage_bytes=5 * 10**9 - 5))
    r = presign(pichr_client, pichr_user["headers"], b"x" * 10)
    assert r.status == 402 and r.json["code"] == "quota_exceeded"


def test_filename_with_path_separators_is_safe(pichr_client, pichr_user):
    data = sample_image_bytes("PNG")
    p = presign(pichr_client, pichr_user["headers"], data, filename="../../etc/passwd.png").json
    assert ".." not in p["r2Key"] and p["r2Key"].endswith("/passwd.png")
    assert pichr_client.put(rel(p["uploadUrl"]), content=data).status == 200


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"", 400, "size_mismatch"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", 415, "unsupported_type"),
        (b"not an image at all, just text", 415, "unsupported_type"),
    ],
)
def test_put_bad_bodies(pichr_client, pichr_user, body, status, code):
    data = sample_image_bytes("PNG")
    p = presign(pichr_client, pichr_user["headers"], body or data, bytes=len(body) or len(data))
    p = p.json
    r = pichr_client.put(rel(p["uploadUrl"]), content=body)
    assert r.status == status, r.text
    assert r.json["code"] == code
    f = pichr_client.run(File.get(id=p["fileId"]))
    assert f.status == "pending"  # nothing became visible; the client may retry
    assert pichr_client.runtime.storage.local_path(p["r2Key"]).exists() is False
    assert list((pichr_client.runtime.settings.data_path / "tmp").iterdir()) == []
    me = pichr_client.get("/api/v1/auth/me", headers=pichr_user["headers"]).json["user"]
    assert me["usage"]["bytes"] == 0


def test_put_size_and_hash_mismatches(pichr_client, pichr_user):
    h = pichr_user["headers"]
    data = sample_image_bytes("PNG")
    p = presign(pichr_client, h, data, bytes=len(data) + 10).json
    r = pichr_client.put(rel(p["uploadUrl"]), content=data)
    assert r.status == 400 and r.json["code"] == "size_mismatch"
    p = presign(pichr_client, h, data, bytes=len(data) - 10).json
    r = pichr_client.put(rel(p["uploadUrl"]), content=data)
    assert r.status == 400 and r.json["code"] == "size_mismatch"
    p = presign(pichr_client, h, data, sha256="0" * 64).json
    r = pichr_client.put(rel(p["uploadUrl"]), content=data)
    assert r.status == 400 and r.json["code"] == "sha256_mismatch"
    # Declared PNG, sent JPEG.
    jpeg = sample_image_bytes("JPEG")
    p = presign(pichr_client, h, jpeg).json
    r = pichr_client.put(rel(p["uploadUrl"]), content=jpeg)
    assert r.status == 415 and r.json["code"] == "mime_mismatch"
    # Truncated image.
    big = sample_image_bytes("JPEG", (300, 200), quality=95)
    cut = big[: len(big) // 2]
    p = presign(pichr_client, h, cut, mime="image/jpeg").json
    r = pichr_client.put(rel(p["uploadUrl"]), content=cut)
    assert r.status == 415 and r.json["code"] == "invalid_image"


def test_put_credentials(pichr_client, pichr_user):
    data = sample_image_bytes("PNG")
    p = presign(pichr_client, pichr_user["headers"], data).json
    path = f"/api/v1/upload/direct/{p['fileId']}"
    assert pichr_client.put(path, content=data).status == 401
    assert pichr_client.put(path + "?token=forged", content=data).status == 401
    other = pichr_client.signup()
    assert pichr_client.put(path, content=data, headers=other["headers"]).status == 404
    # A token for another file does not open this one.
    p2 = presign(pichr_client, pichr_user["headers"], data).json
    token = p2["uploadUrl"].split("token=")[1]
    assert pichr_client.put(f"{path}?token={token}", content=data).status == 401
    assert pichr_client.put("/api/v1/upload/direct/file_nope", content=data).status == 404
    # The owner's Bearer token works without the signed token.
    assert pichr_client.put(path, content=data, headers=pichr_user["headers"]).status == 200
    upload = pichr_client.run(Upload.get(id=p["uploadId"]))
    assert upload.status == "completed"


def test_finalize_bad_input(pichr_client, pichr_user):
    h = pichr_user["headers"]
    data = sample_image_bytes("PNG")
    p = presign(pichr_client, h, data).json
    body = {"uploadId": p["uploadId"], "fileId": p["fileId"]}
    r = pichr_client.post("/api/v1/upload/finalize", headers=h, json=body)
    assert r.status == 409 and r.json["code"] == "upload_incomplete"
    other = pichr_client.signup()
    r = pichr_client.post("/api/v1/upload/finalize", headers=other["headers"], json=body)
    assert r.status == 404
    r = pichr_client.post("/api/v1/upload/finalize", headers=h, json={"uploadId": 1})
    assert r.status == 400


def test_over_long_ids_are_404_not_500(pichr_client, pichr_user):
    # Found by the OpenAPI fuzz test (Tortoise refuses over-long lookup values).
    h = pichr_user["headers"]
    long_file, long_upload = "file_" + "f" * 40, "upl_" + "u" * 40
    r = pichr_client.put(f"/api/v1/upload/direct/{long_file}", headers=h, content=b"x")
    assert r.status == 404
    r = pichr_client.post(
        "/api/v1/upload/finalize", headers=h, json={"uploadId": long_upload, "fileId": long_file}
    )
    assert r.status == 404
    body = {"filename": "a.png", "mime": "image/png", "bytes": 10, "albumId": "alb_" + "a" * 40}
    assert pichr_client.post("/api/v1/upload/presign", headers=h, json=body).status == 404
    r = pichr_client.get(f"/api/v1/upload/multipart/{long_upload}", headers=h)
    assert r.status == 404
    r = pichr_client.post(
        "/api/v1/upload/multipart/abort", headers=h, json={"uploadId": long_upload}
    )
    assert r.status == 404


def test_format_characters_are_stripped_from_file_names(pichr_client, pichr_user, sample_image):
    # U+202E (right-to-left override) makes "invoice\u202egnp.exe" read "invoiceexe.png".
    tricky = "invoice\u202egnp.\u200bexe\u2066.png"
    f = pichr_client.upload(pichr_user, filename=tricky)
    assert f["filename"] == "invoicegnp.exe.png"
    r = pichr_client.post(
        "/api/v1/upload",
        params={"filename": "\ufeffa\u202eb.png"},
        headers=pichr_user["headers"],
        content=sample_image(),
    )
    assert r.status == 201 and r.json["filename"] == "ab.png", r.text
    # Nothing left but format characters: refused like a blank name.
    body = {"filename": "\u202e\u200b", "mime": "image/png", "bytes": 10}
    r = pichr_client.post("/api/v1/upload/presign", headers=pichr_user["headers"], json=body)
    assert r.status == 400


def test_undecodable_upload_errors_name_no_server_path(pichr_client, pichr_user, sample_image):
    data_dir = str(pichr_client.runtime.settings.data_path)
    png = sample_image()
    bodies = [
        b"\x89PNG\r\n\x1a\n" + b"\x00" * 200,  # the signature, then nothing Pillow knows
        png[:60],  # cut short
        b"\xff\xd8\xff\xe0" + b"junk" * 50,  # a JPEG start, then junk
    ]
    for body in bodies:
        r = pichr_client.post(
            "/api/v1/upload",
            params={"filename": "x.png"},
            headers=pichr_user["headers"],
            content=body,
        )
        assert r.status in (400, 415), r.text
        message = r.json["error"]
        assert data_dir not in message and "/tmp" not in message and "'/" not in message, message
