#!/usr/bin/env python3
"""Writes every ```cpp block of the given Markdown files out as a C++ source file, so the
build compiles what the docs show (tests/docs/CMakeLists.txt).

  extract_snippets.py OUT_DIR FILE.md...

A block with `int main(` is a whole program and is written as it stands. Any other block
is a fragment of a coroutine body: it goes inside one, after snippet_prelude.hpp (which
declares the names fragments use without declaring them: `ctx`, `handler`).

An HTML comment right after a whole program's block gives what the program prints, so
the test can run it and compare (invisible on the rendered page):

    <!-- output
    hello
    -->

OUT_DIR receives NAME.cpp per block (NAME is the file's stem and the block's number, as
README_1), NAME.expected for those with an output comment, and snippets.cmake, which sets
CORIO_DOC_SNIPPETS (every NAME) and CORIO_DOC_SNIPPETS_RUN (those with an output) for
CMake to include. Files whose content did not change are left alone, so a rerun at
configure time rebuilds nothing.
"""
import os
import re
import sys

BLOCK = re.compile(r"^```cpp\n(.*?)^```\n(?:\s*<!-- output\n(.*?)-->)?", re.S | re.M)


def write_if_changed(path, text):
    try:
        with open(path, encoding="utf-8") as f:
            if f.read() == text:
                return
    except FileNotFoundError:
        pass
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def fragment_program(source, origin):
    body = "".join("    " + line if line.strip() else line for line in source.splitlines(True))
    return (
        f"// {origin}: a fragment of a coroutine body, compiled as one.\n"
        '#include "snippet_prelude.hpp"\n\n'
        "corio::Coro<void> snippet([[maybe_unused]] corio::TlsContext& ctx) {\n"
        "  {\n"
        f"{body}"
        "  }\n"
        "  co_return;\n"
        "}\n\n"
        "int main() {}\n"
    )


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    out_dir, files = argv[1], argv[2:]
    os.makedirs(out_dir, exist_ok=True)
    names, run = [], []
    for md in files:
        with open(md, encoding="utf-8") as f:
            text = f.read()
        stem = os.path.splitext(os.path.basename(md))[0]
        for i, m in enumerate(BLOCK.finditer(text)):
            name = f"{stem}_{i}"
            line = text.count("\n", 0, m.start()) + 1
            origin = f"{os.path.basename(md)}:{line}"
            source, output = m.group(1), m.group(2)
            if "int main(" in source:
                program = f"// {origin}, as the page shows it.\n{source}"
            else:
                if output is not None:
                    sys.exit(f"{origin}: only a whole program (with main) can have an output")
                program = fragment_program(source, origin)
            write_if_changed(os.path.join(out_dir, name + ".cpp"), program)
            names.append(name)
            if output is not None:
                write_if_changed(os.path.join(out_dir, name + ".expected"), output)
                run.append(name)
    listing = (
        f"set(CORIO_DOC_SNIPPETS {' '.join(names)})\n"
        f"set(CORIO_DOC_SNIPPETS_RUN {' '.join(run)})\n"
    )
    write_if_changed(os.path.join(out_dir, "snippets.cmake"), listing)


if __name__ == "__main__":
    main(sys.argv)
