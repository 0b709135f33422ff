"""A tiny synthetic RGB-D scene for the ROS tests: Open3D RaycastingScene boxes seen by a moving camera.

Ground truth: a table (receptacle) with a red mug on it and a blue book on the floor, in room "kitchen".
The camera (optical frame) circles the scene; frames are 96x72 so the whole ROS test set stays fast.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import open3d as o3d
import yaml

from robomem.config import MemoryConfig, from_dict
from robomem.core.types import Box3D, CameraIntrinsics, Region

W, H = 96, 72


def intrinsics_for(width: int, height: int) -> CameraIntrinsics:
    """A ~69 degree horizontal field of view pinhole camera of the given size."""
    f = 70.0 * width / 96
    return CameraIntrinsics(fx=f, fy=f, cx=width / 2 - 0.5, cy=height / 2 - 0.5, width=width, height=height)


INTRINSICS = intrinsics_for(W, H)
T0_NS = 1_767_254_400_000_000_000  # 2026-01-01T08:00:00Z
DT_NS = 100_000_000  # 10 Hz


@dataclass(frozen=True)
class Thing:
    sim_id: int
    label: str
    box: Box3D
    rgb: tuple[int, int, int]
    receptacle: bool = False

    @property
    def center(self) -> np.ndarray:
        return np.array(self.box.center)


FLOOR = Thing(0, "", Box3D((-3.0, -3.0, -0.05), (3.0, 3.0, 0.0)), (120, 120, 120))
TABLE = Thing(1, "table", Box3D((0.6, -0.5, 0.0), (1.4, 0.5, 0.75)), (150, 100, 50), receptacle=True)
MUG = Thing(2, "red mug", Box3D((0.9, -0.1, 0.75), (1.1, 0.1, 0.95)), (220, 20, 20))
BOOK = Thing(3, "blue book", Box3D((-0.2, 1.0, 0.0), (0.2, 1.3, 0.1)), (20, 40, 220))
THINGS = (FLOOR, TABLE, MUG, BOOK)
REGIONS = (Region("kitchen", Box3D((-3.0, -3.0, -0.1), (3.0, 3.0, 3.0))),)


def look_at(eye: np.ndarray, target: np.ndarray) -> np.ndarray:
    """world_T_camera of an optical camera at ``eye`` looking at ``target`` (z-up world, no roll)."""
    fwd = target - eye
    fwd = fwd / np.linalg.norm(fwd)
    right = np.cross(fwd, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    down = np.cross(fwd, right)
    T = np.eye(4)
    T[:3, 0], T[:3, 1], T[:3, 2], T[:3, 3] = right, down, fwd, eye
    return T


def trajectory(n: int) -> list[np.ndarray]:
    """``n`` camera poses on an arc around the table and the book."""
    poses = []
    for i in range(n):
        a = -0.9 + 1.8 * i / max(n - 1, 1)
        eye = np.array([0.5 - 2.2 * math.cos(a), 0.4 - 2.2 * math.sin(a) * 0.6, 1.4])
        poses.append(look_at(eye, np.array([0.6, 0.4, 0.4])))
    return poses


def _box_mesh(box: Box3D) -> o3d.t.geometry.TriangleMesh:
    lo, hi = np.array(box.min_xyz), np.array(box.max_xyz)
    mesh = o3d.geometry.TriangleMesh.create_box(*(hi - lo))
    mesh.translate(lo)
    return o3d.t.geometry.TriangleMesh.from_legacy(mesh)


class Renderer:
    """Renders rgb (uint8), depth (float32 m, 0 = no hit) and instance ids (-1 = none) of the scene."""

    def __init__(self, things: tuple[Thing, ...] = THINGS, intrinsics: CameraIntrinsics = INTRINSICS) -> None:
        self.intrinsics = intrinsics
        self.scene = o3d.t.geometry.RaycastingScene()
        self.things = {}
        for t in things:
            gid = self.scene.add_triangles(_box_mesh(t.box))
            self.things[gid] = t

    def render(self, world_T_camera: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        intr = self.intrinsics
        w, h = intr.width, intr.height
        K = o3d.core.Tensor(intr.as_matrix(), o3d.core.float64)
        camera_T_world = o3d.core.Tensor(np.linalg.inv(world_T_camera), o3d.core.float64)
        rays = o3d.t.geometry.RaycastingScene.create_rays_pinhole(K, camera_T_world, w, h)
        ans = self.scene.cast_rays(rays)
        t_hit = ans["t_hit"].numpy()
        gid = ans["geometry_ids"].numpy().astype(np.int64)
        hit = np.isfinite(t_hit)
        # rays are unnormalised with unit z in the camera frame: t_hit is z-depth
        depth = np.where(hit, t_hit, 0.0).astype(np.float32)
        rgb = np.zeros((h, w, 3), np.uint8)
        ids = np.full((h, w), -1, np.int32)
        for g, t in self.things.items():
            sel = hit & (gid == g)
            rgb[sel] = t.rgb
            if t.label:
                ids[sel] = t.sim_id
        return rgb, depth, ids


def labels() -> dict[int, str]:
    return {t.sim_id: t.label for t in THINGS if t.label}


def receptacle_ids() -> list[int]:
    return [t.sim_id for t in THINGS if t.receptacle]


MEMORY_CONFIG = {
    "voxel": {"voxel_size": 0.05, "pixel_stride": 1},
    "objects": {"mask_ids": "persistent", "min_points": 5},
    "encoder": {"backend": "hash"},
}
"""Hash encoder (fast, no model), persistent ground-truth ids, full-resolution pixels."""


def memory_config() -> MemoryConfig:
    return from_dict(MemoryConfig, MEMORY_CONFIG)


def write_config_files(directory: Path) -> tuple[Path, Path]:
    """(memory config YAML, regions YAML) for the CLI and the nodes."""
    mem = directory / "memory.yaml"
    mem.write_text(yaml.safe_dump(MEMORY_CONFIG))
    regions = directory / "regions.yaml"
    regions.write_text(yaml.safe_dump({r.name: {"min": list(r.box.min_xyz), "max": list(r.box.max_xyz)}
                                       for r in REGIONS}))
    return mem, regions


def assert_memory_matches_scene(mem: object, first_ns: int, last_ns: int) -> None:
    """What a planner would ask a memory (in-process or over ROS) of this scene, checked against the scene.

    ``first_ns``/``last_ns``: stamps of the first and last frame the memory ingested.
    """
    from robomem.core.api import MemoryQueries
    from robomem.core.query_types import QueryStatus
    from robomem.core.types import NodeKind, Relation

    assert isinstance(mem, MemoryQueries)
    assert mem.time_range() == (first_ns, last_ns)
    for thing in (MUG, BOOK):
        r = mem.locate(thing.label, k=1)
        assert r.status is QueryStatus.OK, r.message
        top = r.matches[0]
        assert top.label == thing.label and top.kind is NodeKind.OBJECT and top.present
        assert np.linalg.norm(np.array(top.position) - thing.center) < 0.25, (thing.label, top.position)
        assert top.room == "kitchen"
    mug = mem.locate("red mug", k=1).matches[0]
    assert mug.receptacle_label == "table"
    on = [e for e in mem.relations(mug.instance_id).edges if e.relation is Relation.ON]
    assert len(on) == 1 and on[0].target.kind is NodeKind.RECEPTACLE
    labels = {i.instance_id: i.label for i in mem.instances()}
    assert labels[on[0].target.instance_id] == "table"
    assert sorted(labels.values()) == ["blue book", "red mug", "table"]
    last = mem.last_seen(text="blue book")
    assert last.status is QueryStatus.OK and last.placement is not None
    assert last.placement.last_seen_ns == last_ns
    assert [v.room for v in mem.room_visits().visits] == ["kitchen"]
    kf = mem.keyframes_for("red mug", k=2)
    assert kf.status is QueryStatus.OK and kf.keyframes and kf.keyframes[0].thumbnail is not None
