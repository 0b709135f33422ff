"""The robot's own trajectory: room visits and a distance-decimated pose trace.

Both stay bounded for a robot that stands still: a visit is only opened when the room changes, and a
pose is only kept once the camera moved ``min_step`` metres or turned ``min_turn`` radians.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

import numpy as np

from robomem.core.query_types import RoomVisit
from robomem.core.types import Region
from robomem.errors import PersistenceError


def room_of(xyz: Sequence[float], regions: Sequence[Region]) -> Optional[str]:
    """Name of the first region whose box contains ``xyz`` in x and y (height ignored), else None."""
    x, y = float(xyz[0]), float(xyz[1])
    for r in regions:
        lo, hi = r.box.min_xyz, r.box.max_xyz
        if lo[0] <= x <= hi[0] and lo[1] <= y <= hi[1]:
            return r.name
    return None


class Trajectory:
    """Room visits + decimated poses of the camera."""

    def __init__(self, min_step: float = 0.25, min_turn: float = 0.35) -> None:
        self.min_step = min_step
        self.min_turn = min_turn
        self._visits: list[list[Any]] = []  # [room, enter_ns, exit_ns|None]
        self._stamps: list[int] = []
        self._poses: list[np.ndarray] = []

    def update(self, stamp_ns: int, world_T_camera: np.ndarray, regions: Sequence[Region]) -> None:
        room = room_of(world_T_camera[:3, 3], regions)
        current = self._visits[-1] if self._visits and self._visits[-1][2] is None else None
        if current is not None and current[0] != room:
            current[2] = stamp_ns
            current = None
        if current is None and room is not None:
            self._visits.append([room, stamp_ns, None])
        if self._poses:
            last = self._poses[-1]
            step = float(np.linalg.norm(world_T_camera[:3, 3] - last[:3, 3]))
            cos = (np.trace(last[:3, :3].T @ world_T_camera[:3, :3]) - 1.0) / 2.0
            turn = float(np.arccos(np.clip(cos, -1.0, 1.0)))
            if step < self.min_step and turn < self.min_turn:
                return
        self._stamps.append(stamp_ns)
        self._poses.append(np.asarray(world_T_camera, dtype=np.float64).copy())

    def visits(self, t0_ns: Optional[int] = None, t1_ns: Optional[int] = None) -> list[RoomVisit]:
        out = []
        for room, enter, exit_ in self._visits:
            if t1_ns is not None and enter > t1_ns:
                continue
            if t0_ns is not None and exit_ is not None and exit_ < t0_ns:
                continue
            out.append(RoomVisit(room, enter, exit_))
        return out

    def pose_at(self, t_ns: int) -> Optional[np.ndarray]:
        """The last kept pose at or before ``t_ns``."""
        if not self._stamps:
            return None
        i = int(np.searchsorted(np.asarray(self._stamps), t_ns, side="right")) - 1
        return self._poses[max(i, 0)]

    def __len__(self) -> int:
        return len(self._stamps)

    def state(self) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
        stamps = np.asarray(self._stamps, dtype=np.int64)
        poses = np.stack(self._poses) if self._poses else np.zeros((0, 4, 4))
        return {"visits": self._visits, "min_step": self.min_step, "min_turn": self.min_turn}, stamps, poses

    @classmethod
    def from_state(cls, meta: dict[str, Any], stamps: np.ndarray, poses: np.ndarray) -> Trajectory:
        try:
            t = cls(float(meta["min_step"]), float(meta["min_turn"]))
            t._visits = [[str(r), int(a), None if b is None else int(b)] for r, a, b in meta["visits"]]
        except (KeyError, TypeError, ValueError) as exc:
            raise PersistenceError(f"trajectory: malformed room visits ({exc})") from None
        if stamps.ndim != 1 or poses.shape != (len(stamps), 4, 4):
            raise PersistenceError(f"trajectory: {len(stamps)} stamps but poses of shape {poses.shape}")
        t._stamps = [int(s) for s in stamps]
        t._poses = [p.astype(np.float64) for p in poses]
        return t
