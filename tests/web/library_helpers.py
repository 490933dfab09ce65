"""Arranging data for the browser tests of my images, albums and staff pages through
the JSON API (as any client would), and waiting for what the page shows."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httpx

from pichr_appliance.testing import LiveServer, sample_image_bytes

from .conftest import PASSWORD, api_token, create_user, sign_in, unique


def signup(server: LiveServer, username: str) -> str:
    """An ordinary account through the public signup API (faster than the CLI, which
    staff accounts need); answers its access token."""
    body = {"email": f"{username}@example.test", "password": PASSWORD, "username": username}
    r = httpx.post(f"{server.url}/api/v1/auth/signup", json={**body, "ageConfirmed": True})
    assert r.status_code == 201, r.text
    return r.json()["session"]["access_token"]


class Account:
    """A user of ``server`` with a Bearer client for the JSON API: role ``user`` signs
    up through the API, staff roles are made with the CLI as an operator would."""

    def __init__(self, server: LiveServer, role: str = "user", prefix: str = "u") -> None:
        self.server = server
        self.username = unique(prefix)
        if role == "user":
            token = signup(server, self.username)
        else:
            create_user(server, self.username, role)
            token = api_token(server, self.username)
        self.http = httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=30
        )
        self.id = self.http.get("/api/v1/auth/me").json()["user"]["id"]

    def sign_in(self, context: Any) -> None:
        """Sign the browser ``context`` in as this account (cookie session)."""
        sign_in(context, self.server, self.username)

    def upload(self, title: str = "", *, color: tuple[int, int, int] | None = None, **fields: Any):
        """Presign and PUT a generated PNG (distinct per call); the File object."""
        seed = int.from_bytes(title.encode()[:3].ljust(3, b"\0"), "big") + time.monotonic_ns()
        color = color or (seed % 256, (seed >> 8) % 256, (seed >> 16) % 256)
        data = sample_image_bytes("PNG", size=(96, 64), color=color)
        body = {"filename": "pic.png", "mime": "image/png", "bytes": len(data), "title": title}
        r = self.http.post("/api/v1/upload/presign", json={**body, **fields})
        assert r.status_code == 201, r.text
        url = urlsplit(r.json()["uploadUrl"])
        put = self.http.put(
            f"{url.path}?{url.query}", content=data, headers={"Content-Type": "image/png"}
        )
        assert put.status_code == 200, put.text
        return self.file(r.json()["fileId"])

    def file(self, file_id: str) -> dict[str, Any]:
        """GET /api/v1/files/{id}."""
        r = self.http.get(f"/api/v1/files/{file_id}")
        assert r.status_code == 200, r.text
        return r.json()

    def album(self, album_id: str) -> dict[str, Any]:
        """GET /api/v1/albums/{id} (Album plus its first 100 files)."""
        r = self.http.get(f"/api/v1/albums/{album_id}", params={"limit": 100})
        assert r.status_code == 200, r.text
        return r.json()

    def make_album(self, title: str, file_ids: list[str], **fields: Any) -> dict[str, Any]:
        """POST /api/v1/albums."""
        r = self.http.post("/api/v1/albums", json={"title": title, "fileIds": file_ids, **fields})
        assert r.status_code == 201, r.text
        return r.json()


def eventually(check: Callable[[], Any], timeout: float = 10.0, interval: float = 0.1) -> Any:
    """Poll ``check`` until it returns a truthy value (which is returned)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"not true within {timeout} s (last: {last!r})")


def no_dialogs(tab: Any) -> list[str]:
    """Record every JavaScript dialog (alert/confirm/prompt) the page opens: none may."""
    seen: list[str] = []

    def handle(dialog: Any) -> None:
        seen.append(dialog.message)
        dialog.dismiss()

    tab.on("dialog", handle)
    return seen
