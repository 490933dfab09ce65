"""The CLI and plugins: plugin commands are discovered with the settings the command
line names, and a process builds one plugin manager.

A plugin's command exists only when the plugin is enabled by the same settings the rest
of the command sees: ``--config FILE``, ``--data-dir``, ``PICHR_*`` and ``-s``, given
before or after the command name.
"""

import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

PLUGIN = """\
import click

from pichr_appliance import hookimpl
from pichr_appliance.cli import common_options


@hookimpl
def register_commands(cli):
    @cli.command("greet")
    @common_options
    def greet():
        \"\"\"Say hello from a plugin file.\"\"\"
        click.echo("hello from greeter")
"""


@pytest.fixture
def setup(tmp_path, monkeypatch):
    for name in list(os.environ):
        if name.startswith("PICHR_"):
            monkeypatch.delenv(name)
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "greeter.py").write_text(PLUGIN)
    enabled = tmp_path / "enabled.toml"
    enabled.write_text(f'[plugins]\ndir = "{folder}"\n')
    disabled = tmp_path / "disabled.toml"
    disabled.write_text(f'[plugins]\ndir = "{folder}"\ndisabled = ["greeter"]\n')
    return {"folder": folder, "enabled": enabled, "disabled": disabled, "data": tmp_path / "d"}


def pichr(*args, env=None):
    """The real entry point (``python -m pichr_appliance``), as an operator runs it."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PICHR_")}
    return subprocess.run(
        [sys.executable, "-m", "pichr_appliance", *args],
        capture_output=True,
        text=True,
        env={**clean, **(env or {})},
        timeout=60,
    )


def test_config_file_enables_the_plugin_command(setup):
    data = str(setup["data"])
    out = pichr("greet", "--config", str(setup["enabled"]), "--data-dir", data)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "hello from greeter"
    # The options may also come before the command name.
    out = pichr("--config", str(setup["enabled"]), "--data-dir", data, "greet")
    assert out.returncode == 0, out.stderr
    assert "greet" in pichr("--config", str(setup["enabled"]), "--help").stdout


def test_plugins_disabled_in_the_config_file_disables_the_command(setup):
    # plugins.dir comes from the environment, so even settings that ignore the config
    # file find the plugin; plugins.disabled in the --config file must still win.
    env = {"PICHR_PLUGINS__DIR": str(setup["folder"]), "PICHR_DATA_DIR": str(setup["data"])}
    assert pichr("greet", env=env).stdout.strip() == "hello from greeter"
    for args in (
        ["greet", "--config", str(setup["disabled"])],
        ["--config", str(setup["disabled"]), "greet"],
        ["greet", f"--config={setup['disabled']}"],
    ):
        out = pichr(*args, env=env)
        assert out.returncode == 2, (args, out.stdout, out.stderr)
        assert "No such command 'greet'" in out.stderr
    listing = pichr("--config", str(setup["disabled"]), "--help", env=env)
    assert listing.returncode == 0 and "greet" not in listing.stdout


def test_setting_overrides_and_environment_choose_the_plugins(setup):
    data = str(setup["data"])
    folder = f"plugins.dir={setup['folder']}"
    out = pichr("greet", "-s", folder, "--data-dir", data)
    assert out.stdout.strip() == "hello from greeter", out.stderr
    out = pichr("greet", "-s", folder, "-s", 'plugins.disabled=["greeter"]', "--data-dir", data)
    assert out.returncode == 2 and "No such command 'greet'" in out.stderr
    env = {"PICHR_CONFIG": str(setup["disabled"]), "PICHR_DATA_DIR": data}
    assert "No such command 'greet'" in pichr("greet", env=env).stderr


def test_the_click_group_itself_finds_plugin_commands(setup):
    """Tests (and plugins' own tests) invoke the group through CliRunner, not main()."""
    from pichr_appliance.cli import cli

    data = ["--data-dir", str(setup["data"])]
    ok = CliRunner().invoke(cli, ["greet", "--config", str(setup["enabled"]), *data])
    assert ok.exit_code == 0, ok.output
    assert ok.output.strip() == "hello from greeter"
    off = CliRunner().invoke(cli, ["greet", "--config", str(setup["disabled"]), *data])
    assert off.exit_code == 2 and "No such command 'greet'" in off.output
    # Nothing leaks from one invocation into the next.
    assert "greet" not in cli.commands
    assert CliRunner().invoke(cli, ["greet", *data]).exit_code == 2


def test_serve_builds_one_plugin_manager_in_the_parent(tmp_path, monkeypatch):
    """Migrations, the storage check, the primary app and command lookup share one."""
    from sanic import Sanic

    from pichr_appliance import plugins, runtime
    from pichr_appliance.cli import cli

    for name in list(os.environ):
        if name.startswith("PICHR_"):
            monkeypatch.delenv(name)
    built = []

    def counting(settings, extra=()):
        built.append(settings)
        return real(settings, extra)

    real = plugins.get_plugin_manager
    monkeypatch.setattr(plugins, "get_plugin_manager", counting)
    monkeypatch.setattr(runtime, "get_plugin_manager", counting)
    served = []
    monkeypatch.setattr(Sanic, "serve", classmethod(lambda cls, **kw: served.append(kw)))
    monkeypatch.setattr(Sanic, "prepare", lambda self, **kw: None)
    result = CliRunner().invoke(
        cli, ["serve", "--data-dir", str(tmp_path / "d"), "--port", "1"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    assert served and "serving" in result.output
    assert len(built) == 1
