"""Write small RGB-D sequences in the TUM RGB-D, 7-Scenes and Redwood/Open3D layouts (for the tests), rendered
from the benchmark's box room with the realistic noise model of :mod:`robomem.datasets.noise`."""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from robomem.core.types import CameraIntrinsics
from robomem.datasets.noise import SensorNoise, apply_noise

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
common = importlib.import_module("benchmarks.common")

T0 = 1_305_031_102.0


@dataclass
class RecordedFrame:
    rgb: np.ndarray  # noisy uint8 RGB (misregistered, JPEG-degraded)
    depth_mm: np.ndarray  # uint16 mm, 0 / 65535 invalid
    pose: np.ndarray  # 4x4, slightly non-orthonormal
    clean_pose: np.ndarray
    clean_depth: np.ndarray  # float32 m


def record(n: int = 6, width: int = 80, height: int = 60, seed: int = 0, noise: SensorNoise = SensorNoise(),
           loops: float = 0.2) -> tuple[list[RecordedFrame], CameraIntrinsics, object]:
    """``n`` noisy frames along a fifth of the benchmark trajectory (neighbouring views overlap)."""
    scene = common.make_scene(seed, n_boxes=8)
    intr = common.default_intrinsics(width, height)
    rng = np.random.default_rng(seed)
    out = []
    for T in common.trajectory(n, loops=loops):
        rgb, depth, _ = common.render(scene, T, intr)
        c, d, p = apply_noise(rgb, depth, T, intr.fx, noise, rng)
        out.append(RecordedFrame(c, d, p, T, depth))
    return out, intr, scene


def _png(path: Path, img: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if img.ndim == 3:
        img = cv2.cvtColor(img, cv2.COLOR_RGB2BGR)
    assert cv2.imwrite(str(path), img)


def _quat(R: np.ndarray) -> tuple[float, float, float, float]:
    from robomem.core.geometry import matrix_to_quaternion

    return matrix_to_quaternion(R)


def write_tum(root: Path, frames: Sequence[RecordedFrame], *, drop_depth: Sequence[int] = (),
              drop_pose: Sequence[int] = ()) -> list[float]:
    """TUM layout, depth at 5000 units/m; colour stamps 30 Hz, depth 4 ms later, ground truth at 100 Hz around
    them. Returns the colour stamps (s)."""
    root.mkdir(parents=True, exist_ok=True)
    rgb_lines, depth_lines, gt_lines = ["# color images"], ["# depth maps"], ["# timestamp tx ty tz qx qy qz qw"]
    stamps = []
    for i, f in enumerate(frames):
        t = T0 + i / 30.0
        stamps.append(t)
        _png(root / "rgb" / f"{t:.6f}.png", f.rgb)
        rgb_lines.append(f"{t:.6f} rgb/{t:.6f}.png")
        if i not in drop_depth:
            td = t + 0.004
            d = f.depth_mm.astype(np.uint32) * 5
            d = np.where(f.depth_mm == 65535, 65535, np.minimum(d, 65534)).astype(np.uint16)
            _png(root / "depth" / f"{td:.6f}.png", d)
            depth_lines.append(f"{td:.6f} depth/{td:.6f}.png")
        if i not in drop_pose:
            for dt in (-0.005, 0.005):  # two samples bracketing the frame, same pose (static between them)
                qx, qy, qz, qw = _quat(f.clean_pose[:3, :3])
                x, y, z = f.clean_pose[:3, 3]
                gt_lines.append(f"{t + dt:.4f} {x:.4f} {y:.4f} {z:.4f} {qx:.4f} {qy:.4f} {qz:.4f} {qw:.4f}")
    (root / "rgb.txt").write_text("\n".join(rgb_lines) + "\n")
    (root / "depth.txt").write_text("\n".join(depth_lines) + "\n")
    (root / "groundtruth.txt").write_text("\n".join(gt_lines) + "\n")
    return stamps


def write_7scenes(root: Path, frames: Sequence[RecordedFrame], jpeg_colour: bool = True) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for i, f in enumerate(frames):
        ext = "jpg" if jpeg_colour else "png"
        _png(root / f"frame-{i:06d}.color.{ext}", f.rgb)
        _png(root / f"frame-{i:06d}.depth.png", f.depth_mm)
        np.savetxt(root / f"frame-{i:06d}.pose.txt", f.pose, fmt="%.7e", delimiter="\t")


def write_redwood(root: Path, frames: Sequence[RecordedFrame], intr: CameraIntrinsics) -> None:
    import json

    lines = []
    for i, f in enumerate(frames):
        _png(root / "color" / f"{i:06d}.jpg", f.rgb)
        _png(root / "depth" / f"{i:06d}.png", f.depth_mm)
        lines.append(f"{i} {i} {i + 1}")
        lines += [" ".join(f"{v:.8f}" for v in row) for row in f.pose]
    (root / "trajectory.log").write_text("\n".join(lines) + "\n")
    K = [intr.fx, 0, 0, 0, intr.fy, 0, intr.cx, intr.cy, 1]
    (root / "camera_intrinsic.json").write_text(json.dumps({"width": intr.width, "height": intr.height,
                                                            "intrinsic_matrix": K}))
