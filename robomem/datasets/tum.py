"""TUM RGB-D layout: ``rgb.txt``, ``depth.txt`` (``stamp path`` lines), ``groundtruth.txt``
(``stamp tx ty tz qx qy qz qw``), images in ``rgb/`` and ``depth/`` (16-bit PNG, 5000 units per metre).

Colour and depth are associated by time stamp like the benchmark's ``associate.py``: closest pairs first, within
``max_dt_s`` (default 0.02 s); each pair takes the colour stamp. Its pose is interpolated (linear + slerp) between
the two ground-truth samples around it when they are at most ``pose_max_gap_s`` apart, else the nearest sample
within ``max_dt_s`` is used, else the pair has no pose (counted, skipped). The ground truth is the pose of the
colour camera's optical centre in the motion-capture world, i.e. ``world_T_camera``.

Intrinsics: the published calibration of the Freiburg camera named in the directory (``freiburg1/2/3``), else the
ROS default (525, 525, 319.5, 239.5); ``--intrinsics`` overrides.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np

from robomem.core.types import CameraIntrinsics
from robomem.datasets.base import (
    FrameRecord,
    ListingProblems,
    Sequence,
    check_pose,
    data_lines,
    find_file,
    first_depth_shape,
    parse_floats,
    parse_stamp_ns,
    quaternion_pose,
)
from robomem.datasets.options import ReaderOptions
from robomem.errors import DatasetError

FREIBURG_INTRINSICS = {
    "freiburg1": (517.3, 516.5, 318.6, 255.3),
    "freiburg2": (520.9, 521.0, 325.1, 249.7),
    "freiburg3": (535.4, 539.2, 320.1, 247.6),
}
DEFAULT_INTRINSICS = (525.0, 525.0, 319.5, 239.5)
DEPTH_SCALE = 1.0 / 5000.0


def _stamped_list(path: Path) -> list[tuple[int, str]]:
    out = []
    for line_no, fields in data_lines(path):
        where = f"{path}:{line_no}"
        if len(fields) < 2:
            raise DatasetError(f"{where}: expected 'timestamp filename', got {' '.join(fields)!r}")
        out.append((parse_stamp_ns(fields[0], where), fields[1]))
    out.sort(key=lambda x: x[0])
    return out


def associate(a: np.ndarray, b: np.ndarray, max_dt_ns: int) -> list[tuple[int, int]]:
    """Pairs (i, j) of sorted stamps ``a[i]``, ``b[j]`` within ``max_dt_ns``, closest pairs first, each index used
    once; returned in the order of ``a``."""
    if len(a) == 0 or len(b) == 0:
        return []
    cands: list[tuple[int, int, int]] = []
    pos = np.searchsorted(b, a)
    for i, p in enumerate(pos.tolist()):
        for j in (p - 1, p, p + 1):
            if 0 <= j < len(b):
                d = abs(int(a[i]) - int(b[j]))
                if d <= max_dt_ns:
                    cands.append((d, i, j))
    cands.sort()
    used_a: set[int] = set()
    used_b: set[int] = set()
    pairs = []
    for _, i, j in cands:
        if i not in used_a and j not in used_b:
            used_a.add(i)
            used_b.add(j)
            pairs.append((i, j))
    pairs.sort()
    return pairs


def _slerp(q0: np.ndarray, q1: np.ndarray, s: float) -> np.ndarray:
    q0 = q0 / np.linalg.norm(q0)
    q1 = q1 / np.linalg.norm(q1)
    dot = float(q0 @ q1)
    if dot < 0:
        q1, dot = -q1, -dot
    if dot > 0.9995:
        q = q0 + s * (q1 - q0)
        return q / np.linalg.norm(q)
    th = np.arccos(dot)
    return (np.sin((1 - s) * th) * q0 + np.sin(s * th) * q1) / np.sin(th)


class _GroundTruth:
    def __init__(self, path: Path) -> None:
        rows = []
        for line_no, fields in data_lines(path):
            where = f"{path}:{line_no}"
            rows.append((parse_stamp_ns(fields[0], where), parse_floats(fields[1:], 7, where)))
        if not rows:
            raise DatasetError(f"{path} lists no poses; a TUM sequence needs its groundtruth.txt")
        rows.sort(key=lambda r: r[0])
        self.t = np.array([r[0] for r in rows], dtype=np.int64)
        self.v = np.stack([r[1] for r in rows])  # tx ty tz qx qy qz qw

    def pose(self, t: int, max_dt_ns: int, max_gap_ns: int) -> Optional[np.ndarray]:
        k = int(np.searchsorted(self.t, t))
        if 0 < k < len(self.t):
            t0, t1 = int(self.t[k - 1]), int(self.t[k])
            if t1 - t0 <= max_gap_ns:
                s = (t - t0) / max(t1 - t0, 1)
                v0, v1 = self.v[k - 1], self.v[k]
                if np.all(np.isfinite(v0)) and np.all(np.isfinite(v1)):
                    return quaternion_pose(v0[:3] + s * (v1[:3] - v0[:3]), _slerp(v0[3:], v1[3:], s))
        best = None
        for j in (k - 1, k):
            if 0 <= j < len(self.t) and abs(int(self.t[j]) - t) <= max_dt_ns:
                if best is None or abs(int(self.t[j]) - t) < abs(int(self.t[best]) - t):
                    best = j
        if best is None or not np.all(np.isfinite(self.v[best])) or np.linalg.norm(self.v[best][3:]) < 1e-9:
            return None
        return quaternion_pose(self.v[best][:3], self.v[best][3:])


def read_tum(root: Path, options: ReaderOptions) -> Sequence:
    """List a TUM RGB-D sequence directory. Raises DatasetError for a malformed layout."""
    need = [root / "rgb.txt", root / "depth.txt", root / "groundtruth.txt"]
    missing = [p.name for p in need if not p.is_file()]
    if missing:
        found = ", ".join(sorted(p.name for p in root.iterdir())[:10]) or "nothing"
        raise DatasetError(
            f"{root} is not a TUM RGB-D sequence: missing {', '.join(missing)} (expected rgb.txt, depth.txt and "
            f"groundtruth.txt beside rgb/ and depth/; found: {found})"
        )
    problems = ListingProblems()
    rgb = _stamped_list(root / "rgb.txt")
    depth = _stamped_list(root / "depth.txt")
    if not rgb or not depth:
        raise DatasetError(f"{root}: rgb.txt or depth.txt lists no images")
    gt = _GroundTruth(root / "groundtruth.txt")
    max_dt = int(options.max_dt_s * 1e9)
    pairs = associate(np.array([s for s, _ in rgb]), np.array([s for s, _ in depth]), max_dt)
    problems.unassociated_rgb = len(rgb) - len(pairs)
    problems.unassociated_depth = len(depth) - len(pairs)
    paired_rgb = {i for i, _ in pairs}
    paired_depth = {j for _, j in pairs}
    for kind, listed, paired, other in (("colour", rgb, paired_rgb, "depth"), ("depth", depth, paired_depth, "colour")):
        lone = [name for k, (_, name) in enumerate(listed) if k not in paired]
        if lone:
            problems.note(f"{len(lone)} {kind} image(s) have no {other} image within --max-dt {options.max_dt_s} s "
                          f"(e.g. {', '.join(lone[:3])}); skipped")
    records: list[FrameRecord] = []
    for i, j in pairs:
        stamp, rgb_rel = rgb[i]
        rgb_path = find_file(root / rgb_rel, problems, "colour image")
        depth_path = find_file(root / depth[j][1], problems, "depth image")
        if rgb_path is None or depth_path is None:
            continue
        pose = gt.pose(stamp, max_dt, int(options.pose_max_gap_s * 1e9))
        if pose is None:
            problems.without_pose += 1
            problems.note(f"{rgb_rel} (t={stamp / 1e9:.6f} s) has no ground-truth pose within {options.max_dt_s} s; "
                          "frame skipped")
            continue
        if not check_pose(pose, f"groundtruth at {stamp / 1e9:.6f} s", problems):
            continue
        records.append(FrameRecord(len(records), stamp, rgb_path, depth_path, pose))
    if not records:
        raise DatasetError(f"{root}: no frame has a colour image, a depth image and a pose ({problems.notes[:3]})")
    intr = options.intrinsics_for(root, first_depth_shape(records), _default_intrinsics(root))
    scale = options.depth_scale if options.depth_scale is not None else DEPTH_SCALE
    return Sequence(root.name, "tum", root, intr, scale, tuple(records), problems)


def _default_intrinsics(root: Path) -> tuple[float, float, float, float]:
    name = str(root.resolve()).lower()
    for key, k in FREIBURG_INTRINSICS.items():
        if key in name:
            return k
    return DEFAULT_INTRINSICS


__all__ = ["read_tum", "associate", "CameraIntrinsics"]
