"""The polyglot check behind ``imaging.inspect``: is an image also a page or an archive?

Three looks at the file, all streamed in bounded windows (memory stays flat whatever
the file's size):

- the first 4 KiB and the last 64 KiB, raw, for the tags content sniffers and HTML
  parsers act on (and ``%PDF-``, which PDF readers find in the first KiB; and a ZIP
  end of central directory, which archive tools look for in the last 64 KiB): image
  data is compressed noise, so only long, specific patterns are looked for there;
  formats whose pixels may be stored raw (BMP, TIFF) get that look over the whole file;
- every metadata region, wherever it is (JPEG APPn/COM segments, each Photoshop
  resource of APP13 on its own, PNG chunks other than image data, GIF
  comment/application/plain-text extensions, WebP chunks other than image data,
  AVIF/HEIF top-level boxes other than ``mdat``, TIFF tag values), for *active* markup:
  elements that run script or load content (script, iframe, object, embed, svg,
  html, body, img, form, style, base, frame, applet; namespaced too, ``x:script``),
  ``<meta http-equiv``, ``<!doctype html``, an ``on...=`` handler on any element,
  and ``javascript:``/``vbscript:`` URLs in an attribute. XML that is only data
  passes: XMP packets, Apple's print-settings plist (``<!DOCTYPE plist``) that
  Photoshop puts in APP13, and text such as "<3 my cat";
- the bytes after the image's end marker (JPEG EOI, PNG IEND, GIF trailer, the RIFF
  size of WebP, the last parseable AVIF box) for the same markup and for archive
  signatures (ZIP local header and end of central directory, RAR, 7z, ``%PDF``).
  Trailing bytes are common and harmless (camera trailers, MPO second images), so
  they are not refused as such, nor cut off: the stored file stays the uploaded one.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import BinaryIO

_NS = rb"(?:[a-z_][\w.-]{0,40}:)?"
_ACTIVE = rb"script|iframe|frame|frameset|object|embed|applet|svg|html|body|img|form|style|base"
MARKUP = re.compile(
    rb"<" + _NS + rb"(?:" + _ACTIVE + rb")[\s/>]"
    rb"|<!doctype\s+html"
    rb"|<" + _NS + rb"meta\s[^>]{0,1024}?http-equiv"
    rb"|<[a-z][\w:.-]{0,40}(?:[\s/][^>]{0,2048}?)?[\s/\"']on[a-z]{3,}\s*="
    rb"|=\s*[\"']?\s*(?:java|vb)script\s*:",
    re.IGNORECASE,
)
# Raw image data: only the long patterns (a few bytes like ``on..=`` turn up by chance).
IMAGE_DATA = re.compile(
    rb"<(?:script|html|!doctype\s+html|svg|iframe|object|embed|body)[\s>/]|%PDF-",
    re.IGNORECASE,
)
ARCHIVES = re.compile(rb"PK\x03\x04|PK\x05\x06|Rar!\x1a\x07|7z\xbc\xaf\x27\x1c|%PDF-")
HEAD_SCAN = 4096
TAIL_SCAN = 65_536 + 22
WINDOW = 1 << 16
OVERLAP = 4096  # longer than any match of the patterns above
IMAGE_CHUNKS = frozenset({b"IDAT", b"fdAT"})
# Formats whose pixels may be stored raw (any bytes at all): the whole file is scanned
# for the long patterns, not only its head and tail.
RAW_PIXELS = frozenset({"image/bmp", "image/tiff"})
WEBP_IMAGE_CHUNKS = frozenset({b"VP8 ", b"VP8L", b"ALPH", b"ANMF"})


def find(fh: BinaryIO, mime: str) -> str | None:
    """Why ``fh`` (a seekable binary file of type ``mime``) is a polyglot, or None."""
    size = os.fstat(fh.fileno()).st_size
    fh.seek(0)
    if IMAGE_DATA.search(fh.read(HEAD_SCAN)):
        return "markup at the start"
    if mime in RAW_PIXELS and _scan(fh, 0, size, IMAGE_DATA):
        return "markup in the image data"
    fh.seek(max(0, size - TAIL_SCAN))
    tail = fh.read(TAIL_SCAN)
    if IMAGE_DATA.search(tail) or b"PK\x05\x06" in tail:  # a ZIP directory, even if the
        return "markup or a ZIP directory at the end"  # image's end was not found
    end = None
    for start, length in _walk(fh, mime, size):
        if length < 0:  # the end marker
            end = start
            break
        here = fh.tell()
        if _scan(fh, start, length, MARKUP):
            return "markup in metadata"
        fh.seek(here)
    rest = size - end if end is not None else 0
    if rest > 0 and (_scan(fh, end, rest, MARKUP) or _scan(fh, end, rest, ARCHIVES)):
        return "markup or an archive after the image"
    return None


def _scan(fh: BinaryIO, start: int, length: int, pattern: re.Pattern) -> bool:
    """Whether ``pattern`` occurs in ``length`` bytes from ``start``, read in windows."""
    fh.seek(start)
    carry = b""
    while length > 0:
        chunk = fh.read(min(WINDOW, length))
        if not chunk:
            break
        length -= len(chunk)
        data = carry + chunk
        if pattern.search(data):
            return True
        carry = data[-OVERLAP:]
    return False


def _walk(fh: BinaryIO, mime: str, size: int) -> Iterator[tuple[int, int]]:
    """``(start, length)`` of each metadata region, then ``(end, -1)`` once the end
    marker is found. Damage stops the walk quietly: the decoder reports it."""
    walkers = {
        "image/jpeg": _jpeg,
        "image/png": _png,
        "image/gif": _gif,
        "image/webp": _webp,
        "image/avif": _avif,
        "image/heic": _avif,
        "image/heif": _avif,
        "image/tiff": _tiff,
    }
    walker = walkers.get(mime)
    if walker is not None:
        yield from walker(fh, size)


def _jpeg(fh: BinaryIO, size: int) -> Iterator[tuple[int, int]]:
    fh.seek(2)
    while True:
        if fh.read(1) != b"\xff":
            return
        marker = fh.read(1)
        while marker == b"\xff":  # fill bytes
            marker = fh.read(1)
        if not marker:
            return
        code = marker[0]
        if code == 0xD9:  # end of image
            yield fh.tell(), -1
            return
        if code == 0x01 or 0xD0 <= code <= 0xD7:  # markers without a length
            continue
        raw = fh.read(2)
        if len(raw) < 2 or int.from_bytes(raw, "big") < 2:
            return
        length = int.from_bytes(raw, "big") - 2
        start = fh.tell()
        if code == 0xED and fh.read(14) == b"Photoshop 3.0\x00":
            yield from _irb(fh, start + 14, start + length)
        elif 0xE0 <= code <= 0xEF or code == 0xFE:
            yield start, length
        fh.seek(start + length)
        if code == 0xDA and not _skip_scan_data(fh):  # start of scan: entropy-coded data
            return


def _skip_scan_data(fh: BinaryIO) -> bool:
    """Move to the next marker after entropy-coded data (stuffed ``FF 00`` and restart
    markers belong to the data); False at the end of the file."""
    while True:
        base = fh.tell()
        buf = fh.read(WINDOW)
        if len(buf) < 2:
            return False
        i = buf.find(b"\xff")
        while i != -1 and i + 1 < len(buf):
            following = buf[i + 1]
            if following not in (0x00, 0xFF) and not 0xD0 <= following <= 0xD7:
                fh.seek(base + i)
                return True
            i = buf.find(b"\xff", i + 1)
        if i != -1:  # an FF as the window's last byte: read it again with what follows
            fh.seek(base + i)


def _png(fh: BinaryIO, size: int) -> Iterator[tuple[int, int]]:
    position = 8
    while position + 12 <= size:
        fh.seek(position)
        head = fh.read(8)
        length, ctype = int.from_bytes(head[:4], "big"), head[4:8]
        if ctype not in IMAGE_CHUNKS:
            yield position + 8, length
        position += 12 + length
        if ctype == b"IEND":
            yield position, -1
            return


def _gif(fh: BinaryIO, size: int) -> Iterator[tuple[int, int]]:
    fh.seek(0)
    header = fh.read(13)
    if len(header) < 13:
        return
    if header[10] & 0x80:  # global colour table
        fh.seek(3 * (2 << (header[10] & 7)), os.SEEK_CUR)
    while True:
        intro = fh.read(1)
        if intro == b"\x21":  # extension
            label = fh.read(1)
            start = fh.tell()
            if not _skip_sub_blocks(fh):
                return
            if label in (b"\xfe", b"\xff", b"\x01"):  # comment, application, plain text
                here = fh.tell()
                yield start, here - start
                fh.seek(here)
        elif intro == b"\x2c":  # image descriptor, then LZW data
            desc = fh.read(9)
            if len(desc) < 9:
                return
            if desc[8] & 0x80:  # local colour table
                fh.seek(3 * (2 << (desc[8] & 7)), os.SEEK_CUR)
            fh.read(1)  # LZW minimum code size
            if not _skip_sub_blocks(fh):
                return
        elif intro == b"\x3b":  # trailer
            yield fh.tell(), -1
            return
        else:
            return


def _skip_sub_blocks(fh: BinaryIO) -> bool:
    while True:
        size = fh.read(1)
        if not size:
            return False
        if size[0] == 0:
            return True
        fh.seek(size[0], os.SEEK_CUR)


def _webp(fh: BinaryIO, size: int) -> Iterator[tuple[int, int]]:
    fh.seek(4)
    end = min(size, 8 + int.from_bytes(fh.read(4), "little"))
    position = 12
    while position + 8 <= end:
        fh.seek(position)
        head = fh.read(8)
        fourcc, length = head[:4], int.from_bytes(head[4:], "little")
        if fourcc not in WEBP_IMAGE_CHUNKS:
            yield position + 8, min(length, end - position - 8)
        position += 8 + length + (length & 1)
    yield end, -1


def _avif(fh: BinaryIO, size: int) -> Iterator[tuple[int, int]]:
    position = 0
    while position + 8 <= size:
        fh.seek(position)
        head = fh.read(8)
        length, btype = int.from_bytes(head[:4], "big"), head[4:8]
        header = 8
        if length == 1:
            length, header = int.from_bytes(fh.read(8), "big"), 16
        elif length == 0:
            length = size - position
        if length < header or position + length > size:
            break  # not a box: what follows counts as trailing bytes
        if btype != b"mdat":
            yield position + header, length - header
        position += length
    yield position, -1


def _irb(fh: BinaryIO, start: int, end: int) -> Iterator[tuple[int, int]]:
    """Photoshop image resources (APP13): each resource's data is its own region, so
    that markup-like bytes cannot be made of one resource's binary header and the next
    one's text (an XML plist of print settings, an XMP packet) and every resource is
    still scanned. What does not parse is scanned as one region."""
    position = start
    while position + 12 <= end:
        fh.seek(position)
        head = fh.read(7)
        if head[:4] != b"8BIM":
            break
        name = 1 + head[6] + ((1 + head[6]) & 1)
        fh.seek(position + 6 + name)
        raw = fh.read(4)
        if len(raw) < 4:
            break
        length = int.from_bytes(raw, "big")
        data = position + 6 + name + 4
        if data + length > end:
            break
        yield data, length
        position = data + length + (length & 1)
    if position < end:
        yield position, end - position


def _tiff(fh: BinaryIO, size: int) -> Iterator[tuple[int, int]]:
    """Every tag value of every page that is not pixel data (strips and tiles are
    covered by the whole-file scan for long patterns)."""
    from .formats import TIFF_DATA_TAGS, TIFF_TYPE_SIZES, tiff_ifds

    found = tiff_ifds(fh)
    if found is None:
        return
    order = found[0]
    for offset in found[1]:
        fh.seek(offset)
        count = int.from_bytes(fh.read(2), "little" if order == "<" else "big")
        entries = fh.read(12 * count)
        for i in range(len(entries) // 12):
            entry = entries[i * 12 : i * 12 + 12]
            byteorder = "little" if order == "<" else "big"
            tag = int.from_bytes(entry[:2], byteorder)
            n = int.from_bytes(entry[4:8], byteorder) * TIFF_TYPE_SIZES.get(
                int.from_bytes(entry[2:4], byteorder), 1
            )
            if tag in TIFF_DATA_TAGS or n <= 4:
                continue
            value = int.from_bytes(entry[8:12], byteorder)
            if value + n <= size:
                yield value, n
