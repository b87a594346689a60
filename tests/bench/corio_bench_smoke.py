#!/usr/bin/env python3
"""Smoke test of one corio-bench subcommand: a short run on every backend that opens.

  corio_bench_smoke.py CORIO_BENCH COMMAND

Runs `CORIO_BENCH COMMAND --backend all --duration 0.2 --warmup 0.05 --conns 2 --json`
and checks the report: the command echoed, one row per backend (each a known name, none
twice), every row with work done (ops > 0 over a positive time) and no errors. It proves
the subcommand runs end to end and reports, not how fast: the numbers are not judged.
"""
import json
import subprocess
import sys

KNOWN_BACKENDS = {"io_uring", "epoll", "poll", "kqueue", "iocp"}


def fail(why, done=None):
    print(f"corio-bench smoke: {why}")
    if done is not None:
        print(f"exit {done.returncode}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr}")
    sys.exit(1)


def main(argv):
    if len(argv) != 3:
        sys.exit(__doc__)
    bench, command = argv[1], argv[2]
    args = [bench, command, "--backend", "all", "--duration", "0.2", "--warmup", "0.05",
            "--conns", "2", "--json"]
    done = subprocess.run(args, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        fail(f"{' '.join(args[1:])} failed", done)
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError as e:
        fail(f"the --json output does not parse: {e}", done)
    if report.get("command") != command:
        fail(f"the report names command {report.get('command')!r}", done)
    rows = report.get("results", [])
    if not rows:
        fail("no backend reported", done)
    names = [row.get("backend") for row in rows]
    if len(set(names)) != len(names) or not set(names) <= KNOWN_BACKENDS:
        fail(f"backends {names}: unknown or repeated", done)
    for row in rows:
        if row.get("ops", 0) <= 0 or row.get("seconds", 0) <= 0:
            fail(f"{row['backend']}: no work measured ({row})", done)
        if row.get("errors", 0) != 0:
            fail(f"{row['backend']}: {row['errors']} errors", done)
    for row in rows:
        print(f"{command} {row['backend']}: {row['ops']} ops in {row['seconds']:.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
