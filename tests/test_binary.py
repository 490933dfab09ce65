"""The single binary (``packaging/build-binary.sh``): built once per source version, then
smoke-tested as an operator would use it, with a single-file plugin in ``plugins.dir``.

The build takes one to two minutes; its result is cached in ``build/binary-cache/``
by a hash of everything that goes into it. ``PICHR_BINARY=/path`` tests a binary built
elsewhere instead.
"""

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from pichr_appliance import __version__
from pichr_appliance.testing import free_port, sample_image_bytes

ROOT = Path(__file__).resolve().parent.parent
BUILD_TIMEOUT = 1200

# pytest-timeout's limit covers a test's setup too, and the session fixture below builds
# the binary in the setup of whichever test here asks for it first (minutes on a loaded
# machine): the project-wide 120 s must not apply to any test of this module. Every test
# here gets the build's own budget on top of its own.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(BUILD_TIMEOUT + 300)]

PLUGIN = '''
"""A single-file plugin, as an operator drops it next to a binary install."""
from pathlib import Path

import click

from pichr_appliance import hookimpl

LOG = Path(__file__).with_name("uploaded.log")


@hookimpl
def register_commands(cli):
    @cli.command("hello")
    def hello():
        """Say hello from a plugin file."""
        click.echo("hello from a plugin file")


@hookimpl
def file_uploaded(runtime, file):
    with open(LOG, "a") as fh:
        fh.write(file.id + "\\n")
'''


def source_hash() -> str:
    digest = hashlib.sha256()
    inputs = [ROOT / "pyproject.toml", *sorted((ROOT / "packaging").rglob("*"))]
    inputs += sorted(
        p for p in (ROOT / "pichr_appliance").rglob("*") if "__pycache__" not in p.parts
    )
    for path in inputs:
        if path.is_file():
            digest.update(path.relative_to(ROOT).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


@pytest.fixture(scope="session")
def binary() -> Path:
    given = os.environ.get("PICHR_BINARY")
    if given:
        return Path(given)
    out = ROOT / "build" / "binary-cache" / source_hash()
    exe = out / "pichr-appliance"
    if not exe.exists():
        started = time.monotonic()
        result = subprocess.run(
            ["bash", str(ROOT / "packaging" / "build-binary.sh")],
            env={**os.environ, "PICHR_DIST_DIR": str(out)},
            capture_output=True,
            text=True,
            timeout=BUILD_TIMEOUT,
        )
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
        for old in out.parent.iterdir():  # binaries of earlier sources are of no more use
            if old != out:
                shutil.rmtree(old, ignore_errors=True)
        print(f"built {exe} in {time.monotonic() - started:.0f}s, {exe.stat().st_size} bytes")
    return exe


def check_web_pages(base: str, headers: dict[str, str], file_id: str) -> None:
    """The web interface travels inside the binary: templates (the feed, an album page),
    the page shells and the static assets they link."""
    browser = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    front = httpx.get(base + "/", headers=browser)
    assert front.status_code == 200 and front.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in front.headers["content-security-policy"]
    assert f'href="/v/{file_id}"' in front.text
    r = httpx.post(
        base + "/api/v1/albums", headers=headers,
        json={"title": "Binary album", "fileIds": [file_id], "visibility": "public"},
    )  # fmt: skip
    assert r.status_code == 201, r.text
    assert r.json()["url"].endswith(f"/a/{r.json()['id']}")
    album = httpx.get(f"{base}/a/{r.json()['id']}", headers=browser)
    assert album.status_code == 200 and "Binary album" in album.text, album.text[:500]
    assert "content-security-policy" in album.headers and f"/v/{file_id}" in album.text
    image = httpx.get(f"{base}/v/{file_id}", headers=browser)
    assert image.status_code == 200 and 'property="og:image"' in image.text
    missing = httpx.get(base + "/no/such/page", headers=browser)
    assert missing.status_code == 404 and "Nothing here" in missing.text
    assets = re.findall(r'(?:href|src)="(/static/[^"]+)"', front.text)
    assert any(a.endswith(".css") for a in assets) and any(a.endswith(".js") for a in assets)
    for asset in assets:
        served = httpx.get(base + asset)
        assert served.status_code == 200 and served.content, asset
        kind = "text/css" if asset.endswith(".css") else "text/javascript"
        assert served.headers["content-type"].startswith(kind), asset
    view = re.sub(r"js/app\.js$", "js/views/public.js", [a for a in assets if "app.js" in a][0])
    assert httpx.get(base + view).status_code == 200  # the modules app.js imports


def heic_bytes() -> bytes:
    import io

    pillow_heif = pytest.importorskip("pillow_heif")  # the tests' encoder, not the binary's
    from PIL import Image

    buf = io.BytesIO()
    pillow_heif.from_pillow(Image.linear_gradient("L").convert("RGB")).save(buf, quality=80)
    return buf.getvalue()


def test_every_test_here_has_the_build_budget(request):
    """The module's marker reaches every test of it (a test-level marker would win)."""
    here = [item for item in request.session.items if item.path == Path(__file__)]
    assert here, "this module's tests were not collected"
    for item in here:
        assert item.get_closest_marker("timeout").args[0] >= BUILD_TIMEOUT + 300, item.name


def test_binary_smoke(binary, tmp_path):
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "hello_plugin.py").write_text(PLUGIN)
    data = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PICHR_")}
    env.update(
        PICHR_PLUGINS__DIR=str(plugins),
        PICHR_AUTH__ARGON2_TIME_COST="1",
        PICHR_AUTH__ARGON2_MEMORY_KIB="64",
        PICHR_AUTH__ARGON2_PARALLELISM="1",
        # Nothing from the build or test environment may leak into the binary's imports.
        PYTHONPATH="",
    )

    def run(*args):
        return subprocess.run(
            [str(binary), *args], env=env, capture_output=True, text=True, timeout=120,
            cwd=tmp_path,
        )  # fmt: skip

    version = run("--version")
    assert version.returncode == 0 and __version__ in version.stdout

    hello = run("hello")
    assert hello.returncode == 0 and "hello from a plugin file" in hello.stdout, hello.stderr

    port = free_port()
    log = tmp_path / "serve.log"
    with open(log, "wb") as logf:
        proc = subprocess.Popen(
            [str(binary), "serve", "--data-dir", str(data), "--port", str(port), "--workers", "2"],
            env=env, stdout=logf, stderr=subprocess.STDOUT, cwd=tmp_path,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                health = httpx.get(base + "/health", timeout=1)
                if health.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        assert health.json() == {
            "status": "ok", "version": __version__, "database": "ok", "storage": "ok",
            "disk": "ok",
        }  # fmt: skip

        created = run(
            "user", "create", "--data-dir", str(data), "--email", "ops@example.com",
            "--username", "ops", "--password", "operator-pass", "--role", "admin", "--json",
        )  # fmt: skip
        assert created.returncode == 0, created.stderr
        assert json.loads(created.stdout)["role"] == "admin"

        r = httpx.post(
            base + "/api/v1/auth/login", json={"email": "ops", "password": "operator-pass"}
        )
        assert r.status_code == 200, r.text
        headers = {"Authorization": f"Bearer {r.json()['session']['access_token']}"}
        image = sample_image_bytes("JPEG", size=(120, 80))
        r = httpx.post(
            base + "/api/v1/upload/presign", headers=headers,
            json={"filename": "cat.jpg", "mime": "image/jpeg", "bytes": len(image)},
        )  # fmt: skip
        assert r.status_code == 201, r.text
        r = httpx.put(r.json()["uploadUrl"], content=image)
        assert r.status_code == 200 and r.json()["status"] == "ready", r.text
        file_id = r.json()["fileId"]
        served = httpx.get(f"{base}/i/{file_id}")
        assert served.status_code == 200 and served.content == image
        assert httpx.get(f"{base}/i/{file_id}?w=64").status_code == 200  # Pillow in the binary

        check_web_pages(base, headers, file_id)

        # The plugin file ran inside the binary's worker.
        assert (plugins / "uploaded.log").read_text().split() == [file_id]

        # HEIC: pi-heif and its libraries are in the binary, and the decoder's child
        # process starts from it (multiprocessing.freeze_support in the entry point).
        heic = heic_bytes()
        r = httpx.post(f"{base}/api/v1/upload?filename=phone", content=heic, headers=headers,
                       timeout=60)  # fmt: skip
        assert r.status_code == 201 and r.json()["mime"] == "image/heic", r.text
        assert r.json()["blurhash"], r.text
        accept = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"
        shown = httpx.get(f"{base}/i/{r.json()['id']}", headers={"Accept": accept})
        assert shown.status_code == 200 and shown.headers["content-type"] == "image/avif"

        doctor = run("doctor", "--data-dir", str(data), "--json")
        report = json.loads(doctor.stdout)
        plugins_line = [c for c in report["checks"] if c["name"] == "plugins"][-1]
        assert "hello_plugin" in plugins_line["message"]
        assert {c["name"] for c in report["checks"] if c["status"] == "fail"} == set()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
    output = log.read_text()
    assert code == 0, output
    assert "Traceback" not in output and "Server Stopped" in output
