"""Reachable navigation goals, shared by every planner (rule-based and model-backed).

A goal faces its target from a standoff: ``standoff_m`` from a small object's centre, ``receptacle_standoff_m``
from a receptacle's footprint, on the side the robot saw it from (camera positions of keyframes showing it),
within 60 deg of a receptacle's open front (furniture stands against a wall: its front faces away from the
nearest wall), at a point inside a known room and at least ``clearance_m`` from every known receptacle and
from the room's walls. When no such point exists the goal is where the robot stood when it saw the target; with
no view either, the target's own position (the only case a goal can be inside furniture).
"""

from __future__ import annotations

import math
from typing import Optional, Sequence

from robomem.core.query_types import InstanceSummary
from robomem.core.types import Box3D, NodeKind, Region
from robomem.planner.base import Goal
from robomem.planner.config import GoalConfig
from robomem.planner.facts import MemorySnapshot, room_of_xy, xy_dist

__all__ = ["GoalPlacer", "footprint_distance"]


def footprint_distance(box: Box3D, x: float, y: float) -> float:
    """xy distance (m) from (x, y) to a box's footprint rectangle (0 inside)."""
    dx = max(box.min_xyz[0] - x, 0.0, x - box.max_xyz[0])
    dy = max(box.min_xyz[1] - y, 0.0, y - box.max_xyz[1])
    return math.hypot(dx, dy)


class GoalPlacer:
    """Places goals for instances, receptacles and rooms of one memory snapshot (see the module docstring)."""

    def __init__(self, config: GoalConfig) -> None:
        self.config = config

    # ------------------------------------------------------------------------------------------ public
    def object_goal(self, snap: MemorySnapshot, inst: InstanceSummary, position: Optional[Sequence[float]] = None,
                    label: str = "") -> Goal:
        """A goal to see ``inst`` (an object at ``position``, default its last known place)."""
        pos = position if position is not None else inst.position
        support = self.support(snap, pos, inst.receptacle_id)
        return self._near(snap, pos, iid=inst.instance_id, label=label or inst.label,
                          front=self.front(snap, support))

    def receptacle_goal(self, snap: MemorySnapshot, rec: InstanceSummary, label: str = "",
                        instance_id: Optional[int] = None) -> Goal:
        """A goal in front of a receptacle (``instance_id``: the id the goal names, default the receptacle's)."""
        box = snap.rbox(rec)
        g = self._near(snap, box.center, iid=rec.instance_id, box=box, label=label or rec.label,
                       front=self.front(snap, rec))
        if instance_id is not None and instance_id != g.instance_id:
            g = Goal(g.position, g.yaw, instance_id, g.label, g.keyframe_stamp_ns)
        return g

    def instance_goal(self, snap: MemorySnapshot, inst: InstanceSummary) -> Goal:
        """Receptacle or object goal, by the instance's kind."""
        if inst.kind is NodeKind.RECEPTACLE:
            return self.receptacle_goal(snap, inst)
        return self.object_goal(snap, inst)

    def room_goal(self, snap: MemorySnapshot, name: str) -> Goal:
        """A free point inside the room: the robot's own spot when it is there, else the free point nearest the
        robot, else the room's centre."""
        return snap.cached(("room_goal", name, self.config), lambda: self._room_goal(snap, name))

    def _room_goal(self, snap: MemorySnapshot, name: str) -> Goal:
        region = next(r for r in snap.regions() if r.name == name)
        cx, cy, _ = region.box.center
        ref = snap.robot_xy() or (cx, cy)
        if self.free(snap, ref[0], ref[1], region):
            return Goal((ref[0], ref[1], 0.0), label=name)
        lo, hi = region.box.min_xyz, region.box.max_xyz
        best: Optional[tuple[float, float, float]] = None
        step = 0.2
        nx = max(1, int((hi[0] - lo[0]) / step))
        ny = max(1, int((hi[1] - lo[1]) / step))
        for i in range(nx + 1):
            for j in range(ny + 1):
                x = lo[0] + (hi[0] - lo[0]) * i / nx
                y = lo[1] + (hi[1] - lo[1]) * j / ny
                if self.free(snap, x, y, region):
                    d = math.hypot(x - ref[0], y - ref[1])
                    if best is None or d < best[0]:
                        best = (d, x, y)
        if best is None:
            return Goal((cx, cy, 0.0), label=name)
        return Goal((best[1], best[2], 0.0), label=name)

    # ------------------------------------------------------------------------------------------ geometry
    def free(self, snap: MemorySnapshot, x: float, y: float, room: Optional[Region]) -> bool:
        """(x, y) is inside a known room (``room`` when given), ``clearance_m`` from its walls and from every
        known receptacle."""
        c = self.config.clearance_m
        r = room_of_xy(x, y, snap.regions(), margin=c)
        if r is None or (room is not None and r.name != room.name):
            return False
        return all(footprint_distance(snap.rbox(rec), x, y) >= c for rec in snap.receptacles())

    @staticmethod
    def support(snap: MemorySnapshot, pos: Sequence[float], receptacle_id: Optional[int] = None
                ) -> Optional[InstanceSummary]:
        """The receptacle an object at ``pos`` rests on: its recorded one, else the one whose footprint holds
        ``pos`` (5 cm tolerance)."""
        if receptacle_id is not None and receptacle_id in snap.by_id:
            rec = snap.by_id[receptacle_id]
            if footprint_distance(snap.rbox(rec), float(pos[0]), float(pos[1])) <= 0.05:
                return rec
        best: Optional[tuple[float, int, InstanceSummary]] = None
        for r in snap.receptacles():
            d = footprint_distance(snap.rbox(r), float(pos[0]), float(pos[1]))
            if d <= 0.05 and (best is None or (d, r.instance_id) < best[:2]):
                best = (d, r.instance_id, r)
        return best[2] if best else None

    @staticmethod
    def front(snap: MemorySnapshot, rec: Optional[InstanceSummary]) -> Optional[float]:
        """Angle of a receptacle's open side (away from the nearest wall of its room; None when unknown)."""
        if rec is None:
            return None
        box = snap.rbox(rec)
        c = box.center
        room = room_of_xy(c[0], c[1], snap.regions())
        if room is None:
            return None
        lo, hi = room.box.min_xyz, room.box.max_xyz
        gaps = [
            (box.min_xyz[0] - lo[0], 0.0),
            (hi[0] - box.max_xyz[0], math.pi),
            (box.min_xyz[1] - lo[1], math.pi / 2),
            (hi[1] - box.max_xyz[1], -math.pi / 2),
        ]
        gap, angle = min(gaps)
        return angle if gap < 0.5 else None

    def _directions(self, snap: MemorySnapshot, target_xy: tuple[float, float], iid: Optional[int],
                    front: Optional[float]) -> list[float]:
        """Approach directions (from the target outwards): sides it was seen from within 60 deg of the front,
        nearest the robot first; then a ring around the front (or the first view)."""
        angles: list[float] = []
        if iid is not None:
            robot = snap.robot_xy()
            cams = sorted(snap.camera_positions(iid), key=lambda c: xy_dist(c, target_xy))[:8]
            angles = [math.atan2(cy - target_xy[1], cx - target_xy[0]) for cx, cy in cams
                      if xy_dist((cx, cy), target_xy) > 0.05]
            if front is not None:
                angles = [a for a in angles if abs(math.remainder(a - front, 2 * math.pi)) <= math.pi / 3]
            if robot is not None:
                tx, ty = target_xy
                angles.sort(key=lambda a: xy_dist(robot, (tx + math.cos(a), ty + math.sin(a))))
        base = front if front is not None else (angles[0] if angles else 0.0)
        ring = sorted((base + k * math.pi / 8 for k in range(16)),
                      key=lambda a: abs(math.remainder(a - base, 2 * math.pi)))
        return angles[:4] + ring

    def _near(self, snap: MemorySnapshot, target: Sequence[float], iid: Optional[int] = None,
              box: Optional[Box3D] = None, label: str = "", front: Optional[float] = None) -> Goal:
        tx, ty = float(target[0]), float(target[1])
        room = room_of_xy(tx, ty, snap.regions())
        dists = (0.0, 0.15, 0.3, -0.15, 0.4) if box is not None else (0.0, 0.2, 0.4, -0.15, 0.6, 0.9)
        for ang in self._directions(snap, (tx, ty), iid, front):
            ux, uy = math.cos(ang), math.sin(ang)
            if box is not None:
                hx = (box.max_xyz[0] - box.min_xyz[0]) / 2.0
                hy = (box.max_xyz[1] - box.min_xyz[1]) / 2.0
                edge = min(hx / abs(ux) if abs(ux) > 1e-9 else math.inf, hy / abs(uy) if abs(uy) > 1e-9 else math.inf)
                base = edge + self.config.receptacle_standoff_m
            else:
                base = self.config.standoff_m
            for extra in dists:
                d = base + extra
                x, y = tx + ux * d, ty + uy * d
                if self.free(snap, x, y, room):
                    return Goal((x, y, 0.0), yaw=math.atan2(ty - y, tx - x), instance_id=iid, label=label)
        if iid is not None and snap.camera_positions(iid):
            cx, cy = min(snap.camera_positions(iid), key=lambda c: xy_dist(c, (tx, ty)))
            return Goal((cx, cy, 0.0), yaw=math.atan2(ty - cy, tx - cx), instance_id=iid, label=label)
        return Goal((tx, ty, 0.0), yaw=None, instance_id=iid, label=label)
