"""The plugin template works as shipped: build a wheel, install it into a fresh virtual
environment, run its own tests there, see it listed, and call its route."""

import json
import os
import site
import subprocess
import sys
import venv
from pathlib import Path

import httpx
import pytest

from pichr_appliance.testing import LiveServer

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "plugins" / "template"


def run(*cmd, **kw):
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300, **kw)
    assert out.returncode == 0, f"{cmd}:\n{out.stdout}\n{out.stderr}"
    return out.stdout


@pytest.fixture(scope="module")
def template_venv(tmp_path_factory):
    """A fresh venv with the template's wheel installed, seeing this environment's
    packages (pichr-appliance itself, its dependencies) read-only through a .pth file."""
    tmp = tmp_path_factory.mktemp("template")
    wheels = tmp / "wheels"
    # No build isolation: the build needs only setuptools, which this venv has.
    run(
        sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
        "-q", "-w", str(wheels), str(TEMPLATE),
    )  # fmt: skip
    (wheel,) = wheels.glob("pichr_plugin_template-*.whl")
    env_dir = tmp / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    purelib = run(str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))")
    # addsitedir (not a plain path) so that the editable installs' own .pth files run.
    paths = "; ".join(f"site.addsitedir({p!r})" for p in site.getsitepackages())
    (Path(purelib.strip()) / "_parent_env.pth").write_text(f"import site; {paths}\n")
    run(sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps",
        str(wheel))  # fmt: skip
    return python


@pytest.mark.slow
def test_template_wheel_installs_and_its_tests_pass(template_venv, tmp_path):
    # From a neutral folder, so that the installed wheel is imported, not the sources.
    tests = tmp_path / "tests"
    tests.mkdir()
    for src in (TEMPLATE / "tests").glob("*.py"):
        (tests / src.name).write_text(src.read_text())
    out = run(
        str(template_venv), "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tests),
        cwd=tmp_path,
    )  # fmt: skip
    assert "2 passed" in out
    located = run(str(template_venv), "-c", "import pichr_plugin_template as m; print(m.__file__)")
    assert str(TEMPLATE) not in located


@pytest.mark.slow
def test_template_is_listed_and_serves_its_route(template_venv, tmp_path):
    env = {**os.environ, "PICHR_DATA_DIR": str(tmp_path / "d")}
    listing = json.loads(
        run(str(template_venv), "-m", "pichr_appliance", "plugins", "--json", env=env)
    )
    plugin = next(p for p in listing["plugins"] if p["name"] == "pichr_plugin_template")
    assert plugin["version"] == "0.1.0"
    assert plugin["hooks"] == ["register_routes", "startup", "validate_upload"]
    assert {"plugin": "pichr_plugin_template", "path": "/-/pichr_plugin_template/hello",
            "methods": ["GET"]} in listing["routes"]  # fmt: skip
    server = LiveServer(
        tmp_path / "live",
        python=str(template_venv),
        env={"PICHR_PLUGIN__TEMPLATE__GREETING": "Hey"},
    ).start(timeout=60)
    try:
        r = httpx.get(server.url + "/-/pichr_plugin_template/hello?name=you")
    finally:
        server.stop()
    assert r.status_code == 200 and r.json() == {"message": "Hey, you!"}
