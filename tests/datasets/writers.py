"""Render small noisy RGB-D sequences for the dataset tests (the benchmark's box room, the realistic noise model of
:mod:`robomem.datasets.noise`); the layouts themselves are written by :mod:`robomem.datasets.writers`."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

from robomem.core.types import CameraIntrinsics
from robomem.datasets.noise import SensorNoise, apply_noise
from robomem.datasets.writers import RecordedFrame, write_7scenes, write_redwood, write_scannet, write_tum

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
common = importlib.import_module("benchmarks.common")

__all__ = ["RecordedFrame", "record", "write_7scenes", "write_redwood", "write_scannet", "write_tum"]


def record(n: int = 6, width: int = 80, height: int = 60, seed: int = 0, noise: SensorNoise = SensorNoise(),
           loops: float = 0.2) -> tuple[list[RecordedFrame], CameraIntrinsics, object]:
    """``n`` noisy frames along a fifth of the benchmark trajectory (neighbouring views overlap)."""
    import numpy as np

    scene = common.make_scene(seed, n_boxes=8)
    intr = common.default_intrinsics(width, height)
    rng = np.random.default_rng(seed)
    out = []
    for T in common.trajectory(n, loops=loops):
        rgb, depth, _ = common.render(scene, T, intr)
        c, d, p = apply_noise(rgb, depth, T, intr.fx, noise, rng)
        out.append(RecordedFrame(c, d, p, T, depth))
    return out, intr, scene
