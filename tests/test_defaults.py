"""The built-ins are plugins: their ordering, and how third-party plugins combine with them."""

import asyncio

import pytest
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from pichr_appliance import hookimpl
from pichr_appliance.api.context import FORBIDDEN_BY_PLUGIN, Actor, combine_verdicts
from pichr_appliance.config import ConfigError
from pichr_appliance.db import tortoise_config
from pichr_appliance.defaults.roles import INSUFFICIENT_ROLE
from pichr_appliance.hookspecs import Refusal
from pichr_appliance.models import User
from pichr_appliance.plugins import DEFAULT_PLUGINS, get_plugin_manager
from pichr_appliance.runtime import build_runtime
from pichr_appliance.testing import make_settings

ME = "/api/v1/auth/me"


def test_every_builtin_is_a_registered_plugin(tmp_path):
    pm = get_plugin_manager(make_settings(tmp_path))
    assert {f"pichr_appliance.defaults.{m}" for m in ("storage", "sqlite", "auth", "roles")} <= set(
        DEFAULT_PLUGINS
    )
    for name in DEFAULT_PLUGINS:
        assert pm.has_plugin(name), name


class ReadOnlyKey:
    """Signs in X-Key-User as a plugin actor holding only the read permission."""

    @hookimpl
    async def actor_from_request(self, request):
        name = request.headers.get("x-key-user")
        user = await User.get_or_none(username=name) if name else None
        return Actor(user, "plugin", permissions=frozenset({"read"})) if user else None


@pytest.mark.parametrize("pichr_plugins", [[ReadOnlyKey()]])
def test_a_plugin_actor_is_used_as_returned_and_wins_over_the_bearer_header(
    pichr_client, pichr_user
):
    name = pichr_user["user"]["username"]
    # The plugin answers first: an invalid Bearer header is never looked at...
    headers = {"X-Key-User": name, "Authorization": "Bearer garbage"}
    assert pichr_client.get(ME, headers=headers).status == 200
    # ...and its permissions hold: no 'upload' permission on this actor.
    r = pichr_client.post(
        "/api/v1/upload/presign",
        json={"filename": "a.png", "size": 10, "mime": "image/png"},
        headers=headers,
    )
    assert r.status == 403 and r.json["code"] == "insufficient_permissions"
    # Without the plugin's header, the built-in Bearer check answers.
    assert pichr_client.get(ME, headers={"Authorization": "Bearer garbage"}).status == 401


class StaffOnWeekdays:
    """A third-party refusal with its own code, and a plugin that overrides it."""

    @hookimpl
    def permission_allowed(self, actor, action):
        if action == "moderate" and actor.user.username.startswith("closed"):
            return Refusal("outside_hours", "Moderation is closed")
        if action == "moderate" and actor.user.username.startswith("helper"):
            return True  # beats the built-in insufficient_role refusal
        return None


@pytest.mark.parametrize("pichr_plugins", [[StaffOnWeekdays()]])
def test_refusals_and_grants_from_plugins(pichr_client):
    queue = "/api/v1/moderation/queue"
    closed = pichr_client.signup("closed_user")
    r = pichr_client.get(queue, headers=closed["headers"])
    assert r.status == 403 and r.json["code"] == "outside_hours"  # the first Refusal
    helper = pichr_client.signup("helper_user")
    assert pichr_client.get(queue, headers=helper["headers"]).status == 200
    other = pichr_client.signup("other_user")
    r = pichr_client.get(queue, headers=other["headers"])
    assert r.status == 403 and r.json["code"] == "insufficient_role"


def test_verdicts_combine_regardless_of_order():
    other = Refusal("x", "y")
    assert combine_verdicts([]) is None
    assert combine_verdicts([None, None]) is None
    assert combine_verdicts([INSUFFICIENT_ROLE, None]) is INSUFFICIENT_ROLE
    assert combine_verdicts([INSUFFICIENT_ROLE, True]) is None
    assert combine_verdicts([True, INSUFFICIENT_ROLE, False]) is FORBIDDEN_BY_PLUGIN
    assert combine_verdicts([None, other, INSUFFICIENT_ROLE]) is other


class Order:
    """A plugin object whose actor_from_request records its calls and answers ``answer``."""

    def __init__(self, name, answer, **marks):
        self.__name__, self.calls = name, []

        async def actor_from_request(request):
            self.calls.append(request)
            return answer

        self.actor_from_request = hookimpl(**marks)(actor_from_request)


def test_first_asks_in_pluggy_order_and_stops_at_the_first_answer(tmp_path):
    last = Order("last", "from-last", trylast=True)
    plain = Order("plain", None)
    first = Order("first", "from-first", tryfirst=True)
    rt = build_runtime(make_settings(tmp_path), [last, plain, first])
    assert asyncio.run(rt.first("actor_from_request", request="r")) == "from-first"
    assert (first.calls, plain.calls, last.calls) == (["r"], [], [])
    rt.pm.unregister(first)
    # Without an Authorization header the built-in Bearer check (also trylast, but
    # registered earlier, so asked after) has no answer: the plugin's trylast one wins.
    assert asyncio.run(rt.first("actor_from_request", request=_Anonymous())) == "from-last"
    assert len(plain.calls) == 1


class _Anonymous:
    headers: dict = {}


class SeesSqlite:
    """A configure_database plugin that adjusts the built-in SQLite entry."""

    @hookimpl
    def configure_database(self, settings, config):
        config["connections"]["default"]["credentials"]["journal_mode"] = "DELETE"


def test_sqlite_is_a_tryfirst_configure_database_that_plugins_can_adjust(tmp_path):
    url = f"sqlite://{tmp_path}/pichr.sqlite3"  # also under PICHR_TEST_DATABASE=postgres
    settings = make_settings(tmp_path, {"database": {"url": url}})
    config = tortoise_config(settings, get_plugin_manager(settings, [SeesSqlite()]))
    assert config["connections"]["default"]["engine"] == "tortoise.backends.sqlite"
    assert config["connections"]["default"]["credentials"]["journal_mode"] == "DELETE"


def test_no_plugin_for_the_url_scheme_stops_with_a_clear_error(tmp_path):
    settings = make_settings(tmp_path, {"database": {"url": "mysql://db/pichr"}})
    with pytest.raises(ConfigError, match="no installed plugin handles mysql://"):
        tortoise_config(settings, get_plugin_manager(settings))


class HelloConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    greeting: str = Field("Hello", min_length=1)
    times: StrictInt = Field(1, ge=1)


def test_plugin_config_validates_into_a_model_once_and_names_bad_keys(tmp_path):
    rt = build_runtime(make_settings(tmp_path, {"plugin": {"hello": {"greeting": "Hi"}}}))
    assert rt.plugin_config("hello") == {"greeting": "Hi"}
    config = rt.plugin_config("hello", HelloConfig)
    assert (config.greeting, config.times) == ("Hi", 1)
    assert rt.plugin_config("hello", HelloConfig) is config  # cached per process
    assert rt.plugin_config("unset", HelloConfig) == HelloConfig()
    for section, key in (({"times": 0}, "times"), ({"colour": "red"}, "colour")):
        bad = build_runtime(make_settings(tmp_path, {"plugin": {"hello": section}}))
        with pytest.raises(ConfigError, match=f"^plugin.hello.{key}: "):
            bad.plugin_config("hello", HelloConfig)
