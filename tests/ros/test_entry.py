"""The node entry points limit glibc's malloc arenas before any thread exists (bounded RSS under image
streams; the soak benchmark measures the effect). Checked with glibc's own per-arena statistics."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

PROBE = r"""
import ctypes, threading
from robomem.ros.entry import tune_malloc
print("limit", tune_malloc(), flush=True)
def churn():
    for _ in range(200):
        bytearray(1 << 20)
threads = [threading.Thread(target=churn) for _ in range(6)]
[t.start() for t in threads]
[t.join() for t in threads]
ctypes.CDLL("libc.so.6").malloc_stats()
"""


def _arenas(env: dict[str, str]) -> tuple[str, int]:
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60,
                         env={k: v for k, v in {**os.environ, **env}.items() if v is not None})
    assert out.returncode == 0, out.stderr
    return out.stdout.strip(), sum(line.startswith("Arena ") for line in out.stderr.splitlines())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_one_malloc_arena_by_default_and_opt_out() -> None:
    base = {"MALLOC_ARENA_MAX": None}
    limit, arenas = _arenas({**base, "ROBOMEM_MALLOC_ARENA_MAX": None})
    assert limit == "limit 1" and arenas == 1
    limit, arenas = _arenas({**base, "ROBOMEM_MALLOC_ARENA_MAX": "0"})
    assert limit == "limit None" and arenas > 1  # glibc's default: an arena per thread here
    limit, _ = _arenas({"MALLOC_ARENA_MAX": "2", "ROBOMEM_MALLOC_ARENA_MAX": None})
    assert limit == "limit None"  # glibc read the user's own setting at start
