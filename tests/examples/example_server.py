"""Starts an example server (echo_server, http_hello) as a child process for the
Python-driven tests, reads its port, and stops it with a signal.

Exit code 77 (ctest's SKIP_RETURN_CODE) means the requested backend does not open on
this machine.
"""

import os
import select
import signal
import subprocess
import sys
import time

SKIP = 77


class ExampleServer:
    def __init__(self, binary, backend, extra_args=(), threads=None):
        self.backend = backend
        self.threads = threads
        if threads is not None:
            extra_args = [*extra_args, "--threads", str(threads)]
        self.proc = subprocess.Popen(
            [binary, "--port", "0", "--backend", backend, *extra_args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            # Unbuffered: select() must see every byte that readline() has not taken.
            bufsize=0)
        self.stdout_lines = []
        self.port = self._read_port()

    def _readline(self, guard=60.0):
        """One stdout line, or None at end of output / after the hang guard."""
        ready, _, _ = select.select([self.proc.stdout], [], [], guard)
        if not ready:
            return None
        line = self.proc.stdout.readline()
        if not line:
            return None
        line = line.decode(errors="replace").rstrip("\n")
        self.stdout_lines.append(line)
        return line

    def _read_port(self):
        while True:
            line = self._readline()
            if line is None:
                self.proc.kill()
                _, err = self.proc.communicate()
                err = err.decode(errors="replace")
                if "backend" in err and self.proc.returncode == 1:
                    print(f"skipped: {err.strip()}")
                    sys.exit(SKIP)
                sys.exit(f"the server never printed its port:\n{err}")
            if line.startswith("listening on "):
                return int(line.rsplit(":", 1)[1])

    def stop(self, sig=signal.SIGINT, guard=60.0):
        """Signals the server; returns the list of problems seen (empty if all is well)."""
        problems = []
        self.proc.send_signal(sig)
        try:
            out, err = self.proc.communicate(timeout=guard)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
            problems.append("the server did not stop after the signal")
        self.stdout_lines += out.decode(errors="replace").splitlines()
        if self.proc.returncode != 0:
            problems.append(f"exit code {self.proc.returncode}, stderr:\n"
                            f"{err.decode(errors='replace')}")
        if not self.stdout_lines or self.stdout_lines[0] != f"backend: {self.backend}":
            problems.append(f"first line is not 'backend: {self.backend}': "
                            f"{self.stdout_lines[:1]}")
        if not any(l.startswith("summary: ") for l in self.stdout_lines):
            problems.append("no summary line")
        if self.threads is not None:
            problems += self._thread_problems()
        return problems

    def _thread_problems(self):
        """With --threads N: the server says so, and every loop accepted connections
        (SO_REUSEPORT spreads them by a hash of the client's port, so with dozens of
        connections an idle loop means its listener never took part)."""
        problems = []
        if f"threads: {self.threads}" not in self.stdout_lines:
            problems.append(f"no 'threads: {self.threads}' line")
        if self.threads > 1:
            per_loop = [l for l in self.stdout_lines if l.startswith("loop ")]
            if len(per_loop) != self.threads:
                problems.append(f"{len(per_loop)} per-loop lines for {self.threads} threads")
            for line in per_loop:
                if line.split(": ", 1)[1].startswith("0 connections"):
                    problems.append(f"a loop accepted nothing: {line}")
        return problems
