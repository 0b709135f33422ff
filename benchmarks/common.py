"""Shared synthetic scene for the benchmarks: a room (floor, ceiling, 4 walls) with ~20 labelled boxes,
rendered with Open3D's CPU ray caster into RGB + z-depth + per-pixel geometry id along a camera trajectory.

World frame: z up, metres; the room spans ``[0, room_x] x [0, room_y] x [0, room_z]``. Cameras are OpenCV
optical frames with pixel centres at integer coordinates (the convention of :mod:`robomem.core.geometry`).

Typical use (render once, before timing)::

    scene = make_scene(seed=0)
    intr = default_intrinsics(640, 480)
    frames = [render(scene, T, intr) for T in trajectory(100)]
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Iterable, Optional, Sequence

import numpy as np
import open3d as o3d

from robomem.core.geometry import look_at
from robomem.core.types import NO_INSTANCE, CameraIntrinsics, Frame

log = logging.getLogger(__name__)

ROOM = (8.0, 6.0, 2.5)
CAMERA_HEIGHT = 1.2
_NOUNS = ("box", "crate", "mug", "book", "plant", "lamp", "bin", "basket", "toy", "bottle", "vase", "bag")
_PALETTE = {
    "red": (200, 40, 40), "green": (40, 170, 60), "blue": (40, 70, 200), "yellow": (220, 200, 40),
    "orange": (230, 120, 30), "purple": (130, 50, 160), "white": (235, 235, 235), "black": (30, 30, 30),
    "brown": (120, 80, 40), "pink": (230, 130, 170), "cyan": (40, 190, 200), "grey": (128, 128, 128),
}


@dataclass(frozen=True)
class SceneBox:
    """One axis-aligned box object (resting on the floor)."""

    name: str  # stable key, e.g. "box_07"
    label: str  # text label, e.g. "red mug"
    center: tuple[float, float, float]
    size: tuple[float, float, float]
    color: tuple[int, int, int]


@dataclass(frozen=True)
class Scene:
    """A ray-castable scene. ``geometry_ids`` of the boxes index ``box_of_geometry``; structure (floor,
    ceiling, walls) has its own ids. Geometry ids are only meaningful for this Scene object (rebuilding a
    scene without some boxes, :meth:`without`, renumbers them); use ``box.name`` to compare scenes."""

    raycaster: o3d.t.geometry.RaycastingScene
    boxes: tuple[SceneBox, ...]
    box_of_geometry: dict[int, SceneBox]
    structure: dict[int, str]  # geometry id -> "floor" / "ceiling" / "wall_*"
    colors: np.ndarray  # (G, 3) uint8 base colour per geometry id
    seed: int
    room: tuple[float, float, float] = ROOM
    removed: frozenset[str] = field(default_factory=frozenset)

    def instance_mask(self, ids: np.ndarray) -> np.ndarray:
        """Geometry-id image -> (H, W) int32 box index (stable across :meth:`without`), -1 elsewhere."""
        lut = np.full(len(self.colors) + 1, NO_INSTANCE, np.int32)
        index = {b.name: i for i, b in enumerate(self.boxes)}
        for g, b in self.box_of_geometry.items():
            lut[g] = index[b.name]
        return lut[np.where(ids >= 0, ids, len(self.colors))]

    @property
    def labels(self) -> dict[int, str]:
        """Geometry id -> text label of every box."""
        return {g: b.label for g, b in self.box_of_geometry.items()}

    def without(self, names: Iterable[str]) -> Scene:
        """The same scene with the named boxes removed (a new ray caster)."""
        gone = frozenset(names) | self.removed
        return _build(self.boxes, self.seed, self.room, gone)


def default_intrinsics(width: int = 640, height: int = 480) -> CameraIntrinsics:
    """A ~64 deg horizontal FOV pinhole camera, principal point at the image centre."""
    f = 0.8 * width
    return CameraIntrinsics(f, f, (width - 1) / 2.0, (height - 1) / 2.0, width, height)


def make_scene(seed: int = 0, n_boxes: int = 20, room: tuple[float, float, float] = ROOM) -> Scene:
    """Room + ``n_boxes`` non-overlapping boxes on the floor, deterministic in ``seed``."""
    rng = np.random.default_rng(seed)
    boxes: list[SceneBox] = []
    colors = list(_PALETTE.items())
    tries = 0
    while len(boxes) < n_boxes:
        tries += 1
        if tries > 10_000:
            raise RuntimeError(f"could not place {n_boxes} boxes in a {room} room; use fewer boxes")
        sx, sy = rng.uniform(0.15, 0.6, size=2)
        sz = rng.uniform(0.1, 0.8)
        cx = rng.uniform(0.3 + sx / 2, room[0] - 0.3 - sx / 2)
        cy = rng.uniform(0.3 + sy / 2, room[1] - 0.3 - sy / 2)
        gap = 0.1
        if any(
            abs(cx - b.center[0]) < (sx + b.size[0]) / 2 + gap
            and abs(cy - b.center[1]) < (sy + b.size[1]) / 2 + gap
            for b in boxes
        ):
            continue
        cname, rgb = colors[int(rng.integers(len(colors)))]
        noun = _NOUNS[len(boxes) % len(_NOUNS)]
        boxes.append(SceneBox(
            f"box_{len(boxes):02d}", f"{cname} {noun}", (float(cx), float(cy), float(sz / 2)),
            (float(sx), float(sy), float(sz)), rgb,
        ))
    return _build(tuple(boxes), seed, room, frozenset())


def _box_mesh(center: Sequence[float], size: Sequence[float]) -> o3d.t.geometry.TriangleMesh:
    m = o3d.geometry.TriangleMesh.create_box(float(size[0]), float(size[1]), float(size[2]))
    m.translate(np.asarray(center, dtype=np.float64) - np.asarray(size, dtype=np.float64) / 2)
    return o3d.t.geometry.TriangleMesh.from_legacy(m)


def _build(boxes: tuple[SceneBox, ...], seed: int, room: tuple[float, float, float],
           removed: frozenset[str]) -> Scene:
    rc = o3d.t.geometry.RaycastingScene()
    X, Y, Z = room
    t = 0.1
    structure_boxes = {
        "floor": ((X / 2, Y / 2, -t / 2), (X + 2 * t, Y + 2 * t, t), (150, 140, 120)),
        "ceiling": ((X / 2, Y / 2, Z + t / 2), (X + 2 * t, Y + 2 * t, t), (245, 245, 240)),
        "wall_x0": ((-t / 2, Y / 2, Z / 2), (t, Y, Z), (200, 190, 170)),
        "wall_x1": ((X + t / 2, Y / 2, Z / 2), (t, Y, Z), (190, 200, 175)),
        "wall_y0": ((X / 2, -t / 2, Z / 2), (X, t, Z), (180, 190, 200)),
        "wall_y1": ((X / 2, Y + t / 2, Z / 2), (X, t, Z), (200, 180, 190)),
    }
    structure: dict[int, str] = {}
    cols: dict[int, tuple[int, int, int]] = {}
    for name, (c, s, col) in structure_boxes.items():
        gid = int(rc.add_triangles(_box_mesh(c, s)))
        structure[gid] = name
        cols[gid] = col
    box_of_geometry: dict[int, SceneBox] = {}
    for b in boxes:
        if b.name in removed:
            continue
        gid = int(rc.add_triangles(_box_mesh(b.center, b.size)))
        box_of_geometry[gid] = b
        cols[gid] = b.color
    colors = np.zeros((max(cols) + 1, 3), np.uint8)
    for gid, col in cols.items():
        colors[gid] = col
    return Scene(rc, boxes, box_of_geometry, structure, colors, seed, room, removed)


def render(
    scene: Scene, world_T_camera: np.ndarray, intrinsics: CameraIntrinsics
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ray-cast one view.

    Returns:
        rgb: (H, W, 3) uint8 (base colour x Lambertian shading from a head light).
        depth_m: (H, W) float32 z-depth, metres; 0 where no surface was hit.
        ids: (H, W) int32 geometry id per pixel; -1 where nothing was hit.
    """
    K = intrinsics.as_matrix()
    K[0, 2] += 0.5  # Open3D puts pixel centres at +0.5; robomem/OpenCV at integer coordinates
    K[1, 2] += 0.5
    camera_T_world = np.linalg.inv(np.asarray(world_T_camera, dtype=np.float64))
    rays = o3d.t.geometry.RaycastingScene.create_rays_pinhole(
        o3d.core.Tensor.from_numpy(K), o3d.core.Tensor.from_numpy(camera_T_world), intrinsics.width,
        intrinsics.height,
    )
    ans = scene.raycaster.cast_rays(rays)
    t_hit = ans["t_hit"].numpy()
    gid = ans["geometry_ids"].numpy()
    hit = np.isfinite(t_hit) & (gid != o3d.t.geometry.RaycastingScene.INVALID_ID)
    depth = np.where(hit, t_hit, 0.0).astype(np.float32)
    ids = np.where(hit, gid.astype(np.int64), -1).astype(np.int32)
    normals = ans["primitive_normals"].numpy()
    dirs = rays.numpy()[..., 3:]
    dirs = dirs / np.linalg.norm(dirs, axis=-1, keepdims=True)
    shade = 0.35 + 0.65 * np.abs(np.sum(normals * dirs, axis=-1))
    base = scene.colors[np.clip(ids, 0, None)].astype(np.float32)
    rgb = np.where(hit[..., None], base * shade[..., None], 0.0).clip(0, 255).astype(np.uint8)
    return rgb, depth, ids


def trajectory(n: int, room: tuple[float, float, float] = ROOM, loops: float = 1.0) -> list[np.ndarray]:
    """``n`` camera poses (4x4 ``world_T_camera``) on an ellipse around the room centre at 1.2 m height,
    looking roughly along the direction of travel with a sinusoidal sweep and 20 deg down."""
    if n <= 0:
        raise ValueError(f"trajectory needs n > 0 frames, got {n}")
    cx, cy = room[0] / 2, room[1] / 2
    rx, ry = 0.3 * room[0], 0.3 * room[1]
    poses: list[np.ndarray] = []
    for i in range(n):
        a = 2 * np.pi * loops * i / n
        eye = np.array([cx + rx * np.cos(a), cy + ry * np.sin(a), CAMERA_HEIGHT])
        yaw = a + np.pi / 2 + 0.6 * np.sin(3 * a)
        target = eye + np.array([np.cos(yaw), np.sin(yaw), -np.tan(np.deg2rad(20))])
        poses.append(look_at(eye, target))
    return poses


def make_frames(
    scene: Scene,
    poses: Sequence[np.ndarray],
    intrinsics: CameraIntrinsics,
    t0_ns: int = 1_700_000_000_000_000_000,
    dt_ns: int = 100_000_000,
    scenes: Optional[Sequence[Scene]] = None,
) -> list[Frame]:
    """Render ``poses`` into :class:`~robomem.core.types.Frame` s (float metres depth; box pixels carry the
    box's index in ``scene.boxes``, stable across scenes, and its text label; structure is unlabelled).
    ``scenes`` (one per pose) overrides ``scene`` per frame, e.g. to remove boxes half-way."""
    out: list[Frame] = []
    for i, T in enumerate(poses):
        sc = scenes[i] if scenes is not None else scene
        rgb, depth, ids = render(sc, T, intrinsics)
        mask = sc.instance_mask(ids)
        present = {int(g) for g in np.unique(mask) if g != NO_INSTANCE}
        out.append(Frame(
            rgb=rgb, depth=depth, intrinsics=intrinsics, world_T_camera=np.asarray(T, dtype=np.float64),
            stamp_ns=t0_ns + i * dt_ns, instance_mask=mask,
            instance_labels={g: sc.boxes[g].label for g in present},
        ))
    return out
