"""Options shared by the dataset readers (command-line overrides of what a layout implies)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from robomem.core.types import CameraIntrinsics
from robomem.datasets.base import parse_intrinsics
from robomem.errors import DatasetError


@dataclass(frozen=True)
class ReaderOptions:
    """intrinsics: "fx,fy,cx,cy" overriding the layout's default; depth_scale: metres per depth unit
    overriding the layout's; max_dt_s: colour/depth/pose association tolerance (TUM); pose_max_gap_s: largest
    gap between two ground-truth samples that is interpolated (TUM); trajectory: the trajectory file, absolute or
    relative to the sequence directory (Redwood/Open3D; default: found in the directory)."""

    intrinsics: str = ""
    depth_scale: Optional[float] = None
    max_dt_s: float = 0.02
    pose_max_gap_s: float = 0.1
    trajectory: str = ""

    def validate(self) -> None:
        if self.depth_scale is not None and not (self.depth_scale > 0):
            raise DatasetError(f"--depth-scale must be > 0 metres per unit, got {self.depth_scale}")
        if not self.max_dt_s > 0 or not self.pose_max_gap_s > 0:
            raise DatasetError(f"--max-dt ({self.max_dt_s}) and --max-pose-gap ({self.pose_max_gap_s}) must be > 0 "
                               "seconds")

    def intrinsics_for(
        self, root: Path, depth_hw: tuple[int, ...], default: tuple[float, float, float, float]
    ) -> CameraIntrinsics:
        h, w = int(depth_hw[0]), int(depth_hw[1])
        if self.intrinsics:
            return parse_intrinsics(self.intrinsics, w, h)
        fx, fy, cx, cy = default
        if (w, h) != (640, 480):  # the defaults are for 640x480: scale them to this image size
            sx, sy = w / 640.0, h / 480.0
            fx, fy, cx, cy = fx * sx, fy * sy, (cx + 0.5) * sx - 0.5, (cy + 0.5) * sy - 0.5
        return CameraIntrinsics(fx, fy, cx, cy, w, h)
