"""A tiny box world rendered with Open3D's RaycastingScene, for memory tests.

World: z-up floor, a few named boxes (tables, objects) with labels; objects can be moved or removed between
frames. ``frame(eye, target, stamp_ns)`` renders RGB-D plus a ground-truth instance mask (entity ids),
labels and receptacle ids, as a robomem Frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import open3d as o3d

from robomem.core.geometry import look_at
from robomem.core.types import Box3D, CameraIntrinsics, Frame, Region

SEC = 1_000_000_000
T0 = 1_767_254_400 * SEC  # 2026-01-01 08:00 UTC


@dataclass
class Entity:
    ident: int
    label: str
    center: tuple[float, float, float]
    size: tuple[float, float, float]
    color: tuple[int, int, int]
    receptacle: bool = False
    visible: bool = True


class BoxWorld:
    def __init__(self, width: int = 160, height: int = 120, fov_deg: float = 70.0) -> None:
        f = (width / 2) / np.tan(np.radians(fov_deg) / 2)
        self.intrinsics = CameraIntrinsics(f, f, width / 2 - 0.5, height / 2 - 0.5, width, height)
        self.entities: dict[int, Entity] = {}
        # room shell: a floor, gets id 0 (not an instance)
        self.floor = Entity(0, "", (0.0, 0.0, -0.05), (20.0, 20.0, 0.1), (120, 120, 120))

    def add(self, ident: int, label: str, center, size, color=(200, 50, 50), receptacle=False) -> Entity:
        e = Entity(ident, label, tuple(center), tuple(size), tuple(color), receptacle)
        self.entities[ident] = e
        return e

    def add_table(self, ident: int, label: str, xy, size=(1.0, 1.0, 0.75), color=(140, 90, 40)) -> Entity:
        return self.add(ident, label, (xy[0], xy[1], size[2] / 2), size, color, receptacle=True)

    def put_on(self, ident: int, table: int, dxy=(0.0, 0.0)) -> None:
        e, t = self.entities[ident], self.entities[table]
        top = t.center[2] + t.size[2] / 2
        e.center = (t.center[0] + dxy[0], t.center[1] + dxy[1], top + e.size[2] / 2)
        e.visible = True

    def render(self, world_T_camera: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        scene = o3d.t.geometry.RaycastingScene()
        geo_to_entity: dict[int, Entity] = {}
        for e in [self.floor, *self.entities.values()]:
            if not e.visible:
                continue
            box = o3d.geometry.TriangleMesh.create_box(*e.size)
            box.translate(np.asarray(e.center) - np.asarray(e.size) / 2)
            gid = scene.add_triangles(o3d.t.geometry.TriangleMesh.from_legacy(box))
            geo_to_entity[gid] = e
        K = self.intrinsics.as_matrix()
        K[0, 2] += 0.5  # Open3D puts pixel centres at +0.5; robomem/OpenCV at integer coordinates
        K[1, 2] += 0.5
        camera_T_world = np.linalg.inv(world_T_camera)
        rays = scene.create_rays_pinhole(
            o3d.core.Tensor(K), o3d.core.Tensor(camera_T_world), self.intrinsics.width, self.intrinsics.height
        )
        ans = scene.cast_rays(rays)
        t_hit = ans["t_hit"].numpy()
        gids = ans["geometry_ids"].numpy().astype(np.int64)
        hit = np.isfinite(t_hit)
        depth = np.where(hit, t_hit, 0.0).astype(np.float32)
        ids = np.full(depth.shape, -1, dtype=np.int32)
        rgb = np.zeros(depth.shape + (3,), dtype=np.uint8)
        for gid, e in geo_to_entity.items():
            m = hit & (gids == gid)
            rgb[m] = e.color
            if e.ident != 0:
                ids[m] = e.ident
        return rgb, depth, ids

    def frame(self, eye, target, stamp_ns: int, with_mask: bool = True) -> Frame:
        pose = look_at(np.asarray(eye, float), np.asarray(target, float))
        rgb, depth, ids = self.render(pose)
        visible_ids = set(np.unique(ids).tolist()) - {-1}
        labels = {i: self.entities[i].label for i in visible_ids}
        recs = frozenset(i for i in visible_ids if self.entities[i].receptacle)
        return Frame(
            rgb=rgb,
            depth=depth,
            intrinsics=self.intrinsics,
            world_T_camera=pose,
            stamp_ns=stamp_ns,
            instance_mask=ids if with_mask else None,
            instance_labels=labels if with_mask else {},
            receptacle_ids=recs if with_mask else frozenset(),
        )


def kitchen_world() -> tuple[BoxWorld, list[Region]]:
    """Two rooms: kitchen (x > 0) with table 1, living room (x < 0) with table 2; a red mug on table 1,
    a blue book on table 2."""
    w = BoxWorld()
    w.add_table(1, "wooden kitchen table", (2.0, 0.0))
    w.add_table(2, "white coffee table", (-2.0, 0.0), color=(230, 230, 230))
    w.add(10, "red ceramic mug", (0, 0, 0), (0.12, 0.12, 0.15), color=(220, 30, 30))
    w.add(11, "blue paper book", (0, 0, 0), (0.25, 0.2, 0.06), color=(30, 30, 220))
    w.put_on(10, 1)
    w.put_on(11, 2)
    regions = [
        Region("kitchen", Box3D((0.0, -5.0, -1.0), (5.0, 5.0, 3.0))),
        Region("living room", Box3D((-5.0, -5.0, -1.0), (0.0, 5.0, 3.0))),
    ]
    return w, regions


# camera viewpoints (eye, target)
VIEW_TABLE1 = ((0.5, 0.0, 1.3), (2.0, 0.0, 0.75))
VIEW_TABLE2 = ((-0.5, 0.0, 1.3), (-2.0, 0.0, 0.75))
