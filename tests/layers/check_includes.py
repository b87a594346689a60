#!/usr/bin/env python3
"""Fails when an include points up design.md's layer stack.

The library's folders form one stack, each layer's private files beside its public
headers:

    coro      coro/      include/corio/coro/
    reactor   reactor/   include/corio/reactor/
    backends  backends/  include/corio/backends/   (the backend contract)
    os        os/        include/corio/os/
    util                 include/corio/util/       (header-only: intrusive lists)

A file may include its own layer and the layers below it, never one above; the
umbrella header include/corio/corio.hpp sits on top of them all. Usage:
check_includes.py SOURCE_DIR (exit 1 and one line per offending include).
"""
import pathlib
import re
import sys

LAYERS = ["util", "os", "backends", "reactor", "coro"]  # bottom to top
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def layer_of(path: str):
    """The layer a repository path or a quoted include names, or None for neither."""
    if path in ("corio/corio.hpp", "include/corio/corio.hpp"):
        return len(LAYERS)
    for rank, name in enumerate(LAYERS):
        if path.startswith((f"{name}/", f"corio/{name}/", f"include/corio/{name}/")):
            return rank
    return None


def main() -> int:
    root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else ".").resolve()
    bad = []
    checked = 0
    for folder in LAYERS + ["include/corio"]:
        for f in sorted((root / folder).rglob("*")):
            if f.suffix not in (".hpp", ".cpp", ".h", ".c"):
                continue
            rel = f.relative_to(root).as_posix()
            own = layer_of(rel)
            if own is None:
                continue
            checked += 1
            for n, line in enumerate(f.read_text(errors="replace").splitlines(), 1):
                m = INCLUDE.match(line)
                if not m:
                    continue
                target = layer_of(m.group(1))
                if target is not None and target > own:
                    bad.append(f"{rel}:{n}: includes {m.group(1)} "
                               f"({LAYERS[target] if target < len(LAYERS) else 'umbrella'} "
                               f"is above {LAYERS[own]})")
    for b in bad:
        print(b)
    print(f"layers: {checked} files checked, {len(bad)} upward includes")
    return 1 if bad or checked == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
