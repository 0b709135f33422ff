"""Write RGB-D sequences in the published layouts read by :mod:`robomem.datasets` (TUM RGB-D, 7-Scenes,
Redwood/Open3D, ScanNet SensReader export), with the artefacts real recordings have: unsynchronised colour and
depth clocks, ground truth at another rate with gaps, images missing from one stream, colour at another resolution
or bit depth. Used by the tests and by ``benchmarks/bench_ingest.py --write-sequence`` (to see what
``robomem ingest-dir`` prints on a realistic sequence); also a way to convert one's own recordings.

Frames are :class:`RecordedFrame` s: colour (uint8 RGB), depth (uint16 mm, 0 / 65535 invalid) and a
``world_T_camera`` pose (4x4, camera-to-world, OpenCV optical frame).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from robomem.core.types import CameraIntrinsics

T0_S = 1_305_031_102.0
"""First colour stamp of written TUM sequences (s since the epoch; a 2011 date, like the real ones)."""


@dataclass
class RecordedFrame:
    """One frame to write: rgb (H, W, 3) uint8 RGB; depth_mm (H, W) uint16 mm (0 / 65535 invalid); pose (4, 4)
    world_T_camera as the dataset would store it (may be slightly non-orthonormal); clean_pose: the true pose;
    clean_depth: (H, W) float32 true z-depth, m (0 = none)."""

    rgb: np.ndarray
    depth_mm: np.ndarray
    pose: np.ndarray
    clean_pose: np.ndarray
    clean_depth: Optional[np.ndarray] = None


def _imwrite(path: Path, img: np.ndarray) -> None:
    import cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    if img.ndim == 3:
        img = cv2.cvtColor(img, cv2.COLOR_RGB2BGR)
    if not cv2.imwrite(str(path), img):
        raise OSError(f"could not write {path}")


def _colour(rgb: np.ndarray, size: Optional[tuple[int, int]], bits16: bool) -> np.ndarray:
    import cv2

    out = rgb
    if size is not None and (out.shape[1], out.shape[0]) != size:
        out = cv2.resize(out, size, interpolation=cv2.INTER_LINEAR)
    if bits16:
        out = out.astype(np.uint16) * 257
    return out


def _quat(R: np.ndarray) -> np.ndarray:
    from robomem.core.geometry import matrix_to_quaternion

    return np.array(matrix_to_quaternion(R), dtype=np.float64)


def _slerp(q0: np.ndarray, q1: np.ndarray, s: float) -> np.ndarray:
    if float(q0 @ q1) < 0:
        q1 = -q1
    d = float(np.clip(q0 @ q1, -1.0, 1.0))
    if d > 0.9995:
        q = q0 + s * (q1 - q0)
        return q / np.linalg.norm(q)
    th = np.arccos(d)
    return (np.sin((1 - s) * th) * q0 + np.sin(s * th) * q1) / np.sin(th)


def write_tum(
    root: Path, frames: Sequence[RecordedFrame], *, fps: float = 30.0, depth_lag_s: float = 0.004,
    depth_jitter_s: float = 0.0, gt_rate_hz: float = 100.0, drop_depth: Sequence[int] = (),
    drop_rgb: Sequence[int] = (), drop_pose: Sequence[int] = (), late_depth: Sequence[int] = (),
    rgb_size: Optional[tuple[int, int]] = None, rgb_16bit: bool = False, seed: int = 0,
) -> list[float]:
    """TUM RGB-D layout (https://cvg.cit.tum.de/data/datasets/rgbd-dataset/file_formats): ``rgb/`` and ``depth/``
    PNGs named by stamp, ``rgb.txt`` / ``depth.txt`` (``# `` header lines, ``stamp path``), depth at 5000 units
    per metre (0 = invalid; 65535 kept as written), ``groundtruth.txt`` (``stamp tx ty tz qx qy qz qw``, 4
    decimals) sampled at ``gt_rate_hz`` along the frames' recorded poses (linear + slerp between frames).

    Colour frames at ``fps``; each depth image ``depth_lag_s`` (+- ``depth_jitter_s`` uniform) after its colour
    image, or 0.05 s after for frames in ``late_depth`` (beyond the 0.02 s association tolerance); ``drop_*``:
    frames whose depth image / colour image / ground truth (every sample within 0.75 frame periods) is missing;
    ``rgb_size`` (W, H) / ``rgb_16bit``: colour written at another size / as 16-bit PNG. Returns the colour
    stamps (s)."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    rgb_lines = ["# color images", f"# file: '{root.name}'", "# timestamp filename"]
    depth_lines = ["# depth maps", f"# file: '{root.name}'", "# timestamp filename"]
    gt_lines = ["# ground truth trajectory", f"# file: '{root.name}'", "# timestamp tx ty tz qx qy qz qw"]
    stamps = [T0_S + i / fps for i in range(len(frames))]
    for i, f in enumerate(frames):
        t = stamps[i]
        if i not in drop_rgb:
            _imwrite(root / "rgb" / f"{t:.6f}.png", _colour(f.rgb, rgb_size, rgb_16bit))
            rgb_lines.append(f"{t:.6f} rgb/{t:.6f}.png")
        if i not in drop_depth:
            td = t + (0.05 if i in late_depth else depth_lag_s + depth_jitter_s * rng.uniform(-1.0, 1.0))
            d = f.depth_mm.astype(np.uint32) * 5
            d = np.where(f.depth_mm == 65535, 65535, np.minimum(d, 65534)).astype(np.uint16)
            _imwrite(root / "depth" / f"{td:.6f}.png", d)
            depth_lines.append(f"{td:.6f} depth/{td:.6f}.png")
    if frames:
        quats = [_quat(f.pose[:3, :3]) for f in frames]
        gaps = [(stamps[i] - 0.75 / fps, stamps[i] + 0.75 / fps) for i in drop_pose]
        t = stamps[0] - 0.1
        while t <= stamps[-1] + 0.1:
            if not any(a <= t <= b for a, b in gaps):
                u = (t - stamps[0]) * fps
                k = int(np.clip(np.floor(u), 0, max(len(frames) - 2, 0)))
                k1 = min(k + 1, len(frames) - 1)
                s = float(np.clip(u - k, 0.0, 1.0)) if k1 != k else 0.0
                p = (1 - s) * frames[k].pose[:3, 3] + s * frames[k1].pose[:3, 3]
                q = _slerp(quats[k], quats[k1], s)
                gt_lines.append(f"{t:.4f} {p[0]:.4f} {p[1]:.4f} {p[2]:.4f} {q[0]:.4f} {q[1]:.4f} {q[2]:.4f} "
                                f"{q[3]:.4f}")
            t += 1.0 / gt_rate_hz
    (root / "rgb.txt").write_text("\n".join(rgb_lines) + "\n")
    (root / "depth.txt").write_text("\n".join(depth_lines) + "\n")
    (root / "groundtruth.txt").write_text("\n".join(gt_lines) + "\n")
    return stamps


def write_7scenes(root: Path, frames: Sequence[RecordedFrame], *, jpeg_colour: bool = False) -> None:
    """One 7-Scenes sequence folder (``seq-XX``): ``frame-NNNNNN.color.png`` (``.jpg`` with ``jpeg_colour``),
    ``frame-NNNNNN.depth.png`` (16-bit mm, 65535 invalid), ``frame-NNNNNN.pose.txt`` (4x4 camera-to-world,
    tab-separated, as the dataset writes it)."""
    root.mkdir(parents=True, exist_ok=True)
    for i, f in enumerate(frames):
        _imwrite(root / f"frame-{i:06d}.color.{'jpg' if jpeg_colour else 'png'}", f.rgb)
        _imwrite(root / f"frame-{i:06d}.depth.png", f.depth_mm)
        np.savetxt(root / f"frame-{i:06d}.pose.txt", f.pose, fmt="%.7e", delimiter="\t")


def write_redwood(root: Path, frames: Sequence[RecordedFrame], intr: Optional[CameraIntrinsics] = None, *,
                  color_dir: str = "color", depth_dir: str = "depth", trajectory: str = "trajectory.log",
                  first_number: int = 0,
                  drop_color: Sequence[int] = (), drop_depth: Sequence[int] = ()) -> None:
    """Redwood / Open3D layout: ``<color_dir>/NNNNNN.jpg``, ``<depth_dir>/NNNNNN.png`` (16-bit mm), the trajectory in
    the Redwood ``.log`` format (``i i i+1`` metadata: the third number is the 1-based frame number) and, with
    ``intr``, ``camera_intrinsic.json`` (Open3D ``PinholeCameraIntrinsic``). Images are numbered from
    ``first_number``; ``drop_*`` frames have no colour / depth image (their pose is still written)."""
    lines = []
    for i, f in enumerate(frames):
        n = i + first_number
        if i not in drop_color:
            _imwrite(root / color_dir / f"{n:06d}.jpg", f.rgb)
        if i not in drop_depth:
            _imwrite(root / depth_dir / f"{n:06d}.png", f.depth_mm)
        lines.append(f"{i} {i} {i + 1}")
        lines += [" ".join(f"{v:.8f}" for v in row) for row in f.pose]
    (root / trajectory).write_text("\n".join(lines) + "\n")
    if intr is not None:
        K = [intr.fx, 0, 0, 0, intr.fy, 0, intr.cx, intr.cy, 1]
        (root / "camera_intrinsic.json").write_text(json.dumps({"width": intr.width, "height": intr.height,
                                                                "intrinsic_matrix": K}))


def write_scannet(root: Path, frames: Sequence[RecordedFrame], intr: CameraIntrinsics, *,
                  color_size: Optional[tuple[int, int]] = None, lost_tracking: Sequence[int] = ()) -> None:
    """ScanNet SensReader export: ``color/N.jpg`` (at ``color_size``, e.g. ScanNet's 1296x968), ``depth/N.png``
    (16-bit mm), ``pose/N.txt`` (4x4 camera-to-world; ``-inf`` everywhere for frames in ``lost_tracking``, as
    ScanNet writes a lost pose), ``intrinsic/intrinsic_depth.txt`` (4x4)."""
    for i, f in enumerate(frames):
        _imwrite(root / "color" / f"{i}.jpg", _colour(f.rgb, color_size, False))
        _imwrite(root / "depth" / f"{i}.png", f.depth_mm)
        pose = np.full((4, 4), -np.inf) if i in lost_tracking else f.pose
        (root / "pose").mkdir(parents=True, exist_ok=True)
        np.savetxt(root / "pose" / f"{i}.txt", pose, fmt="%f")
    K = np.eye(4)
    K[0, 0], K[1, 1], K[0, 2], K[1, 2] = intr.fx, intr.fy, intr.cx, intr.cy
    (root / "intrinsic").mkdir(parents=True, exist_ok=True)
    np.savetxt(root / "intrinsic" / "intrinsic_depth.txt", K, fmt="%f")


def write_sequence(fmt: str, root: Path, frames: Sequence[RecordedFrame], intr: CameraIntrinsics) -> list[str]:
    """Write ``frames`` in layout ``fmt`` (tum, 7scenes, redwood, scannet) under ``root``; returns the extra
    ``ingest-dir`` arguments the layout needs (``--intrinsics`` where it has no intrinsics file). The 7-Scenes
    sequence goes to ``root/seq-01``."""
    intr_arg = ["--intrinsics", f"{intr.fx},{intr.fy},{intr.cx},{intr.cy}"]
    if fmt == "tum":
        write_tum(root, frames)
        return intr_arg
    if fmt == "7scenes":
        write_7scenes(root / "seq-01", frames)
        return intr_arg
    if fmt == "redwood":
        write_redwood(root, frames, intr)
        return []
    if fmt == "scannet":
        write_scannet(root, frames, intr)
        return []
    raise ValueError(f"unknown layout {fmt!r}; choose tum, 7scenes, redwood or scannet")
