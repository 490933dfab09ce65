"""The image formats the appliance accepts: magic numbers, decoders, memory guards.

``sniff`` names the type from the first bytes; ``open_image`` opens a file with the one
Pillow plugin of that type (never a guess among all of them); the ``*_metadata_bytes``
functions measure, on disk and before Pillow opens the file, the metadata that Pillow
would hold in memory while opening it (every JPEG APPn/COM segment, GIF comments,
PNG ancillary and private chunks, TIFF tag data), so that the cap
``uploads.max_metadata_bytes`` holds for every format. HEIF/HEIC, WebP and AVIF
decoders read the whole file: those files are capped by ``uploads.max_buffered_bytes``.

HEIC/HEIF decoding comes from ``pi-heif`` (libheif with the libde265 decoder only: no
encoder inside the appliance or its binary).
"""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import BinaryIO

from PIL import Image

SNIFF_BYTES = 64  # enough for an ISOBMFF ftyp box with a dozen brands

# Pillow's format name for each accepted type (MPO is a JPEG with an MPF second image).
PILLOW_FORMATS = {
    "image/jpeg": ("JPEG", "MPO"),
    "image/png": ("PNG",),
    "image/gif": ("GIF",),
    "image/webp": ("WEBP",),
    "image/avif": ("AVIF",),
    "image/heic": ("HEIF",),
    "image/heif": ("HEIF",),
    "image/tiff": ("TIFF",),
    "image/bmp": ("BMP",),
}
ACCEPTED_DEFAULT = list(PILLOW_FORMATS)
# Types every current browser shows in <img>; others get a rendition by negotiation.
DISPLAYABLE = frozenset(
    {"image/jpeg", "image/png", "image/gif", "image/webp", "image/avif", "image/bmp"}
)
# Names clients use for the same types.
ALIASES = {
    "image/jpg": "image/jpeg",
    "image/pjpeg": "image/jpeg",
    "image/x-ms-bmp": "image/bmp",
    "image/x-bmp": "image/bmp",
    "image/tif": "image/tiff",
    "image/x-tiff": "image/tiff",
    "image/apng": "image/png",
}
EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/gif": "gif",
              "image/webp": "webp", "image/avif": "avif", "image/heic": "heic",
              "image/heif": "heif", "image/tiff": "tiff", "image/bmp": "bmp"}  # fmt: skip
# Buffered whole by their decoders (Pillow's WebP and AVIF plugins, libheif).
BUFFERED = frozenset({"image/webp", "image/avif", "image/heic", "image/heif"})

AVIF_BRANDS = frozenset({b"avif", b"avis"})
HEIC_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs"})
HEIF_BRANDS = frozenset({b"mif1", b"msf1", b"mif2", b"miaf"})
BMP_HEADER_SIZES = frozenset({12, 16, 40, 52, 56, 64, 108, 124})


def canonical_mime(mime: str) -> str:
    """The appliance's name of a declared type (``image/jpg`` is ``image/jpeg``)."""
    mime = mime.strip().lower()
    return ALIASES.get(mime, mime)


def same_type(sniffed: str, declared: str) -> bool:
    """Whether a declared type names the sniffed one (HEIC and HEIF are one family:
    phones and browsers label HEIC files either way)."""
    declared = canonical_mime(declared)
    heif = {"image/heic", "image/heif"}
    return sniffed == declared or (sniffed in heif and declared in heif)


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
    if head[4:8] == b"ftyp":
        return _isobmff(head)
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "image/tiff"
    if head[:2] == b"BM" and len(head) >= 18:
        (header_size,) = struct.unpack("<I", head[14:18])
        if header_size in BMP_HEADER_SIZES:
            return "image/bmp"
    return None


def _isobmff(head: bytes) -> str | None:
    """AVIF, HEIC or HEIF from the ftyp box: the major brand, then the compatible ones
    (``mif1`` with ``avif`` compatible is AVIF, as libavif writes it)."""
    (size,) = struct.unpack(">I", head[:4])
    major = head[8:12]
    end = min(max(size, 16), len(head))
    compatible = {head[i : i + 4] for i in range(16, end - 3, 4)}
    if major in AVIF_BRANDS:
        return "image/avif"
    if major in HEIC_BRANDS:
        return "image/heic"
    if compatible & AVIF_BRANDS:
        return "image/avif"
    if compatible & HEIC_BRANDS:
        return "image/heic"
    if major in HEIF_BRANDS or compatible & HEIF_BRANDS:
        return "image/heif"
    return None


_heif_registered = False


def register_heif() -> None:
    """Teach Pillow HEIF/HEIC through pi-heif (once per process). Thumbnails, depth and
    auxiliary images are not loaded: only the images themselves are served."""
    global _heif_registered
    if _heif_registered:
        return
    from pi_heif import register_heif_opener

    register_heif_opener(thumbnails=False, depth_images=False, aux_images=False)
    _heif_registered = True


def open_image(path: Path | str | BinaryIO, mime: str) -> Image.Image:
    """``Image.open`` with only the plugin(s) of ``mime``: a file sniffed as AVIF is never
    handed to the HEIF decoder, nor a TIFF to whichever plugin accepts it first."""
    formats = PILLOW_FORMATS[mime]
    if "HEIF" in formats:
        register_heif()
    if formats == ("JPEG", "MPO"):
        # Pillow's JPEG plugin turns itself into MPO when it finds an MPF segment.
        return Image.open(path, formats=["JPEG"])
    return Image.open(path, formats=list(formats))


# ---------------------------------------------------------------- memory guards


def metadata_bytes(fh: BinaryIO, mime: str, limit: int) -> int:
    """Bytes of metadata Pillow holds in memory while opening ``fh`` (counting stops
    past ``limit``); 0 for formats whose metadata is bounded otherwise."""
    counter = {
        "image/jpeg": jpeg_metadata_bytes,
        "image/gif": gif_metadata_bytes,
        "image/png": png_metadata_bytes,
        "image/tiff": tiff_metadata_bytes,
    }.get(mime)
    return counter(fh, limit) if counter else 0


def jpeg_metadata_bytes(fh: BinaryIO, limit: int) -> int:
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


def gif_metadata_bytes(fh: BinaryIO, limit: int) -> int:
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


# Chunks that are the image (read by the decoder in pieces) or small and fixed.
PNG_IMAGE_CHUNKS = frozenset({b"IHDR", b"PLTE", b"IDAT", b"fdAT", b"IEND", b"acTL", b"fcTL"})


def png_metadata_bytes(fh: BinaryIO, limit: int) -> int:
    """Bytes of every other chunk (ancillary and private: text, eXIf, iCCP, unknown).

    Pillow reads each chunk whole and keeps private ones in memory (a PNG of 400 MB of
    private chunks raised a worker to 646 MB); so their sum is capped like JPEG APPn.
    The walk seeks from chunk header to chunk header: flat memory, fast.
    """
    size = os.fstat(fh.fileno()).st_size
    position, total = 8, 0
    while position + 12 <= size and total <= limit:
        fh.seek(position)
        head = fh.read(8)
        if len(head) < 8:
            break
        length, ctype = int.from_bytes(head[:4], "big"), head[4:8]
        if ctype not in PNG_IMAGE_CHUNKS:
            total += length
        if ctype == b"IEND":
            break
        position += 12 + length
    return total


TIFF_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4,
                   12: 8, 13: 4, 16: 8, 17: 8, 18: 8}  # fmt: skip
# Tags whose values are the image's own data, read by the decoder in pieces.
TIFF_DATA_TAGS = frozenset({273, 279, 324, 325})  # strip/tile offsets and byte counts
MAX_TIFF_IFDS = 1024


def tiff_ifds(fh: BinaryIO) -> tuple[str, list[int]] | None:
    """Byte order and the offsets of the main IFD chain (pages), loops and damage cut."""
    fh.seek(0)
    head = fh.read(8)
    if len(head) < 8 or head[:2] not in (b"II", b"MM"):
        return None
    order = "<" if head[:2] == b"II" else ">"
    (magic,) = struct.unpack(order + "H", head[2:4])
    if magic != 42:
        return None  # BigTIFF: no guard walk; Pillow's own checks apply
    (offset,) = struct.unpack(order + "I", head[4:8])
    seen: list[int] = []
    while offset and offset not in seen and len(seen) < MAX_TIFF_IFDS:
        fh.seek(offset)
        raw = fh.read(2)
        if len(raw) < 2:
            break
        seen.append(offset)
        (count,) = struct.unpack(order + "H", raw)
        fh.seek(offset + 2 + 12 * count)
        nxt = fh.read(4)
        if len(nxt) < 4:
            break
        (offset,) = struct.unpack(order + "I", nxt)
    return order, seen


def tiff_metadata_bytes(fh: BinaryIO, limit: int) -> int:
    """Bytes of tag values in every page's IFD other than the strips and tiles that hold
    the pixels (XMP, IPTC, ICC, private tags...): Pillow reads each value whole."""
    found = tiff_ifds(fh)
    if found is None:
        return 0
    order, ifds = found
    total = 0
    for offset in ifds:
        fh.seek(offset)
        (count,) = struct.unpack(order + "H", fh.read(2))
        entries = fh.read(12 * count)
        for i in range(len(entries) // 12):
            tag, typ, n = struct.unpack(order + "HHI", entries[i * 12 : i * 12 + 8])
            if tag not in TIFF_DATA_TAGS:
                total += n * TIFF_TYPE_SIZES.get(typ, 1)
            if total > limit:
                return total
    return total
