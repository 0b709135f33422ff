"""A frame's segments: from its instance mask, or from clustering when it has none.

:func:`frame_segments` splits the frame's back-projected points by segment id into
:class:`~robomem.core.objects.SegmentObservation` s with a feature each (the label's text feature, or an
image-crop feature when the segment has no label and the encoder has an image tower).
:func:`cluster_segments` is the fallback for frames without masks (floor removal + DBSCAN, Open3D).
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Optional

import numpy as np

from robomem.config import MemoryConfig
from robomem.core.frame import CheckedFrame
from robomem.core.objects import SegmentObservation
from robomem.core.types import NO_INSTANCE, Frame, NodeKind
from robomem.encoders.base import Encoder


def cluster_segments(
    points_world: np.ndarray,
    pixel_index: np.ndarray,
    image_hw: tuple[int, int],
    voxel_size: float,
    eps: float,
    min_points: int,
) -> np.ndarray:
    """Segment a frame without masks: drop the floor, DBSCAN the rest (Open3D) on voxel centres.

    Returns an (H, W) int32 segment mask (-1 = no segment). Segments get no label; their features come
    from image crops when the encoder has an image tower. The floor is the lowest horizontal RANSAC plane.
    """
    import open3d as o3d

    h, w = image_hw
    mask = np.full(h * w, NO_INSTANCE, dtype=np.int32)
    keys = np.floor(points_world / voxel_size).astype(np.int64)
    uniq, inverse = np.unique(keys, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    centres = (uniq.astype(np.float64) + 0.5) * voxel_size
    keep = np.ones(len(centres), dtype=bool)
    if len(centres) >= 50:
        o3d.utility.random.seed(0)  # RANSAC: same frame -> same segments
        pcd = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(centres))
        plane, inliers = pcd.segment_plane(distance_threshold=1.5 * voxel_size, ransac_n=3, num_iterations=200)
        normal = np.asarray(plane[:3], dtype=np.float64)
        normal = normal / max(float(np.linalg.norm(normal)), 1e-9)
        if abs(normal[2]) > 0.95 and len(inliers) > 0.1 * len(centres):
            floor_z = float(np.median(centres[inliers, 2]))
            if floor_z <= float(np.percentile(centres[:, 2], 10)) + voxel_size:
                keep[np.asarray(inliers)] = False
    idx = np.nonzero(keep)[0]
    if len(idx) == 0:
        return mask.reshape(h, w)
    pcd = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(centres[idx]))
    labels_kept = np.asarray(pcd.cluster_dbscan(eps=max(eps, 3.0 * voxel_size), min_points=3))
    labels = np.full(len(centres), -1, dtype=np.int64)
    labels[idx] = labels_kept
    point_labels = labels[inverse]
    mask[pixel_index] = point_labels.astype(np.int32)
    counts = np.bincount(point_labels[point_labels >= 0], minlength=1) if (point_labels >= 0).any() else np.zeros(1)
    small = np.nonzero(counts < min_points)[0]
    if len(small):
        mask[np.isin(mask, small)] = NO_INSTANCE
    return mask.reshape(h, w)


def _crop(frame: Frame, seg_id: int) -> np.ndarray:
    assert frame.instance_mask is not None
    vs, us = np.nonzero(frame.instance_mask == seg_id)
    return frame.rgb[vs.min() : vs.max() + 1, us.min() : us.max() + 1]


def frame_segments(
    checked: CheckedFrame,
    points: np.ndarray,
    pixel_index: np.ndarray,
    config: MemoryConfig,
    encoder: Encoder,
    text_feature: Callable[[str], np.ndarray],
) -> tuple[list[SegmentObservation], np.ndarray]:
    """Split the frame's points (N,3) by segment (the clustering fallback's segments when the frame has no
    mask and ``objects.cluster_unlabelled`` is on). Returns (segments, per-point segment id (N,) int64)."""
    frame = checked.frame
    if frame.instance_mask is None:
        if not config.objects.cluster_unlabelled or len(points) == 0:
            return [], np.full(len(points), NO_INSTANCE, dtype=np.int64)
        mask = cluster_segments(points, pixel_index, frame.rgb.shape[:2], config.voxel.voxel_size,
                                config.objects.cluster_eps, config.objects.min_points)
        frame = dataclasses.replace(frame, instance_mask=mask)
    assert frame.instance_mask is not None
    seg_of_point = frame.instance_mask.reshape(-1)[pixel_index].astype(np.int64)
    valid = seg_of_point != NO_INSTANCE
    if not valid.any():
        return [], seg_of_point
    order = np.argsort(seg_of_point, kind="stable")
    sorted_ids = seg_of_point[order]
    uniq, starts = np.unique(sorted_ids, return_index=True)
    bounds = list(starts[1:]) + [len(sorted_ids)]
    segments: list[SegmentObservation] = []
    crops: list[tuple[int, np.ndarray]] = []
    for seg_id, a, b in zip(uniq.tolist(), starts.tolist(), bounds):
        if seg_id == NO_INSTANCE or b - a < config.objects.min_points:
            continue
        label = frame.instance_labels.get(seg_id, "")
        kind = NodeKind.RECEPTACLE if seg_id in frame.receptacle_ids else NodeKind.OBJECT
        feature: Optional[np.ndarray] = text_feature(label) if label else None
        pts = points[order[a:b]]
        segments.append(SegmentObservation(seg_id, label, kind, pts, feature))
        if feature is None and encoder.supports_images:
            crops.append((len(segments) - 1, _crop(frame, seg_id)))
    if crops:
        feats = encoder.encode_images([c for _, c in crops])
        for (i, _), f in zip(crops, feats):
            s = segments[i]
            segments[i] = SegmentObservation(s.segment_id, s.label, s.kind, s.points_world, f.astype(np.float32))
    return segments, seg_of_point
