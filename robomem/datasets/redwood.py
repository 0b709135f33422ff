"""Redwood / Open3D reconstruction-system layout.

* colour images in ``color/`` (Open3D, Redwood), ``colors/`` (Augmented ICL-NUIM as Open3D ships it), ``image/``
  (Redwood scans) or ``rgb/`` - else the one folder named ``*-color`` (``livingroom1-color``); depth images in
  ``depth/`` - else the one folder named ``*-depth*`` (``livingroom1-depth-clean``) - as 16-bit PNG in mm; images
  are paired by the number in their names (``00000.jpg`` with ``00000.png``), or by sorted order when names carry
  no number;
* a trajectory in the Redwood ``.log`` format (http://redwood-data.org/indoor/fileformat.html): per frame a
  metadata line of three integers, the third being the frame number (1-based), then the 4x4 camera-to-world matrix
  in 4 lines. Found as ``trajectory.log``, else the one ``*.log`` / ``*traj*.txt`` file in the directory
  (``livingroom1-traj.txt``, ``office1-traj.txt``); ``odometry.log`` (relative motions) is never a trajectory;
  ``--trajectory FILE`` picks one;
* optionally ``camera_intrinsic.json`` (Open3D ``PinholeCameraIntrinsic``: ``width``, ``height``, column-major
  ``intrinsic_matrix``).

A pose belongs to the image with that frame number: an image missing from ``color/`` or ``depth/`` leaves its pose
unused (counted), it never shifts the later poses onto the wrong images. When the trajectory has exactly one entry
per image pair it is read in order, as Open3D does. No time stamps: frames are stamped at 30 Hz. Default
intrinsics: the PrimeSense defaults (525, 525, 319.5, 239.5).
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
    first_depth_shape,
    parse_floats,
    synthetic_stamp,
)
from robomem.datasets.options import ReaderOptions
from robomem.errors import DatasetError

DEFAULT_INTRINSICS = (525.0, 525.0, 319.5, 239.5)
DEPTH_SCALE = 0.001
COLOR_DIRS = ("color", "colors", "image", "rgb")
_IMAGE_EXT = (".png", ".jpg", ".jpeg")
_NUMBER = re.compile(r"\d+")


def read_trajectory_log(path: Path) -> list[tuple[tuple[int, ...], np.ndarray]]:
    """(metadata integers, 4x4 pose) per entry of a Redwood/Open3D ``.log`` file, in file order.

    Raises DatasetError naming the file and line when the file is not in that format."""
    lines = data_lines(path)
    if not lines:
        raise DatasetError(f"{path} holds no poses (a trajectory .log has a 'id id frame' line + 4 matrix rows "
                           "per frame)")
    if len(lines) % 5:
        raise DatasetError(f"{path}: {len(lines)} lines is not a multiple of 5 (a 'id id frame' line + 4 matrix "
                           "rows per frame); the file is truncated or not a trajectory .log")
    out: list[tuple[tuple[int, ...], np.ndarray]] = []
    for k in range(0, len(lines), 5):
        line_no, head = lines[k]
        try:
            meta = tuple(int(v) for v in head)
        except ValueError:
            meta = ()
        if not 1 <= len(meta) <= 3:
            raise DatasetError(f"{path}:{line_no}: expected a metadata line of up to 3 integers ('id id frame'), "
                               f"got {' '.join(head)!r}")
        rows = [lines[k + r] for r in range(1, 5)]
        for row_no, fields in rows:
            if len(fields) != 4:
                raise DatasetError(f"{path}:{row_no}: expected a matrix row of 4 numbers, got {' '.join(fields)!r}")
        out.append((meta, np.stack([parse_floats(f, 4, f"{path}:{n}") for n, f in rows])))
    return out


def find_trajectory(root: Path, options: ReaderOptions) -> Path:
    """The trajectory file of a Redwood/Open3D directory (see the module docstring). Raises DatasetError."""
    if options.trajectory:
        p = Path(options.trajectory)
        p = p if p.is_absolute() else root / p
        if not p.is_file():
            raise DatasetError(f"--trajectory {options.trajectory}: {p} is not a file")
        return p
    if (root / "trajectory.log").is_file():
        return root / "trajectory.log"
    cands = sorted(p for p in root.iterdir() if p.is_file() and "odometry" not in p.name.lower() and (
        p.suffix.lower() == ".log" or (p.suffix.lower() == ".txt" and "traj" in p.name.lower())))
    if len(cands) == 1:
        return cands[0]
    if cands:
        raise DatasetError(f"{root}: several trajectory files ({', '.join(p.name for p in cands)}); choose one with "
                           "--trajectory FILE")
    raise DatasetError(f"{root} is not a Redwood/Open3D sequence: no trajectory (expected trajectory.log, one *.log "
                       "or one *-traj.txt file in the Redwood .log format, or --trajectory FILE)")


def images_in(folder: Path) -> list[Path]:
    """PNG/JPEG files of ``folder``, sorted by name."""
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in _IMAGE_EXT and p.is_file())


def by_number(paths: list[Path]) -> Optional[dict[int, Path]]:
    """Image number (the first run of digits in the name: ``00012.png``, ``0000012-000000400000.jpg``) -> path;
    None if a name has no number or two names share one."""
    out: dict[int, Path] = {}
    for p in paths:
        m = _NUMBER.search(p.stem)
        if m is None or int(m.group(0)) in out:
            return None
        out[int(m.group(0))] = p
    return out


def pair_images(colors: list[Path], depths: list[Path], problems: ListingProblems) -> list[tuple[int, Path, Path]]:
    """(frame number, colour, depth) triples: by the numbers in the names, else by sorted order (numbers 0..n-1).
    Unpaired images are counted and named."""
    cn, dn = by_number(colors), by_number(depths)
    if cn is not None and dn is not None:
        ids = sorted(set(cn) & set(dn))
        only_c = sorted(set(cn) - set(dn))
        only_d = sorted(set(dn) - set(cn))
        problems.unassociated_rgb, problems.unassociated_depth = len(only_c), len(only_d)
        for n in only_c[:5]:
            problems.note(f"colour image {cn[n]} has no depth image numbered {n}; skipped")
        for n in only_d[:5]:
            problems.note(f"depth image {dn[n]} has no colour image numbered {n}; skipped")
        return [(i, cn[i], dn[i]) for i in ids]
    n = min(len(colors), len(depths))
    problems.unassociated_rgb, problems.unassociated_depth = len(colors) - n, len(depths) - n
    if len(colors) != len(depths):
        problems.note(f"{len(colors)} colour and {len(depths)} depth images without frame numbers in their names: "
                      f"paired in name order, the last {abs(len(colors) - len(depths))} skipped")
    return [(k, c, d) for k, (c, d) in enumerate(zip(colors[:n], depths[:n]))]


def _pose_keys(entries: list[tuple[tuple[int, ...], np.ndarray]], frame_numbers: list[int]
               ) -> tuple[list[int], str]:
    """Which frame each trajectory entry belongs to, and how that was decided (for the report)."""
    n = len(entries)
    if n == len(frame_numbers):
        return list(frame_numbers), "one trajectory entry per image pair: read in order"
    base = 1 if frame_numbers and min(frame_numbers) == 1 else 0
    third = [m[2] - 1 + base for m, _ in entries if len(m) == 3]
    if len(third) == n and len(set(third)) == n:
        return third, "poses matched to images by the frame number in the trajectory's metadata"
    first = [m[0] + base for m, _ in entries]
    if len(set(first)) == n:
        return first, "poses matched to images by the first id in the trajectory's metadata"
    return list(range(base, base + n)), "trajectory metadata ambiguous: poses read in order"


def _intrinsics_json(path: Path) -> tuple[float, float, float, float, int, int]:
    try:
        data = json.loads(path.read_text())
        k = [float(v) for v in data["intrinsic_matrix"]]
        return k[0], k[4], k[6], k[7], int(data["width"]), int(data["height"])
    except (OSError, ValueError, KeyError, IndexError, TypeError) as exc:
        raise DatasetError(f"{path} is not an Open3D camera intrinsic JSON ({type(exc).__name__}: {exc})") from None


def _pick_dir(root: Path, names: tuple[str, ...], suffixes: tuple[str, ...]) -> Optional[Path]:
    """The first of ``names`` that is a folder of ``root``; else the one folder whose name ends with one of
    ``suffixes`` (``livingroom1-color``, ``livingroom1-depth-clean``). Raises DatasetError when several do."""
    for n in names:
        if (root / n).is_dir():
            return root / n
    cands = sorted(p for p in root.iterdir() if p.is_dir() and p.name.lower().endswith(suffixes))
    if len(cands) > 1:
        raise DatasetError(f"{root}: several candidate folders ({', '.join(p.name for p in cands)}); keep one, or "
                           "link the one to use as " + "/ or ".join(names[:1]) + "/")
    return cands[0] if cands else None


def read_redwood(root: Path, options: ReaderOptions) -> Sequence:
    """List a Redwood/Open3D sequence directory. Raises DatasetError for a malformed layout."""
    color_dir = _pick_dir(root, COLOR_DIRS, ("-color", "_color", "-rgb", "_rgb"))
    depth_dir = _pick_dir(root, ("depth",), ("-depth", "_depth", "-depth-clean", "-depth-simulated"))
    missing = [n for n, ok in ((f"a colour folder ({'/, '.join(COLOR_DIRS)}/)", color_dir is not None),
                               ("depth/", depth_dir is not None)) if not ok]
    if missing:
        raise DatasetError(f"{root} is not a Redwood/Open3D sequence: missing {', '.join(missing)} "
                           f"(found: {', '.join(sorted(p.name for p in root.iterdir())[:10]) or 'nothing'})")
    assert color_dir is not None and depth_dir is not None
    traj = find_trajectory(root, options)
    problems = ListingProblems()
    colors, depths = images_in(color_dir), images_in(depth_dir)
    if not colors or not depths:
        raise DatasetError(f"{root}: {color_dir.name}/ or depth/ holds no PNG/JPEG images")
    pairs = pair_images(colors, depths, problems)
    entries = read_trajectory_log(traj)
    keys, how = _pose_keys(entries, [n for n, _, _ in pairs])
    problems.note(f"{traj.name}: {how}")
    poses = dict(zip(keys, (T for _, T in entries)))
    records: list[FrameRecord] = []
    used = 0
    first_number = pairs[0][0] if pairs else 0
    for number, c, d in pairs:
        pose = poses.get(number)
        if pose is None:
            problems.without_pose += 1
            problems.note(f"frame {number} ({c.name}) has no entry in {traj.name}; frame skipped")
            continue
        used += 1
        if not check_pose(pose, f"{traj} frame {number}", problems):
            continue
        records.append(FrameRecord(len(records), synthetic_stamp(number - first_number), c, d, pose))
    if len(entries) > used:
        problems.note(f"{len(entries) - used} pose(s) in {traj.name} have no image pair")
    if not records:
        raise DatasetError(f"{root}: no frame has a colour image, a depth image and a pose ({problems.notes[:3]})")
    hw = first_depth_shape(records)
    intr_json = root / "camera_intrinsic.json"
    if not options.intrinsics and intr_json.is_file():
        fx, fy, cx, cy, w, h = _intrinsics_json(intr_json)
        if (w, h) != (hw[1], hw[0]):
            raise DatasetError(f"{intr_json} is for {w}x{h} images but the depth images are {hw[1]}x{hw[0]}")
        intr = ReaderOptions(intrinsics=f"{fx},{fy},{cx},{cy}").intrinsics_for(root, hw, (fx, fy, cx, cy))
    else:
        intr = options.intrinsics_for(root, hw, DEFAULT_INTRINSICS)
    scale = options.depth_scale if options.depth_scale is not None else DEPTH_SCALE
    return Sequence(root.name, "redwood", root, intr, scale, tuple(records), problems, synthetic_stamps=True)
