"""Mask bleed (robomem.core.mask_bleed): mask pixels that show the wall or floor behind a segment are not its
points, so boxes, centroids and the receptacle geometry stay on the object however the mask's boundary bleeds."""

from __future__ import annotations

import numpy as np
import pytest

from robomem.config import EncoderConfig, MemoryConfig, ObjectConfig, VoxelConfig
from robomem.core.instances import SegmentObservation
from robomem.core.mask_bleed import drop_mask_bleed
from robomem.core.memory import SpatioSemanticMemory
from robomem.core.types import NodeKind
from robomem.encoders.base import create_encoder
from tests.core._bleed import VIEWS, bleeding_frame, room_with_a_wall, segment_points
from tests.core._scene import SEC, T0, BoxWorld


@pytest.fixture(scope="module")
def encoder():
    return create_encoder(EncoderConfig(backend="hash"))


def assert_on_the_table(pts: np.ndarray, tol: float) -> None:
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    assert np.all(lo >= np.array([1.5, -0.5, 0.0]) - tol), lo
    assert np.all(hi <= np.array([2.5, 0.5, 0.75]) + tol), hi


@pytest.mark.parametrize("width", [1, 3, 6])
@pytest.mark.parametrize("view", VIEWS)
def test_a_band_of_bleed_onto_the_wall_behind_is_not_the_segment(width, view):
    world, _ = room_with_a_wall()
    frame = bleeding_frame(world, *view, T0, width, wall_only=True)
    pts, pix, seg = segment_points(frame)
    kept = drop_mask_bleed(seg, pts, pix, frame.depth.shape, 1, frame.world_T_camera, 0.04)
    assert np.abs(pts[seg == 1, 0]).max() > 4.9  # the mask bled onto the wall
    assert_on_the_table(pts[kept == 1], 0.01)
    n_table = (world.frame(*view, T0).instance_mask == 1).sum()
    assert (kept == 1).sum() >= 0.98 * n_table  # the table's own pixels stay


@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("view", VIEWS)
def test_scattered_bleed_all_around_keeps_boxes_and_centroids(stride, view):
    """A detector's jitter: boundary pixels take the segment's id at random (twice over), onto the wall behind,
    the floor beside it, the table under the mug. The segments' boxes stay on the objects, the mug's centroid
    where it is without bleed."""
    world, _ = room_with_a_wall()
    frame = bleeding_frame(world, *view, T0, 2, p=0.3)
    pts, pix, seg = segment_points(frame, stride)
    kept = drop_mask_bleed(seg, pts, pix, frame.depth.shape, stride, frame.world_T_camera, 0.04)
    table = SegmentObservation(1, "table", NodeKind.RECEPTACLE, pts[kept == 1], None)
    assert_on_the_table(np.array([table.box.min_xyz, table.box.max_xyz]), 0.03)
    clean = bleeding_frame(world, *view, T0, 0)
    cpts, _, cseg = segment_points(clean, stride)
    mug = pts[kept == 10]
    assert len(mug) > 0 and np.linalg.norm(mug.mean(axis=0) - cpts[cseg == 10].mean(axis=0)) < 0.015


def test_a_surface_seen_at_a_grazing_angle_stays_whole():
    """A long, low table top seen almost edge-on: its depth grows fast from row to row, but it is one plane."""
    w = BoxWorld()
    w.add(1, "long table", (4.0, 0.0, 0.35), (6.0, 1.0, 0.7), receptacle=True)
    frame = w.frame((0.5, 0.0, 0.9), (6.0, 0.0, 0.7), T0)
    pts, pix, seg = segment_points(frame, stride=2)
    kept = drop_mask_bleed(seg, pts, pix, frame.depth.shape, 2, frame.world_T_camera, 0.04)
    assert (seg == 1).sum() > 100
    assert (kept == 1).sum() >= 0.97 * (seg == 1).sum()


def test_off_keeps_every_mask_pixel():
    world, _ = room_with_a_wall()
    frame = bleeding_frame(world, *VIEWS[0], T0, 2)
    pts, pix, seg = segment_points(frame)
    assert np.array_equal(drop_mask_bleed(seg, pts, pix, frame.depth.shape, 1, frame.world_T_camera, 0.0), seg)


def test_a_table_keeps_its_box_and_centroid_under_bleed(encoder):
    """Views of a table whose mask bleeds (onto the wall far behind, the floor, the table under the mug): the
    receptacle's box (the union of its views) and both places stay on the objects."""
    world, regions = room_with_a_wall()
    cfg = MemoryConfig(voxel=VoxelConfig(pixel_stride=2), objects=ObjectConfig(min_points=10))
    mem = SpatioSemanticMemory(cfg, encoder, regions)
    for k, (eye, target) in enumerate(VIEWS * 3):
        mem.ingest(bleeding_frame(world, eye, target, T0 + k * SEC, 2, p=0.3))
    assert len(mem.instances()) == 2
    by_label = {i.label: i for i in mem.instances()}
    table, mug = by_label["wooden kitchen table"], by_label["red ceramic mug"]
    lo, hi = np.asarray(table.box.min_xyz), np.asarray(table.box.max_xyz)
    assert np.all(lo[:2] > np.array([1.5, -0.5]) - 0.04) and np.all(hi[:2] < np.array([2.5, 0.5]) + 0.04)
    assert hi[2] < 0.75 + 0.04
    assert np.linalg.norm(np.asarray(table.box.center[:2]) - (2.0, 0.0)) < 0.06
    assert np.linalg.norm(np.asarray(mug.position[:2]) - (2.0, 0.0)) < 0.06  # its visible faces' centre
