"""A reusable test suite for storage backends.

Subclass it in a test module and provide a ``backend`` fixture (an async fixture that
yields a started backend)::

    class TestMyBackend(StorageBackendContract):
        @pytest.fixture
        async def backend(self, tmp_path):
            b = MyBackend(settings)
            await b.startup()
            yield b
            await b.shutdown()
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest

from .base import ObjectNotFound, StorageBackend


async def _chunks(data: bytes, size: int = 7000) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


async def _read(backend: StorageBackend, key: str, start: int = 0, end: int | None = None) -> bytes:
    out = bytearray()
    async for chunk in backend.open(key, start, end):
        out += chunk
    return bytes(out)


class StorageBackendContract:
    """The behaviour every storage backend promises. Needs a ``backend`` fixture."""

    prefix = "contract"

    def key(self, name: str) -> str:
        return f"{self.prefix}/{os.urandom(4).hex()}/{name}"

    async def test_put_and_read_back(self, backend: StorageBackend) -> None:
        data = os.urandom(300_000)
        key = self.key("a.bin")
        assert await backend.put(key, _chunks(data)) == len(data)
        assert await _read(backend, key) == data
        assert await backend.size(key) == len(data)
        assert await backend.exists(key)

    async def test_ranges(self, backend: StorageBackend) -> None:
        data = bytes(range(256)) * 1000
        key = self.key("r.bin")
        await backend.put(key, _chunks(data))
        assert await _read(backend, key, 10, 19) == data[10:20]
        assert await _read(backend, key, 255_990) == data[255_990:]
        assert await _read(backend, key, 0, 0) == data[:1]

    async def test_missing_key(self, backend: StorageBackend) -> None:
        key = self.key("missing.bin")
        assert await backend.size(key) is None
        assert not await backend.exists(key)
        with pytest.raises(ObjectNotFound):
            await _read(backend, key)
        await backend.delete(key)  # deleting a missing key is fine

    async def test_delete(self, backend: StorageBackend) -> None:
        key = self.key("d.bin")
        await backend.put(key, _chunks(b"x" * 10))
        await backend.delete(key)
        assert await backend.size(key) is None

    async def test_overwrite_replaces(self, backend: StorageBackend) -> None:
        key = self.key("o.bin")
        await backend.put(key, _chunks(b"first version"))
        await backend.put(key, _chunks(b"second"))
        assert await _read(backend, key) == b"second"

    async def test_failed_put_leaves_nothing(self, backend: StorageBackend) -> None:
        key = self.key("f.bin")

        async def broken() -> AsyncIterator[bytes]:
            yield b"x" * 100_000
            raise RuntimeError("client went away")

        with pytest.raises(RuntimeError):
            await backend.put(key, broken())
        assert await backend.size(key) is None

    async def test_put_file(self, backend: StorageBackend, tmp_path) -> None:
        src = tmp_path / "src.bin"
        data = os.urandom(50_000)
        src.write_bytes(data)
        key = self.key("p.bin")
        assert await backend.put_file(key, src) == len(data)
        assert src.exists()
        assert await _read(backend, key) == data
        key2 = self.key("m.bin")
        assert await backend.put_file(key2, src, move=True) == len(data)
        assert await _read(backend, key2) == data

    async def test_list_keys(self, backend: StorageBackend) -> None:
        base = f"{self.prefix}/list-{os.urandom(4).hex()}"
        for name in ("a", "b/c"):
            await backend.put(f"{base}/{name}", _chunks(b"1"))
        keys = sorted([k async for k in backend.list_keys(base + "/")])
        assert keys == [f"{base}/a", f"{base}/b/c"]

    @pytest.mark.parametrize("bad", ["../x", "/abs", "a//b", "a/../../b", "a\\b", "a\x00b", ""])
    async def test_hostile_keys_refused(self, backend: StorageBackend, bad: str) -> None:
        with pytest.raises(ValueError):
            await backend.put(bad, _chunks(b"1"))

    async def test_health(self, backend: StorageBackend) -> None:
        await backend.health()
