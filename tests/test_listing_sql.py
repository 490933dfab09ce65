"""Listings filtered, counted and paged in SQL: tags, paging windows, album pages.

Runs on SQLite and (``PICHR_TEST_DATABASE=postgres``) PostgreSQL: the tag filter is
JSON containment, which each database answers its own way.
"""

from urllib.parse import urlsplit

from pichr_appliance.testing import sample_image_bytes


def upload(client, user, n, **kw):
    data = sample_image_bytes("PNG", (40 + n, 30), color=(n * 9 % 256, 60, 90))
    body = {"filename": f"p{n}.png", "mime": "image/png", "bytes": len(data), **kw}
    p = client.post("/api/v1/upload/presign", headers=user["headers"], json=body).json
    u = urlsplit(p["uploadUrl"])
    assert client.put(f"{u.path}?{u.query}", content=data).status == 200
    return p["fileId"]


def test_tags_with_awkward_characters_match_exactly(pichr_client, pichr_user):
    h = pichr_user["headers"]
    quoted = upload(pichr_client, pichr_user, 1, tags=['it\'s "quoted"', "100%"])
    accented = upload(pichr_client, pichr_user, 2, tags=["Café", "cat"])
    upload(pichr_client, pichr_user, 3, tags=["category"])  # "cat" must not match it

    def ids(tag, path="/api/v1/files"):
        r = pichr_client.get(path, headers=h, params={"tag": tag})
        assert r.status == 200, r.text
        return [f["id"] for f in r.json["files"]], r.json["total"]

    assert ids('it\'s "quoted"') == ([quoted], 1)
    assert ids("100%") == ([quoted], 1)
    assert ids("100") == ([], 0)
    assert ids("café") == ([accented], 1)
    assert ids("CAT") == ([accented], 1)
    assert ids("cat", "/api/v1/files/public") == ([accented], 1)
    assert ids("nothing", "/api/v1/files/public") == ([], 0)


def test_pages_are_windows_of_one_order_with_the_full_total(pichr_client, pichr_user):
    h = pichr_user["headers"]
    made = [upload(pichr_client, pichr_user, n, tags=["t"]) for n in range(5)]
    upload(pichr_client, pichr_user, 9, visibility="private", tags=["t"])
    newest_first = list(reversed(made))
    seen = []
    for offset in (0, 2, 4):
        page = pichr_client.get(f"/api/v1/files/public?limit=2&offset={offset}&tag=t").json
        assert page["total"] == 5 and page["limit"] == 2 and page["offset"] == offset
        seen += [f["id"] for f in page["files"]]
    assert seen == newest_first
    past = pichr_client.get("/api/v1/files/public?limit=2&offset=50").json
    assert past["files"] == [] and past["total"] == 5
    mine = pichr_client.get("/api/v1/files?limit=4&offset=1&tag=t&sort=created", headers=h).json
    assert mine["total"] == 6 and len(mine["files"]) == 4
    assert [f["id"] for f in mine["files"]][:3] == made[1:4]


def test_album_pages_count_what_the_viewer_sees(pichr_client, pichr_user):
    h = pichr_user["headers"]
    ids = [upload(pichr_client, pichr_user, n) for n in range(4)]
    secret = upload(pichr_client, pichr_user, 7, visibility="private")
    body = {"title": "A", "fileIds": [secret, *ids], "coverFileId": secret}
    album = pichr_client.post("/api/v1/albums", headers=h, json=body).json
    own = pichr_client.get(f"/api/v1/albums/{album['id']}?limit=2", headers=h).json
    assert own["total"] == 5 and own["fileCount"] == 5 and own["coverFileId"] == secret
    assert [f["id"] for f in own["files"]] == [secret, ids[0]]
    anon = pichr_client.get(f"/api/v1/albums/{album['id']}?limit=2&offset=1").json
    assert anon["total"] == 4 and anon["fileCount"] == 4 and anon["coverFileId"] is None
    assert [f["id"] for f in anon["files"]] == ids[1:3]
