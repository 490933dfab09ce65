"""What the public pages say about an image: variant URLs and ``srcset`` (widths only
from ``images.variant_sizes``, so that every URL is a variant ``/i/`` really makes), the
link-preview image, and the copyable embed codes.

Everything here works on the API's File object (``FileOut`` as JSON), the shape the
browser views get from ``/api/v1`` too.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from markupsafe import escape

from ..imaging import clamp_size

# Thumbnails in the grids are 160-300 CSS pixels wide (twice that on dense screens); the
# image page shows up to the content width (1200 px, sharper on dense screens).
THUMB_RANGE = (200, 700)
PAGE_RANGE = (480, 1920)
THUMB_SIZES = "(max-width: 420px) 50vw, (max-width: 900px) 33vw, 220px"
PAGE_SIZES = "(max-width: 1232px) calc(100vw - 2rem), 1200px"
PREVIEW_WIDTH = 1200  # what link previews (OpenGraph, Twitter cards) ask for


def scaled(file: dict[str, Any], width: int) -> tuple[int | None, int | None]:
    """The size of ``file``'s variant at ``width`` (variants never upscale), or (None,
    None) when the size of the original is unknown."""
    w, h = file.get("width"), file.get("height")
    if not w or not h:
        return None, None
    if width >= w:
        return w, h
    return width, max(1, round(h * width / w))


def widths(settings: Any, low: int, high: int) -> list[int]:
    """The configured variant widths between ``low`` and ``high`` (at least one)."""
    sizes = sorted(settings.images.variant_sizes)
    chosen = [s for s in sizes if low <= s <= high]
    return chosen or [clamp_size(low, sizes)]


def picture(settings: Any, file: dict[str, Any], kind: str = "thumb") -> dict[str, Any]:
    """The ``<img>`` attributes of ``file`` as a grid thumbnail (``kind="thumb"``) or on
    its own page (``"page"``): ``src``, ``srcset``, ``sizes``, ``width``, ``height``."""
    low, high = THUMB_RANGE if kind == "thumb" else PAGE_RANGE
    candidates, seen = [], set()
    for size in widths(settings, low, high):
        shown, _ = scaled(file, size)
        real = shown or size
        if real not in seen:  # past the original's width every variant is the same
            seen.add(real)
            candidates.append((size, real))
    base = f"/i/{quote(file['id'])}"
    src_size = candidates[0][0] if kind == "thumb" else candidates[-1][0]
    if kind == "page":  # a sensible single size for browsers without srcset
        src_size = clamp_size(1280, [c[0] for c in candidates])
    width, height = scaled(file, src_size)
    return {
        "src": f"{base}?w={src_size}",
        "srcset": ", ".join(f"{base}?w={size} {real}w" for size, real in candidates),
        "sizes": THUMB_SIZES if kind == "thumb" else PAGE_SIZES,
        "width": width,
        "height": height,
    }


def preview(settings: Any, file: dict[str, Any]) -> dict[str, Any]:
    """The link-preview image: an absolute variant URL near 1200 px wide (clamped to the
    configured sizes, as ``/i/`` clamps it) with its real width and height."""
    size = clamp_size(PREVIEW_WIDTH, list(settings.images.variant_sizes))
    width, height = scaled(file, size)
    return {
        "url": f"{settings.image_base_url}/{quote(file['id'])}?w={size}",
        "width": width,
        "height": height,
    }


def page_url(settings: Any, file_id: str) -> str:
    """The absolute URL of an image page (``/v/{fileId}``)."""
    return f"{settings.public_url}/v/{quote(file_id)}"


def _markdown_text(text: str) -> str:
    """``text`` safe inside Markdown's ``![...]`` (brackets and backslashes escaped)."""
    return "".join("\\" + c if c in "\\[]" else c for c in text).replace("\n", " ")


def embed_codes(settings: Any, file: dict[str, Any]) -> list[tuple[str, str]]:
    """``(label, code)`` pairs to copy: the direct link, Markdown, BBCode, HTML."""
    url = file["url"]
    alt = file.get("title") or file.get("filename") or "image"
    page = page_url(settings, file["id"])
    html_code = f'<a href="{escape(page)}"><img src="{escape(url)}" alt="{escape(alt)}"></a>'
    return [
        ("Direct link", url),
        ("Markdown", f"[![{_markdown_text(alt)}]({url})]({page})"),
        ("BBCode", f"[url={page}][img]{url}[/img][/url]"),
        ("HTML", html_code),
    ]
