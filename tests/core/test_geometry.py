"""Camera geometry: back-projection/projection round trip, pose validation, against Open3D's ray caster."""

from __future__ import annotations

import math

import numpy as np
import open3d as o3d
import pytest
import torch

from robomem.core.geometry import (
    backproject,
    frustum_corners_world,
    invert_pose,
    is_rotation,
    look_at,
    project,
    transform_points,
    validate_intrinsics,
    validate_pose,
)
from robomem.core.types import CameraIntrinsics
from robomem.errors import FrameError

W, H = 64, 48
INTR = CameraIntrinsics(fx=50.0, fy=52.0, cx=31.5, cy=23.0, width=W, height=H)


def random_pose(rng: np.random.Generator) -> np.ndarray:
    q = rng.normal(size=4)
    q /= np.linalg.norm(q)
    w, x, y, z = q
    R = np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ])
    T = np.eye(4)
    T[:3, :3] = R
    T[:3, 3] = rng.uniform(-3, 3, size=3)
    return T


def test_backproject_project_round_trip_and_drop_counts() -> None:
    rng = np.random.default_rng(0)
    depth = rng.uniform(0.5, 4.0, size=(H, W)).astype(np.float32)
    depth[0, :5] = 0.0
    depth[1, :3] = np.nan
    depth[2, :2] = np.inf
    depth[3, :4] = 0.05  # below min_depth
    depth[4, :6] = 9.0  # beyond max_depth
    T = torch.from_numpy(random_pose(rng)).float()
    res = backproject(torch.from_numpy(depth), INTR, T, stride=1, min_depth=0.1, max_depth=6.0)
    assert res.n_invalid == 5 + 3 + 2
    assert res.n_out_of_range == 4 + 6
    assert res.points_world.shape == (H * W - 20, 3)
    assert res.points_world.dtype == torch.float32 and res.pixel_index.dtype == torch.int64

    proj = project(res.points_world, INTR, T)
    u_true = (res.pixel_index % W).float()
    v_true = (res.pixel_index // W).float()
    torch.testing.assert_close(proj.u, u_true, atol=2e-3, rtol=0)
    torch.testing.assert_close(proj.v, v_true, atol=2e-3, rtol=0)
    z_true = torch.from_numpy(depth).reshape(-1)[res.pixel_index]
    torch.testing.assert_close(proj.z, z_true, atol=1e-4, rtol=1e-5)


@pytest.mark.parametrize("stride", [2, 3, 5])
def test_strided_pixel_index_is_full_resolution_and_matches_depth(stride: int) -> None:
    rng = np.random.default_rng(stride)
    depth = rng.uniform(0.5, 4.0, size=(H, W)).astype(np.float32)
    T = torch.eye(4)
    res = backproject(torch.from_numpy(depth), INTR, T, stride=stride)
    us = np.arange(0, W, stride)
    vs = np.arange(0, H, stride)
    expect = (vs[:, None] * W + us[None, :]).reshape(-1)
    np.testing.assert_array_equal(res.pixel_index.numpy(), expect)
    # camera frame == world frame here: z is the depth, x = (u - cx) / fx * z
    pts = res.points_world.numpy()
    np.testing.assert_allclose(pts[:, 2], depth.reshape(-1)[expect], rtol=1e-6)
    np.testing.assert_allclose(pts[:, 0], (expect % W - INTR.cx) / INTR.fx * pts[:, 2], rtol=1e-5, atol=1e-6)


def test_project_marks_points_behind_camera() -> None:
    pts = torch.tensor([[0.0, 0.0, 2.0], [0.0, 0.0, -1.0]])
    proj = project(pts, INTR, torch.eye(4))
    assert proj.z[1] < 0 and torch.isnan(proj.u[1]) and torch.isnan(proj.v[1])
    assert math.isclose(float(proj.u[0]), INTR.cx) and math.isclose(float(proj.v[0]), INTR.cy)


def test_backproject_agrees_with_open3d_raycaster() -> None:
    """Depth rendered by Open3D (an independent implementation) back-projects onto the true surface."""
    scene = o3d.t.geometry.RaycastingScene()
    box = o3d.geometry.TriangleMesh.create_box(1.0, 2.0, 1.5)
    box.translate((2.0, -1.0, 0.0))
    scene.add_triangles(o3d.t.geometry.TriangleMesh.from_legacy(box))
    world_T_camera = look_at(np.array([0.0, 0.2, 1.0]), np.array([2.5, 0.0, 0.6]))
    K = INTR.as_matrix()
    K[0, 2] += 0.5  # Open3D samples pixel centres at +0.5; robomem (like OpenCV) at integers
    K[1, 2] += 0.5
    rays = o3d.t.geometry.RaycastingScene.create_rays_pinhole(
        o3d.core.Tensor(K), o3d.core.Tensor(np.linalg.inv(world_T_camera)), W, H
    )
    t_hit = scene.cast_rays(rays)["t_hit"].numpy()
    depth = np.where(np.isfinite(t_hit), t_hit, 0.0).astype(np.float32)
    assert (depth > 0).mean() > 0.5
    res = backproject(torch.from_numpy(depth), INTR, torch.from_numpy(world_T_camera).float(), stride=1)
    dist = scene.compute_distance(o3d.core.Tensor(res.points_world.numpy())).numpy()
    assert dist.max() < 2e-3


def test_transform_and_invert_pose() -> None:
    rng = np.random.default_rng(3)
    T = torch.from_numpy(random_pose(rng))
    torch.testing.assert_close(T @ invert_pose(T), torch.eye(4, dtype=T.dtype), atol=1e-12, rtol=0)
    p = torch.from_numpy(rng.normal(size=(10, 3)))
    expect = p @ T[:3, :3].T + T[:3, 3]
    torch.testing.assert_close(transform_points(T, p), expect)


def test_is_rotation_and_validate_pose() -> None:
    rng = np.random.default_rng(4)
    T = random_pose(rng)
    assert is_rotation(T[:3, :3])
    validate_pose(T)
    validate_pose(torch.from_numpy(T))
    scaled = T.copy()
    scaled[:3, :3] *= 1.1
    reflected = T.copy()
    reflected[:3, 0] *= -1
    assert not is_rotation(scaled[:3, :3]) and not is_rotation(reflected[:3, :3])
    with pytest.raises(FrameError, match="proper rotation"):
        validate_pose(scaled)
    with pytest.raises(FrameError, match="proper rotation"):
        validate_pose(reflected)
    nan = T.copy()
    nan[0, 3] = np.nan
    with pytest.raises(FrameError, match="NaN"):
        validate_pose(nan)
    with pytest.raises(FrameError, match="4x4"):
        validate_pose(T[:3])
    bad_row = T.copy()
    bad_row[3, 0] = 0.5
    with pytest.raises(FrameError, match="last row"):
        validate_pose(bad_row)


def test_validate_intrinsics() -> None:
    validate_intrinsics(INTR)
    with pytest.raises(FrameError, match="fx > 0"):
        validate_intrinsics(CameraIntrinsics(0.0, 1.0, 1.0, 1.0, 4, 4))
    with pytest.raises(FrameError, match="width > 0"):
        validate_intrinsics(CameraIntrinsics(1.0, 1.0, 1.0, 1.0, 0, 4))
    with pytest.raises(FrameError, match="finite"):
        validate_intrinsics(CameraIntrinsics(1.0, 1.0, float("nan"), 1.0, 4, 4))


def test_depth_shape_mismatch_is_rejected() -> None:
    with pytest.raises(FrameError, match="intrinsics say 48x64"):
        backproject(torch.ones(H, W + 1), INTR, torch.eye(4))
    with pytest.raises(FrameError, match="stride"):
        backproject(torch.ones(H, W), INTR, torch.eye(4), stride=0)


def test_look_at_points_optical_axis_at_target_with_image_down_toward_floor() -> None:
    eye, target = np.array([1.0, 2.0, 1.5]), np.array([4.0, 3.0, 0.5])
    T = look_at(eye, target)
    assert is_rotation(T[:3, :3], 1e-9)
    z = T[:3, 2]
    np.testing.assert_allclose(z, (target - eye) / np.linalg.norm(target - eye))
    assert T[2, 1] < 0  # camera y (image down) has a negative world-z component
    with pytest.raises(ValueError):
        look_at(eye, eye + np.array([0.0, 0.0, 1.0]))


def test_frustum_corners_bound_every_visible_point() -> None:
    rng = np.random.default_rng(5)
    T = torch.from_numpy(random_pose(rng)).float()
    depth = torch.from_numpy(rng.uniform(0.1, 3.0, size=(H, W)).astype(np.float32))
    pts = backproject(depth, INTR, T).points_world
    corners = frustum_corners_world(INTR, T, 3.0)
    lo, hi = corners.min(0).values, corners.max(0).values
    assert bool(((pts >= lo - 1e-4) & (pts <= hi + 1e-4)).all())
