"""Small in-process caches for the serving hot path: file metadata and small objects.

Metadata entries live for ``META_TTL`` seconds, so that several workers (which cannot
tell each other about changes without a shared channel) converge quickly; the worker
that changes a file drops its own entry at once. On SQLite the metadata lives in the
``filecache`` entries instead, which are checked against the database's change counter
and need no TTL (``META_TTL`` then only applies elsewhere). Object bytes are cached by storage
key, and keys never change content (a new upload gets a new key), so they need no TTL.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Any

META_TTL = 1.0
META_MAX = 10_000
OBJECT_MAX = 1024 * 1024
OBJECTS_TOTAL = 64 * 1024 * 1024


class HotCache:
    """LRU caches: ``file id -> (file, owner disabled)``, ``file id -> metadata API
    entry`` and ``storage key -> bytes``."""

    def __init__(self, object_max: int = OBJECT_MAX, objects_total: int = OBJECTS_TOTAL) -> None:
        self._meta: OrderedDict[str, tuple[float, Any]] = OrderedDict()
        # ``GET /api/v1/files/{id}`` entries (services/filecache.py): no TTL, each
        # carries the database version it was loaded at and is checked against it.
        self._entries: OrderedDict[str, Any] = OrderedDict()
        self.version_probe: Any = None  # filecache's database version check, set by it
        # Loads of entries under way, by (file id, version): one per key (filecache).
        self.loading: dict[tuple[str, int], Any] = {}
        self._objects: OrderedDict[str, bytes] = OrderedDict()
        # Sizes of variants known to exist, so that a cached variant costs no storage
        # lookup (variants never change; they go away with their file).
        self._variants: OrderedDict[str, int] = OrderedDict()
        self._bytes = 0
        self.object_max = object_max
        self.objects_total = objects_total

    def get_meta(self, file_id: str) -> Any:
        entry = self._meta.get(file_id)
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    def put_meta(self, file_id: str, value: Any) -> None:
        self._meta[file_id] = (time.monotonic() + META_TTL, value)
        self._meta.move_to_end(file_id)
        while len(self._meta) > META_MAX:
            self._meta.popitem(last=False)

    def get_entry(self, file_id: str) -> Any:
        """The metadata API's entry of a file (``filecache.Entry``), or None."""
        return self._entries.get(file_id)

    def put_entry(self, file_id: str, value: Any) -> None:
        """Keep ``value`` as the file's entry (the least recently stored go first)."""
        self._entries[file_id] = value
        self._entries.move_to_end(file_id)
        while len(self._entries) > META_MAX:
            self._entries.popitem(last=False)

    def get_object(self, key: str) -> bytes | None:
        data = self._objects.get(key)
        if data is not None:
            self._objects.move_to_end(key)
        return data

    def put_object(self, key: str, data: bytes) -> None:
        if len(data) > self.object_max or key in self._objects:
            return
        self._objects[key] = data
        self._bytes += len(data)
        while self._bytes > self.objects_total:
            _, old = self._objects.popitem(last=False)
            self._bytes -= len(old)

    def get_variant(self, key: str) -> int | None:
        """The size of a variant made earlier, or None."""
        return self._variants.get(key)

    def put_variant(self, key: str, size: int) -> None:
        """Remember that the variant ``key`` exists with ``size`` bytes."""
        self._variants[key] = size
        while len(self._variants) > META_MAX:
            self._variants.popitem(last=False)

    def forget(self, file_id: str) -> None:
        """Drop everything cached for a file (after a change or deletion)."""
        self._meta.pop(file_id, None)
        self._entries.pop(file_id, None)
        for key in [k for k in self._variants if f"/{file_id}/" in k]:
            del self._variants[key]
        for key in [k for k in self._objects if f"/{file_id}/" in k]:
            self._bytes -= len(self._objects.pop(key))
