"""Albums: the guide's create shape, listing, pages in album order, edits and visibility."""

from pichr_appliance.models import AlbumFile, File
from pichr_appliance.testing import sample_image_bytes

ALBUM_FIELDS = {
    "id",
    "title",
    "description",
    "visibility",
    "tags",
    "coverFileId",
    "fileCount",
    "ownerId",
    "createdAt",
    "updatedAt",
    "url",
}


def colour(i):
    return sample_image_bytes("PNG", color=(10 + 40 * i, 200 - 30 * i, 60))


def three_files(client, user):
    return [client.upload(user, colour(i), title=f"f{i}")["id"] for i in range(3)]


def test_create_with_the_guides_shape(pichr_client, pichr_user):
    h = pichr_user["headers"]
    a, b, _ = three_files(pichr_client, pichr_user)
    r = pichr_client.post(
        "/api/v1/albums",
        headers=h,
        json={
            "title": "Cat Photos Collection",
            "description": "All my favorite cat pictures",
            "visibility": "public",
            "fileIds": [a, b],
            "tags": ["Cats", "pets", "animals"],
        },
    )
    assert r.status == 201, r.text
    album = r.json
    assert set(album) == ALBUM_FIELDS
    assert album["id"].startswith("alb_")
    assert album["url"] == f"{pichr_client.runtime.settings.public_url}/a/{album['id']}"
    assert album["title"] == "Cat Photos Collection"
    assert album["description"] == "All my favorite cat pictures"
    assert album["tags"] == ["cats", "pets", "animals"]
    assert album["fileCount"] == 2 and album["ownerId"] == pichr_user["user"]["id"]
    assert album["createdAt"].endswith("Z") and album["coverFileId"] is None
    page = pichr_client.get(f"/api/v1/albums/{album['id']}").json
    assert [f["id"] for f in page["files"]] == [a, b]
    assert page["total"] == 2 and page["files"][0]["albumIds"] == [album["id"]]
    listed = pichr_client.get("/api/v1/albums", headers=h).json
    assert listed["total"] == 1 and listed["limit"] == 20 and listed["offset"] == 0
    assert listed["albums"][0]["fileCount"] == 2
    files = pichr_client.get(f"/api/v1/files?albumId={album['id']}", headers=h).json
    assert {f["id"] for f in files["files"]} == {a, b}


def test_only_own_ready_files_can_be_added(pichr_client, pichr_user):
    h = pichr_user["headers"]
    mine = pichr_client.upload(pichr_user)["id"]
    other = pichr_client.signup()
    theirs = pichr_client.upload(other, colour(2))["id"]
    r = pichr_client.post(
        "/api/v1/albums",
        headers=h,
        json={"title": "x", "fileIds": [mine, theirs, "file_nope"]},
    )
    assert r.status == 400 and r.json["code"] == "invalid_file_ids"
    assert r.json["details"]["fileIds"] == [theirs, "file_nope"]
    assert theirs in r.json["error"]
    assert pichr_client.get("/api/v1/albums", headers=h).json["total"] == 0  # nothing created
    for bad in (
        {},
        {"title": "  "},
        {"title": "t", "visibility": "secret"},
        {"title": "t", "fileIds": "file_x"},
        {"title": "t", "fileIds": [mine], "coverFileId": theirs},
        {"title": "t", "tags": [3]},
    ):
        assert pichr_client.post("/api/v1/albums", headers=h, json=bad).status == 400, bad
    album = pichr_client.post("/api/v1/albums", headers=h, json={"title": "t"}).json
    r = pichr_client.post(
        f"/api/v1/albums/{album['id']}/files", headers=h, json={"fileIds": [theirs]}
    )
    assert r.status == 400 and r.json["details"]["fileIds"] == [theirs]
    assert pichr_client.post("/api/v1/albums", json={"title": "anon"}).status == 401


def test_add_remove_reorder_cover_patch_delete(pichr_client, pichr_user):
    h = pichr_user["headers"]
    a, b, c = three_files(pichr_client, pichr_user)
    album = pichr_client.post("/api/v1/albums", headers=h, json={"title": "t"}).json
    aid = album["id"]
    base = f"/api/v1/albums/{aid}"
    r = pichr_client.post(f"{base}/files", headers=h, json={"fileIds": [a, c]})
    assert r.status == 200 and r.json["fileCount"] == 2
    r = pichr_client.post(f"{base}/files", headers=h, json={"fileIds": [b, a], "position": 1})
    assert r.status == 200 and r.json["fileCount"] == 3  # a was already in: it stays put

    def order():
        return [f["id"] for f in pichr_client.get(base, headers=h).json["files"]]

    assert order() == [a, b, c]
    assert pichr_client.put(f"{base}/order", headers=h, json={"fileIds": [c, a, b]}).status == 200
    assert order() == [c, a, b]
    r = pichr_client.put(f"{base}/order", headers=h, json={"fileIds": [c, a]})
    assert r.status == 400 and r.json["details"]["missing"] == [b]
    r = pichr_client.put(f"{base}/order", headers=h, json={"fileIds": [c, a, b, b]})
    assert r.status == 400
    page = pichr_client.get(f"{base}?limit=2&offset=1", headers=h).json
    assert [f["id"] for f in page["files"]] == [a, b] and page["total"] == 3
    assert page["limit"] == 2 and page["offset"] == 1
    for bad in (
        {"fileIds": []},
        {"fileIds": [a], "position": -1},
        {"fileIds": [a], "position": "x"},
    ):
        assert pichr_client.post(f"{base}/files", headers=h, json=bad).status == 400

    r = pichr_client.patch(
        base,
        headers=h,
        json={"title": "New", "visibility": "unlisted", "coverFileId": b, "tags": ["x"]},
    )
    assert r.status == 200 and r.json["coverFileId"] == b and r.json["visibility"] == "unlisted"
    assert r.json["title"] == "New" and r.json["tags"] == ["x"]
    other_file = pichr_client.upload(pichr_client.signup(), colour(1))["id"]
    for bad in ({"coverFileId": other_file}, {"title": ""}, {"visibility": "x"}):
        assert pichr_client.patch(base, headers=h, json=bad).status == 400

    assert pichr_client.delete(f"{base}/files/{b}", headers=h).status == 204
    assert pichr_client.delete(f"{base}/files/{b}", headers=h).status == 404
    assert pichr_client.get(base, headers=h).json["coverFileId"] is None
    assert order() == [c, a]
    assert pichr_client.get(f"/api/v1/files/{b}", headers=h).status == 200  # the file stays

    # Deleting a file takes it out of its albums (and off the cover).
    pichr_client.patch(base, headers=h, json={"coverFileId": c})
    assert pichr_client.delete(f"/api/v1/files/{c}", headers=h).status == 204
    page = pichr_client.get(base, headers=h).json
    assert [f["id"] for f in page["files"]] == [a] and page["coverFileId"] is None

    assert pichr_client.delete(base, headers=h).status == 204
    assert pichr_client.get(base, headers=h).status == 404
    assert pichr_client.get(f"/api/v1/files/{a}", headers=h).status == 200  # files stay
    assert pichr_client.run(AlbumFile.filter(album_id=aid).count()) == 0


def test_visibility_rules_and_foreign_ids(pichr_client, pichr_user):
    h = pichr_user["headers"]
    pub = pichr_client.upload(pichr_user, colour(0))["id"]
    priv = pichr_client.upload(pichr_user, colour(1), visibility="private")["id"]
    removed = pichr_client.upload(pichr_user, colour(2))["id"]
    adult = pichr_client.upload(pichr_user, colour(3))["id"]
    pichr_client.run(File.filter(id=removed).update(status="removed"))
    pichr_client.run(File.filter(id=adult).update(age_restricted=True))
    ids = [pub, priv, removed, adult]
    public = pichr_client.post(
        "/api/v1/albums", headers=h, json={"title": "p", "fileIds": ids, "coverFileId": priv}
    )
    assert public.status == 400  # the removed file is not ready: it cannot be added
    pichr_client.run(File.filter(id=removed).update(status="ready"))
    public = pichr_client.post(
        "/api/v1/albums", headers=h, json={"title": "p", "fileIds": ids, "coverFileId": priv}
    ).json
    pichr_client.run(File.filter(id=removed).update(status="removed"))
    base = f"/api/v1/albums/{public['id']}"

    anon = pichr_client.get(base).json
    assert [f["id"] for f in anon["files"]] == [pub]  # no private, removed or adult files
    assert anon["fileCount"] == 1 and anon["coverFileId"] is None
    grown_up = pichr_client.signup()
    seen = pichr_client.get(base, headers=grown_up["headers"]).json
    assert [f["id"] for f in seen["files"]] == [pub, adult]
    owner_view = pichr_client.get(base, headers=h).json
    assert [f["id"] for f in owner_view["files"]] == ids and owner_view["coverFileId"] == priv

    private = pichr_client.post(
        "/api/v1/albums", headers=h, json={"title": "q", "visibility": "private"}
    ).json
    unlisted = pichr_client.post(
        "/api/v1/albums", headers=h, json={"title": "u", "visibility": "unlisted"}
    ).json
    assert pichr_client.get(f"/api/v1/albums/{unlisted['id']}").status == 200
    stranger = pichr_client.signup()["headers"]
    for path in (f"/api/v1/albums/{private['id']}", "/api/v1/albums/alb_unknown"):
        assert pichr_client.get(path).status == 404
        assert pichr_client.get(path, headers=stranger).status == 404
    assert pichr_client.get(f"/api/v1/albums/{private['id']}", headers=h).status == 200
    # Someone else's album: 404 for every change, never 403.
    pid = public["id"]
    assert pichr_client.patch(base, headers=stranger, json={"title": "x"}).status == 404
    assert pichr_client.delete(base, headers=stranger).status == 404
    r = pichr_client.post(f"{base}/files", headers=stranger, json={"fileIds": [pub]})
    assert r.status == 404
    assert pichr_client.delete(f"{base}/files/{pub}", headers=stranger).status == 404
    r = pichr_client.put(f"/api/v1/albums/{pid}/order", headers=stranger, json={"fileIds": [pub]})
    assert r.status == 404
    assert pichr_client.get("/api/v1/albums", headers=stranger).json["total"] == 0


def test_api_key_permissions(pichr_client, pichr_user):
    h = pichr_user["headers"]
    key = pichr_client.post(
        "/api/v1/api-keys", headers=h, json={"name": "r", "permissions": ["read"]}
    ).json["key"]
    kh = {"Authorization": f"Bearer {key}"}
    assert pichr_client.get("/api/v1/albums", headers=kh).status == 200
    r = pichr_client.post("/api/v1/albums", headers=kh, json={"title": "t"})
    assert r.status == 403 and r.json["code"] == "insufficient_permissions"


def test_ids_longer_than_any_id_are_404_or_400_not_500(pichr_client, pichr_user):
    # Found by the OpenAPI fuzz test (Tortoise refuses over-long lookup values).
    h = pichr_user["headers"]
    long_album, long_file = "alb_" + "a" * 40, "file_" + "b" * 40
    assert pichr_client.get(f"/api/v1/albums/{long_album}").status == 404
    assert pichr_client.patch(f"/api/v1/albums/{long_album}", headers=h, json={}).status == 404
    r = pichr_client.post(f"/api/v1/albums/{long_album}/files", headers=h, json={"fileIds": ["x"]})
    assert r.status == 404
    r = pichr_client.put(f"/api/v1/albums/{long_album}/order", headers=h, json={"fileIds": []})
    assert r.status == 404
    assert pichr_client.delete(f"/api/v1/albums/{long_album}", headers=h).status == 404
    album = pichr_client.post("/api/v1/albums", headers=h, json={"title": "t"}).json
    r = pichr_client.delete(f"/api/v1/albums/{album['id']}/files/{long_file}", headers=h)
    assert r.status == 404
    r = pichr_client.patch(
        f"/api/v1/albums/{album['id']}", headers=h, json={"coverFileId": long_file}
    )
    assert r.status == 400 and r.json["code"] == "invalid_cover"
