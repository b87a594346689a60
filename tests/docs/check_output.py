#!/usr/bin/env python3
"""Runs a docs snippet program and compares what it prints with the page's output comment.

  check_output.py PROGRAM EXPECTED_FILE

Exits 0 when stdout equals the expected text line for line (trailing spaces ignored);
otherwise prints both and exits 1.
"""
import subprocess
import sys


def lines(text):
    return [line.rstrip() for line in text.strip("\n").splitlines()]


def main(argv):
    if len(argv) != 3:
        sys.exit(__doc__)
    program, expected_file = argv[1], argv[2]
    with open(expected_file, encoding="utf-8") as f:
        expected = lines(f.read())
    done = subprocess.run([program], capture_output=True, text=True, timeout=60)
    got = lines(done.stdout)
    if done.returncode != 0 or got != expected:
        print(f"{program} exited {done.returncode}")
        print("expected:\n  " + "\n  ".join(expected))
        print("got:\n  " + "\n  ".join(got))
        if done.stderr:
            print("stderr:\n" + done.stderr)
        return 1
    print("\n".join(got))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
