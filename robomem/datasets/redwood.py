"""Redwood / Open3D reconstruction-system layout: ``color/`` (or ``image/``, ``rgb/``) and ``depth/`` folders of
images paired by the number in their names (or by sorted order when names carry none), ``trajectory.log`` (Open3D /
Redwood format: a ``id id count`` line, then the 4x4 camera-to-world matrix in 4 lines, per frame) and optionally
``camera_intrinsic.json`` (Open3D ``PinholeCameraIntrinsic``: ``width``, ``height``, column-major
``intrinsic_matrix``). Depth is 16-bit mm. No time stamps: frames are stamped at 30 Hz. Default intrinsics: the
PrimeSense defaults (525, 525, 319.5, 239.5).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Optional

import numpy as np

from robomem.datasets.base import (
    FrameRecord,
    ListingProblems,
    Sequence,
    check_pose,
    data_lines,
    parse_floats,
    read_depth,
    synthetic_stamp,
)
from robomem.datasets.options import ReaderOptions
from robomem.errors import DatasetError

DEFAULT_INTRINSICS = (525.0, 525.0, 319.5, 239.5)
DEPTH_SCALE = 0.001
_IMAGE_EXT = (".png", ".jpg", ".jpeg")
_NUMBER = re.compile(r"(\d+)(?!.*\d)")


def read_trajectory_log(path: Path) -> dict[int, np.ndarray]:
    """Frame id -> 4x4 pose from an Open3D/Redwood ``trajectory.log``. Raises DatasetError."""
    lines = data_lines(path)
    if len(lines) % 5:
        raise DatasetError(f"{path}: {len(lines)} lines is not a multiple of 5 (a 'id id count' line + 4 matrix rows "
                           "per frame); the file is truncated or not a trajectory.log")
    out: dict[int, np.ndarray] = {}
    for k in range(0, len(lines), 5):
        line_no, head = lines[k]
        try:
            fid = int(head[0])
        except (ValueError, IndexError):
            raise DatasetError(f"{path}:{line_no}: expected a frame id line 'id id count', got {' '.join(head)!r}") \
                from None
        out[fid] = np.stack([parse_floats(lines[k + r][1], 4, f"{path}:{lines[k + r][0]}") for r in range(1, 5)])
    return out


def _images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in _IMAGE_EXT and p.is_file())


def _by_number(paths: list[Path]) -> Optional[dict[int, Path]]:
    out: dict[int, Path] = {}
    for p in paths:
        m = _NUMBER.search(p.stem)
        if m is None or int(m.group(1)) in out:
            return None
        out[int(m.group(1))] = p
    return out


def _intrinsics_json(path: Path) -> tuple[float, float, float, float, int, int]:
    try:
        data = json.loads(path.read_text())
        k = [float(v) for v in data["intrinsic_matrix"]]
        return k[0], k[4], k[6], k[7], int(data["width"]), int(data["height"])
    except (OSError, ValueError, KeyError, IndexError, TypeError) as exc:
        raise DatasetError(f"{path} is not an Open3D camera intrinsic JSON ({type(exc).__name__}: {exc})") from None


def read_redwood(root: Path, options: ReaderOptions) -> Sequence:
    """List a Redwood/Open3D sequence directory. Raises DatasetError for a malformed layout."""
    color_dir = next((root / n for n in ("color", "image", "rgb") if (root / n).is_dir()), None)
    depth_dir = root / "depth"
    traj = root / "trajectory.log"
    missing = [n for n, ok in (("color/", color_dir is not None), ("depth/", depth_dir.is_dir()),
                                ("trajectory.log", traj.is_file())) if not ok]
    if missing:
        raise DatasetError(f"{root} is not a Redwood/Open3D sequence: missing {', '.join(missing)}")
    assert color_dir is not None
    problems = ListingProblems()
    colors, depths = _images(color_dir), _images(depth_dir)
    if not colors or not depths:
        raise DatasetError(f"{root}: {color_dir.name}/ or depth/ holds no PNG/JPEG images")
    cn, dn = _by_number(colors), _by_number(depths)
    if cn is not None and dn is not None:
        ids = sorted(set(cn) & set(dn))
        problems.unassociated_rgb = len(cn) - len(ids)
        problems.unassociated_depth = len(dn) - len(ids)
        pairs = [(cn[i], dn[i]) for i in ids]
    else:
        n = min(len(colors), len(depths))
        problems.unassociated_rgb, problems.unassociated_depth = len(colors) - n, len(depths) - n
        pairs = list(zip(colors[:n], depths[:n]))
    if problems.unassociated_rgb or problems.unassociated_depth:
        problems.note(f"{problems.unassociated_rgb} colour and {problems.unassociated_depth} depth image(s) have no "
                      "partner; skipped")
    poses = read_trajectory_log(traj)
    records: list[FrameRecord] = []
    for k, (c, d) in enumerate(pairs):
        pose = poses.get(k)
        if pose is None:
            problems.without_pose += 1
            problems.note(f"frame {k} ({c.name}) has no entry in trajectory.log; frame skipped")
            continue
        if not check_pose(pose, f"{traj} frame {k}", problems):
            continue
        records.append(FrameRecord(len(records), synthetic_stamp(k), c, d, pose))
    if not records:
        raise DatasetError(f"{root}: no frame has a colour image, a depth image and a pose ({problems.notes[:3]})")
    hw = read_depth(records[0].depth_path).shape
    intr_json = root / "camera_intrinsic.json"
    if not options.intrinsics and intr_json.is_file():
        fx, fy, cx, cy, w, h = _intrinsics_json(intr_json)
        if (w, h) != (hw[1], hw[0]):
            raise DatasetError(f"{intr_json} is for {w}x{h} images but the depth images are {hw[1]}x{hw[0]}")
        intr = options.intrinsics_for(root, hw, (fx, fy, cx, cy)) if (w, h) == (640, 480) else \
            ReaderOptions(intrinsics=f"{fx},{fy},{cx},{cy}").intrinsics_for(root, hw, (fx, fy, cx, cy))
    else:
        intr = options.intrinsics_for(root, hw, DEFAULT_INTRINSICS)
    scale = options.depth_scale if options.depth_scale is not None else DEPTH_SCALE
    return Sequence(root.name, "redwood", root, intr, scale, tuple(records), problems, synthetic_stamps=True)
