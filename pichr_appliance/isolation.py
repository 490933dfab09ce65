"""Decoders that run in a child process, so that a crash there refuses one upload
instead of killing the server worker (and every request it holds).

HEIC/HEIF uploads are inspected this way (``uploads.isolate_heif``): libheif and
libde265 are C code fed with untrusted bytes, and pi-heif 1.4 was seen to segfault on
damaged item tables (``isobmff.item_strings_valid`` catches that case up front). One
child per server worker, started on the first HEIC (spawned: ~1 s, then reused) and
replaced when it dies.
"""

from __future__ import annotations

import asyncio
import functools
import multiprocessing
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from .imaging import ImageRejected

_pool: ProcessPoolExecutor | None = None
_lock = threading.RLock()


def _executor() -> ProcessPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
            context = multiprocessing.get_context("spawn")
            _pool = ProcessPoolExecutor(max_workers=1, mp_context=context)
        return _pool


def _discard(pool: ProcessPoolExecutor) -> None:
    global _pool
    with _lock:
        if _pool is pool:
            _pool = None
    pool.shutdown(wait=False, cancel_futures=True)


def _submit(pool: ProcessPoolExecutor, call: Any) -> Any:
    """``pool.submit(call)``, allowed to start the child from a daemonic process.

    Sanic's workers are daemonic, and multiprocessing refuses children there (so that a
    daemon's children cannot outlive it). The child here exits when its parent's end of
    the call queue closes, and the worker stops it at shutdown; so the check is lifted
    while the pool starts it (the executor spawns on submit)."""
    config = multiprocessing.current_process()._config  # type: ignore[attr-defined]
    daemon = config.get("daemon")
    with _lock:
        config["daemon"] = False
        try:
            return pool.submit(call)
        finally:
            if daemon is None:
                config.pop("daemon", None)
            else:
                config["daemon"] = daemon


async def run(fn: Any, /, *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)`` in the child; ``ImageRejected`` when the child dies."""
    pool = _executor()
    call = functools.partial(fn, *args, **kwargs)
    try:
        return await asyncio.wrap_future(_submit(pool, call))
    except BrokenProcessPool:
        _discard(pool)
        raise ImageRejected("invalid_image", "The decoder failed on this image") from None


def shutdown() -> None:
    """Stop the child (worker shutdown)."""
    global _pool
    with _lock:
        pool, _pool = _pool, None
    if pool is not None:
        pool.shutdown(wait=False, cancel_futures=True)
