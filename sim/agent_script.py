"""The scripted oracle of FindingDory's phase 1: collision-free pick-and-place with a head camera that looks
around as it goes.

One interaction = drive to a viewpoint in front of the object's receptacle, look at the object
(``look_s``), pick it (``pick_s``; it leaves its slot at the end), drive to a viewpoint of the destination,
place it (``place_s``; it appears at the start, the robot looks at it). Entering a room for the first time
that day (and at the day's first interaction) the robot turns 360 deg in ``scan_views`` views.
While driving (``speed_mps``) the head sweeps left-right (``pan_amplitude_deg``, ``pan_period_s``).

Paths come from :class:`NavGrid`: an occupancy grid (``grid_cell`` m) of the rooms and door gaps minus walls
and furniture inflated by ``robot_radius``; a BFS distance field from the goal, descended from the start
and shortened by line-of-sight ("string pulling"). Every output is one :class:`Waypoint` per clock step.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import Optional

import numpy as np
from robomem_sim.config import AgentConfig, CameraConfig
from robomem_sim.world import House, SlotRef

from robomem.errors import SimError

XY = tuple[float, float]


class Activity(enum.Enum):
    """What the robot is doing at a frame."""

    SCAN = "scan"  # turning in place to look around a room
    NAVIGATE = "navigate"
    LOOK = "look"  # looking at the object before picking it
    PICK = "pick"
    PLACE = "place"


@dataclass(frozen=True)
class RobotPose:
    """The robot base on the floor: position (m, world) and heading ``yaw`` (rad about +z, 0 = +x)."""

    x: float
    y: float
    yaw: float

    @property
    def xy(self) -> XY:
        return (self.x, self.y)


@dataclass(frozen=True)
class Waypoint:
    """The robot during one clock step: base pose, absolute camera heading/tilt (rad), activity."""

    pose: RobotPose
    cam_yaw: float
    cam_pitch: float
    activity: Activity


@dataclass(frozen=True)
class InteractionPlan:
    """Waypoints of one interaction (one per step from its start). The object leaves its slot at step
    ``pick_step`` (the first step after the pick) and is in its new slot from step ``place_step`` on."""

    waypoints: tuple[Waypoint, ...]
    pick_step: int
    place_step: int
    scanned_rooms: tuple[str, ...]


class NavGrid:
    """Occupancy grid of where the robot's base centre may be. Cell (i, j) covers x in [i c, (i+1) c)."""

    def __init__(self, house: House, robot_radius: float = 0.25, cell: float = 0.1) -> None:
        self.house = house
        self.cell = cell
        b = house.bounds
        self.nx = int(math.ceil(b.max_xyz[0] / cell))
        self.ny = int(math.ceil(b.max_xyz[1] / cell))
        xs = (np.arange(self.nx) + 0.5) * cell
        ys = (np.arange(self.ny) + 0.5) * cell
        X, Y = np.meshgrid(xs, ys, indexing="ij")
        free = np.zeros((self.nx, self.ny), dtype=bool)
        r = robot_radius
        for room in house.rooms:
            (x0, y0, _), (x1, y1, _) = room.box
            free |= (X >= x0 + r) & (X <= x1 - r) & (Y >= y0 + r) & (Y <= y1 - r)
        t = house.config.wall_thickness
        for d in house.doors:
            along, across = (Y, X) if d.axis == "x" else (X, Y)
            free |= (np.abs(across - d.line) <= t / 2 + r + cell) & (np.abs(along - d.center) <= d.width / 2 - r)
        for rec in house.receptacles.values():
            (x0, y0, _), (x1, y1, _) = rec.box
            free &= ~((X >= x0 - r) & (X <= x1 + r) & (Y >= y0 - r) & (Y <= y1 + r))
        self.free = free

    def cell_of(self, xy: XY) -> tuple[int, int]:
        return (min(max(int(xy[0] / self.cell), 0), self.nx - 1), min(max(int(xy[1] / self.cell), 0), self.ny - 1))

    def center(self, ij: tuple[int, int]) -> XY:
        return ((ij[0] + 0.5) * self.cell, (ij[1] + 0.5) * self.cell)

    def is_free(self, xy: XY) -> bool:
        i, j = int(xy[0] / self.cell), int(xy[1] / self.cell)
        return 0 <= i < self.nx and 0 <= j < self.ny and bool(self.free[i, j])

    def nearest_free(self, xy: XY) -> XY:
        """The centre of the free cell nearest to ``xy`` (``xy`` itself if it is free)."""
        if self.is_free(xy):
            return xy
        idx = np.argwhere(self.free)
        if len(idx) == 0:
            raise SimError("the navigation grid has no free cell; lower agent.robot_radius")
        c = (idx + 0.5) * self.cell
        k = int(np.argmin((c[:, 0] - xy[0]) ** 2 + (c[:, 1] - xy[1]) ** 2))
        return (float(c[k, 0]), float(c[k, 1]))

    def line_free(self, a: XY, b: XY) -> bool:
        n = max(2, int(math.hypot(b[0] - a[0], b[1] - a[1]) / (self.cell / 2)) + 1)
        return all(self.is_free((a[0] + (b[0] - a[0]) * k / (n - 1), a[1] + (b[1] - a[1]) * k / (n - 1)))
                   for k in range(n))

    def plan(self, start: XY, goal: XY) -> list[XY]:
        """Collision-free polyline from ``start`` to ``goal`` (both snapped to free cells first)."""
        s, g = self.nearest_free(start), self.nearest_free(goal)
        si, gi = self.cell_of(s), self.cell_of(g)
        dist = np.full((self.nx, self.ny), -1, dtype=np.int32)
        dist[gi] = 0
        frontier = np.zeros_like(self.free)
        frontier[gi] = True
        d = 0
        while dist[si] < 0:
            grown = frontier.copy()
            grown[1:, :] |= frontier[:-1, :]
            grown[:-1, :] |= frontier[1:, :]
            grown[:, 1:] |= frontier[:, :-1]
            grown[:, :-1] |= frontier[:, 1:]
            new = grown & self.free & (dist < 0)
            if not new.any():
                raise SimError(f"no path from {start} to {goal}; the house layout is disconnected")
            d += 1
            dist[new] = d
            frontier = new
        cells = [si]
        cur = si
        while cur != gi:
            i, j = cur
            for di, dj in ((1, 0), (-1, 0), (0, 1), (0, -1)):
                ni, nj = i + di, j + dj
                if 0 <= ni < self.nx and 0 <= nj < self.ny and dist[ni, nj] == dist[i, j] - 1:
                    cur = (ni, nj)
                    break
            cells.append(cur)
        pts = [s] + [self.center(c) for c in cells[1:-1]] + [g]
        out = [pts[0]]
        k = 0
        while k < len(pts) - 1:
            far = k + 1
            for m in range(len(pts) - 1, k + 1, -1):
                if self.line_free(pts[k], pts[m]):
                    far = m
                    break
            out.append(pts[far])
            k = far
        return out


def path_length(path: list[XY]) -> float:
    return float(sum(math.hypot(b[0] - a[0], b[1] - a[1]) for a, b in zip(path, path[1:])))


class ScriptedAgent:
    """Turns pick-and-place orders into per-step waypoints (``step_s`` seconds per clock step)."""

    def __init__(self, house: House, agent: AgentConfig, camera: CameraConfig, step_s: float) -> None:
        self.house = house
        self.cfg = agent
        self.cam = camera
        self.step_s = step_s
        self.grid = NavGrid(house, agent.robot_radius, agent.grid_cell)
        self._t = 0.0  # seconds of driving, for the head sweep phase

    def _steps(self, seconds: float) -> int:
        return max(1, int(round(seconds / self.step_s)))

    def viewpoint(self, ref: SlotRef) -> XY:
        """Where the robot stands to reach slot ``ref``: ``viewpoint_distance`` in front of the receptacle's
        front face, in line with the slot (snapped to the nearest free grid cell)."""
        rec = self.house.receptacle(ref.receptacle_id)
        s = rec.slots[ref.slot_index]
        nx, ny = rec.normal
        vd = self.cfg.viewpoint_distance
        (x0, y0, _), (x1, y1, _) = rec.box
        if nx > 0:
            p = (x1 + vd, s.y)
        elif nx < 0:
            p = (x0 - vd, s.y)
        elif ny > 0:
            p = (s.x, y1 + vd)
        else:
            p = (s.x, y0 - vd)
        return self.grid.nearest_free(p)

    def scan(self, pose: RobotPose) -> list[Waypoint]:
        """Turn 360 deg in place in ``scan_views`` views."""
        out = []
        pitch = math.radians(self.cam.pitch_deg)
        per_view = self._steps(self.cfg.scan_view_s)
        for v in range(self.cfg.scan_views):
            yaw = _wrap(pose.yaw + 2 * math.pi * v / self.cfg.scan_views)
            out.extend([Waypoint(RobotPose(pose.x, pose.y, yaw), yaw, pitch, Activity.SCAN)] * per_view)
        return out

    def look(self, pose: RobotPose, target: tuple[float, float, float], seconds: float,
             activity: Activity) -> list[Waypoint]:
        dx, dy = target[0] - pose.x, target[1] - pose.y
        yaw = math.atan2(dy, dx)
        pitch = math.atan2(target[2] - self.cam.height_m, math.hypot(dx, dy))
        return [Waypoint(RobotPose(pose.x, pose.y, yaw), yaw, pitch, activity)] * self._steps(seconds)

    def drive(self, pose: RobotPose, goal: XY, scanned: set[str]) -> list[Waypoint]:
        """Drive along a planned path to ``goal``; scan rooms not yet in ``scanned`` (updated) on entry."""
        path = self.grid.plan(pose.xy, goal)
        ds = self.cfg.speed_mps * self.step_s
        pitch = math.radians(self.cam.pitch_deg)
        amp = math.radians(self.cam.pan_amplitude_deg)
        out: list[Waypoint] = []
        yaw = pose.yaw
        for a, b in zip(path, path[1:]):
            seg = math.hypot(b[0] - a[0], b[1] - a[1])
            if seg < 1e-9:
                continue
            yaw = math.atan2(b[1] - a[1], b[0] - a[0])
            n = max(1, int(math.ceil(seg / ds)))
            for k in range(1, n + 1):
                x, y = a[0] + (b[0] - a[0]) * k / n, a[1] + (b[1] - a[1]) * k / n
                self._t += self.step_s
                pan = amp * math.sin(2 * math.pi * self._t / self.cam.pan_period_s)
                out.append(Waypoint(RobotPose(x, y, yaw), _wrap(yaw + pan), pitch, Activity.NAVIGATE))
                room = self.house.room_at(x, y)
                if room is not None and room not in scanned and self.cfg.scan_new_rooms and \
                        self.house.room(room).contains_xy(x, y, margin=-0.6):
                    scanned.add(room)
                    out.extend(self.scan(RobotPose(x, y, yaw)))
        return out

    def interaction(self, pose: RobotPose, object_id: int, from_slot: SlotRef, to_slot: SlotRef,
                    scanned: set[str]) -> InteractionPlan:
        """Waypoints of one pick-and-place starting from ``pose``; ``scanned`` (rooms scanned today) is
        updated."""
        before = set(scanned)
        wps: list[Waypoint] = []
        room = self.house.room_at(pose.x, pose.y)
        if room is not None and room not in scanned and self.cfg.scan_new_rooms:
            scanned.add(room)
            wps.extend(self.scan(pose))
        src = self.house.object_box(object_id, from_slot).center
        dst = self.house.object_box(object_id, to_slot).center
        wps.extend(self.drive(_last(wps, pose), self.viewpoint(from_slot), scanned))
        wps.extend(self.look(_last(wps, pose), src, self.cfg.look_s, Activity.LOOK))
        wps.extend(self.look(_last(wps, pose), src, self.cfg.pick_s, Activity.PICK))
        pick_step = len(wps)
        wps.extend(self.drive(_last(wps, pose), self.viewpoint(to_slot), scanned))
        place_step = len(wps)
        wps.extend(self.look(_last(wps, pose), dst, self.cfg.place_s, Activity.PLACE))
        return InteractionPlan(tuple(wps), pick_step, place_step, tuple(sorted(scanned - before)))


def _last(wps: list[Waypoint], pose: RobotPose) -> RobotPose:
    return wps[-1].pose if wps else pose


def _wrap(a: float) -> float:
    return (a + math.pi) % (2 * math.pi) - math.pi


def wrap_angle(a: float) -> float:
    """Angle wrapped to [-pi, pi)."""
    return _wrap(a)


def start_pose(house: House, grid: NavGrid, rng: np.random.Generator, room: Optional[str] = None) -> RobotPose:
    """A free pose near the centre of ``room`` (random room when None), random heading."""
    name = room or house.rooms[int(rng.integers(len(house.rooms)))].name
    c = house.room(name).center_xy
    x, y = grid.nearest_free(c)
    return RobotPose(x, y, float(rng.uniform(-math.pi, math.pi)))
