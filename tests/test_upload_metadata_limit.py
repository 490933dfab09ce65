"""An upload whose metadata would make the decoder hold too many bytes is refused cleanly."""

import pytest

from pichr_appliance.models import File
from pichr_appliance.testing import sample_image_bytes

PRESIGN = "/api/v1/upload/presign"


@pytest.fixture
def pichr_overrides():
    return {"uploads": {"max_metadata_bytes": 65536}}


def test_jpeg_with_too_much_metadata_is_400_and_leaves_nothing(pichr_client, pichr_user):
    base = sample_image_bytes("JPEG", (32, 24))
    segment = b"\xff\xef" + (40_002).to_bytes(2, "big") + b"\x00" * 40_000
    data = base[:2] + segment * 2 + base[2:]
    h = pichr_user["headers"]
    p = pichr_client.post(
        PRESIGN, headers=h, json={"filename": "a.jpg", "mime": "image/jpeg", "bytes": len(data)}
    ).json
    path = p["uploadUrl"].split("://", 1)[1].split("/", 1)[1]
    r = pichr_client.put("/" + path, content=data)
    assert r.status == 400 and r.json["code"] == "too_much_metadata", r.text
    assert pichr_client.run(File.get(id=p["fileId"])).status == "pending"
    assert list((pichr_client.runtime.settings.data_path / "tmp").iterdir()) == []
    me = pichr_client.get("/api/v1/auth/me", headers=h).json["user"]
    assert me["usage"]["bytes"] == 0
    # With one segment fewer the image fits under the limit and is stored.
    smaller = base[:2] + segment + base[2:]
    p = pichr_client.post(
        PRESIGN, headers=h, json={"filename": "a.jpg", "mime": "image/jpeg", "bytes": len(smaller)}
    ).json
    path = p["uploadUrl"].split("://", 1)[1].split("/", 1)[1]
    assert pichr_client.put("/" + path, content=smaller).status == 200
