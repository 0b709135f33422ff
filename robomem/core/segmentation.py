"""A frame's segments: from its instance mask, or from clustering when it has none.

:func:`frame_segments` splits the frame's back-projected points by segment id into
:class:`~robomem.core.objects.SegmentObservation` s with a feature each (the label's text feature, or an
image-crop feature when the segment has no label and the encoder has an image tower).
:func:`cluster_segments` is the fallback for frames without masks (seeded-RANSAC floor removal + a
deterministic DBSCAN on the sorted voxel centres: the same frame always gives the same segments).
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Optional

import numpy as np

from robomem.config import MemoryConfig
from robomem.core.frame import CheckedFrame
from robomem.core.mask_bleed import drop_mask_bleed
from robomem.core.objects import SegmentObservation
from robomem.core.types import NO_INSTANCE, Frame, NodeKind
from robomem.encoders.base import Encoder

_RANSAC_SEED = 0  # fixed: the same frame always gives the same floor plane and the same segments


def _floor_inliers(centres: np.ndarray, threshold: float, iterations: int = 200) -> Optional[np.ndarray]:
    """Indices of the voxel centres (N,3) on the floor (the lowest near-horizontal plane), or None.

    Seeded RANSAC in numpy (deterministic: same input, same plane), then a least-squares refit on the
    inliers. ``threshold``: inlier distance from the plane, m.
    """
    n = len(centres)
    rng = np.random.default_rng(_RANSAC_SEED)
    samples = rng.integers(0, n, size=(iterations, 3))
    a, b, c = centres[samples[:, 0]], centres[samples[:, 1]], centres[samples[:, 2]]
    normals = np.cross(b - a, c - a)
    norms = np.linalg.norm(normals, axis=1)
    ok = norms > 1e-9
    if not ok.any():
        return None
    normals = normals[ok] / norms[ok, None]
    offsets = -np.einsum("ij,ij->i", normals, a[ok])
    best_idx: Optional[np.ndarray] = None
    for k in range(len(normals)):  # in sample order: ties keep the first (deterministic)
        if abs(normals[k, 2]) <= 0.95:
            continue
        inl = np.nonzero(np.abs(centres @ normals[k] + offsets[k]) <= threshold)[0]
        if best_idx is None or len(inl) > len(best_idx):
            best_idx = inl
    if best_idx is None or len(best_idx) < 3:
        return None
    # refit z = p0 x + p1 y + p2 on the inliers; keep the points within threshold of the refit plane
    pts = centres[best_idx]
    design = np.column_stack([pts[:, 0], pts[:, 1], np.ones(len(pts))])
    coef, *_ = np.linalg.lstsq(design, pts[:, 2], rcond=None)
    normal = np.array([-coef[0], -coef[1], 1.0])
    scale = float(np.linalg.norm(normal))
    dist = np.abs(centres[:, 2] - (centres[:, 0] * coef[0] + centres[:, 1] * coef[1] + coef[2])) / scale
    if abs(normal[2] / scale) <= 0.95:
        return None
    return np.nonzero(dist <= threshold)[0]


def _dbscan(points: np.ndarray, eps: float, min_points: int) -> np.ndarray:
    """Deterministic DBSCAN of (N,3) points: (N,) int64 labels, -1 = noise.

    Core points have >= ``min_points`` neighbours within ``eps`` (itself included); clusters are the
    connected components of core points; a border point joins the cluster of its lowest-index core
    neighbour. Cluster labels are numbered by their lowest point index, so the result depends only on the
    points and their order, never on threads.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    n = len(points)
    labels = np.full(n, -1, dtype=np.int64)
    if n == 0:
        return labels
    tree = cKDTree(points)
    pairs = tree.query_pairs(eps, output_type="ndarray")
    counts = np.ones(n, dtype=np.int64) + np.bincount(pairs.reshape(-1), minlength=n)
    core = counts >= min_points
    cc = pairs[core[pairs[:, 0]] & core[pairs[:, 1]]]
    graph = coo_matrix((np.ones(len(cc)), (cc[:, 0], cc[:, 1])), shape=(n, n))
    _, comp = connected_components(graph, directed=False)
    core_idx = np.nonzero(core)[0]
    if len(core_idx) == 0:
        return labels
    # renumber components by their lowest core point index
    _, first = np.unique(comp[core_idx], return_index=True)
    order = np.argsort(core_idx[first], kind="stable")
    remap = np.full(int(comp.max()) + 1, -1, dtype=np.int64)
    remap[comp[core_idx[first]][order]] = np.arange(len(order))
    labels[core_idx] = remap[comp[core_idx]]
    # border points: the lowest-index core neighbour's cluster
    border = pairs[core[pairs[:, 0]] != core[pairs[:, 1]]]
    if len(border):
        core_end = np.where(core[border[:, 0]], border[:, 0], border[:, 1])
        other = np.where(core[border[:, 0]], border[:, 1], border[:, 0])
        srt = np.lexsort((core_end, other))
        other, core_end = other[srt], core_end[srt]
        uniq_other, first_pos = np.unique(other, return_index=True)
        labels[uniq_other] = labels[core_end[first_pos]]
    return labels


def cluster_segments(
    points_world: np.ndarray,
    pixel_index: np.ndarray,
    image_hw: tuple[int, int],
    voxel_size: float,
    eps: float,
    min_points: int,
) -> np.ndarray:
    """Segment a frame without masks: drop the floor, DBSCAN the rest on voxel centres.

    Returns an (H, W) int32 segment mask (-1 = no segment). Segments get no label; their features come
    from image crops when the encoder has an image tower. The floor is the lowest horizontal plane (seeded
    RANSAC). Deterministic: the same points give the same mask, whatever the thread count or call order.
    """
    h, w = image_hw
    mask = np.full(h * w, NO_INSTANCE, dtype=np.int32)
    if len(points_world) == 0:
        return mask.reshape(h, w)
    keys = np.floor(np.asarray(points_world, dtype=np.float64) / voxel_size).astype(np.int64)
    uniq, inverse = np.unique(keys, axis=0, return_inverse=True)  # sorted: independent of pixel order
    inverse = inverse.reshape(-1)
    centres = (uniq.astype(np.float64) + 0.5) * voxel_size
    keep = np.ones(len(centres), dtype=bool)
    if len(centres) >= 50:
        inliers = _floor_inliers(centres, 1.5 * voxel_size)
        if inliers is not None and len(inliers) > 0.1 * len(centres):
            floor_z = float(np.median(centres[inliers, 2]))
            if floor_z <= float(np.percentile(centres[:, 2], 10)) + voxel_size:
                keep[inliers] = False
    idx = np.nonzero(keep)[0]
    if len(idx) == 0:
        return mask.reshape(h, w)
    labels = np.full(len(centres), -1, dtype=np.int64)
    labels[idx] = _dbscan(centres[idx], max(eps, 3.0 * voxel_size), 3)
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
    mask and ``objects.cluster_unlabelled`` is on), without each segment's mask bleed
    (:mod:`robomem.core.mask_bleed`, ``objects.segment_edge_jump``). Returns
    (segments, per-point segment id (N,) int64, NO_INSTANCE for points of no segment)."""
    frame = checked.frame
    if frame.instance_mask is None:
        if not config.objects.cluster_unlabelled or len(points) == 0:
            return [], np.full(len(points), NO_INSTANCE, dtype=np.int64)
        mask = cluster_segments(points, pixel_index, frame.rgb.shape[:2], config.voxel.voxel_size,
                                config.objects.cluster_eps, config.objects.min_points)
        frame = dataclasses.replace(frame, instance_mask=mask)
    assert frame.instance_mask is not None
    seg_of_point = frame.instance_mask.reshape(-1)[pixel_index].astype(np.int64)
    # mask bleed (pixels of the wall / floor behind a segment that took its id) is not the segment's
    seg_of_point = drop_mask_bleed(seg_of_point, points, pixel_index, frame.instance_mask.shape[:2],
                                   config.voxel.pixel_stride, checked.world_T_camera,
                                   config.objects.segment_edge_jump)
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
