"""Ray-cast rendering of a :class:`~robomem_sim.world.House` with Open3D's ``RaycastingScene``.

One scene of boxes: floors, walls with door gaps, ceiling and furniture (their triangle arrays built once) plus
the objects where they are now. The BVH is rebuilt only when an object moved (a ``sync``/``set_object_box``
that changed something), ~2 ms for ~100 boxes on one core; a 160x120 cast is ~3 ms. (Two scenes, static and
dynamic, would avoid the rebuild but cost a second cast per frame; objects move a few times per interaction
while every frame is a cast, so one scene is cheaper.)

Conventions: the world is z-up; camera poses are OpenCV optical frames (x right, y down, z forward);
``create_rays_pinhole`` makes unnormalised rays with unit z in the camera frame, so ``t_hit`` is z-depth.
Output: rgb HxWx3 uint8 (flat colour of the entity's colour attribute, Lambert-shaded by the face normal),
depth HxW float32 metres (0 where nothing was hit), ids HxW int32 (sim id, -1 for walls/floors/ceiling).
"""

from __future__ import annotations

import math
from typing import Mapping, NamedTuple, Optional

import numpy as np
import open3d as o3d
from robomem_sim.config import CameraConfig
from robomem_sim.world import CEILING_RGB, COLOURS, WALL_RGB, House, WorldState

from robomem.core.types import NO_INSTANCE, Box3D, CameraIntrinsics
from robomem.errors import SimError

_LIGHT = np.array([0.35, 0.25, 0.9]) / np.linalg.norm([0.35, 0.25, 0.9])

# 8 corners (bit 0: x, bit 1: y, bit 2: z) and 12 outward-wound triangles of a box
_TRIS = np.array(
    [[0, 2, 1], [1, 2, 3], [4, 5, 6], [5, 7, 6], [0, 1, 4], [1, 5, 4],
     [2, 6, 3], [3, 6, 7], [0, 4, 2], [2, 4, 6], [1, 3, 5], [3, 7, 5]],
    dtype=np.uint32,
)


class RenderResult(NamedTuple):
    """rgb HxWx3 uint8; depth_m HxW float32 z-depth (0 = no hit); ids HxW int32 sim ids (-1 = none)."""

    rgb: np.ndarray
    depth_m: np.ndarray
    ids: np.ndarray


def camera_pose(x: float, y: float, z: float, yaw: float, pitch: float = 0.0) -> np.ndarray:
    """4x4 ``world_T_camera`` of an optical camera at (x, y, z) looking along heading ``yaw`` (rad about +z,
    0 = +x) tilted by ``pitch`` (rad, positive = up). No roll."""
    cp, sp, cy, sy = math.cos(pitch), math.sin(pitch), math.cos(yaw), math.sin(yaw)
    forward = np.array([cp * cy, cp * sy, sp])
    right = np.array([sy, -cy, 0.0])
    down = np.cross(forward, right)
    T = np.eye(4)
    T[:3, 0], T[:3, 1], T[:3, 2], T[:3, 3] = right, down, forward, (x, y, z)
    return T


def look_at(eye: tuple[float, float, float], target: tuple[float, float, float]) -> np.ndarray:
    """``world_T_camera`` of a camera at ``eye`` whose optical axis points at ``target`` (no roll)."""
    dx, dy, dz = (target[i] - eye[i] for i in range(3))
    yaw = math.atan2(dy, dx)
    pitch = math.atan2(dz, math.hypot(dx, dy))
    return camera_pose(eye[0], eye[1], eye[2], yaw, pitch)


def _box_mesh(boxes: list[Box3D]) -> tuple[np.ndarray, np.ndarray]:
    n = len(boxes)
    lo = np.array([b.min_xyz for b in boxes], dtype=np.float32).reshape(n, 1, 3)
    hi = np.array([b.max_xyz for b in boxes], dtype=np.float32).reshape(n, 1, 3)
    bits = np.array([[(i >> k) & 1 for k in range(3)] for i in range(8)], dtype=np.float32).reshape(1, 8, 3)
    verts = lo + (hi - lo) * bits
    tris = _TRIS.reshape(1, 12, 3) + (8 * np.arange(n, dtype=np.uint32)).reshape(n, 1, 1)
    return verts.reshape(-1, 3), tris.reshape(-1, 3)


class Renderer:
    """Renders a house with its objects where ``state`` says (default: the initial placement).

    ``intrinsics`` is the default used when a call gives none (``CameraConfig().intrinsics()``: 160x120).
    ``ceiling=False`` leaves the ceiling out (top-down overview images).
    """

    def __init__(self, house: House, state: Optional[WorldState] = None,
                 intrinsics: Optional[CameraIntrinsics] = None, ceiling: bool = True) -> None:
        self.house = house
        self.intrinsics = intrinsics or CameraConfig().intrinsics()
        boxes: list[Box3D] = []
        ids: list[int] = []
        colours: list[tuple[int, int, int]] = []
        for b, rgb in house.floors:
            boxes.append(b)
            ids.append(NO_INSTANCE)
            colours.append(rgb)
        for b in house.walls:
            boxes.append(b)
            ids.append(NO_INSTANCE)
            colours.append(WALL_RGB)
        if ceiling:
            lo, hi = house.bounds.min_xyz, house.bounds.max_xyz
            boxes.append(Box3D((lo[0], lo[1], hi[2]), (hi[0], hi[1], hi[2] + 0.05)))
            ids.append(NO_INSTANCE)
            colours.append(CEILING_RGB)
        for rid, rec in house.receptacles.items():
            for part in rec.parts:
                boxes.append(part)
                ids.append(rid)
                colours.append(COLOURS[rec.colour])
        self._static_boxes = boxes
        self._static_ids = ids
        self._static_colours = colours
        self._object_boxes: dict[int, Box3D] = {}
        self._scene: Optional[o3d.t.geometry.RaycastingScene] = None
        self._ids = np.zeros(0, np.int32)
        self._colours = np.zeros((0, 3), np.float32)
        self.rebuilds = 0
        """How many times the scene was rebuilt (once per change of the objects), for tests/benchmarks."""
        self.sync(state if state is not None else WorldState(house))

    # -- world updates
    def sync(self, state: WorldState) -> bool:
        """Show every object where ``state`` says (carried objects are hidden). Returns True if anything
        changed (the object scene is then rebuilt before the next render)."""
        if state.house is not self.house:
            raise SimError("Renderer.sync: the state belongs to another house; build a Renderer for that house")
        boxes = {o: b for o in self.house.objects if (b := state.box(o)) is not None}
        return self._set_boxes(boxes)

    def set_object_box(self, object_id: int, box: Optional[Box3D]) -> bool:
        """Move one object to ``box`` (None hides it). Returns True if it changed."""
        self.house.object(object_id)
        boxes = dict(self._object_boxes)
        if box is None:
            boxes.pop(object_id, None)
        else:
            boxes[object_id] = box
        return self._set_boxes(boxes)

    def object_center(self, object_id: int) -> Optional[tuple[float, float, float]]:
        """Centre of the object as currently shown (None while hidden / carried), world m."""
        b = self._object_boxes.get(object_id)
        return None if b is None else b.center

    def _set_boxes(self, boxes: Mapping[int, Box3D]) -> bool:
        if boxes == self._object_boxes:
            return False
        self._object_boxes = dict(boxes)
        self._scene = None
        return True

    def _build(self) -> o3d.t.geometry.RaycastingScene:
        """(Re)build the scene: static boxes + objects where they are now (~2 ms for ~100 boxes)."""
        if self._scene is None:
            order = sorted(self._object_boxes)
            boxes = self._static_boxes + [self._object_boxes[o] for o in order]
            ids = self._static_ids + order
            colours = self._static_colours + [COLOURS[self.house.objects[o].colour] for o in order]
            verts, tris = _box_mesh(boxes)
            scene = o3d.t.geometry.RaycastingScene()
            scene.add_triangles(o3d.core.Tensor.from_numpy(verts), o3d.core.Tensor.from_numpy(tris))
            self._ids = np.array(ids + [NO_INSTANCE], dtype=np.int32)
            self._colours = np.array(colours + [(0, 0, 0)], dtype=np.float32)
            self._scene = scene
            self.rebuilds += 1
        return self._scene

    # -- rendering
    def _cast(self, world_T_camera: np.ndarray, intrinsics: Optional[CameraIntrinsics], colour: bool
              ) -> tuple[np.ndarray, np.ndarray, Optional[np.ndarray]]:
        """(depth HxW float32, ids HxW int32, shaded colour HxWx3 float32 or None)."""
        K = intrinsics or self.intrinsics
        T = np.asarray(world_T_camera, dtype=np.float64)
        if T.shape != (4, 4) or not np.all(np.isfinite(T)):
            raise SimError(f"world_T_camera must be a finite 4x4 matrix, got shape {T.shape}")
        rays = o3d.t.geometry.RaycastingScene.create_rays_pinhole(
            o3d.core.Tensor.from_numpy(K.as_matrix()), o3d.core.Tensor.from_numpy(np.linalg.inv(T)), K.width,
            K.height
        )
        r = self._build().cast_rays(rays)
        t = r["t_hit"].numpy()
        hit = np.isfinite(t)
        box = np.where(hit, r["primitive_ids"].numpy().astype(np.int64) // 12, len(self._ids) - 1)
        ids = self._ids[box]
        depth = np.where(hit, t, 0.0).astype(np.float32)
        rgb = None
        if colour:
            shade = 0.55 + 0.45 * np.abs(r["primitive_normals"].numpy() @ _LIGHT)
            rgb = self._colours[box] * shade[..., None].astype(np.float32)
        return depth, ids, rgb

    def render(self, world_T_camera: np.ndarray, intrinsics: Optional[CameraIntrinsics] = None) -> RenderResult:
        """Render RGB, depth and ids from the optical camera pose ``world_T_camera``."""
        depth, ids, rgb = self._cast(world_T_camera, intrinsics, colour=True)
        assert rgb is not None
        return RenderResult(np.clip(rgb, 0, 255).astype(np.uint8), depth, ids)

    def render_ids(self, world_T_camera: np.ndarray,
                   intrinsics: Optional[CameraIntrinsics] = None) -> tuple[np.ndarray, np.ndarray]:
        """Only (depth_m, ids): cheaper than :meth:`render` (no shading)."""
        depth, ids, _ = self._cast(world_T_camera, intrinsics, colour=False)
        return depth, ids

    def pixel_counts(self, world_T_camera: np.ndarray,
                     intrinsics: Optional[CameraIntrinsics] = None) -> dict[int, int]:
        """{sim id: visible pixel count} for every object/receptacle in view."""
        _, ids = self.render_ids(world_T_camera, intrinsics)
        vals, counts = np.unique(ids[ids != NO_INSTANCE], return_counts=True)
        return {int(v): int(c) for v, c in zip(vals, counts)}

    def visible_fraction(self, world_T_camera: np.ndarray, sim_id: int,
                         intrinsics: Optional[CameraIntrinsics] = None) -> float:
        """Fraction of the image's pixels showing entity ``sim_id`` (0..1)."""
        _, ids = self.render_ids(world_T_camera, intrinsics)
        return float(np.count_nonzero(ids == sim_id)) / ids.size
