"""Location removal from stored originals, in place, without touching a pixel.

Where a photo was taken can sit in three kinds of metadata, in every format:

- EXIF: the GPS IFD. Its entry leaves IFD0 (the IFD is rewritten in its own bytes, one
  entry shorter, zero-padded) and the GPS IFD and every value it points to are zeroed;
- XMP: ``exif:GPS*`` (any property named GPS..., whatever its prefix), ``photoshop:City
  /State/Country``, the IPTC Core and Extension location properties
  (``Iptc4xmpCore:Location``, ``Iptc4xmpExt:LocationCreated``/``LocationShown``...):
  elements and attributes are overwritten with spaces (XML whitespace: the packet stays
  valid and keeps its length);
- IPTC IIM: datasets 2:26/27 (content location), 2:90 city, 2:92 sub-location, 2:95
  province/state, 2:100/101 country are removed, the rest moves up and the freed bytes
  become zero padding (which IPTC readers take as the end).

Every edit keeps the length of the payload it changes, so no offset anywhere moves:
JPEG (every image of an MPO too: EXIF APP1, XMP and extended XMP APP1, Photoshop
APP13 with IPTC, EXIF and XMP resources), WebP (``EXIF``/``XMP `` chunks), AVIF and
HEIF (``Exif`` and ``application/rdf+xml`` items found through ``iinf``/``iloc``),
TIFF (every page's IFD, tags 700 XMP, 33723 IPTC, 34377 Photoshop), GIF (the XMP
application extension) and PNG (``eXIf``; iTXt ``XML:com.adobe.xmp``; ImageMagick's
``Raw profile type ...`` text chunks, and compressed XMP, which are re-encoded, so that
file is rewritten chunk by chunk, pixels copied as they are). BMP has no metadata.
"""

from __future__ import annotations

import binascii
import os
import re
import struct
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from . import isobmff

GPS_IFD = 0x8825
XMP_TAG, IPTC_TAG, PHOTOSHOP_TAG = 700, 33723, 34377
TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}
IPTC_LOCATION = frozenset({26, 27, 90, 92, 95, 100, 101})
MAX_IFDS = 1024

_LOCATION_NAME = (
    rb"(?:[A-Za-z_][\w.-]*:(?i:gps)\w*"
    rb"|photoshop:(?:City|State|Country)"
    rb"|Iptc4xmpCore:(?:Location|CountryCode|City|CountryName|ProvinceState|Sublocation)"
    rb"|Iptc4xmpExt:(?:LocationCreated|LocationShown|City|CountryName|CountryCode"
    rb"|ProvinceState|Sublocation|WorldRegion|LocationId|LocationName|GPS\w*))"
)
XMP_ELEMENT = re.compile(rb"<(" + _LOCATION_NAME + rb")(?:\s[^>]*)?(?:/>|>.*?</\1\s*>)", re.DOTALL)
XMP_ATTRIBUTE = re.compile(rb"(?<=[\s\"'])" + _LOCATION_NAME + rb"\s*=\s*(?:\"[^\"]*\"|'[^']*')")


# ---------------------------------------------------------------- payloads


def scrub_xmp(buf: bytearray) -> bool:
    """Blank every location property of an XMP packet (same length). True if changed."""
    changed = False
    for pattern in (XMP_ELEMENT, XMP_ATTRIBUTE):
        for m in list(pattern.finditer(buf)):
            buf[m.start() : m.end()] = b" " * (m.end() - m.start())
            changed = True
    return changed


def scrub_iptc(buf: bytearray) -> bool:
    """Remove the location datasets of IPTC IIM data (same length, zero-padded)."""
    kept, pos, changed = bytearray(), 0, False
    while pos + 5 <= len(buf) and buf[pos] == 0x1C:
        record, dataset = buf[pos + 1], buf[pos + 2]
        (size,) = struct.unpack(">H", buf[pos + 3 : pos + 5])
        header = 5
        if size & 0x8000:  # extended length: the next (size & 0x7fff) bytes hold it
            n = size & 0x7FFF
            if n > 4 or pos + 5 + n > len(buf):
                return changed
            size, header = int.from_bytes(buf[pos + 5 : pos + 5 + n], "big"), 5 + n
        end = pos + header + size
        if end > len(buf):
            break
        if record == 2 and dataset in IPTC_LOCATION:
            changed = True
        else:
            kept += buf[pos:end]
        pos = end
    if changed:
        buf[:pos] = bytes(kept) + b"\x00" * (pos - len(kept))
    return changed


def scrub_irb(buf: bytearray) -> bool:
    """Photoshop image resources (APP13, TIFF tag 34377): IPTC, EXIF and XMP inside."""
    pos = 14 if buf.startswith(b"Photoshop 3.0\x00") else 0
    changed = False
    while pos + 12 <= len(buf) and buf[pos : pos + 4] == b"8BIM":
        (rid,) = struct.unpack(">H", buf[pos + 4 : pos + 6])
        name = buf[pos + 6]
        name_len = 1 + name + ((1 + name) & 1)
        at = pos + 6 + name_len
        if at + 4 > len(buf):
            break
        (size,) = struct.unpack(">I", buf[at : at + 4])
        start, end = at + 4, min(at + 4 + size, len(buf))
        scrub = {0x0404: scrub_iptc, 0x0422: scrub_exif, 0x0423: scrub_exif, 0x0424: scrub_xmp}
        if rid in scrub:
            part = bytearray(buf[start:end])
            if scrub[rid](part):
                buf[start:end] = part
                changed = True
        pos = start + size + (size & 1)
    return changed


class _View:
    """Random access to a TIFF structure in a bytearray (``base`` = its header)."""

    def __init__(self, buf: bytearray, base: int) -> None:
        self.buf, self.base = buf, base
        self.size = len(buf) - base

    def read(self, offset: int, n: int) -> bytes:
        if offset < 0 or n < 0 or offset + n > self.size:
            return b""
        return bytes(self.buf[self.base + offset : self.base + offset + n])

    def write(self, offset: int, data: bytes) -> None:
        if offset >= 0 and offset + len(data) <= self.size:
            self.buf[self.base + offset : self.base + offset + len(data)] = data


class _FileView:
    """The same over a file opened ``r+b`` (a TIFF file: only IFDs are read)."""

    def __init__(self, fh: BinaryIO) -> None:
        self.fh, self.size = fh, os.fstat(fh.fileno()).st_size

    def read(self, offset: int, n: int) -> bytes:
        if offset < 0 or n < 0 or offset + n > self.size:
            return b""
        self.fh.seek(offset)
        return self.fh.read(n)

    def write(self, offset: int, data: bytes) -> None:
        if offset >= 0 and offset + len(data) <= self.size:
            self.fh.seek(offset)
            self.fh.write(data)


def scrub_exif(buf: bytearray) -> bool:
    """EXIF as stored in JPEG APP1 / PNG eXIf / WebP EXIF (``Exif\\0\\0`` optional)."""
    base = 6 if buf.startswith(b"Exif\x00\x00") else 0
    return _scrub_tiff(_View(buf, base), limit=len(buf))


def scrub_heif_exif(buf: bytearray) -> bool:
    """An ISOBMFF ``Exif`` item: a 4-byte offset to the TIFF header comes first."""
    if len(buf) < 4:
        return False
    base = 4 + int.from_bytes(buf[:4], "big")
    if base >= len(buf):
        return False
    return _scrub_tiff(_View(buf, base), limit=len(buf))


def _scrub_tiff(view, *, limit: int, pages: bool = False) -> bool:
    """Drop the GPS IFD from IFD0 (every page's IFD when ``pages``) and scrub the XMP,
    IPTC and Photoshop tags' values in place."""
    head = view.read(0, 8)
    if len(head) < 8 or head[:2] not in (b"II", b"MM"):
        return False
    order = "<" if head[:2] == b"II" else ">"
    if struct.unpack(order + "H", head[2:4])[0] != 42:
        return False
    (offset,) = struct.unpack(order + "I", head[4:8])
    changed, seen = False, set()
    while offset and offset not in seen and len(seen) < MAX_IFDS:
        seen.add(offset)
        raw = view.read(offset, 2)
        if not raw:
            break
        (count,) = struct.unpack(order + "H", raw)
        entries = view.read(offset + 2, 12 * count)
        nxt = view.read(offset + 2 + 12 * count, 4)
        if len(entries) < 12 * count or len(nxt) < 4:
            break
        kept = []
        for i in range(count):
            entry = entries[i * 12 : i * 12 + 12]
            tag, typ, n = struct.unpack(order + "HHI", entry[:8])
            if tag == GPS_IFD:
                _zero_ifd(view, order, struct.unpack(order + "I", entry[8:])[0], limit)
                changed = True
                continue
            kept.append(entry)
            scrub = {XMP_TAG: scrub_xmp, IPTC_TAG: scrub_iptc, PHOTOSHOP_TAG: scrub_irb}.get(tag)
            if scrub is not None:
                size = n * TYPE_SIZES.get(typ, 1)
                at = offset + 2 + 12 * i + 8
                if size > 4:
                    (at,) = struct.unpack(order + "I", entry[8:])
                data = bytearray(view.read(at, size)) if size <= limit else bytearray()
                if data and scrub(data):
                    view.write(at, bytes(data))
                    changed = True
        if len(kept) < count:
            block = struct.pack(order + "H", len(kept)) + b"".join(kept) + nxt
            view.write(offset, block + b"\x00" * (12 * (count - len(kept))))
        if not pages:
            break
        (offset,) = struct.unpack(order + "I", nxt)
    return changed


def _zero_ifd(view, order: str, offset: int, limit: int) -> None:
    """Zero an IFD and the values it points to."""
    raw = view.read(offset, 2)
    if not raw:
        return
    (count,) = struct.unpack(order + "H", raw)
    entries = view.read(offset + 2, 12 * count)
    for i in range(len(entries) // 12):
        _, typ, n = struct.unpack(order + "HHI", entries[i * 12 : i * 12 + 8])
        size = n * TYPE_SIZES.get(typ, 1)
        if 4 < size <= limit:
            (at,) = struct.unpack(order + "I", entries[i * 12 + 8 : i * 12 + 12])
            view.write(at, b"\x00" * min(size, max(0, view.size - at)))
    view.write(offset, b"\x00" * min(2 + 12 * count + 4, max(0, view.size - offset)))


# ---------------------------------------------------------------- containers


def strip_location(path: Path, mime: str, *, limit: int) -> bool:
    """Remove location metadata from the file at ``path`` (see the module docstring).
    ``limit`` caps any payload read into memory (``uploads.max_metadata_bytes``).
    True if the file changed."""
    if mime == "image/png":
        return _png(path, limit)
    strip = {
        "image/jpeg": _jpeg,
        "image/webp": _webp,
        "image/gif": _gif,
        "image/tiff": _tiff,
        "image/avif": _isobmff,
        "image/heic": _isobmff,
        "image/heif": _isobmff,
    }.get(mime)
    if strip is None:
        return False
    with open(path, "r+b") as fh:
        return strip(fh, limit)


def _patch(fh: BinaryIO, start: int, length: int, scrub: Callable[[bytearray], bool]) -> bool:
    """Read ``length`` bytes at ``start``, scrub them, write them back if changed."""
    fh.seek(start)
    buf = bytearray(fh.read(length))
    if len(buf) != length or not scrub(buf):
        return False
    fh.seek(start)
    fh.write(buf)
    return True


JPEG_PAYLOADS = (
    (0xE1, b"Exif\x00\x00", 0, scrub_exif),
    (0xE1, b"http://ns.adobe.com/xap/1.0/\x00", 29, scrub_xmp),
    (0xE1, b"http://ns.adobe.com/xmp/extension/\x00", 35 + 40, scrub_xmp),
    (0xED, b"Photoshop 3.0\x00", 0, scrub_irb),
)


def _jpeg(fh: BinaryIO, limit: int) -> bool:
    """Every image of the file: the first, and those an MPF index lists (MPO)."""
    changed, more = _jpeg_image(fh, 0)
    for start in more:
        changed = _jpeg_image(fh, start)[0] or changed
    return changed


def _jpeg_image(fh: BinaryIO, start: int) -> tuple[bool, list[int]]:
    fh.seek(start)
    if fh.read(2) != b"\xff\xd8":
        return False, []
    changed, others = False, []
    while True:
        head = fh.read(4)
        if len(head) < 4 or head[0] != 0xFF or head[1] in (0xDA, 0xD9):
            return changed, others
        (length,) = struct.unpack(">H", head[2:4])
        body_at = fh.tell()
        if length < 2:
            return changed, others
        marker = head[1]
        prefix = fh.read(min(length - 2, 40))
        for want, magic, skip, scrub in JPEG_PAYLOADS:
            if marker == want and prefix.startswith(magic):
                changed = _patch(fh, body_at + skip, length - 2 - skip, scrub) or changed
        if marker == 0xE2 and prefix.startswith(b"MPF\x00"):
            fh.seek(body_at)
            others = _mpf_offsets(fh.read(length - 2), body_at + 4)
        fh.seek(body_at + length - 2)


def _mpf_offsets(segment: bytes, header_at: int) -> list[int]:
    """File offsets of the MPO's other images (MP Entry, tag 0xB002)."""
    tiff = segment[4:]
    if len(tiff) < 8 or tiff[:2] not in (b"II", b"MM"):
        return []
    order = "<" if tiff[:2] == b"II" else ">"
    (ifd,) = struct.unpack(order + "I", tiff[4:8])
    if ifd + 2 > len(tiff):
        return []
    (count,) = struct.unpack(order + "H", tiff[ifd : ifd + 2])
    for i in range(count):
        entry = tiff[ifd + 2 + 12 * i : ifd + 14 + 12 * i]
        if len(entry) < 12:
            break
        tag, _, n, value = struct.unpack(order + "HHII", entry)
        if tag == 0xB002:
            table = tiff[value : value + n]
            offsets = []
            for j in range(1, len(table) // 16):
                (rel,) = struct.unpack(order + "I", table[16 * j + 8 : 16 * j + 12])
                if rel:
                    offsets.append(header_at + rel)
            return offsets
    return []


def _webp(fh: BinaryIO, limit: int) -> bool:
    fh.seek(4)
    end = 8 + int.from_bytes(fh.read(4), "little")
    position, changed = 12, False
    while position + 8 <= end:
        fh.seek(position)
        head = fh.read(8)
        if len(head) < 8:
            break
        fourcc, length = head[:4], int.from_bytes(head[4:], "little")
        scrub = {b"EXIF": scrub_exif, b"XMP ": scrub_xmp}.get(fourcc)
        if scrub is not None and length <= limit:
            changed = _patch(fh, position + 8, length, scrub) or changed
        position += 8 + length + (length & 1)
    return changed


def _gif(fh: BinaryIO, limit: int) -> bool:
    """The XMP application extension: its packet is written raw (each byte also reads as
    a sub-block length, ending in a 'magic trailer'); blanking with spaces keeps that."""
    fh.seek(0)
    header = fh.read(13)
    if len(header) < 13:
        return False
    if header[10] & 0x80:
        fh.seek(3 * (2 << (header[10] & 7)), os.SEEK_CUR)
    changed = False
    while True:
        intro = fh.read(1)
        if intro == b"\x21":
            label = fh.read(1)
            start = fh.tell()
            if not _skip_sub_blocks(fh):
                return changed
            end = fh.tell()
            fh.seek(start)
            if label == b"\xff" and fh.read(12) == b"\x0bXMP DataXMP" and end - start <= limit:
                changed = _patch(fh, start + 12, end - start - 12 - 258, scrub_xmp) or changed
            fh.seek(end)
        elif intro == b"\x2c":
            desc = fh.read(9)
            if len(desc) < 9:
                return changed
            if desc[8] & 0x80:
                fh.seek(3 * (2 << (desc[8] & 7)), os.SEEK_CUR)
            fh.read(1)
            if not _skip_sub_blocks(fh):
                return changed
        else:
            return changed


def _skip_sub_blocks(fh: BinaryIO) -> bool:
    while True:
        size = fh.read(1)
        if not size:
            return False
        if size[0] == 0:
            return True
        fh.seek(size[0], os.SEEK_CUR)


def _tiff(fh: BinaryIO, limit: int) -> bool:
    return _scrub_tiff(_FileView(fh), limit=limit, pages=True)


def _isobmff(fh: BinaryIO, limit: int) -> bool:
    """AVIF/HEIF: the ``Exif`` and XMP items of the ``meta`` box, patched where ``iloc``
    says their bytes are (in the file, or in ``idat``)."""
    size = os.fstat(fh.fileno()).st_size
    fh.seek(0)
    data = fh.read(size)  # AVIF/HEIF files are capped by uploads.max_buffered_bytes
    meta = next(((s, e) for t, s, e in isobmff.boxes(data, 0, len(data)) if t == b"meta"), None)
    if meta is None:
        return False
    children = {t: (s, e) for t, s, e in isobmff.boxes(data, meta[0] + 4, meta[1])}
    if b"iinf" not in children or b"iloc" not in children:
        return False
    kinds = {
        item: {"Exif": scrub_heif_exif, "xmp": scrub_xmp}[kind]
        for item, kind in isobmff.item_kinds(data, *children[b"iinf"]).items()
    }
    idat = children.get(b"idat", (0, 0))[0]
    changed = False
    for item_id, extents in isobmff.item_locations(data, *children[b"iloc"], idat=idat).items():
        scrub = kinds.get(item_id)
        if scrub is None or sum(n for _, n in extents) > limit:
            continue
        buf = bytearray(b"".join(data[o : o + n] for o, n in extents))
        if not scrub(buf):
            continue
        pos = 0
        for offset, n in extents:
            fh.seek(offset)
            fh.write(buf[pos : pos + n])
            pos += n
        changed = True
    return changed


# ---------------------------------------------------------------- PNG

RAW_PROFILES = {b"exif": scrub_exif, b"app1": scrub_exif, b"xmp": scrub_xmp,
                b"iptc": scrub_iptc, b"8bim": scrub_irb}  # fmt: skip


def _png(path: Path, limit: int) -> bool:
    """Edit metadata chunks; same-length edits in place (CRC rewritten), others by
    copying the file chunk by chunk with the new chunk in place of the old."""
    edits: list[tuple[int, int, bytes, bytes]] = []  # (position, old length, type, data)
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        position = 8
        while position + 12 <= size:
            fh.seek(position)
            length, ctype = struct.unpack(">I4s", fh.read(8))
            if ctype in (b"eXIf", b"iTXt", b"zTXt", b"tEXt") and length <= limit:
                new = _png_chunk(ctype, fh.read(length))
                if new is not None:
                    edits.append((position, length, ctype, new))
            if ctype == b"IEND":
                break
            position += 12 + length
    if not edits:
        return False
    if all(len(new) == old for _, old, _, new in edits):
        with open(path, "r+b") as fh:
            for position, _, ctype, new in edits:
                fh.seek(position + 8)
                fh.write(new + struct.pack(">I", zlib.crc32(ctype + new)))
        return True
    tmp = path.with_name(path.name + ".meta")
    try:
        with open(path, "rb") as src, open(tmp, "wb") as dst:
            done = 0
            for position, old, ctype, new in edits:
                _copy(src, dst, done, position - done)
                dst.write(struct.pack(">I", len(new)) + ctype + new)
                dst.write(struct.pack(">I", zlib.crc32(ctype + new)))
                done = position + 12 + old
            _copy(src, dst, done, size - done)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return True


def _copy(src: BinaryIO, dst: BinaryIO, start: int, length: int) -> None:
    src.seek(start)
    while length > 0:
        chunk = src.read(min(length, 1 << 20))
        if not chunk:
            break
        dst.write(chunk)
        length -= len(chunk)


def _png_chunk(ctype: bytes, data: bytes) -> bytes | None:
    """The scrubbed chunk data, or None when nothing changed."""
    if ctype == b"eXIf":
        buf = bytearray(data)
        return bytes(buf) if scrub_exif(buf) else None
    keyword, _, rest = data.partition(b"\x00")
    if ctype == b"iTXt" and keyword == b"XML:com.adobe.xmp" and len(rest) >= 2:
        compressed, method = rest[0], rest[1]
        lang, _, rest2 = rest[2:].partition(b"\x00")
        translated, _, text = rest2.partition(b"\x00")
        head = data[: len(data) - len(text)]
        if compressed:
            if method != 0:
                return None
            buf = bytearray(_inflate(text))
            return head + zlib.compress(bytes(buf)) if scrub_xmp(buf) else None
        buf = bytearray(text)
        return head + bytes(buf) if scrub_xmp(buf) else None
    if keyword.startswith(b"Raw profile type "):
        scrub = RAW_PROFILES.get(keyword[17:].lower())
        if scrub is None:
            return None
        text = rest
        if ctype == b"zTXt":
            text = _inflate(rest[1:])
        elif ctype == b"iTXt":
            return None
        payload = _raw_profile(text)
        if payload is None:
            return None
        buf = bytearray(payload)
        if not scrub(buf):
            return None
        encoded = _encode_raw_profile(keyword[17:], bytes(buf))
        if ctype == b"zTXt":
            return keyword + b"\x00\x00" + zlib.compress(encoded)
        return keyword + b"\x00" + encoded
    return None


def _inflate(data: bytes, limit: int = 64 << 20) -> bytes:
    return zlib.decompressobj().decompress(data, limit)


def _raw_profile(text: bytes) -> bytes | None:
    """ImageMagick's ``\\nexif\\n   1234\\n<hex>``."""
    parts = text.split(b"\n", 3)
    if len(parts) < 4:
        return None
    try:
        return binascii.unhexlify(b"".join(parts[3].split()))
    except (binascii.Error, ValueError):
        return None


def _encode_raw_profile(kind: bytes, payload: bytes) -> bytes:
    hexed = binascii.hexlify(payload)
    lines = b"\n".join(hexed[i : i + 72] for i in range(0, len(hexed), 72))
    return b"\n" + kind + b"\n" + str(len(payload)).rjust(8).encode() + b"\n" + lines + b"\n"
