"""``GET /api/v1/files/{id}`` served from the metadata cache (services/filecache.py).

The cached answer is compared byte for byte with what the uncached services give
(``access.visible_file`` + ``files.album_ids_for`` + ``FileOut``), for each kind of
viewer; every change that alters the answer shows in the very next GET, also when
another worker or a plain database write made it.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sanic.response import json as sanic_json

from pichr_appliance.errors import ApiError
from pichr_appliance.models import File, User
from pichr_appliance.schemas.files import FileOut
from pichr_appliance.services import access, filecache
from pichr_appliance.services import files as files_service
from pichr_appliance.testing import LiveServer, sample_image_bytes


@pytest.fixture
def pichr_overrides():
    # Many requests from one address: the hourly API-call limits are not under test.
    return {"rate_limits": {"enabled": False}}


def reference(client, file_id: str, viewer_id: str | None) -> tuple[int, bytes | None]:
    """Status and body the uncached services give ``viewer_id`` (None: anonymous)."""

    async def answer():
        viewer = await User.get(id=viewer_id) if viewer_id else None
        try:
            file = await access.visible_file(file_id, viewer)
            access.check_available(file)
        except ApiError as exc:
            return exc.status, None
        albums = await files_service.album_ids_for([file.id], viewer)
        rt = client.runtime
        out = FileOut.of(rt.settings, rt.storage, file, albums[file.id]).dump()
        return 200, sanic_json(out).body

    return client.run(answer())


@pytest.fixture
def world(pichr_client):
    """An owner with a file in a public and a private album, another account, staff."""
    owner, other, staff = (pichr_client.signup() for _ in range(3))
    pichr_client.run(User.filter(id=staff["user"]["id"]).update(role="moderator"))
    f = pichr_client.upload(owner, title="first")
    albums = {}
    for visibility in ("public", "private"):
        r = pichr_client.post(
            "/api/v1/albums",
            headers=owner["headers"],
            json={"title": visibility, "visibility": visibility, "fileIds": [f["id"]]},
        )
        assert r.status == 201, r.text
        albums[visibility] = r.json["id"]
    return {"owner": owner, "other": other, "staff": staff, "file": f["id"], "albums": albums}


def viewers(world):
    """(name, headers, user id) of every kind of viewer."""
    out = [("anonymous", {}, None)]
    for name in ("owner", "other", "staff"):
        out.append((name, world[name]["headers"], world[name]["user"]["id"]))
    return out


def get(client, file_id, headers):
    return client.get(f"/api/v1/files/{file_id}", headers=headers)


def assert_same_as_uncached(client, world, skip=()):
    """Twice per viewer (a miss, then a hit): status and bytes as the services give."""
    fid = world["file"]
    for name, headers, user_id in viewers(world):
        if name in skip:
            continue
        status, body = reference(client, fid, user_id)
        for _ in range(2):
            r = get(client, fid, headers)
            assert r.status == status, (name, r.text)
            if status == 200:
                assert r.content == body, name


def test_answers_match_the_uncached_services_for_every_viewer(pichr_client, world):
    assert_same_as_uncached(pichr_client, world)
    albums = world["albums"]
    seen = {
        name: get(pichr_client, world["file"], h).json["albumIds"] for name, h, _ in viewers(world)
    }
    assert seen == {
        "anonymous": [albums["public"]],
        "other": [albums["public"]],
        "owner": [albums["public"], albums["private"]],
        "staff": [albums["public"], albums["private"]],
    }
    for visibility in ("unlisted", "private"):
        r = pichr_client.patch(
            f"/api/v1/files/{world['file']}",
            headers=world["owner"]["headers"],
            json={"visibility": visibility},
        )
        assert r.status == 200
        assert_same_as_uncached(pichr_client, world)


def test_pending_and_unknown_files(pichr_client, world):
    assert get(pichr_client, "file_doesnotexist00", {}).status == 404
    assert get(pichr_client, "not an id", {}).status == 404
    r = pichr_client.post(
        "/api/v1/upload/presign",
        headers=world["owner"]["headers"],
        json={"filename": "p.png", "mime": "image/png", "bytes": 100},
    )
    pending = r.json["fileId"]
    assert get(pichr_client, pending, world["owner"]["headers"]).status == 200
    for headers in ({}, world["other"]["headers"], world["staff"]["headers"]):
        assert get(pichr_client, pending, headers).status == 404


def warm(client, world):
    for _, headers, _ in viewers(world):
        get(client, world["file"], headers)
        get(client, world["file"], headers)


def test_patch_shows_in_the_next_get(pichr_client, world):
    fid, owner = world["file"], world["owner"]["headers"]
    warm(pichr_client, world)
    pichr_client.patch(f"/api/v1/files/{fid}", headers=owner, json={"title": "second"})
    assert get(pichr_client, fid, {}).json["title"] == "second"
    pichr_client.patch(f"/api/v1/files/{fid}", headers=owner, json={"visibility": "private"})
    assert get(pichr_client, fid, {}).status == 404
    assert get(pichr_client, fid, world["other"]["headers"]).status == 404
    assert get(pichr_client, fid, owner).json["visibility"] == "private"
    pichr_client.patch(f"/api/v1/files/{fid}", headers=owner, json={"visibility": "public"})
    assert get(pichr_client, fid, {}).status == 200
    assert_same_as_uncached(pichr_client, world)


def test_album_changes_show_in_the_next_get(pichr_client, world):
    fid, owner, albums = world["file"], world["owner"]["headers"], world["albums"]
    warm(pichr_client, world)
    r = pichr_client.post("/api/v1/albums", headers=owner, json={"title": "later"})
    later = r.json["id"]
    pichr_client.post(f"/api/v1/albums/{later}/files", headers=owner, json={"fileIds": [fid]})
    assert get(pichr_client, fid, {}).json["albumIds"] == [albums["public"], later]
    pichr_client.delete(f"/api/v1/albums/{albums['public']}/files/{fid}", headers=owner)
    assert get(pichr_client, fid, {}).json["albumIds"] == [later]
    pichr_client.patch(f"/api/v1/albums/{later}", headers=owner, json={"visibility": "private"})
    assert get(pichr_client, fid, {}).json["albumIds"] == []
    assert get(pichr_client, fid, owner).json["albumIds"] == [albums["private"], later]
    pichr_client.delete(f"/api/v1/albums/{later}", headers=owner)
    assert get(pichr_client, fid, owner).json["albumIds"] == [albums["private"]]
    assert_same_as_uncached(pichr_client, world)


def test_delete_shows_in_the_next_get(pichr_client, world):
    fid = world["file"]
    warm(pichr_client, world)
    assert (
        pichr_client.delete(f"/api/v1/files/{fid}", headers=world["owner"]["headers"]).status == 204
    )
    for _, headers, _ in viewers(world):
        assert get(pichr_client, fid, headers).status == 404


def test_moderation_removal_shows_in_the_next_get(pichr_client, world):
    fid = world["file"]
    warm(pichr_client, world)
    r = pichr_client.post(
        "/api/v1/moderation/report",
        headers=world["other"]["headers"],
        json={"fileId": fid, "reason": "spam"},
    )
    assert r.status == 201
    r = pichr_client.post(
        f"/api/v1/moderation/reports/{r.json['id']}/resolve",
        headers=world["staff"]["headers"],
        json={"action": "remove"},
    )
    assert r.status == 200, r.text
    for _, headers, _ in viewers(world):
        r = get(pichr_client, fid, headers)
        assert r.status == 410 and r.json["code"] == "removed"


def test_owner_disabled_shows_in_the_next_get(pichr_client, world):
    fid = world["file"]
    admin = pichr_client.signup()
    pichr_client.run(User.filter(id=admin["user"]["id"]).update(role="admin"))
    warm(pichr_client, world)
    r = pichr_client.patch(
        f"/api/v1/admin/users/{world['owner']['user']['id']}",
        headers=admin["headers"],
        json={"disabled": True},
    )
    assert r.status == 200, r.text
    assert get(pichr_client, fid, {}).status == 404
    assert get(pichr_client, fid, world["other"]["headers"]).status == 404
    assert get(pichr_client, fid, world["staff"]["headers"]).status == 200
    assert_same_as_uncached(pichr_client, world, skip=("owner",))  # signed out by it


def test_writes_outside_the_services_and_view_counts_show_too(pichr_client, world):
    # The cache is checked against the database's own change counter, so even a write
    # that no service announced (a script, another tool) is seen at once.
    fid = world["file"]
    warm(pichr_client, world)
    pichr_client.run(File.filter(id=fid).update(title="from a script"))
    assert get(pichr_client, fid, {}).json["title"] == "from a script"
    assert pichr_client.get(f"/i/{fid}").status == 200
    pichr_client.run(pichr_client.runtime.counters.flush())
    assert get(pichr_client, fid, {}).json["viewCount"] == 1
    assert_same_as_uncached(pichr_client, world)


def test_image_bytes_share_the_entry(pichr_client, world):
    if not pichr_client.runtime.settings.database_url.startswith("sqlite"):
        pytest.skip("/i/ shares the entry on SQLite only (elsewhere: one-second entries)")
    fid = world["file"]
    assert pichr_client.get(f"/i/{fid}").status == 200
    assert get(pichr_client, fid, {}).status == 200
    pichr_client.run(File.filter(id=fid).update(visibility="private"))
    assert pichr_client.get(f"/i/{fid}").status == 404
    assert pichr_client.get(f"/i/{fid}", headers=world["owner"]["headers"]).status == 200


def test_requests_after_a_commit_share_one_load(pichr_client, world):
    # Every commit (the view counts' flush every few seconds) makes every entry stale at
    # once; the requests then waiting must share one load, not queue one each behind
    # the read connection (a 1.5-5 s stall of the worker at 128 connections).
    rt = pichr_client.runtime
    if filecache._version(rt) is None:
        pytest.skip("entries are cached only on a SQLite file (elsewhere: one query each)")
    fid = world["file"]

    async def after_a_commit():
        await File.filter(id=fid).update(title="stale now")
        waiters = [asyncio.ensure_future(filecache.entry(rt, fid)) for _ in range(50)]
        await asyncio.sleep(0)
        waiters[0].cancel()  # a client that went away: the others still get the entry
        got = await asyncio.gather(*waiters[1:])
        return got, await filecache.entry(rt, fid), waiters[0].cancelled()

    got, later, cancelled = pichr_client.run(after_a_commit())
    assert cancelled
    assert all(entry is got[0] for entry in got)  # one load, one entry
    assert later is got[0]  # and it is the cached one
    assert got[0].file.title == "stale now"
    assert rt.hotcache.loading == {}


def _live_upload(base: str, headers: dict[str, str]) -> str:
    data = sample_image_bytes("PNG")
    r = httpx.post(
        f"{base}/api/v1/upload/presign",
        headers=headers,
        json={"filename": "pic.png", "mime": "image/png", "bytes": len(data)},
    )
    assert r.status_code == 201, r.text
    assert httpx.put(r.json()["uploadUrl"], content=data).status_code == 200
    return r.json()["fileId"]


@pytest.mark.slow
def test_two_workers_see_a_patch_in_the_next_get(tmp_path):
    server = LiveServer(
        tmp_path / "data", env={"PICHR_RATE_LIMITS__ENABLED": "false"}, args=["--workers", "2"]
    ).start()
    try:
        base = server.url
        r = httpx.post(
            f"{base}/api/v1/auth/signup",
            json={
                "email": "two@example.com",
                "password": "correct horse battery",
                "username": "two",
                "firstName": "T",
                "lastName": "W",
                "ageConfirmed": True,
            },
        )
        assert r.status_code == 201, r.text
        owner = {"Authorization": f"Bearer {r.json()['session']['access_token']}"}
        fid = _live_upload(base, owner)
        url = f"{base}/api/v1/files/{fid}"
        for round_ in range(3):
            # A new connection per request, so that both workers answer (and cache).
            for _ in range(8):
                assert httpx.get(url).status_code == 200
            title = f"title {round_}"
            assert httpx.patch(url, headers=owner, json={"title": title}).status_code == 200
            for _ in range(8):
                assert httpx.get(url).json()["title"] == title
        # /i/ shares the entry on SQLite: no second of old metadata on another worker.
        sqlite = server.env.get("PICHR_DATABASE__URL", "sqlite").startswith("sqlite")
        for _ in range(8):
            assert httpx.get(f"{base}/i/{fid}").status_code == 200
        assert httpx.patch(url, headers=owner, json={"visibility": "private"}).status_code == 200
        for _ in range(8):
            assert httpx.get(url).status_code == 404
            if sqlite:
                assert httpx.get(f"{base}/i/{fid}").status_code == 404
    finally:
        server.stop()


def test_the_cheaper_header_scrub_removes_what_sanics_does():
    from sanic.response import HTTPResponse

    from pichr_appliance.api.responses import ScrubbedResponse, clean_header

    samples = ["plain", "é ü 日本", "a\r\nSet-Cookie: x=1", "nul\x00byte", "tab\tkept", "\x7f", ""]
    for text in samples:
        assert clean_header(text) == HTTPResponse._sanitize_header_value(text)
    headers = {"X-A": "a\r\nb", "X-B": "fine", "X-C": 7}
    ours = list(
        ScrubbedResponse(b"{}", headers=headers, content_type="application/json").processed_headers
    )
    sanic = list(
        HTTPResponse(b"{}", headers=headers, content_type="application/json").processed_headers
    )
    assert ours == sanic and (b"X-A", b"ab") in ours


def test_the_database_version_is_asked_once_per_turn_of_the_loop(pichr_client, world):
    # Handlers of one turn answer requests read in an earlier turn, so they can share
    # one check; a commit shows from the next turn on.
    import sqlite3

    rt = pichr_client.runtime
    if filecache._version(rt) is None:
        pytest.skip("entries are cached only on a SQLite file")
    path = rt.hotcache.version_probe.path

    async def across_a_commit():
        before = filecache._version(rt)
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("UPDATE files SET title = 'changed' WHERE id = ?", (world["file"],))
        other.close()
        same_turn = filecache._version(rt)
        await asyncio.sleep(0)  # the next turn
        return before, same_turn, filecache._version(rt)

    before, same_turn, next_turn = pichr_client.run(across_a_commit())
    assert same_turn == before and next_turn != before
    assert get(pichr_client, world["file"], {}).json["title"] == "changed"
