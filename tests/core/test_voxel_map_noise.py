"""The voxel map under real-sensor noise: flying pixels at depth edges are filtered, single-frame outliers do
not count as surface until confirmed, and free-space removal never eats static surfaces."""

from __future__ import annotations

import dataclasses
import importlib
import sys
from pathlib import Path

import numpy as np
import open3d as o3d
import pytest
import torch

from robomem.config import VoxelConfig
from robomem.core.geometry import backproject
from robomem.core.types import CameraIntrinsics
from robomem.core.voxel_map import VoxelMap
from robomem.datasets.base import reorthonormalise
from robomem.datasets.noise import SensorNoise, apply_noise
from robomem.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
common = importlib.import_module("benchmarks.common")

INTR = CameraIntrinsics(100.0, 100.0, 31.5, 23.5, 64, 48)
T0 = 1_700_000_000_000_000_000


def _step_depth() -> np.ndarray:
    """A 1 m plane on the left, a 3 m plane on the right, a column of flying pixels (2 m) between them."""
    d = np.full((48, 64), 3.0, np.float32)
    d[:, :30] = 1.0
    d[:, 30] = 2.0
    return d


def test_flying_pixels_are_dropped_and_both_sides_of_an_edge_kept() -> None:
    vm = VoxelMap(VoxelConfig(pixel_stride=1, device="cpu"))
    d = _step_depth()
    d[5, 5] = 0.0  # an invalid pixel stays invalid
    d[7, 7] = np.nan
    out = vm.filter_depth(torch.from_numpy(d)).numpy()
    assert np.all(out[:, 30] == 0)  # between a nearer and a farther surface
    assert np.all(out[:, 29] == 1.0) and np.all(out[:, 31] == 3.0)  # outlines of both surfaces survive
    assert out[5, 5] == 0 and (out[7, 7] == 0 or np.isnan(out[7, 7]))
    pts = backproject(torch.from_numpy(out), INTR, torch.eye(4), 1, 0.1, 6.0).points_world.numpy()
    assert not np.any((pts[:, 2] > 1.1) & (pts[:, 2] < 2.9))  # no point between the two surfaces
    strict = VoxelMap(VoxelConfig(pixel_stride=1, edge_invalid_neighbours=True, device="cpu"))
    assert strict.filter_depth(torch.from_numpy(d)).numpy()[5, 4] == 0  # next to the invalid pixel
    off = VoxelMap(VoxelConfig(pixel_stride=1, edge_jump=0.0, depth_smoothing=False, device="cpu"))
    np.testing.assert_array_equal(off.filter_depth(torch.from_numpy(_step_depth())).numpy(), _step_depth())


def test_smoothing_reduces_axial_noise_without_bias() -> None:
    rng = np.random.default_rng(0)
    clean = np.full((48, 64), 2.0, np.float32)
    noisy = (clean + rng.normal(0, 0.01, clean.shape)).astype(np.float32)
    for stride in (1, 2):
        vm = VoxelMap(VoxelConfig(pixel_stride=stride, device="cpu"))
        out = vm.filter_depth(torch.from_numpy(noisy)).numpy()[::stride, ::stride][1:-1, 1:-1]
        assert abs(float(out.mean()) - 2.0) < 2e-3
        assert out.std() < 0.6 * noisy.std()
    with pytest.raises(ConfigError, match="min_support"):
        VoxelConfig(min_support=0).validate()


def test_single_frame_voxels_are_tentative_until_confirmed_then_pruned() -> None:
    cfg = VoxelConfig(pixel_stride=1, device="cpu", support_window_s=1.0)
    vm = VoxelMap(cfg)
    pts = torch.tensor([[0.01, 0.01, 0.01], [1.01, 0.01, 0.01], [2.01, 0.01, 0.01]])
    rgb = torch.zeros(3, 3, dtype=torch.uint8)
    vm.integrate(pts, rgb, T0, instance_ids=torch.tensor([-1, -1, 7]))
    assert len(vm) == 3 and len(vm.surface_points()) == 0
    vm.integrate(pts[:1], rgb[:1], T0 + 10**8)  # the first is seen again: confirmed
    np.testing.assert_allclose(vm.surface_points().numpy(), pts[:1].numpy(), atol=1e-6)
    assert vm.prune_unsupported(T0 + 5 * 10**8) == 0  # still within the window
    assert vm.prune_unsupported(T0 + 3 * 10**9) == 1  # the unlabelled single-frame voxel goes; instance 7 stays
    assert len(vm) == 2 and vm.instance_voxel_counts() == {7: 1}
    assert vm.negative.events() == []  # pruning is not a removal


def test_noise_shell_around_a_well_observed_surface_is_not_surface() -> None:
    """A voxel hit far less often than its most observed neighbour (the shell that axial noise spreads around a
    surface) is not surface; a labelled one is; something new beside a long-observed surface shows after at most
    relative_support * relative_support_cap frames; relative_support 0 turns the test off."""
    cfg = VoxelConfig(pixel_stride=1, device="cpu", support_window_s=1e6)  # defaults: 0.2 and a cap of 100
    vm = VoxelMap(cfg)
    wall = torch.tensor([[0.025, 0.025, 2.025], [0.075, 0.025, 2.025]])
    shell = torch.tensor([[0.025, 0.025, 2.075]])  # the voxel behind the first wall voxel
    labelled = torch.tensor([[0.075, 0.025, 2.075]])  # behind the second, an object's voxel
    far = torch.tensor([[1.025, 0.025, 2.025]])  # no neighbour at all
    rgb = torch.zeros(2, 3, dtype=torch.uint8)
    for i in range(150):
        vm.integrate(wall, rgb, T0 + i * 10**7)
        if i % 8 == 0:  # 19 of 150 frames
            vm.integrate(shell, rgb[:1], T0 + i * 10**7 + 1)
            vm.integrate(far, rgb[:1], T0 + i * 10**7 + 2)
        if i % 40 == 0:  # 4 of 150 frames
            vm.integrate(labelled, rgb[:1], T0 + i * 10**7 + 3, instance_ids=torch.tensor([3]))

    def surface() -> set[tuple[float, ...]]:
        return {tuple(np.round(p, 3)) for p in vm.surface_points().numpy().tolist()}

    assert surface() == {(0.025, 0.025, 2.025), (0.075, 0.025, 2.025), (1.025, 0.025, 2.025),
                         (0.075, 0.025, 2.075)}
    vm.integrate(shell, rgb[:1], T0 + 2 * 10**9)  # 20 frames >= 0.2 x min(150, 100): counts now
    assert (0.025, 0.025, 2.075) in surface()
    off = VoxelMap(dataclasses.replace(cfg, relative_support=0.0))
    for i in range(20):
        off.integrate(wall, rgb, T0 + i * 10**7)
    off.integrate(shell, rgb[:1], T0 + 1)
    off.integrate(shell, rgb[:1], T0 + 2)
    assert len(off.surface_points()) == 3
    with pytest.raises(ConfigError, match="relative_support must be in"):
        VoxelConfig(relative_support=1.5).validate()


def _noisy_static_run(removal: bool) -> tuple[VoxelMap, object]:
    scene = common.make_scene(1, n_boxes=10)
    intr = common.default_intrinsics(160, 120)
    rng = np.random.default_rng(1)
    vm = VoxelMap(VoxelConfig(removal=removal, device="cpu"))
    for i, T in enumerate(common.trajectory(24, loops=2)):
        rgb, depth, _ = common.render(scene, T, intr)
        rgb, depth_mm, pose = apply_noise(rgb, depth, T, intr.fx, SensorNoise(), rng)
        pose_t = torch.from_numpy(reorthonormalise(pose)).float()
        d = vm.filter_depth(torch.from_numpy(np.where(depth_mm == 65535, 0, depth_mm).astype(np.float32) * 1e-3))
        bp = backproject(d, intr, pose_t, 2, 0.1, 6.0)
        if removal:
            vm.carve(d, intr, pose_t, T0 + i * 10**8)
        vm.integrate(bp.points_world, torch.from_numpy(rgb.reshape(-1, 3)).index_select(0, bp.pixel_index),
                     T0 + i * 10**8)
    return vm, scene


def test_removal_under_noise_keeps_static_surfaces_and_the_map_is_precise() -> None:
    on, scene = _noisy_static_run(True)
    off, _ = _noisy_static_run(False)

    def dist(p: np.ndarray) -> np.ndarray:
        return scene.raycaster.compute_distance(o3d.core.Tensor(p.astype(np.float32))).numpy()  # type: ignore

    pts_on, pts_off = on.surface_points().numpy(), off.surface_points().numpy()
    assert np.mean(dist(pts_on) <= 0.05) > 0.97  # precision against the true surface
    # removal costs (almost) no surface: the removal-on map covers what the append-only map covers
    pcd_on = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(pts_on.astype(np.float64)))
    pcd_off = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(pts_off.astype(np.float64)))
    covered = np.asarray(pcd_off.compute_point_cloud_distance(pcd_on)) <= 0.05
    assert covered.mean() > 0.98, covered.mean()


def test_carving_is_rate_limited() -> None:
    vm = VoxelMap(VoxelConfig(pixel_stride=1, device="cpu", removal_min_interval_s=0.1))
    near = np.full((48, 64), 1.5, np.float32)
    far = np.full((48, 64), 3.0, np.float32)
    bp = backproject(torch.from_numpy(near), INTR, torch.eye(4), 1, 0.1, 6.0)
    vm.carve(far, INTR, np.eye(4), T0)  # carves (nothing there yet)
    vm.integrate(bp.points_world, torch.zeros(len(bp.points_world), 3, dtype=torch.uint8), T0 + 10**7)
    n = len(vm)
    assert n > 0 and len(vm.carve(far, INTR, np.eye(4), T0 + 5 * 10**7).removed_uids) == 0  # 50 ms after the last
    assert len(vm) == n
    assert len(vm.carve(far, INTR, np.eye(4), T0 + 11 * 10**7).removed_uids) == n and len(vm) == 0


def test_negative_evidence_is_rate_limited_but_kept_for_removals() -> None:
    cfg = dataclasses.replace(VoxelConfig(pixel_stride=1, device="cpu"), negative_min_interval_s=0.5,
                              removal_min_interval_s=0.0)
    vm = VoxelMap(cfg)
    far = np.full((48, 64), 3.0, np.float32)
    T = np.eye(4)
    vm.carve(far, INTR, T, T0)
    cells = len(vm.negative)
    probe = np.array([[0.0, 0.0, 1.5]])
    assert vm.negative.last_empty_ns(probe)[0] == T0
    vm.carve(far, INTR, T, T0 + 10**8)  # 0.1 s later, nothing removed: not re-marked
    assert vm.negative.last_empty_ns(probe)[0] == T0 and len(vm.negative) == cells
    vm.carve(far, INTR, T, T0 + 6 * 10**8)
    assert vm.negative.last_empty_ns(probe)[0] == T0 + 6 * 10**8
    # unlabelled surface seen through 0.1 s later (depth noise, mostly): removed, the grid not re-marked
    near = np.full((48, 64), 1.5, np.float32)
    bp = backproject(torch.from_numpy(near), INTR, torch.eye(4), 1, 0.1, 6.0)
    n = len(bp.points_world)
    vm.integrate(bp.points_world, torch.zeros(n, 3, dtype=torch.uint8), T0 + 7 * 10**8)
    res = vm.carve(far, INTR, T, T0 + 8 * 10**8)
    assert len(res.removed_uids) > 0 and not res.removed_per_instance
    assert vm.negative.last_observed_ns(probe)[0] == T0 + 6 * 10**8
    # an object seen through 0.1 s later: the frame that removed it is always recorded
    vm.integrate(bp.points_world, torch.zeros(n, 3, dtype=torch.uint8), T0 + 9 * 10**8,
                 instance_ids=torch.full((n,), 4))
    res = vm.carve(far, INTR, T, T0 + 10 * 10**8)
    assert res.removed_per_instance.get(4, 0) > 0
    assert vm.negative.last_observed_ns(probe)[0] == T0 + 10 * 10**8
    assert vm.negative.last_empty_ns(probe)[0] == T0 + 10 * 10**8
