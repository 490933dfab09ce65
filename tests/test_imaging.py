"""Image inspection: sniffing, bombs, truncation, orientation, GPS stripping, dHash, variants."""

import io

import pytest
from PIL import Image

from pichr_appliance import imaging
from pichr_appliance.testing import sample_image_bytes

MAX = 50_000_000


def write(tmp_path, data, name="img"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("fmt", "mime"),
    [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("GIF", "image/gif"), ("WEBP", "image/webp")],
)
def test_supported_formats(tmp_path, fmt, mime):
    info = imaging.inspect(write(tmp_path, sample_image_bytes(fmt, (40, 30))), max_pixels=MAX)
    assert (info.mime, info.width, info.height, info.frames) == (mime, 40, 30, 1)
    assert len(info.phash) == 16


def test_animated_gif(tmp_path):
    frames = [Image.new("RGB", (20, 10), c) for c in ("red", "green", "blue")]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], duration=50)
    info = imaging.inspect(write(tmp_path, buf.getvalue()), max_pixels=MAX)
    assert info.mime == "image/gif" and info.frames == 3


@pytest.mark.parametrize(
    "data",
    [
        b"<svg xmlns='http://www.w3.org/2000/svg'></svg>",
        b"<html><script>alert(1)</script></html>",
        b"",
        b"GIF89a" + b"\x00" * 10,  # the right magic, then garbage
    ],
)
def test_non_images_refused(tmp_path, data):
    with pytest.raises(imaging.ImageRejected):
        imaging.inspect(write(tmp_path, data), max_pixels=MAX)


def test_truncated_jpeg_refused(tmp_path):
    data = sample_image_bytes("JPEG", (400, 300), quality=95)
    with pytest.raises(imaging.ImageRejected) as err:
        imaging.inspect(write(tmp_path, data[: len(data) // 2]), max_pixels=MAX)
    assert err.value.code == "invalid_image"


def test_decompression_bomb_refused_from_the_header(tmp_path):
    # 20000 x 20000 PNG of one colour compresses to a few hundred KB.
    img = Image.new("1", (20000, 20000))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    with pytest.raises(imaging.ImageRejected) as err:
        imaging.inspect(write(tmp_path, buf.getvalue()), max_pixels=MAX)
    assert err.value.code == "image_too_large"


def jpeg_with_exif(orientation=1, gps=True, size=(60, 40)):
    img = Image.new("RGB", size, (10, 120, 200))
    exif = Image.Exif()
    exif[imaging.ORIENTATION] = orientation
    exif[0x010F] = "CameraMaker"
    if gps:
        exif[imaging.GPS_IFD] = {1: "N", 2: (48.0, 51.0, 29.0), 3: "E", 4: (2.0, 17.0, 40.0)}
    buf = io.BytesIO()
    img.save(buf, format="JPEG", exif=exif.tobytes(), quality=90)
    return buf.getvalue()


def test_orientation_swaps_reported_size(tmp_path):
    info = imaging.inspect(
        write(tmp_path, jpeg_with_exif(orientation=6, gps=False)), max_pixels=MAX
    )
    assert (info.width, info.height) == (40, 60)


def test_gps_is_stripped_losslessly(tmp_path):
    original = jpeg_with_exif()
    path = write(tmp_path, original)
    info = imaging.inspect(path, max_pixels=MAX)
    assert info.location_stripped
    with Image.open(path) as img:
        exif = img.getexif()
        assert imaging.GPS_IFD not in exif and exif[0x010F] == "CameraMaker"
        assert exif[imaging.ORIENTATION] == 1
    # The compressed image data is byte-for-byte the same.
    sos = original.index(b"\xff\xda")
    assert path.read_bytes().endswith(original[sos:])
    kept = write(tmp_path, original, "kept")
    assert not imaging.inspect(kept, max_pixels=MAX, strip_location=False).location_stripped
    with Image.open(kept) as img:
        assert imaging.GPS_IFD in img.getexif()


def test_dhash_near_and_far():
    a = Image.open(io.BytesIO(sample_image_bytes("PNG", (200, 150))))
    b = a.resize((180, 135))
    c = Image.effect_mandelbrot((200, 150), (-2, -1.5, 1, 1.5), 50).convert("RGB")
    assert imaging.hamming(imaging.dhash(a), imaging.dhash(b)) <= 4
    assert imaging.hamming(imaging.dhash(a), imaging.dhash(c)) > 10


def test_variants(tmp_path):
    src = write(tmp_path, sample_image_bytes("JPEG", (1200, 800)))
    out = imaging.make_variant(src, width=256, height=None, fit="contain", fmt="webp", quality=80)
    with Image.open(io.BytesIO(out)) as img:
        assert img.format == "WEBP" and img.size == (256, 171)
    out = imaging.make_variant(src, width=128, height=128, fit="cover", fmt="png", quality=80)
    with Image.open(io.BytesIO(out)) as img:
        assert img.format == "PNG" and img.size == (128, 128)
    rotated = write(tmp_path, jpeg_with_exif(orientation=6, gps=False), "rot")
    out = imaging.make_variant(
        rotated, width=None, height=30, fit="contain", fmt="jpeg", quality=80
    )
    with Image.open(io.BytesIO(out)) as img:
        assert img.size == (20, 30)


def test_clamp_size():
    sizes = [64, 256, 1024]
    assert imaging.clamp_size(1, sizes) == 64
    assert imaging.clamp_size(200, sizes) == 256
    assert imaging.clamp_size(99999, sizes) == 1024


def jpeg_with_app_segments(count, size=60_000):
    """A real JPEG with ``count`` APP15 segments of ``size`` bytes after SOI."""
    base = sample_image_bytes("JPEG", (32, 24))
    segment = b"\xff\xef" + (size + 2).to_bytes(2, "big") + b"\x00" * size
    return base[:2] + segment * count + base[2:]


def gif_with_comment(nbytes):
    """A real GIF with a comment extension of ``nbytes`` before the image."""
    base = sample_image_bytes("GIF", (16, 16))
    blocks = b"".join(bytes([255]) + b"c" * 255 for _ in range(nbytes // 255)) + b"\x00"
    head_end = 13 + (3 * (2 << (base[10] & 7)) if base[10] & 0x80 else 0)
    return base[:head_end] + b"\x21\xfe" + blocks + base[head_end:]


def test_jpeg_metadata_is_measured_before_decoding(tmp_path):
    # Under the limit: accepted, and the count is exact (segment lengths include 2 bytes).
    ok = write(tmp_path, jpeg_with_app_segments(2))
    assert imaging.inspect(ok, max_pixels=MAX, max_metadata=130_000).mime == "image/jpeg"
    with open(ok, "rb") as fh:
        assert imaging._jpeg_metadata_bytes(fh, 10**9) == 2 * 60_002 + 16  # + JFIF APP0
    # Over it: refused before Pillow holds the segments.
    big = write(tmp_path, jpeg_with_app_segments(3), "big")
    with pytest.raises(imaging.ImageRejected) as err:
        imaging.inspect(big, max_pixels=MAX, max_metadata=130_000)
    assert err.value.code == "too_much_metadata"


def test_gif_comments_are_measured_before_decoding(tmp_path):
    path = write(tmp_path, gif_with_comment(255 * 400))
    assert imaging.inspect(path, max_pixels=MAX, max_metadata=200_000).frames == 1
    with pytest.raises(imaging.ImageRejected) as err:
        imaging.inspect(path, max_pixels=MAX, max_metadata=100_000)
    assert err.value.code == "too_much_metadata"


def test_webp_over_the_buffered_limit_is_refused(tmp_path):
    base = sample_image_bytes("WEBP", (16, 16))
    pad = b"JUNK" + (2_000_000).to_bytes(4, "little") + b"\x00" * 2_000_000
    riff = base[8:] + pad
    path = write(tmp_path, b"RIFF" + len(riff).to_bytes(4, "little") + riff)
    with pytest.raises(imaging.ImageRejected) as err:
        imaging.inspect(path, max_pixels=MAX, max_buffered=1_000_000)
    assert err.value.code == "too_much_metadata"
    assert imaging.inspect(path, max_pixels=MAX, max_buffered=3_000_000).mime == "image/webp"


def test_gps_strip_streams_a_jpeg_with_large_scan(tmp_path):
    # A photo-sized JPEG: the rewrite must keep every byte after the EXIF segment.
    img = Image.effect_noise((1200, 900), 60).convert("RGB")
    exif = Image.Exif()
    exif[imaging.GPS_IFD] = {1: "N", 2: (48.0, 51.0, 29.0)}
    buf = io.BytesIO()
    img.save(buf, format="JPEG", exif=exif.tobytes(), quality=95)
    original = buf.getvalue()
    path = write(tmp_path, original)
    assert imaging.inspect(path, max_pixels=MAX).location_stripped
    sos = original.index(b"\xff\xdb")  # quantisation tables onwards are untouched
    assert path.read_bytes().endswith(original[sos:])
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left


@pytest.mark.parametrize("progressive", [False, True])
def test_jpeg_validation_at_draft_scale_still_finds_damage(tmp_path, progressive):
    """Uploads decode JPEGs at 1/8 scale (draft mode); entropy decoding still covers
    every block, so truncation and corrupt scan data are refused as by a full decode."""
    import os
    import random

    img = Image.frombytes("RGB", (800, 600), os.urandom(800 * 600 * 3))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=90, progressive=progressive)
    good = buf.getvalue()
    rng = random.Random(5)
    bad = bytearray(good)
    for i in range(len(good) // 2, len(good) // 2 + 2000):
        bad[i] = rng.randrange(256)
    path = tmp_path / "x.jpg"
    path.write_bytes(good)
    info = imaging.inspect(path, max_pixels=10**8)
    assert (info.width, info.height) == (800, 600)
    for damaged in (good[: len(good) * 6 // 10], good[:-200], bytes(bad)):
        path.write_bytes(damaged)
        with pytest.raises(imaging.ImageRejected) as caught:
            imaging.inspect(path, max_pixels=10**8)
        assert caught.value.code == "invalid_image"
