"""Browser tests: Playwright for Python driving Debian's chromium, headless, against a
real ``pichr-appliance serve`` (docs/web.md, "Tests").

Playwright's own browser download does not work on the build machines; the browser is
``/usr/bin/chromium`` (``apt-get install chromium``; ``.ci/run`` installs it), or the one
``PICHR_CHROMIUM`` names. A missing browser fails the tests with that instruction
rather than skipping them, so that a CI run without it cannot pass.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from pichr_appliance.testing import LiveServer, headless_chromium

PASSWORD = "correct horse battery staple"
PHONE = {"width": 375, "height": 812}
DESKTOP = {"width": 1280, "height": 900}
ARTIFACTS = Path(os.environ.get("PICHR_WEB_ARTIFACTS", "build/web-artifacts"))


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    """One headless chromium for the browser tests. Package scope: a running sync
    Playwright holds an event loop in this thread, which the asyncio tests that pytest
    runs after tests/web (the plugins') could not start their own beside."""
    with headless_chromium(pytest.fail) as instance:
        yield instance


def serve(
    tmp: Path, env: dict[str, str] | None = None, args: list[str] | None = None
) -> LiveServer:
    """A started ``serve`` on SQLite in ``tmp`` with rate limits off (every browser
    request comes from 127.0.0.1; the limits have tests of their own)."""
    data = tmp / "data"
    settings = {
        "PICHR_DATABASE__URL": f"sqlite://{tmp / 'pichr.sqlite3'}",
        "PICHR_RATE_LIMITS__ENABLED": "false",
        "PICHR_WEB__MULTIPART_THRESHOLD": str(5 * 1024 * 1024),
        "PICHR_WEB__PART_SIZE": str(5 * 1024 * 1024),
        **(env or {}),
    }
    return LiveServer(data, env=settings, args=args).start()


@pytest.fixture(scope="module")
def web_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One server per test module (accounts are made unique per test)."""
    server = serve(tmp_path_factory.mktemp("web"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def context(browser: Any, web_server: LiveServer) -> Iterator[Any]:
    """A fresh browser profile (no cookies) at desktop width, with clipboard access."""
    ctx = browser.new_context(base_url=web_server.url, viewport=DESKTOP)
    ctx.grant_permissions(["clipboard-read", "clipboard-write"], origin=web_server.url)
    try:
        yield ctx
    finally:
        ctx.close()


@pytest.fixture
def page(context: Any) -> Any:
    """A page in ``context``; console errors and CSP violations fail the test."""
    tab = context.new_page()
    problems: list[str] = []
    tab.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    tab.on("pageerror", lambda e: problems.append(str(e)))
    yield tab
    unexpected = [p for p in problems if not expected_console_error(p)]
    assert unexpected == [], f"errors in the browser console: {unexpected}"


def expected_console_error(text: str) -> bool:
    """Console lines a correct page still produces: the browser logs every non-2xx
    answer (a 401 from the session check, a 404 page, a refused upload)."""
    return "Failed to load resource" in text


def unique(prefix: str = "u") -> str:
    """A username nobody in this server has yet."""
    return f"{prefix}{secrets.token_hex(4)}"


def create_user(server: LiveServer, username: str, role: str = "user") -> dict[str, str]:
    """An account made with the CLI, as an operator would (admins and moderators)."""
    email = f"{username}@example.test"
    subprocess.run(
        [
            sys.executable, "-m", "pichr_appliance", "user", "create",
            "--data-dir", str(server.data_dir), "--email", email, "--username", username,
            "--password", PASSWORD, "--role", role, "--age-confirmed",
        ],
        env=server.env, check=True, capture_output=True,
    )  # fmt: skip
    return {"email": email, "username": username, "password": PASSWORD}


def sign_in(context: Any, server: LiveServer, login: str, password: str = PASSWORD) -> None:
    """Sign ``context`` in through the cookie session route (without the sign-in page,
    for tests about other pages)."""
    answer = context.request.post(
        f"{server.url}/api/v1/auth/web/login", data={"email": login, "password": password}
    )
    assert answer.status == 200, answer.text()


def api_token(server: LiveServer, login: str, password: str = PASSWORD) -> str:
    """A Bearer access token for ``login`` (to arrange data through the JSON API)."""
    answer = httpx.post(
        f"{server.url}/api/v1/auth/login", json={"email": login, "password": password}
    )
    answer.raise_for_status()
    return answer.json()["session"]["access_token"]


def screenshot(tab: Any, name: str) -> Path:
    """Save a full-page screenshot as a test artifact (``build/web-artifacts``)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    tab.screenshot(path=str(path), full_page=True)
    return path
