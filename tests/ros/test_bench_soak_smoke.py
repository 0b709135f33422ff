"""benchmarks/bench_soak.py runs end to end with tiny sizes (the RSS figures are not checked here: the soak
itself is the lead's 10-minute run)."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bench_soak_smoke(domain_id: int, tmp_path: Path) -> None:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    bench = importlib.import_module("benchmarks.bench_soak")
    assert bench.main(["--smoke", "--out", str(tmp_path)]) == 0
    result = json.loads((tmp_path / "soak.json").read_text())
    samples = result["samples"]
    assert len(samples) >= 4 and samples[-1]["frames_ingested"] > 0 and result["server_exit_code"] == 0
    assert all(s["rss_mib"] > 50 for s in samples)
    assert result["static_scene"]["instances"] == [3]  # table, mug, book: the scene is static
    g = result["rss_growth_after_warmup"]
    assert g["rss_to_mib"] == samples[-1]["rss_mib"] and "growth_pct" in g
    assert (tmp_path / "soak.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
