"""Connections of ``serve`` have Nagle's algorithm off (``protocol._no_delay``).

asyncio sets ``TCP_NODELAY`` only on sockets created with ``proto=IPPROTO_TCP``;
Sanic's listening socket is made without one, so without ``_no_delay`` a response
written in two pieces (headers, then body) waited for the client's delayed ACK.
"""

import asyncio
import socket

from pichr_appliance.protocol import _no_delay


def test_accepted_connections_get_tcp_nodelay():
    seen: list[int] = []

    class Probe(asyncio.Protocol):
        def connection_made(self, transport):
            _no_delay(transport)
            sock = transport.get_extra_info("socket")
            seen.append(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            transport.close()

    async def main():
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)  # as Sanic binds
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        server = await asyncio.get_running_loop().create_server(Probe, sock=listener)
        port = listener.getsockname()[1]
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        for _ in range(200):
            if seen:
                break
            await asyncio.sleep(0.01)
        writer.close()
        server.close()
        await server.wait_closed()

    asyncio.run(main())
    assert seen == [1]
