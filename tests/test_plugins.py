"""The plugin manager: plugins.dir, plugins.disabled, hook validation, lifecycle hooks."""

import textwrap

import pluggy
import pytest

from pichr_appliance.plugins import get_plugin_manager, plugin_names
from pichr_appliance.testing import make_settings

LIFECYCLE_PLUGIN = """
from pichr_appliance import hookimpl
from pichr_appliance.storage.local import LocalStorage

EVENTS = []


class MirrorStorage(LocalStorage):
    name = "mirror"


@hookimpl
def register_storage_backends(settings):
    return [MirrorStorage]


@hookimpl
def configure_database(settings, config):
    config["connections"]["default"]["credentials"]["busy_timeout"] = 4321


@hookimpl
async def startup(runtime):
    EVENTS.append(("startup", runtime.storage.name))


@hookimpl
def shutdown(runtime):
    EVENTS.append(("shutdown", runtime.settings.server.port > 0))


@hookimpl
def user_created(runtime, user):
    EVENTS.append(("user_created", user.username))
"""


def write_plugin(folder, name, source):
    folder.mkdir(exist_ok=True)
    (folder / f"{name}.py").write_text(textwrap.dedent(source))


def test_single_file_plugin_hooks_run(tmp_path):
    import sys

    from sanic_testing.reusable import ReusableClient

    from pichr_appliance.app import create_app
    from pichr_appliance.db import tortoise_config
    from pichr_appliance.testing import ApiClient, free_port, migrate

    folder = tmp_path / "plugins"
    write_plugin(folder, "lifecycle", LIFECYCLE_PLUGIN)
    # SQLite on purpose: the plugin edits SQLite's busy_timeout.
    settings = make_settings(
        tmp_path / "data",
        {
            "plugins": {"dir": str(folder)},
            "storage": {"backend": "mirror"},
            "database": {"url": f"sqlite://{tmp_path / 'data' / 'pichr.sqlite3'}"},
        },
    )
    pm = get_plugin_manager(settings)
    assert "lifecycle" in plugin_names(pm)
    config = tortoise_config(settings, pm)
    assert config["connections"]["default"]["credentials"]["busy_timeout"] == 4321

    migrate(settings)
    app = create_app(settings, name="plugin_test")
    with ReusableClient(app, port=free_port()) as raw:
        client = ApiClient(raw, app)
        client.signup("plugged")
    events = sys.modules["pichr_plugin_lifecycle"].EVENTS
    assert events == [
        ("startup", "mirror"),
        ("user_created", "plugged"),
        ("shutdown", True),
    ]


def test_disabled_plugins_are_not_loaded(tmp_path):
    folder = tmp_path / "plugins"
    write_plugin(folder, "lifecycle", LIFECYCLE_PLUGIN)
    settings = make_settings(
        tmp_path / "d", {"plugins": {"dir": str(folder), "disabled": ["lifecycle"]}}
    )
    assert "lifecycle" not in plugin_names(get_plugin_manager(settings))


def test_misspelled_hook_is_refused(tmp_path):
    folder = tmp_path / "plugins"
    write_plugin(
        folder,
        "typo",
        """
        from pichr_appliance import hookimpl

        @hookimpl
        def strtup(runtime):
            pass
    """,
    )
    settings = make_settings(tmp_path / "d", {"plugins": {"dir": str(folder)}})
    with pytest.raises(pluggy.PluginValidationError):
        get_plugin_manager(settings)


def test_broken_plugin_file_logs_and_appliance_starts(tmp_path, caplog):
    folder = tmp_path / "plugins"
    write_plugin(folder, "broken", "raise ImportError('needs libfoo')\n")
    settings = make_settings(tmp_path / "d", {"plugins": {"dir": str(folder)}})
    pm = get_plugin_manager(settings)
    assert "broken" not in plugin_names(pm)
    assert "needs libfoo" in caplog.text


def test_missing_plugin_dir_is_a_config_error(tmp_path):
    from pichr_appliance.config import ConfigError

    settings = make_settings(tmp_path / "d", {"plugins": {"dir": str(tmp_path / "nope")}})
    with pytest.raises(ConfigError, match="plugins.dir"):
        get_plugin_manager(settings)


def test_failing_event_handler_does_not_break_signup(tmp_path):
    from sanic_testing.reusable import ReusableClient

    from pichr_appliance.app import create_app
    from pichr_appliance.testing import ApiClient, free_port, migrate

    folder = tmp_path / "plugins"
    write_plugin(
        folder,
        "angry",
        """
        from pichr_appliance import hookimpl

        @hookimpl
        def user_created(runtime, user):
            raise RuntimeError("webhook down")
    """,
    )
    settings = make_settings(tmp_path / "data", {"plugins": {"dir": str(folder)}})
    migrate(settings)
    app = create_app(settings, name="angry_test")
    with ReusableClient(app, port=free_port()) as raw:
        ApiClient(raw, app).signup("survivor")


@pytest.fixture
def installed_plugin(tmp_path, monkeypatch):
    """A real distribution on sys.path with a ``pichr_appliance`` entry point."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "pichr_demo.py").write_text(
        "from pichr_appliance import hookimpl\n\n"
        "@hookimpl\ndef register_commands(cli):\n"
        "    import click\n\n"
        "    @cli.command('demo-hello')\n"
        "    def hello():\n        click.echo('hello from demo')\n"
    )
    dist = site / "pichr_demo-1.2.3.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: pichr-demo\nVersion: 1.2.3\n")
    (dist / "entry_points.txt").write_text("[pichr_appliance]\npichr_demo = pichr_demo\n")
    monkeypatch.syspath_prepend(str(site))
    return "pichr_demo"


def test_entry_point_plugins_are_loaded_and_described(tmp_path, installed_plugin):
    from pichr_appliance.plugins import describe_plugins

    settings = make_settings(tmp_path / "d")
    pm = get_plugin_manager(settings)
    described = {p["name"]: p for p in describe_plugins(pm)}
    assert described[installed_plugin]["version"] == "1.2.3"
    assert described[installed_plugin]["hooks"] == ["register_commands"]
    assert "register_storage_backends" in described["pichr_appliance.defaults.storage"]["hooks"]
    disabled = make_settings(tmp_path / "e", {"plugins": {"disabled": [installed_plugin]}})
    assert installed_plugin not in plugin_names(get_plugin_manager(disabled))


def test_plugin_commands_join_the_cli(installed_plugin, tmp_path, monkeypatch):
    import subprocess
    import sys

    env = {"PYTHONPATH": str(tmp_path / "site"), "PICHR_DATA_DIR": str(tmp_path / "d")}
    import os

    out = subprocess.run(
        [sys.executable, "-m", "pichr_appliance", "demo-hello"],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "hello from demo"
