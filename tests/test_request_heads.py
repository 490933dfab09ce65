"""Request heads that proxies and Sanic could read differently are refused (400 JSON)."""

import json

import pytest

from pichr_appliance.testing import LiveServer, raw_exchange


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    # A real server: ReusableClient runs its loop only while a request of its own is on.
    # SQLite even in the PostgreSQL run: this server lives for the module, and throwaway
    # PostgreSQL databases are dropped after each test. Heads are parsed before any
    # database is asked.
    data = tmp_path_factory.mktemp("heads") / "data"
    database = "sqlite://" + str(data.resolve() / "pichr.sqlite3")
    live = LiveServer(data, env={"PICHR_DATABASE__URL": database}).start()
    try:
        yield live
    finally:
        live.stop()


SMUGGLED = b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\n\r\n"


def answers(raw: bytes) -> list[bytes]:
    return [part for part in raw.split(b"HTTP/1.1 ")[1:]]


@pytest.mark.parametrize(
    "line",
    [
        b"Transfer-Encoding : chunked",  # a space before the colon
        b"Transfer-Encoding\t: chunked",
        b"Content-Length : 5",
        b"X-Fine: yes\r\n folded: continuation",  # obsolete line folding
        b"Bad Name: x",
    ],
)
def test_malformed_header_names_are_a_400_and_the_connection_closes(server, line):
    chunk = hex(len(SMUGGLED))[2:].encode()
    body = chunk + b"\r\n" + SMUGGLED + b"\r\n0\r\n\r\n"
    request = b"GET /health HTTP/1.1\r\nHost: x\r\n" + line + b"\r\n\r\n" + body
    raw, closed = raw_exchange(server.port, request, wait=3)
    replies = answers(raw)
    assert len(replies) == 1 and replies[0].startswith(b"400"), raw  # nothing smuggled
    assert closed
    head, _, payload = raw.partition(b"\r\n\r\n")
    assert b"application/json" in head.lower()
    assert json.loads(payload)["code"] == "invalid_request"


def test_ordinary_heads_still_pass(server):
    request = b"GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-A_b.c~d: 1\r\nConnection: close\r\n\r\n"
    raw, _ = raw_exchange(server.port, request, wait=3)
    assert raw.startswith(b"HTTP/1.1 200"), raw
