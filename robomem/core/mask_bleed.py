"""Mask bleed: segment pixels that do not lie on the segment's own surface.

A detector's mask boundaries are unreliable: pixels next to an object take its id although they show the wall,
the floor or the furniture far behind it (bleed), while the object loses pixels at its own edge (erosion).
Erosion only makes a segment a little smaller; bleed pixels back-project to points up to metres behind the
object, which drag its centroid away and, for furniture whose box is the union of its views, grow its box for
good (a table's navigation goal then ends up a metre off).

:func:`drop_mask_bleed` keeps the points of each segment that lie on its main surface: on the grid of
back-projected pixels, two neighbouring pixels of the same segment are on one surface when their depths differ
by at most ``edge_jump * z``, or when one continues the plane through the other and its next neighbour (inverse
depth is affine in the pixel coordinates on a plane, so a table top seen at a grazing angle stays one surface
however fast its depth grows). Per segment, the parts (connected components) with at least
:data:`KEEP_FRACTION` of the largest part's points (and :data:`MIN_PART_POINTS`) are kept (an object split by an
occluder keeps both sides); the other points are no longer the segment's. Bleed pixels sit across a depth edge
from the segment, so they form parts of their own, however wide the bleed band is (as long as it has fewer
points than the object).

Bleed onto a surface touching the object (the floor at a chair's foot, the table under a mug) is one surface
with it: scattered bleed pixels there lie within a few centimetres of the object, but a band of bleed all along
the outline of furniture standing on the floor follows the floor away from it (a limit of any depth test; the
segment's box leaves out its most extreme points, :data:`robomem.core.instances.BOX_TRIM`, which covers the odd
stray point, not a band).
"""

from __future__ import annotations

import numpy as np

from robomem.core.types import NO_INSTANCE

__all__ = ["KEEP_FRACTION", "MIN_PART_POINTS", "drop_mask_bleed"]

KEEP_FRACTION = 0.25
"""A part of a segment is kept when it has at least this fraction of the points of the segment's largest part ...
"""

MIN_PART_POINTS = 3
"""... and at least this many points (a stray bleed point is not a part of a small segment)."""


def drop_mask_bleed(
    seg_of_point: np.ndarray,
    points_world: np.ndarray,
    pixel_index: np.ndarray,
    image_hw: tuple[int, int],
    stride: int,
    world_T_camera: np.ndarray,
    edge_jump: float,
) -> np.ndarray:
    """(N,) segment id per point with the points off each segment's main surface set to ``NO_INSTANCE``.

    ``points_world`` (N,3) were back-projected from the pixels ``pixel_index`` (flat indices into the (H, W)
    image, every ``stride``-th pixel in u and v from (0, 0)) with the camera at ``world_T_camera``;
    ``edge_jump``: the largest depth step between neighbouring back-projected pixels of one surface, as a
    fraction of the depth (0: nothing is dropped). Deterministic: depends only on the inputs.
    """
    seg = np.asarray(seg_of_point, dtype=np.int64)
    in_seg = np.nonzero(seg != NO_INSTANCE)[0]
    if edge_jump <= 0 or len(in_seg) == 0:
        return seg
    h, w = image_hw
    s = max(1, int(stride))
    gh, gw = -(-h // s), -(-w // s)
    T = np.asarray(world_T_camera, dtype=np.float64)
    pts = np.asarray(points_world, dtype=np.float64)[in_seg]
    z = (pts - T[:3, 3]) @ T[:3, 2]  # camera z: the optical axis is the rotation's third column
    pix = np.asarray(pixel_index, dtype=np.int64)[in_seg]
    gi, gj = (pix // w) // s, (pix % w) // s
    # grids padded by 2 on every side: depth (0 = none), segment id, point number (into in_seg)
    Z = np.zeros((gh + 4, gw + 4))
    S = np.full((gh + 4, gw + 4), NO_INSTANCE, dtype=np.int64)
    P = np.full((gh + 4, gw + 4), -1, dtype=np.int64)
    Z[gi + 2, gj + 2] = z
    S[gi + 2, gj + 2] = seg[in_seg]
    P[gi + 2, gj + 2] = np.arange(len(in_seg))
    srcs: list[np.ndarray] = []
    dsts: list[np.ndarray] = []
    for di, dj in ((0, 1), (1, 0)):
        z0, s0 = _shifted(Z, S, 0, di, dj, gh, gw)
        z1, s1 = _shifted(Z, S, 1, di, dj, gh, gw)  # the neighbour the link goes to
        zb, sb = _shifted(Z, S, -1, di, dj, gh, gw)  # behind the pixel: continues the line through z1 and z0
        z2, s2 = _shifted(Z, S, 2, di, dj, gh, gw)  # beyond the neighbour
        same = (s0 != NO_INSTANCE) & (s1 == s0)
        with np.errstate(divide="ignore", invalid="ignore"):
            step = np.abs(z1 - z0) <= edge_jump * np.minimum(z0, z1)
            # plane continuation: 1/z is affine in the pixel coordinates on a plane
            fwd = (sb == s0) & (np.abs(z1 * (2.0 / z0 - 1.0 / zb) - 1.0) <= edge_jump)
            bwd = (s2 == s0) & (np.abs(z0 * (2.0 / z1 - 1.0 / z2) - 1.0) <= edge_jump)
        link = same & (step | fwd | bwd)
        a = P[2:2 + gh, 2:2 + gw][link]
        b = P[2 + di:2 + di + gh, 2 + dj:2 + dj + gw][link]
        srcs.append(a)
        dsts.append(b)
    part = _components(len(in_seg), np.concatenate(srcs), np.concatenate(dsts))
    # per segment: the size of each part and of its largest part
    n_parts = int(part.max()) + 1
    size = np.bincount(part, minlength=n_parts)
    seg_of_part = np.full(n_parts, NO_INSTANCE, dtype=np.int64)
    seg_of_part[part] = seg[in_seg]
    uniq, inv = np.unique(seg_of_part, return_inverse=True)
    largest = np.zeros(len(uniq), dtype=np.int64)
    np.maximum.at(largest, inv, size)
    keep_part = (size >= KEEP_FRACTION * largest[inv]) & ((size >= MIN_PART_POINTS) | (size == largest[inv]))
    out = seg.copy()
    out[in_seg[~keep_part[part]]] = NO_INSTANCE
    return out


def _shifted(Z: np.ndarray, S: np.ndarray, k: int, di: int, dj: int, gh: int, gw: int
             ) -> tuple[np.ndarray, np.ndarray]:
    """Depth and segment of the pixel ``k`` grid steps along (di, dj) from each pixel (grids padded by 2)."""
    sl = (slice(2 + k * di, 2 + k * di + gh), slice(2 + k * dj, 2 + k * dj + gw))
    return Z[sl], S[sl]


def _components(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(n,) connected-component label of each of ``n`` nodes joined by the edges (a[k], b[k])."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    graph = coo_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    return np.asarray(labels, dtype=np.int64)
