"""Smoke-run benchmarks/bench_ingest.py with tiny sizes, and check the shared synthetic scene
(benchmarks/common.py). Numbers are not checked here: timings live in the benchmarks."""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path

import numpy as np
import open3d as o3d
import torch

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

common = importlib.import_module("benchmarks.common")


def test_bench_ingest_runs_small_and_prints_ratios(capsys) -> None:
    bench = importlib.import_module("benchmarks.bench_ingest")
    threads = torch.get_num_threads()
    assert bench.main(["--frames", "4", "--width", "64", "--height", "48", "--repeats", "1"]) == 0
    assert torch.get_num_threads() == threads  # the benchmark restores the thread setting
    out = capsys.readouterr().out
    assert "open3d VoxelBlockGrid TSDF" in out
    ratios = re.findall(r"ratio ours/open3d \[stride=(\d) removal=(on|off)\]: (\d+\.\d+)", out)
    assert sorted((s, r) for s, r, _ in ratios) == [("1", "off"), ("1", "on"), ("2", "off"), ("2", "on")]
    assert all(float(v) > 0 for _, _, v in ratios)


def test_common_scene_renders_consistent_depth_ids_and_masks() -> None:
    scene = common.make_scene(seed=3, n_boxes=8)
    assert len(scene.boxes) == 8 and len(scene.box_of_geometry) == 8
    intr = common.default_intrinsics(64, 48)
    poses = common.trajectory(6, loops=2)
    assert len(poses) == 6
    np.testing.assert_allclose(poses[0], poses[3], atol=1e-9)  # two loops: frame 3 revisits frame 0
    rgb, depth, ids = common.render(scene, poses[0], intr)
    assert rgb.shape == (48, 64, 3) and rgb.dtype == np.uint8
    assert depth.shape == (48, 64) and depth.dtype == np.float32
    assert ids.dtype == np.int32 and np.array_equal(ids < 0, depth == 0)
    # the depth is the z-depth of the true surface (pixel centres at integer coordinates)
    from robomem.core.geometry import backproject

    pts = backproject(torch.from_numpy(depth), intr, torch.from_numpy(poses[0]).float()).points_world
    dist = scene.raycaster.compute_distance(o3d.core.Tensor(pts.numpy())).numpy()
    assert dist.max() < 1e-3
    # box indices are stable when other boxes are removed
    mask = scene.instance_mask(ids)
    seen = sorted({int(i) for i in np.unique(mask) if i >= 0})
    if seen:
        gone = scene.without([scene.boxes[seen[0]].name])
        _, _, ids2 = common.render(gone, poses[0], intr)
        mask2 = gone.instance_mask(ids2)
        assert seen[0] not in set(np.unique(mask2).tolist())
        for i in seen[1:]:  # the others keep their index (and may only become more visible)
            assert (mask2 == i).sum() >= (mask == i).sum() > 0
    frames = common.make_frames(scene, poses[:2], intr)
    assert [f.stamp_ns for f in frames][1] - frames[0].stamp_ns == 100_000_000
    for f in frames:
        labels = set(f.instance_labels)
        assert labels == {int(i) for i in np.unique(f.instance_mask) if i >= 0}
        assert all(f.instance_labels[i] == scene.boxes[i].label for i in labels)
