"""The real ``@supabase/supabase-js`` against a live ``serve``: under Node.js
(``tests/js/gotrue_flow.mjs``) and, as the public guide's JavaScript example is
written, in headless Chromium (``tests/js/guide.html``).

The client comes from npm at the version pinned in ``tests/js/package-lock.json``
(``npm ci`` here when ``tests/js/node_modules`` is missing or holds another version;
``.ci/run`` does it first). Without node, npm, Playwright or Chromium these tests
skip on a developer's machine and fail where ``CI`` is set, so that a CI run missing
them cannot pass.
"""

from __future__ import annotations

import functools
import json
import os
import secrets
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from pichr_appliance.testing import LiveServer, free_port, headless_chromium, sample_image_bytes

pytestmark = pytest.mark.slow

JS = Path(__file__).resolve().parent / "js"
PASSWORD = "correct horse battery"


def unavailable(message: str) -> None:
    """Skip on a developer's machine; fail in CI (``CI`` set), naming the fix."""
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def pinned_version() -> str:
    """The supabase-js version the lock file pins (also named in docs/supabase-js.md)."""
    lock = json.loads((JS / "package-lock.json").read_text())
    return lock["packages"]["node_modules/@supabase/supabase-js"]["version"]


def installed_version() -> str | None:
    manifest = JS / "node_modules" / "@supabase" / "supabase-js" / "package.json"
    return json.loads(manifest.read_text())["version"] if manifest.exists() else None


@pytest.fixture(scope="session")
def node() -> str:
    """``node``, with ``tests/js/node_modules`` installed from the lock file."""
    found = {name: shutil.which(name) for name in ("node", "npm")}
    missing = [name for name, path in found.items() if path is None]
    if missing:
        unavailable(f"{' and '.join(missing)} not found: install Node.js 20+ and npm "
                    "(apt-get install nodejs npm)")  # fmt: skip
    version = subprocess.run(
        [found["node"], "-p", "process.versions.node"], capture_output=True, text=True
    ).stdout.strip()
    if int(version.split(".")[0] or 0) < 20:
        unavailable(f"node {version} is too old: supabase-js {pinned_version()} needs 20+")
    if installed_version() != pinned_version():
        result = subprocess.run(
            [found["npm"], "ci", "--no-audit", "--no-fund"],
            cwd=JS, capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        assert result.returncode == 0, f"npm ci in tests/js failed:\n{result.stderr}"
    assert installed_version() == pinned_version()
    return found["node"]


def anon_key(server: LiveServer) -> str:
    """The key the server generated, as an operator reads it: ``config show``."""
    shown = subprocess.run(
        [sys.executable, "-m", "pichr_appliance", "config", "show",
         "--data-dir", str(server.data_dir)],
        env=server.env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(shown.stdout)["auth"]["supabase_anon_key"]


@pytest.fixture
def image(tmp_path: Path) -> Path:
    path = tmp_path / "cat.png"
    path.write_bytes(sample_image_bytes("PNG", size=(96, 64)))
    return path


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    live = LiveServer(tmp_path / "data").start()
    try:
        yield live
    finally:
        live.stop()


@pytest.mark.timeout(600)  # npm ci may run in the fixture, on a loaded machine
def test_supabase_js_under_node(node: str, server: LiveServer, image: Path):
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PICHR_URL": server.url,
        "PICHR_ANON_KEY": anon_key(server),
        "PICHR_IMAGE": str(image),
    }
    run = subprocess.run(
        [node, "gotrue_flow.mjs"], cwd=JS, env=env, capture_output=True, text=True, timeout=240
    )
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert "crash" not in out, out["crash"]

    signup = out["signUp"]
    assert signup["error"] is None and signup["storedByClient"], signup
    session = signup["session"]
    assert session["keys"] == sorted(
        ["access_token", "token_type", "expires_in", "expires_at", "refresh_token", "user",
         "weak_password"]
    )  # fmt: skip
    assert session["tokenType"] == "bearer" and session["expiresIn"] > 900
    user_id = signup["userId"]
    assert user_id.startswith("usr_") and session["userId"] == user_id
    assert signup["metadata"]["display_name"] == "Node"
    assert signup["metadata"]["username"].startswith("node_")  # from node.<stamp>@...

    assert out["getUser"] == {"error": None, "id": user_id, "email": out["getUser"]["email"]}
    assert out["signIn"]["error"] is None and out["signIn"]["weakPassword"] is None
    assert out["updateData"]["error"] is None
    metadata = out["updateData"]["metadata"]
    assert metadata["theme"] == "dark" and "display_name" not in metadata  # null removed
    assert_api_error(out["updatePasswordWithoutCurrent"], 400, "reauthentication_needed")
    assert out["updatePassword"]["error"] is None
    assert_api_error(out["oldPasswordAfterChange"], 400, "invalid_credentials")

    assert out["refresh"] == {"error": None, "rotated": True, "userId": user_id}
    assert_api_error(out["reuse"], 400, "refresh_token_already_used")
    after = out["afterReuse"]
    assert_api_error(after["refresh"], 400, "session_expired")
    assert after["getUser"]["name"] == "AuthSessionMissingError"  # session_not_found
    assert after["v1Status"] == 401

    assert out["signInAgain"]["error"] is None
    guide = out["guide"]
    assert guide["fileId"].startswith("file_") and guide["listedIds"] == [guide["fileId"]]
    assert guide["ownerIds"] == [user_id] and guide["total"] == 1
    assert out["v1MeWithSessionToken"] == out["getUser"]["email"]

    signout = out["signOut"]
    assert signout["error"] is None and signout["clientSession"] is None
    assert signout["getUserWithOldToken"]["name"] == "AuthSessionMissingError"
    assert signout["v1Status"] == 401

    assert out["pkceSignUp"] == {"error": None, "session": True}

    bad = out["bad"]
    assert_api_error(bad["wrongApiKey"], 401, "invalid_api_key")
    assert_api_error(bad["missingApiKey"], 401, "no_api_key")
    assert_api_error(bad["malformedBody"], 400, "bad_json")
    assert_api_error(bad["bodyNotAnObject"], 400, "bad_json")
    assert_api_error(bad["unknownGrantType"], 400, "validation_failed")
    assert_api_error(bad["duplicateEmail"], 422, "user_already_exists")
    assert_api_error(bad["wrongPassword"], 400, "invalid_credentials")
    assert_api_error(bad["invalidEmail"], 400, "validation_failed")
    # weak_password is the one code the client raises as its own AuthApiError sibling.
    weak = bad["weakPassword"]
    assert (weak["name"], weak["status"], weak["code"]) == ("AuthWeakPasswordError", 422,
                                                            "weak_password")  # fmt: skip
    assert weak["reasons"] == ["length"]


def assert_api_error(seen: dict[str, Any], status: int, code: str) -> None:
    """The client raised ``AuthApiError`` with ``status`` and ``code`` and a message."""
    assert seen is not None, "no error"
    assert seen["isAuthApiError"] and seen["name"] == "AuthApiError", seen
    assert (seen["status"], seen["code"]) == (status, code), seen
    assert seen["message"], seen


class _Static(SimpleHTTPRequestHandler):
    extensions_map = {
        **SimpleHTTPRequestHandler.extensions_map,
        ".mjs": "text/javascript",
        ".js": "text/javascript",
    }

    def log_message(self, *args: Any) -> None:  # keep the test output clean
        pass


@pytest.fixture
def test_page() -> Iterator[str]:
    """``tests/js`` served on another loopback port: the page's origin."""
    httpd = ThreadingHTTPServer(
        ("127.0.0.1", free_port()), functools.partial(_Static, directory=str(JS))
    )
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def browser() -> Iterator[Any]:
    """Headless Debian chromium through Playwright (its own download does not work)."""
    with headless_chromium(unavailable) as instance:
        yield instance


@pytest.mark.timeout(600)
def test_the_guide_example_in_a_browser(node, browser, test_page, tmp_path: Path, image: Path):
    key = "guide-page-anon-key-" + secrets.token_hex(8)
    server = LiveServer(
        tmp_path / "data",
        env={"PICHR_SERVER__CORS_ORIGINS": json.dumps([test_page]),
             "PICHR_AUTH__SUPABASE_ANON_KEY": key},
    ).start()  # fmt: skip
    try:
        page = browser.new_page()
        problems: list[str] = []
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.goto(f"{test_page}/guide.html?url={server.url}&key={key}")
        page.wait_for_function("window.guideReady === true")
        page.set_input_files("#file", str(image))
        email = f"browser.{secrets.token_hex(4)}@example.com"
        result = page.evaluate("([e, p]) => window.runGuide(e, p)", [email, PASSWORD])
    finally:
        server.stop()
    assert "error" not in result, result
    assert problems == [], problems
    assert (
        result["isFile"] and result["fileName"] == "cat.png" and result["fileType"] == "image/png"
    )
    assert result["storedSession"], "supabase-js did not keep the session"
    files = result["listing"]["files"]
    assert [f["id"] for f in files] == [result["fileId"]]
    assert files[0]["ownerId"] == result["userId"] and files[0]["status"] == "ready"
    assert files[0]["bytes"] == image.stat().st_size and files[0]["width"] == 96
