"""Moderation through the API: reports, the queue, decisions, holds, automatic flags,
retention of removed bytes, and the audit log."""

from datetime import UTC, datetime, timedelta

import pytest

from pichr_appliance import hookimpl
from pichr_appliance.models import File, Report, User
from pichr_appliance.services import sweeper
from pichr_appliance.testing import sample_image_bytes


def make_role(client, account, role):
    client.run(User.filter(id=account["user"]["id"]).update(role=role))
    return account["headers"]


@pytest.fixture
def staff(pichr_client):
    account = pichr_client.signup()
    make_role(pichr_client, account, "moderator")
    return account


def report(client, headers=None, **body):
    return client.post("/api/v1/moderation/report", headers=headers or {}, json=body)


def test_full_round_trip_through_the_api(pichr_client, pichr_user, staff):
    mod = staff["headers"]
    f = pichr_client.upload(pichr_user)
    fid = f["id"]
    reporter = pichr_client.signup()
    r = report(pichr_client, reporter["headers"], fileId=fid, reason="spam", details="ads")
    assert r.status == 201 and set(r.json) == {"id", "status", "createdAt"}
    assert r.json["id"].startswith("rpt_") and r.json["status"] == "open"
    first = r.json["id"]
    dup = report(pichr_client, reporter["headers"], fileId=fid, reason="illegal")
    assert dup.status == 409 and dup.json["code"] == "duplicate_report"
    anon = report(pichr_client, fileId=fid, reason="harassment")
    assert anon.status == 201
    assert report(pichr_client, fileId=fid, reason="other").status == 409  # same address
    later = pichr_client.upload(pichr_user, sample_image_bytes("PNG", color=(1, 2, 3)))["id"]
    assert report(pichr_client, reporter["headers"], fileId=later, reason="nsfw").status == 201

    queue = pichr_client.get("/api/v1/moderation/queue", headers=mod).json
    assert queue["total"] == 2 and queue["limit"] == 20 and queue["offset"] == 0
    group = queue["queue"][0]  # oldest first
    assert group["targetType"] == "file" and group["targetId"] == fid
    assert group["reportCount"] == 2 and group["reasons"] == {"spam": 1, "harassment": 1}
    assert group["target"]["id"] == fid and group["target"]["owner"]["id"] == f["ownerId"]
    assert [x["id"] for x in group["reports"]][0] == first
    assert queue["queue"][1]["targetId"] == later

    r = pichr_client.post(
        f"/api/v1/moderation/reports/{first}/resolve",
        headers=mod,
        json={"action": "remove", "note": "spam link farm"},
    )
    assert r.status == 200, r.text
    assert r.json["status"] == "resolved" and r.json["action"] == "remove"
    assert r.json["resolvedBy"] == staff["user"]["username"] and r.json["note"] == "spam link farm"
    # The decision closes every open report on the same target.
    assert pichr_client.run(Report.filter(target_id=fid, status="open").count()) == 0
    r = pichr_client.post(
        f"/api/v1/moderation/reports/{anon.json['id']}/resolve",
        headers=mod,
        json={"action": "dismiss"},
    )
    assert r.status == 409 and r.json["code"] == "already_resolved"

    # Removed: 410 everywhere, for everyone.
    assert pichr_client.get(f"/i/{fid}").status == 410
    assert pichr_client.get(f"/api/v1/files/{fid}").status == 410
    assert pichr_client.get(f"/api/v1/files/{fid}", headers=pichr_user["headers"]).status == 410
    r = pichr_client.patch(
        f"/api/v1/files/{fid}", headers=pichr_user["headers"], json={"title": "x"}
    )
    assert r.status == 410
    assert fid not in [x["id"] for x in pichr_client.get("/api/v1/files/public").json["files"]]
    assert report(pichr_client, reporter["headers"], fileId=fid, reason="spam").status == 410

    entries = pichr_client.get("/api/v1/moderation/audit", headers=mod).json
    entry = entries["entries"][0]
    assert entry["action"] == "remove" and entry["targetType"] == "file"
    assert entry["targetId"] == fid and entry["note"] == "spam link farm"
    assert entry["actorId"] == staff["user"]["id"] and entry["actor"] == staff["user"]["username"]
    assert entry["createdAt"].endswith("Z") and sorted(entry["data"]["reportIds"]) == sorted(
        [first, anon.json["id"]]
    )
    only = pichr_client.get(f"/api/v1/moderation/audit?targetId={later}", headers=mod).json
    assert only["total"] == 0
    resolved = pichr_client.get("/api/v1/moderation/queue?status=resolved", headers=mod).json
    assert resolved["total"] == 1 and resolved["queue"][0]["targetId"] == fid
    assert pichr_client.get("/api/v1/moderation/queue?status=bogus", headers=mod).status == 400

    # The owner appeals (reports their own removed file); a moderator restores it.
    appeal = report(pichr_client, pichr_user["headers"], fileId=fid, reason="other")
    assert appeal.status == 201
    r = pichr_client.post(
        f"/api/v1/moderation/reports/{appeal.json['id']}/resolve",
        headers=mod,
        json={"action": "restore", "note": "appeal granted"},
    )
    assert r.status == 200 and r.json["action"] == "restore"
    assert pichr_client.get(f"/api/v1/files/{fid}").json["status"] == "ready"


def test_bad_input_and_who_may_do_what(pichr_client, pichr_user, staff):
    mod = staff["headers"]
    fid = pichr_client.upload(pichr_user)["id"]
    private = pichr_client.upload(
        pichr_user, sample_image_bytes("PNG", color=(9, 9, 9)), visibility="private"
    )["id"]
    other = pichr_client.signup()["headers"]
    for body in (
        {"fileId": fid, "reason": "boring"},
        {"fileId": fid},
        {"reason": "spam"},
        {"fileId": fid, "albumId": "alb_x", "reason": "spam"},
        {"fileId": fid, "reason": "spam", "details": "x" * 5000},
    ):
        r = report(pichr_client, other, **body)
        assert r.status == 400, body
    assert report(pichr_client, other, fileId="file_unknown", reason="spam").status == 404
    assert report(pichr_client, other, fileId=private, reason="spam").status == 404
    assert report(pichr_client, other, albumId="alb_unknown", reason="spam").status == 404
    as_json = {**other, "Content-Type": "application/json"}
    r = pichr_client.post("/api/v1/moderation/report", headers=as_json, content=b"[")
    assert r.status == 400
    rid = report(pichr_client, other, fileId=fid, reason="spam").json["id"]

    # Staff only, session only.
    for headers, status in ((None, 401), (other, 403)):
        assert pichr_client.get("/api/v1/moderation/queue", headers=headers).status == status
        assert pichr_client.get("/api/v1/moderation/audit", headers=headers).status == status
        r = pichr_client.post(
            f"/api/v1/moderation/reports/{rid}/resolve", headers=headers, json={"action": "remove"}
        )
        assert r.status == status
    key = pichr_client.post(
        "/api/v1/api-keys", headers=mod, json={"name": "k", "permissions": ["read"]}
    ).json["key"]
    r = pichr_client.get("/api/v1/moderation/queue", headers={"Authorization": f"Bearer {key}"})
    assert r.status == 403 and r.json["code"] == "session_required"
    # ... but a key may file a report.
    r = report(pichr_client, {"Authorization": f"Bearer {key}"}, fileId=fid, reason="spam")
    assert r.status == 201

    resolve = f"/api/v1/moderation/reports/{rid}/resolve"
    for body in ({"action": "delete"}, {}, {"action": "remove", "banUser": "yes"}):
        assert pichr_client.post(resolve, headers=mod, json=body).status == 400
    r = pichr_client.post(
        "/api/v1/moderation/reports/rpt_unknown/resolve", headers=mod, json={"action": "remove"}
    )
    assert r.status == 404
    assert pichr_client.get("/api/v1/moderation/reports/rpt_unknown", headers=mod).status == 404
    shown = pichr_client.get(f"/api/v1/moderation/reports/{rid}", headers=mod).json
    assert shown["target"]["id"] == fid and len(shown["reports"]) == 2

    # A moderator cannot act on an admin's content or account.
    admin = pichr_client.signup()
    make_role(pichr_client, admin, "admin")
    admins = pichr_client.upload(admin, sample_image_bytes("PNG", color=(7, 70, 7)))["id"]
    arid = report(pichr_client, other, fileId=admins, reason="spam").json["id"]
    r = pichr_client.post(
        f"/api/v1/moderation/reports/{arid}/resolve",
        headers=mod,
        json={"action": "remove", "banUser": True},
    )
    assert r.status == 403
    assert pichr_client.get(f"/api/v1/files/{admins}").status == 200
    r = pichr_client.post(
        f"/api/v1/moderation/reports/{arid}/resolve", headers=mod, json={"action": "dismiss"}
    )
    assert r.status == 200  # dismissing touches nobody


def test_ban_revokes_at_once_and_hides_public_content(pichr_client, pichr_user, staff):
    owner_h = pichr_user["headers"]
    fid = pichr_client.upload(pichr_user)["id"]
    other = pichr_client.upload(pichr_user, sample_image_bytes("PNG", color=(5, 50, 200)))["id"]
    album = pichr_client.post(
        "/api/v1/albums", headers=owner_h, json={"title": "a", "fileIds": [other]}
    ).json
    key = pichr_client.post(
        "/api/v1/api-keys", headers=owner_h, json={"name": "k", "permissions": ["read"]}
    ).json["key"]
    rid = report(pichr_client, fileId=fid, reason="illegal").json["id"]
    r = pichr_client.post(
        f"/api/v1/moderation/reports/{rid}/resolve",
        headers=staff["headers"],
        json={"action": "remove", "banUser": True, "note": "repeat offender"},
    )
    assert r.status == 200
    assert pichr_client.get("/api/v1/auth/me", headers=owner_h).status in (401, 403)
    r = pichr_client.get("/api/v1/files", headers={"Authorization": f"Bearer {key}"})
    assert r.status == 401
    assert pichr_client.get(f"/api/v1/files/{other}").status == 404
    assert pichr_client.get(f"/api/v1/albums/{album['id']}").status == 404
    assert pichr_client.get("/api/v1/files/public").json["total"] == 0
    actions = [
        e["action"]
        for e in pichr_client.get("/api/v1/moderation/audit", headers=staff["headers"]).json[
            "entries"
        ]
    ]
    assert actions[:2] == ["ban_user", "remove"]


def test_csam_report_holds_the_target_until_a_decision(pichr_client, pichr_user, staff):
    fid = pichr_client.upload(pichr_user)["id"]
    album = pichr_client.post(
        "/api/v1/albums", headers=pichr_user["headers"], json={"title": "a", "fileIds": [fid]}
    ).json
    rid = report(pichr_client, fileId=fid, reason="csam").json["id"]
    assert pichr_client.get(f"/i/{fid}").status == 404
    assert pichr_client.get(f"/api/v1/files/{fid}").status == 404
    assert pichr_client.get("/api/v1/files/public").json["total"] == 0
    assert pichr_client.get(f"/api/v1/albums/{album['id']}").json["files"] == []
    group = pichr_client.get("/api/v1/moderation/queue", headers=staff["headers"]).json["queue"][0]
    assert group["target"]["held"] is True
    # Dismissing is a decision: the hold ends.
    pichr_client.post(
        f"/api/v1/moderation/reports/{rid}/resolve",
        headers=staff["headers"],
        json={"action": "dismiss"},
    )
    assert pichr_client.get(f"/i/{fid}").status == 200

    rid = report(pichr_client, fileId=None, albumId=album["id"], reason="csam").json["id"]
    assert pichr_client.get(f"/api/v1/albums/{album['id']}").status == 404
    assert (
        pichr_client.get(f"/api/v1/albums/{album['id']}", headers=pichr_user["headers"]).status
        == 200
    )
    r = pichr_client.post(
        f"/api/v1/moderation/reports/{rid}/resolve",
        headers=staff["headers"],
        json={"action": "remove"},
    )
    assert r.status == 200
    assert pichr_client.get(f"/api/v1/albums/{album['id']}").status == 410
    assert (
        pichr_client.get(f"/api/v1/albums/{album['id']}", headers=pichr_user["headers"]).status
        == 410
    )
    assert pichr_client.get(f"/i/{fid}").status == 200  # the files of a removed album stay
    held = [
        e
        for e in pichr_client.get("/api/v1/moderation/audit", headers=staff["headers"]).json[
            "entries"
        ]
        if e["action"] == "hold"
    ]
    assert len(held) == 2 and held[0]["actor"] == "system" and held[0]["actorId"] is None


def test_removed_bytes_are_deleted_after_retention(pichr_client, pichr_user, staff):
    h = pichr_user["headers"]
    f = pichr_client.upload(pichr_user)
    rid = report(pichr_client, fileId=f["id"], reason="illegal").json["id"]
    pichr_client.post(
        f"/api/v1/moderation/reports/{rid}/resolve",
        headers=staff["headers"],
        json={"action": "remove"},
    )
    rt = pichr_client.app.ctx.runtime
    key = pichr_client.run(File.get(id=f["id"])).storage_key
    assert pichr_client.run(sweeper.sweep(rt))["purgedRemoved"] == 0  # within 30 days
    assert rt.storage.local_path(key).exists()
    past = datetime.now(UTC) - timedelta(days=31)
    pichr_client.run(File.filter(id=f["id"]).update(removed_at=past))
    assert pichr_client.run(sweeper.sweep(rt))["purgedRemoved"] == 1
    assert not rt.storage.local_path(key).exists()
    assert pichr_client.get(f"/i/{f['id']}").status == 410  # still 410, not 404
    assert pichr_client.get("/api/v1/auth/me", headers=h).json["user"]["usage"]["bytes"] == 0
    appeal = report(pichr_client, h, fileId=f["id"], reason="other").json["id"]
    r = pichr_client.post(
        f"/api/v1/moderation/reports/{appeal}/resolve",
        headers=staff["headers"],
        json={"action": "restore"},
    )
    assert r.status == 409 and r.json["code"] == "purged"
    assert pichr_client.delete(f"/api/v1/files/{f['id']}", headers=h).status == 204
    usage = pichr_client.get("/api/v1/auth/me", headers=h).json["user"]["usage"]
    assert usage == {"bytes": 0, "files": 0, "quotaBytes": 5_000_000_000}  # freed once only


class RedClassifier:
    """Scores an image by the red of its bottom-right pixel (deterministic test data)."""

    name = "red"

    def score(self, path):
        from PIL import Image

        with Image.open(path) as img:
            rgb = img.convert("RGB")
            return rgb.getpixel((rgb.width - 1, rgb.height - 1))[0] / 255


class ScorePlugin:
    @hookimpl
    def register_classifiers(self, settings):
        return [RedClassifier()]

    @hookimpl
    def report_created(self, runtime, report):
        EVENTS.append(report.id)


EVENTS = []


def test_automatic_moderation_from_nsfw_scores(pichr_client, pichr_user, staff):
    pichr_client.runtime.pm.register(ScorePlugin(), name="test_scores")
    mild = pichr_client.upload(pichr_user, sample_image_bytes("PNG", color=(25, 0, 0)))
    assert mild["nsfwScore"] == pytest.approx(25 / 255) and mild["ageRestricted"] is False
    adult = pichr_client.upload(pichr_user, sample_image_bytes("PNG", color=(216, 0, 0)))
    assert adult["nsfwScore"] >= 0.8 and adult["ageRestricted"] is True
    flagged = pichr_client.upload(pichr_user, sample_image_bytes("PNG", color=(250, 0, 0)))
    assert flagged["ageRestricted"] is True
    queue = pichr_client.get("/api/v1/moderation/queue", headers=staff["headers"]).json
    assert [g["targetId"] for g in queue["queue"]] == [flagged["id"]]
    system = queue["queue"][0]["reports"][0]
    assert system["system"] is True and system["reason"] == "nsfw" and system["reporterId"] is None
    assert EVENTS[-1] == system["id"]
    assert pichr_client.get(f"/i/{adult['id']}").status == 403  # age-restricted: anonymous
    audit = pichr_client.get("/api/v1/moderation/audit", headers=staff["headers"]).json["entries"]
    assert [e["action"] for e in audit] == ["auto_report", "auto_age_restrict", "auto_age_restrict"]
    # restore lifts the age restriction a moderator judged unnecessary
    r = pichr_client.post(
        f"/api/v1/moderation/reports/{system['id']}/resolve",
        headers=staff["headers"],
        json={"action": "restore"},
    )
    assert r.status == 200
    assert pichr_client.get(f"/i/{flagged['id']}").status == 200


def test_over_long_ids_are_404_not_500(pichr_client, pichr_user, staff):
    # Found by the OpenAPI fuzz test (Tortoise refuses over-long lookup values).
    h = staff["headers"]
    assert report(pichr_client, albumId="alb_" + "a" * 40, reason="spam").status == 404
    assert report(pichr_client, fileId="file_" + "a" * 40, reason="spam").status == 404
    long_report = "rpt_" + "r" * 40
    assert pichr_client.get(f"/api/v1/moderation/reports/{long_report}", headers=h).status == 404
    r = pichr_client.post(
        f"/api/v1/moderation/reports/{long_report}/resolve", headers=h, json={"action": "dismiss"}
    )
    assert r.status == 404
    for param in ("targetId", "actorId", "action"):
        r = pichr_client.get("/api/v1/moderation/audit", headers=h, params={param: "z" * 70})
        assert r.status == 200 and r.json["entries"] == [] and r.json["total"] == 0
