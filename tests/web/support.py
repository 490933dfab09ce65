"""Helpers of the browser tests (and of ``scripts/screenshots``) beyond the fixtures in
``conftest.py``: arranging data through the JSON API, watching a page for console
errors and JS dialogs, waiting for a view to render, and handing files to a page by
drag and drop or paste as a person would.

No relative imports: ``scripts/screenshots`` imports this module from ``tests/web``.
"""

from __future__ import annotations

import base64
import io
import secrets
from typing import Any
from urllib.parse import urlsplit

import httpx

PASSWORD = "correct horse battery staple"

# Which answers a correct page still logs as console errors (see conftest).
EXPECTED_CONSOLE = ("Failed to load resource",)


# ---------------------------------------------------------------- data through the API


def make_image(
    size: tuple[int, int] = (1600, 1000), color: tuple[int, int, int] = (40, 110, 170)
) -> bytes:
    """A PNG of ``size``: a diagonal gradient over ``color`` with a few bands, so that
    images differ and look like something in a screenshot."""
    from PIL import Image, ImageDraw

    width, height = size
    img = Image.new("RGB", size, color)
    draw = ImageDraw.Draw(img)
    for i in range(0, width + height, max(8, (width + height) // 48)):
        shade = tuple(min(255, c + (i * 97) % 90) for c in color)
        draw.line([(i, 0), (i - height, height)], fill=shade, width=max(4, width // 60))
    draw.ellipse(
        [width * 0.55, height * 0.15, width * 0.85, height * 0.15 + width * 0.3],
        fill=(250, 220, 120),
    )
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def signup(server: Any, username: str | None = None, **fields: Any) -> dict[str, Any]:
    """A new account through ``POST /api/v1/auth/signup``: ``{email, username, password,
    token, user}`` (``token`` is a Bearer access token)."""
    username = username or f"u{secrets.token_hex(4)}"
    body = {
        "email": f"{username}@example.test",
        "username": username,
        "password": PASSWORD,
        "ageConfirmed": True,
        **fields,
    }
    answer = httpx.post(f"{server.url}/api/v1/auth/signup", json=body)
    assert answer.status_code == 201, answer.text
    data = answer.json()
    return {
        "email": body["email"],
        "username": username,
        "password": PASSWORD,
        "token": data["session"]["access_token"],
        "user": data["user"],
    }


def bearer(token: str | None) -> dict[str, str]:
    """The Authorization header of ``token`` (none for anonymous calls)."""
    return {"Authorization": f"Bearer {token}"} if token else {}


def upload(
    server: Any,
    token: str,
    data: bytes | None = None,
    *,
    filename: str = "picture.png",
    mime: str = "image/png",
    **fields: Any,
) -> dict[str, Any]:
    """Presign and PUT an image as the owner of ``token``; returns the File object.
    ``fields`` (title, description, tags, visibility...) go into the presign body."""
    data = data if data is not None else make_image()
    body = {"filename": filename, "mime": mime, "bytes": len(data), **fields}
    answer = httpx.post(f"{server.url}/api/v1/upload/presign", json=body, headers=bearer(token))
    assert answer.status_code == 201, answer.text
    target = urlsplit(answer.json()["uploadUrl"])
    put = httpx.put(
        f"{server.url}{target.path}?{target.query}",
        content=data,
        headers={"Content-Type": mime},
        timeout=60,
    )
    assert put.status_code == 200, put.text
    return file_of(server, token, put.json()["fileId"])


def file_of(server: Any, token: str | None, file_id: str) -> dict[str, Any]:
    """``GET /api/v1/files/{id}`` as the owner of ``token``."""
    answer = httpx.get(f"{server.url}/api/v1/files/{file_id}", headers=bearer(token))
    assert answer.status_code == 200, answer.text
    return answer.json()


def my_files(server: Any, token: str) -> list[dict[str, Any]]:
    """The caller's files, newest first."""
    answer = httpx.get(f"{server.url}/api/v1/files", params={"limit": 100}, headers=bearer(token))
    assert answer.status_code == 200, answer.text
    return answer.json()["files"]


def album(
    server: Any, token: str, title: str, file_ids: list[str], **fields: Any
) -> dict[str, Any]:
    """``POST /api/v1/albums``: a new album of ``file_ids``."""
    body = {"title": title, "fileIds": file_ids, **fields}
    answer = httpx.post(f"{server.url}/api/v1/albums", json=body, headers=bearer(token))
    assert answer.status_code == 201, answer.text
    return answer.json()


def album_of(server: Any, token: str | None, album_id: str) -> dict[str, Any]:
    """``GET /api/v1/albums/{id}`` (with its first page of files)."""
    answer = httpx.get(f"{server.url}/api/v1/albums/{album_id}", headers=bearer(token))
    assert answer.status_code == 200, answer.text
    return answer.json()


def report(
    server: Any, token: str | None = None, *, reason: str = "spam", **target: str
) -> dict[str, Any]:
    """``POST /api/v1/moderation/report`` about ``fileId=`` or ``albumId=`` (anonymous
    without ``token``); ``details=`` goes into the body too."""
    body = {"reason": reason, **target}
    answer = httpx.post(f"{server.url}/api/v1/moderation/report", json=body, headers=bearer(token))
    assert answer.status_code == 201, answer.text
    return answer.json()


def resolve(server: Any, token: str, report_id: str, action: str = "remove") -> dict[str, Any]:
    """A staff decision on a report (``remove``, ``dismiss``, ...)."""
    answer = httpx.post(
        f"{server.url}/api/v1/moderation/reports/{report_id}/resolve",
        json={"action": action},
        headers=bearer(token),
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def login_token(server: Any, login: str, password: str = PASSWORD) -> str:
    """A Bearer access token for ``login`` (email or username)."""
    answer = httpx.post(
        f"{server.url}/api/v1/auth/login", json={"email": login, "password": password}
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["session"]["access_token"]


# ---------------------------------------------------------------- watching a page


class Watch:
    """Console errors, uncaught exceptions and JS dialogs of one tab. A dialog is
    dismissed and recorded (a page of this appliance never opens ``alert``; a hostile
    title that ran as markup would); ``confirm`` prompts can be accepted on purpose
    with ``accept_confirms``."""

    def __init__(self, tab: Any, accept_confirms: bool = False) -> None:
        self.tab = tab
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.confirms: list[str] = []
        self.accept_confirms = accept_confirms
        tab.on("console", self._console)
        tab.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))
        tab.on("dialog", self._dialog)

    def _console(self, message: Any) -> None:
        if message.type == "error" and not any(x in message.text for x in EXPECTED_CONSOLE):
            self.errors.append(message.text)

    def _dialog(self, dialog: Any) -> None:
        if dialog.type == "confirm" and self.accept_confirms:
            self.confirms.append(dialog.message)
            dialog.accept()
            return
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def check(self) -> None:
        """Fail on any console error, uncaught exception or unexpected dialog."""
        assert self.dialogs == [], f"JS dialogs opened: {self.dialogs}"
        assert self.errors == [], f"errors in the browser console: {self.errors}"


def wait_ready(tab: Any, timeout: float = 15_000) -> None:
    """Wait until the page's view has rendered: network quiet and the shell's
    ``#loading`` placeholder gone (a view replaces it when it has drawn)."""
    tab.wait_for_load_state("networkidle", timeout=timeout)
    tab.locator("#loading").wait_for(state="detached", timeout=timeout)
    tab.wait_for_load_state("networkidle", timeout=timeout)


def open_page(browser: Any, server: Any, path: str, **context: Any) -> tuple[Any, Any, Watch]:
    """A new context (``viewport=``, ``color_scheme=``...), a tab on ``path``, and its
    Watch; the caller closes the context."""
    ctx = browser.new_context(base_url=server.url, **context)
    tab = ctx.new_page()
    watch = Watch(tab)
    tab.goto(path)
    return ctx, tab, watch


# ---------------------------------------------------------------- files into a page

MAKE_TRANSFER = """(files) => {
  const transfer = new DataTransfer();
  for (const f of files) {
    const raw = atob(f.data);
    const bytes = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    transfer.items.add(new File([bytes], f.name, {type: f.type}));
  }
  return transfer;
}"""

PASTE = """(transfer) => {
  if (document.activeElement && document.activeElement !== document.body) {
    document.activeElement.blur();
  }
  const event = new ClipboardEvent("paste", {
    clipboardData: transfer, bubbles: true, cancelable: true,
  });
  document.body.dispatchEvent(event);
  return event.defaultPrevented;
}"""


def transfer(tab: Any, files: list[tuple[str, bytes]]) -> Any:
    """A DataTransfer handle in ``tab`` holding ``files`` ``[(name, bytes)]`` (PNGs
    unless the name says .jpg/.gif/.webp)."""
    types = {"jpg": "image/jpeg", "jpeg": "image/jpeg", "gif": "image/gif", "webp": "image/webp"}
    payload = [
        {
            "name": name,
            "type": types.get(name.rsplit(".", 1)[-1].lower(), "image/png"),
            "data": base64.b64encode(data).decode(),
        }
        for name, data in files
    ]
    return tab.evaluate_handle(MAKE_TRANSFER, payload)


def drop_files(target: Any, files: list[tuple[str, bytes]]) -> None:
    """Drag ``files`` over ``target`` (a locator in the drop zone) and drop them:
    the dragenter, dragover and drop events a person's drag produces."""
    handle = transfer(target.page, files)
    for event in ("dragenter", "dragover", "drop"):
        target.dispatch_event(event, {"dataTransfer": handle})


def paste_files(tab: Any, files: list[tuple[str, bytes]]) -> None:
    """Paste ``files`` into the page, as Ctrl+V with an image on the clipboard does:
    a ``paste`` event on the document body (nothing focused) carrying the files."""
    tab.evaluate(PASTE, transfer(tab, files))
