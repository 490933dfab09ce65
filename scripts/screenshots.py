"""Screenshots of every page of the web interface, for docs/ and the README.

Starts a throwaway ``pichr-appliance serve`` (SQLite in a temporary directory), fills it
with demo data (two accounts made with the CLI, generated images with titles and tags,
an album, an open report), and saves each page at 375 px and 1280 px wide as
``docs/screenshots/<page>-<width>.png`` (full page, light theme unless ``--dark``).
Needs what the browser tests need: the ``[test]`` extras and Debian's chromium.

    scripts/screenshots [--out docs/screenshots] [--dark] [--only home,image]

(``scripts/screenshots`` runs this file with the project's virtual environment.)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "web"))

from conftest import create_user, serve, sign_in  # noqa: E402
from support import album, login_token, make_image, report, upload, wait_ready  # noqa: E402

from pichr_appliance.testing import headless_chromium  # noqa: E402

WIDTHS = {375: 812, 1280: 900}
UNFINISHED: list[str] = []
DEMO = [
    ("Harbour at dawn", (1600, 1000), (40, 110, 170), ["sea", "morning"]),
    ("Red cliffs", (1200, 1600), (170, 70, 40), ["coast"]),
    ("Green valley", (1600, 900), (60, 140, 80), ["hills"]),
    ("Lighthouse", (1000, 1000), (90, 90, 150), ["sea", "coast"]),
    ("Dunes at noon", (1600, 1067), (190, 150, 70), ["sand"]),
    ("Night market", (1400, 1000), (70, 40, 110), ["city"]),
]


def demo_data(server: Any) -> dict[str, Any]:
    """An owner with six public images, an album of four, an open report; an admin."""
    owner = create_user(server, "ada", "user")
    admin = create_user(server, "morgan", "admin")
    token = login_token(server, owner["email"])
    files = [
        upload(
            server,
            token,
            make_image(size, colour),
            filename=f"{title.lower().replace(' ', '-')}.png",
            title=title,
            tags=tags,
            description=f"{title}: a generated picture for the screenshots.",
        )
        for title, size, colour, tags in DEMO
    ]
    made = album(
        server,
        token,
        "Coast walk",
        [f["id"] for f in files[:4]],
        description="Four pictures from a walk along the coast.",
    )
    report(server, fileId=files[5]["id"], reason="spam", details="Looks like an advert.")
    return {"owner": owner, "admin": admin, "image": files[0]["id"], "album": made["id"]}


def pages(data: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    """(name, path, who is signed in) of every page."""
    owner, admin = data["owner"]["email"], data["admin"]["email"]
    return [
        ("home", "/", None),
        ("image", f"/v/{data['image']}", None),
        ("album", f"/a/{data['album']}", None),
        ("signin", "/signin", None),
        ("signup", "/signup", None),
        ("account", "/account", owner),
        ("upload", "/upload", owner),
        ("my-images", "/my", owner),
        ("albums", "/albums", owner),
        ("album-editor", f"/albums/{data['album']}", owner),
        ("staff-queue", "/staff", admin),
        ("staff-audit", "/staff/audit", admin),
        ("staff-users", "/staff/users", admin),
        ("staff-stats", "/staff/stats", admin),
        ("not-found", "/v/file_doesnotexist00000000", None),
    ]


def shoot(browser: Any, server: Any, page: tuple, width: int, out: Path, dark: bool) -> Path:
    """One page at ``width`` into ``out``; the file written. A page whose view never
    finished drawing is still shot, and named in UNFINISHED."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    name, path, login = page
    ctx = browser.new_context(
        base_url=server.url,
        viewport={"width": width, "height": WIDTHS[width]},
        color_scheme="dark" if dark else "light",
    )
    try:
        if login:
            sign_in(ctx, server, login)
        tab = ctx.new_page()
        tab.goto(path)
        try:
            wait_ready(tab)
        except PlaywrightTimeout:
            UNFINISHED.append(f"{name} at {width} px")
        tab.evaluate(
            "() => Promise.all([...document.images].map((img) => { img.loading = 'eager';"
            " return img.complete ? null : new Promise((done) => { img.onload = img.onerror"
            " = done; setTimeout(done, 5000); }); }))"
        )
        tab.wait_for_timeout(400)  # the status bar's announcements, the last paint
        target = out / f"{name}-{width}{'-dark' if dark else ''}.png"
        tab.screenshot(path=str(target), full_page=True)
        return target
    finally:
        ctx.close()


def take_all(server: Any, out: Path, dark: bool, wanted: set[str]) -> None:
    """Demo data into ``server``, then every page (or the ``wanted`` ones) at each width."""
    data = demo_data(server)
    with headless_chromium(_missing) as browser:
        for page in pages(data):
            if wanted and page[0] not in wanted:
                continue
            for width in WIDTHS:
                written = shoot(browser, server, page, width, out, dark)
                print(written.relative_to(ROOT) if written.is_relative_to(ROOT) else written)


def _missing(message: str) -> None:
    """What headless_chromium calls when chromium or Playwright is missing."""
    raise SystemExit(message)


def main() -> int:
    """Start a demo server, take the screenshots, stop the server."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--dark", action="store_true", help="the dark theme")
    parser.add_argument("--only", default="", help="comma-separated page names")
    args = parser.parse_args()
    args.out = args.out.resolve()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="pichr-screens-") as tmp:
        server = serve(Path(tmp))
        try:
            take_all(server, args.out, args.dark, {n for n in args.only.split(",") if n})
        finally:
            server.stop()
    if UNFINISHED:
        print(f"these pages never finished drawing: {', '.join(UNFINISHED)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
