#!/usr/bin/env python3
"""Runs wrk against http_hello and fails on any socket error or non-2xx answer.

  wrk_check.py --spawn build/dev/examples/http_hello --backend epoll [--wrk wrk]

Starts the server on a free port, runs `wrk -t1 -c64 -d3s`, parses its report (the
"Socket errors" and "Non-2xx or 3xx responses" lines appear only when there were
some), then stops the server with SIGTERM and expects exit code 0. Exit code 77: wrk is
not installed or the backend does not open here (skipped).
"""

import argparse
import re
import shutil
import signal
import subprocess
import sys

from example_server import SKIP, ExampleServer


def check_report(report):
    """The problems found in wrk's output (empty: all requests answered with 2xx)."""
    problems = []
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                       report)
    if errors and any(int(n) for n in errors.groups()):
        problems.append(f"wrk: {errors.group(0)}")
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", report)
    if non2xx:
        problems.append(f"wrk: {non2xx.group(0)}")
    done = re.search(r"(\d+) requests in", report)
    if not done or int(done.group(1)) == 0:
        problems.append("wrk completed no request")
    return problems


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spawn", required=True, metavar="HTTP_HELLO")
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--wrk", default="wrk")
    parser.add_argument("--duration", default="3s")
    parser.add_argument("--threads", type=int, help="start the server with --threads N")
    args = parser.parse_args()
    wrk = shutil.which(args.wrk)
    if wrk is None:
        print("skipped: wrk is not installed (scripts/setup.sh installs it)")
        return SKIP

    server = ExampleServer(args.spawn, args.backend, threads=args.threads)
    url = f"http://127.0.0.1:{server.port}/"
    run = subprocess.run([wrk, "-t1", "-c64", f"-d{args.duration}", url],
                         capture_output=True, text=True, timeout=120)
    print(run.stdout, run.stderr, sep="")
    problems = check_report(run.stdout)
    if run.returncode != 0:
        problems.append(f"wrk exited with {run.returncode}")
    problems += [f"server: {p}" for p in server.stop(signal.SIGTERM)]
    print("\n".join(server.stdout_lines))
    for p in problems:
        print(p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
