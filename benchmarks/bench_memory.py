"""Memory-level benchmarks (the memory-core issue's "done when" figures), each against a same-process baseline.

1. locate latency over >= 1M voxels and >= 10k instances: ``memory.locate(feature=...)`` p50/p95 vs. a numpy
   brute-force scan of the same instance features; and ``locate(text)`` including text encoding.
2. memory size after N frames of a static scene vs after N/10 (target: < 5% growth).
3. full ingest rate (geometry + segments + features + graph + keyframes) on rendered 640x480 frames.

Usage: python benchmarks/bench_memory.py [--voxels 1000000 --instances 10000 --frames 10000 --width 640 --height 480]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import default_intrinsics, make_frames, make_scene, trajectory  # noqa: E402

from robomem.config import EncoderConfig, MemoryConfig  # noqa: E402
from robomem.core.memory import SpatioSemanticMemory  # noqa: E402
from robomem.core.objects import SegmentObservation  # noqa: E402
from robomem.core.types import NodeKind  # noqa: E402
from robomem.encoders.base import create_encoder  # noqa: E402

COLOURS = ["red", "blue", "green", "yellow", "black", "white", "orange", "purple", "grey", "brown"]
MATERIALS = ["ceramic", "plastic", "metal", "wooden", "glass", "paper", "fabric", "rubber"]
CATEGORIES = ["mug", "book", "keys", "apple", "remote", "plate", "bottle", "phone", "lamp", "pillow",
              "bowl", "cup", "vase", "toy", "shoe", "hat", "pen", "laptop", "glasses", "wallet"]


def _pct(xs: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(xs), q))


def bench_locate(n_voxels: int, n_instances: int, encoder_name: str, n_queries: int) -> None:
    encoder = create_encoder(EncoderConfig(backend=encoder_name))
    mem = SpatioSemanticMemory(MemoryConfig(), encoder)
    rng = np.random.default_rng(0)
    # voxels: integrate random surface points in chunks (each point its own voxel at 5 cm)
    t = time.perf_counter()
    side = int(np.ceil(n_voxels ** (1 / 3)))
    grid = np.stack(np.meshgrid(*(np.arange(side),) * 3, indexing="ij"), -1).reshape(-1, 3)[:n_voxels]
    pts = (grid * 0.05 + 0.025).astype(np.float32)
    chunk = 200_000
    for i in range(0, len(pts), chunk):
        p = torch.from_numpy(pts[i : i + chunk])
        mem.voxels.integrate(p, torch.full((len(p), 3), 128, dtype=torch.uint8), 1 + i)
    # instances: labelled segments spread over a large house
    labels = [f"{rng.choice(COLOURS)} {rng.choice(MATERIALS)} {rng.choice(CATEGORIES)}" for _ in range(n_instances)]
    uniq = sorted(set(labels))
    table = dict(zip(uniq, encoder.encode_text(uniq)))
    centres = rng.uniform(0, 200, size=(n_instances, 3)).astype(np.float32)
    segs = [
        SegmentObservation(j, labels[j], NodeKind.OBJECT, centres[j] + rng.normal(0, 0.03, (30, 3)).astype(np.float32),
                           table[labels[j]])
        for j in range(n_instances)
    ]
    for i in range(0, n_instances, 1000):
        res = mem.objects.assign(segs[i : i + 1000], 10**9 + i)
        mem.state.pending.dirty_instances.update(res.segment_to_instance.values())
    mem.sync_indices()
    build_s = time.perf_counter() - t
    print(f"built memory: {len(mem.voxels):,} voxels, {len(mem.objects):,} instances in {build_s:.1f} s")
    assert len(mem.voxels) >= n_voxels * 0.99 and len(mem.objects) >= n_instances * 0.99

    queries = [f"{rng.choice(COLOURS)} {rng.choice(CATEGORIES)}" for _ in range(n_queries)]
    q_feats = encoder.encode_text(queries)
    feats = np.stack([mem.objects.get(i).feature for i in sorted(mem.objects._instances)])  # type: ignore[misc]
    mem.locate(feature=q_feats[0])  # warm-up
    ours, brute, with_text = [], [], []
    agree = 0
    for qi, f in enumerate(q_feats):
        t0 = time.perf_counter()
        res = mem.locate(feature=f, k=5)
        ours.append((time.perf_counter() - t0) * 1e3)
        t0 = time.perf_counter()
        scores = feats @ f
        top = np.argpartition(-scores, 5)[:5]
        top = top[np.argsort(-scores[top])]
        brute.append((time.perf_counter() - t0) * 1e3)
        if res.matches and np.isclose(res.matches[0].score, scores[top[0]], atol=1e-4):
            agree += 1
        t0 = time.perf_counter()
        mem.locate(queries[qi] + " please", k=5)  # uncached text -> encoder runs
        with_text.append((time.perf_counter() - t0) * 1e3)
    print(f"locate(feature) over {len(mem.objects):,} instances / {len(mem.voxels):,} voxels: "
          f"p50 {_pct(ours, 50):.2f} ms  p95 {_pct(ours, 95):.2f} ms  (target p95 < 10 ms)")
    print(f"numpy brute-force top-5 baseline: p50 {_pct(brute, 50):.2f} ms  p95 {_pct(brute, 95):.2f} ms  "
          f"ratio ours/brute p50 = {_pct(ours, 50) / max(_pct(brute, 50), 1e-9):.2f}x (ours includes summaries)")
    print(f"top-1 agreement with brute force: {agree}/{len(q_feats)}")
    print(f"locate(text) incl. {encoder_name} text encoding: p50 {_pct(with_text, 50):.2f} ms  "
          f"p95 {_pct(with_text, 95):.2f} ms")


def bench_static_growth(n_frames: int, width: int, height: int, encoder_name: str) -> None:
    encoder = create_encoder(EncoderConfig(backend=encoder_name))
    scene = make_scene(seed=0)
    frames = make_frames(scene, trajectory(8), default_intrinsics(width, height))  # rendered once
    mem = SpatioSemanticMemory(MemoryConfig(), encoder)
    import dataclasses

    tmp = Path(tempfile.mkdtemp())
    sizes = {}
    t0 = time.perf_counter()
    checkpoints = {max(n_frames // 10, 1), n_frames}
    base = 1_767_254_400 * 10**9
    for i in range(n_frames):
        f = frames[i % len(frames)]
        mem.ingest(dataclasses.replace(f, stamp_ns=base + i * 33_333_333))
        if i + 1 in checkpoints:
            d = mem.save(tmp / f"m{i + 1}")
            nbytes = sum(p.stat().st_size for p in d.iterdir())
            sizes[i + 1] = (mem.stats(), nbytes)
    dt = time.perf_counter() - t0
    shutil.rmtree(tmp, ignore_errors=True)
    (n1, (s1, b1)), (n2, (s2, b2)) = sorted(sizes.items())
    print(f"static scene, {width}x{height}, 8 viewpoints cycled, full memory ingest incl. {encoder_name} features: "
          f"{n_frames / dt:.1f} frames/s over {n_frames} frames")
    for key in ("voxels", "instances", "keyframes", "graph_edges", "room_visits"):
        print(f"  {key:17s} after {n1:>6} frames: {s1[key]:>8,}   after {n2:>6} frames: {s2[key]:>8,}")
    growth = (b2 - b1) / b1 * 100
    print(f"  saved size after {n1} frames: {b1 / 1e6:.2f} MB, after {n2}: {b2 / 1e6:.2f} MB -> growth {growth:+.2f}% "
          "(target < 5%)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--voxels", type=int, default=1_000_000)
    ap.add_argument("--instances", type=int, default=10_000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--frames", type=int, default=10_000)
    ap.add_argument("--width", type=int, default=640)
    ap.add_argument("--height", type=int, default=480)
    ap.add_argument("--encoder", default="gt_text", help="gt_text (384-d MiniLM) or hash")
    ap.add_argument("--skip", nargs="*", default=[], choices=["locate", "growth"])
    args = ap.parse_args(argv)
    torch.set_num_threads(max(torch.get_num_threads(), 1))
    if "locate" not in args.skip:
        bench_locate(args.voxels, args.instances, args.encoder, args.queries)
    if "growth" not in args.skip:
        bench_static_growth(args.frames, args.width, args.height, args.encoder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
