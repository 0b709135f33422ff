"""Microsoft 7-Scenes layout: ``frame-NNNNNN.color.png|jpg``, ``frame-NNNNNN.depth.png`` (16-bit mm, 65535 =
invalid) and ``frame-NNNNNN.pose.txt`` (4x4 camera-to-world) in ``seq-XX/`` folders.

``DIR`` is one ``seq-XX`` folder or a scene folder holding several (they share the scene's world frame and are
read one after the other, in name order). 7-Scenes has no time stamps: frames are stamped at 30 Hz. Its colour and
depth cameras are not calibrated against each other (the raw images are misregistered by some pixels); the default
intrinsics are the depth camera's commonly used (585, 585, 320, 240).
"""

from __future__ import annotations

import re
from pathlib import Path

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
from robomem.errors import DatasetError

DEFAULT_INTRINSICS = (585.0, 585.0, 320.0, 240.0)
DEPTH_SCALE = 0.001
_FRAME = re.compile(r"^frame-(\d+)\.(color\.(?:png|jpg|jpeg)|depth\.png|pose\.txt)$", re.IGNORECASE)


def _sequence_dirs(root: Path) -> list[Path]:
    if any(_FRAME.match(p.name) for p in root.iterdir()):
        return [root]
    seqs = sorted(p for p in root.iterdir() if p.is_dir() and p.name.lower().startswith("seq"))
    seqs = [s for s in seqs if any(_FRAME.match(p.name) for p in s.iterdir())]
    if not seqs:
        zips = sorted(p.name for p in root.iterdir() if p.suffix.lower() == ".zip")
        hint = f" (unzip {', '.join(zips[:3])} first)" if zips else ""
        raise DatasetError(
            f"{root} is not a 7-Scenes sequence: no frame-NNNNNN.color.png/.depth.png/.pose.txt files here or in "
            f"seq-XX/ folders{hint}"
        )
    return seqs


def read_7scenes(root: Path, options: ReaderOptions) -> Sequence:
    """List a 7-Scenes sequence (or scene) directory. Raises DatasetError for a malformed layout."""
    problems = ListingProblems()
    records: list[FrameRecord] = []
    for seq_dir in _sequence_dirs(root):
        files: dict[int, dict[str, Path]] = {}
        for p in seq_dir.iterdir():
            m = _FRAME.match(p.name)
            if m:
                kind = m.group(2).split(".")[0].lower()
                files.setdefault(int(m.group(1)), {})[kind] = p
        for n in sorted(files):
            f = files[n]
            if "color" not in f or "depth" not in f:
                problems.unassociated_rgb += "color" in f
                problems.unassociated_depth += "depth" in f
                problems.note(f"{seq_dir.name}/frame-{n:06d}: missing its {'depth' if 'color' in f else 'colour'} "
                              "image; frame skipped")
                continue
            if "pose" not in f:
                problems.without_pose += 1
                problems.note(f"{seq_dir.name}/frame-{n:06d}: no pose.txt; frame skipped")
                continue
            try:
                pose = read_matrix_file(f["pose"])
            except DatasetError as exc:
                problems.broken_poses += 1
                problems.note(f"{exc}; frame skipped")
                continue
            if not check_pose(pose, str(f["pose"]), problems):
                continue
            records.append(FrameRecord(len(records), synthetic_stamp(len(records)), f["color"], f["depth"], pose))
    if not records:
        raise DatasetError(f"{root}: no frame has a colour image, a depth image and a valid pose "
                           f"({problems.notes[:3]})")
    intr = options.intrinsics_for(root, first_depth_shape(records), DEFAULT_INTRINSICS)
    scale = options.depth_scale if options.depth_scale is not None else DEPTH_SCALE
    return Sequence(root.name, "7scenes", root, intr, scale, tuple(records), problems, synthetic_stamps=True)
