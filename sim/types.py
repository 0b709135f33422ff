"""Value types shared by the simulator, the task suite, the agents and the scorer.

Ids here are *simulator* ids (ground truth), never memory instance ids: an agent answers with places to go
(:class:`robomem.planner.base.Goal`) and typed values; the scorer maps those back onto simulator objects.
Times are ns since the epoch; the simulated day runs 06:00-22:00 (``SimClock``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Optional, Union

from robomem.planner.base import AnswerKind

Vec3 = tuple[float, float, float]


class TaskFamily(enum.Enum):
    """FindingDory task families plus robomem's extra ones."""

    OBJECT_RECALL = "object_recall"
    OBJECT_ATTRIBUTE = "object_attribute"
    INTERACTION = "interaction"
    CONDITIONAL_INTERACTION = "conditional_interaction"
    SPATIAL_RELATIONSHIP = "spatial_relationship"
    ROOM_VISITATION = "room_visitation"
    INTERACTION_ORDER = "interaction_order"
    TIME_BASED = "time_based"
    DURATION = "duration"
    MULTI_GOAL_UNORDERED = "multi_goal_unordered"
    MULTI_GOAL_ORDERED = "multi_goal_ordered"
    WHERE_NOW = "where_now"  # object moved by someone else: where is it now (or where was it last seen)
    CHANGES = "changes"  # what changed in room R since T
    COUNTING = "counting"
    ABSENCE = "absence"  # never-seen object: the right answer is "not found", naming the asked thing


class TargetKind(enum.Enum):
    """What a navigation target is, which selects FindingDory's success rule."""

    OBJECT = "object"  # <= 2.0 m, heading within pi/4, >= 0.1 % of pixels
    RECEPTACLE = "receptacle"  # near a viewpoint, heading within pi/2, >= 0.1 % of pixels
    ROOM = "room"  # robot inside the room
    LAST_KNOWN = "last_known"  # a stale belief: where the object was last seen (it is no longer there)


@dataclass(frozen=True)
class NavTarget:
    """One acceptable place to go: a simulator object/receptacle id or a room name.

    LAST_KNOWN targets: ``sim_id`` is the object, ``position`` its centre when last seen (world, m) and
    ``support_id`` the receptacle it stood on then; success: within the object rule's distance of
    ``position``, facing it, and that spot of the receptacle visible (the object itself is gone).
    """

    kind: TargetKind
    sim_id: Optional[int] = None
    room: Optional[str] = None
    position: Optional[Vec3] = None
    support_id: Optional[int] = None


@dataclass(frozen=True)
class ExpectedAnswer:
    """Ground truth for one task.

    ``kind`` is the answer type (:class:`AnswerKind`). For navigation answers, ``targets`` holds, per goal,
    the set of acceptable targets (any one of a set satisfies that goal); ``ordered`` says whether goals must
    be visited in order.
    ``value`` holds room names, numbers, booleans, times (ns) or durations (s); ``alternatives`` further values
    that are equally right (an ambiguous question: every valid answer is accepted), ``alternative_targets``
    other goal sequences that are equally right (e.g. an order read another way); ``tolerance`` is the
    absolute tolerance for times (s) and durations (s). ``not_found`` means the right answer is "I don't know /
    not seen" naming the asked thing (``Task.asked``).

    Stale beliefs: ``requires_may_have_moved`` - the object was moved by someone else, the robot then saw its
    old place empty and has not seen the object since: the right answer is its last known place (LAST_KNOWN
    targets / the last known room as ``value``) AND ``PlannerAnswer.may_have_moved``.
    ``forbids_may_have_moved`` - every accepted target is an object the robot saw where it is now (after its
    last move): saying it may have moved is wrong (set on every navigation task about such objects).
    """

    kind: AnswerKind
    targets: tuple[frozenset[NavTarget], ...] = ()
    ordered: bool = False
    value: Union[int, float, str, bool, tuple[str, ...], None] = None
    tolerance: float = 0.0
    not_found: bool = False
    alternatives: tuple[Union[int, float, str, bool], ...] = ()
    alternative_targets: tuple[tuple[frozenset[NavTarget], ...], ...] = ()
    requires_may_have_moved: bool = False
    forbids_may_have_moved: bool = False


@dataclass(frozen=True)
class Task:
    """A question asked at ``now_ns`` (after the episode's observation phase)."""

    task_id: str
    family: TaskFamily
    text: str
    expected: ExpectedAnswer
    now_ns: int
    about_moved_object: bool = False  # counts towards the "moved objects" comparison with the static-map baseline
    meta: dict[str, object] = field(default_factory=dict, compare=False)
    asked: str = ""
    """The words naming the thing the task asks about, as this task's text names it (absence tasks: an
    UNKNOWN / NOT_FOUND answer scores only when ``PlannerAnswer.target`` names it)."""
    control: Optional[Task] = field(default=None, compare=False)
    """Absence tasks: the same template asked about a thing the robot did see. The absence task scores only
    when the agent did not answer "not found" to its control too (it tells absent from present)."""
