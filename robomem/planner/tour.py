"""Multi-goal tour ordering: visit several :class:`~robomem.planner.base.Goal` s with the shortest path.

A tour starts at the robot's position ``start_xy`` (world frame, m) and visits every goal once; it does not
return to the start (an open path). The cost between two places is Euclidean distance in the xy plane by
default; a ``distance(a, b)`` callable over world-frame positions (m) may be injected, e.g. a geodesic
distance from the simulator's navmesh. The start is passed to it as ``(x, y, 0.0)``.

Exact for up to :data:`EXACT_MAX_GOALS` goals (Held-Karp dynamic programming, O(n^2 2^n)); beyond that a
nearest-neighbour tour improved by 2-opt until no move helps. Ties are broken by the input order so the
result is deterministic.
"""

from __future__ import annotations

import logging
import math
from typing import Callable, Optional, Sequence

from robomem.errors import PlannerError
from robomem.planner.base import Goal, Vec3

__all__ = ["EXACT_MAX_GOALS", "DistanceFn", "euclidean_xy", "order_goals", "tour_length"]

_LOG = logging.getLogger(__name__)

EXACT_MAX_GOALS = 8
DistanceFn = Callable[[Vec3, Vec3], float]


def euclidean_xy(a: Vec3, b: Vec3) -> float:
    """Distance (m) between two world positions projected onto the xy plane."""
    return math.hypot(float(a[0]) - float(b[0]), float(a[1]) - float(b[1]))


def _start_vec(start_xy: tuple[float, float]) -> Vec3:
    if len(start_xy) < 2:
        raise PlannerError(f"start_xy must be (x, y) in metres, got {start_xy!r}")
    x, y = float(start_xy[0]), float(start_xy[1])
    if not (math.isfinite(x) and math.isfinite(y)):
        raise PlannerError(f"start_xy must be finite, got {start_xy!r}; pass the robot's world position")
    return (x, y, 0.0)


def _cost_matrix(start: Vec3, goals: Sequence[Goal], distance: DistanceFn) -> list[list[float]]:
    """(n+1) x (n+1) costs; index 0 is the start, i+1 is goals[i]."""
    points: list[Vec3] = [start] + [g.position for g in goals]
    n = len(points)
    cost = [[0.0] * n for _ in range(n)]
    for i in range(n):
        for j in range(n):
            if i == j:
                continue
            d = float(distance(points[i], points[j]))
            if math.isnan(d) or d < 0.0:
                raise PlannerError(
                    f"distance callable returned {d!r} between {points[i]} and {points[j]}; "
                    "it must return a non-negative number of metres (math.inf for unreachable)"
                )
            cost[i][j] = d
    return cost


def _path_cost(cost: list[list[float]], order: Sequence[int]) -> float:
    """Cost of start -> order[0] -> ... (order holds goal indices 0..n-1)."""
    total = 0.0
    prev = 0
    for k in order:
        total += cost[prev][k + 1]
        prev = k + 1
    return total


def _held_karp(cost: list[list[float]], n: int) -> list[int]:
    """Exact open-path TSP from node 0 over goal nodes 1..n; returns goal indices 0..n-1."""
    full = (1 << n) - 1
    inf = math.inf
    # best[mask][j]: cheapest path from start visiting the goals in mask, ending at goal j (j in mask)
    best = [[inf] * n for _ in range(1 << n)]
    parent = [[-1] * n for _ in range(1 << n)]
    for j in range(n):
        best[1 << j][j] = cost[0][j + 1]
    for mask in range(1, full + 1):
        row = best[mask]
        for j in range(n):
            cur = row[j]
            if cur == inf or not (mask >> j) & 1:
                continue
            for k in range(n):
                if (mask >> k) & 1:
                    continue
                nm = mask | (1 << k)
                cand = cur + cost[j + 1][k + 1]
                if cand < best[nm][k]:
                    best[nm][k] = cand
                    parent[nm][k] = j
    last = min(range(n), key=lambda j: (best[full][j], j))
    if best[full][last] == inf:
        # every complete tour crosses an unreachable leg: fall back to the input order
        return list(range(n))
    order: list[int] = []
    mask = full
    j = last
    while j != -1:
        order.append(j)
        pj = parent[mask][j]
        mask &= ~(1 << j)
        j = pj
    order.reverse()
    return order


def _nearest_neighbour(cost: list[list[float]], n: int) -> list[int]:
    remaining = list(range(n))
    order: list[int] = []
    prev = 0
    while remaining:
        nxt = min(remaining, key=lambda k: (cost[prev][k + 1], k))
        order.append(nxt)
        remaining.remove(nxt)
        prev = nxt + 1
    return order


def _two_opt(cost: list[list[float]], order: list[int], max_passes: int = 100) -> list[int]:
    """Reverse segments while that shortens the open path (full re-costing, so asymmetric costs work)."""
    best = list(order)
    best_cost = _path_cost(cost, best)
    n = len(best)
    for _ in range(max_passes):
        improved = False
        for i in range(n - 1):
            for j in range(i + 1, n):
                cand = best[:i] + best[i : j + 1][::-1] + best[j + 1 :]
                c = _path_cost(cost, cand)
                if c < best_cost - 1e-12:
                    best, best_cost, improved = cand, c, True
        if not improved:
            break
    return best


def order_goals(
    start_xy: tuple[float, float],
    goals: Sequence[Goal],
    fixed_order: bool = False,
    distance: Optional[DistanceFn] = None,
) -> list[Goal]:
    """Order ``goals`` to minimise the total path length from ``start_xy`` (world xy, m) visiting all.

    ``fixed_order=True`` keeps the given order (the task said "first ... then ..."). Exact for
    ``len(goals) <= 8``, nearest-neighbour + 2-opt beyond. Returns a new list; the input is not modified.
    Raises :class:`PlannerError` for a non-finite start or a distance callable returning NaN/negative.
    """
    start = _start_vec(start_xy)
    goal_list = list(goals)
    if fixed_order or len(goal_list) <= 1:
        return goal_list
    dist = distance if distance is not None else euclidean_xy
    cost = _cost_matrix(start, goal_list, dist)
    n = len(goal_list)
    if n <= EXACT_MAX_GOALS:
        order = _held_karp(cost, n)
    else:
        order = _two_opt(cost, _nearest_neighbour(cost, n))
    _LOG.debug("tour over %d goals: order %s, length %.3f m", n, order, _path_cost(cost, order))
    return [goal_list[k] for k in order]


def tour_length(
    start_xy: tuple[float, float],
    goals: Sequence[Goal],
    distance: Optional[DistanceFn] = None,
) -> float:
    """Length (m, or the distance callable's unit) of start -> goals[0] -> ... -> goals[-1], in that order."""
    start = _start_vec(start_xy)
    dist = distance if distance is not None else euclidean_xy
    total = 0.0
    prev = start
    for g in goals:
        total += float(dist(prev, g.position))
        prev = g.position
    return total
