"""The robot's own trajectory, as room visits.

A visit is only opened when the room under the camera changes, so a robot that stays in one room adds
nothing however long it runs. (Per-frame poses are not logged: keyframes keep the poses worth keeping.)
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
    """Room visits of the camera: ``[room, enter_ns, exit_ns | None]``, oldest first."""

    def __init__(self) -> None:
        self._visits: list[list[Any]] = []

    def update(self, stamp_ns: int, world_T_camera: np.ndarray, regions: Sequence[Region]) -> None:
        room = room_of(tuple(float(v) for v in world_T_camera[:3, 3]), regions)
        current = self._visits[-1] if self._visits and self._visits[-1][2] is None else None
        if current is not None and current[0] != room:
            current[2] = stamp_ns
            current = None
        if current is None and room is not None:
            self._visits.append([room, stamp_ns, None])

    def visits(self, t0_ns: Optional[int] = None, t1_ns: Optional[int] = None) -> list[RoomVisit]:
        """Visits overlapping ``[t0_ns, t1_ns]`` (either bound optional)."""
        out = []
        for room, enter, exit_ in self._visits:
            if t1_ns is not None and enter > t1_ns:
                continue
            if t0_ns is not None and exit_ is not None and exit_ < t0_ns:
                continue
            out.append(RoomVisit(room, enter, exit_))
        return out

    def __len__(self) -> int:
        return len(self._visits)

    def state(self) -> dict[str, Any]:
        return {"visits": self._visits}

    @classmethod
    def from_state(cls, meta: Any) -> Trajectory:
        t = cls()
        try:
            t._visits = [[str(r), int(a), None if b is None else int(b)] for r, a, b in meta["visits"]]
        except (KeyError, TypeError, ValueError) as exc:
            raise PersistenceError(f"trajectory: malformed room visits ({exc})") from None
        return t
