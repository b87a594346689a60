#!/usr/bin/env python3
"""A STARTTLS line server on Python's asyncio + ssl, for corio's StreamWriter.start_tls:
it greets "READY\\n" in plaintext, answers "STARTTLS\\n" with "GO\\n" and upgrades with
asyncio's own writer.start_tls(), then answers every line with "tls:" + the line and
closes after "quit\\n". Serves one connection. Usage: py_starttls_server.py PORT CERT KEY."""
import asyncio
import ssl
import sys


async def main(port, cert, key):
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    done = asyncio.Event()

    async def handle(reader, writer):
        try:
            writer.write(b"READY\n")
            if await reader.readline() != b"STARTTLS\n":
                raise RuntimeError("expected STARTTLS")
            writer.write(b"GO\n")
            await writer.drain()
            await writer.start_tls(ctx)
            while True:
                line = await reader.readline()
                if not line or line == b"quit\n":
                    break
                writer.write(b"tls:" + line)
                await writer.drain()
            writer.close()
            await writer.wait_closed()
        finally:
            done.set()

    server = await asyncio.start_server(handle, "127.0.0.1", port)
    async with server:
        await done.wait()
    print("served")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), sys.argv[2], sys.argv[3]))
