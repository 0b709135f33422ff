"""Geometry ingest of :class:`robomem.core.voxel_map.VoxelMap` on realistic noisy RGB-D: map quality and rate
against Open3D's TSDF integration of the same frames, in the same process.

Frames are rendered from the benchmark's box room (``benchmarks/common.py``) along a two-loop trajectory and
degraded by the Kinect-like noise model of :mod:`robomem.datasets.noise` (axial noise growing with z^2, flying
pixels at depth edges, 0 / 65535 invalid depth, colour/depth misregistration of 15-31 px at 2-1 m, JPEG colour,
rotations orthonormal only to ~4e-4, re-orthonormalised as ``ingest-dir`` does). Both sides get the same uint16
depth images:

* Open3D ``VoxelBlockGrid`` TSDF (5 cm voxels, full resolution): the reference surface (zero crossings with
  weight >= 3) and the reference rate;
* robomem (depth-edge filter + backproject + carve + integrate, the memory's geometry path): frames/s for removal
  on/off (on: carving at most every ``removal_min_interval_s`` = 0.1 s, the default; also shown carving every
  frame) and pixel stride 2/1, and the map's **coverage** (share of the TSDF surface with a supported robomem
  voxel within 5 cm) and **precision** (share of supported robomem voxels within 5 cm of the TSDF surface). Both
  maps are also scored against the true (noise-free) scene surface.

    python benchmarks/bench_ingest.py                   # 640x480, 120 frames, best of 3 (targets apply here)
    python benchmarks/bench_ingest.py --no-noise        # clean renders
    python benchmarks/bench_ingest.py --frames 4 --width 64 --height 48 --repeats 1   # smoke run

The same noisy frames can be written as a recorded sequence in a published layout, to see what ``robomem
ingest-dir`` does with it (the command to run is printed)::

    python benchmarks/bench_ingest.py --frames 250 --write-sequence /tmp/seq --format tum
    robomem ingest-dir /tmp/seq --format tum --out /tmp/mem --compare-tsdf --intrinsics 512.0,512.0,319.5,239.5

Targets (noisy, 640x480, stride 2, removal on): coverage >= 90 %, precision >= 90 %, rate >= 0.3x the TSDF's.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import default_intrinsics, make_scene, render, trajectory  # noqa: E402
from robomem.config import VoxelConfig  # noqa: E402
from robomem.core.geometry import backproject  # noqa: E402
from robomem.core.types import CameraIntrinsics  # noqa: E402
from robomem.core.voxel_map import VoxelMap  # noqa: E402
from robomem.datasets.base import reorthonormalise  # noqa: E402
from robomem.datasets.noise import SensorNoise, apply_noise  # noqa: E402
from robomem.datasets.tsdf_reference import TsdfReference, nearest_distances, surface_metrics  # noqa: E402

T0_NS = 1_700_000_000_000_000_000
DT_NS = 33_333_333
DEPTH_SCALE = 0.001
TOL = 0.05


@dataclass
class BenchFrame:
    depth_u16: np.ndarray  # (H, W) uint16 mm, 0 / 65535 invalid
    depth_u16_t: torch.Tensor
    rgb: np.ndarray  # (H, W, 3) uint8
    rgb_flat: torch.Tensor  # (H*W, 3) uint8
    pose: np.ndarray  # (4, 4) float64 world_T_camera (re-orthonormalised)
    pose_t: torch.Tensor
    stamp_ns: int
    o3d: tuple[object, object, object, object, float]  # the same frame as Open3D tensors


def render_frames(n: int, width: int, height: int, seed: int, noise: Optional[SensorNoise], dynamic: bool
                  ) -> tuple[list[BenchFrame], CameraIntrinsics, object]:
    scene = make_scene(seed)
    removed = scene.without(b.name for b in scene.boxes[::4]) if dynamic else scene
    intr = default_intrinsics(width, height)
    rng = np.random.default_rng(seed)
    ref = TsdfReference(0.05)
    frames = []
    for i, T in enumerate(trajectory(n, loops=2)):
        rgb, depth, _ids = render(scene if i < n // 2 else removed, T, intr)
        if noise is not None:
            rgb, depth_mm, pose = apply_noise(rgb, depth, T, intr.fx, noise, rng)
            pose = reorthonormalise(pose)
        else:
            depth_mm = np.where(depth > 0, np.round(depth * 1000), 0).astype(np.uint16)
            pose = np.asarray(T, dtype=np.float64)
        depth_mm = np.where(depth_mm == 65535, 0, depth_mm).astype(np.uint16)  # ingest-dir / check_frame do this
        frames.append(BenchFrame(
            depth_u16=depth_mm, depth_u16_t=torch.from_numpy(depth_mm.astype(np.int32)),
            rgb=rgb, rgb_flat=torch.from_numpy(rgb.reshape(-1, 3).copy()),
            pose=pose, pose_t=torch.from_numpy(pose.astype(np.float32)), stamp_ns=T0_NS + i * DT_NS,
            o3d=ref.prepare(depth_mm, rgb, intr, pose, DEPTH_SCALE),
        ))
    return frames, intr, removed


def write_recorded(args: argparse.Namespace, noise: Optional[SensorNoise]) -> int:
    """``--write-sequence``: the benchmark's noisy frames as a recorded sequence in layout ``--format``."""
    from robomem.datasets.writers import RecordedFrame, write_sequence

    scene = make_scene(args.seed)
    intr = default_intrinsics(args.width, args.height)
    rng = np.random.default_rng(args.seed)
    frames = []
    for T in trajectory(args.frames, loops=2):
        rgb, depth, _ids = render(scene, T, intr)
        if noise is not None:
            rgb, depth_mm, pose = apply_noise(rgb, depth, T, intr.fx, noise, rng)
        else:
            depth_mm, pose = np.where(depth > 0, np.round(depth * 1000), 0).astype(np.uint16), T
        frames.append(RecordedFrame(rgb, depth_mm, pose, T, depth))
    out = Path(args.write_sequence)
    extra = write_sequence(args.format, out, frames, intr)
    print(f"wrote {len(frames)} frames ({args.width}x{args.height}) in the {args.format} layout to {out}; run\n"
          f"  robomem ingest-dir {out} --format {args.format} --out MEMORY_DIR --compare-tsdf {' '.join(extra)}")
    return 0


def run_ours(frames: Sequence[BenchFrame], intr: CameraIntrinsics, cfg: VoxelConfig) -> tuple[float, VoxelMap, int]:
    """Ingest all frames into a fresh map as the memory does; returns (seconds, map, voxels removed)."""
    vm = VoxelMap(cfg, feature_dim=0, device=torch.device("cpu"))
    removed = 0
    t = time.perf_counter()
    for f in frames:
        depth = f.depth_u16_t.to(torch.float32) * DEPTH_SCALE
        depth = vm.filter_depth(depth)
        pts, pix, _, _ = backproject(depth, intr, f.pose_t, cfg.pixel_stride, cfg.min_depth, cfg.max_depth)
        if cfg.removal:
            removed += len(vm.carve(depth, intr, f.pose_t, f.stamp_ns).removed_uids)
        vm.integrate(pts, f.rgb_flat.index_select(0, pix), f.stamp_ns)
    return time.perf_counter() - t, vm, removed


def run_open3d(frames: Sequence[BenchFrame], depth_max: float) -> tuple[float, TsdfReference]:
    ref = TsdfReference(0.05, depth_max)
    for f in frames:
        ref.integrate_prepared(f.o3d)
    return ref.seconds, ref


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=120, help="frames on the trajectory (default 120)")
    ap.add_argument("--width", type=int, default=640)
    ap.add_argument("--height", type=int, default=480)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=3, help="timed rounds; the best is reported (default 3)")
    ap.add_argument("--no-noise", action="store_true", help="clean renders instead of the realistic noise model")
    ap.add_argument("--dynamic", action="store_true",
                    help="remove a quarter of the boxes half-way (quality is then measured on a changing scene)")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch intra-op threads for robomem (default 1: its ops are small, and OpenMP threads "
                         "collapse when cores are shared; 0 = torch's default). Open3D uses its own OpenMP pool.")
    ap.add_argument("--write-sequence", default="", metavar="DIR",
                    help="write the frames as a recorded sequence in layout --format to DIR and exit (no timing)")
    ap.add_argument("--format", default="tum", choices=("tum", "7scenes", "redwood", "scannet"),
                    help="layout for --write-sequence (default tum)")
    args = ap.parse_args(argv)
    if args.frames < 2 or args.repeats < 1:
        ap.error("--frames must be >= 2 and --repeats >= 1")
    if args.write_sequence:
        return write_recorded(args, None if args.no_noise else SensorNoise())
    threads_before = torch.get_num_threads()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    try:
        return _run(args)
    finally:
        torch.set_num_threads(threads_before)


def _run(args: argparse.Namespace) -> int:
    noise = None if args.no_noise else SensorNoise()
    print(f"rendering {args.frames} {'clean' if noise is None else 'noisy'} frames at {args.width}x{args.height} "
          f"({'dynamic' if args.dynamic else 'static'} scene) ...", flush=True)
    frames, intr, scene = render_frames(args.frames, args.width, args.height, args.seed, noise, args.dynamic)
    base = VoxelConfig(device="cpu")
    configs = [VoxelConfig(pixel_stride=s, removal=r, device="cpu") for s in (2, 1) for r in (True, False)]
    configs.append(VoxelConfig(device="cpu", removal_min_interval_s=0.0))  # carving every frame (30 Hz)

    # warm-up (allocator, ray caches, OpenMP pools) on a couple of frames, not timed
    run_ours(frames[:2], intr, base)
    run_open3d(frames[:2], base.max_depth)

    # best of --repeats rounds; each round runs the baseline and every config back to back, so a busy
    # machine slows them alike
    best_o3d, ref = math.inf, None
    best: dict[int, tuple[float, VoxelMap, int]] = {}  # config index -> (seconds, map, removed)
    for _ in range(args.repeats):
        t_o3d, ref = run_open3d(frames, base.max_depth)
        best_o3d = min(best_o3d, t_o3d)
        for i, cfg in enumerate(configs):
            t, vm, removed = run_ours(frames, intr, cfg)
            if i not in best or t < best[i][0]:
                best[i] = (t, vm, removed)
    assert ref is not None
    surface = ref.surface()

    def truth_precision(points: np.ndarray) -> float:
        if len(points) == 0:
            return 0.0
        import open3d as o3d

        d = scene.raycaster.compute_distance(o3d.core.Tensor(points.astype(np.float32))).numpy()  # type: ignore
        return float(np.mean(d <= TOL))

    n = len(frames)
    fps_o3d = n / best_o3d
    print(f"best of {args.repeats} round(s), {n} frames, torch threads {torch.get_num_threads()}")
    print(f"open3d VoxelBlockGrid TSDF (0.05 m, full res): {fps_o3d:8.1f} frames/s  ({len(surface)} surface points, "
          f"{100 * truth_precision(surface):.1f} % within 5 cm of the true surface)")
    print(f"{'config':34s} {'frames/s':>9s} {'ms/frame':>9s} {'voxels':>8s} {'removed':>8s} {'ours/open3d':>12s} "
          f"{'coverage':>9s} {'precision':>10s} {'vs truth':>9s}")
    for i, cfg in enumerate(configs):
        t, vm, removed = best[i]
        fps = n / t
        pts = vm.surface_points().numpy()
        m = surface_metrics(pts, surface, TOL)
        tag = f"stride={cfg.pixel_stride} removal={'on' if cfg.removal else 'off'}"
        if cfg.removal and cfg.removal_min_interval_s == 0:
            tag += " every-frame"
        print(f"{'robomem ' + tag:34s} {fps:9.1f} {1e3 * t / n:9.2f} {len(pts):8d} {removed:8d} {fps / fps_o3d:12.2f} "
              f"{100 * m.coverage:8.1f}% {100 * m.precision:9.1f}% {100 * truth_precision(pts):8.1f}%")
        print(f"ratio ours/open3d [{tag}]: {fps / fps_o3d:.2f}")
        print(f"quality [{tag}]: coverage {100 * m.coverage:.1f} % precision {100 * m.precision:.1f} % at 5 cm "
              f"(all voxels incl. unsupported: {len(vm)}; within 5 cm of the TSDF: "
              f"{100 * float(np.mean(nearest_distances(vm.positions.numpy(), surface) <= TOL)):.1f} %)")
    t, vm, _ = best[0]
    m = surface_metrics(vm.surface_points().numpy(), surface, TOL)
    ratio = (n / t) / fps_o3d
    full_size = (args.width, args.height) == (640, 480)
    where = "" if full_size else f" (at {args.width}x{args.height}, not the target size 640x480)"
    verdict = "met" if (m.coverage >= 0.9 and m.precision >= 0.9 and ratio >= 0.3) else "NOT met"
    print(f"targets (stride=2 removal=on{', noisy' if noise else ', clean'}): coverage {100 * m.coverage:.1f} % "
          f"(>= 90), precision {100 * m.precision:.1f} % (>= 90), rate {ratio:.2f}x TSDF (>= 0.3): {verdict}{where}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
