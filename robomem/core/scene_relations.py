"""Geometric relations of one instance box to receptacles and rooms (:func:`compute_relations`), as written into
the :class:`~robomem.core.scene_graph.TemporalSceneGraph`.
"""

from __future__ import annotations

import math
from typing import Optional, Sequence

import numpy as np

from robomem.config import GraphConfig
from robomem.core.query_types import NodeRef
from robomem.core.types import Box3D, NodeKind, Region, Relation
from robomem.errors import MemoryStateError


def compute_relations(
    instance_box: Box3D,
    receptacles: Sequence[tuple[int, Box3D]],
    rooms: Sequence[Region],
    config: GraphConfig,
    self_id: Optional[int] = None,
    *,
    is_receptacle: Optional[bool] = None,
) -> set[tuple[Relation, NodeRef]]:
    """Geometric relations of one instance (world-frame axis-aligned boxes, m; z up).

    * ``ON``: the box bottom is within ``on_tolerance`` of a receptacle's top and their xy footprints overlap
      (positive area); the highest such receptacle wins.
    * ``IN`` (receptacle): the box centre lies inside a receptacle box (a drawer, a cabinet) other than the
      one it is ON; the smallest (innermost) such receptacle wins.
    * ``IN`` (room) for objects, ``PART_OF`` (room) for receptacles: the centre lies inside the room box; the
      smallest such room wins.
    * ``NEAR``: every receptacle whose box is within ``near_distance`` of the box centre (0 when inside),
      except the one it is ON/IN.

    ``self_id`` is excluded from ``receptacles`` (a receptacle is not related to itself). ``is_receptacle``
    defaults to ``self_id`` being one of ``receptacles``.
    """
    bmin = np.asarray(instance_box[0], dtype=np.float64)
    bmax = np.asarray(instance_box[1], dtype=np.float64)
    if bmin.shape != (3,) or bmax.shape != (3,) or not np.all(np.isfinite(np.concatenate([bmin, bmax]))):
        raise MemoryStateError(
            f"compute_relations: instance box must be two finite 3-vectors, got {instance_box}"
        )
    if np.any(bmin > bmax):
        raise MemoryStateError(f"compute_relations: instance box min {tuple(bmin)} > max {tuple(bmax)}")
    centre = (bmin + bmax) / 2.0
    ids = np.fromiter((int(r[0]) for r in receptacles), dtype=np.int64, count=len(receptacles))
    if is_receptacle is None:
        is_receptacle = self_id is not None and bool(np.any(ids == self_id))
    out: set[tuple[Relation, NodeRef]] = set()

    if len(receptacles):
        mins = np.array([r[1][0] for r in receptacles], dtype=np.float64).reshape(-1, 3)
        maxs = np.array([r[1][1] for r in receptacles], dtype=np.float64).reshape(-1, 3)
        bad = np.any(mins > maxs, axis=1) | ~np.all(np.isfinite(mins) & np.isfinite(maxs), axis=1)
        if np.any(bad):
            raise MemoryStateError(
                f"compute_relations: receptacle boxes of ids {ids[bad].tolist()} must be finite with "
                "min <= max"
            )
        keep = np.ones(len(ids), dtype=bool) if self_id is None else ids != self_id
        overlap_xy = np.minimum(bmax[:2], maxs[:, :2]) - np.maximum(bmin[:2], mins[:, :2])
        touching = np.abs(bmin[2] - maxs[:, 2]) <= config.on_tolerance
        on_mask = keep & np.all(overlap_xy > 0.0, axis=1) & touching
        on_idx = -1
        if np.any(on_mask):
            on_idx = int(np.argmax(np.where(on_mask, maxs[:, 2], -np.inf)))
            out.add((Relation.ON, NodeRef(NodeKind.RECEPTACLE, instance_id=int(ids[on_idx]))))
        inside = keep & np.all((mins <= centre) & (centre <= maxs), axis=1)
        if on_idx >= 0:
            inside[on_idx] = False
        in_idx = -1
        if np.any(inside):
            volume = np.prod(maxs - mins, axis=1)
            in_idx = int(np.argmin(np.where(inside, volume, np.inf)))
            out.add((Relation.IN, NodeRef(NodeKind.RECEPTACLE, instance_id=int(ids[in_idx]))))
        gap = np.maximum(np.maximum(mins - centre, centre - maxs), 0.0)
        near = keep & (np.linalg.norm(gap, axis=1) <= config.near_distance)
        for idx in (on_idx, in_idx):
            if idx >= 0:
                near[idx] = False
        for rid in ids[near]:
            out.add((Relation.NEAR, NodeRef(NodeKind.RECEPTACLE, instance_id=int(rid))))

    best_room: Optional[Region] = None
    best_volume = math.inf
    for room in rooms:
        if room.box.contains((float(centre[0]), float(centre[1]), float(centre[2]))):
            volume = float(np.prod(np.subtract(room.box.max_xyz, room.box.min_xyz)))
            if volume < best_volume:
                best_room, best_volume = room, volume
    if best_room is not None:
        rel = Relation.PART_OF if is_receptacle else Relation.IN
        out.add((rel, NodeRef(NodeKind.ROOM, name=best_room.name)))
    return out
