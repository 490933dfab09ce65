"""The built-in local-disk storage backend (``storage.backend = "local"``)."""

from __future__ import annotations

from typing import Any

from .. import hookimpl
from ..storage.local import LocalStorage


@hookimpl
def register_storage_backends(settings: Any) -> list[type]:
    """The local-disk backend: the embedded default."""
    return [LocalStorage]
