"""The clustering fallback for frames without masks: the same frame always gives the same segments."""

from __future__ import annotations

import numpy as np

from robomem.core.segmentation import cluster_segments


def _two_boxes_on_a_floor(rng: np.random.Generator) -> np.ndarray:
    floor = np.column_stack([rng.uniform(0.0, 3.0, 4000), rng.uniform(-1.5, 1.5, 4000), rng.normal(0.0, 0.005, 4000)])
    boxes = [np.column_stack([rng.uniform(x - 0.2, x + 0.2, 800), rng.uniform(y - 0.2, y + 0.2, 800),
                              rng.uniform(0.05, 0.4, 800)]) for x, y in ((2.0, -0.6), (2.0, 0.6))]
    return np.concatenate([floor, *boxes]).astype(np.float32)


def test_same_points_give_the_same_segments_every_time():
    rng = np.random.default_rng(3)
    pts = _two_boxes_on_a_floor(rng)
    pixel_index = np.arange(len(pts))
    hw = (1, len(pts))
    first = cluster_segments(pts, pixel_index, hw, 0.05, 0.1, 20)
    for _ in range(5):
        assert np.array_equal(cluster_segments(pts, pixel_index, hw, 0.05, 0.1, 20), first)
    # the floor is removed and the two boxes are two segments
    seg = first.reshape(-1)
    box_a, box_b = seg[4000:4800], seg[4800:5600]
    assert (seg[:4000] == -1).mean() > 0.9
    assert len(set(box_a[box_a >= 0].tolist())) == 1 and len(set(box_b[box_b >= 0].tolist())) == 1
    assert box_a[box_a >= 0][0] != box_b[box_b >= 0][0]


def test_pixel_order_does_not_change_the_partition():
    rng = np.random.default_rng(4)
    pts = _two_boxes_on_a_floor(rng)
    perm = rng.permutation(len(pts))
    hw = (1, len(pts))
    a = cluster_segments(pts, np.arange(len(pts)), hw, 0.05, 0.1, 20).reshape(-1)
    b = cluster_segments(pts[perm], perm, hw, 0.05, 0.1, 20).reshape(-1)
    assert np.array_equal(a, b)
