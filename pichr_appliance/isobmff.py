"""ISOBMFF (HEIF, AVIF) structure: boxes, and where the ``meta`` box says items are."""

from __future__ import annotations

import struct


def boxes(data: bytes, start: int, end: int):
    """``(type, payload start, box end)`` of the ISOBMFF boxes in ``data[start:end]``."""
    pos = start
    while pos + 8 <= end:
        size, btype = struct.unpack(">I4s", data[pos : pos + 8])
        header = 8
        if size == 1:
            if pos + 16 > end:
                return
            size, header = struct.unpack(">Q", data[pos + 8 : pos + 16])[0], 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            return
        yield btype, pos + header, pos + size
        pos += size


def item_kinds(data: bytes, start: int, end: int) -> dict[int, str]:
    """item id -> ``Exif`` or ``xmp`` for the metadata items an ``iinf`` box lists."""
    version = data[start]
    pos = start + 4 + (2 if version == 0 else 4)
    kinds: dict[int, str] = {}
    for btype, s, e in boxes(data, pos, end):
        if btype != b"infe" or data[s] < 2:
            continue
        pos = s + 4
        if data[s] == 2:
            item_id, pos = struct.unpack(">H", data[pos : pos + 2])[0], pos + 2
        else:
            item_id, pos = struct.unpack(">I", data[pos : pos + 4])[0], pos + 4
        item_type = data[pos + 2 : pos + 6]
        rest = data[pos + 6 : e].split(b"\x00")
        if item_type == b"Exif":
            kinds[item_id] = "Exif"
        elif item_type == b"mime" and len(rest) > 1 and rest[1] == b"application/rdf+xml":
            kinds[item_id] = "xmp"
    return kinds


def item_locations(data: bytes, start: int, end: int, *, idat: int) -> dict[int, list]:
    """item id -> [(file offset, length)] for construction methods 0 (file) and 1 (idat)."""
    version = data[start]
    pos = start + 4
    sizes = data[pos], data[pos + 1]
    offset_size, length_size = sizes[0] >> 4, sizes[0] & 15
    base_size, index_size = sizes[1] >> 4, (sizes[1] & 15 if version in (1, 2) else 0)
    pos += 2

    def num(n: int) -> int:
        nonlocal pos
        value = int.from_bytes(data[pos : pos + n], "big") if n else 0
        pos += n
        return value

    count = num(2 if version < 2 else 4)
    found: dict[int, list] = {}
    for _ in range(count):
        if pos >= end:
            break
        item_id = num(2 if version < 2 else 4)
        method = num(2) & 15 if version in (1, 2) else 0
        num(2)  # data reference index
        base = num(base_size)
        extents = []
        for _ in range(num(2)):
            num(index_size)
            offset, length = num(offset_size), num(length_size)
            extents.append((base + offset + (idat if method == 1 else 0), length))
        if method in (0, 1) and all(o + n <= len(data) for o, n in extents):
            found[item_id] = extents
    return found


def item_strings_valid(data: bytes) -> bool:
    """Whether every ``infe`` string (item type, name, content type and encoding, URI
    type) is UTF-8. pi-heif 1.4 dereferences a NULL (the worker dies) when a metadata
    item's type or content type is not: such files are refused before libheif sees
    them."""
    meta = next(((s, e) for t, s, e in boxes(data, 0, len(data)) if t == b"meta"), None)
    if meta is None:
        return True
    for btype, s, e in boxes(data, meta[0] + 4, meta[1]):
        if btype != b"iinf" or s + 4 > e:
            continue
        start = s + 4 + (2 if data[s] == 0 else 4)
        for kind, s2, e2 in boxes(data, start, e):
            if kind != b"infe" or s2 >= e2:
                continue
            version = data[s2]
            # version/flags, item ID (4 bytes from version 3), protection index; then
            # the item type (version 2 on) and the strings
            skip = {0: 8, 1: 8, 2: 8}.get(version, 10)
            strings = data[s2 + skip : e2]
            try:
                strings.decode("utf-8")
            except UnicodeDecodeError:
                return False
    return True
