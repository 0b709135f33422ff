"""Path geometry for SPL (see :mod:`robomem_sim.scoring`): a stable target order, multi-goal perfect matching,
straight-line path lengths, the nearest valid point of a target and the shortest visiting order.
"""

from __future__ import annotations

import itertools
import math
from typing import Iterable

from robomem_sim.episode import Episode
from robomem_sim.render import Renderer
from robomem_sim.types import NavTarget, TargetKind


def target_key(t: NavTarget) -> tuple[str, int, str]:
    """A stable order of targets (kind, id, room)."""
    return (t.kind.value, -1 if t.sim_id is None else t.sim_id, t.room or "")


def _perfect_matching(ok: list[list[bool]]) -> bool:
    """Whether every column (expected goal) can get a distinct row (answer goal) with ok[row][col]."""
    n_rows = len(ok)
    n_cols = len(ok[0]) if ok else 0
    match: dict[int, int] = {}  # row -> col

    def augment(col: int, seen: set[int]) -> bool:
        for row in range(n_rows):
            if ok[row][col] and row not in seen:
                seen.add(row)
                if row not in match or augment(match[row], seen):
                    match[row] = col
                    return True
        return False

    return all(augment(col, set()) for col in range(n_cols))


def _path_len(points: list[tuple[float, float]]) -> float:
    return float(sum(math.hypot(b[0] - a[0], b[1] - a[1]) for a, b in zip(points, points[1:])))


def _target_point(t: NavTarget, episode: Episode, renderer: Renderer,
                  start: tuple[float, float]) -> tuple[float, float]:
    """Representative point of a target for shortest paths: object centre, receptacle footprint point nearest
    to ``start``, room point nearest to ``start``."""
    if t.kind is TargetKind.ROOM:
        assert t.room is not None
        (x0, y0, _), (x1, y1, _) = episode.house.room(t.room).box
    elif t.kind is TargetKind.LAST_KNOWN:
        assert t.position is not None
        return (t.position[0], t.position[1])
    elif t.kind is TargetKind.RECEPTACLE:
        assert t.sim_id is not None
        (x0, y0, _), (x1, y1, _) = episode.house.receptacle(t.sim_id).box
    else:
        assert t.sim_id is not None
        p = renderer.object_center(t.sim_id)
        return (p[0], p[1]) if p is not None else start
    return (min(max(start[0], x0), x1), min(max(start[1], y0), y1))


def _shortest(start: tuple[float, float], sets: tuple[frozenset[NavTarget], ...], episode: Episode,
              renderer: Renderer, ordered: bool) -> float:
    """Shortest straight-line path from ``start`` through one valid target of each set (given order when
    ``ordered``, else the best order; each leg ends at the target's point nearest to the leg's start)."""
    orders: Iterable[tuple[int, ...]]
    if ordered or len(sets) <= 1:
        orders = [tuple(range(len(sets)))]
    elif len(sets) <= 7:
        orders = itertools.permutations(range(len(sets)))
    else:
        orders = [tuple(range(len(sets)))]
    best = math.inf
    for order in orders:
        # DP over target choices, legs from the previous leg's end point
        frontier: list[tuple[float, tuple[float, float]]] = [(0.0, start)]
        for k in order:
            nxt = []
            for t in sorted(sets[k], key=target_key):
                cost, p = min(((c + math.dist(q, _target_point(t, episode, renderer, q)),
                                _target_point(t, episode, renderer, q)) for c, q in frontier), key=lambda cp: cp[0])
                nxt.append((cost, p))
            frontier = nxt
        best = min(best, min(c for c, _ in frontier))
    return best
