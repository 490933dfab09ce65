"""The upload view in a real chromium against a real server: drag and drop, paste and
the file picker, several files with their own progress and links, a refused file
showing the server's reason, cancel, and a large multipart upload interrupted (a part
failing, a page reload) and resumed to a byte-identical stored file.

The ``web_server`` fixture sets the multipart threshold and part size to 5 MiB (the
API's smallest part), so a 12 MB image has 3 parts.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from pichr_appliance.testing import sample_image_bytes
from tests.web.conftest import api_token, create_user, sign_in, unique

PART = 5 * 1024 * 1024
# How long a small upload may take to be stored on a loaded machine (ms).
STORED = 20_000


def noise_png(path: Path, width: int, height: int) -> bytes:
    """A PNG of random pixels (it does not compress: about width*height*3 bytes)."""
    from PIL import Image

    Image.frombytes("RGB", (width, height), os.urandom(width * height * 3)).save(
        path, format="PNG", compress_level=1
    )
    return path.read_bytes()


def upload_page(page: Any, context: Any, server: Any) -> dict[str, str]:
    user = create_user(server, unique("up"))
    sign_in(context, server, user["username"])
    page.goto("/upload")
    expect(page.get_by_role("group", name="Drop zone")).to_be_visible()
    # The view fills in what it fetches (albums, the plan) after its first paint: wait
    # for that, so that a key pressed next goes to the element it was aimed at (the
    # keyboard test once timed out waiting for the first file chooser in CI).
    page.wait_for_load_state("networkidle")
    user["token"] = api_token(server, user["username"])
    return user


def in_page_files(page: Any, files: list[tuple[str, bytes, str]]) -> Any:
    """A DataTransfer in the page holding File objects made from ``files``."""
    payload = [[name, base64.b64encode(data).decode(), mime] for name, data, mime in files]
    return page.evaluate_handle(
        """(files) => {
            const dt = new DataTransfer();
            for (const [name, b64, type] of files) {
                const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
                dt.items.add(new File([bytes], name, { type }));
            }
            return dt;
        }""",
        payload,
    )


def drop(page: Any, files: list[tuple[str, bytes, str]]) -> None:
    transfer = in_page_files(page, files)
    zone = page.get_by_role("group", name="Drop zone")
    for event in ("dragenter", "dragover", "drop"):
        zone.dispatch_event(event, {"dataTransfer": transfer})


def paste(page: Any, files: list[tuple[str, bytes, str]]) -> None:
    transfer = in_page_files(page, files)
    page.evaluate(
        """(dt) => document.dispatchEvent(
            new ClipboardEvent("paste", { clipboardData: dt, bubbles: true, cancelable: true }))""",
        transfer,
    )


def row(page: Any, name: str) -> Any:
    return page.locator(".upload-row").filter(has=page.locator(".upload-name", has_text=name))


def stored_id(upload_row: Any) -> str:
    url = upload_row.get_by_label("Direct link").input_value()
    match = re.search(r"/i/(file_[A-Za-z0-9_-]+)$", url)
    assert match, url
    return match.group(1)


def file_of(server: Any, token: str, file_id: str) -> dict[str, Any]:
    answer = httpx.get(
        f"{server.url}/api/v1/files/{file_id}", headers={"Authorization": f"Bearer {token}"}
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_drop_paste_and_pick_several_files(page: Any, context: Any, web_server: Any) -> None:
    user = upload_page(page, context, web_server)
    page.get_by_label("Visibility").select_option("unlisted")
    page.get_by_label("Tags").fill("holiday, sea ,")
    red, green, blue, grey = (
        sample_image_bytes("PNG", (60 + i, 40), color) for i, color in enumerate(
            [(200, 30, 30), (30, 200, 30), (30, 30, 200), (120, 120, 120)]
        )
    )  # fmt: skip
    drop(page, [("red beach.png", red, "image/png"), ("green.png", green, "image/png")])
    paste(page, [("image.png", blue, "image/png")])
    page.locator("input[type=file]").set_input_files(
        files=[{"name": "grey.png", "mimeType": "image/png", "buffer": grey}]
    )
    done = page.locator('.upload-row[data-state="done"]')
    expect(done).to_have_count(4, timeout=STORED)

    for name, data in [
        ("red beach.png", red), ("green.png", green), ("image.png", blue), ("grey.png", grey)
    ]:  # fmt: skip
        item = row(page, name)
        expect(item.locator(".upload-status")).to_have_text("Uploaded")
        for label in ("Direct link", "Page", "Markdown", "BBCode", "HTML"):
            expect(item.get_by_label(label, exact=True)).to_have_value(re.compile(r"\S"))
        file_id = stored_id(item)
        expect(item.get_by_label("Page", exact=True)).to_have_value(f"{web_server.url}/v/{file_id}")
        stored = file_of(web_server, user["token"], file_id)
        title = name.rsplit(".", 1)[0]
        assert stored["title"] == title
        assert stored["visibility"] == "unlisted"
        assert stored["tags"] == ["holiday", "sea"]
        assert stored["bytes"] == len(data)
        expect(item.get_by_role("img", name=title)).to_be_visible()

    item = row(page, "green.png")
    item.get_by_role("button", name="Copy direct link").click()
    url = item.get_by_label("Direct link").input_value()
    assert page.evaluate("navigator.clipboard.readText()") == url
    expect(page.locator("#status")).to_contain_text("Copied")


def test_the_picker_opens_from_the_keyboard(page: Any, context: Any, web_server: Any) -> None:
    upload_page(page, context, web_server)
    zone = page.get_by_role("group", name="Drop zone")
    # Playwright intercepts file choosers only once it has told the browser to; a
    # listener from the start (and one round trip to the page) makes sure that is done
    # before the key is pressed, or the chooser may open uncaught (1 run in ~5 here).
    page.on("filechooser", lambda _chooser: None)
    page.evaluate("1")
    zone.focus()
    expect(zone).to_be_focused()
    with page.expect_file_chooser() as chooser:
        page.keyboard.press("Enter")
    assert chooser.value.is_multiple()
    chooser.value.set_files([])  # closed without a choice: nothing is added
    expect(page.locator(".upload-row")).to_have_count(0)
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Choose files")).to_be_focused()
    with page.expect_file_chooser() as chooser:
        page.keyboard.press("Space")
    chooser.value.set_files(
        files=[{"name": "keys.png", "mimeType": "image/png", "buffer": sample_image_bytes()}]
    )
    expect(row(page, "keys.png").locator(".upload-status")).to_have_text("Uploaded", timeout=STORED)


def test_upload_page_fits_a_360px_phone(page: Any, context: Any, web_server: Any) -> None:
    page.set_viewport_size({"width": 360, "height": 800})
    upload_page(page, context, web_server)
    name = "a-long-file-name-without-any-spaces-to-wrap-at.png"
    drop(page, [(name, sample_image_bytes(), "image/png")])
    expect(row(page, name).locator(".upload-status")).to_have_text("Uploaded", timeout=STORED)
    assert page.evaluate("document.documentElement.scrollWidth") <= 360


def test_refused_file_shows_the_servers_reason(page: Any, context: Any, web_server: Any) -> None:
    upload_page(page, context, web_server)
    drop(page, [("notes.png", b"these are my notes, not a picture\n" * 20, "image/png")])
    item = row(page, "notes.png")
    status = item.locator(".upload-status")
    expect(status).to_have_text(re.compile(r"^Refused: .*not a supported image"))
    assert "415" not in status.inner_text() and "unsupported_type" not in status.inner_text()
    expect(page.locator("#alert")).to_contain_text("notes.png was refused")
    expect(item.get_by_role("button", name="Cancel notes.png")).to_be_hidden()


def test_album_and_expiry_options(page: Any, context: Any, web_server: Any) -> None:
    user = upload_page(page, context, web_server)
    headers = {"Authorization": f"Bearer {user['token']}"}
    album = httpx.post(
        f"{web_server.url}/api/v1/albums", json={"title": "Trip"}, headers=headers
    ).json()
    page.reload()
    page.get_by_label("Add to album").select_option(label="Trip")
    page.get_by_label("Delete automatically").select_option(label="After 1 day")
    page.get_by_label("Title").fill("Same for all")
    drop(page, [("a.png", sample_image_bytes("PNG", (30, 30)), "image/png")])
    expect(row(page, "a.png").locator(".upload-status")).to_have_text("Uploaded", timeout=STORED)
    stored = file_of(web_server, user["token"], stored_id(row(page, "a.png")))
    assert stored["title"] == "Same for all"
    assert stored["albumIds"] == [album["id"]]
    assert stored["expiresAt"] is not None


def hold(page: Any, pattern: str) -> list[Any]:
    """Requests to ``pattern`` never get an answer (until the test ends)."""
    held: list[Any] = []
    page.route(pattern, lambda route: held.append(route))
    return held


def wait_held(page: Any, held: list[Any], what: str) -> None:
    for _ in range(100):
        if held:
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"{what} did not start")


def kept_uploads(page: Any) -> list[dict[str, Any]]:
    return page.evaluate(
        """() => Object.keys(localStorage).filter((k) => k.startsWith("pichr.upload."))
            .map((k) => JSON.parse(localStorage.getItem(k)))"""
    )


def test_cancel_a_small_and_a_large_upload(
    page: Any, context: Any, web_server: Any, tmp_path: Path
) -> None:
    user = upload_page(page, context, web_server)
    held = hold(page, "**/api/v1/upload/direct/**")
    drop(page, [("small.png", sample_image_bytes(), "image/png")])
    small = row(page, "small.png")
    expect(small).to_have_attribute("data-state", "uploading")
    wait_held(page, held, "the PUT of the small file")
    small.get_by_role("button", name="Cancel small.png").click()
    expect(small.locator(".upload-status")).to_have_text("Cancelled")

    big = noise_png(tmp_path / "big.png", 1400, 1400)  # ~5.9 MB: 2 parts
    assert len(big) > PART
    held_parts = hold(page, "**/parts/1")
    page.locator("input[type=file]").set_input_files(str(tmp_path / "big.png"))
    large = row(page, "big.png")
    expect(large.locator(".upload-status")).to_have_text(re.compile("Uploading part 1 of 2"))
    wait_held(page, held_parts, "the PUT of part 1")
    bar = large.get_by_role("progressbar", name="Upload progress of big.png")
    expect(bar).to_be_visible()
    [record] = kept_uploads(page)
    large.get_by_role("button", name="Cancel big.png").click()
    expect(large.locator(".upload-status")).to_have_text("Cancelled")
    assert kept_uploads(page) == []
    answer = httpx.get(
        f"{web_server.url}/api/v1/upload/multipart/{record['uploadId']}",
        headers={"Authorization": f"Bearer {user['token']}"},
    )
    assert answer.status_code == 404  # aborted: the parts are gone


def part_requests(page: Any) -> list[str]:
    seen: list[str] = []
    page.on(
        "request",
        lambda r: seen.append(r.url.rsplit("/", 1)[-1]) if "/parts/" in r.url else None,
    )
    return seen


@pytest.mark.timeout(240)
def test_large_upload_resumes_after_failures_and_a_reload(
    page: Any, context: Any, web_server: Any, tmp_path: Path
) -> None:
    user = upload_page(page, context, web_server)
    source = tmp_path / "large photo.png"
    data = noise_png(source, 2000, 2000)  # ~12 MB: 3 parts of 5 MiB
    assert 2 * PART < len(data) < 3 * PART
    # Part 2 fails every time: the page retries with backoff, then offers Resume.
    page.route("**/parts/2", lambda route: route.abort("connectionreset"))
    page.locator("input[type=file]").set_input_files(str(source))
    item = row(page, "large photo.png")
    expect(item.locator(".upload-status")).to_have_text(
        re.compile(r"Connection lost at part 2; trying again"), timeout=30_000
    )
    expect(item.get_by_role("button", name="Resume large photo.png")).to_be_visible(timeout=30_000)
    expect(item.locator(".upload-status")).to_contain_text("The parts sent so far are kept")
    [record] = kept_uploads(page)
    assert list(record["parts"]) == ["1"]

    # The page goes away mid-upload; the same file chosen again goes on from part 2.
    page.unroute("**/parts/2")
    page.reload()
    unfinished = page.get_by_role("region", name="Unfinished uploads")
    expect(unfinished).to_contain_text("large photo.png")
    expect(unfinished).to_contain_text("1 of 3 parts sent")
    sent = part_requests(page)
    page.locator("input[type=file]").set_input_files(str(source))
    item = row(page, "large photo.png")
    expect(item.locator(".upload-status")).to_have_text("Uploaded", timeout=90_000)
    expect(unfinished).to_be_hidden()
    assert sorted(sent) == ["2", "3"], sent  # part 1 was not sent again
    assert kept_uploads(page) == []

    file_id = stored_id(item)
    served = httpx.get(
        f"{web_server.url}/i/{file_id}",
        headers={"Authorization": f"Bearer {user['token']}"},
        timeout=30,
    )
    assert served.status_code == 200
    assert hashlib.sha256(served.content).hexdigest() == hashlib.sha256(data).hexdigest()


@pytest.mark.timeout(180)
def test_a_part_lost_once_is_retried_and_resume_button_goes_on(
    page: Any, context: Any, web_server: Any, tmp_path: Path
) -> None:
    user = upload_page(page, context, web_server)
    first = tmp_path / "first.png"
    first_data = noise_png(first, 1400, 1400)  # 2 parts
    page.route("**/parts/2", lambda route: route.abort("connectionreset"), times=1)
    page.locator("input[type=file]").set_input_files(str(first))
    item = row(page, "first.png")
    expect(item.locator(".upload-status")).to_have_text("Uploaded", timeout=60_000)

    second = tmp_path / "second.png"
    second_data = noise_png(second, 1400, 1400)
    page.route("**/parts/1", lambda route: route.abort("connectionreset"))
    page.locator("input[type=file]").set_input_files(str(second))
    item2 = row(page, "second.png")
    resume = item2.get_by_role("button", name="Resume second.png")
    expect(resume).to_be_visible(timeout=30_000)
    page.unroute("**/parts/1")
    resume.click()
    expect(item2.locator(".upload-status")).to_have_text("Uploaded", timeout=60_000)

    for upload_row, data in ((item, first_data), (row(page, "second.png"), second_data)):
        served = httpx.get(
            f"{web_server.url}/i/{stored_id(upload_row)}",
            headers={"Authorization": f"Bearer {user['token']}"},
            timeout=30,
        )
        assert hashlib.sha256(served.content).digest() == hashlib.sha256(data).digest()
