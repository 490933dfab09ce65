"""The HTTP/1.1 protocol ``serve`` runs: Sanic's, with the timeouts a slow client needs.

Sanic measures every timeout from the last byte received (or sent), so by itself:

- a client that trickles its request head a byte at a time is never cut off;
- a streamed body (uploads: the handler runs while the body arrives, Sanic's "handler"
  stage) is cut only by the *response* timeout, whatever ``REQUEST_TIMEOUT`` says;
- a connection that never sends a byte is kept for the keep-alive timeout (120 s).

Here, with ``server.request_timeout`` (silence) and ``server.header_timeout`` (total):

- the request head must be complete within ``header_timeout`` of its first byte, and
  a new connection must send its first byte within ``header_timeout``;
- a request body (streamed or not) may fall silent for at most ``request_timeout``;

each answered 408 ``request_timeout`` (the error handler renders it), as Sanic answers
a head that falls silent. The response timeout (503 ``response_timeout``) is Sanic's.
"""

from __future__ import annotations

import contextlib
import socket
import weakref
from time import monotonic as current_time

from sanic.exceptions import RequestTimeout
from sanic.http import Stage
from sanic.log import error_logger
from sanic.server.protocols.http_protocol import HttpProtocol

from .connlimits import caps_for, refusal

REFUSAL = refusal()

# This worker's open connections, for the drain at shutdown (drain.py).
_LIVE: weakref.WeakSet[TimeoutProtocol] = weakref.WeakSet()


def live_connections() -> list[TimeoutProtocol]:
    """The connections this worker has open (refused ones excluded)."""
    return [conn for conn in _LIVE if conn.transport is not None]


def _no_delay(transport) -> None:
    """Turn Nagle's algorithm off on a TCP connection, as asyncio means to: it sets
    ``TCP_NODELAY`` only on sockets whose ``proto`` is ``IPPROTO_TCP``, and Sanic makes
    its listening socket without one (proto 0). With Nagle on, an answer written in
    pieces (head, then body) waited for the client's delayed ACK: 40 ms a request."""
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class TimeoutProtocol(HttpProtocol):
    """:class:`HttpProtocol` with a total head deadline, a body silence limit and the
    connection caps of :mod:`pichr_appliance.connlimits`."""

    __slots__ = ("header_timeout", "_head_t0", "_any_bytes", "_peer", "_linger", "__weakref__")

    def connection_made(self, transport) -> None:
        self._linger = 0  # 1: half-close when closing (drain.py); 2: half-closed
        caps = caps_for(self.app)
        peer = transport.get_extra_info("peername")
        address = peer[0] if peer else ""
        if not caps.admit(address):
            # Over a cap: answered and closed here; Sanic never tracks it. Half-close
            # after the answer and drop what the client sends for a moment: closing a
            # socket with unread input resets it, and the client might lose the answer.
            self._peer = None
            transport.write(REFUSAL)
            if transport.can_write_eof():
                transport.write_eof()
            self.loop.call_later(1.0, transport.close)
            return
        self._peer = address
        _no_delay(transport)
        super().connection_made(transport)
        _LIVE.add(self)

    def connection_lost(self, exc) -> None:
        if self._peer is None:  # refused in connection_made
            return
        caps_for(self.app).release(self._peer)
        self._peer = None
        _LIVE.discard(self)
        super().connection_lost(exc)

    def linger_on_close(self) -> None:
        """Close this connection with a half-close (the answer, then EOF, then what the
        client still sends dropped for a second) instead of at once: closing a socket
        with unread input resets it, and the client could lose the answer."""
        self._linger = 1

    def close(self, timeout: float | None = None) -> None:
        transport = self.transport
        lingers = self._linger == 1 and transport is not None and not transport.is_closing()
        if lingers and transport.can_write_eof():
            self._linger = 2
            transport.write_eof()
            self.loop.call_later(1.0, super().close, timeout)
            return
        super().close(timeout)

    def _setup(self) -> None:
        super()._setup()
        self.header_timeout = float(
            self.app.config.get("HEADER_TIMEOUT", None) or self.request_timeout
        )
        self._head_t0: float | None = None  # first byte of the current request head
        self._any_bytes = False

    def data_received(self, data: bytes) -> None:
        if self._peer is None:  # a refused connection: its request is not read
            return
        if self._linger == 2:  # half-closed after its last answer: input is dropped
            return
        http = getattr(self, "_http", None)
        if data and (http is None or http.stage is Stage.IDLE):
            self._head_t0 = current_time()
        if data:
            self._any_bytes = True
        super().data_received(data)

    def check_timeouts(self) -> None:
        try:
            if not self._task:
                return
            http = self._http
            now = current_time()
            stage = http.stage
            silent = now - self._time
            if stage is Stage.REQUEST:
                if self._head_t0 is None:  # a pipelined head: count from now
                    self._head_t0 = now
                if now - self._head_t0 > self.header_timeout:
                    return self._cut(RequestTimeout("Request Timeout"))
            elif stage is Stage.IDLE and not self._any_bytes and silent > self.header_timeout:
                return self._cut(None)  # connected, never said anything
            elif stage is not Stage.IDLE:
                self._head_t0 = None
            if (
                stage is Stage.HANDLER
                and http.request_body
                and not http.upgrade_websocket
                and silent > self.request_timeout
            ):
                # Sanic would read the rest of the body before closing (it never comes):
                # drop it, so that the connection closes right after the 408.
                http.request_body = None
                http.keep_alive = False
                return self._cut(RequestTimeout("Request Timeout"))
        except Exception:
            error_logger.exception("protocol.check_timeouts")
        # Sanic's own checks (keep-alive, head silence, response timeout) and the next
        # run; ours need runs at least as often as the shortest of our limits / 2.
        super().check_timeouts()
        callback = self._callback_check_timeouts
        shortest = min(self.header_timeout, self.request_timeout) / 2
        if callback is not None and not callback.cancelled():
            due = callback.when() - self.loop.time()
            if due > shortest:
                callback.cancel()
                self._callback_check_timeouts = self.loop.call_later(
                    max(0.1, shortest), self.check_timeouts
                )

    def _cut(self, exc: Exception | None) -> None:
        """End the connection task: with ``exc`` as the answer, or silently."""
        if exc is not None:
            self._http.exception = exc
        self._task.cancel("Cancel connection task with a timeout")
