"""benchmarks/bench_ros.py runs end to end with tiny sizes (numbers are not checked: timings live in the
benchmark, the lead runs it full size)."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_bench_ros_smoke(domain_id: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    bench = importlib.import_module("benchmarks.bench_ros")
    out = tmp_path / "bench.json"
    # 5 Hz, not 30: eight BEST_EFFORT frames in a burst can all be lost on a loaded 2-core machine
    assert bench.main(["--smoke", "--frames", "8", "--rate", "5", "--queries", "5", "--flood-s", "2",
                       "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["frames_published"] == 8 and result["server_exit_code"] == 0
    assert 0 < result["frames_ingested_over_ros"] <= 8
    for key in ("ratio_ros_vs_in_process_ingest_hz", "ratio_locate_p50"):
        assert result[key] > 0
    assert result["locate_ros"]["n"] == 5 and result["locate_ros"]["p95_ms"] >= result["locate_ros"]["p50_ms"]
    flood = result["flood"]
    assert flood["flood"]["n"] > 0 and flood["idle"]["n"] > 0 and flood["frames_published"] > 8
    assert flood["flood"]["max_ms"] >= flood["flood"]["p95_ms"] > 0 and flood["flood"]["errors"] == 0
    assert '"frames_ingested_over_ros"' in capsys.readouterr().out


def test_bench_ros_variants_parse() -> None:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    bench = importlib.import_module("benchmarks.bench_ros")
    assert bench.parse_variant("new=") == ("new", [], "default")
    assert bench.parse_variant("before=service_threads=4,client=legacy,ingest_nice=0") == (
        "before", ["service_threads=4", "ingest_nice=0"], "legacy")
    with pytest.raises(SystemExit, match="not NAME=VALUE"):
        bench.parse_variant("x=service_threads")
