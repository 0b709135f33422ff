"""Scoring planner answers against a task's ground truth (FindingDory's rules, adapted to the built-in sim).

Navigation answers (``PlannerAnswer.goals``; one goal per expected goal, in order for ordered tasks):

* OBJECT target: straight-line xy distance from the goal position to the object's centre <= 2.0 m (the
  built-in sim has no geodesic planner for answers; FindingDory uses geodesic distance), the goal ``yaw``
  points at the object within pi/4 (a goal without a heading, ``yaw`` None, fails: FindingDory's answers
  are stored poses, and a heading-free spot would "face" everything around it), and
  the object covers >= 0.1 % of the pixels of a render from the goal: camera at ``CameraConfig.height_m``,
  head pointed at the object's centre (Stretch pans/tilts its head), default intrinsics. So coverage
  tests occlusion and apparent size, the heading rule tests facing.
* RECEPTACLE target: xy distance from the goal to the receptacle's footprint (its nearest face) <= 1.0 m
  (FindingDory: <= 0.1 m from a precomputed viewpoint; our scripted viewpoints are 0.7 m from the front face),
  heading to the receptacle's centre within pi/2, and >= 0.1 % coverage as above. One goal indicates one
  receptacle: of the receptacles within 1.0 m, the one whose centre it faces most directly (others within
  10 deg of that count too); a spot between several pieces of furniture does not answer for all of them.
* LAST_KNOWN target (a stale belief): the object rule's distance and heading to where the object was last
  seen, and that spot of the receptacle it stood on covers >= 0.1 % of the render (the object is gone).
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
``TaskConfig.time_tolerance_s`` and DURATION within ``duration_tolerance_s`` (``ExpectedAnswer.tolerance``);
any of ``ExpectedAnswer.alternatives`` is as good as ``value``. A TEXT (colour) answer without a ``value`` is
read from its text: it must name a right colour and no other colour (listing colours does not score). For
typed answers ``distance_success`` and ``coverage_success`` equal ``success`` and ``spl`` is
``float(success)``.

"I don't know": a ``not_found`` (absence) task succeeds iff the answer is NOT_FOUND / UNKNOWN, its
``target`` names the asked thing (:func:`names_asked`: every word of ``Task.asked`` is among the target's
words, case, punctuation and plural -s ignored) without repeating the whole question
(:func:`echoes_question`), so a question that was not understood never scores, **and**
the same agent did not answer "not found" to the task's control (``Task.control``: the same template about a
thing it saw), so saying "not found" to everything never scores. On any other task such an answer fails
(GAVE_UP).

Stale beliefs: when ``ExpectedAnswer.requires_may_have_moved`` the answer must also say
``may_have_moved`` (else STALE_NOT_FLAGGED); when ``forbids_may_have_moved`` (every accepted target is an
object the robot saw where it is now) it must not (WRONGLY_FLAGGED): hedging every answer is not free.
"""

from __future__ import annotations

import dataclasses
import enum
import math
import re
from dataclasses import dataclass
from typing import Callable, Iterable, Optional

from robomem_sim.agent_script import wrap_angle
from robomem_sim.answer_text import _as_bool, _is_number, _named_colours, _norm, echoes_question, names_asked
from robomem_sim.config import ScoringConfig
from robomem_sim.episode import Episode
from robomem_sim.render import Renderer, look_at
from robomem_sim.spl import _path_len, _perfect_matching, _shortest, target_key
from robomem_sim.strict import STRICT_DURATION_TOLERANCE_S, VIEWPOINT_RADIUS_M, StrictRules, strict_rules
from robomem_sim.types import NavTarget, TargetKind, Task, TaskFamily
from robomem_sim.world import House

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
    UNKNOWN_WITHOUT_TARGET = "unknown_without_target"  # "not found" on an absence task, not naming what was asked
    NOT_FOUND_ALSO_PRESENT = "not_found_also_present"  # absence task: "not found" to its control (a seen thing) too
    STALE_NOT_FLAGGED = "stale_not_flagged"  # right last-known place, but not said that it may have moved
    WRONGLY_FLAGGED = "wrongly_flagged"  # "may have moved" about an object seen at its new place


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
    strict_distance_ok: bool = False
    faces_other: Optional[int] = None
    """RECEPTACLE targets: another receptacle within reach that the goal faces more directly (the goal then
    indicates that one, not the target)."""

    @property
    def success(self) -> bool:
        return self.navigable and self.distance_ok and self.heading_ok and self.coverage_ok

    @property
    def strict_success(self) -> bool:
        """Success under FindingDory's strict distance rules (:mod:`robomem_sim.strict`)."""
        return self.navigable and self.strict_distance_ok and self.heading_ok and self.coverage_ok


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
    strict_success: bool = False
    """Success under FindingDory's stricter rules (geodesic object distance, receptacle viewpoints within
    0.1 m, times in the same minute, durations within 1 s; :mod:`robomem_sim.strict`)."""


NAV_KINDS = (AnswerKind.INSTANCE, AnswerKind.RECEPTACLE, AnswerKind.LIST)
"""Answer kinds scored as places to go."""


def gave_up(answer: PlannerAnswer) -> bool:
    """Whether ``answer`` says "not found" / "I don't know"."""
    return answer.status is QueryStatus.NOT_FOUND or answer.kind is AnswerKind.UNKNOWN


def score_task(task: Task, answer: PlannerAnswer, episode: Episode, renderer: Renderer,
               full: bool = True, control_answer: Optional[PlannerAnswer] = None) -> TaskScore:
    """Score ``answer`` to ``task``. ``renderer`` is synced to the world at ``task.now_ns`` here (cheap when
    it already is), so one renderer can score all tasks of an episode. ``full=False`` skips the coverage
    render of goals that already fail the distance or heading rule (``success`` and ``spl`` are unchanged;
    ``coverage_success`` is then a lower bound): for Monte-Carlo chance levels. ``control_answer``: the same
    agent's answer to ``task.control`` (absence tasks; the evaluation always passes it: without it the control
    check is skipped, for unit tests of the answer alone)."""
    exp = task.expected
    summary = format_answer(answer)
    said_not_found = gave_up(answer)

    def result(success: bool, mode: FailureMode, error: str, dist: Optional[bool] = None,
               cov: Optional[bool] = None, spl: Optional[float] = None, strict: Optional[bool] = None) -> TaskScore:
        return TaskScore(task.task_id, task.family, success, success if dist is None else dist,
                         success if cov is None else cov, float(success) if spl is None else spl,
                         FailureMode.NONE if success else mode, "" if success else error, summary,
                         task.about_moved_object, success if strict is None else strict)

    if exp.not_found:
        if not said_not_found:
            return result(False, FailureMode.FALSE_POSITIVE,
                          "the target does not exist / was never seen, but the answer claims it was found")
        if not names_asked(answer.target, task.asked):
            return result(False, FailureMode.UNKNOWN_WITHOUT_TARGET,
                          f"answered 'not found' for {answer.target!r}, which does not name the asked "
                          f"{task.asked!r} (a question that was not understood does not score)")
        if echoes_question(answer.target, task.text, task.asked):
            return result(False, FailureMode.UNKNOWN_WITHOUT_TARGET,
                          f"answered 'not found' for {answer.target!r}, which repeats the question instead of "
                          "naming what was looked for (a question that was not parsed does not score)")
        if control_answer is not None and gave_up(control_answer):
            assert task.control is not None
            return result(False, FailureMode.NOT_FOUND_ALSO_PRESENT,
                          f"also answered 'not found' to the control {task.control.text!r} about a thing it saw: "
                          "'not found' does not tell absent from present")
        return result(True, FailureMode.NONE, "")
    if said_not_found:
        return result(False, FailureMode.GAVE_UP, f"answered {answer.status.name}/{answer.kind.value} but the "
                                                  "target exists")
    if exp.kind in NAV_KINDS or (exp.kind is AnswerKind.ROOM and answer.goals and exp.targets):
        if not exp.targets:
            raise SimError(f"task {task.task_id}: a navigation answer needs expected targets")
        renderer.sync(episode.state_at(task.now_ns))
        score = _score_nav(task, answer, episode, renderer, result, full)
        for alt in exp.alternative_targets:  # another valid reading (e.g. another order)
            if score.success:
                break
            other = dataclasses.replace(task, expected=dataclasses.replace(exp, targets=alt, alternative_targets=()))
            alt_score = _score_nav(other, answer, episode, renderer, result, full)
            if alt_score.success:
                score = dataclasses.replace(alt_score, strict_success=alt_score.strict_success or score.strict_success)
    else:
        score = _score_typed(task, answer, result)
    return _check_stale_flag(task, answer, score)


def _check_stale_flag(task: Task, answer: PlannerAnswer, score: TaskScore) -> TaskScore:
    exp = task.expected
    if not score.success:
        return score
    if exp.requires_may_have_moved and not answer.may_have_moved:
        return dataclasses.replace(
            score, success=False, spl=0.0, strict_success=False, failure_mode=FailureMode.STALE_NOT_FLAGGED,
            error="the last known place is right, but the object was seen gone from it since: the answer must "
                  "say that it may have moved (PlannerAnswer.may_have_moved)")
    if exp.forbids_may_have_moved and answer.may_have_moved:
        return dataclasses.replace(
            score, success=False, spl=0.0, strict_success=False, failure_mode=FailureMode.WRONGLY_FLAGGED,
            error="the robot saw the object where it is now (after its last move); 'may have moved' is wrong")
    return score



_Result = Callable[..., TaskScore]


def _score_typed(task: Task, answer: PlannerAnswer, result: _Result) -> TaskScore:
    exp = task.expected
    v = answer.value
    accepted = [x for x in (exp.value, *exp.alternatives) if x is not None]
    if exp.kind is AnswerKind.ROOM:
        names = {_norm(t.room) for g in exp.targets for t in g if t.room is not None}
        names.update(_norm(str(x)) for x in accepted)
        got = v if isinstance(v, str) else answer.text
        ok = _norm(got) in names
        return result(ok, FailureMode.WRONG_ROOM, f"room {got!r} is not {sorted(names)}")
    if exp.kind is AnswerKind.TEXT:
        wants = [_norm(str(x)) for x in accepted]
        if isinstance(v, str):
            ok = _norm(v) in wants
        else:  # free text: it names a right value, and every colour it names is a right one
            ok = any(re.search(rf"\b{re.escape(w)}\b", _norm(answer.text)) is not None for w in wants) and \
                _named_colours(answer.text) <= set(wants)
        got_t = v if v is not None else answer.text
        shown = exp.value if len(wants) == 1 else sorted(wants)
        return result(ok, FailureMode.WRONG_VALUE, f"expected {shown!r}, got {got_t!r}")
    if exp.kind is AnswerKind.BOOLEAN:
        got_b = _as_bool(v)
        if got_b is None:
            return result(False, FailureMode.WRONG_ANSWER_KIND, f"expected a boolean, got {v!r}")
        return result(got_b in accepted, FailureMode.WRONG_VALUE, f"expected {exp.value}, got {got_b}")
    if not _is_number(v):
        return result(False, FailureMode.WRONG_ANSWER_KIND, f"expected a {exp.kind.value} value, got {v!r}")
    assert isinstance(v, (int, float))
    nums = [x for x in accepted if _is_number(x)]
    if exp.kind is AnswerKind.NUMBER:
        return result(any(float(v) == float(x) for x in nums), FailureMode.WRONG_VALUE,
                      f"expected {exp.value if len(nums) == 1 else sorted(nums)}, got {v}")
    if exp.kind is AnswerKind.TIME:
        err_s = min(abs(int(v) - int(x)) for x in nums) / 1e9
        strict = any(int(v) // (60 * 10**9) == int(x) // (60 * 10**9) for x in nums)
    elif exp.kind is AnswerKind.DURATION:
        err_s = min(abs(float(v) - float(x)) for x in nums)
        strict = err_s <= STRICT_DURATION_TOLERANCE_S + 1e-9
    else:
        raise SimError(f"task {task.task_id}: cannot score expected kind {exp.kind.value}")
    ok = err_s <= exp.tolerance + 1e-9
    return result(ok, FailureMode.OUT_OF_TOLERANCE, f"off by {err_s:.1f} s (tolerance {exp.tolerance:.0f} s)",
                  strict=ok and strict)


def _score_nav(task: Task, answer: PlannerAnswer, episode: Episode, renderer: Renderer,
               result: _Result, full: bool = True) -> TaskScore:
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
    checks = [[_best_check(g, s, episode, renderer, full, strict_rules(episode)) for s in sets]
              for g in goals]  # [goal][expected]
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
    strict = success and satisfied(lambda c: c.strict_success)
    denom = max(spl_path, shortest)
    spl = float(success) if denom < 1e-9 else float(success) * shortest / denom
    if success:
        return result(True, FailureMode.NONE, "", dist_ok, cov_ok, spl, strict)
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
    limit = cfg.receptacle_distance_m if kind is TargetKind.RECEPTACLE else cfg.object_distance_m
    if not c.distance_ok:
        mode = FailureMode.TOO_FAR if c.distance_m <= 2 * limit else FailureMode.WRONG_TARGET
        return mode, f"goal is {c.distance_m:.2f} m from the nearest valid target (limit {limit} m)"
    if not c.heading_ok:
        if c.faces_other is not None:
            return FailureMode.WRONG_TARGET, (f"the goal faces receptacle {c.faces_other} more directly than the "
                                              "target (one goal indicates one receptacle)")
        if c.heading_error_rad >= math.pi:
            return FailureMode.WRONG_HEADING, "the goal has no heading (yaw None): it must face the target"
        return FailureMode.WRONG_HEADING, f"heading is off by {math.degrees(c.heading_error_rad):.0f} deg"
    return FailureMode.NOT_VISIBLE, f"target covers {100 * c.coverage:.3f} % of the view (< {100 * cfg.min_coverage} %)"


def check_goal(goal: Goal, target: NavTarget, episode: Episode, renderer: Renderer, full: bool = True,
               strict: Optional[StrictRules] = None) -> GoalCheck:
    """Check one goal against one target with the rules in the module docstring. ``renderer`` must show the
    world at the question time (``score_task`` syncs it). ``full=False``: no coverage render when the
    distance or heading rule already fails (coverage then reads 0). With ``strict``, also FindingDory's strict
    distance rule (``GoalCheck.strict_distance_ok``)."""
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
        return GoalCheck(inside, inside, inside, navigable, d, 0.0, 1.0 if inside else 0.0, inside)
    if target.sim_id is None:
        raise SimError(f"a {target.kind.value} target needs a sim id")
    visible_id = target.sim_id
    if target.kind is TargetKind.OBJECT:
        pos = renderer.object_center(target.sim_id)
        if pos is None:
            return GoalCheck(False, False, False, navigable, math.inf, math.pi, 0.0)
        d = math.hypot(pos[0] - gx, pos[1] - gy)
        dist_limit, head_limit = cfg.object_distance_m, cfg.object_heading_rad
        aim = pos
    elif target.kind is TargetKind.LAST_KNOWN:
        if target.position is None or target.support_id is None:
            raise SimError("a LAST_KNOWN target needs the last known position and its receptacle")
        aim = target.position
        d = math.hypot(aim[0] - gx, aim[1] - gy)
        dist_limit, head_limit = cfg.object_distance_m, cfg.object_heading_rad
        visible_id = target.support_id
    else:
        rec = house.receptacle(target.sim_id)
        d = rec.footprint_distance(gx, gy)
        dist_limit, head_limit = cfg.receptacle_distance_m, cfg.receptacle_heading_rad
        aim = rec.center
    heading_err = math.pi if goal.yaw is None else abs(wrap_angle(goal.yaw - math.atan2(aim[1] - gy, aim[0] - gx)))
    dist_ok = d <= dist_limit + 1e-9
    head_ok = heading_err <= head_limit + 1e-9
    faces: Optional[int] = None
    if target.kind is TargetKind.RECEPTACLE and dist_ok and head_ok and goal.yaw is not None:
        faces = _faced_receptacle(goal, (gx, gy), house, cfg.receptacle_distance_m)
        if faces is not None and faces != target.sim_id and \
                _heading_error(goal, (gx, gy), house.receptacle(faces).center) + FACING_TIE_RAD < heading_err:
            head_ok = False
        else:
            faces = None
    strict_ok = False
    if strict is not None and dist_ok:  # the strict rules are never looser than the relaxed ones
        if target.kind is TargetKind.RECEPTACLE:
            strict_ok = strict.viewpoint_distance(target.sim_id, (gx, gy)) <= VIEWPOINT_RADIUS_M + 1e-9
        else:
            strict_ok = strict.geodesic((gx, gy), (aim[0], aim[1])) <= dist_limit + 1e-9
    if not full and not (dist_ok and head_ok and navigable):
        return GoalCheck(dist_ok, head_ok, False, navigable, d, heading_err, 0.0, strict_ok, faces)
    eye = (gx, gy, episode.config.camera.height_m)
    coverage = renderer.visible_fraction(look_at(eye, aim), visible_id, episode.config.camera.intrinsics())
    return GoalCheck(dist_ok, head_ok, coverage >= cfg.min_coverage, navigable, d, heading_err, coverage, strict_ok,
                     faces)


FACING_TIE_RAD = math.radians(10.0)
"""A receptacle goal indicates the receptacle within reach it faces most directly; another one counts as
faced as well when its heading error is within this margin (two pieces of furniture side by side)."""


def _heading_error(goal: Goal, xy: tuple[float, float], aim: tuple[float, ...]) -> float:
    assert goal.yaw is not None
    return abs(wrap_angle(goal.yaw - math.atan2(aim[1] - xy[1], aim[0] - xy[0])))


def _faced_receptacle(goal: Goal, xy: tuple[float, float], house: House, reach_m: float) -> Optional[int]:
    """The receptacle within ``reach_m`` of ``xy`` (footprint distance) whose centre the goal's heading points
    at most directly (None when none is within reach)."""
    near = [r for r in house.receptacles.values() if r.footprint_distance(xy[0], xy[1]) <= reach_m + 1e-9]
    if not near:
        return None
    return min(near, key=lambda r: (_heading_error(goal, xy, r.center), r.sim_id)).sim_id


def _best_check(goal: Goal, targets: frozenset[NavTarget], episode: Episode, renderer: Renderer,
                full: bool = True, strict: Optional[StrictRules] = None) -> GoalCheck:
    checks = [check_goal(goal, t, episode, renderer, full, strict) for t in sorted(targets, key=target_key)]
    best = min(checks, key=lambda c: (not c.success, not c.distance_ok, not c.heading_ok, c.distance_m))
    if not best.strict_success and any(c.strict_success for c in checks):  # another target passes strictly
        best = dataclasses.replace(best, strict_distance_ok=True) if best.success else best
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
