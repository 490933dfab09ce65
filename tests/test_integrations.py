"""ShareX configuration (API and CLI) and the one-request upload it uses."""

import json
import os
from urllib.parse import urlsplit

from click.testing import CliRunner

from pichr_appliance.cli import cli
from pichr_appliance.testing import sample_image_bytes


def sharex_upload(client, sxcu, data, filename="shot.png"):
    """Do what ShareX does with a custom uploader: one request as the .sxcu says."""
    assert sxcu["Body"] == "Binary" and sxcu["RequestMethod"] == "POST"
    url = urlsplit(sxcu["RequestURL"])
    params = {k: v.replace("{filename}", filename) for k, v in sxcu["Parameters"].items()}
    return client.post(
        url.path, params=params, headers={**sxcu["Headers"], "Content-Type": "image/png"},
        content=data,
    )  # fmt: skip


def test_sharex_config_from_the_api_uploads(pichr_client, pichr_user):
    r = pichr_client.get("/api/v1/integrations/sharex", headers=pichr_user["headers"])
    assert r.status == 200, r.text
    assert r.headers["content-disposition"] == 'attachment; filename="pichr-127.0.0.1.sxcu"'
    sxcu = r.json
    assert sxcu["DestinationType"] == "ImageUploader" and sxcu["URL"] == "{json:url}"
    assert sxcu["RequestURL"] == f"http://127.0.0.1:{pichr_client.port}/api/v1/upload"
    key = sxcu["Headers"]["Authorization"].removeprefix("Bearer ")
    assert key.startswith("pk_")
    keys = pichr_client.get("/api/v1/api-keys", headers=pichr_user["headers"]).json["apiKeys"]
    assert [(k["name"], k["permissions"]) for k in keys] == [("ShareX", ["upload"])]

    data = sample_image_bytes("PNG")
    r = sharex_upload(pichr_client, sxcu, data)
    assert r.status == 201, r.text
    link = r.json["url"]
    assert r.json["filename"] == "shot.png" and r.json["status"] == "ready"
    assert r.json["ownerId"] == pichr_user["user"]["id"]
    served = pichr_client.get(urlsplit(link).path)
    assert served.status == 200 and served.content == data
    # The key can only upload.
    r = pichr_client.get("/api/v1/files", headers=sxcu["Headers"])
    assert r.status == 403


def test_sharex_config_needs_a_session(pichr_client, pichr_user):
    assert pichr_client.get("/api/v1/integrations/sharex").status == 401
    key = pichr_client.post(
        "/api/v1/api-keys", headers=pichr_user["headers"],
        json={"name": "k", "permissions": ["upload", "read"]},
    ).json["key"]  # fmt: skip
    r = pichr_client.get("/api/v1/integrations/sharex", headers={"Authorization": f"Bearer {key}"})
    assert r.status == 403


def test_one_request_upload_checks_like_presign(pichr_client, pichr_user):
    headers = pichr_user["headers"]
    # Fields from the query; the type from the bytes, whatever the Content-Type says.
    data = sample_image_bytes("JPEG")
    r = pichr_client.post(
        "/api/v1/upload",
        params={"filename": "a.jpg", "title": "T", "visibility": "unlisted", "tags": "x,y"},
        headers={**headers, "Content-Type": "application/x-www-form-urlencoded"},
        content=data,
    )
    assert r.status == 201, r.text
    assert (r.json["mime"], r.json["title"], r.json["visibility"]) == (
        "image/jpeg",
        "T",
        "unlisted",
    )
    assert r.json["tags"] == ["x", "y"] and r.json["bytes"] == len(data)
    # Not an image: 415, and nothing is left behind.
    r = pichr_client.post("/api/v1/upload", headers=headers, content=b"hello world" * 10)
    assert r.status == 415 and r.json["code"] == "unsupported_type"
    # A PNG header on garbage passes the sniffing but not the decode.
    r = pichr_client.post(
        "/api/v1/upload", headers=headers, content=b"\x89PNG\r\n\x1a\n" + b"\0" * 100
    )
    assert r.status == 415
    r = pichr_client.post(
        "/api/v1/upload", params={"visibility": "secret"}, headers=headers, content=data
    )
    assert r.status == 400 and r.json["code"] == "validation_error"
    # A body of unknown length (chunked) is refused before anything is stored.

    async def chunked():
        yield data

    r = pichr_client.post("/api/v1/upload", headers=headers, content=chunked())
    assert r.status == 411 and r.json["code"] == "length_required"
    # Anonymous uploads are off by default.
    assert pichr_client.post("/api/v1/upload", content=data).status == 401
    files = pichr_client.get("/api/v1/files", headers=headers).json
    assert files["total"] == 1

    async def leftovers():
        from pichr_appliance.models import File, Upload

        return await File.exclude(status="ready").count(), await Upload.exclude(
            status="completed"
        ).count()

    assert pichr_client.run(leftovers()) == (0, 0)


def test_one_request_upload_streams_big_bodies(pichr_client, pichr_user):
    import io
    import random

    from PIL import Image

    rnd = random.Random(1)
    img = Image.frombytes("RGB", (900, 900), bytes(rnd.getrandbits(8) for _ in range(900 * 2700)))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    data = buf.getvalue()
    assert len(data) > 2_000_000  # past server.max_json_bytes
    r = pichr_client.post("/api/v1/upload", headers=pichr_user["headers"], content=data)
    assert r.status == 201, r.text
    assert r.json["bytes"] == len(data)


def test_sharex_from_the_cli(tmp_path, monkeypatch):
    for name in list(os.environ):
        if name.startswith("PICHR_"):
            monkeypatch.delenv(name)
    data = str(tmp_path / "data")
    fast = ["-s", "auth.argon2_time_cost=1", "-s", "auth.argon2_memory_kib=64"]

    def run(*args):
        return CliRunner().invoke(cli, [*args, "--data-dir", data, *fast], catch_exceptions=False)

    run("migrate")
    run(
        "user", "create", "--email", "s@example.com", "--username", "shooter",
        "--password", "long-password",
    )  # fmt: skip
    out = tmp_path / "me.sxcu"
    r = run(
        "integrations", "sharex", "--user", "shooter", "-o", str(out),
        "-s", "server.public_url=https://img.example.com/",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    sxcu = json.loads(out.read_text())
    assert sxcu["RequestURL"] == "https://img.example.com/api/v1/upload"
    assert sxcu["Name"] == "pichr (img.example.com)"
    assert oct(out.stat().st_mode & 0o777) == "0o600"
    fast += ["-s", "server.public_url=https://img.example.com"]
    r = run("integrations", "sharex", "--user", "shooter", "--key", "pk_given")
    assert json.loads(r.output)["Headers"]["Authorization"] == "Bearer pk_given"
    r = run("integrations", "sharex", "--user", "nobody")
    assert r.exit_code == 1 and "not found" in r.output
