"""Tests of the template plugin, using the fixtures pichr-appliance ships
(``pichr_client``: the real app with every installed plugin, on a real socket)."""

import pytest

from pichr_appliance.testing import sample_image_bytes


def test_hello_route(pichr_client):
    r = pichr_client.get("/-/pichr_plugin_template/hello?name=plugin author")
    assert r.status == 200
    assert r.json == {"message": "Hello, plugin author!"}


@pytest.mark.parametrize(
    "pichr_overrides", [{"plugin": {"template": {"min_side": 32, "greeting": "Hi"}}}]
)
def test_settings_change_the_greeting_and_refuse_small_images(pichr_client, pichr_user):
    assert pichr_client.get("/-/pichr_plugin_template/hello").json == {"message": "Hi, world!"}
    assert pichr_client.upload(pichr_user, sample_image_bytes("PNG", (64, 48)))["status"] == "ready"
    small = sample_image_bytes("PNG", (16, 16))
    p = pichr_client.post(
        "/api/v1/upload/presign",
        headers=pichr_user["headers"],
        json={"filename": "s.png", "mime": "image/png", "bytes": len(small)},
    ).json
    r = pichr_client.put("/" + p["uploadUrl"].split("/", 3)[3], content=small)
    assert r.status == 400
    assert r.json == {
        "error": "images must be at least 32 pixels on each side",
        "code": "upload_rejected",
    }
