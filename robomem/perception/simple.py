"""``external`` and ``clustering`` backends.

* ``external``: segments come from another node (the memory server's ``segmentation`` topic, paired with the
  images) or are already in the frame; the front end passes frames through and counts those without segments.
* ``clustering``: frames without segments are split geometrically: the floor plane is dropped and the rest is
  DBSCAN-clustered (:func:`robomem.core.segmentation.cluster_segments`); segments get no label (the memory gives
  them image-crop features when its encoder has an image tower).
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import torch

from robomem.config import ObjectConfig, VoxelConfig
from robomem.core.geometry import backproject
from robomem.core.segmentation import cluster_segments
from robomem.core.types import NO_INSTANCE, Frame
from robomem.encoders.base import Encoder
from robomem.perception.base import Perception, Segment, register_backend
from robomem.perception.config import PerceptionConfig
from robomem.perception.detector import _depth_m


class ExternalBackend:
    name = "external"

    def __init__(self, config: PerceptionConfig, encoder: Optional[Encoder] = None) -> None:
        self.frames_without_segments = 0

    def perceive(self, frames: Sequence[Frame]) -> list[Perception]:
        out = []
        for f in frames:
            if f.instance_mask is None:
                self.frames_without_segments += 1
            out.append(Perception(None))
        return out


class ClusteringBackend:
    name = "clustering"

    def __init__(self, config: PerceptionConfig, encoder: Optional[Encoder] = None,
                 voxel: VoxelConfig = VoxelConfig(), objects: ObjectConfig = ObjectConfig()) -> None:
        self.voxel, self.objects = voxel, objects

    def perceive(self, frames: Sequence[Frame]) -> list[Perception]:
        out = []
        for f in frames:
            depth = torch.from_numpy(_depth_m(f))
            pose = torch.from_numpy(np.asarray(f.world_T_camera, dtype=np.float32))
            bp = backproject(depth, f.intrinsics, pose, self.voxel.pixel_stride, self.voxel.min_depth,
                             self.voxel.max_depth)
            h, w = f.rgb.shape[:2]
            if len(bp.points_world) == 0:
                out.append(Perception(np.full((h, w), NO_INSTANCE, np.int32)))
                continue
            mask = cluster_segments(bp.points_world.numpy(), bp.pixel_index.numpy(), (h, w), self.voxel.voxel_size,
                                    self.objects.cluster_eps, self.objects.min_points)
            segs = []
            for sid in np.unique(mask).tolist():
                if sid == NO_INSTANCE:
                    continue
                vs, us = np.nonzero(mask == sid)
                segs.append(Segment(int(sid), "", 1.0, (int(us.min()), int(vs.min()), int(us.max()) + 1,
                                                         int(vs.max()) + 1)))
            out.append(Perception(mask, tuple(segs)))
        return out


register_backend("external", lambda config, encoder: ExternalBackend(config, encoder))
register_backend("clustering", lambda config, encoder: ClusteringBackend(config, encoder))
