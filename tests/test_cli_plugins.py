"""The CLI and plugins: one plugin manager per process."""

import os

from click.testing import CliRunner


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
