"""Image handling: type sniffing, safe decoding, metadata, location stripping, dHash, variants.

Everything here is CPU-bound and synchronous: callers run it in an executor.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import struct
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from . import polyglot

# EXIF tags that say where a photo was taken.
GPS_IFD = 0x8825
ORIENTATION = 0x0112
SWAPPED_ORIENTATIONS = {5, 6, 7, 8}

PILLOW_FORMATS = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "GIF": "image/gif",
    "WEBP": "image/webp",
    "AVIF": "image/avif",
}


def decoder_error(exc: BaseException, path: Path | str) -> str:
    """The decoder's complaint without server paths (Pillow names the temporary file:
    ``cannot identify image file '/srv/.../tmp/upl_...'``): answers never show them."""
    if isinstance(exc, UnidentifiedImageError):
        return "not an image the decoder can read"
    message = str(exc).replace(str(path), "the image")
    return _ABSOLUTE_PATH.sub("the image", message)


# A quoted or bare absolute path, as OSError and Pillow messages print them.
_ABSOLUTE_PATH = re.compile(r"""'/[^']*'|"/[^"]*"|(?<![\w.])/[^\s'",:;]+""")


class ImageRejected(Exception):
    """The bytes are not an acceptable image; ``code`` is the API error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def sniff(head: bytes) -> str | None:
    """The image type from the first bytes (magic numbers), or None."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp" and head[8:12] in (b"avif", b"avis"):
        return "image/avif"
    return None


@dataclass
class ImageInfo:
    mime: str
    width: int
    height: int
    frames: int
    phash: str
    location_stripped: bool = False


DEFAULT_MAX_METADATA = 16 * 1024 * 1024
DEFAULT_MAX_BUFFERED = 64 * 1024 * 1024


def inspect(
    path: Path,
    *,
    max_pixels: int,
    strip_location: bool = True,
    max_metadata: int = DEFAULT_MAX_METADATA,
    max_buffered: int = DEFAULT_MAX_BUFFERED,
) -> ImageInfo:
    """Verify that ``path`` holds a complete, supported image and describe it.

    The pixel ceiling is checked from the header, before any decoding, so that a
    decompression bomb never allocates its pixels. Pillow also keeps some metadata in
    memory while opening (every JPEG APPn/COM segment, every GIF comment) and reads
    WebP and AVIF files whole; so those are measured on disk first: more than
    ``max_metadata`` bytes of such metadata, or a WebP/AVIF file over
    ``max_buffered`` bytes, is refused before Pillow opens it. A full decode
    follows, because ``verify()`` misses truncated JPEG scans. With
    ``strip_location``, GPS EXIF is removed from the file in place (losslessly for
    JPEG).
    """
    with open(path, "rb", buffering=1 << 16) as fh:
        mime = sniff(fh.read(32))
        if mime is None:
            raise ImageRejected("unsupported_type", "The bytes are not a supported image")
        _check_memory_needs(fh, mime, max_metadata=max_metadata, max_buffered=max_buffered)
        _check_polyglot(fh, mime)
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(path) as img:
                if PILLOW_FORMATS.get(img.format or "") != mime:
                    raise ImageRejected("unsupported_type", "The image type is not supported")
                width, height = img.size
                if width <= 0 or height <= 0 or width * height > max_pixels:
                    raise ImageRejected(
                        "image_too_large",
                        f"The image has {width}x{height} pixels; at most {max_pixels} allowed",
                    )
                frames = getattr(img, "n_frames", 1)
                if frames * width * height > max_pixels * 4:
                    raise ImageRejected("image_too_large", "The animation has too many pixels")
                for index in range(frames):
                    img.seek(index)
                    img.load()
                exif = img.getexif()
                orientation = exif.get(ORIENTATION, 1)
                has_gps = GPS_IFD in exif
                img.seek(0)
                phash = dhash(img)
        except ImageRejected:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise ImageRejected("image_too_large", "The image has too many pixels") from None
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
            raise ImageRejected(
                "invalid_image", f"The image is damaged or truncated: {decoder_error(exc, path)}"
            ) from None
    if orientation in SWAPPED_ORIENTATIONS:
        width, height = height, width
    stripped = False
    if strip_location and has_gps:
        stripped = strip_gps(path, mime)
    return ImageInfo(mime, width, height, frames, phash, stripped)


def _check_polyglot(fh, mime: str) -> None:
    """Refuse an image that is also an HTML page, an SVG, a PDF or an archive
    (``pichr_appliance.polyglot`` says where it looks, and why there)."""
    if polyglot.find(fh, mime) is not None:
        raise ImageRejected(
            "polyglot", "The file is also readable as markup or an archive; not accepted"
        )


def _check_memory_needs(fh, mime: str, *, max_metadata: int, max_buffered: int) -> None:
    """Refuse files whose opening would make Pillow hold an unbounded number of bytes."""
    if mime in ("image/webp", "image/avif"):
        if os.fstat(fh.fileno()).st_size > max_buffered:
            raise ImageRejected(
                "too_much_metadata",
                f"{mime} files are decoded in memory; at most {max_buffered} bytes allowed",
            )
        return
    if mime == "image/jpeg":
        held = _jpeg_metadata_bytes(fh, max_metadata)
    elif mime == "image/gif":
        held = _gif_metadata_bytes(fh, max_metadata)
    else:
        return  # PNG: Pillow caps text chunks itself and skips unknown ones
    if held > max_metadata:
        raise ImageRejected(
            "too_much_metadata", f"The image carries more than {max_metadata} bytes of metadata"
        )


def _jpeg_metadata_bytes(fh, limit: int) -> int:
    """Bytes of APPn and COM segments before the first scan (stops counting past limit).

    Anything that is not a well-formed marker ends the count: the decoder then
    reports the damage.
    """
    fh.seek(2)
    total = 0
    while total <= limit:
        if fh.read(1) != b"\xff":
            return total
        marker = fh.read(1)
        while marker == b"\xff":  # fill bytes between segments
            marker = fh.read(1)
        if not marker or marker[0] in (0xDA, 0xD9):  # start of scan, end of image
            return total
        if marker[0] == 0x01 or 0xD0 <= marker[0] <= 0xD7:  # markers without a length
            continue
        raw = fh.read(2)
        if len(raw) < 2:
            return total
        (length,) = struct.unpack(">H", raw)
        if length < 2:
            return total
        if 0xE0 <= marker[0] <= 0xEF or marker[0] == 0xFE:
            total += length
        fh.seek(length - 2, os.SEEK_CUR)
    return total


def _gif_metadata_bytes(fh, limit: int) -> int:
    """Bytes of comment, application and plain-text extensions (stops counting past limit).

    Image data is skipped by its sub-block lengths through a buffered reader, so that
    a long animation is walked quickly.
    """
    fh.seek(0)
    header = fh.read(13)
    if len(header) < 13:
        return 0
    if header[10] & 0x80:  # global colour table
        fh.seek(3 * (2 << (header[10] & 7)), os.SEEK_CUR)

    def sub_blocks() -> int | None:
        n = 0
        while True:
            size = fh.read(1)
            if not size:
                return None
            if size[0] == 0:
                return n
            n += size[0]
            fh.seek(size[0], os.SEEK_CUR)

    total = 0
    while total <= limit:
        intro = fh.read(1)
        if intro == b"\x21":  # extension
            label = fh.read(1)
            n = sub_blocks()
            if n is None:
                return total
            if label in (b"\xfe", b"\xff", b"\x01"):  # comment, application, plain text
                total += n
        elif intro == b"\x2c":  # image descriptor, then LZW data
            desc = fh.read(9)
            if len(desc) < 9:
                return total
            if desc[8] & 0x80:  # local colour table
                fh.seek(3 * (2 << (desc[8] & 7)), os.SEEK_CUR)
            fh.read(1)  # LZW minimum code size
            if sub_blocks() is None:
                return total
        else:  # trailer, or damage for the decoder to report
            return total
    return total


def dhash(img: Image.Image, size: int = 8) -> str:
    """A 64-bit difference hash as 16 hex digits (bit-compatible with imagehash.dhash)."""
    small = img.convert("L").resize((size + 1, size), Image.Resampling.LANCZOS)
    pixels = list(small.getdata())
    bits = 0
    for row in range(size):
        for col in range(size):
            left = pixels[row * (size + 1) + col]
            right = pixels[row * (size + 1) + col + 1]
            bits = (bits << 1) | (1 if right > left else 0)
    return f"{bits:016x}"


def hamming(a: str, b: str) -> int:
    """Bits that differ between two hex hashes."""
    return bin(int(a, 16) ^ int(b, 16)).count("1")


def strip_gps(path: Path, mime: str) -> bool:
    """Remove the GPS IFD from the image's EXIF, in place. Returns True if changed.

    JPEG: only the EXIF segment is rewritten, the compressed image data is untouched.
    Other formats are re-saved losslessly (PNG) or at their best quality.
    """
    with Image.open(path) as img:
        exif = img.getexif()
        if GPS_IFD not in exif:
            return False
        del exif[GPS_IFD]
        new_exif = exif.tobytes()
        if mime == "image/jpeg":
            _replace_jpeg_exif(path, new_exif)
            return True
        frames = getattr(img, "n_frames", 1)
        buf = io.BytesIO()
        fmt = img.format
        options: dict = {"exif": new_exif}
        if fmt == "WEBP":
            options.update(lossless=False, quality=100)
        if frames > 1:
            options.update(save_all=True)
        img.save(buf, format=fmt, **options)
    path.write_bytes(buf.getvalue())
    return True


def _replace_jpeg_exif(path: Path, exif: bytes) -> None:
    """Swap the APP1 Exif segment of a JPEG file for ``exif`` (``Exif\\0\\0`` + TIFF).

    Only the segments before the first scan are rewritten; the rest of the file is
    copied unchanged, in pieces, into a sibling file that then replaces the original.
    """
    if not exif.startswith(b"Exif\x00\x00"):
        exif = b"Exif\x00\x00" + exif
    tmp = path.with_name(path.name + ".exif")
    try:
        with open(path, "rb") as src, open(tmp, "wb") as dst:
            dst.write(src.read(2))
            while True:
                head = src.read(4)
                if len(head) < 4 or head[0] != 0xFF or head[1] in (0xDA, 0xD9):
                    dst.write(head)  # the scan starts: the rest is image data
                    break
                (length,) = struct.unpack(">H", head[2:4])
                body = src.read(max(0, length - 2))
                if head[1] == 0xE1 and body[:6] == b"Exif\x00\x00":
                    dst.write(b"\xff\xe1" + struct.pack(">H", len(exif) + 2) + exif)
                else:
                    dst.write(head + body)
            shutil.copyfileobj(src, dst, 1 << 20)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


VARIANT_FORMATS = {
    "webp": ("WEBP", "image/webp"),
    "jpeg": ("JPEG", "image/jpeg"),
    "png": ("PNG", "image/png"),
}


def clamp_size(requested: int, allowed: list[int]) -> int:
    """The smallest allowed size at least as big as ``requested`` (else the largest)."""
    for size in sorted(allowed):
        if size >= requested:
            return size
    return max(allowed)


def make_variant(
    source: Path, *, width: int | None, height: int | None, fit: str, fmt: str, quality: int
) -> bytes:
    """A resized copy of ``source`` (first frame), oriented by its EXIF, as ``fmt``.

    JPEG sources use draft mode, which decodes at a reduced scale: a 12 MP photo
    becomes a thumbnail in a fraction of a full decode (2-3x faster on 12 MP JPEGs).
    """
    pil_format, _ = VARIANT_FORMATS[fmt]
    with Image.open(source) as img:
        target = (width or 100_000, height or 100_000)
        if img.format == "JPEG":
            # The smallest decode scale that still covers the box we will cut or fit.
            ratio = img.width / img.height
            box_w = width or round((height or img.height) * ratio)
            box_h = height or round((width or img.width) / ratio)
            if fit == "cover" and width and height:
                scale = max(width / img.width, height / img.height)
                box_w, box_h = round(img.width * scale), round(img.height * scale)
            img.draft("RGB", (box_w, box_h))
        img = ImageOps.exif_transpose(img)
        if fit == "cover" and width and height:
            img = ImageOps.fit(img, (width, height), Image.Resampling.LANCZOS)
        else:
            img.thumbnail(target, Image.Resampling.LANCZOS, reducing_gap=3.0)
        if pil_format == "JPEG" and img.mode not in ("RGB", "L"):
            img = img.convert("RGB")
        elif img.mode not in ("RGB", "RGBA", "L", "LA"):
            img = img.convert("RGBA")
        buf = io.BytesIO()
        options = {"quality": quality} if pil_format in ("JPEG", "WEBP") else {"optimize": True}
        img.save(buf, format=pil_format, **options)
        return buf.getvalue()
