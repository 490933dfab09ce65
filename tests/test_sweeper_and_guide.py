"""The sweeper, anonymous uploads, concurrent variants, and the guide's Python client."""

import os
import threading
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest

from pichr_appliance.models import File, Upload
from pichr_appliance.services import sweeper
from pichr_appliance.testing import LiveServer, sample_image_bytes


def rel(url):
    u = urlsplit(url)
    return f"{u.path}?{u.query}"


def test_sweeper_removes_expired_and_stale(pichr_client, pichr_user):
    h = pichr_user["headers"]
    data = sample_image_bytes("PNG")
    body = {"filename": "a.png", "mime": "image/png", "bytes": len(data), "expiresIn": 1}
    p = pichr_client.post("/api/v1/upload/presign", headers=h, json=body).json
    assert pichr_client.put(rel(p["uploadUrl"]), content=data).status == 200
    stale = pichr_client.post("/api/v1/upload/presign", headers=h, json=body).json
    past = datetime.now(UTC) - timedelta(seconds=1)
    pichr_client.run(File.filter(id=p["fileId"]).update(expires_at=past))
    pichr_client.run(Upload.filter(id=stale["uploadId"]).update(expires_at=past))
    tmp = pichr_client.runtime.settings.data_path / "tmp"
    tmp.mkdir(exist_ok=True)
    old = tmp / "leftover"
    old.write_bytes(b"x")
    os.utime(old, (0, 0))
    done = pichr_client.run(sweeper.sweep(pichr_client.app.ctx.runtime))
    assert done == {
        "expiredFiles": 1,
        "staleUploads": 1,
        "parts": 0,
        "tempFiles": 1,
        "purgedRemoved": 0,
        "bucketUploads": 0,
        "strandedUploads": 0,
        "evictedVariants": 0,
    }
    assert pichr_client.run(File.filter(id__in=[p["fileId"], stale["fileId"]]).count()) == 0
    assert pichr_client.get(f"/i/{p['fileId']}").status == 404
    me = pichr_client.get("/api/v1/auth/me", headers=h).json["user"]
    assert me["usage"] == {"bytes": 0, "files": 0, "quotaBytes": 5_000_000_000}


@pytest.fixture
def pichr_overrides():
    return {"uploads": {"allow_anonymous": True}}


def test_anonymous_upload_when_allowed(pichr_client):
    data = sample_image_bytes("PNG")
    r = pichr_client.post(
        "/api/v1/upload/presign", json={"filename": "a.png", "mime": "image/png", "bytes": 10**8}
    )
    assert r.status == 413  # the anonymous plan allows 10 MB
    p = pichr_client.post(
        "/api/v1/upload/presign",
        json={"filename": "a.png", "mime": "image/png", "bytes": len(data)},
    ).json
    assert pichr_client.put(rel(p["uploadUrl"]), content=data).status == 200
    f = pichr_client.get(f"/api/v1/files/{p['fileId']}").json
    assert f["ownerId"] is None and f["status"] == "ready"


def test_concurrent_variant_requests_make_it_once(tmp_path):
    server = LiveServer(tmp_path / "data").start()
    try:
        import httpx

        api = server.url + "/api/v1"
        s = httpx.post(
            f"{api}/auth/signup",
            json={
                "email": "v@example.com",
                "password": "password-123",
                "username": "vvv",
                "ageConfirmed": True,
            },
        ).json()
        h = {"Authorization": f"Bearer {s['session']['access_token']}"}
        data = sample_image_bytes("JPEG", (1600, 1200))
        p = httpx.post(
            f"{api}/upload/presign",
            headers=h,
            json={"filename": "a.jpg", "mime": "image/jpeg", "bytes": len(data)},
        ).json()
        assert httpx.put(p["uploadUrl"], content=data).status_code == 200
        results = []

        def fetch():
            results.append(httpx.get(f"{server.url}/i/{p['fileId']}?w=200&format=webp", timeout=30))

        threads = [threading.Thread(target=fetch) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert {r.status_code for r in results} == {200}
        assert len({r.content for r in results}) == 1
        variants = list((tmp_path / "data" / "storage" / "variants" / p["fileId"]).iterdir())
        assert len(variants) == 1
    finally:
        server.stop()


GUIDE_CLIENT = """
# The Python example of the getting-started guide, unchanged but for API_BASE.
import requests

API_BASE = '{api}'

# 1. Sign up
def signup(email, password, username):
    response = requests.post(f'{{API_BASE}}/auth/signup', json={{
        'email': email,
        'password': password,
        'username': username,
        'firstName': 'Your',
        'lastName': 'Name',
        'ageConfirmed': True
    }})
    return response.json()

# 2. Upload image
def upload_image(file_path, token):
    # Get file info
    import os
    file_size = os.path.getsize(file_path)
    file_name = os.path.basename(file_path)

    # Request presign
    presign_res = requests.post(
        f'{{API_BASE}}/upload/presign',
        headers={{'Authorization': f'Bearer {{token}}'}},
        json={{
            'filename': file_name,
            'mime': 'image/jpeg',
            'bytes': file_size,
            'visibility': 'public'
        }}
    )
    presign_data = presign_res.json()
    upload_url = presign_data['uploadUrl']
    file_id = presign_data['fileId']

    # Upload file
    with open(file_path, 'rb') as f:
        upload_res = requests.put(
            upload_url,
            headers={{'Authorization': f'Bearer {{token}}'}},
            data=f
        )

    return file_id

# 3. List images
def list_images(token):
    response = requests.get(
        f'{{API_BASE}}/files',
        headers={{'Authorization': f'Bearer {{token}}'}}
    )
    return response.json()
"""


@pytest.mark.slow
def test_guide_python_client_against_live_server(tmp_path):
    server = LiveServer(tmp_path / "data").start()
    try:
        namespace = {}
        exec(GUIDE_CLIENT.format(api=server.url + "/api/v1"), namespace)  # noqa: S102
        account = namespace["signup"]("your@email.com", "your-secure-password", "your_username")
        token = account["session"]["access_token"]
        photo = tmp_path / "cat.jpg"
        photo.write_bytes(sample_image_bytes("JPEG", (300, 200)))
        file_id = namespace["upload_image"](str(photo), token)
        listing = namespace["list_images"](token)
        assert [f["id"] for f in listing["files"]] == [file_id]
        assert listing["files"][0]["status"] == "ready"
        import requests

        assert requests.get(f"{server.url}/i/{file_id}").content == photo.read_bytes()
    finally:
        server.stop()
