#!/usr/bin/env python3
"""py_asyncio_echo: the asyncio peer that corio's model comes from.

An asyncio.Protocol echo server: data_received() writes the bytes straight back. Protocol,
not streams, because it is the fastest way asyncio offers to serve a socket (no
StreamReader buffering, no coroutine per read), so the comparison is with asyncio at its
best. With --uvloop the same code runs on uvloop (Debian python3-uvloop; run it with
/usr/bin/python3 so that Debian's package is importable).

    py_asyncio_echo.py [--host H] [--port N] [--uvloop]
"""
import argparse
import asyncio
import signal
import socket
import sys


class Echo(asyncio.Protocol):
    def connection_made(self, transport):
        # asyncio's selector transports set TCP_NODELAY already; uvloop's may not.
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.transport = transport

    def data_received(self, data):
        self.transport.write(data)


async def serve(host, port):
    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, lambda: stop.done() or stop.set_result(None))
    server = await loop.create_server(Echo, host, port, backlog=socket.SOMAXCONN)
    print(f"listening on {server.sockets[0].getsockname()[1]}", flush=True)
    await stop
    server.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--uvloop", action="store_true", help="run on uvloop")
    args = parser.parse_args()
    if args.uvloop:
        import uvloop

        uvloop.install()
    asyncio.run(serve(args.host, args.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
