"""Mask bleed in the box world: a room with a wall behind a table, and a detector's bleeding masks."""

from __future__ import annotations

import dataclasses
from typing import Optional

import numpy as np

from robomem.core.geometry import backproject
from robomem.core.types import NO_INSTANCE, Box3D, Frame, Region
from tests.core._scene import BoxWorld

WALL = 99


def room_with_a_wall() -> tuple[BoxWorld, list[Region]]:
    """A table (1) with a mug (10) on it, seen from x=0.5, a wall 3 m behind the table (not a segment)."""
    w = BoxWorld()
    w.add_table(1, "wooden kitchen table", (2.0, 0.0))
    w.add(10, "red ceramic mug", (0, 0, 0), (0.12, 0.12, 0.15), color=(220, 30, 30))
    w.put_on(10, 1)
    w.add(WALL, "", (5.05, 0.0, 1.3), (0.1, 10.0, 2.6), color=(240, 240, 240))
    return w, [Region("kitchen", Box3D((-1.0, -5.0, -1.0), (5.0, 5.0, 3.0)))]


def bleed(ids: np.ndarray, width: int, onto: Optional[np.ndarray] = None, p: float = 1.0, seed: int = 0) -> np.ndarray:
    """Background pixels next to a segment take its id, ``width`` times over (each with probability ``p``; only
    pixels where ``onto`` is True): a detector's boundary bleed onto whatever lies behind."""
    rng = np.random.default_rng(seed)
    out = ids.copy()
    for _ in range(width):
        grown = out.copy()
        for axis, shift in ((0, 1), (0, -1), (1, 1), (1, -1)):
            nb = np.roll(out, shift, axis=axis)
            take = (grown == NO_INSTANCE) & (nb != NO_INSTANCE) & (rng.random(ids.shape) < p)
            if onto is not None:
                take &= onto
            grown[take] = nb[take]
        out = grown
    return out


def bleeding_frame(world: BoxWorld, eye, target, stamp_ns: int, width: int, wall_only: bool = False,
                   p: float = 1.0) -> Frame:
    """A frame whose mask bleeds (the wall is no segment: its pixels are background)."""
    f = world.frame(eye, target, stamp_ns)
    assert f.instance_mask is not None
    ids = np.where(f.instance_mask == WALL, NO_INSTANCE, f.instance_mask)
    labels = {k: v for k, v in f.instance_labels.items() if k != WALL}
    onto = f.instance_mask == WALL if wall_only else None
    mask = bleed(ids, width, onto, p, seed=stamp_ns % 1000).astype(np.int32)
    return dataclasses.replace(f, instance_mask=mask, instance_labels=labels)


def segment_points(frame: Frame, stride: int = 1):
    import torch

    depth = torch.from_numpy(np.asarray(frame.depth, dtype=np.float32))
    pose = torch.from_numpy(np.asarray(frame.world_T_camera, dtype=np.float64))
    r = backproject(depth, frame.intrinsics, pose, stride, 0.1, 6.0)
    pts, pix = r[0].numpy(), r[1].numpy()
    assert frame.instance_mask is not None
    return pts, pix, frame.instance_mask.reshape(-1)[pix].astype(np.int64)


VIEWS = [((0.5, y, 1.3), (2.0, 0.0, 0.6)) for y in (-0.6, -0.2, 0.2, 0.6)]
"""Views of the table from the room's open side."""
