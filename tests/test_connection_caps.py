"""Connection caps through a real server: per address and in all, per worker."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from pichr_appliance.connlimits import ConnectionCaps, default_max_connections
from pichr_appliance.testing import LiveServer

CAP = 4


def start(tmp: Path, **env: str) -> LiveServer:
    data = tmp / "data"
    base = {
        "PICHR_DATABASE__URL": "sqlite://" + str(data.resolve() / "pichr.sqlite3"),
        "PICHR_RATE_LIMITS__ENABLED": "false",
    }
    return LiveServer(data, env={**base, **env}).start()


def idle(port: int) -> socket.socket:
    """A connection that says nothing (it stays open until header_timeout)."""
    return socket.create_connection(("127.0.0.1", port), timeout=10)


def answer_of(sock: socket.socket) -> bytes:
    """Send a request and read what comes back until the server closes or answers."""
    sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    out = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return out
        out += chunk


@pytest.fixture
def capped(tmp_path) -> Iterator[LiveServer]:
    server = start(tmp_path, PICHR_SERVER__MAX_CONNECTIONS_PER_ADDRESS=str(CAP))
    try:
        yield server
    finally:
        server.stop()


def test_one_address_gets_at_most_the_cap_and_the_rest_a_clean_503(capped):
    held = [idle(capped.port) for _ in range(CAP)]
    try:
        extra = idle(capped.port)
        refused = answer_of(extra)
        extra.close()
        assert refused.startswith(b"HTTP/1.1 503 "), refused
        assert b"too_many_connections" in refused and b"Retry-After: 1" in refused
        # the connections already open still work
        assert b" 200 " in answer_of(held[0])
    finally:
        for sock in held:
            sock.close()
    # once they are closed, new connections are accepted again
    assert httpx.get(capped.url + "/health", timeout=10).status_code == 200
    assert "Traceback" not in capped.output()


def test_the_global_cap_refuses_past_it(tmp_path):
    server = start(
        tmp_path,
        PICHR_SERVER__MAX_CONNECTIONS_PER_ADDRESS="0",
        PICHR_SERVER__MAX_CONNECTIONS=str(CAP),
    )
    held = []
    try:
        held = [idle(server.port) for _ in range(CAP)]
        extra = idle(server.port)
        assert b"too_many_connections" in answer_of(extra)
        extra.close()
    finally:
        for sock in held:
            sock.close()
        server.stop()


def test_trusted_proxies_are_exempt_from_the_per_address_cap():
    caps = ConnectionCaps(per_address=2, total=10, exempt=["10.0.0.0/8"])
    assert [caps.admit("10.1.2.3") for _ in range(5)] == [True] * 5
    assert [caps.admit("192.0.2.1") for _ in range(3)] == [True, True, False]
    caps.release("192.0.2.1")
    assert caps.admit("192.0.2.1")
    assert [caps.admit("198.51.100.7") for _ in range(3)] == [True, True, False]  # total 10
    assert caps.refused == 2


def test_the_default_global_cap_stays_below_the_descriptor_limit():
    import resource

    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert default_max_connections() < soft


def listen_backlog(port: int) -> int:
    """The accept-queue size of the socket listening on ``port`` (``ss``'s Send-Q)."""
    out = subprocess.run(
        ["ss", "-Hltn", f"sport = :{port}"], capture_output=True, text=True, check=True
    ).stdout.split()
    return int(out[2])  # State Recv-Q Send-Q ...


@pytest.mark.parametrize("setting", [None, "300"])
def test_the_listen_backlog_holds_a_burst_of_new_connections(tmp_path, setting):
    # Sanic's own default is 100: 128 clients connecting at once lost 28 SYNs, which
    # waited 1-3 s for TCP's retry (wrk time-outs in bench/run_all.py p99-128).
    env = {"PICHR_SERVER__BACKLOG": setting} if setting else {}
    server = start(tmp_path, **env)
    try:
        expected = int(setting or 1024)
        somaxconn = int(Path("/proc/sys/net/core/somaxconn").read_text())
        assert listen_backlog(server.port) == min(expected, somaxconn)
    finally:
        server.stop()


@pytest.mark.parametrize("setting", [None, "uvloop"])
def test_workers_run_the_configured_event_loop(tmp_path, setting):
    # asyncio's loop by default: uvloop kept some of 128 connections waiting 1.3 s at p99.
    env = {"PICHR_SERVER__EVENT_LOOP": setting} if setting else {}
    server = start(tmp_path, **env)
    try:
        log = server.log.read_text()
    finally:
        server.stop()
    expected = setting or "asyncio"
    lines = [line for line in log.splitlines() if "event loop" in line]
    assert lines and all(f": {expected} event loop" in line for line in lines), log
