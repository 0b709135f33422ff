"""Tour ordering: optimal against brute force, fixed order honoured, injected distance used."""

from __future__ import annotations

import itertools
import math
import random

import pytest

from robomem.errors import PlannerError
from robomem.planner.base import Goal, Vec3
from robomem.planner.tour import EXACT_MAX_GOALS, euclidean_xy, order_goals, tour_length


def _goals(points: list[tuple[float, float]]) -> list[Goal]:
    return [Goal(position=(x, y, 0.5), instance_id=i, label=f"g{i}") for i, (x, y) in enumerate(points)]


def _brute_force(start: tuple[float, float], goals: list[Goal], distance=None) -> float:
    return min(tour_length(start, list(p), distance) for p in itertools.permutations(goals))


def test_line_visits_near_to_far() -> None:
    goals = _goals([(5.0, 0.0), (1.0, 0.0), (3.0, 0.0)])
    ordered = order_goals((0.0, 0.0), goals)
    assert [g.instance_id for g in ordered] == [1, 2, 0]
    assert tour_length((0.0, 0.0), ordered) == pytest.approx(5.0)


def test_open_path_not_round_trip() -> None:
    # From the origin, going left first then right costs 1 + 11 = 12; right-first costs 10 + 11 = 21.
    goals = _goals([(10.0, 0.0), (-1.0, 0.0)])
    ordered = order_goals((0.0, 0.0), goals)
    assert [g.instance_id for g in ordered] == [1, 0]


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("n", [2, 4, 6, EXACT_MAX_GOALS])
def test_exact_matches_brute_force(seed: int, n: int) -> None:
    rng = random.Random(seed * 100 + n)
    goals = _goals([(rng.uniform(-10, 10), rng.uniform(-10, 10)) for _ in range(n)])
    start = (rng.uniform(-10, 10), rng.uniform(-10, 10))
    ordered = order_goals(start, goals)
    assert sorted(g.instance_id for g in ordered) == list(range(n))  # a permutation: nothing lost or repeated
    if n <= 7:  # 8! = 40320 permutations is fine but slow-ish on the shared cores
        assert tour_length(start, ordered) == pytest.approx(_brute_force(start, goals), abs=1e-9)


def test_fixed_order_is_kept() -> None:
    goals = _goals([(5.0, 0.0), (1.0, 0.0), (3.0, 0.0)])
    ordered = order_goals((0.0, 0.0), goals, fixed_order=True)
    assert ordered == goals
    assert ordered is not goals


def test_injected_distance_is_used() -> None:
    # A wall along x = 2 makes crossing it cost 100 extra: the geodesic prefers the same-side goal first
    # even though the other one is nearer in a straight line.
    calls: list[tuple[Vec3, Vec3]] = []

    def walled(a: Vec3, b: Vec3) -> float:
        calls.append((a, b))
        d = euclidean_xy(a, b)
        return d + (100.0 if (a[0] < 2.0) != (b[0] < 2.0) else 0.0)

    goals = _goals([(2.5, 0.0), (-1.9, 0.0)])
    assert [g.instance_id for g in order_goals((1.9, 0.0), goals)] == [0, 1]  # Euclidean: nearer first
    ordered = order_goals((1.9, 0.0), goals, distance=walled)
    assert calls, "the injected distance was never called"
    assert [g.instance_id for g in ordered] == [1, 0]  # cross the wall once, not twice
    assert tour_length((1.9, 0.0), ordered, walled) == pytest.approx(3.8 + 4.4 + 100.0)


def test_asymmetric_distance_exact() -> None:
    rng = random.Random(7)
    goals = _goals([(rng.uniform(0, 5), rng.uniform(0, 5)) for _ in range(5)])

    def uphill(a: Vec3, b: Vec3) -> float:  # going +x costs double
        return euclidean_xy(a, b) + max(0.0, b[0] - a[0])

    ordered = order_goals((0.0, 0.0), goals, distance=uphill)
    assert tour_length((0.0, 0.0), ordered, uphill) == pytest.approx(_brute_force((0.0, 0.0), goals, uphill))


def test_heuristic_beyond_exact_limit_is_good() -> None:
    rng = random.Random(3)
    n = 12
    goals = _goals([(rng.uniform(0, 20), rng.uniform(0, 20)) for _ in range(n)])
    ordered = order_goals((0.0, 0.0), goals)
    assert sorted(g.instance_id for g in ordered) == list(range(n))
    # the heuristic beats the given (random) order
    assert tour_length((0.0, 0.0), ordered) < tour_length((0.0, 0.0), goals)
    # points on a line in shuffled order: 2-opt must recover the sorted sweep exactly
    line = _goals([(float(x), 0.0) for x in rng.sample(range(1, 13), 12)])
    swept = order_goals((0.0, 0.0), line)
    assert [g.position[0] for g in swept] == sorted(g.position[0] for g in line)


def test_empty_and_single() -> None:
    assert order_goals((0.0, 0.0), []) == []
    one = _goals([(1.0, 1.0)])
    assert order_goals((0.0, 0.0), one) == one
    assert tour_length((0.0, 0.0), []) == 0.0
    assert tour_length((0.0, 0.0), one) == pytest.approx(math.sqrt(2.0))


def test_bad_inputs_raise_planner_error() -> None:
    goals = _goals([(1.0, 0.0), (2.0, 0.0)])
    with pytest.raises(PlannerError, match="finite"):
        order_goals((math.nan, 0.0), goals)
    with pytest.raises(PlannerError, match="non-negative"):
        order_goals((0.0, 0.0), goals, distance=lambda a, b: -1.0)


def test_unreachable_legs_avoided() -> None:
    goals = _goals([(1.0, 0.0), (2.0, 0.0), (3.0, 0.0)])

    def no_direct_0_to_2(a: Vec3, b: Vec3) -> float:
        if {a[0], b[0]} == {1.0, 3.0}:
            return math.inf
        return euclidean_xy(a, b)

    ordered = order_goals((0.0, 0.0), goals, distance=no_direct_0_to_2)
    assert math.isfinite(tour_length((0.0, 0.0), ordered, no_direct_0_to_2))
