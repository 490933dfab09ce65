"""A broken optional plugin is reported and skipped; a plugin the configuration selects
that is missing or broken stops ``serve`` with one line saying what is available."""

import os
import subprocess
import sys

import httpx
import pytest

from pichr_appliance.testing import LiveServer


@pytest.fixture
def broken_site(tmp_path):
    """An installed distribution whose plugin module fails to import."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "pichr_broken.py").write_text(
        "import boto3_not_installed_here  # the plugin's missing dependency\n"
    )
    dist = site / "pichr_broken-0.3.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: pichr-broken\nVersion: 0.3.0\n")
    (dist / "entry_points.txt").write_text("[pichr_appliance]\npichr_broken = pichr_broken\n")
    return site


def serve(tmp_path, site, *settings):
    env = {**os.environ, "PYTHONPATH": str(site)}
    args = [sys.executable, "-m", "pichr_appliance", "serve", "--data-dir", str(tmp_path / "d")]
    for item in settings:
        args += ["-s", item]
    return subprocess.run(args, capture_output=True, text=True, env=env, timeout=60)


@pytest.mark.slow
def test_broken_optional_plugin_warns_and_the_appliance_starts(tmp_path, broken_site):
    server = LiveServer(tmp_path / "data", env={"PYTHONPATH": str(broken_site)}).start(timeout=60)
    try:
        assert httpx.get(server.url + "/api/v1/health").status_code == 200
    finally:
        server.stop()
    log = server.output()
    assert "plugin pichr_broken (package pichr-broken) failed to load" in log
    assert "boto3_not_installed_here" in log
    assert "pip install --force-reinstall pichr-broken" in log and "plugins.disabled" in log


def test_selected_broken_plugin_stops_serve_naming_it(tmp_path, broken_site):
    out = serve(tmp_path, broken_site, "storage.backend=broken")
    assert out.returncode == 1 and "Traceback" not in out.stderr
    (line,) = [x for x in out.stderr.splitlines() if x.startswith("Error:")]
    assert "storage.backend: no backend named 'broken'; available: local" in line
    assert "plugins that failed to load: pichr_broken (package pichr-broken:" in line
    assert "boto3_not_installed_here" in line


def test_selected_missing_store_stops_serve_listing_the_available(tmp_path, broken_site):
    out = serve(tmp_path, tmp_path, "rate_limits.store=nope")
    assert out.returncode == 1 and "Traceback" not in out.stderr
    (line,) = [x for x in out.stderr.splitlines() if x.startswith("Error:")]
    assert "rate_limits.store: no store named 'nope'; available: local, memory" in line
    assert "redis" in line  # pichr-redis is installed here
