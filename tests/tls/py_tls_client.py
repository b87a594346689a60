#!/usr/bin/env python3
"""Python's asyncio + ssl against a corio TLS echo server: CONNS connections at once,
each sending MESSAGES messages of random sizes up to 64 KiB and checking every byte of
the echo. Usage: py_tls_client.py PORT CAFILE CONNS MESSAGES. Prints "ok N connections"."""
import asyncio
import os
import random
import ssl
import sys


async def one(port, ctx, messages, seed):
    rng = random.Random(seed)
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=ctx,
                                                   server_hostname="localhost")
    for _ in range(messages):
        data = os.urandom(rng.randint(1, 64 * 1024))
        writer.write(data)
        await writer.drain()
        back = await reader.readexactly(len(data))
        if back != data:
            raise RuntimeError("echo differs")
    writer.close()
    try:
        await writer.wait_closed()
    except (ssl.SSLError, ConnectionError):
        pass  # the server's close_notify may cross ours
    return 1


async def main():
    port, cafile, conns, messages = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    ctx = ssl.create_default_context(cafile=cafile)
    done = await asyncio.gather(*(one(port, ctx, messages, i) for i in range(conns)))
    print(f"ok {sum(done)} connections", flush=True)


asyncio.run(main())
