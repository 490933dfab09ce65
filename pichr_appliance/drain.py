"""Graceful shutdown of a ``serve`` worker: stop listening, drain, answer what is cut off.

On SIGTERM (or the SIGINT the main process sends its workers), Sanic stops the worker's
event loop and runs the ``before_server_stop`` listeners *before* it closes the listening
socket; its own drain then waits ``GRACEFUL_SHUTDOWN_TIMEOUT`` for connections and aborts
the rest without a word. Measured before this module: a new connection made during a
drain held open by one slow upload waited in the kernel's backlog (nobody accepts it, but
the socket still listens in every process that inherited it), and the slow upload got no
HTTP answer at all. So the drain is done here, as the first stop listener:

1. the listening socket is shut down (``shutdown(SHUT_RD)``), which stops it listening in
   every process at once (the workers and the main process share one socket): a new
   connection is refused at once instead of waiting;
2. idle keep-alive connections are closed, busy ones will close after their answer, and
   one still sending its request head is answered 503 at once (a slow-header client
   would otherwise hold the drain for the whole ``graceful_timeout``);
3. requests in flight get ``server.graceful_timeout`` seconds to finish;
4. a request still running then, whose answer has not started, is cancelled (an upload
   releases its claim, so a retry succeeds) and answered 503 ``shutting_down`` with
   ``Retry-After`` and ``Connection: close``; an answer already being sent is cut.

Sanic's own drain then finds nothing left to wait for.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import signal
import socket
import stat
import threading
import time
from typing import Any

from sanic import Sanic
from sanic.exceptions import ServiceUnavailable
from sanic.http import Stage

from . import protocol

log = logging.getLogger(__name__)

# How long an answered-and-cut connection may linger (its half-close, protocol.py) before
# the drain stops waiting for it.
_LINGER_WAIT = 2.0


class ShuttingDown(ServiceUnavailable):
    """The answer to a request the drain cut off: 503 ``shutting_down``."""

    shutting_down = True  # errors.as_api_error's mark (it does not import this module)

    def __init__(self) -> None:
        super().__init__("The server is restarting; try again in a few seconds")


def install_drain(app: Sanic, graceful_timeout: float, port: int) -> None:
    """Register the drain as ``app``'s first stop listener (Sanic runs shutdown
    listeners in reverse order of registration, so this must be called after every
    other ``before_server_stop`` listener is registered)."""
    # Sanic's own wait after ours: nothing is left by then, but it must not be shorter.
    app.config.GRACEFUL_SHUTDOWN_TIMEOUT = float(graceful_timeout)

    @app.after_server_start
    async def _quiet(app: Sanic) -> None:
        # From the start, not at the drain: a sibling worker's drain shuts the listening
        # socket they share, possibly before this worker's own drain begins.
        _quiet_closed_listener(asyncio.get_running_loop())

    @app.before_server_stop
    async def _drain(app: Sanic) -> None:
        # Sanic runs the stop listeners again if the loop is stopped meanwhile (a signal
        # in the moment before the drain ignores them): the second run joins the first.
        task = getattr(app.ctx, "drain_task", None)
        if task is None:
            task = app.ctx.drain_task = asyncio.ensure_future(drain(graceful_timeout, port))
        await asyncio.shield(task)


def keep_stopping_workers() -> None:
    """Make the main process's shutdown reach workers that were still starting.

    Sanic's manager sends each worker one SIGINT. A worker forked a moment before
    still has the manager's handler (it logs "Received signal SIGINT" and runs on), and
    one that has not yet set up its own handlers ignores it: measured, such a worker
    then served on and the main process waited for it for ever (1 in 24 SIGTERMs in
    the first 2 s). So here the manager's handler does nothing in a child, and the main
    process repeats the SIGINT every half second to workers still alive, until they
    have all exited. A draining worker ignores the repeats (it is already stopping).
    The main process's handler itself runs in a thread (see below)."""
    from sanic.worker.manager import WorkerManager

    if getattr(WorkerManager.shutdown_signal, "_pichr", False):
        return
    original = WorkerManager.shutdown_signal
    main = os.getpid()

    def shutdown_signal(manager: Any, signum: int, frame: Any) -> None:
        if os.getpid() != main:  # a just-forked worker: the main process resends
            return
        if manager._shutting_down:  # a second signal: Sanic kills the workers
            original(manager, signum, frame)
            return
        if getattr(manager, "_pichr_stopping", False):  # the first is under way
            return
        manager._pichr_stopping = True
        # Not here: the handler runs between two bytecodes of the main thread, which
        # may be in the middle of a call to the multiprocessing manager that holds the
        # workers' states; Sanic's handler makes such calls too, on the same
        # connection, and the interrupted call then waited for ever for its answer
        # (measured: SIGTERM just after the first /health hung the main process every
        # time). A thread gets a connection of its own.
        threading.Thread(target=_shut_down, args=(manager, original, signum), daemon=True).start()

    shutdown_signal._pichr = True  # type: ignore[attr-defined]
    WorkerManager.shutdown_signal = shutdown_signal  # type: ignore[method-assign]

    # Sanic's wait for the workers' start-up acknowledgements puts back every monitor
    # message it reads until all workers have acknowledged; once a shutdown has begun
    # they never will (they are stopping), so it read and put back the shutdown
    # message for ever: the main process spinning at full CPU, holding the port. A
    # shutdown ends that wait; the monitor loop after it then reads the message.
    all_acked = WorkerManager._all_workers_ack

    def _all_workers_ack(manager: Any) -> bool:
        if _early and not manager._shutting_down:
            manager.shutdown_signal(_early.pop(), None)  # one that came before Sanic's handler
        return manager._shutting_down or all_acked(manager)

    WorkerManager._all_workers_ack = _all_workers_ack  # type: ignore[method-assign]

    # Sanic forks the multiprocessing manager that holds the workers' states before it
    # sets up its own signal handlers: with SIGTERM at its default, a SIGTERM to the
    # whole process group (systemd's KillMode=control-group, kill -- -PGID) killed that
    # process, and the main process then failed and exited 1 while its workers still
    # drained. Until Sanic's handler replaces it here, and for good in that process, a
    # SIGTERM is only remembered.
    signal.signal(signal.SIGTERM, _remember)


_early: list[int] = []


def _remember(signum: int, frame: Any) -> None:
    _early.append(signum)


def _shut_down(manager: Any, original: Any, signum: int) -> None:
    original(manager, signum, None)
    _resend(manager)


def _resend(manager: Any) -> None:
    while True:
        time.sleep(0.5)
        alive = [p.pid for p in manager.processes if p.pid and _alive(p.pid)]
        if not alive:
            return
        for pid in alive:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGINT)


def _alive(pid: int) -> bool:
    # Read, not waitpid: reaping here would race multiprocessing's own join.
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] not in (b"Z", b"X")
    except (OSError, IndexError):
        return False


async def drain(graceful_timeout: float, port: int) -> None:
    """Drain this worker's connections (the steps in the module docstring)."""
    loop = asyncio.get_running_loop()
    _ignore_stop_signals()
    stopped = stop_listening(port, loop)
    for conn in protocol.live_connections():
        _finish_then_close(conn)
        if _receiving_head(conn):
            # No request yet, only part of its head (a slow client, or one that began
            # as the drain did): answered now, not waited for.
            _cut(conn)
    log.info(
        "draining: %d listening socket(s) shut, %d request(s) in flight, up to %ss",
        stopped,
        sum(1 for c in protocol.live_connections() if _busy(c)),
        graceful_timeout,
    )
    deadline = loop.time() + graceful_timeout
    while any(_busy(c) for c in protocol.live_connections()) and loop.time() < deadline:
        await asyncio.sleep(0.05)
    cut = [c for c in protocol.live_connections() if _busy(c)]
    for conn in cut:
        _cut(conn)
    if cut:
        log.warning("drain: cut %d request(s) still running after %ss", len(cut), graceful_timeout)
    deadline = loop.time() + _LINGER_WAIT
    while protocol.live_connections() and loop.time() < deadline:
        await asyncio.sleep(0.05)


def stop_listening(port: int, loop: asyncio.AbstractEventLoop | None = None) -> int:
    """Shut down every listening TCP socket of this process on ``port`` (any port when
    0), and every listening Unix socket; return how many. ``shutdown(SHUT_RD)`` of a
    listening socket ends its listening state for every descriptor of it in every
    process, and resets connections waiting in its backlog; new ones are refused.
    ``loop`` stops watching them first."""
    count = 0
    for fd in _descriptors():
        try:
            if not stat.S_ISSOCK(os.fstat(fd).st_mode):
                continue
            sock = socket.socket(fileno=os.dup(fd))
        except OSError:
            continue
        try:
            if not sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN):
                continue
            if sock.family in (socket.AF_INET, socket.AF_INET6):
                if port and sock.getsockname()[1] != port:
                    continue
            elif sock.family != socket.AF_UNIX:
                continue
            if loop is not None:
                # asyncio's loop would otherwise find the shut socket readable on every
                # turn and log accept()'s EINVAL each time (uvloop reports it once).
                loop.remove_reader(fd)
            sock.shutdown(socket.SHUT_RD)
            count += 1
        except OSError:
            continue
        finally:
            sock.close()
    return count


def _descriptors() -> list[int]:
    try:
        return [int(name) for name in os.listdir("/proc/self/fd")]
    except OSError:  # no /proc: the usual range
        return list(range(3, 1024))


def _ignore_stop_signals() -> None:
    # Sanic removes the worker's signal handlers before the drain, which leaves SIGTERM
    # at its default (die at once): a second signal, such as systemd's SIGTERM to every
    # process of the unit beside the main process's SIGINT, would kill the drain. The
    # main process answers a second signal by killing the workers, which still works.
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(OSError, ValueError):  # not the main thread, no such
            signal.signal(sig, signal.SIG_IGN)


def _quiet_closed_listener(loop: asyncio.AbstractEventLoop) -> None:
    # The shut-down listening socket wakes the loop's server, whose accept() then fails;
    # uvloop reports that as a "Fatal error on server", once. asyncio's loop raises it
    # from its accept callback and would call that again on every turn (the socket stays
    # readable), so the socket is no longer watched. It is the point of the drain.
    previous = loop.get_exception_handler()

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        message = str(context.get("message", ""))
        if message.startswith("Fatal error on server"):
            return
        if "_accept_connection" in message and _is_einval(context.get("exception")):
            _unwatch(loop, context.get("handle"))
            return
        if previous is not None:
            previous(loop, context)
        else:
            loop.default_exception_handler(context)

    loop.set_exception_handler(handler)


def _is_einval(exc: Any) -> bool:
    return isinstance(exc, OSError) and exc.errno == errno.EINVAL


def _unwatch(loop: asyncio.AbstractEventLoop, handle: Any) -> None:
    # The handle is asyncio's own (callback _accept_connection, args (factory, sock, ...)).
    args = getattr(handle, "_args", None) or ()
    sock = args[1] if len(args) > 1 else None
    with contextlib.suppress(AttributeError, OSError, ValueError):
        loop.remove_reader(sock.fileno())


def _busy(conn: Any) -> bool:
    http = getattr(conn, "_http", None)
    return conn.transport is not None and http is not None and http.stage is not Stage.IDLE


def _receiving_head(conn: Any) -> bool:
    http = getattr(conn, "_http", None)
    return conn.transport is not None and http is not None and http.stage is Stage.REQUEST


def _finish_then_close(conn: Any) -> None:
    if conn.close_if_idle():
        return
    http = conn._http
    if http is not None:
        http.keep_alive = False  # the answer says Connection: close, then it closes


def _cut(conn: Any) -> None:
    http = conn._http
    task = conn._task
    if http is None or task is None:
        return
    if http.stage in (Stage.REQUEST, Stage.HANDLER):
        # Not answered yet: cancel the handler (an upload releases its claim) and let
        # Sanic render the exception; the rest of the body is not read, and the
        # connection half-closes so that the client reads the answer (protocol.py).
        http.exception = ShuttingDown()
        http.request_body = None
        http.keep_alive = False
        conn.linger_on_close()
        task.cancel("the drain ended")
    else:
        conn.transport.abort()  # an answer already under way cannot be amended
