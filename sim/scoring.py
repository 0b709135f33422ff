"""Scoring planner answers against a task's ground truth (FindingDory's rules, adapted to the built-in sim).

Navigation answers (``PlannerAnswer.goals``; one goal per expected goal, in order for ordered tasks):

* OBJECT target: straight-line xy distance from the goal position to the object's centre <= 2.0 m (the
  built-in sim has no geodesic planner for answers; FindingDory uses geodesic distance), the goal ``yaw``
  points at the object within pi/4 (``yaw`` None: the robot turns to face it, so the heading passes), and
  the object covers >= 0.1 % of the pixels of a render from the goal: camera at ``CameraConfig.height_m``,
  head pointed at the object's centre (Stretch pans/tilts its head), default intrinsics. So coverage
  tests occlusion and apparent size, the heading rule tests facing.
* RECEPTACLE target: xy distance from the goal to the receptacle's footprint (its nearest face) <= 1.0 m
  (FindingDory: <= 0.1 m from a precomputed viewpoint; our scripted viewpoints are 0.7 m from the front face),
  heading to the receptacle's centre within pi/2, and >= 0.1 % coverage as above.
* ROOM target: the goal position is inside the room's floor rectangle. A ROOM answer without goals is
  scored by its ``value`` (the room name, case/underscore-insensitive).
* Every goal must be navigable: inside the house, not inside a wall or a piece of furniture.
* Single-target tasks (INSTANCE, RECEPTACLE, ROOM): only the first goal counts (the robot goes there); any
  one target of the expected set satisfies it.
* Multi-goal (LIST: multi-goal tasks, "what changed"): exactly as many goals as expected goals; unordered -
  each expected goal is satisfied by a distinct answer goal (a perfect matching); ordered - goal k satisfies
  expected goal k.

The world used is the state at ``task.now_ns`` (objects moved while unseen are where they are *now*).
SPL = success x l / max(p, l): l = shortest straight-line path from the robot's pose at question time
(``episode.final_pose``) through the nearest valid targets (object centre; receptacle footprint or room
rectangle: their point nearest to where the leg starts; for multi-goal the shortest visiting order, or the
given order for ordered tasks), p = the straight-line path through the answer's goals in order (the first
goal only for single-target tasks). SPL = success when both are 0.

Typed answers: ROOM/TEXT exact (case-insensitive), NUMBER and BOOLEAN exact, TIME within
``TaskConfig.time_tolerance_s`` and DURATION within ``duration_tolerance_s`` (``ExpectedAnswer.tolerance``).
``not_found`` tasks succeed iff the answer's status is NOT_FOUND or its kind UNKNOWN. For typed answers
``distance_success`` and ``coverage_success`` equal ``success`` and ``spl`` is ``float(success)``.
"""

from __future__ import annotations

import enum
import itertools
import math
import re
from dataclasses import dataclass
from typing import Callable, Iterable, Optional

from robomem_sim.agent_script import wrap_angle
from robomem_sim.config import ScoringConfig
from robomem_sim.episode import Episode
from robomem_sim.render import Renderer, look_at
from robomem_sim.types import NavTarget, TargetKind, Task, TaskFamily
from robomem_sim.world import WorldState

from robomem.core.query_types import QueryStatus
from robomem.errors import SimError
from robomem.planner.base import AnswerKind, Goal, PlannerAnswer


class FailureMode(enum.Enum):
    """Why a task failed (the first reason found, in the order listed)."""

    NONE = "none"  # success
    GAVE_UP = "gave_up"  # answered NOT_FOUND / UNKNOWN but the target exists
    FALSE_POSITIVE = "false_positive"  # answered something for a not_found task
    WRONG_ANSWER_KIND = "wrong_answer_kind"  # e.g. a number where goals were needed
    NOT_NAVIGABLE = "not_navigable"  # a goal outside the house or inside a wall / furniture
    MISSING_GOALS = "missing_goals"  # fewer goals than expected
    EXTRA_GOALS = "extra_goals"  # LIST answers: more goals than expected items
    WRONG_TARGET = "wrong_target"  # a goal farther than 2x the distance threshold from every valid target
    TOO_FAR = "too_far"  # within 2x the threshold of a valid target but not within it
    WRONG_HEADING = "wrong_heading"
    NOT_VISIBLE = "not_visible"  # close enough and facing, but the target covers < min_coverage
    WRONG_ROOM = "wrong_room"
    WRONG_ORDER = "wrong_order"  # ordered multi-goal: all goals reached, but not in order
    WRONG_VALUE = "wrong_value"  # typed answer differs
    OUT_OF_TOLERANCE = "out_of_tolerance"  # time / duration answer outside the tolerance


@dataclass(frozen=True)
class GoalCheck:
    """One answer goal checked against one expected target. Distances m, angles rad."""

    distance_ok: bool
    heading_ok: bool
    coverage_ok: bool
    navigable: bool
    distance_m: float
    heading_error_rad: float
    coverage: float

    @property
    def success(self) -> bool:
        return self.navigable and self.distance_ok and self.heading_ok and self.coverage_ok


@dataclass(frozen=True)
class TaskScore:
    """The score of one task.

    ``distance_success``: every goal satisfied when only the distance/room rule counts;
    ``coverage_success``: every goal satisfied when only the coverage rule counts (FindingDory's
    distance-only and coverage-only success). ``error``: why it failed ("" on success).
    """

    task_id: str
    family: TaskFamily
    success: bool
    distance_success: bool
    coverage_success: bool
    spl: float
    failure_mode: FailureMode
    error: str
    answer_summary: str
    about_moved_object: bool = False


_NAV_KINDS = (AnswerKind.INSTANCE, AnswerKind.RECEPTACLE, AnswerKind.LIST)


def score_task(task: Task, answer: PlannerAnswer, episode: Episode, renderer: Renderer) -> TaskScore:
    """Score ``answer`` to ``task``. ``renderer`` is synced to the world at ``task.now_ns`` here (cheap when
    it already is), so one renderer can score all tasks of an episode."""
    exp = task.expected
    summary = format_answer(answer)
    gave_up = answer.status is QueryStatus.NOT_FOUND or answer.kind is AnswerKind.UNKNOWN

    def result(success: bool, mode: FailureMode, error: str, dist: Optional[bool] = None,
               cov: Optional[bool] = None, spl: Optional[float] = None) -> TaskScore:
        return TaskScore(task.task_id, task.family, success, success if dist is None else dist,
                         success if cov is None else cov, float(success) if spl is None else spl,
                         FailureMode.NONE if success else mode, "" if success else error, summary,
                         task.about_moved_object)

    if exp.not_found:
        return result(gave_up, FailureMode.FALSE_POSITIVE,
                      "the target does not exist / was never seen, but the answer claims it was found")
    if gave_up:
        return result(False, FailureMode.GAVE_UP, f"answered {answer.status.name}/{answer.kind.value} but the "
                                                  "target exists")
    if exp.kind in _NAV_KINDS or (exp.kind is AnswerKind.ROOM and answer.goals):
        if not exp.targets:
            raise SimError(f"task {task.task_id}: a navigation answer needs expected targets")
        renderer.sync(episode.state_at(task.now_ns))
        return _score_nav(task, answer, episode, renderer, result)
    return _score_typed(task, answer, result)


_Result = Callable[..., TaskScore]


def _score_typed(task: Task, answer: PlannerAnswer, result: _Result) -> TaskScore:
    exp = task.expected
    v = answer.value
    if exp.kind is AnswerKind.ROOM:
        names = {_norm(t.room) for g in exp.targets for t in g if t.room is not None}
        if exp.value is not None:
            names.add(_norm(str(exp.value)))
        got = v if isinstance(v, str) else answer.text
        ok = _norm(got) in names
        return result(ok, FailureMode.WRONG_ROOM, f"room {got!r} is not {sorted(names)}")
    if exp.kind is AnswerKind.TEXT:
        want = _norm(str(exp.value))
        if isinstance(v, str):
            ok = _norm(v) == want
        else:
            ok = re.search(rf"\b{re.escape(want)}\b", _norm(answer.text)) is not None
        got_t = v if v is not None else answer.text
        return result(ok, FailureMode.WRONG_VALUE, f"expected {exp.value!r}, got {got_t!r}")
    if exp.kind is AnswerKind.BOOLEAN:
        got_b = _as_bool(v)
        if got_b is None:
            return result(False, FailureMode.WRONG_ANSWER_KIND, f"expected a boolean, got {v!r}")
        return result(got_b == exp.value, FailureMode.WRONG_VALUE, f"expected {exp.value}, got {got_b}")
    if not _is_number(v):
        return result(False, FailureMode.WRONG_ANSWER_KIND, f"expected a {exp.kind.value} value, got {v!r}")
    assert isinstance(v, (int, float)) and isinstance(exp.value, (int, float))
    if exp.kind is AnswerKind.NUMBER:
        return result(float(v) == float(exp.value), FailureMode.WRONG_VALUE, f"expected {exp.value}, got {v}")
    if exp.kind is AnswerKind.TIME:
        err_s = abs(int(v) - int(exp.value)) / 1e9
    elif exp.kind is AnswerKind.DURATION:
        err_s = abs(float(v) - float(exp.value))
    else:
        raise SimError(f"task {task.task_id}: cannot score expected kind {exp.kind.value}")
    return result(err_s <= exp.tolerance + 1e-9, FailureMode.OUT_OF_TOLERANCE,
                  f"off by {err_s:.1f} s (tolerance {exp.tolerance:.0f} s)")


def _score_nav(task: Task, answer: PlannerAnswer, episode: Episode, renderer: Renderer,
               result: _Result) -> TaskScore:
    exp = task.expected
    cfg = episode.config.scoring
    goals = list(answer.goals)
    multi = exp.kind is AnswerKind.LIST
    if not goals:
        mode = FailureMode.WRONG_ANSWER_KIND if answer.value is not None else FailureMode.MISSING_GOALS
        return result(False, mode, "the answer has no navigation goals")
    if not multi:
        goals = goals[:1]  # single-target tasks: the robot goes to the first goal
    start = episode.final_pose.xy
    sets = exp.targets
    checks = [[_best_check(g, s, episode, renderer) for s in sets] for g in goals]  # [goal][expected]
    spl_path = _path_len([start] + [(g.position[0], g.position[1]) for g in goals])
    shortest = _shortest(start, sets, episode, renderer, exp.ordered)

    def satisfied(pred: Callable[[GoalCheck], bool]) -> bool:
        if len(goals) != len(sets):
            return False
        if exp.ordered or not multi:
            return all(pred(checks[k][k]) for k in range(len(sets)))
        return _perfect_matching([[pred(checks[j][k]) for k in range(len(sets))] for j in range(len(goals))])

    success = satisfied(lambda c: c.success)
    dist_ok = satisfied(lambda c: c.distance_ok)
    cov_ok = satisfied(lambda c: c.coverage_ok)
    denom = max(spl_path, shortest)
    spl = float(success) if denom < 1e-9 else float(success) * shortest / denom
    if success:
        return result(True, FailureMode.NONE, "", dist_ok, cov_ok, spl)
    bad = [k for k, g in enumerate(goals) if not episode.house.is_navigable(g.position[0], g.position[1])]
    if bad:
        g = goals[bad[0]]
        return result(False, FailureMode.NOT_NAVIGABLE,
                      f"goal {bad[0]} at ({g.position[0]:.2f}, {g.position[1]:.2f}) is outside the house or inside a "
                      "wall/furniture", dist_ok, cov_ok, 0.0)
    if len(goals) < len(sets):
        return result(False, FailureMode.MISSING_GOALS, f"{len(goals)} goals for {len(sets)} targets",
                      dist_ok, cov_ok, 0.0)
    if len(goals) > len(sets):
        return result(False, FailureMode.EXTRA_GOALS, f"{len(goals)} goals for {len(sets)} targets",
                      dist_ok, cov_ok, 0.0)
    if multi and exp.ordered and _perfect_matching([[c.success for c in row] for row in checks]):
        return result(False, FailureMode.WRONG_ORDER, "every target was reached, but not in the asked order",
                      dist_ok, cov_ok, 0.0)
    # the first expected goal that no (ordered: its own) answer goal satisfies
    for k, target_set in enumerate(sets):
        cands = [checks[k][k]] if (exp.ordered or not multi) else [checks[j][k] for j in range(len(goals))]
        if any(c.success for c in cands):
            continue
        best = min(cands, key=lambda c: (not c.distance_ok, not c.heading_ok, c.distance_m))
        kind = next(iter(target_set)).kind
        mode, why = _classify(best, kind, cfg)
        return result(False, mode, f"target {k}: {why}", dist_ok, cov_ok, 0.0)
    return result(False, FailureMode.WRONG_TARGET, "goals cannot be matched one-to-one to the targets",
                  dist_ok, cov_ok, 0.0)


def _classify(c: GoalCheck, kind: TargetKind, cfg: ScoringConfig) -> tuple[FailureMode, str]:
    if not c.navigable:
        return FailureMode.NOT_NAVIGABLE, "goal is not navigable"
    if kind is TargetKind.ROOM:
        return FailureMode.WRONG_ROOM, f"goal is {c.distance_m:.2f} m outside the room"
    limit = cfg.object_distance_m if kind is TargetKind.OBJECT else cfg.receptacle_distance_m
    if not c.distance_ok:
        mode = FailureMode.TOO_FAR if c.distance_m <= 2 * limit else FailureMode.WRONG_TARGET
        return mode, f"goal is {c.distance_m:.2f} m from the nearest valid target (limit {limit} m)"
    if not c.heading_ok:
        return FailureMode.WRONG_HEADING, f"heading is off by {math.degrees(c.heading_error_rad):.0f} deg"
    return FailureMode.NOT_VISIBLE, f"target covers {100 * c.coverage:.3f} % of the view (< {100 * cfg.min_coverage} %)"


def check_goal(goal: Goal, target: NavTarget, episode: Episode, renderer: Renderer) -> GoalCheck:
    """Check one goal against one target with the rules in the module docstring. ``renderer`` must show the
    world at the question time (``score_task`` syncs it)."""
    cfg = episode.config.scoring
    house = episode.house
    gx, gy = float(goal.position[0]), float(goal.position[1])
    navigable = house.is_navigable(gx, gy)
    if target.kind is TargetKind.ROOM:
        if target.room is None:
            raise SimError("a ROOM target needs a room name")
        room = house.room(target.room)
        inside = room.contains_xy(gx, gy)
        (x0, y0, _), (x1, y1, _) = room.box
        d = math.hypot(max(x0 - gx, 0.0, gx - x1), max(y0 - gy, 0.0, gy - y1))
        return GoalCheck(inside, inside, inside, navigable, d, 0.0, 1.0 if inside else 0.0)
    if target.sim_id is None:
        raise SimError(f"a {target.kind.value} target needs a sim id")
    if target.kind is TargetKind.OBJECT:
        pos = renderer.object_center(target.sim_id)
        if pos is None:
            return GoalCheck(False, False, False, navigable, math.inf, math.pi, 0.0)
        d = math.hypot(pos[0] - gx, pos[1] - gy)
        dist_limit, head_limit = cfg.object_distance_m, cfg.object_heading_rad
        aim = pos
    else:
        rec = house.receptacle(target.sim_id)
        d = rec.footprint_distance(gx, gy)
        dist_limit, head_limit = cfg.receptacle_distance_m, cfg.receptacle_heading_rad
        aim = rec.center
    heading_err = 0.0 if goal.yaw is None else abs(wrap_angle(goal.yaw - math.atan2(aim[1] - gy, aim[0] - gx)))
    eye = (gx, gy, episode.config.camera.height_m)
    coverage = renderer.visible_fraction(look_at(eye, aim), target.sim_id, episode.config.camera.intrinsics())
    return GoalCheck(d <= dist_limit + 1e-9, heading_err <= head_limit + 1e-9, coverage >= cfg.min_coverage,
                     navigable, d, heading_err, coverage)


def _best_check(goal: Goal, targets: frozenset[NavTarget], episode: Episode, renderer: Renderer) -> GoalCheck:
    checks = [check_goal(goal, t, episode, renderer) for t in sorted(targets, key=_target_key)]
    return min(checks, key=lambda c: (not c.success, not c.distance_ok, not c.heading_ok, c.distance_m))


def _target_key(t: NavTarget) -> tuple[str, int, str]:
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
            for t in sorted(sets[k], key=_target_key):
                cost, p = min(((c + math.dist(q, _target_point(t, episode, renderer, q)),
                                _target_point(t, episode, renderer, q)) for c, q in frontier), key=lambda cp: cp[0])
                nxt.append((cost, p))
            frontier = nxt
        best = min(best, min(c for c, _ in frontier))
    return best


def failure_mode_counts(scores: Iterable[TaskScore]) -> dict[str, int]:
    """{failure mode value: count} over the failed scores (every mode listed, zeros included)."""
    counts = {m.value: 0 for m in FailureMode if m is not FailureMode.NONE}
    for s in scores:
        if not s.success:
            counts[s.failure_mode.value] += 1
    return counts


def summarize(scores: Iterable[TaskScore]) -> dict[str, float]:
    """Aggregate metrics: ``n``, ``success_rate`` (HL-SR), ``distance_success_rate``, ``coverage_success_rate``,
    ``spl``, and ``n_moved`` / ``success_rate_moved`` / ``n_static`` / ``success_rate_static`` over tasks
    about moved / other objects (rates are NaN over zero tasks)."""
    lst = list(scores)

    def mean(xs: list[float]) -> float:
        return float(sum(xs) / len(xs)) if xs else math.nan

    moved = [s for s in lst if s.about_moved_object]
    static = [s for s in lst if not s.about_moved_object]
    return {
        "n": float(len(lst)),
        "success_rate": mean([float(s.success) for s in lst]),
        "distance_success_rate": mean([float(s.distance_success) for s in lst]),
        "coverage_success_rate": mean([float(s.coverage_success) for s in lst]),
        "spl": mean([s.spl for s in lst]),
        "n_moved": float(len(moved)),
        "success_rate_moved": mean([float(s.success) for s in moved]),
        "n_static": float(len(static)),
        "success_rate_static": mean([float(s.success) for s in static]),
    }


def format_answer(answer: Optional[PlannerAnswer]) -> str:
    """One-line summary of an answer for logs and reports."""
    if answer is None:
        return "<no answer>"
    parts = [answer.status.name, answer.kind.value]
    if answer.value is not None:
        parts.append(f"value={answer.value!r}")
    if answer.instance_ids:
        parts.append(f"ids={list(answer.instance_ids)}")
    if answer.goals:
        gs = ", ".join(
            f"({g.position[0]:.2f}, {g.position[1]:.2f}"
            + (f", yaw {math.degrees(g.yaw):.0f} deg)" if g.yaw is not None else ")")
            for g in answer.goals
        )
        parts.append(f"goals=[{gs}]")
    if answer.text:
        parts.append(repr(answer.text[:80]))
    return " ".join(parts)


def _norm(text: Optional[str]) -> str:
    return " ".join((text or "").lower().replace("_", " ").strip(" .").split())


def _is_number(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _as_bool(v: object) -> Optional[bool]:
    if isinstance(v, bool):
        return v
    if isinstance(v, str) and _norm(v) in ("yes", "true", "no", "false"):
        return _norm(v) in ("yes", "true")
    return None


def oracle_answer(task: Task, episode: Episode) -> PlannerAnswer:
    """The answer of an oracle that knows the ground truth (the upper bound; FindingDory's oracle: 95.9 %).

    Goals stand ``AgentConfig.viewpoint_distance`` in front of the target's receptacle (in line with the
    object), facing the target; rooms: their centre. Typed answers are the expected values.
    """
    exp = task.expected
    if exp.not_found:
        return PlannerAnswer(QueryStatus.NOT_FOUND, AnswerKind.UNKNOWN, "oracle: never seen")
    if exp.kind in _NAV_KINDS or (exp.kind is AnswerKind.ROOM and exp.value is None):
        state = episode.state_at(task.now_ns)
        goals = tuple(_oracle_goal(min(s, key=_target_key), episode, state) for s in exp.targets)
        return PlannerAnswer(QueryStatus.OK, exp.kind, "oracle", goals=goals)
    value = exp.value
    if isinstance(value, tuple):
        value = ", ".join(value)
    return PlannerAnswer(QueryStatus.OK, exp.kind, f"oracle: {value}", value=value)


def _oracle_goal(t: NavTarget, episode: Episode, state: WorldState) -> Goal:
    house = episode.house
    if t.kind is TargetKind.ROOM:
        assert t.room is not None
        cx, cy = house.room(t.room).center_xy
        return Goal((cx, cy, 0.0), None, label=t.room)
    assert t.sim_id is not None
    if t.kind is TargetKind.OBJECT:
        ref = state.slot_of(t.sim_id)
        if ref is None:
            raise SimError(f"object {t.sim_id} is carried at question time")
        rec = house.receptacle(ref.receptacle_id)
        aim = house.object_box(t.sim_id, ref).center
    else:
        rec = house.receptacle(t.sim_id)
        aim = rec.center
    (x0, y0, _), (x1, y1, _) = rec.box
    nx, ny = rec.normal
    front = (x1 if nx > 0 else x0) if nx else (y1 if ny > 0 else y0)
    for dist in (episode.config.agent.viewpoint_distance, 0.5, 0.9, 0.3):
        gx = front + nx * dist if nx else aim[0]
        gy = front + ny * dist if ny else aim[1]
        if house.is_navigable(gx, gy):
            break
    yaw = math.atan2(aim[1] - gy, aim[0] - gx)
    return Goal((gx, gy, 0.0), yaw, label=house.label(t.sim_id))
