"""Ray-cast renderer: depth matches geometry, ids match boxes, moving objects updates the image."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from robomem_sim.config import CameraConfig, SimConfig
from robomem_sim.render import Renderer, camera_pose, look_at
from robomem_sim.world import House, Receptacle, WorldState, generate_house

from robomem.core.types import NO_INSTANCE, Box3D, CameraIntrinsics, Relation
from robomem.errors import SimError

K = CameraConfig(width=160, height=120).intrinsics()


@pytest.fixture(scope="module")
def house() -> House:
    return generate_house(SimConfig.small().house, seed=4)


def _one_box_house(house: House) -> tuple[House, Box3D, tuple[float, float, float]]:
    """The first room of ``house`` emptied, with one red box 2.0 m in front of a camera at 0.5 m height."""
    room = house.rooms[0]
    (x0, y0, _), (_x1, y1, _) = room.box
    yc = (y0 + y1) / 2
    cam = (x0 + 0.5, yc, 0.5)
    box = Box3D((cam[0] + 2.0, yc - 0.3, 0.0), (cam[0] + 2.4, yc + 0.3, 1.0))
    rec = Receptacle(100, "table", room.name, "red", "wooden", box, (box,), (-1.0, 0.0), ())
    return dataclasses.replace(house, receptacles={100: rec}, objects={}, initial_slots={}), box, cam


def test_depth_and_ids_match_a_box_at_known_distance(house: House) -> None:
    h, box, cam = _one_box_house(house)
    r = Renderer(h, intrinsics=K)
    rgb, depth, ids = r.render(camera_pose(*cam, yaw=0.0, pitch=0.0))
    assert rgb.shape == (120, 160, 3) and rgb.dtype == np.uint8
    assert depth.shape == (120, 160) and depth.dtype == np.float32 and ids.dtype == np.int32
    u = np.arange(160) + 0.5  # pixel centres
    v = np.arange(120) + 0.5
    # the box face at z = 2.0 spans camera x in [-0.3, 0.3] (x right = world -y), y in [-0.5, 0.5] (y down)
    in_u = np.abs(u - K.cx) < K.fx * 0.3 / 2.0
    in_v = np.abs(v - K.cy) < K.fy * 0.5 / 2.0
    expected_box = in_v[:, None] & in_u[None, :]
    # exclude the one-pixel rims where the pixel centre sits right on an edge
    rim = (np.abs(np.abs(u - K.cx) - K.fx * 0.15) < 0.51)[None, :] | (np.abs(np.abs(v - K.cy) - K.fy * 0.25)
                                                                      < 0.51)[:, None]
    assert np.array_equal((ids == 100)[~rim], expected_box[~rim])
    np.testing.assert_allclose(depth[ids == 100], 2.0, atol=1e-4)
    # above the box, the centre column sees the far wall of the room: depth = wall face x - camera x
    wall_depth = h.rooms[0].box.max_xyz[0] - cam[0]
    assert ids[10, 80] == NO_INSTANCE
    assert depth[10, 80] == pytest.approx(wall_depth, abs=1e-4)  # row 10 hits the wall below the ceiling
    # red box, shaded: red channel dominates
    px = rgb[ids == 100].astype(int)
    assert (px[:, 0] > 3 * px[:, 1]).all()


def test_every_pixel_back_projects_onto_its_entity(house: House) -> None:
    r = Renderer(house, intrinsics=K)
    state = WorldState(house)
    oid = min(house.objects)
    target = state.position(oid)
    assert target is not None
    rec = house.receptacle(state.receptacle_of(oid))  # type: ignore[arg-type]
    eye = (target[0] + 1.2 * rec.normal[0], target[1] + 1.2 * rec.normal[1], 1.2)
    T = look_at(eye, target)
    _, depth, ids = r.render(T)
    assert (ids == oid).sum() > 0, "the object must be in view"
    vv, uu = np.nonzero(depth > 0)
    z = depth[vv, uu].astype(np.float64)
    pts_cam = np.stack([(uu + 0.5 - K.cx) / K.fx * z, (vv + 0.5 - K.cy) / K.fy * z, z, np.ones_like(z)])
    pts = (T @ pts_cam)[:3].T
    boxes: dict[int, list[Box3D]] = {oid2: [house.object_box(oid2, s)] for oid2, s in house.initial_slots.items()}
    boxes.update({rid: list(rc.parts) for rid, rc in house.receptacles.items()})
    background = list(house.walls) + [b for b, _ in house.floors] + [Box3D(
        (0, 0, house.config.ceiling_height), (house.bounds.max_xyz[0], house.bounds.max_xyz[1], 99))]
    flat_ids = ids[vv, uu]
    for sid in np.unique(flat_ids):
        cands = boxes[int(sid)] if sid != NO_INSTANCE else background
        p = pts[flat_ids == sid]
        on_any = np.zeros(len(p), dtype=bool)
        for b in cands:
            lo, hi = np.array(b.min_xyz) - 2e-3, np.array(b.max_xyz) + 2e-3
            on_any |= ((p >= lo) & (p <= hi)).all(axis=1)
        assert on_any.all(), (int(sid), p[~on_any][:3])


def test_moving_an_object_updates_the_render(house: House) -> None:
    state = WorldState(house)
    r = Renderer(house, state, intrinsics=K)
    oid = min(house.objects)
    pos = state.position(oid)
    assert pos is not None
    T = look_at((pos[0] + 0.01, pos[1], pos[2] + 1.0), pos)  # from straight above
    before = r.render(T)
    assert (before.ids == oid).any()
    builds = r.rebuilds
    assert r.sync(state) is False and r.rebuilds == builds  # nothing changed: no rebuild
    # move it to a free slot on another receptacle
    dest = next(s for rid in sorted(house.receptacles) if rid != state.receptacle_of(oid)
                for s in state.free_slots(rid) if state.fits(oid, s) and house.slot(s).relation is Relation.ON)
    state.move(oid, dest)
    assert r.sync(state) is True
    after = r.render(T)
    assert r.rebuilds == builds + 1
    assert not (after.ids == oid).any()
    new = state.position(oid)
    assert new is not None
    assert r.visible_fraction(look_at((new[0] + 0.01, new[1], new[2] + 1.0), new), oid) > 0.01
    # carried objects are hidden
    state.pick(oid)
    r.sync(state)
    assert r.visible_fraction(look_at((new[0] + 0.01, new[1], new[2] + 1.0), new), oid) == 0.0
    assert r.object_center(oid) is None


def test_visible_fraction_is_pixel_share(house: House) -> None:
    r = Renderer(house, intrinsics=K)
    rid = min(house.receptacles)
    c = house.receptacle(rid).center
    nx, ny = house.receptacle(rid).normal
    T = look_at((c[0] + 1.5 * nx, c[1] + 1.5 * ny, 1.2), c)
    _, ids = r.render_ids(T)
    assert r.visible_fraction(T, rid) == pytest.approx((ids == rid).sum() / ids.size)
    counts = r.pixel_counts(T)
    assert counts[rid] == (ids == rid).sum() and NO_INSTANCE not in counts
    small = CameraIntrinsics(20.0, 20.0, 16.0, 12.0, 32, 24)
    assert r.render(T, small).rgb.shape == (24, 32, 3)


def test_bad_pose_is_rejected(house: House) -> None:
    r = Renderer(house, intrinsics=K)
    with pytest.raises(SimError, match="4x4"):
        r.render(np.eye(3))
    bad = np.eye(4)
    bad[0, 3] = np.nan
    with pytest.raises(SimError, match="finite"):
        r.render(bad)
    other = generate_house(SimConfig.small().house, seed=5)
    with pytest.raises(SimError, match="another house"):
        r.sync(WorldState(other))


@pytest.mark.parametrize("yaw,pitch", [(0.0, 0.0), (1.0, -0.4), (-2.5, 0.3)])
def test_camera_pose_is_an_optical_frame(yaw: float, pitch: float) -> None:
    T = camera_pose(1.0, 2.0, 1.2, yaw, pitch)
    R = T[:3, :3]
    np.testing.assert_allclose(R.T @ R, np.eye(3), atol=1e-12)
    assert np.linalg.det(R) == pytest.approx(1.0)
    np.testing.assert_allclose(R[:, 2], [math.cos(pitch) * math.cos(yaw), math.cos(pitch) * math.sin(yaw),
                                         math.sin(pitch)], atol=1e-12)
    assert R[2, 0] == pytest.approx(0.0)  # no roll: image x stays horizontal
    assert R[2, 1] < 0 or pitch != 0  # image y points down
    target = (3.0, -1.0, 0.4)
    L = look_at((1.0, 2.0, 1.2), target)
    p = np.linalg.inv(L) @ np.array([*target, 1.0])
    assert p[0] == pytest.approx(0.0, abs=1e-9) and p[1] == pytest.approx(0.0, abs=1e-9) and p[2] > 0
