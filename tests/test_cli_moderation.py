"""``moderate``, ``stats`` and the audited ``user`` commands, against the data directory
of a running ``pichr-appliance serve``: the CLI and the API share one service layer
and one audit log."""

import json
import os
import time

import httpx
import pytest
from click.testing import CliRunner

from pichr_appliance.cli import cli
from pichr_appliance.testing import FAST_HASHING, LiveServer, sample_image_bytes

FAST = [arg for k, v in FAST_HASHING.items() for arg in ("-s", f"auth.{k}={v}")]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    # One server for the module (starting one takes seconds); tests use their own names.
    with pytest.MonkeyPatch.context() as mp:
        for name in list(os.environ):
            if name.startswith("PICHR_"):
                mp.delenv(name)
        live = LiveServer(tmp_path_factory.mktemp("cli-moderation") / "data").start()
        try:
            yield live
        finally:
            live.stop()


@pytest.fixture
def run(server):
    def invoke(*args):
        return CliRunner().invoke(
            cli, [*args, "--data-dir", str(server.data_dir), *FAST], catch_exceptions=False
        )

    return invoke


def signup(api, name):
    body = {
        "email": f"{name}@example.com",
        "password": "correct horse battery",
        "username": name,
        "ageConfirmed": True,
    }
    r = httpx.post(f"{api}/auth/signup", json=body)
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['session']['access_token']}"}


def upload(api, headers, color):
    data = sample_image_bytes("PNG", color=color)
    p = httpx.post(
        f"{api}/upload/presign",
        headers=headers,
        json={"filename": "a.png", "mime": "image/png", "bytes": len(data)},
    ).json()
    assert httpx.put(p["uploadUrl"], content=data).status_code == 200
    return p["fileId"]


def eventually_status(url, status, seconds=3.0):
    """/i/ caches metadata for a second per worker: wait for a change made elsewhere."""
    deadline = time.monotonic() + seconds
    while True:
        got = httpx.get(url).status_code
        if got == status or time.monotonic() > deadline:
            return got
        time.sleep(0.1)


def test_moderation_round_trip_through_api_and_cli(server, run):
    api = server.url + "/api/v1"
    owner = signup(api, "owner")
    reporter = signup(api, "reporter")
    signup(api, "mod")
    r = run("user", "set-role", "mod", "moderator")
    assert r.exit_code == 0, r.output
    login = {"email": "mod", "password": "correct horse battery"}
    mod = {
        "Authorization": "Bearer "
        + httpx.post(f"{api}/auth/login", json=login).json()["session"]["access_token"]
    }
    by_api, by_cli = upload(api, owner, (10, 10, 10)), upload(api, owner, (200, 20, 20))

    # Once through the API: report -> queue -> remove -> 410 -> audit entry.
    rid = httpx.post(
        f"{api}/moderation/report", headers=reporter, json={"fileId": by_api, "reason": "spam"}
    ).json()["id"]
    queue = httpx.get(f"{api}/moderation/queue", headers=mod).json()
    assert [g["targetId"] for g in queue["queue"]] == [by_api]
    r = httpx.post(
        f"{api}/moderation/reports/{rid}/resolve",
        headers=mod,
        json={"action": "remove", "note": "via api"},
    )
    assert r.status_code == 200 and r.json()["action"] == "remove"
    assert eventually_status(f"{server.url}/i/{by_api}", 410) == 410
    entry = httpx.get(f"{api}/moderation/audit", headers=mod).json()["entries"][0]
    assert (entry["action"], entry["targetId"], entry["actor"]) == ("remove", by_api, "mod")

    # Once through the CLI, on the same data directory, while the server runs.
    rid2 = httpx.post(
        f"{api}/moderation/report",
        json={"fileId": by_cli, "reason": "copyright", "details": "my photo"},
    ).json()["id"]
    r = run("moderate", "list")
    assert r.exit_code == 0, r.output
    assert by_cli in r.output and rid2 in r.output and "copyright" in r.output
    assert by_api not in r.output  # decided already
    listed = json.loads(run("moderate", "list", "--status", "all", "--json").output)
    assert {g["targetId"] for g in listed["queue"]} == {by_api, by_cli}
    r = run("moderate", "show", rid2)
    assert r.exit_code == 0 and "my photo" in r.output and "owner owner" in r.output
    r = run(
        "moderate",
        "resolve",
        rid2,
        "--action",
        "remove",
        "--note",
        "via cli",
        "--operator",
        "alice",
    )
    assert r.exit_code == 0, r.output
    assert "recorded as cli:alice" in r.output
    assert eventually_status(f"{server.url}/i/{by_cli}", 410) == 410
    assert httpx.get(f"{api}/files/{by_cli}").status_code == 410
    entries = httpx.get(f"{api}/moderation/audit", headers=mod).json()["entries"]
    newest = entries[0]
    assert newest["action"] == "remove" and newest["targetId"] == by_cli
    assert newest["actor"] == "cli:alice" and newest["actorId"] is None
    assert newest["note"] == "via cli" and newest["data"]["reportIds"] == [rid2]
    audit = run("moderate", "audit")
    assert "cli:alice  remove  file " + by_cli in audit.output
    assert "mod  remove  file " + by_api in audit.output
    # The CLI's own user commands are audited too, with the operator named.
    assert any(e["action"] == "set_role" and e["actor"].startswith("cli:") for e in entries)

    # Bad input: one-line errors, no tracebacks.
    r = run("moderate", "resolve", rid2, "--action", "dismiss")
    assert r.exit_code == 1 and "already resolved" in r.output
    r = run("moderate", "show", "rpt_nope")
    assert r.exit_code == 1 and "not found" in r.output.lower()
    r = run("moderate", "resolve", "rpt_nope", "--action", "remove")
    assert r.exit_code == 1 and "not found" in r.output.lower()
    r = run("moderate", "resolve", rid2, "--action", "delete")
    assert r.exit_code == 2
    assert "Traceback" not in r.output

    stats = json.loads(run("stats", "--json").output)
    assert stats["users"] == 3 and stats["removedFiles"] == 2 and stats["reportsOpen"] == 0


def test_cli_ban_and_user_commands_share_the_admin_service(server, run):
    api = server.url + "/api/v1"
    owner = signup(api, "owner2")
    fid = upload(api, owner, (30, 60, 90))
    rid = httpx.post(f"{api}/moderation/report", json={"fileId": fid, "reason": "illegal"}).json()[
        "id"
    ]
    r = run("moderate", "resolve", rid, "--action", "age_restrict", "--ban", "--operator", "bob")
    assert r.exit_code == 0 and "owner banned" in r.output
    assert httpx.get(f"{api}/auth/me", headers=owner).status_code in (401, 403)
    assert eventually_status(f"{server.url}/i/{fid}", 404) == 404  # disabled owner: hidden
    users = json.loads(run("user", "list", "--json").output)["users"]
    assert {u["username"]: u["disabled"] for u in users}["owner2"] is True
    assert run("user", "enable", "owner2").exit_code == 0
    assert eventually_status(f"{server.url}/i/{fid}", 403) == 403  # back, but age-restricted
    audit = json.loads(run("moderate", "audit", "--json").output)["entries"]
    assert [(e["action"], e["actor"]) for e in audit[:3]] == [
        ("enable", audit[0]["actor"]),
        ("ban_user", "cli:bob"),
        ("age_restrict", "cli:bob"),
    ]
    assert audit[0]["actor"].startswith("cli:")
    figures = json.loads(run("stats", "--json").output)
    assert figures["disabledUsers"] == 0 and figures["reportsOpen"] == 0
    assert f"users: {figures['users']}" in run("stats").output
