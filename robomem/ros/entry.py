"""Process entry points of the nodes that stream images (``robomem-memory-server``, ``robomem-ingest-node``).

They tune the process before anything heavy is imported (no thread exists yet): with glibc's default of up to
8 malloc arenas per core, the executor threads and the ingest thread each churn megabyte image buffers in their
own arena and the resident set creeps up by fragmentation on a scene whose memory content is constant (measured:
+4 % in two minutes, still rising, with ``benchmarks/bench_soak.py``); one shared arena keeps it flat at no
measurable cost in ingest rate. ``ROBOMEM_MALLOC_ARENA_MAX`` sets the limit (default 1; 0 = glibc's default); an
explicit ``MALLOC_ARENA_MAX`` in the environment wins. Non-glibc systems are left alone.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from typing import Optional, Sequence

M_ARENA_MAX = -8
"""glibc's mallopt() parameter number for the arena limit (malloc.h)."""


def tune_malloc() -> Optional[int]:
    """Limit glibc's malloc arenas (see the module docstring); returns the limit set, or None."""
    if "MALLOC_ARENA_MAX" in os.environ:
        return None  # glibc read it at start
    try:
        limit = int(os.environ.get("ROBOMEM_MALLOC_ARENA_MAX", "1"))
    except ValueError:
        return None
    if limit <= 0:
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        ok = libc.mallopt(M_ARENA_MAX, limit)
    except (OSError, AttributeError):
        return None
    return limit if ok == 1 else None


def memory_server(argv: Optional[Sequence[str]] = None) -> int:
    tune_malloc()
    from robomem.ros.memory_server import main

    return main(argv)


def ingest_node(argv: Optional[Sequence[str]] = None) -> int:
    tune_malloc()
    from robomem.ros.ingest_node import main

    return main(argv)
