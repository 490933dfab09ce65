"""Issue 14, second round: album ids that leaked, API keys on ``/i/``, staff deleting
admins' content, cached access decisions and abuse of anonymous ``csam`` reports.
Every test goes through a real listening server."""

import pytest

from pichr_appliance import hookimpl
from pichr_appliance.models import User
from pichr_appliance.testing import sample_image_bytes


def make_role(client, account, role):
    client.run(User.filter(id=account["user"]["id"]).update(role=role))
    return account["headers"]


def album(client, owner, visibility, file_ids):
    r = client.post(
        "/api/v1/albums",
        headers=owner["headers"],
        json={"title": visibility, "visibility": visibility, "fileIds": file_ids},
    )
    assert r.status == 201, r.text
    return r.json["id"]


def api_key(client, account, *permissions):
    r = client.post(
        "/api/v1/api-keys",
        headers=account["headers"],
        json={"name": "k", "permissions": list(permissions)},
    )
    assert r.status == 201, r.text
    return {"Authorization": f"Bearer {r.json['key']}"}


def report(client, headers=None, **body):
    return client.post("/api/v1/moderation/report", headers=headers or {}, json=body)


# ---------------------------------------------------------------- item 2: album ids


def test_album_ids_name_only_albums_the_viewer_may_see(pichr_client, pichr_user):
    c = pichr_client
    fid = c.upload(pichr_user)["id"]
    public = album(c, pichr_user, "public", [fid])
    unlisted = album(c, pichr_user, "unlisted", [fid])
    private = album(c, pichr_user, "private", [fid])
    other = c.signup()
    staff = c.signup()
    make_role(c, staff, "moderator")

    def ids(path, headers=None):
        r = c.get(path, headers=headers or {})
        assert r.status == 200, r.text
        return r.json

    assert ids(f"/api/v1/files/{fid}")["albumIds"] == [public]
    assert ids(f"/api/v1/files/{fid}", other["headers"])["albumIds"] == [public]
    assert ids("/api/v1/files/public")["files"][0]["albumIds"] == [public]
    assert ids(f"/api/v1/albums/{public}")["files"][0]["albumIds"] == [public]
    # Through an unlisted album's link the viewer still learns no other album.
    assert ids(f"/api/v1/albums/{unlisted}")["files"][0]["albumIds"] == [public]
    everything = [public, unlisted, private]
    assert ids(f"/api/v1/files/{fid}", pichr_user["headers"])["albumIds"] == everything
    assert ids(f"/api/v1/files/{fid}", staff["headers"])["albumIds"] == everything


def test_unlisted_files_are_not_listed_on_a_public_album(pichr_client, pichr_user):
    c = pichr_client
    shown = c.upload(pichr_user)["id"]
    hidden = c.upload(pichr_user, sample_image_bytes("PNG", color=(9, 9, 9)), visibility="unlisted")
    public = album(c, pichr_user, "public", [shown, hidden["id"]])
    unlisted = album(c, pichr_user, "unlisted", [shown, hidden["id"]])

    page = c.get(f"/api/v1/albums/{public}").json
    assert [f["id"] for f in page["files"]] == [shown] and page["fileCount"] == 1
    # An unlisted album is itself reached only by its link: it shows its unlisted files.
    page = c.get(f"/api/v1/albums/{unlisted}").json
    assert [f["id"] for f in page["files"]] == [shown, hidden["id"]]
    own = c.get(f"/api/v1/albums/{public}", headers=pichr_user["headers"]).json
    assert own["fileCount"] == 2
    assert c.get(f"/i/{hidden['id']}").status == 200  # still linkable


# ---------------------------------------------------------------- item 3: API keys on /i/


def test_image_bytes_need_a_read_key_and_keys_carry_no_staff_powers(pichr_client, pichr_user):
    c = pichr_client
    private = c.upload(pichr_user, visibility="private")["id"]
    c.run(User.filter(id=pichr_user["user"]["id"]).update(age_confirmed=True))
    adult = c.upload(pichr_user, sample_image_bytes("PNG", color=(4, 5, 6)))["id"]
    c.run(_age_restrict(adult))
    upload_only = api_key(c, pichr_user, "upload")
    reader = api_key(c, pichr_user, "read")
    assert c.get(f"/i/{private}", headers=pichr_user["headers"]).status == 200
    assert c.get(f"/i/{private}", headers=upload_only).status == 404
    assert c.get(f"/i/{adult}", headers=upload_only).status == 403
    assert c.get(f"/i/{private}", headers=reader).status == 200

    staff = c.signup()
    make_role(c, staff, "admin")
    assert c.get(f"/i/{private}", headers=staff["headers"]).status == 200
    for perms in (("upload",), ("read",), ("read", "write", "delete")):
        key = api_key(c, staff, *perms)
        assert c.get(f"/i/{private}", headers=key).status == 404, perms
        assert c.get(f"/api/v1/files/{private}", headers=key).status in (403, 404), perms
    everything = api_key(c, staff, "read", "write", "delete")
    assert c.delete(f"/api/v1/files/{private}", headers=everything).status == 404
    assert c.get(f"/i/{private}", headers=pichr_user["headers"]).status == 200


async def _age_restrict(file_id):
    from pichr_appliance.models import File

    await File.filter(id=file_id).update(age_restricted=True)


# ---------------------------------------------------------------- item 4: staff vs admins


def test_a_moderator_may_not_delete_an_admins_content_and_staff_deletes_are_audited(
    pichr_client,
):
    c = pichr_client
    admin = c.signup()
    make_role(c, admin, "admin")
    mod = c.signup()
    make_role(c, mod, "moderator")
    for visibility in ("public", "private"):
        fid = c.upload(admin, sample_image_bytes("PNG", color=(1, 1, 1)), visibility=visibility)
        assert c.delete(f"/api/v1/files/{fid['id']}", headers=mod["headers"]).status == 403
        assert c.get(f"/i/{fid['id']}", headers=admin["headers"]).status == 200
        aid = album(c, admin, visibility, [])
        assert c.delete(f"/api/v1/albums/{aid}", headers=mod["headers"]).status == 403
        assert c.get(f"/api/v1/albums/{aid}", headers=admin["headers"]).status == 200

    user = c.signup()
    fid = c.upload(user)["id"]
    aid = album(c, user, "private", [fid])
    assert c.delete(f"/api/v1/albums/{aid}", headers=mod["headers"]).status == 204
    assert c.delete(f"/api/v1/files/{fid}", headers=mod["headers"]).status == 204
    own = c.upload(user, sample_image_bytes("PNG", color=(2, 2, 2)))["id"]
    assert c.delete(f"/api/v1/files/{own}", headers=user["headers"]).status == 204
    entries = c.get("/api/v1/moderation/audit", headers=admin["headers"]).json["entries"]
    done = {(e["action"], e["targetId"]): e for e in entries}
    assert done[("delete_album", aid)]["actorId"] == mod["user"]["id"]
    assert done[("delete_file", fid)]["actorId"] == mod["user"]["id"]
    assert done[("delete_file", fid)]["data"]["ownerId"] == user["user"]["id"]
    assert ("delete_file", own) not in done  # owners' own deletions are not staff actions


# ---------------------------------------------------------------- item 10: caching


class Invalidations:
    def __init__(self):
        self.seen = []

    @hookimpl
    def file_invalidated(self, file_id):
        self.seen.append(file_id)


@pytest.fixture
def invalidations():
    return Invalidations()


@pytest.fixture
def pichr_plugins(invalidations):
    return [invalidations]


def test_shared_caches_revalidate_and_state_changes_invalidate(pichr_client, invalidations):
    c = pichr_client
    owner = c.signup()
    fid = c.upload(owner)["id"]
    r = c.get(f"/i/{fid}")
    assert r.headers["cache-control"] == "public, max-age=300, must-revalidate"
    assert "immutable" not in c.get(f"/i/{fid}?w=64").headers["cache-control"]
    etag = r.headers["etag"]
    again = c.get(f"/i/{fid}", headers={"If-None-Match": etag})
    assert again.status == 304
    assert again.headers["cache-control"] == "public, max-age=300, must-revalidate"

    invalidations.seen.clear()
    r = c.patch(f"/api/v1/files/{fid}", headers=owner["headers"], json={"visibility": "private"})
    assert r.status == 200
    assert fid in invalidations.seen
    assert c.get(f"/i/{fid}", headers={"If-None-Match": etag}).status == 404
    # A ban hides every file of the account: caches and CDNs are told about each.
    c.patch(f"/api/v1/files/{fid}", headers=owner["headers"], json={"visibility": "public"})
    mod = c.signup()
    make_role(c, mod, "moderator")
    rid = report(c, fileId=fid, reason="spam").json["id"]
    invalidations.seen.clear()
    r = c.post(
        f"/api/v1/moderation/reports/{rid}/resolve",
        headers=mod["headers"],
        json={"action": "dismiss", "banUser": True},
    )
    assert r.status == 200, r.text
    assert fid in invalidations.seen


@pytest.mark.parametrize("pichr_overrides", [{"images": {"cache_max_age": 60}}])
def test_the_shared_cache_lifetime_is_configurable(pichr_client):
    fid = pichr_client.upload(pichr_client.signup())["id"]
    cache = pichr_client.get(f"/i/{fid}").headers["cache-control"]
    assert cache == "public, max-age=60, must-revalidate"


# ---------------------------------------------------------------- item 12: csam reports


def test_csam_reports_are_rate_limited_per_address_and_name_the_reporter(pichr_client, pichr_user):
    c = pichr_client
    limit = c.runtime.settings.rate_limits.csam_reports_per_hour
    files = [
        c.upload(pichr_user, sample_image_bytes("PNG", color=(i, 7, 7)))["id"]
        for i in range(limit + 1)
    ]
    for fid in files[:limit]:
        assert report(c, fileId=fid, reason="csam").status == 201
    over = report(c, fileId=files[limit], reason="csam")
    assert over.status == 429 and over.json["code"] == "rate_limited"
    assert c.get(f"/i/{files[limit]}").status == 200  # not held
    # Other reasons have their own, looser limit.
    assert report(c, fileId=files[limit], reason="spam").status == 201

    admin = c.signup()
    make_role(c, admin, "admin")
    queue = c.get("/api/v1/moderation/queue", headers=admin["headers"]).json["queue"]
    first = queue[0]["reports"][0]
    assert first["reporter"].startswith("anonymous ") and first["reporterId"] is None
    assert first["reporter"].split(" ", 1)[1] == "127.0.0.1"
    holds = [
        e
        for e in c.get("/api/v1/moderation/audit", headers=admin["headers"]).json["entries"]
        if e["action"] == "hold"
    ]
    assert len(holds) == limit
    assert {e["data"]["reporter"] for e in holds} == {"anonymous 127.0.0.1"}
    signed = c.signup()
    mine = c.upload(pichr_user, sample_image_bytes("PNG", color=(99, 7, 7)))["id"]
    assert report(c, signed["headers"], fileId=mine, reason="csam").status == 201
    hold = c.get(f"/api/v1/moderation/audit?targetId={mine}", headers=admin["headers"]).json[
        "entries"
    ][0]
    assert hold["data"]["reporter"] == signed["user"]["id"]


@pytest.mark.parametrize("pichr_overrides", [{"moderation": {"anonymous_csam": "queue"}}])
def test_anonymous_csam_reports_can_queue_first_instead_of_holding(pichr_client, pichr_user):
    c = pichr_client
    older = c.upload(pichr_user)["id"]
    fid = c.upload(pichr_user, sample_image_bytes("PNG", color=(3, 3, 3)))["id"]
    assert report(c, fileId=older, reason="spam").status == 201
    assert report(c, fileId=fid, reason="csam").status == 201
    assert c.get(f"/i/{fid}").status == 200  # queued, not held
    admin = c.signup()
    make_role(c, admin, "admin")
    queue = c.get("/api/v1/moderation/queue", headers=admin["headers"]).json["queue"]
    assert [g["targetId"] for g in queue] == [fid, older]  # csam first
    # A signed-in reporter still holds at once.
    signed = c.signup()
    assert report(c, signed["headers"], fileId=older, reason="csam").status == 201
    assert c.get(f"/i/{older}").status == 404
