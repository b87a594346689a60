#!/usr/bin/env python3
"""Hammers an echo server with Python's asyncio (standard library only): hundreds of
concurrent connections, random message sizes up to 64 KiB, every byte verified.
Exits non-zero on any error.

  echo_hammer.py --host 127.0.0.1 --port 8888          # an echo server already running
  echo_hammer.py --spawn build/dev/examples/echo_server --backend poll
                                                       # start it, hammer it, SIGINT it
  echo_hammer.py --spawn ... --threads 2               # the same over two event loops

With --spawn the server must also stop cleanly on SIGINT (exit code 0) and name its
backend on the first line. Exit code 77: that backend does not open here (skipped).
"""

import argparse
import asyncio
import os
import random
import sys
import time

from example_server import ExampleServer

MAX_MESSAGE = 64 * 1024


async def one_connection(host, port, index, messages, seed):
    rng = random.Random(seed * 1_000_003 + index)
    reader, writer = await asyncio.open_connection(host, port)
    try:
        total = 0
        for m in range(messages):
            size = rng.randint(1, MAX_MESSAGE)
            payload = rng.randbytes(size)
            writer.write(payload)
            # Read the echo while the write drains: a big message must not deadlock.
            drain = asyncio.ensure_future(writer.drain())
            echoed = await reader.readexactly(size)
            await drain
            if echoed != payload:
                at = next(i for i in range(size) if echoed[i] != payload[i])
                raise AssertionError(f"connection {index} message {m}: byte {at} of {size} "
                                     f"differs")
            total += size
        writer.write_eof()
        rest = await reader.read()
        if rest:
            raise AssertionError(f"connection {index}: {len(rest)} bytes after the last echo")
        return total
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except (ConnectionError, OSError):
            pass


async def hammer(host, port, conns, messages, seed):
    started = time.monotonic()
    results = await asyncio.gather(
        *(one_connection(host, port, i, messages, seed) for i in range(conns)),
        return_exceptions=True)
    errors = [r for r in results if isinstance(r, BaseException)]
    echoed = sum(r for r in results if not isinstance(r, BaseException))
    elapsed = time.monotonic() - started
    print(f"{conns} connections x {messages} messages: {echoed} bytes echoed and verified "
          f"in {elapsed:.2f} s, {len(errors)} failed connections")
    for e in errors[:10]:
        print(f"error: {type(e).__name__}: {e}", file=sys.stderr)
    return not errors


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8888)
    parser.add_argument("--spawn", metavar="ECHO_SERVER", help="start this server binary")
    parser.add_argument("--backend", default="auto", help="backend for --spawn")
    parser.add_argument("--threads", type=int, help="start the server with --threads N")
    parser.add_argument("--conns", type=int, default=300)
    parser.add_argument("--messages", type=int, default=8)
    parser.add_argument("--seed", type=int, default=int.from_bytes(os.urandom(4), "little"))
    args = parser.parse_args()
    print(f"seed {args.seed}")

    server = None
    if args.spawn:
        server = ExampleServer(args.spawn, args.backend, threads=args.threads)
        args.port = server.port
    ok = asyncio.run(hammer(args.host, args.port, args.conns, args.messages, args.seed))
    if server:
        problems = server.stop()
        for p in problems:
            print(f"server: {p}", file=sys.stderr)
        ok = ok and not problems
        print("\n".join(server.stdout_lines))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
