"""``server.accel_redirect``: real nginx and Caddy in front of a real ``serve``, set up
with the snippets of docs/operations.md; the proxy sends the bytes, the appliance decides.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from pichr_appliance.config import ConfigError, load_settings
from pichr_appliance.testing import LiveServer, free_port, sample_image_bytes, terminate

NGINX = "/usr/sbin/nginx"
CADDY = "/usr/bin/caddy"
PREFIX = "/_pichr_objects/"

pytestmark = [pytest.mark.slow]

NGINX_CONF = """
{user}
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body; proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fcgi; uwsgi_temp_path {tmp}/uwsgi; scgi_temp_path {tmp}/scgi;
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://127.0.0.1:{app};
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $remote_addr;
        }}
        location {prefix} {{
            internal;
            alias {storage}/;
            sendfile on;
            tcp_nopush on;
            # Conditionals were answered by the appliance; its ETag and type stand.
            etag off;
            if_modified_since off;
            types {{ }}
            default_type "";
            add_header ETag $upstream_http_etag;
            add_header Last-Modified $upstream_http_last_modified;
            add_header Content-Security-Policy $upstream_http_content_security_policy;
            add_header X-Content-Type-Options $upstream_http_x_content_type_options;
            add_header Vary $upstream_http_vary;
        }}
    }}
}}
"""

CADDYFILE = """
{{
    admin off
    auto_https off
}}
http://127.0.0.1:{port} {{
    reverse_proxy 127.0.0.1:{app} {{
        @sendfile header X-Sendfile *
        handle_response @sendfile {{
            root * /
            rewrite * {{http.reverse_proxy.header.X-Sendfile}}
            copy_response_headers {{
                exclude X-Sendfile Content-Length
            }}
            # file_server would put its own validators; the appliance's stand.
            header {{
                ETag {{http.reverse_proxy.header.Etag}}
                Last-Modified {{http.reverse_proxy.header.Last-Modified}}
                defer
            }}
            file_server
        }}
    }}
}}
"""


def require(binary: str, package: str) -> None:
    """The proxy is a test requirement (scripts/test installs it): a skip on a
    developer's machine without it, a one-line failure in CI (``CI`` set)."""
    if not os.access(binary, os.X_OK):
        message = f"no {binary}: apt-get install {package}"
        if os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)


def wait_port(port: int, proc: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"proxy exited: {log.read_text(errors='replace')[-2000:]}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise AssertionError("proxy did not start")


@contextlib.contextmanager
def proxy(cmd: list[str], port: int, log: Path) -> Iterator[str]:
    """A proxy process in the foreground on ``port``; stopped on exit."""
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_port(port, proc, log)
        yield f"http://127.0.0.1:{port}"
    finally:
        terminate(proc)


@contextlib.contextmanager
def appliance(tmp: Path, style: str) -> Iterator[LiveServer]:
    server = LiveServer(
        tmp / "data",
        args=[
            "-s",
            f"server.accel_redirect={style}",
            "-s",
            f"server.accel_prefix={PREFIX}",
            "-s",
            "images.count_flush_interval=0.2",
        ],  # fmt: skip
    )
    server.start(timeout=60)
    try:
        yield server
    finally:
        server.stop()


def signup(base: str) -> dict[str, str]:
    name = f"u{uuid.uuid4().hex[:10]}"
    body = {"email": f"{name}@example.com", "password": "correct horse battery",
            "username": name, "firstName": "T", "lastName": "U", "ageConfirmed": True}  # fmt: skip
    r = httpx.post(f"{base}/api/v1/auth/signup", json=body, timeout=30)
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['session']['access_token']}"}


def upload(base: str, headers: dict[str, str], data: bytes, visibility: str) -> str:
    body = {"filename": "pic.jpg", "mime": "image/jpeg", "bytes": len(data),
            "visibility": visibility}  # fmt: skip
    r = httpx.post(f"{base}/api/v1/upload/presign", headers=headers, json=body, timeout=30)
    assert r.status_code == 201, r.text
    url = urlsplit(r.json()["uploadUrl"])
    r = httpx.put(f"{base}{url.path}?{url.query}", content=data, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()["fileId"]


@pytest.fixture(scope="module")
def photo() -> bytes:
    """A JPEG of a few hundred KB: big enough that a range is a real slice."""
    return sample_image_bytes("JPEG", size=(900, 700), quality=100)


def check_through(front: str, app: str, photo: bytes, resumes: bool = True) -> None:
    """Everything the brief asks of the proxied /i/, against ``front``."""
    owner, other = signup(app), signup(app)
    public = upload(app, owner, photo, "public")
    private = upload(app, owner, photo, "private")
    direct = httpx.get(f"{app}/i/{public}")
    assert direct.status_code == 200 and direct.content == b""  # the proxy sends the bytes

    r = httpx.get(f"{front}/i/{public}")
    assert r.status_code == 200, r.text
    assert r.content == photo
    assert r.headers["etag"] == direct.headers["etag"]
    assert r.headers["cache-control"] == direct.headers["cache-control"]
    assert r.headers["content-type"] == "image/jpeg"
    assert r.headers["last-modified"] == direct.headers["last-modified"]
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in r.headers["content-security-policy"]
    assert "x-accel-redirect" not in r.headers and "x-sendfile" not in r.headers

    r = httpx.head(f"{front}/i/{public}")
    assert r.status_code == 200 and r.headers["content-length"] == str(len(photo))
    assert r.headers["etag"] == direct.headers["etag"]

    r = httpx.get(f"{front}/i/{public}", headers={"Range": "bytes=100-1099"})
    assert r.status_code == 206
    assert r.content == photo[100:1100]
    assert r.headers["content-range"] == f"bytes 100-1099/{len(photo)}"

    # If-Range against the appliance's ETag: the slice while it matches, else all.
    # Caddy's file_server compares with its own ETag, so it always sends everything
    # (correct, only not resumed; docs/operations.md).
    etag = direct.headers["etag"]
    r = httpx.get(f"{front}/i/{public}", headers={"Range": "bytes=0-9", "If-Range": etag})
    if resumes:
        assert r.status_code == 206 and r.content == photo[:10]
    else:
        assert r.status_code == 200 and r.content == photo
    r = httpx.get(f"{front}/i/{public}", headers={"Range": "bytes=0-9", "If-Range": '"old"'})
    assert r.status_code == 200 and r.content == photo

    r = httpx.get(f"{front}/i/{public}", headers={"If-None-Match": direct.headers["etag"]})
    assert r.status_code == 304 and r.content == b""

    assert httpx.get(f"{front}/i/{private}", headers=other).status_code == 404
    assert httpx.get(f"{front}/i/{private}").status_code == 404
    r = httpx.get(f"{front}/i/{private}", headers=owner)
    assert r.status_code == 200 and r.content == photo
    assert httpx.get(f"{front}/i/file_doesnotexist").status_code == 404

    r = httpx.get(f"{front}/i/{public}?download=1")
    assert r.content == photo
    assert r.headers["content-disposition"].startswith("attachment;")

    r = httpx.get(f"{front}/i/{public}?w=256")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/jpeg" and r.content[:2] == b"\xff\xd8"
    assert len(r.content) < len(photo)
    assert r.headers["etag"] == httpx.get(f"{app}/i/{public}?w=256").headers["etag"]

    # Counted by the appliance as before: the direct GET, the proxied 200, 206 and the
    # two If-Range GETs (not HEAD, the 304, nor the variant), and the download. Counts
    # are flushed in batches.
    counts = None
    for _ in range(100):
        f = httpx.get(f"{app}/api/v1/files/{public}", headers=owner).json()
        counts = (f["viewCount"], f["downloadCount"])
        if counts == (5, 1):
            break
        time.sleep(0.1)
    assert counts == (5, 1)


def test_nginx_x_accel_redirect(tmp_path: Path, photo: bytes) -> None:
    require(NGINX, "nginx-light")
    with appliance(tmp_path, "x-accel-redirect") as app:
        port = free_port()
        conf = tmp_path / "nginx.conf"
        # Objects are 0600: the workers run as the appliance's user (as documented).
        user = "user root;" if os.geteuid() == 0 else ""
        storage = tmp_path / "data/storage"
        conf.write_text(
            NGINX_CONF.format(
                user=user, tmp=tmp_path, port=port, app=app.port, prefix=PREFIX, storage=storage
            )
        )
        cmd = [NGINX, "-p", str(tmp_path), "-c", str(conf), "-g", "daemon off;"]
        with proxy(cmd, port, tmp_path / "nginx.log") as front:
            check_through(front, app.url, photo)
            # The internal location is not reachable from outside.
            key = next((tmp_path / "data/storage").rglob("*.jpg"), None) or next(
                p for p in (tmp_path / "data/storage").rglob("*") if p.is_file()
            )
            rel = key.relative_to(tmp_path / "data/storage")
            assert httpx.get(f"{front}{PREFIX}{rel}").status_code == 404


def test_caddy_x_sendfile(tmp_path: Path, photo: bytes) -> None:
    require(CADDY, "caddy")
    with appliance(tmp_path, "x-sendfile") as app:
        port = free_port()
        conf = tmp_path / "Caddyfile"
        conf.write_text(CADDYFILE.format(port=port, app=app.port))
        env_home = {"HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "xdg")}
        cmd = ["env", *(f"{k}={v}" for k, v in env_home.items()), CADDY, "run",
               "--config", str(conf), "--adapter", "caddyfile"]  # fmt: skip
        with proxy(cmd, port, tmp_path / "caddy.log") as front:
            check_through(front, app.url, photo, resumes=False)
            # The file path is never a URL of the proxy.
            stored = next(p for p in (tmp_path / "data/storage").rglob("*") if p.is_file())
            assert httpx.get(f"{front}{stored}").status_code == 404


def test_refused_for_object_storage(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match='needs storage.backend = "local"'):
        load_settings(overrides=["server.accel_redirect=x-sendfile", "storage.backend=s3"])
