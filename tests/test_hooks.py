"""Every hook a plugin can implement, exercised through the real app.

Plugins are registered for one test by parametrizing the ``pichr_plugins`` fixture.
"""

import asyncio
import inspect
import re
from pathlib import Path

import pytest
from sanic.response import json as json_response

from pichr_appliance import hookimpl, hookspecs
from pichr_appliance.classifiers.base import ImageClassifier
from pichr_appliance.classifiers.contract import ClassifierContract
from pichr_appliance.limits import MemoryRateLimitStore
from pichr_appliance.models import User
from pichr_appliance.testing import sample_image_bytes

ROOT = Path(__file__).resolve().parent.parent


class Recorder:
    """Records the events it receives."""

    def __init__(self):
        self.events = []

    @hookimpl
    def file_uploaded(self, runtime, file):
        self.events.append(("file_uploaded", file.id))

    @hookimpl
    async def file_deleted(self, runtime, file, actor):
        await asyncio.sleep(0)
        self.events.append(("file_deleted", file.id, actor.id if actor else None))

    @hookimpl
    def album_created(self, runtime, album):
        self.events.append(("album_created", album.id, album.title))

    @hookimpl
    def file_moderated(self, runtime, file, action, actor):
        self.events.append(("file_moderated", file.id, action, file.status))


@pytest.mark.parametrize("pichr_plugins", [[Recorder()]])
def test_event_hooks(pichr_client, pichr_user, pichr_plugins):
    rec = pichr_plugins[0]
    h = pichr_user["headers"]
    f = pichr_client.upload(pichr_user)
    r = pichr_client.post("/api/v1/albums", headers=h, json={"title": "Trip"})
    assert r.status == 201
    album_id = r.json["id"]
    mod = pichr_client.signup()
    pichr_client.run(User.filter(id=mod["user"]["id"]).update(role="moderator"))
    rpt = pichr_client.post(
        "/api/v1/moderation/report",
        headers=mod["headers"],
        json={"fileId": f["id"], "reason": "spam"},
    ).json["id"]
    r = pichr_client.post(
        f"/api/v1/moderation/reports/{rpt}/resolve",
        headers=mod["headers"],
        json={"action": "remove"},
    )
    assert r.status == 200
    second = pichr_client.upload(pichr_user, sample_image_bytes("PNG", color=(9, 9, 9)))
    assert pichr_client.delete(f"/api/v1/files/{second['id']}", headers=h).status == 204
    assert rec.events == [
        ("file_uploaded", f["id"]),
        ("album_created", album_id, "Trip"),
        ("file_moderated", f["id"], "remove", "removed"),
        ("file_uploaded", second["id"]),
        ("file_deleted", second["id"], pichr_user["user"]["id"]),
    ]


class HeaderAuth:
    """Signs in whoever names an existing username in X-Test-User."""

    @hookimpl
    async def actor_from_request(self, runtime, request):
        name = request.headers.get("x-test-user")
        return await User.get_or_none(username=name) if name else None


@pytest.mark.parametrize("pichr_plugins", [[HeaderAuth()]])
def test_actor_from_request(pichr_client, pichr_user):
    name = pichr_user["user"]["username"]
    r = pichr_client.get("/api/v1/auth/me", headers={"X-Test-User": name})
    assert r.status == 200 and r.json["user"]["id"] == pichr_user["user"]["id"]
    assert pichr_client.get("/api/v1/auth/me", headers={"X-Test-User": "ghost"}).status == 401


class NoDeletes:
    """Forbids deleting; lets users with 'trusted' in their name moderate."""

    @hookimpl
    def permission_allowed(self, actor, action, resource):
        if action == "delete":
            return False
        if action == "moderate" and "trusted" in actor.user.username:
            return True
        return None


@pytest.mark.parametrize("pichr_plugins", [[NoDeletes()]])
def test_permission_allowed(pichr_client, pichr_user):
    f = pichr_client.upload(pichr_user)
    r = pichr_client.delete(f"/api/v1/files/{f['id']}", headers=pichr_user["headers"])
    assert r.status == 403 and r.json["code"] == "forbidden_by_plugin"
    assert pichr_client.get(f"/api/v1/files/{f['id']}", headers=pichr_user["headers"]).status == 200
    # A role the core would refuse, granted by the plugin...
    trusted = pichr_client.signup("trusted_helper")
    assert pichr_client.get("/api/v1/moderation/queue", headers=trusted["headers"]).status == 200
    # ...but not to anyone else, and never the admin routes.
    assert pichr_client.get("/api/v1/moderation/queue", headers=pichr_user["headers"]).status == 403
    assert pichr_client.get("/api/v1/admin/users", headers=trusted["headers"]).status == 403


class OnlyLandscape:
    """Refuses portrait images."""

    @hookimpl
    def validate_upload(self, runtime, user, file, info, path):
        assert path.exists() and user is not None
        return "portrait images are not accepted here" if info.height > info.width else None


@pytest.mark.parametrize("pichr_plugins", [[OnlyLandscape()]])
def test_validate_upload(pichr_client, pichr_user):
    assert pichr_client.upload(pichr_user, sample_image_bytes("PNG", (60, 40)))["status"] == "ready"
    data = sample_image_bytes("PNG", (40, 60))
    p = pichr_client.post(
        "/api/v1/upload/presign",
        headers=pichr_user["headers"],
        json={"filename": "tall.png", "mime": "image/png", "bytes": len(data)},
    ).json
    r = pichr_client.put("/" + p["uploadUrl"].split("/", 3)[3], content=data)
    assert r.status == 400 and r.json == {
        "error": "portrait images are not accepted here",
        "code": "upload_rejected",
    }
    me = pichr_client.get("/api/v1/auth/me", headers=pichr_user["headers"]).json["user"]
    assert me["usage"]["files"] == 1


class Routes:
    @hookimpl
    def register_routes(self, runtime):
        async def hello(request):
            return json_response({"hello": request.args.get("name", "world")})

        async def boom(request):
            raise RuntimeError("plugin bug")

        return [("/hello", hello, ["GET"]), ("/boom", boom, ["POST"])]


@pytest.mark.parametrize("pichr_plugins", [[Routes()]])
def test_register_routes(pichr_client):
    r = pichr_client.get("/-/Routes/hello?name=pichr")
    assert r.status == 200 and r.json == {"hello": "pichr"}
    assert r.headers["x-content-type-options"] == "nosniff"
    r = pichr_client.post("/-/Routes/boom")
    assert r.status == 500 and r.json["code"] == "internal_error"
    assert pichr_client.get("/-/Routes/boom").status == 405


class EveryTenth(MemoryRateLimitStore):
    name = "every-tenth"


class StorePlugin:
    @hookimpl
    def register_rate_limit_stores(self, settings):
        return [EveryTenth]


@pytest.fixture
def pichr_overrides(request):
    if "rate_limit_store" in request.node.name:
        return {
            "rate_limits": {"store": "every-tenth"},
            "plans": {"anonymous": {"requests_per_hour": 2}},
        }
    return {"moderation": {"age_restrict_threshold": 0.5, "queue_threshold": 0.9}}


@pytest.mark.parametrize("pichr_plugins", [[StorePlugin()]])
def test_register_rate_limit_stores(pichr_client):
    assert type(pichr_client.app.ctx.rate_limiter.store) is EveryTenth
    assert [pichr_client.get("/api/v1/files/public").status for _ in range(3)] == [200, 200, 429]


class RedShare(ImageClassifier):
    """Deterministic: the share of strongly red pixels."""

    name = "red-share"

    def score(self, path):
        from PIL import Image

        with Image.open(path) as img:
            rgb = img.convert("RGB").resize((32, 32))
            red = sum(1 for r, g, b in rgb.getdata() if r > 150 and g < 100 and b < 100)
        return red / 1024


class ClassifierPlugin:
    @hookimpl
    def register_classifiers(self, settings):
        return [RedShare()]


@pytest.mark.parametrize("pichr_plugins", [[ClassifierPlugin()]])
def test_register_classifiers_feeds_nsfw_score_and_age_restriction(pichr_client, pichr_user):
    red = pichr_client.upload(pichr_user, sample_image_bytes("PNG", color=(220, 20, 20)))
    blue = pichr_client.upload(pichr_user, sample_image_bytes("PNG", color=(20, 20, 220)))
    assert red["nsfwScore"] > 0.5 and red["ageRestricted"] is True
    assert blue["nsfwScore"] == 0.0 and blue["ageRestricted"] is False


class TestRedShareMeetsTheClassifierContract(ClassifierContract):
    @pytest.fixture
    def classifier(self):
        return RedShare()


def hook_names():
    return sorted(
        name
        for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
        if hasattr(fn, "pichr_appliance_spec")
    )


def test_every_hook_has_a_test():
    """A hook nobody implements in a test is a hook nobody knows works."""
    sources = "\n".join(
        p.read_text() for p in [*ROOT.glob("tests/*.py"), *ROOT.glob("plugins/*/tests/*.py")]
    )
    missing = [name for name in hook_names() if not re.search(rf"def {name}\(", sources)]
    assert hook_names() and not missing, f"hooks without a test: {missing}"


def test_every_hook_is_documented_with_its_signature():
    doc = (ROOT / "docs" / "plugin-hooks.md").read_text()
    for name in hook_names():
        params = ", ".join(inspect.signature(getattr(hookspecs, name)).parameters)
        assert f"### `{name}({params})`" in doc, f"{name}({params}) missing from plugin-hooks.md"
    documented = re.findall(r"^### `(\w+)\(", doc, re.M)
    assert sorted(documented) == hook_names(), "plugin-hooks.md documents hooks that do not exist"


@pytest.mark.parametrize("pichr_plugins", [[Routes(), ClassifierPlugin()]])
def test_admin_plugins_lists_plugins_hooks_and_active_backends(pichr_client):
    admin = pichr_client.signup()
    pichr_client.run(User.filter(id=admin["user"]["id"]).update(role="admin"))
    r = pichr_client.get("/api/v1/admin/plugins", headers=admin["headers"])
    assert r.status == 200
    by_name = {p["name"]: p for p in r.json["plugins"]}
    assert by_name["Routes"]["hooks"] == ["register_routes"]
    assert "register_storage_backends" in by_name["pichr_appliance.defaults.storage"]["hooks"]
    assert r.json["active"]["storage"] == "local"
    assert r.json["active"]["classifiers"] == ["red-share"]
    assert {"plugin": "Routes", "path": "/-/Routes/hello", "methods": ["GET"]} in r.json["routes"]
    # Staff who are not admins, and API keys, do not see it.
    assert (
        pichr_client.get("/api/v1/admin/plugins", headers=pichr_client.signup()["headers"]).status
        == 403
    )


def test_plugins_command(tmp_path):
    import json

    from click.testing import CliRunner

    from pichr_appliance.cli import cli

    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "greeter.py").write_text(
        "from pichr_appliance import hookimpl\n\n@hookimpl\ndef user_created(user):\n    pass\n"
    )
    args = ["--data-dir", str(tmp_path / "data"), "-s", f"plugins.dir={folder}"]
    result = CliRunner().invoke(cli, ["plugins", "--json", *args], catch_exceptions=False)
    assert result.exit_code == 0
    info = json.loads(result.output)
    assert {"name": "greeter", "version": None, "hooks": ["user_created"]} in info["plugins"]
    assert info["active"] == {
        "storage": "local",
        "rateLimitStore": "local",
        "database": "sqlite",
        "classifiers": [],
    }
    text = CliRunner().invoke(cli, ["plugins", *args], catch_exceptions=False).output
    assert "greeter -: user_created" in text
    assert "active: storage=local rate_limits=local database=sqlite" in text
