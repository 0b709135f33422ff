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
* Multi-goal: unordered - each expected goal is satisfied by a distinct answer goal; ordered - by answer
  goals in the same order (a subsequence). LIST answers (e.g. "what changed") additionally need exactly as
  many goals as expected items.

The world used is the state at ``task.now_ns`` (objects moved while unseen are where they are *now*).
SPL = success x l / max(p, l): l = shortest straight-line path from the robot's pose at question time
(``episode.final_pose``) through the nearest valid targets (object centre, receptacle footprint, room
rectangle; for multi-goal the shortest visiting order, or the given order for ordered tasks), p = the
straight-line path through the answer's goals in order. SPL = success when both are 0.

Typed answers: ROOM/TEXT exact (case-insensitive), NUMBER and BOOLEAN exact, TIME within
``TaskConfig.time_tolerance_s`` and DURATION within ``duration_tolerance_s`` (``ExpectedAnswer.tolerance``).
``not_found`` tasks succeed iff the answer's status is NOT_FOUND or its kind UNKNOWN. For typed answers
``distance_success`` and ``coverage_success`` equal ``success`` and ``spl`` is ``float(success)``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Iterable, Optional

from robomem.planner.base import PlannerAnswer
from robomem_sim.episode import Episode
from robomem_sim.render import Renderer
from robomem_sim.types import Task, TaskFamily


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


def score_task(task: Task, answer: PlannerAnswer, episode: Episode, renderer: Renderer) -> TaskScore:
    """Score ``answer`` to ``task``. ``renderer`` is synced to the world at ``task.now_ns`` here (cheap when
    it already is), so one renderer can score all tasks of an episode."""
    raise NotImplementedError


def failure_mode_counts(scores: Iterable[TaskScore]) -> dict[str, int]:
    """{failure mode value: count} over the failed scores (every mode listed, zeros included)."""
    raise NotImplementedError


def summarize(scores: Iterable[TaskScore]) -> dict[str, float]:
    """Aggregate metrics: ``n``, ``success_rate`` (HL-SR), ``distance_success_rate``, ``coverage_success_rate``,
    ``spl``, and ``success_rate_moved`` / ``success_rate_static`` over tasks about moved / other objects."""
    raise NotImplementedError


def format_answer(answer: Optional[PlannerAnswer]) -> str:
    """One-line summary of an answer for logs and reports."""
    raise NotImplementedError
