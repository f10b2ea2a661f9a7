"""Shared helpers for the benchmark scripts: timing and RESULTS.md sections.

Each benchmark owns one section of ``benchmarks/RESULTS.md`` between
``<!-- begin:NAME -->`` and ``<!-- end:NAME -->`` markers and rewrites only that.
"""

from __future__ import annotations

import platform
import re
import time
from pathlib import Path

RESULTS = Path(__file__).with_name("RESULTS.md")


def best_of(fn, repeat: int = 5, warmup: int = 1, sync=None) -> float:
    """Best wall-clock seconds of ``fn()`` over ``repeat`` runs (after ``warmup``)."""
    for _ in range(warmup):
        fn()
        if sync:
            sync()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        if sync:
            sync()
        times.append(time.perf_counter() - t0)
    return min(times)


def machine() -> str:
    import os

    cpu = platform.processor() or platform.machine()
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def write_section(name: str, markdown: str) -> None:
    """Replace (or append) the section ``name`` of RESULTS.md with ``markdown``."""
    header = ("# Benchmark results\n\nEach section is written by the script named in it. "
              "Ratios > 1 mean mmscratch is slower than the reference.\n")
    text = RESULTS.read_text() if RESULTS.exists() else header
    begin, end = f"<!-- begin:{name} -->", f"<!-- end:{name} -->"
    block = f"{begin}\n{markdown.rstrip()}\n{end}"
    pattern = re.compile(re.escape(begin) + ".*?" + re.escape(end), re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: block, text)
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    RESULTS.write_text(text)
