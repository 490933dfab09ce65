"""Free disk space: a reserve that keeps the appliance working when the disk fills.

Uploads are refused with 507 ``insufficient_storage`` before any byte is written once
they would take the free space below ``storage.min_free_bytes`` (0 disables the
check), so that the database keeps room for what everything else writes (sessions at
login, deletes, counters). Free space is measured where bytes land on this machine: the
data directory (database, temporary files of uploads) and, with local storage, the
storage path. A disk that fills anyway (``ENOSPC``, SQLite's "database or disk is
full") answers 507 too, never 500; the upload pipeline removes what it had written.
"""

from __future__ import annotations

import errno
import shutil
from pathlib import Path
from typing import Any

from ..errors import ApiError

# Below twice the reserve /health and doctor say "low".
LOW_FACTOR = 2


def places(settings: Any) -> list[Path]:
    """The folders whose filesystems uploads write to, on this machine."""
    out = [settings.data_path]
    if settings.storage.backend == "local":
        out.append(settings.storage_path)
    return out


def free_bytes(settings: Any) -> int:
    """The smallest free space (for this user) among :func:`places`."""
    free = []
    for place in places(settings):
        probe = Path(place)
        while not probe.exists() and probe != probe.parent:
            probe = probe.parent
        free.append(shutil.disk_usage(probe).free)
    return min(free)


def state(settings: Any, free: int | None = None) -> str:
    """``ok``, ``low`` (under twice the reserve) or ``full`` (under the reserve: uploads
    are refused; or no space at all)."""
    free = free_bytes(settings) if free is None else free
    reserve = settings.storage.min_free_bytes
    if free <= 0 or free < reserve:
        return "full"
    if free < reserve * LOW_FACTOR:
        return "low"
    return "ok"


def insufficient(message: str) -> ApiError:
    return ApiError(507, "insufficient_storage", message, headers={"Retry-After": "60"})


def check_room(settings: Any, nbytes: int = 0) -> None:
    """507 when storing ``nbytes`` more would go below the reserve (or does not fit)."""
    reserve = settings.storage.min_free_bytes
    if reserve <= 0 and nbytes <= 0:
        return
    free = free_bytes(settings)
    if free - nbytes < reserve:
        raise insufficient("The server is low on disk space and does not accept uploads right now")


def is_disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` says the disk (or quota) is full, from the OS or from SQLite."""
    seen = 0
    while exc is not None and seen < 5:
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if "database or disk is full" in str(exc):
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False
