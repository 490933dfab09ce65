"""Image handling: safe decoding, the upload inspection, dHash, blurhash, variants.

Formats, magic numbers and the memory guards are ``formats.py``'s; location removal is
``metadata.py``'s; the polyglot check ``polyglot.py``'s. Everything here is CPU-bound
and synchronous: callers run it in an executor.
"""

from __future__ import annotations

import io
import os
import re
import struct
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageCms, ImageOps, ImageSequence, UnidentifiedImageError

from . import formats, isobmff, metadata, polyglot
from .formats import DISPLAYABLE, sniff  # noqa: F401  (imaging.sniff: the old name)

# EXIF tags that say where a photo was taken, and how it is turned.
GPS_IFD = 0x8825
ORIENTATION = 0x0112
SWAPPED_ORIENTATIONS = {5, 6, 7, 8}
TRANSPOSE = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
             4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
             6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
             8: Image.Transpose.ROTATE_90}  # fmt: skip
# Formats whose frames are an animation (TIFF pages, HEIF images, MPO parts are not).
ANIMATED = frozenset({"GIF", "WEBP", "PNG"})
PILLOW_FORMATS = {name: mime for mime, names in formats.PILLOW_FORMATS.items() for name in names}
SNIFF_BYTES = formats.SNIFF_BYTES
_jpeg_metadata_bytes = formats.jpeg_metadata_bytes  # measured by tests under this name


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

    def __reduce__(self):  # raised in a child process (isolation.py), re-raised here
        return (ImageRejected, (self.code, self.message))


@dataclass
class ImageInfo:
    mime: str
    width: int
    height: int
    frames: int
    phash: str
    location_stripped: bool = False
    blurhash: str | None = None


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
    decompression bomb never allocates its pixels: for an animation, its frames
    together may have four times ``max_pixels``; TIFF pages and HEIF images, which are
    separate pictures, count together against ``max_pixels`` itself. Metadata that
    Pillow would hold in memory while opening is measured on disk first (JPEG APPn/COM,
    GIF comments, PNG ancillary and private chunks, TIFF tag values: more than
    ``max_metadata`` bytes is refused), and files that a decoder reads whole (WebP,
    AVIF, HEIF) may have at most ``max_buffered`` bytes. A full decode follows, because
    ``verify()`` misses truncated JPEG scans. With ``strip_location``, location
    metadata (EXIF GPS, XMP, IPTC) is removed in place without re-encoding pixels
    (``metadata.py``).
    """
    with open(path, "rb", buffering=1 << 16) as fh:
        mime = formats.sniff(fh.read(SNIFF_BYTES))
        if mime is None:
            raise ImageRejected("unsupported_type", "The bytes are not a supported image")
        _check_memory_needs(fh, mime, max_metadata=max_metadata, max_buffered=max_buffered)
        _check_polyglot(fh, mime)
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with formats.open_image(path, mime) as img:
                info = _decode(img, mime, max_pixels)
        except ImageRejected:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise ImageRejected("image_too_large", "The image has too many pixels") from None
        except (
            UnidentifiedImageError,
            OSError,
            SyntaxError,
            ValueError,
            EOFError,
            RuntimeError,
        ) as exc:
            raise ImageRejected(
                "invalid_image", f"The image is damaged or truncated: {decoder_error(exc, path)}"
            ) from None
    if strip_location:
        try:
            info.location_stripped = metadata.strip_location(path, mime, limit=max_metadata)
        except (struct.error, IndexError, ValueError, zlib.error, EOFError):
            # Refused rather than stored with a location that could not be removed.
            raise ImageRejected(
                "invalid_image", "The image's metadata is damaged: its location cannot be removed"
            ) from None
    return info


def _decode(img: Image.Image, mime: str, max_pixels: int) -> ImageInfo:
    """Check the ceilings from the headers, decode, and describe the first frame."""
    if img.format not in formats.PILLOW_FORMATS[mime]:
        raise ImageRejected("unsupported_type", "The image type is not supported")
    width, height = img.size
    if width <= 0 or height <= 0 or width * height > max_pixels:
        raise ImageRejected(
            "image_too_large",
            f"The image has {width}x{height} pixels; at most {max_pixels} allowed",
        )
    frames = getattr(img, "n_frames", 1)
    animated = img.format in ANIMATED and frames > 1
    if animated:
        if frames * width * height > max_pixels * 4:
            raise ImageRejected("image_too_large", "The animation has too many pixels")
        for index in range(frames):
            img.seek(index)
            img.load()
        img.seek(0)
    else:
        _check_pages(img, frames, max_pixels)
        if img.format == "JPEG" and min(width, height) >= 64:
            # Draft mode: libjpeg scales by 1/8 in the inverse DCT but still entropy-
            # decodes every block of every scan, so truncated or corrupt data is found
            # as by a full decode, for a fraction of the CPU (the upload benchmark's
            # largest cost); dhash and the placeholder need no more than 1/8 scale.
            img.draft(img.mode, (width // 8, height // 8))
        img.load()
    orientation = img.getexif().get(ORIENTATION, 1)
    if orientation in SWAPPED_ORIENTATIONS:
        width, height = height, width
    return ImageInfo(mime, width, height, frames, dhash(img), blurhash=placeholder(img))


def _check_pages(img: Image.Image, frames: int, max_pixels: int) -> None:
    """TIFF pages (and HEIF images): only the first is shown, all count together."""
    if frames <= 1:
        return
    if frames > formats.MAX_TIFF_IFDS:
        raise ImageRejected("image_too_large", f"More than {formats.MAX_TIFF_IFDS} pages")
    total = 0
    for index in range(frames):
        img.seek(index)
        total += img.size[0] * img.size[1]
        if total > max_pixels:
            raise ImageRejected(
                "image_too_large", f"The pages have more than {max_pixels} pixels together"
            )
    img.seek(0)


def _check_polyglot(fh, mime: str) -> None:
    """Refuse an image that is also an HTML page, an SVG, a PDF or an archive
    (``pichr_appliance.polyglot`` says where it looks, and why there)."""
    if polyglot.find(fh, mime) is not None:
        raise ImageRejected(
            "polyglot", "The file is also readable as markup or an archive; not accepted"
        )


def _check_memory_needs(fh, mime: str, *, max_metadata: int, max_buffered: int) -> None:
    """Refuse files whose opening would make Pillow hold an unbounded number of bytes."""
    if mime in formats.BUFFERED:
        size = os.fstat(fh.fileno()).st_size
        if size > max_buffered:
            raise ImageRejected(
                "too_much_metadata",
                f"{mime} files are decoded in memory; at most {max_buffered} bytes allowed",
            )
        if mime in ("image/heic", "image/heif"):
            fh.seek(0)
            if not isobmff.item_strings_valid(fh.read(size)):
                raise ImageRejected("invalid_image", "The image's item table is damaged")
        return
    if formats.metadata_bytes(fh, mime, max_metadata) > max_metadata:
        raise ImageRejected(
            "too_much_metadata", f"The image carries more than {max_metadata} bytes of metadata"
        )


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


def placeholder(img: Image.Image) -> str | None:
    """A blurhash of the first frame, oriented (4x3 components, or 3x4 upright): the
    web interface paints it while the image loads. None when the mode will not convert."""
    import blurhash

    try:
        # Straight to 32 px (a copy of a 80 MP page first would cost as much again).
        scale = 32 / max(img.size)
        size = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
        small = img.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
        small = orient(small, img.getexif().get(ORIENTATION, 1))
        if small.mode in ("RGBA", "LA", "PA") or "transparency" in small.info:
            back = Image.new("RGB", small.size, (255, 255, 255))
            back.paste(small.convert("RGBA"), mask=small.convert("RGBA").getchannel("A"))
            small = back
        small = small.convert("RGB")
    except (OSError, ValueError):
        return None
    w, h = small.size
    cx, cy = (4, 3) if w >= h else (3, 4)
    return blurhash.encode(small, cx, cy)  # closes ``small``, a copy made here


def orient(img: Image.Image, orientation: int) -> Image.Image:
    """``img`` turned upright per an EXIF orientation value."""
    method = TRANSPOSE.get(orientation)
    return img.transpose(method) if method is not None else img


VARIANT_FORMATS = {
    "webp": ("WEBP", "image/webp"),
    "jpeg": ("JPEG", "image/jpeg"),
    "png": ("PNG", "image/png"),
    "avif": ("AVIF", "image/avif"),
}


# Height/width ratios a ``fit=cover`` variant may have (square, 16:9 landscape, 9:16
# portrait): any other ratio is snapped to the nearest, so that h cannot multiply the
# variants of a file (issue 15's variant storm).
COVER_RATIOS = (1.0, 9 / 16, 16 / 9)


def nearest_ratio(ratio: float) -> float:
    """The allowed cover ratio nearest to ``ratio`` (compared on a log scale)."""
    import math

    return min(COVER_RATIOS, key=lambda r: abs(math.log(r / ratio)))


def release_memory() -> None:
    """Return freed heap to the system (glibc ``malloc_trim``; nothing elsewhere)."""
    global _trim
    if _trim is None:
        try:
            import ctypes

            _trim = ctypes.CDLL("libc.so.6").malloc_trim
        except (OSError, AttributeError):
            _trim = False
    if _trim:
        _trim(0)


_trim = None  # libc's malloc_trim once looked up; False where there is none


def clamp_size(requested: int, allowed: list[int]) -> int:
    """The smallest allowed size at least as big as ``requested`` (else the largest)."""
    for size in sorted(allowed):
        if size >= requested:
            return size
    return max(allowed)


@dataclass(frozen=True)
class AnimationBudget:
    """Animated variants (animated WebP) within these; a static first frame beyond."""

    max_frames: int = 300
    max_pixels: int = 32_000_000  # all output frames together


def make_variant(
    source: Path,
    *,
    width: int | None,
    height: int | None,
    fit: str,
    fmt: str,
    quality: int,
    mime: str | None = None,
    animation: AnimationBudget | None = None,
) -> bytes:
    """A resized copy of ``source``, oriented by its EXIF, colour profile kept, as ``fmt``.

    The first frame, unless ``animation`` is given, ``fmt`` is ``webp`` and the source
    is an animated GIF, WebP or APNG whose frames fit the budget: then an animated
    WebP with the same timing and loop count. JPEG sources use draft mode, which
    decodes at a reduced scale: a 12 MP photo becomes a thumbnail in a fraction of a
    full decode (2-3x faster on 12 MP JPEGs).
    """
    pil_format, _ = VARIANT_FORMATS[fmt]
    if mime is None:
        with open(source, "rb") as fh:
            mime = formats.sniff(fh.read(SNIFF_BYTES)) or "image/jpeg"
    with formats.open_image(source, mime) as img:
        if img.format in ("JPEG", "MPO"):
            img.draft("RGB", _draft_box(img.size, width, height, fit))
        icc = img.info.get("icc_profile")
        frames = getattr(img, "n_frames", 1)
        if animation and pil_format == "WEBP" and img.format in ANIMATED and frames > 1:
            out = _animated(img, width, height, fit, quality, animation)
            if out is not None:
                return out
        img.seek(0)
        orientation = img.getexif().get(ORIENTATION, 1)
        img = _resize(orient(_to_8bit(img), orientation), width, height, fit)
        img, icc = _output_mode(img, pil_format, icc)
        buf = io.BytesIO()
        options: dict = {"optimize": True} if pil_format == "PNG" else {"quality": quality}
        if pil_format == "AVIF":
            options["speed"] = 8  # about WebP's encoding time; the default is ~5x slower
        # Set even when None: Pillow's encoders otherwise copy the source's profile, EXIF
        # and XMP (orientation applied twice, the location of a keep-location original).
        options.update(icc_profile=icc, exif=b"", xmp=b"")
        img.save(buf, format=pil_format, **options)
        return buf.getvalue()


def _draft_box(size, width, height, fit) -> tuple[int, int]:
    """The smallest JPEG decode scale that still covers the box we will cut or fit."""
    w, h = size
    ratio = w / h
    box_w = width or round((height or h) * ratio)
    box_h = height or round((width or w) / ratio)
    if fit == "cover" and width and height:
        scale = max(width / w, height / h)
        box_w, box_h = round(w * scale), round(h * scale)
    return box_w, box_h


def _to_8bit(img: Image.Image) -> Image.Image:
    """16-bit and float TIFF modes as 8-bit grey (Pillow's conversions clip them)."""
    if img.mode in ("I", "F") or img.mode.startswith("I;16"):
        return img.convert("I").point(lambda v: v * (1 / 256)).convert("L")
    return img


def _resize(img: Image.Image, width, height, fit) -> Image.Image:
    if fit == "cover" and width and height:
        return ImageOps.fit(img, (width, height), Image.Resampling.LANCZOS)
    img.thumbnail((width or 100_000, height or 100_000), Image.Resampling.LANCZOS, reducing_gap=3.0)
    return img


def _output_mode(img: Image.Image, pil_format: str, icc: bytes | None):
    """The mode the encoder takes, and the ICC profile that still describes the pixels.

    A profile is kept when its colour space matches the output (an RGB photo keeps
    Display P3 or Adobe RGB, so colours do not shift); CMYK pixels are converted
    through their profile to sRGB; a profile of another space is dropped."""
    space = icc[16:20] if icc and len(icc) >= 20 else None
    if img.mode == "CMYK" and space == b"CMYK":
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            img = ImageCms.profileToProfile(
                img, source, ImageCms.createProfile("sRGB"), outputMode="RGB"
            )
            return img, None
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass
    if pil_format == "JPEG" and img.mode not in ("RGB", "L"):
        img = img.convert("RGB")
    elif img.mode not in ("RGB", "RGBA", "L", "LA"):
        img = img.convert("RGBA")
    wanted = b"GRAY" if img.mode in ("L", "LA") else b"RGB "
    return img, (icc if space == wanted else None)


def _animated(img, width, height, fit, quality, budget: AnimationBudget) -> bytes | None:
    """An animated WebP of every frame, or None when the frames exceed ``budget``."""
    frames = img.n_frames
    probe = _resize(Image.new("L", img.size), width, height, fit)
    if frames > budget.max_frames or frames * probe.width * probe.height > budget.max_pixels:
        return None
    orientation = img.getexif().get(ORIENTATION, 1)
    out, durations = [], []
    for frame in ImageSequence.Iterator(img):
        durations.append(frame.info.get("duration", 100) or 100)
        out.append(_resize(orient(frame.convert("RGBA"), orientation), width, height, fit))
    buf = io.BytesIO()
    out[0].save(
        buf,
        format="WEBP",
        save_all=True,
        append_images=out[1:],
        duration=durations,
        loop=img.info.get("loop", 0),
        quality=quality,
    )
    return buf.getvalue()
