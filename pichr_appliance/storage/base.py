"""The storage contract every backend (built-in or plugin) implements."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from pathlib import Path
from typing import Any, ClassVar

DEFAULT_CHUNK = 256 * 1024


class StorageError(Exception):
    """A backend could not complete an operation (unreachable, denied, ...)."""


class ObjectNotFound(StorageError):
    """The key does not exist."""


def check_key(key: str) -> str:
    """Refuse keys that could escape the storage root or confuse a backend."""
    if (
        not key
        or len(key) > 1024
        or key.startswith("/")
        or "\\" in key
        or "\x00" in key
        or any(part in ("", ".", "..") for part in key.split("/"))
    ):
        raise ValueError(f"invalid storage key: {key!r}")
    return key


class StorageBackend:
    """An object store addressed by ``/``-separated keys.

    Writes are atomic: an object becomes visible only once it was written completely,
    and a failed write leaves nothing behind. Subclasses set ``name`` and are
    registered through the ``register_storage_backends`` hook.
    """

    name: ClassVar[str] = ""
    #: Optional capability: serve ``/i/...`` with a 302 to ``redirect_url`` instead of
    #: proxying the bytes (an object store with presigned or public URLs).
    redirects: bool = False
    #: Optional capability: presign hands out ``presign_put`` URLs that go straight to
    #: the store; ``finalize`` then verifies and processes the object.
    direct_uploads: bool = False

    def __init__(self, settings: Any) -> None:
        self.settings = settings

    async def startup(self) -> None:
        """Connect or create what the backend needs; raise StorageError if it cannot."""

    async def shutdown(self) -> None:
        """Release connections."""

    async def put(
        self, key: str, chunks: AsyncIterable[bytes], *, content_type: str | None = None
    ) -> int:
        """Store the streamed bytes under ``key`` atomically; return the byte count."""
        raise NotImplementedError

    async def put_file(
        self, key: str, path: Path, *, content_type: str | None = None, move: bool = False
    ) -> int:
        """Store a local file under ``key``; with ``move`` the file may be consumed."""
        raise NotImplementedError

    def open(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        """Stream bytes ``start``..``end`` (inclusive, None = to the end) of ``key``.

        Raises ObjectNotFound (on first iteration at the latest) when absent.
        """
        raise NotImplementedError

    async def delete(self, key: str) -> None:
        """Delete ``key``; deleting a missing key is not an error."""
        raise NotImplementedError

    async def exists(self, key: str) -> bool:
        return await self.size(key) is not None

    async def size(self, key: str) -> int | None:
        """Size in bytes, or None when the key does not exist."""
        raise NotImplementedError

    def list_keys(self, prefix: str = "") -> AsyncIterator[str]:
        """Every key that starts with ``prefix`` (for garbage collection and backups)."""
        raise NotImplementedError

    def public_url(self, key: str) -> str | None:
        """A URL where the object is publicly readable (CDN/bucket), or None."""
        base = getattr(self.settings.storage, "cdn_base_url", "")
        return f"{base.rstrip('/')}/{key}" if base else None

    def local_path(self, key: str) -> Path | None:
        """A filesystem path for zero-copy serving, when the backend has one."""
        return None

    async def health(self) -> None:
        """Raise StorageError when the backend cannot be used right now."""

    async def redirect_url(
        self,
        key: str,
        *,
        public: bool,
        content_type: str | None = None,
        download_name: str | None = None,
    ) -> tuple[str, int]:
        """Where a client can read ``key`` itself: ``(url, seconds it stays valid)``.

        Called only when ``redirects`` is true. ``public`` says whether the file may be
        read by anyone (a public/CDN URL is fine); otherwise return a short-lived signed
        URL. ``download_name`` asks for ``Content-Disposition: attachment``.
        """
        raise NotImplementedError

    async def presign_put(self, key: str, *, content_type: str, expires: int) -> str:
        """A URL that accepts one PUT of ``key`` (with ``Content-Type: content_type``)
        for ``expires`` seconds. Called only when ``direct_uploads`` is true."""
        raise NotImplementedError
