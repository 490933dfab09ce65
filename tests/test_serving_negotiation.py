"""Content negotiation on ``/i/{id}`` (issue 16): HEIC and TIFF originals reach a
browser as a displayable rendition chosen by ``Accept`` (``Vary: Accept``), while
``?original=1`` and ``?download=1`` give the stored bytes; ``format=auto`` picks AVIF or
WebP from ``Accept``; ETags, 304s and ranges hold per representation."""

from __future__ import annotations

import io

import pytest
from PIL import Image

CHROMIUM = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"
FIREFOX_OLD = "image/webp,*/*"
SAFARI = "image/webp,image/avif,image/jxl,image/heic,image/heic-sequence,video/*;q=0.8,image/png,image/svg+xml,image/*;q=0.8,*/*;q=0.5"  # noqa: E501


def photo(size=(96, 64)) -> Image.Image:
    w, h = size
    img = Image.new("RGB", size)
    img.putdata([(x * 255 // w, y * 255 // h, 90) for y in range(h) for x in range(w)])
    return img


def heic_bytes(size=(96, 64)) -> bytes:
    pillow_heif = pytest.importorskip("pillow_heif")
    buf = io.BytesIO()
    pillow_heif.from_pillow(photo(size)).save(buf, quality=90)
    return buf.getvalue()


def tiff_bytes() -> bytes:
    buf = io.BytesIO()
    photo().save(buf, format="TIFF")
    return buf.getvalue()


def get(client, fid, query="", accept=None, **headers):
    if accept is not None:
        headers["Accept"] = accept
    return client.get(f"/i/{fid}{query}", headers=headers)


def test_heic_gets_a_displayable_rendition_for_chromium(pichr_client, pichr_user):
    data = heic_bytes()
    f = pichr_client.upload(pichr_user, data, filename="IMG_0001.HEIC", mime="image/heic")
    fid = f["id"]
    r = get(pichr_client, fid, accept=CHROMIUM)
    assert r.status == 200 and r.headers["content-type"] == "image/avif"
    assert r.headers["vary"] == "Accept"
    with Image.open(io.BytesIO(r.content)) as img:
        assert img.format == "AVIF" and img.size == (96, 64)  # full size: under the bound
    avif_etag = r.headers["etag"]
    assert avif_etag != f'"{f["sha256"]}"'
    # WebP for a browser without AVIF, JPEG for one that names neither.
    r = get(pichr_client, fid, accept=FIREFOX_OLD)
    assert r.headers["content-type"] == "image/webp" and r.headers["etag"] != avif_etag
    r = get(pichr_client, fid, accept="image/png,image/*;q=0.9")
    assert r.headers["content-type"] == "image/jpeg"
    # Safari shows HEIC: the original. So do scripts (no image type named).
    for accept in (SAFARI, "*/*", ""):
        r = get(pichr_client, fid, accept=accept)
        assert r.headers["content-type"] == "image/heic" and r.content == data
        assert r.headers["etag"] == f'"{f["sha256"]}"' and r.headers["vary"] == "Accept"
    # ?original=1 and ?download=1: the stored bytes whatever Accept says.
    r = get(pichr_client, fid, "?original=1", accept=CHROMIUM)
    assert r.headers["content-type"] == "image/heic" and r.content == data
    r = get(pichr_client, fid, "?download=1", accept=CHROMIUM)
    assert r.headers["content-type"] == "image/heic" and r.content == data
    assert 'filename="IMG_0001.heic"' in r.headers["content-disposition"]


def test_etag_304_and_ranges_per_representation(pichr_client, pichr_user):
    f = pichr_client.upload(pichr_user, tiff_bytes(), filename="scan.tif", mime="image/tiff")
    fid = f["id"]
    r = get(pichr_client, fid, accept=CHROMIUM)
    assert r.headers["content-type"] == "image/avif"
    etag, body = r.headers["etag"], r.content
    assert get(pichr_client, fid, accept=CHROMIUM, **{"If-None-Match": etag}).status == 304
    # The original's ETag does not validate the rendition, nor the reverse.
    original = f'"{f["sha256"]}"'
    assert get(pichr_client, fid, accept=CHROMIUM, **{"If-None-Match": original}).status == 200
    r = get(pichr_client, fid, "?original=1", **{"If-None-Match": etag})
    assert r.status == 200 and r.headers["content-type"] == "image/tiff"
    r = get(pichr_client, fid, accept=CHROMIUM, Range="bytes=0-9")
    assert r.status == 206 and r.content == body[:10]
    assert r.headers["content-range"] == f"bytes 0-9/{len(body)}"
    r = get(pichr_client, fid, accept=CHROMIUM, Range="bytes=0-9", **{"If-Range": original})
    assert r.status == 200 and r.content == body  # If-Range of another representation
    head = pichr_client.head(f"/i/{fid}", headers={"Accept": CHROMIUM})
    assert head.headers["etag"] == etag and head.headers["vary"] == "Accept"


def test_large_renditions_are_bounded_by_the_largest_variant_size(pichr_client, pichr_user):
    f = pichr_client.upload(pichr_user, heic_bytes((2400, 600)), filename="pano.heic",
                            mime="image/heic")  # fmt: skip
    r = get(pichr_client, f["id"], accept="image/webp,*/*")
    with Image.open(io.BytesIO(r.content)) as img:
        assert img.format == "WEBP" and img.size == (1920, 480)


def test_format_auto_honours_accept(pichr_client, pichr_user):
    f = pichr_client.upload(pichr_user)  # a PNG
    fid = f["id"]
    expected = [(CHROMIUM, "image/avif"), (FIREFOX_OLD, "image/webp"), ("*/*", "image/png"),
                (None, "image/png")]  # fmt: skip
    etags = set()
    for accept, mime in expected:
        r = get(pichr_client, fid, "?w=64&format=auto", accept=accept)
        assert r.status == 200 and r.headers["content-type"] == mime, (accept, r.text[:100])
        assert r.headers["vary"] == "Accept"
        etags.add(r.headers["etag"])
    assert len(etags) == 3  # png twice, the same representation
    # A fixed format does not vary.
    r = get(pichr_client, fid, "?w=64&format=webp", accept=CHROMIUM)
    assert r.headers["content-type"] == "image/webp" and "vary" not in r.headers
    # Displayable originals do not vary either.
    r = get(pichr_client, fid, accept=CHROMIUM)
    assert r.headers["content-type"] == "image/png" and "vary" not in r.headers
    assert get(pichr_client, fid, "?format=gif").status == 400


def test_format_auto_keeps_an_animation_as_webp(pichr_client, pichr_user):
    frames = [Image.new("RGB", (40, 30), c) for c in ("red", "green", "blue")]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], duration=90)
    f = pichr_client.upload(pichr_user, buf.getvalue(), filename="a.gif", mime="image/gif")
    r = get(pichr_client, f["id"], "?w=64&format=auto", accept=CHROMIUM)
    assert r.headers["content-type"] == "image/webp"
    with Image.open(io.BytesIO(r.content)) as img:
        img.load()
        assert img.n_frames == 3 and img.info.get("duration") == 90


@pytest.mark.parametrize("pichr_overrides", [{"images": {"animation_max_frames": 2}}])
def test_animations_beyond_the_budget_are_a_still_frame(pichr_client, pichr_user):
    frames = [Image.new("RGB", (40, 30), c) for c in ("red", "green", "blue")]
    buf = io.BytesIO()
    frames[0].save(buf, format="WEBP", save_all=True, append_images=frames[1:], lossless=True)
    f = pichr_client.upload(pichr_user, buf.getvalue(), filename="a.webp", mime="image/webp")
    r = get(pichr_client, f["id"], "?w=64&format=webp")
    with Image.open(io.BytesIO(r.content)) as img:
        assert getattr(img, "n_frames", 1) == 1
