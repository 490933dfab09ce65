"""Cross-site request forgery: JSON needs its Content-Type, ambient credentials their origin.

A browser sends ``text/plain``, form and multipart bodies cross-site without a
preflight, and sends credentials it holds by itself (a proxy's identity headers, a
cookie) along with them. So JSON endpoints refuse bodies not labelled as JSON (415),
and state-changing requests authenticated by such *ambient* credentials refuse a
cross-site ``Origin`` / ``Sec-Fetch-Site`` (403). Bearer clients are unaffected.
"""

import json

import pytest

from pichr_appliance import hookimpl
from pichr_appliance.api.context import Actor
from pichr_appliance.models import User
from pichr_appliance.testing import sample_image_bytes

EVIL = "https://evil.example"
FRIEND = "https://friend.example"  # listed in server.cors_origins below
ALBUM = json.dumps({"title": "forged"}).encode()


class HeaderAuth:
    """Stands for a proxy or cookie login: ``X-Test-User`` names the account."""

    def __init__(self, ambient=None):
        self.ambient = ambient

    @hookimpl
    async def actor_from_request(self, runtime, request):
        name = request.headers.get("x-test-user")
        if not name:
            return None
        user = await User.get(username=name)
        if self.ambient is None:
            return user  # a bare User: via="plugin"
        return Actor(user, "plugin", ambient=self.ambient)


def test_json_endpoints_refuse_bodies_not_labelled_json(pichr_client, pichr_user):
    auth = pichr_user["headers"]
    for content_type in (
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/jsonp",
        "text/json",
    ):
        r = pichr_client.post(
            "/api/v1/albums", content=ALBUM, headers={**auth, "Content-Type": content_type}
        )
        assert r.status == 415, (content_type, r.status, r.text)
        assert r.json["code"] == "unsupported_media_type"
    r = pichr_client.post("/api/v1/albums", content=ALBUM, headers=auth)  # no Content-Type
    assert r.status == 415, r.text
    # A login form posted cross-site must not sign anyone in either.
    r = pichr_client.post(
        "/api/v1/auth/login",
        content=json.dumps({"email": "x@example.com", "password": "y"}).encode(),
        headers={"Content-Type": "text/plain"},
    )
    assert r.status == 415
    for content_type in (
        "application/json",
        "application/json; charset=utf-8",
        "Application/JSON ; charset=UTF-8",
        "application/merge-patch+json",
    ):
        r = pichr_client.post(
            "/api/v1/albums", content=ALBUM, headers={**auth, "Content-Type": content_type}
        )
        assert r.status == 201, (content_type, r.text)


def test_raw_upload_bodies_keep_taking_image_bytes(pichr_client, pichr_user):
    auth = pichr_user["headers"]
    png = sample_image_bytes("PNG")
    for content_type in ("image/png", "application/octet-stream", "text/plain", None):
        headers = {**auth, **({"Content-Type": content_type} if content_type else {})}
        r = pichr_client.post("/api/v1/upload?filename=a.png", content=png, headers=headers)
        assert r.status == 201, (content_type, r.text)


@pytest.mark.parametrize("pichr_plugins", [[HeaderAuth()]])
@pytest.mark.parametrize("pichr_overrides", [{"server": {"cors_origins": [FRIEND]}}])
def test_ambient_credentials_refuse_cross_site_requests(pichr_client, pichr_user):
    me = {"X-Test-User": pichr_user["user"]["username"]}
    own = pichr_client.runtime.settings.public_url
    for forged in (
        {"Origin": EVIL},
        {"Origin": "null"},
        {"Origin": f"{own}.evil.example"},
        {"Origin": "https://friend.example:8443"},
        {"Sec-Fetch-Site": "cross-site"},
    ):
        r = pichr_client.post("/api/v1/albums", json={"title": "x"}, headers={**me, **forged})
        assert r.status == 403, (forged, r.text)
        assert r.json["code"] == "cross_site_request"
        png = sample_image_bytes("PNG")
        r = pichr_client.post("/api/v1/upload", content=png, headers={**me, **forged})
        assert r.status == 403, (forged, r.text)
    album = pichr_client.post("/api/v1/albums", json={"title": "mine"}, headers=me).json
    for method in ("patch", "delete"):
        r = getattr(pichr_client, method)(
            f"/api/v1/albums/{album['id']}",
            **({"json": {"title": "y"}} if method == "patch" else {}),
            headers={**me, "Origin": EVIL},
        )
        assert r.status == 403, (method, r.text)
    # Reading is not forging: GETs stay allowed (CORS decides what a page may read).
    assert pichr_client.get("/api/v1/albums", headers={**me, "Origin": EVIL}).status == 200
    # The server's own origin, a configured CORS origin, same-origin fetches and
    # header-less clients (curl, server-to-server) keep working.
    for fine in (
        {},
        {"Origin": own},
        {"Origin": own.upper()},
        {"Origin": "https://FRIEND.example:443"},
        {"Origin": FRIEND, "Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-origin"},
        {"Sec-Fetch-Site": "none"},
    ):
        r = pichr_client.post("/api/v1/albums", json={"title": "x"}, headers={**me, **fine})
        assert r.status == 201, (fine, r.text)
    # An explicit Authorization header is not ambient: a page cannot make a browser add it.
    r = pichr_client.post(
        "/api/v1/albums",
        json={"title": "x"},
        headers={**pichr_user["headers"], "Origin": EVIL, "Sec-Fetch-Site": "cross-site"},
    )
    assert r.status == 201, r.text


@pytest.mark.parametrize("pichr_plugins", [[HeaderAuth(ambient=False)]])
def test_plugins_can_declare_credentials_not_ambient(pichr_client, pichr_user):
    me = {"X-Test-User": pichr_user["user"]["username"], "Origin": EVIL}
    r = pichr_client.post("/api/v1/albums", json={"title": "x"}, headers=me)
    assert r.status == 201, r.text
