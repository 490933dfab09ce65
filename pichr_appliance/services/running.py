"""Which server runs on a data directory: ``serve`` leaves ``serve.json`` there (its
URL and process id) while it runs, so that commands like ``integrations sharex`` can
use the address people actually reach instead of a default port."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

FILE = "serve.json"


def announce(settings: Any) -> Path:
    """Record this process as the server of ``settings.data_path``; returns the file
    (the caller removes it with :func:`withdraw` when the server stops)."""
    path = settings.data_path / FILE
    record = {"url": settings.public_url, "pid": os.getpid()}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record))
    tmp.replace(path)
    return path


def withdraw(path: Path) -> None:
    """Remove the record :func:`announce` wrote, if it is still this process's."""
    with contextlib.suppress(OSError, ValueError):
        if json.loads(path.read_text()).get("pid") == os.getpid():
            path.unlink()


def running_url(settings: Any) -> str | None:
    """The URL of the server running on this data directory, or None (no record, or
    its process is gone)."""
    try:
        record = json.loads((settings.data_path / FILE).read_text())
        pid, url = int(record["pid"]), str(record["url"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # alive, another user's (the service account's)
    return url
