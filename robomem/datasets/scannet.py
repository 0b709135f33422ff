"""ScanNet layout as exported from a ``.sens`` file by ScanNet's SensReader (``reader.py --export_depth_images
--export_color_images --export_poses --export_intrinsics``):

* ``color/N.jpg`` (1296x968 8-bit colour), ``depth/N.png`` (640x480 16-bit, millimetres: "depth shift 1000"),
  ``pose/N.txt`` (4x4 camera-to-world), numbered from 0 (``--frame_skip`` leaves gaps: frames are paired by number);
* ``intrinsic/intrinsic_depth.txt`` (4x4, the depth camera's K in its top-left 3x3), used for the depth image.

Poses ScanNet's tracker lost are written as ``-inf`` matrices: those frames are skipped and counted as broken
poses. Colour is resized to the depth image (the two cameras are close to registered after that). No time stamps:
frame N is stamped N/30 s after the start. Without ``intrinsic_depth.txt`` the intrinsics must be given
(``--intrinsics``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from robomem.datasets.base import (
    FrameRecord,
    ListingProblems,
    Sequence,
    check_pose,
    first_depth_shape,
    read_matrix_file,
    synthetic_stamp,
)
from robomem.datasets.options import ReaderOptions
from robomem.datasets.redwood import by_number
from robomem.errors import DatasetError

DEPTH_SCALE = 0.001


def _numbered(folder: Path, suffixes: tuple[str, ...]) -> dict[int, Path]:
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in suffixes)
    numbered = by_number(files)
    if numbered is None:
        raise DatasetError(f"{folder}: file names must be frame numbers (0.jpg, 1.jpg, ...) as SensReader writes "
                           f"them; found {', '.join(p.name for p in files[:5])}")
    return numbered


def _depth_intrinsics(root: Path, options: ReaderOptions, hw: tuple[int, int]) -> tuple[float, float, float, float]:
    path = root / "intrinsic" / "intrinsic_depth.txt"
    if not path.is_file():
        if options.intrinsics:
            return (0.0, 0.0, 0.0, 0.0)  # overridden below
        raise DatasetError(f"{root}: no intrinsic/intrinsic_depth.txt (export with --export_intrinsics) and no "
                           "--intrinsics fx,fy,cx,cy given")
    K = read_matrix_file(path)
    fx, fy, cx, cy = float(K[0, 0]), float(K[1, 1]), float(K[0, 2]), float(K[1, 2])
    if not all(np.isfinite((fx, fy, cx, cy))) or fx <= 0 or fy <= 0:
        raise DatasetError(f"{path}: not a camera matrix (fx={fx}, fy={fy}, cx={cx}, cy={cy})")
    return fx, fy, cx, cy


def read_scannet(root: Path, options: ReaderOptions) -> Sequence:
    """List a ScanNet SensReader export. Raises DatasetError for a malformed layout."""
    missing = [n + "/" for n in ("color", "depth", "pose") if not (root / n).is_dir()]
    if missing:
        found = ", ".join(sorted(p.name for p in root.iterdir())[:10]) or "nothing"
        sens = sorted(p.name for p in root.glob("*.sens"))
        hint = f"; export {sens[0]} with SensReader's reader.py first" if sens else ""
        raise DatasetError(f"{root} is not a ScanNet export: missing {', '.join(missing)} (found: {found}){hint}")
    problems = ListingProblems()
    colors = _numbered(root / "color", (".jpg", ".jpeg", ".png"))
    depths = _numbered(root / "depth", (".png",))
    poses = _numbered(root / "pose", (".txt",))
    numbers = sorted(set(colors) | set(depths))
    records: list[FrameRecord] = []
    first = numbers[0] if numbers else 0
    for n in numbers:
        if n not in colors or n not in depths:
            problems.unassociated_rgb += n in colors
            problems.unassociated_depth += n in depths
            problems.note(f"frame {n}: no {'depth' if n in colors else 'colour'} image; frame skipped")
            continue
        if n not in poses:
            problems.without_pose += 1
            problems.note(f"frame {n}: no pose/{n}.txt; frame skipped")
            continue
        try:
            pose = read_matrix_file(poses[n])
        except DatasetError as exc:
            problems.broken_poses += 1
            problems.note(f"{exc}; frame skipped")
            continue
        if not check_pose(pose, str(poses[n]), problems):
            continue
        records.append(FrameRecord(len(records), synthetic_stamp(n - first), colors[n], depths[n], pose))
    if not records:
        raise DatasetError(f"{root}: no frame has a colour image, a depth image and a valid pose "
                           f"({problems.notes[:3]})")
    hw = first_depth_shape(records)
    k = _depth_intrinsics(root, options, hw)
    if options.intrinsics:
        intr = options.intrinsics_for(root, hw, k)
    else:
        intr = ReaderOptions(intrinsics=",".join(str(v) for v in k)).intrinsics_for(root, hw, k)
    scale = options.depth_scale if options.depth_scale is not None else DEPTH_SCALE
    return Sequence(root.name, "scannet", root, intr, scale, tuple(records), problems, synthetic_stamps=True)
