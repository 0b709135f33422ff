"""Dynamic voxel map: fusion, bounded growth, free-space removal, negative evidence, persistence.

Scenes are real Open3D ray-cast depth images (floor, back wall, boxes) at 160x120.
"""

from __future__ import annotations

import dataclasses
from typing import Optional

import numpy as np
import open3d as o3d
import pytest
import torch

from robomem.config import VoxelConfig
from robomem.core.geometry import backproject, look_at
from robomem.core.types import NO_INSTANCE, CameraIntrinsics
from robomem.core.voxel_map import NegativeEvidence, RemovalEvent, VoxelMap
from robomem.errors import FrameError, MemoryStateError, PersistenceError

W, H = 160, 120
INTR = CameraIntrinsics(fx=120.0, fy=120.0, cx=(W - 1) / 2, cy=(H - 1) / 2, width=W, height=H)
# frames here are 1 ns apart: carve and mark negative evidence in every one of them
CFG = VoxelConfig(pixel_stride=1, negative_pixel_stride=4, device="cpu", removal_min_interval_s=0.0,
                  negative_min_interval_s=0.0)
T0 = 1_000_000_000
EYE = np.array([0.0, 0.0, 1.2])
POSE = look_at(EYE, np.array([3.0, 0.0, 0.3]))

FLOOR, WALL = 100, 101  # instance ids of the structure in the tests' masks
BOX = {1: ((2.0, 0.0, 0.35), (0.4, 0.5, 0.7)), 2: ((2.0, 1.3, 0.25), (0.4, 0.4, 0.5))}
OCCLUDER = {3: ((1.2, 0.0, 0.5), (0.2, 0.9, 1.0))}


def box_mesh(center: tuple[float, ...], size: tuple[float, ...]) -> o3d.t.geometry.TriangleMesh:
    m = o3d.geometry.TriangleMesh.create_box(*size)
    m.translate(np.asarray(center) - np.asarray(size) / 2)
    return o3d.t.geometry.TriangleMesh.from_legacy(m)


def render(objects: dict[int, tuple], pose: np.ndarray = POSE) -> tuple[np.ndarray, np.ndarray]:
    """Depth (H, W) float32 m (0 = no hit) and instance id (H, W) int64 of a floor + wall + ``objects``."""
    scene = o3d.t.geometry.RaycastingScene()
    ids = {int(scene.add_triangles(box_mesh((2.0, 0.0, -0.05), (12.0, 12.0, 0.1)))): FLOOR}
    ids[int(scene.add_triangles(box_mesh((4.0, 0.0, 1.5), (0.1, 8.0, 3.0))))] = WALL
    for inst, (c, s) in objects.items():
        ids[int(scene.add_triangles(box_mesh(c, s)))] = inst
    K = INTR.as_matrix()
    K[0, 2] += 0.5  # Open3D pixel centres are at +0.5
    K[1, 2] += 0.5
    rays = o3d.t.geometry.RaycastingScene.create_rays_pinhole(
        o3d.core.Tensor(K), o3d.core.Tensor(np.linalg.inv(pose)), W, H
    )
    ans = scene.cast_rays(rays)
    t = ans["t_hit"].numpy()
    gid = ans["geometry_ids"].numpy()
    hit = np.isfinite(t)
    lut = np.full(max(ids) + 2, NO_INSTANCE, np.int64)
    for g, inst in ids.items():
        lut[g] = inst
    inst_img = np.where(hit, lut[np.where(hit, gid, len(lut) - 1).astype(np.int64)], NO_INSTANCE)
    return np.where(hit, t, 0.0).astype(np.float32), inst_img


def ingest(vm: VoxelMap, depth: np.ndarray, inst: Optional[np.ndarray], stamp: int, pose: np.ndarray = POSE):
    d = torch.from_numpy(depth)
    T = torch.from_numpy(pose).float()
    bp = backproject(d, INTR, T, vm.config.pixel_stride, vm.config.min_depth, vm.config.max_depth)
    carve = vm.carve(d, INTR, T, stamp)
    colors = torch.full((len(bp.points_world), 3), 128, dtype=torch.uint8)
    ids = None if inst is None else torch.from_numpy(inst.reshape(-1))[bp.pixel_index]
    return carve, vm.integrate(bp.points_world, colors, stamp, instance_ids=ids)


def check_index(vm: VoxelMap) -> None:
    """The sorted key index and the rows agree (internal invariant)."""
    n = len(vm)
    assert vm._skeys.numel() == n and vm._srows.numel() == n
    assert bool((vm._skeys[1:] > vm._skeys[:-1]).all())
    assert torch.equal(torch.sort(vm._srows).values, torch.arange(n))
    assert torch.equal(vm._keys_row[:n][vm._srows], vm._skeys)
    assert len(torch.unique(vm.uids)) == n


@pytest.fixture(scope="module")
def scene_with_boxes() -> tuple[np.ndarray, np.ndarray]:
    return render(BOX)


@pytest.fixture(scope="module")
def scene_without_box1() -> tuple[np.ndarray, np.ndarray]:
    return render({2: BOX[2]})


# ------------------------------------------------------------------------------------------ fusion


def test_static_frame_many_times_is_bounded_and_updates_last_seen(scene_with_boxes) -> None:
    depth, inst = scene_with_boxes
    vm = VoxelMap(CFG)
    _, first = ingest(vm, depth, inst, T0)
    n = len(vm)
    assert n > 500 and len(first.added_uids) == n and len(first.updated_uids) == 0
    assert set(first.voxels_per_instance) == {1, 2, FLOOR, WALL}
    uids0 = vm.uids.clone()
    for k in range(1, 8):
        carve, res = ingest(vm, depth, inst, T0 + k)
        assert len(carve.removed_uids) == 0
        assert len(res.added_uids) == 0
        assert sorted(res.updated_uids.tolist()) == sorted(uids0.tolist())
    assert len(vm) == n
    assert torch.equal(vm.uids, uids0)
    assert bool((vm.first_seen_ns == T0).all()) and bool((vm.last_seen_ns == T0 + 7).all())
    assert bool((vm.counts == 8).all())
    neg_cells = len(vm.negative)
    ingest(vm, depth, inst, T0 + 8)
    assert len(vm.negative) == neg_cells and vm.negative.events() == []
    check_index(vm)


def test_positions_are_running_means_and_lie_in_their_voxels(scene_with_boxes) -> None:
    depth, inst = scene_with_boxes
    vm = VoxelMap(CFG)
    ingest(vm, depth, inst, T0)
    bp = backproject(torch.from_numpy(depth), INTR, torch.from_numpy(POSE).float(), 1, 0.1, 6.0)
    pts32 = bp.points_world.numpy()
    keys = np.floor(pts32 / np.float32(CFG.voxel_size)).astype(np.int64)  # float32 like the map
    pts = pts32.astype(np.float64)
    uniq, inv = np.unique(keys, axis=0, return_inverse=True)
    inv = inv.reshape(-1)
    means = np.zeros((len(uniq), 3))
    np.add.at(means, inv, pts)
    means /= np.bincount(inv)[:, None]
    coords = vm.voxel_coords.numpy()
    order = np.lexsort(coords.T[::-1])
    order_ref = np.lexsort(uniq.T[::-1])
    np.testing.assert_array_equal(coords[order], uniq[order_ref])
    np.testing.assert_allclose(vm.positions.numpy()[order], means[order_ref], atol=1e-4)


@pytest.mark.parametrize("spread_m", [0.3, 4.0, 40_000.0])
def test_points_are_grouped_by_voxel_at_any_extent(spread_m: float) -> None:
    """Points a few cm or tens of km apart (up to the map's range) land in the voxels their coordinates say."""
    rng = np.random.default_rng(7)
    pts = ((rng.random((2000, 3)) - 0.5) * spread_m).astype(np.float32)
    pts = np.concatenate([pts, pts[:500] + np.float32(0.001)])  # repeats: several points per voxel
    cols = rng.integers(0, 255, (len(pts), 3), dtype=np.uint8)
    vm = VoxelMap(CFG)
    vm.integrate(pts, cols, T0)
    keys = np.floor(pts / np.float32(CFG.voxel_size)).astype(np.int64)
    uniq, counts = np.unique(keys, axis=0, return_counts=True)
    coords = vm.voxel_coords.numpy()
    order = np.lexsort(coords.T[::-1])
    np.testing.assert_array_equal(coords[order], uniq)
    assert len(vm) == len(uniq) and int(vm.counts.sum()) == len(uniq)  # one observation per voxel and frame


def test_colors_and_majority_instance_per_voxel() -> None:
    vm = VoxelMap(CFG)
    pts = torch.tensor([[0.01, 0.01, 0.01], [0.02, 0.02, 0.02], [0.03, 0.03, 0.03], [0.51, 0.0, 0.0]])
    cols = torch.tensor([[0, 0, 0], [100, 0, 0], [200, 0, 30], [9, 9, 9]], dtype=torch.uint8)
    res = vm.integrate(pts, cols, T0, instance_ids=torch.tensor([7, 7, 5, NO_INSTANCE]))
    assert len(vm) == 2 and res.voxels_per_instance == {7: 1}
    row = int(vm.rows_for_uids(res.added_uids[:1])[0])
    row = row if vm.instance_ids[row] == 7 else 1 - row
    assert vm.colors[row].tolist() == [100, 0, 10]
    np.testing.assert_allclose(vm.positions[row].numpy(), [0.02] * 3, atol=1e-6)
    # the next frame sees the voxel mostly as instance 5: the label follows the latest frame
    vm.integrate(pts[:3], cols[:3], T0 + 1, instance_ids=torch.tensor([5, 5, 7]))
    assert int(vm.instance_ids[row]) == 5
    # a frame without instance ids leaves labels alone; colour is a per-frame running mean
    vm.integrate(pts[:1], torch.tensor([[250, 0, 0]], dtype=torch.uint8), T0 + 2)
    assert int(vm.instance_ids[row]) == 5
    assert vm.colors[row].tolist() == [round((100 + 100 + 250) / 3), 0, round((10 + 10 + 0) / 3)]


def test_features_are_fused_normalised_float16() -> None:
    vm = VoxelMap(CFG, feature_dim=4)
    pts = torch.tensor([[0.01, 0.01, 0.01], [0.02, 0.01, 0.01], [1.0, 1.0, 1.0]])
    table = torch.tensor([[2.0, 0.0, 0.0, 0.0], [0.0, 3.0, 0.0, 0.0]])
    cols = torch.zeros(3, 3, dtype=torch.uint8)
    vm.integrate(pts, cols, T0, feature_rows=torch.tensor([0, 1, -1]), feature_table=table)
    assert vm.features.dtype == torch.float16 and vm.features.shape == (2, 4)
    rows = torch.argsort(vm.positions[:, 0])
    f0 = vm.features[rows[0]].float()
    torch.testing.assert_close(f0, torch.tensor([1.0, 1.0, 0.0, 0.0]) / 2**0.5, atol=1e-3, rtol=0)
    assert float(vm.features[rows[1]].float().abs().sum()) == 0.0  # no feature given
    assert vm.feature_counts[rows].tolist() == [1, 0]
    # second observation with feature [0,0,1,0]: running mean of unit vectors, re-normalised
    vm.integrate(pts[:1], cols[:1], T0 + 1, feature_rows=torch.tensor([0]),
                 feature_table=torch.tensor([[0.0, 0.0, 5.0, 0.0]]))
    expect = torch.tensor([1 / 2**0.5, 1 / 2**0.5, 1.0, 0.0])
    torch.testing.assert_close(vm.features[rows[0]].float(), expect / expect.norm(), atol=2e-3, rtol=0)
    assert int(vm.feature_counts[rows[0]]) == 2 and int(vm.counts[rows[0]]) == 2


def test_bad_integrate_input_is_rejected_and_changes_nothing(scene_with_boxes) -> None:
    depth, inst = scene_with_boxes
    vm = VoxelMap(CFG, feature_dim=4)
    ingest(vm, depth, inst, T0)
    before = vm.state_dict()
    pts = torch.zeros(5, 3)
    cols = torch.zeros(5, 3, dtype=torch.uint8)
    bad_calls = [
        (dict(points_world=torch.zeros(5, 2), colors=cols), "shape \\(N, 3\\)"),
        (dict(points_world=pts, colors=cols[:4]), "colors must have shape"),
        (dict(points_world=pts, colors=cols.float()), "uint8"),
        (dict(points_world=torch.tensor([[0.0, np.nan, 0.0]] * 5), colors=cols), "NaN"),
        (dict(points_world=pts + 1e6, colors=cols), "beyond"),
        (dict(points_world=pts, colors=cols, instance_ids=torch.zeros(4, dtype=torch.int64)), "one entry"),
        (dict(points_world=pts, colors=cols, instance_ids=torch.full((5,), -3)), ">= -1"),
        (dict(points_world=pts, colors=cols, feature_rows=torch.zeros(5, dtype=torch.int64)), "together"),
        (dict(points_world=pts, colors=cols, feature_rows=torch.zeros(5, dtype=torch.int64),
              feature_table=torch.zeros(1, 3)), "shape \\(S, 4\\)"),
        (dict(points_world=pts, colors=cols, feature_rows=torch.full((5,), 2),
              feature_table=torch.zeros(2, 4)), "row of feature_table"),
    ]
    for kwargs, msg in bad_calls:
        with pytest.raises(FrameError, match=msg):
            vm.integrate(stamp_ns=T0 + 1, **kwargs)
    after = vm.state_dict()
    for k in before:
        np.testing.assert_array_equal(before[k], after[k])
    with pytest.raises(FrameError, match="feature_dim=0"):
        VoxelMap(CFG).integrate(pts, cols, T0, feature_rows=torch.zeros(5, dtype=torch.int64),
                                feature_table=torch.zeros(1, 4))


# ----------------------------------------------------------------------------------------- removal


def test_removed_box_is_carved_with_event_and_negative_evidence(scene_with_boxes, scene_without_box1) -> None:
    depth, inst = scene_with_boxes
    depth2, inst2 = scene_without_box1
    vm = VoxelMap(CFG)
    ingest(vm, depth, inst, T0)
    ingest(vm, depth, inst, T0 + 1)
    before = vm.instance_voxel_counts()
    walls_before = before[WALL] + before[FLOOR]
    box_uids = set(vm.instance_uids(1).tolist())
    assert before[1] > 100

    carve, _ = ingest(vm, depth2, inst2, T0 + 2)
    after = vm.instance_voxel_counts()
    # what is left hugs the floor (within removal_margin of it) and is now mostly labelled floor
    assert after.get(1, 0) < 0.1 * before[1]
    assert 0.8 * before[1] <= carve.removed_per_instance[1] <= before[1] - after.get(1, 0)
    assert set(carve.removed_uids.tolist()) <= box_uids | set()  # nothing but the box was removed...
    assert after[2] == before[2]  # ... the other box is untouched
    assert after[WALL] + after[FLOOR] >= walls_before  # the wall behind the box gets added, nothing lost
    assert np.all(vm.rows_for_uids(carve.removed_uids) == -1)
    box_min = np.array(BOX[1][0]) - np.array(BOX[1][1]) / 2 - CFG.voxel_size
    box_max = np.array(BOX[1][0]) + np.array(BOX[1][1]) / 2 + CFG.voxel_size
    assert np.all((carve.removed_positions >= box_min) & (carve.removed_positions <= box_max))

    events = vm.negative.events(T0 + 2, T0 + 2)
    assert [e.instance_id for e in events] == [1]
    ev = events[0]
    assert ev.n_voxels == carve.removed_per_instance[1] and ev.stamp_ns == T0 + 2
    np.testing.assert_allclose(ev.centroid, carve.removed_positions.mean(0), atol=1e-4)
    assert vm.negative.events(0, T0 + 1) == []
    # the box's place was seen empty now; before, it was observed (occupied) but never empty
    assert vm.negative.last_empty_ns(np.array([ev.centroid]))[0] == T0 + 2
    assert vm.negative.last_observed_ns(np.array([ev.centroid]))[0] == T0 + 2
    box2_top = np.array([[BOX[2][0][0] - 0.15, BOX[2][0][1], 0.45]])
    assert vm.negative.last_observed_ns(box2_top)[0] == T0 + 2
    assert vm.negative.last_empty_ns(box2_top)[0] == 0  # still there: never seen empty
    assert vm.negative.last_empty_ns(np.array([[50.0, 50.0, 50.0]]))[0] == 0  # never looked at
    check_index(vm)


def test_occluded_voxels_survive(scene_with_boxes) -> None:
    depth, inst = scene_with_boxes
    vm = VoxelMap(CFG)
    ingest(vm, depth, inst, T0)
    n_box = vm.instance_voxel_counts()[1]
    # an occluder appears between the camera and box 1, and box 1 is gone: no evidence about it
    depth_occ, inst_occ = render({2: BOX[2], **OCCLUDER})
    assert (inst_occ == 3).mean() > 0.05
    carve, _ = ingest(vm, depth_occ, inst_occ, T0 + 1)
    assert 1 not in carve.removed_per_instance
    assert vm.instance_voxel_counts()[1] == n_box
    assert vm.negative.events() == []


def test_voxels_outside_the_frustum_survive(scene_with_boxes) -> None:
    depth, inst = scene_with_boxes
    vm = VoxelMap(CFG)
    ingest(vm, depth, inst, T0)
    n_box = vm.instance_voxel_counts()[1]
    away = look_at(EYE, EYE + np.array([0.2, -1.0, -0.4]))  # looking to the right, away from the boxes
    depth_away, inst_away = render({2: BOX[2]}, away)
    assert (depth_away > 0).mean() > 0.3
    carve, _ = ingest(vm, depth_away, inst_away, T0 + 1, pose=away)
    assert len(carve.removed_uids) == 0
    assert vm.instance_voxel_counts()[1] == n_box


@pytest.mark.parametrize("invalid", [0.0, np.nan, np.inf, 0.05])
def test_invalid_depth_never_carves(scene_with_boxes, scene_without_box1, invalid: float) -> None:
    depth, inst = scene_with_boxes
    depth2, inst2 = scene_without_box1
    vm = VoxelMap(CFG)
    ingest(vm, depth, inst, T0)
    n = len(vm)
    # the box is gone but every pixel where it was (and its border) has no valid measurement
    hole = np.zeros_like(inst, dtype=bool)
    vs, us = np.nonzero(inst == 1)
    hole[max(vs.min() - 2, 0): vs.max() + 3, max(us.min() - 2, 0): us.max() + 3] = True
    d_bad = depth2.copy()
    d_bad[hole] = invalid
    carve, _ = ingest(vm, d_bad, np.where(hole, NO_INSTANCE, inst2), T0 + 1)
    assert 1 not in carve.removed_per_instance
    assert len(vm) >= n - len(carve.removed_uids) and vm.instance_voxel_counts()[1] > 100
    # an all-invalid frame removes nothing at all and records no evidence
    cells = len(vm.negative)
    carve, res = ingest(vm, np.full_like(depth, invalid), None, T0 + 2)
    assert len(carve.removed_uids) == 0 and len(res.added_uids) == 0 and len(vm.negative) == cells


def test_removal_needs_consecutive_misses(scene_with_boxes, scene_without_box1) -> None:
    depth, inst = scene_with_boxes
    depth2, inst2 = scene_without_box1
    vm = VoxelMap(dataclasses.replace(CFG, removal_min_misses=3))
    ingest(vm, depth, inst, T0)
    n_box = vm.instance_voxel_counts()[1]
    for k in (1, 2):
        carve, _ = ingest(vm, depth2, inst2, T0 + k)
        assert len(carve.removed_uids) == 0
    ingest(vm, depth, inst, T0 + 3)  # the box is back: observed again, the miss count resets
    for k in (4, 5):
        carve, _ = ingest(vm, depth2, inst2, T0 + k)
        assert len(carve.removed_uids) == 0
    carve, _ = ingest(vm, depth2, inst2, T0 + 6)
    assert carve.removed_per_instance.get(1, 0) > 0.8 * n_box


def test_removal_off_is_append_only(scene_with_boxes, scene_without_box1) -> None:
    vm = VoxelMap(dataclasses.replace(CFG, removal=False))
    ingest(vm, *scene_with_boxes, T0)
    n = len(vm)
    carve, _ = ingest(vm, *scene_without_box1, T0 + 1)
    assert len(carve.removed_uids) == 0 and len(vm) >= n and len(vm.negative) == 0


def test_carve_rejects_bad_input_without_changes(scene_with_boxes) -> None:
    depth, inst = scene_with_boxes
    vm = VoxelMap(CFG)
    ingest(vm, depth, inst, T0)
    n, cells = len(vm), len(vm.negative)
    with pytest.raises(FrameError, match="intrinsics say"):
        vm.carve(torch.zeros(H, W + 2), INTR, torch.eye(4), T0 + 1)
    scaled = POSE.copy()
    scaled[:3, :3] *= 2
    with pytest.raises(FrameError, match="rotation"):
        vm.carve(torch.from_numpy(depth), INTR, torch.from_numpy(scaled), T0 + 1)
    assert len(vm) == n and len(vm.negative) == cells


def test_uids_are_never_reused_and_rows_follow_swaps(scene_with_boxes, scene_without_box1) -> None:
    depth, inst = scene_with_boxes
    depth2, inst2 = scene_without_box1
    vm = VoxelMap(CFG)
    ingest(vm, depth, inst, T0)
    pos_of = dict(zip(vm.uids.tolist(), vm.positions.numpy().tolist(), strict=True))
    carve = vm.carve(torch.from_numpy(depth2), INTR, torch.from_numpy(POSE), T0 + 1)
    assert len(carve.removed_uids) > 0
    removed = set(carve.removed_uids.tolist())
    survivors = np.array([u for u in pos_of if u not in removed])
    rows = vm.rows_for_uids(survivors)
    assert np.all(rows >= 0) and len(vm) == len(survivors)
    np.testing.assert_array_equal(vm.uids.numpy()[rows], survivors)
    np.testing.assert_array_equal(vm.positions.numpy()[rows], np.array([pos_of[u] for u in survivors]))
    check_index(vm)
    _, res = ingest(vm, depth2, inst2, T0 + 2)
    assert len(res.added_uids) > 0 and res.added_uids.min() > max(pos_of)
    check_index(vm)


def test_random_churn_keeps_the_index_consistent() -> None:
    """Many small integrates and removals: the sorted index, rows and uids stay consistent."""
    rng = np.random.default_rng(0)
    vm = VoxelMap(CFG)
    ref: dict[int, tuple[int, ...]] = {}  # uid -> voxel coords
    for step in range(30):
        pts = rng.uniform(-1, 1, size=(200, 3)).astype(np.float32)
        res = vm.integrate(torch.from_numpy(pts), torch.zeros(200, 3, dtype=torch.uint8), T0 + step)
        rows = vm.rows_for_uids(res.added_uids)
        for u, c in zip(res.added_uids.tolist(), vm.voxel_coords[rows].tolist(), strict=True):
            ref[u] = tuple(c)
        victims = torch.from_numpy(np.unique(rng.integers(0, len(vm), size=40)))
        gone = vm._remove_rows(victims, T0 + step)
        for u in gone.removed_uids.tolist():
            del ref[u]
        check_index(vm)
    assert len(vm) == len(ref)
    got = {u: tuple(c) for u, c in zip(vm.uids.tolist(), vm.voxel_coords.tolist(), strict=True)}
    assert got == ref
    assert len(set(ref.values())) == len(ref)  # one voxel per cell


def test_removal_events_are_bounded() -> None:
    neg = NegativeEvidence(CFG, torch.device("cpu"), max_events=3)
    neg.add_events([RemovalEvent(T0 + i, i, (0.0, 0.0, 0.0), 1) for i in range(5)])
    assert [e.instance_id for e in neg.events()] == [2, 3, 4]
    assert [e.instance_id for e in neg.events(T0 + 3, T0 + 3)] == [3]


# ------------------------------------------------------------------------------------- instances


def test_relabel_instance(scene_with_boxes) -> None:
    depth, inst = scene_with_boxes
    vm = VoxelMap(CFG)
    ingest(vm, depth, inst, T0)
    counts = vm.instance_voxel_counts()
    pts1 = vm.instance_points(1)
    assert pts1.shape == (counts[1], 3)
    assert vm.relabel_instance(1, 2) == counts[1]
    after = vm.instance_voxel_counts()
    assert 1 not in after and after[2] == counts[1] + counts[2]
    assert vm.relabel_instance(1, 9) == 0
    assert vm.relabel_instance(2, NO_INSTANCE) == after[2]
    assert 2 not in vm.instance_voxel_counts()
    with pytest.raises(MemoryStateError, match="old_id"):
        vm.relabel_instance(NO_INSTANCE, 4)
    with pytest.raises(MemoryStateError, match="new_id"):
        vm.relabel_instance(WALL, -5)


# ------------------------------------------------------------------------------------ persistence


def test_state_dict_round_trip(scene_with_boxes, scene_without_box1) -> None:
    depth, inst = scene_with_boxes
    vm = VoxelMap(CFG, feature_dim=3)
    ingest(vm, depth, inst, T0)
    ingest(vm, *scene_without_box1, T0 + 1)
    table = torch.eye(3)
    pts = vm.positions[:10].clone()
    vm.integrate(pts, torch.zeros(10, 3, dtype=torch.uint8), T0 + 2,
                 feature_rows=torch.arange(10) % 3, feature_table=table)
    state = vm.state_dict()
    loaded = VoxelMap.from_state_dict(CFG, state, feature_dim=3)
    loaded.negative = NegativeEvidence.from_state_dict(CFG, vm.negative.state_dict())
    for k, v in loaded.state_dict().items():
        np.testing.assert_array_equal(v, state[k], err_msg=k)
    for k, v in loaded.negative.state_dict().items():
        np.testing.assert_array_equal(v, vm.negative.state_dict()[k], err_msg=k)
    assert loaded.negative.events() == vm.negative.events()
    check_index(loaded)
    # both continue identically (same uids for new voxels: next_uid persisted)
    r1 = ingest(vm, depth, inst, T0 + 3)
    r2 = ingest(loaded, depth, inst, T0 + 3)
    np.testing.assert_array_equal(r1[1].added_uids, r2[1].added_uids)
    np.testing.assert_array_equal(r1[0].removed_uids, r2[0].removed_uids)
    assert len(vm) == len(loaded)


def test_corrupted_state_raises_persistence_error(scene_with_boxes) -> None:
    depth, inst = scene_with_boxes
    vm = VoxelMap(CFG)
    ingest(vm, depth, inst, T0)
    good = vm.state_dict()
    VoxelMap.from_state_dict(CFG, good, feature_dim=0)

    def corrupt(**changes: object) -> dict:
        s = dict(good)
        for k, v in changes.items():
            if v is None:
                del s[k]
            else:
                s[k] = v
        return s

    n = len(vm)
    cases = [
        (corrupt(positions=None), "no 'positions'"),
        (corrupt(uids=good["uids"].astype(np.int32)), "'uids' must be int64"),
        (corrupt(counts=good["counts"][:-1]), "'counts' has shape"),
        (corrupt(features=np.zeros((n, 2), np.float16)), "'features' has shape"),
        (corrupt(keys=np.repeat(good["keys"][:1], n)), "keys must be unique"),
        (corrupt(uids=np.zeros(n, np.int64)), "uids must be unique"),
        (corrupt(next_uid=np.array(1, np.int64)), "next_uid"),
        (corrupt(positions=good["positions"] + 1.0), "do not lie in the voxels"),
        (corrupt(first_seen_ns=good["last_seen_ns"] + 1), "first_seen_ns"),
        (corrupt(colors=good["colors"] + 300), "colors"),
        (corrupt(instance_ids=np.full(n, -7, np.int64)), "instance_ids"),
        (corrupt(voxel_size=np.array(0.1)), "voxel_size=0.1"),
        (corrupt(version=np.array(99, np.int64)), "version 99"),
    ]
    for state, msg in cases:
        with pytest.raises(PersistenceError, match=msg):
            VoxelMap.from_state_dict(CFG, state, feature_dim=0)
    with pytest.raises(PersistenceError, match="feature_dim=0 but 8"):
        VoxelMap.from_state_dict(CFG, good, feature_dim=8)

    neg = vm.negative.state_dict()
    with pytest.raises(PersistenceError, match="strictly increasing"):
        NegativeEvidence.from_state_dict(CFG, {**neg, "cell_keys": neg["cell_keys"][::-1].copy()})
    with pytest.raises(PersistenceError, match="last_empty_ns <= last_observed_ns"):
        NegativeEvidence.from_state_dict(CFG, {**neg, "last_empty_ns": neg["last_observed_ns"] + 1})
    with pytest.raises(PersistenceError, match="negative_cell_size"):
        NegativeEvidence.from_state_dict(CFG, {**neg, "cell_size": np.array(1.0)})
    with pytest.raises(PersistenceError, match="'event_centroid' has shape"):
        NegativeEvidence.from_state_dict(CFG, {**neg, "event_centroid": np.zeros((2, 3), np.float32)})
