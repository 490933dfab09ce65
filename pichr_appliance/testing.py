"""Fixtures for testing the appliance and its plugins (a pytest plugin, ``pytest11``).

- ``pichr_settings``: settings on a temporary data directory, cheap password hashing.
- ``pichr_app``: a migrated app for those settings (customise with ``pichr_overrides``;
  add plugins for one test with ``pichr_plugins``).
- ``pichr_client``: an :class:`ApiClient` on a real listening server (sanic-testing's
  ``ReusableClient``: started once per test, one event loop, real sockets).
- ``pichr_user``: a signed-up user with ``headers`` carrying its access token.
- ``live_server``: a real ``pichr-appliance serve`` subprocess (see ``LiveServer``).
- ``sample_image``: a function that makes small images in any format.

``PICHR_TEST_DATABASE=postgres`` runs the same tests on PostgreSQL: ``make_settings``
then points every test at a throwaway database (made by the provider module named in
``TEST_DATABASE_PROVIDERS``, e.g. ``pichr_postgres.testing``), dropped after the test.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import io
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

FAST_HASHING = {"argon2_time_cost": 1, "argon2_memory_kib": 64, "argon2_parallelism": 1}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# PICHR_TEST_DATABASE value -> module with create_test_database() and
# drop_test_databases(). Any other value is taken as such a module's import name.
TEST_DATABASE_PROVIDERS = {"postgres": "pichr_postgres.testing"}


def terminate(proc: subprocess.Popen, timeout: float = 10) -> None:
    """SIGTERM ``proc`` (a proxy, a helper server) and wait; SIGKILL after ``timeout``."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def headless_chromium(missing: Callable[[str], Any]) -> Iterator[Any]:
    """Debian's chromium (or ``PICHR_CHROMIUM``), headless, through Playwright for
    Python (Playwright's own browser download does not work here). ``missing(message)``
    reports a missing piece (``pytest.fail``, or a skip outside CI) and must raise."""
    import shutil

    path = os.environ.get("PICHR_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        missing(
            f"no chromium at {path}: install it with `apt-get install chromium` "
            "or set PICHR_CHROMIUM to a Chromium binary"
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("playwright is not installed: pip install -e '.[test]'")
    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=path, headless=True)
        try:
            yield instance
        finally:
            instance.close()


def throwaway_database_provider() -> Any:
    """The module that makes throwaway databases, or None for the default (SQLite)."""
    kind = os.environ.get("PICHR_TEST_DATABASE", "").strip()
    if kind in ("", "sqlite"):
        return None
    return importlib.import_module(TEST_DATABASE_PROVIDERS.get(kind, kind))


def make_settings(data_dir: Path, extra: dict[str, Any] | None = None, **kwargs: Any):
    """Settings for a test: isolated data dir, quick hashing, no environment leakage.

    Unless ``extra`` names a database, ``PICHR_TEST_DATABASE`` may point the settings
    at a fresh throwaway database (see the module docstring).
    """
    from .config import load_settings

    # Every answer of the suite is checked against its operation's declared model.
    tree: dict[str, Any] = {"auth": dict(FAST_HASHING), "server": {"check_responses": True}}
    for section, values in (extra or {}).items():
        if isinstance(values, dict):
            tree.setdefault(section, {}).update(values)
        else:
            tree[section] = values
    provider = throwaway_database_provider()
    if provider is not None and not tree.get("database", {}).get("url"):
        tree.setdefault("database", {})["url"] = provider.create_test_database()
    from .config import ensure_data_dir

    settings = load_settings(data_dir=data_dir, environ={}, extra=tree, **kwargs)
    ensure_data_dir(settings)
    return settings


def migrate(settings: Any) -> None:
    """Apply migrations for ``settings`` in a private event loop."""
    # A thread of its own: the test's loop (if any) stays untouched.
    import threading

    from .db import run_migrations
    from .plugins import get_plugin_manager

    errors: list[BaseException] = []

    def work() -> None:
        try:
            asyncio.run(run_migrations(settings, get_plugin_manager(settings)))
        except BaseException as exc:  # re-raised in the caller
            errors.append(exc)

    t = threading.Thread(target=work)
    t.start()
    t.join()
    if errors:
        raise errors[0]


def raw_exchange(port: int, data: bytes, wait: float = 6.0) -> tuple[bytes, bool]:
    """Send raw bytes to a local server, then read until it closes or ``wait`` passes.

    Returns what was read and whether the server closed the connection (tests of
    request parsing that an HTTP client would refuse to send)."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as sock:
        sock.sendall(data)
        chunks, deadline = [], time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                return b"".join(chunks), True
            chunks.append(chunk)
        return b"".join(chunks), False


class ApiClient:
    """Synchronous HTTP helper over a ReusableClient; methods return the response.

    ``response.status``, ``response.json``, ``response.headers``, ``response.content``.
    """

    def __init__(self, client: Any, app: Any) -> None:
        self._client = client
        self.app = app
        self.base = f"http://127.0.0.1:{client.port}"
        self.port = client.port

    @property
    def runtime(self) -> Any:
        """The server's :class:`~pichr_appliance.runtime.Runtime` (settings, storage...)."""
        return self.app.ctx.runtime

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        kwargs.setdefault("follow_redirects", False)
        _, response = getattr(self._client, method.lower())(path, **kwargs)
        return response

    def get(self, path: str, **kw: Any) -> Any:
        return self.request("get", path, **kw)

    def post(self, path: str, **kw: Any) -> Any:
        return self.request("post", path, **kw)

    def put(self, path: str, **kw: Any) -> Any:
        return self.request("put", path, **kw)

    def patch(self, path: str, **kw: Any) -> Any:
        return self.request("patch", path, **kw)

    def delete(self, path: str, **kw: Any) -> Any:
        if "json" in kw:  # httpx has no json= for DELETE; the API takes bodies there
            import json as _json

            kw["content"] = _json.dumps(kw.pop("json")).encode()
            kw["headers"] = {**(kw.get("headers") or {}), "Content-Type": "application/json"}
            return self.request("request", path, http_method="DELETE", **kw)
        return self.request("delete", path, **kw)

    def head(self, path: str, **kw: Any) -> Any:
        return self.request("head", path, **kw)

    def options(self, path: str, **kw: Any) -> Any:
        return self.request("options", path, **kw)

    def signup(self, username: str | None = None, **fields: Any) -> dict[str, Any]:
        """Create an account through the API; returns ``{user, session, headers, password}``."""
        username = username or f"u{uuid.uuid4().hex[:10]}"
        body = {
            "email": f"{username}@example.com",
            "password": "correct horse battery",
            "username": username,
            "firstName": "Test",
            "lastName": "User",
            "ageConfirmed": True,
        }
        body.update(fields)
        r = self.post("/api/v1/auth/signup", json=body)
        assert r.status == 201, r.text
        data = r.json
        data["password"] = body["password"]
        data["headers"] = {"Authorization": f"Bearer {data['session']['access_token']}"}
        return data

    def upload(
        self, user: dict[str, Any] | None, data: bytes | None = None, **fields: Any
    ) -> dict[str, Any]:
        """Presign and PUT an image (a generated PNG by default) as ``user`` (None:
        anonymous); returns the File object. ``fields`` go into the presign body."""
        from urllib.parse import urlsplit

        data = data if data is not None else sample_image_bytes("PNG")
        body = {"filename": "pic.png", "mime": "image/png", "bytes": len(data), **fields}
        headers = user["headers"] if user else {}
        r = self.post("/api/v1/upload/presign", headers=headers, json=body)
        assert r.status == 201, r.text
        url = urlsplit(r.json["uploadUrl"])
        r = self.put(f"{url.path}?{url.query}", content=data)
        assert r.status == 200, r.text
        r = self.get(f"/api/v1/files/{r.json['fileId']}", headers=headers)
        assert r.status == 200, r.text
        return r.json

    def run(self, coro: Any) -> Any:
        """Run a coroutine on the server's loop (e.g. to call a service directly)."""
        return self._client._loop.run_until_complete(coro)


@pytest.fixture(scope="session", autouse=True)
def _pichr_test_database_reachable() -> None:
    # PICHR_TEST_DATABASE=postgres without a reachable server would fail every test with
    # a "connection refused" trace: stop the run at once with one line naming the fix.
    try:
        provider = throwaway_database_provider()
    except ImportError as exc:
        kind = os.environ.get("PICHR_TEST_DATABASE", "")
        pytest.exit(f"PICHR_TEST_DATABASE={kind}: cannot import its provider ({exc})")
    check = getattr(provider, "unreachable_reason", None)
    problem = check() if check else None
    if problem:
        pytest.exit(problem)


@pytest.fixture(autouse=True)
def _pichr_sanic_registry() -> Iterator[None]:
    # A stale registry makes a later test client spin forever at 100% CPU in Sanic's
    # shutdown_tasks (after a ReusableClient test on an app with ORM listeners).
    from sanic import Sanic

    Sanic.test_mode = True
    yield
    Sanic._app_registry.clear()
    provider = throwaway_database_provider()
    if provider is not None:
        provider.drop_test_databases()


@pytest.fixture
def pichr_overrides() -> dict[str, Any]:
    """Override to change settings for the tests of a module: ``{"uploads": {...}}``."""
    return {}


@pytest.fixture
def pichr_settings(tmp_path: Path, pichr_overrides: dict[str, Any]) -> Any:
    return make_settings(tmp_path / "data", pichr_overrides)


@pytest.fixture
def pichr_plugins() -> list[Any]:
    """Plugin objects to register in ``pichr_app`` for one test: override this fixture,
    or parametrize it (``@pytest.mark.parametrize("pichr_plugins", [[MyPlugin()]])``)."""
    return []


@pytest.fixture
def pichr_app(pichr_settings: Any, pichr_plugins: list[Any]) -> Any:
    from .app import create_app

    migrate(pichr_settings)
    return create_app(
        pichr_settings, name=f"pichr_test_{uuid.uuid4().hex[:8]}", plugins=pichr_plugins
    )


@pytest.fixture
def pichr_client(pichr_app: Any) -> Iterator[ApiClient]:
    from sanic_testing.reusable import ReusableClient

    port = free_port()
    pichr_app.ctx.runtime.settings.server.port = port
    client = ReusableClient(pichr_app, host="127.0.0.1", port=port)
    with client:
        yield ApiClient(client, pichr_app)


@pytest.fixture
def pichr_user(pichr_client: ApiClient) -> dict[str, Any]:
    return pichr_client.signup()


def sample_image_bytes(
    fmt: str = "PNG", size: tuple[int, int] = (64, 48), color: Any = (200, 40, 40), **save: Any
) -> bytes:
    """A small generated image encoded as ``fmt`` (PNG, JPEG, GIF, WEBP...)."""
    from PIL import Image

    img = Image.new("RGB", size, color)
    # A gradient, so that perceptual hashes of different colours differ.
    for x in range(0, size[0], max(1, size[0] // 8)):
        for y in range(size[1]):
            img.putpixel((x, y), (x * 3 % 256, y * 5 % 256, 90))
    buf = io.BytesIO()
    img.save(buf, format=fmt, **save)
    return buf.getvalue()


@pytest.fixture
def sample_image() -> Callable[..., bytes]:
    return sample_image_bytes


class LiveServer:
    """A real ``pichr-appliance serve`` subprocess on a free port."""

    def __init__(
        self,
        data_dir: Path,
        env: dict[str, str] | None = None,
        args: list[str] | None = None,
        python: str | None = None,
    ) -> None:
        """``python``: the interpreter to serve with (default: this one), e.g. a
        virtual environment's where a plugin under test is installed."""
        self.python = python or sys.executable
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data_dir = data_dir
        self.env = {**os.environ, **(env or {})}
        self.env.setdefault("PICHR_AUTH__ARGON2_TIME_COST", "1")
        self.env.setdefault("PICHR_AUTH__ARGON2_MEMORY_KIB", "64")
        self.env.setdefault("PICHR_AUTH__ARGON2_PARALLELISM", "1")
        provider = throwaway_database_provider()
        if provider is not None and "PICHR_DATABASE__URL" not in self.env:
            self.env["PICHR_DATABASE__URL"] = provider.create_test_database()
        self.args = args or []
        self.proc: subprocess.Popen | None = None
        self.log = data_dir.parent / f"serve-{self.port}.log"

    def start(self, timeout: float = 30, ready_statuses: tuple[int, ...] = (200,)) -> LiveServer:
        """Start and wait until ``/health`` answers one of ``ready_statuses`` (add 503
        for a server that is up but reports a failing part, e.g. a full disk)."""
        import httpx

        cmd = [
            self.python,
            "-m",
            "pichr_appliance",
            "serve",
            "--data-dir",
            str(self.data_dir),
            "--port",
            str(self.port),
            *self.args,
        ]
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        logf = open(self.log, "wb")  # noqa: SIM115 - closed with the process
        # A session of its own, so that stop() can reach the workers too.
        self.proc = subprocess.Popen(
            cmd, env=self.env, stdout=logf, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log.read_text()}")
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code in ready_statuses:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server did not become healthy:\n{self.log.read_text()}")

    def stop(self, timeout: float = 20) -> int | None:
        """SIGTERM and wait (the exit status); after ``timeout`` s, or if workers
        outlive the main process, everything left in its session is killed."""
        import signal

        if self.proc is None:
            return None
        try:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    return self.proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    return self.proc.wait()
            return self.proc.returncode
        finally:
            # No worker may outlive the test that started it.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[LiveServer]:
    server = LiveServer(tmp_path / "live-data").start()
    try:
        yield server
    finally:
        server.stop()
