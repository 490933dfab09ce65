"""A small upload load generator: N asyncio clients, one keep-alive connection each.

Plain HTTP/1.1 over asyncio streams rather than httpx: httpx costs more CPU per request
than nginx does, so with it the client, not the server, would set nginx's figure. Both
sides of a comparison are driven by this same client.

Every request carries distinct bytes (a JPEG comment segment with random bytes is put
after the start-of-image marker), so that a server which recognises a repeated sha256
does not measure a shortcut that real uploads would not get.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
import time
from collections.abc import Callable
from urllib.parse import urlsplit


def unique_jpeg(data: bytes) -> list[bytes | memoryview]:
    """``data`` (a JPEG) with a 16-byte random COM segment after SOI, as pieces to write
    (no copy of the image itself)."""
    if data[:2] != b"\xff\xd8":
        raise ValueError("not a JPEG")
    com = b"\xff\xd8\xff\xfe\x00\x12" + os.urandom(16)
    return [com, memoryview(data)[2:]]


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """Status and body of one response (Content-Length bodies only)."""
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("the server closed the connection")
    status = int(status_line.split()[1])
    length = 0
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.decode("latin-1").partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "transfer-encoding":
            raise RuntimeError("chunked answers are not supported by this client")
    return status, await reader.readexactly(length)


async def _client(
    url: str,
    method: str,
    path_of: Callable[[int, int], str],
    client: int,
    headers: dict[str, str],
    data: bytes,
    ok: tuple[int, ...],
    deadline: float,
    latencies: list[float],
) -> None:
    """One client: requests back to back on one connection until ``deadline``."""
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    n = 0
    try:
        while time.perf_counter() < deadline:
            pieces = unique_jpeg(data)
            size = sum(len(p) for p in pieces)
            head = (
                f"{method} {path_of(client, n)} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
                f"Content-Length: {size}\r\nContent-Type: image/jpeg\r\n{extra}\r\n"
            )
            t0 = time.perf_counter()
            writer.write(head.encode())
            writer.writelines(pieces)
            await writer.drain()
            status, body = await _read_response(reader)
            if status not in ok:
                raise RuntimeError(f"{method} {url}: {status} {body[:300]!r}")
            latencies.append(time.perf_counter() - t0)
            n += 1
    finally:
        writer.close()
        with contextlib.suppress(OSError, asyncio.TimeoutError):
            await asyncio.wait_for(writer.wait_closed(), 5)


async def _run(url, method, path_of, headers, data, ok, clients, seconds) -> tuple[float, float]:
    """Every client until the deadline; (requests/s, p50 seconds)."""
    latencies: list[float] = []
    t0 = time.perf_counter()
    deadline = t0 + seconds
    await asyncio.gather(
        *(
            _client(url, method, path_of, c, headers, data, ok, deadline, latencies)
            for c in range(clients)
        )
    )
    elapsed = time.perf_counter() - t0  # requests in flight at the deadline count too
    if not latencies:
        raise RuntimeError(f"no request to {url} finished")
    return len(latencies) / elapsed, statistics.median(latencies)


def upload_load(
    url: str,
    method: str,
    path_of: Callable[[int, int], str],
    data: bytes,
    clients: int,
    seconds: float,
    headers: dict[str, str] | None = None,
    ok: tuple[int, ...] = (200, 201, 204),
) -> tuple[float, float]:
    """``clients`` connections sending ``data`` (made unique per request) for
    ``seconds``; returns (requests/s, p50 seconds). ``path_of(client, n)`` gives the
    path of a client's n-th request; any status outside ``ok`` raises."""
    return asyncio.run(_run(url, method, path_of, headers or {}, data, ok, clients, seconds))
