#!/usr/bin/env python3
"""The examples over TLS, against clients nobody here wrote.

  tls_examples_check.py --certs SCRIPT --echo-server BIN --echo-client BIN
                        --http-hello BIN --backend NAME [--wrk wrk]

Makes throwaway certificates with SCRIPT (tests/tls/make_certs.sh), then:
- echo_server --tls-cert/--tls-key: `openssl s_client` sends 100 lines and must get each
  back; corio's own echo_client --tls --ca checks every byte of random messages up to
  64 KiB on 50 connections; a plaintext client is refused and the server keeps serving;
- http_hello --tls-cert/--tls-key: `curl --cacert` GETs twice on one kept-alive
  connection and sends a HEAD; curl with no trust in the test CA fails verification;
  `wrk` over https for 3 s with zero socket errors and only 2xx answers.
Both servers must stop on SIGTERM with exit code 0 and a summary. Exit code 77: a tool or
the backend is missing here (skipped).
"""

import argparse
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

from example_server import SKIP, ExampleServer
from wrk_check import check_report


def s_client_echo(port, certs):
    """openssl s_client against echo_server: every line comes back."""
    proc = subprocess.Popen(
        ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-CAfile", f"{certs}/ca.pem",
         "-verify_return_error", "-quiet", "-servername", "localhost"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    problems = []
    for i in range(100):
        line = f"s_client line {i}\n".encode()
        proc.stdin.write(line)
        proc.stdin.flush()
        back = proc.stdout.readline()
        if back != line:
            problems.append(f"s_client: sent {line!r}, got {back!r}")
            break
    proc.kill()
    _, err = proc.communicate()
    if problems:
        problems.append(f"s_client stderr: {err.decode(errors='replace')}")
    return problems


def refused_plaintext(port):
    """A client speaking plaintext to a TLS server is closed on; nothing is echoed."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"hello in the clear\n")
        got = b""
        try:
            while True:
                data = s.recv(4096)
                if not data:
                    break
                got += data
        except ConnectionResetError:
            pass
    if b"hello in the clear" in got:
        return ["echo_server echoed plaintext on its TLS port"]
    return []


def check_echo(args, certs):
    server = ExampleServer(args.echo_server, args.backend,
                           ["--tls-cert", f"{certs}/server.pem", "--tls-key",
                            f"{certs}/server.key"])
    problems = s_client_echo(server.port, certs)
    problems += refused_plaintext(server.port)
    client = subprocess.run(
        [args.echo_client, "--backend", args.backend, "--tls", "--ca", f"{certs}/ca.pem",
         "--host", "localhost", "--port", str(server.port), "--conns", "50", "--messages", "40",
         "--size", "65536", "--random-size"],
        capture_output=True, text=True, timeout=120)
    print(client.stdout, client.stderr, sep="")
    if client.returncode != 0:
        problems.append(f"echo_client --tls exited with {client.returncode}")
    problems += [f"echo_server: {p}" for p in server.stop(signal.SIGTERM)]
    print("\n".join(server.stdout_lines))
    if "tls: on" not in server.stdout_lines:
        problems.append("echo_server did not say 'tls: on'")
    failed = [l for l in server.stdout_lines if l.startswith("tls: ") and "handshakes" in l]
    if not failed or failed[0].startswith("tls: 0 "):
        problems.append(f"the plaintext client was not counted as a failed handshake: {failed}")
    return problems


def curl(*extra):
    return subprocess.run(["curl", "-sS", "--max-time", "20", *extra],
                          capture_output=True, text=True, timeout=60)


def check_http(args, certs):
    server = ExampleServer(args.http_hello, args.backend,
                           ["--tls-cert", f"{certs}/server.pem", "--tls-key",
                            f"{certs}/server.key"])
    url = f"https://localhost:{server.port}/"
    problems = []
    both = curl("-v", "--cacert", f"{certs}/ca.pem", url, url)
    if both.stdout != "Hello, world!" * 2:
        problems.append(f"curl GET twice: {both.stdout!r} {both.stderr}")
    if not re.search(r"SSL connection using TLSv1\.[23]", both.stderr):
        problems.append("curl did not report a TLS connection")
    if "Re-using existing connection" not in both.stderr:
        problems.append("curl did not keep the HTTPS connection alive")
    head = curl("-I", "--cacert", f"{certs}/ca.pem", url)
    if not head.stdout.startswith("HTTP/1.1 200 OK") or "Content-Length: 13" not in head.stdout:
        problems.append(f"curl HEAD: {head.stdout!r} {head.stderr}")
    untrusted = curl("--cacert", f"{certs}/other-ca.pem", url)
    if untrusted.returncode != 60:  # curl's "peer certificate cannot be authenticated"
        problems.append(f"curl trusted a certificate it should not (exit {untrusted.returncode})")
    run = subprocess.run([args.wrk, "-t1", "-c64", "-d3s", f"https://127.0.0.1:{server.port}/"],
                         capture_output=True, text=True, timeout=120)
    print(run.stdout, run.stderr, sep="")
    problems += check_report(run.stdout)
    if run.returncode != 0:
        problems.append(f"wrk exited with {run.returncode}")
    problems += [f"http_hello: {p}" for p in server.stop(signal.SIGTERM)]
    print("\n".join(server.stdout_lines))
    return problems


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--certs", required=True, metavar="SCRIPT")
    parser.add_argument("--echo-server", required=True)
    parser.add_argument("--echo-client", required=True)
    parser.add_argument("--http-hello", required=True)
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--wrk", default="wrk")
    args = parser.parse_args()
    args.wrk = shutil.which(args.wrk)
    for tool, path in (("wrk", args.wrk), ("curl", shutil.which("curl")),
                       ("openssl", shutil.which("openssl"))):
        if path is None:
            print(f"skipped: {tool} is not installed (scripts/setup.sh installs it)")
            return SKIP
    with tempfile.TemporaryDirectory(prefix="corio-tls-") as certs:
        subprocess.run(["bash", args.certs, certs], check=True, capture_output=True)
        start = time.monotonic()
        problems = check_echo(args, certs)
        problems += check_http(args, certs)
        print(f"checked in {time.monotonic() - start:.1f} s")
    for p in problems:
        print(p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
