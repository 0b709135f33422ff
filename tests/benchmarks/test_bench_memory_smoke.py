"""Smoke-run benchmarks/bench_memory.py with tiny sizes (numbers are not checked: timings live in benchmarks)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


def _load(name: str):
    sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def test_bench_memory_runs_small(capsys):
    mod = _load("bench_memory")
    assert mod.main(["--voxels", "3000", "--instances", "200", "--queries", "5", "--frames", "20",
                     "--width", "80", "--height", "60", "--encoder", "hash"]) == 0
    out = capsys.readouterr().out
    assert "locate(feature) over 200 instances" in out
    assert "growth" in out and "frames/s" in out


def test_bench_retrieval_runs_small(capsys):
    mod = _load("bench_retrieval")
    mod.main(["--n", "3000", "--dim", "32", "--queries", "10", "--threads", "1"])
    out = capsys.readouterr().out
    assert "recall" in out.lower()
