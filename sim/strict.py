"""FindingDory's stricter success rules, for scoring beside the built-in simulator's relaxed ones.

The relaxed rules (:mod:`robomem_sim.scoring`) measure straight-line distances, accept a receptacle goal within
1.0 m of its footprint and typed times within +-60 s. FindingDory (Habitat) uses, per target:

* object: *geodesic* distance <= 2.0 m - here the shortest path on the robot's navigation grid
  (:class:`~robomem_sim.agent_script.NavGrid`: 0.1 m cells, furniture inflated by the robot's radius, 8-connected)
  from the goal to any free cell within :data:`REACH_M` of the object, plus that cell's straight-line distance
  to the object;
* receptacle: <= 0.1 m from a precomputed viewpoint - here the viewpoints the scripted robot stands at to use
  that receptacle (one per support slot, :meth:`~robomem_sim.agent_script.ScriptedAgent.viewpoint`);
* typed times (ours): the answer's minute must be the truth's minute; durations within 1 s.

Heading, coverage and navigability are the same under both rule sets.
"""

from __future__ import annotations

import math
import weakref
from typing import TYPE_CHECKING

import numpy as np
from robomem_sim.agent_script import NavGrid, ScriptedAgent
from robomem_sim.world import SlotRef

if TYPE_CHECKING:
    from robomem_sim.episode import Episode

__all__ = ["REACH_M", "STRICT_DURATION_TOLERANCE_S", "VIEWPOINT_RADIUS_M", "StrictRules", "strict_rules"]

REACH_M = 1.0
"""The robot reaches an object from free cells within this distance of it (m)."""
VIEWPOINT_RADIUS_M = 0.1
"""FindingDory: a receptacle goal must be within this distance of a precomputed viewpoint (m)."""
STRICT_DURATION_TOLERANCE_S = 1.0

_SQ2 = math.sqrt(2.0)
_SHIFTS = [(1, 0, 1.0), (-1, 0, 1.0), (0, 1, 1.0), (0, -1, 1.0), (1, 1, _SQ2), (1, -1, _SQ2), (-1, 1, _SQ2),
           (-1, -1, _SQ2)]


def _rows(d: int, n: int) -> tuple[slice, slice]:
    """(destination, source) slices shifting an axis of length ``n`` by ``d``."""
    if d > 0:
        return slice(d, n), slice(0, n - d)
    if d < 0:
        return slice(0, n + d), slice(-d, n)
    return slice(0, n), slice(0, n)


def _shift(a: np.ndarray, di: int, dj: int) -> np.ndarray:
    """``a`` moved by (di, dj) cells, inf where nothing moved in: out[i + di, j + dj] = a[i, j]."""
    out = np.full_like(a, np.inf)
    (ri, si), (rj, sj) = _rows(di, a.shape[0]), _rows(dj, a.shape[1])
    out[ri, rj] = a[si, sj]
    return out


class StrictRules:
    """Geodesic distances and receptacle viewpoints of one episode (fields cached per target point)."""

    def __init__(self, episode: Episode) -> None:
        cfg = episode.config
        self.agent = ScriptedAgent(episode.house, cfg.agent, cfg.camera, episode.clock.step_s)
        self.grid: NavGrid = self.agent.grid
        c = self.grid.cell
        self._xs = (np.arange(self.grid.nx) + 0.5) * c
        self._ys = (np.arange(self.grid.ny) + 0.5) * c
        self._fields: dict[tuple[float, float], np.ndarray] = {}
        self._viewpoints: dict[int, np.ndarray] = {}
        self.house = episode.house

    def _field(self, target: tuple[float, float]) -> np.ndarray:
        key = (round(target[0], 3), round(target[1], 3))
        f = self._fields.get(key)
        if f is not None:
            return f
        free = self.grid.free
        X, Y = np.meshgrid(self._xs, self._ys, indexing="ij")
        d0 = np.hypot(X - target[0], Y - target[1])
        dist = np.where(free & (d0 <= REACH_M), d0, np.inf)
        c = self.grid.cell
        while True:
            best = dist.copy()
            for di, dj, w in _SHIFTS:
                np.minimum(best, _shift(dist, di, dj) + w * c, out=best)
            best = np.where(free, best, np.inf)
            if np.array_equal(best, dist):
                break
            dist = best
        self._fields[key] = dist
        return dist

    def geodesic(self, goal: tuple[float, float], target: tuple[float, float]) -> float:
        """Path length (m) from ``goal`` to within reach of ``target`` over free grid cells (inf if none)."""
        field = self._field(target)
        i, j = self.grid.cell_of(goal)
        best = math.inf
        for di in (-1, 0, 1):  # a goal in an inflated cell: step to a free neighbour
            for dj in (-1, 0, 1):
                a, b = i + di, j + dj
                if 0 <= a < self.grid.nx and 0 <= b < self.grid.ny and math.isfinite(field[a, b]):
                    hop = math.hypot(self._xs[a] - goal[0], self._ys[b] - goal[1]) if (di or dj) else 0.0
                    best = min(best, float(field[a, b]) + hop)
        return best

    def viewpoint_distance(self, receptacle_id: int, goal: tuple[float, float]) -> float:
        """Distance (m) from ``goal`` to the nearest viewpoint the robot uses at the receptacle."""
        vps = self._viewpoints.get(receptacle_id)
        if vps is None:
            rec = self.house.receptacle(receptacle_id)
            vps = np.array([self.agent.viewpoint(SlotRef(receptacle_id, s.index)) for s in rec.slots], dtype=float)
            self._viewpoints[receptacle_id] = vps
        return float(np.min(np.hypot(vps[:, 0] - goal[0], vps[:, 1] - goal[1])))


_CACHE: weakref.WeakKeyDictionary[Episode, StrictRules] = weakref.WeakKeyDictionary()


def strict_rules(episode: Episode) -> StrictRules:
    """The episode's :class:`StrictRules` (built once per episode)."""
    rules = _CACHE.get(episode)
    if rules is None:
        rules = StrictRules(episode)
        _CACHE[episode] = rules
    return rules
