"""The chance baseline: a random answer of the task's answer type, and the chance level it implies.

``random_guess`` answers with :func:`chance_answer`: it reads no text and has no memory; it knows only the
task's answer type (``task.expected.kind``), the house's rooms (the regions every agent gets) and the episode's
time span, and draws:

=====================  ======================================================================================
ROOM                   a uniformly random room (its centre as the goal)
NUMBER                 a uniform integer in 0..10
BOOLEAN                yes / no with p = 1/2
TIME                   a uniform stamp between the first frame and the question time
DURATION               a uniform duration in 0..600 s
TEXT                   a uniformly random word of :data:`GUESS_COLOURS` (the only TEXT answers are colours)
INSTANCE / RECEPTACLE  a uniform point in a uniformly random room (0.3 m from its walls), uniform heading
LIST                   as many such points as the task has goals (generous: a question that names the
                       things says how many)
=====================  ======================================================================================

It never answers "I don't know" (so absence tasks, whose right answer is an honest "not found" naming the
asked thing, are never free). The *chance level* of a task is the probability that this guess succeeds:
exact for typed answers, a seeded Monte-Carlo estimate (:data:`MC_DRAWS` draws, scored by the real scorer)
for places; the chance level of a category is its tasks' mean. The report prints it beside every category;
``no_memory`` (which says "I don't know" without naming anything) must not score above it anywhere, and
``random_guess`` (one draw per task) scatters around it within the binomial error.

Other strategies that need no memory of the episode, each a level per task (:func:`memoryless_levels`; the
report's chance column takes, per task, the one of them - or the template's usual answer - that does best on
the other tasks of its template):

=========  ==========================================================================================
``here``   stay where you are: one goal at the robot's pose at question time, facing where it faces (as
           many such goals as a list needs); a room question answered with the room it stands in. (The
           questions are asked at a random spot, ``Episode.final_pose``: where the last interaction ended,
           standing still scored 42 % on interaction order - every "the last object you picked up" - with
           no memory, against a 1.6 % chance.)
``map``    a piece of furniture at random (a map of the house, no memory of what happened): for a single
           receptacle or object answer, the fraction of the house's receptacles whose front, facing it,
           succeeds (what stands on a receptacle is in view from its front).
``coin``   absence tasks with a control: say "not found" (naming the asked thing) with probability p,
           else something; it scores when it said "not found" to the task and not to its control:
           p (1 - p) <= :data:`COIN_LEVEL` (p = 1/2).
=========  ==========================================================================================
"""

from __future__ import annotations

import math
import zlib
from typing import TYPE_CHECKING, Optional, Sequence

import numpy as np
from robomem_sim.types import Task

from robomem.core.query_types import QueryStatus
from robomem.core.types import Region
from robomem.planner.base import AnswerKind, Goal, PlannerAnswer

if TYPE_CHECKING:
    from robomem_sim.episode import Episode
    from robomem_sim.render import Renderer

__all__ = ["COIN_LEVEL", "GUESS_COLOURS", "MC_DRAWS", "STRATEGIES", "chance_answer", "chance_level", "guess_rng",
           "here_answer", "memoryless_levels"]

GUESS_COLOURS = ("red", "green", "blue", "yellow", "orange", "purple", "pink", "white", "black", "grey",
                 "brown", "silver")
"""Common colour words the chance baseline guesses from (everyday vocabulary, not the simulator's table)."""

NUMBER_RANGE = (0, 10)
DURATION_RANGE_S = 600.0
WALL_MARGIN_M = 0.3
MC_DRAWS = 24
"""Monte-Carlo draws per navigation task for its chance level."""
COIN_LEVEL = 0.25
"""The best an agent that cannot tell absent from present does on an absence task with a control (p (1 - p))."""
STRATEGIES = ("random", "here", "map", "coin")
"""The memoryless strategies of :func:`memoryless_levels` (the report adds the template's usual answer)."""


def guess_rng(seed: int, episode_seed: int, task_id: str, stream: int = 0) -> np.random.Generator:
    """The generator of one task's guess (independent of the phrasing, the agent order and the other tasks)."""
    return np.random.default_rng([int(seed), int(episode_seed), zlib.crc32(task_id.encode()), int(stream)])


def _random_point(regions: Sequence[Region], rng: np.random.Generator) -> Goal:
    r = regions[int(rng.integers(len(regions)))]
    (x0, y0, _), (x1, y1, _) = r.box
    m = min(WALL_MARGIN_M, (x1 - x0) / 4, (y1 - y0) / 4)
    x = float(rng.uniform(x0 + m, x1 - m))
    y = float(rng.uniform(y0 + m, y1 - m))
    return Goal((x, y, 0.0), float(rng.uniform(-math.pi, math.pi)), label=r.name)


def chance_answer(task: Task, regions: Sequence[Region], start_ns: int, now_ns: int,
                  rng: np.random.Generator) -> PlannerAnswer:
    """One random answer of ``task``'s answer type (see the module docstring)."""
    kind = task.expected.kind
    text = "no memory: a random guess"
    if not regions:
        return PlannerAnswer(QueryStatus.OK, AnswerKind.NUMBER, text, value=0)
    if kind is AnswerKind.ROOM:
        r = regions[int(rng.integers(len(regions)))]
        c = r.box.center
        return PlannerAnswer(QueryStatus.OK, kind, text, value=r.name, goals=(Goal((c[0], c[1], 0.0), None,
                                                                                      label=r.name),))
    if kind is AnswerKind.NUMBER:
        return PlannerAnswer(QueryStatus.OK, kind, text, value=int(rng.integers(NUMBER_RANGE[0],
                                                                                NUMBER_RANGE[1] + 1)))
    if kind is AnswerKind.BOOLEAN:
        return PlannerAnswer(QueryStatus.OK, kind, text, value=bool(rng.random() < 0.5))
    if kind is AnswerKind.TIME:
        return PlannerAnswer(QueryStatus.OK, kind, text, value=int(rng.integers(start_ns, max(start_ns + 1, now_ns))))
    if kind is AnswerKind.DURATION:
        return PlannerAnswer(QueryStatus.OK, kind, text, value=float(rng.uniform(0.0, DURATION_RANGE_S)))
    if kind is AnswerKind.TEXT:
        return PlannerAnswer(QueryStatus.OK, kind, text, value=GUESS_COLOURS[int(rng.integers(len(GUESS_COLOURS)))])
    n = max(1, len(task.expected.targets)) if kind is AnswerKind.LIST else 1
    goals = tuple(_random_point(regions, rng) for _ in range(n))
    return PlannerAnswer(QueryStatus.OK, kind if kind is not AnswerKind.UNKNOWN else AnswerKind.INSTANCE, text,
                         goals=goals)


def _typed_chance(task: Task, n_rooms: int, start_ns: int, now_ns: int) -> float:
    """Exact success probability of the typed guess (before the scorer's extra conditions)."""
    exp = task.expected
    kind = exp.kind
    if kind is AnswerKind.BOOLEAN:
        return 0.5
    if kind is AnswerKind.NUMBER:
        values = {exp.value, *exp.alternatives}
        lo, hi = NUMBER_RANGE
        return sum(1 for v in values if isinstance(v, (int, float)) and float(v).is_integer() and lo <= v <= hi) / (
            hi - lo + 1)
    if kind is AnswerKind.TEXT:
        values = {str(v).lower() for v in (exp.value, *exp.alternatives) if v is not None}
        return sum(1 for c in GUESS_COLOURS if c in values) / len(GUESS_COLOURS)
    if kind is AnswerKind.TIME:
        span = max(1, now_ns - start_ns) / 1e9
        centres = sorted({int(v) for v in (exp.value, *exp.alternatives) if isinstance(v, (int, float))})
        covered = _union_length([(c / 1e9 - exp.tolerance, c / 1e9 + exp.tolerance) for c in centres],
                                start_ns / 1e9, now_ns / 1e9)
        return min(1.0, covered / span)
    if kind is AnswerKind.DURATION:
        durs = sorted({float(v) for v in (exp.value, *exp.alternatives) if isinstance(v, (int, float))})
        covered = _union_length([(c - exp.tolerance, c + exp.tolerance) for c in durs], 0.0, DURATION_RANGE_S)
        return min(1.0, covered / DURATION_RANGE_S)
    raise ValueError(kind)


def _union_length(intervals: list[tuple[float, float]], lo: float, hi: float) -> float:
    total = 0.0
    cur_a, cur_b = None, None
    for a, b in sorted((max(lo, a), min(hi, b)) for a, b in intervals):
        if b <= a:
            continue
        if cur_b is None or a > cur_b:
            if cur_a is not None and cur_b is not None:
                total += cur_b - cur_a
            cur_a, cur_b = a, b
        else:
            cur_b = max(cur_b, b)
    if cur_a is not None and cur_b is not None:
        total += cur_b - cur_a
    return total


def chance_level(task: Task, episode: Episode, renderer: Renderer, seed: int = 0, draws: int = MC_DRAWS) -> float:
    """Probability that :func:`chance_answer` succeeds on ``task`` (see the module docstring)."""
    from robomem_sim.scoring import score_task

    regions = tuple(episode.house.regions())
    start_ns = episode.frames[0].stamp_ns if episode.frames else episode.now_ns
    exp = task.expected
    if exp.not_found:
        return 0.0  # a guess always claims something: a false positive
    typed = exp.kind in (AnswerKind.BOOLEAN, AnswerKind.NUMBER, AnswerKind.TEXT, AnswerKind.TIME,
                         AnswerKind.DURATION)
    if typed and not exp.requires_may_have_moved:
        return _typed_chance(task, len(regions), start_ns, task.now_ns)
    if exp.requires_may_have_moved:
        return 0.0  # the guess never states that the object may have moved
    if exp.kind is AnswerKind.ROOM and not exp.targets:
        values = {str(exp.value).lower(), *(str(v).lower() for v in exp.alternatives)}
        return sum(1 for r in regions if r.name.lower() in values) / max(1, len(regions))
    hits = 0
    for k in range(draws):
        rng = guess_rng(seed, episode.seed, task.task_id, stream=1000 + k)
        ans = chance_answer(task, regions, start_ns, task.now_ns, rng)
        hits += int(score_task(task, ans, episode, renderer, full=False).success)
    return hits / draws if draws else math.nan


def here_answer(task: Task, episode: Episode) -> Optional[PlannerAnswer]:
    """Stay where you are (the ``here`` strategy): goals at the robot's pose at question time with its heading,
    a room question answered with the room it stands in; None for answers that are not places."""
    kind = task.expected.kind
    pose = episode.final_pose
    room = episode.house.room_at(pose.x, pose.y)
    goal = Goal((pose.x, pose.y, 0.0), pose.yaw, label="here")
    text = "no memory: where I am"
    if kind is AnswerKind.ROOM:
        return PlannerAnswer(QueryStatus.OK, kind, text, value=room, goals=(goal,))
    if kind in (AnswerKind.INSTANCE, AnswerKind.RECEPTACLE, AnswerKind.LIST):
        n = max(1, len(task.expected.targets)) if kind is AnswerKind.LIST else 1
        return PlannerAnswer(QueryStatus.OK, kind, text, goals=(goal,) * n)
    return None


def _map_level(task: Task, episode: Episode, renderer: Renderer) -> float:
    """Fraction of the house's receptacles whose front (facing it) answers a single-place task (a receptacle,
    or an object: the things on a receptacle are in view from its front)."""
    from robomem_sim.oracle import standoff_goal
    from robomem_sim.scoring import score_task

    if task.expected.kind not in (AnswerKind.RECEPTACLE, AnswerKind.INSTANCE):
        return 0.0
    state = episode.state_at(task.now_ns)
    renderer.sync(state)
    recs = sorted(episode.house.receptacles)
    hits = 0
    for rid in recs:
        goal = standoff_goal(rid, episode, state, renderer)
        ans = PlannerAnswer(QueryStatus.OK, task.expected.kind, "no memory: a piece of furniture", goals=(goal,))
        hits += int(score_task(task, ans, episode, renderer, full=False).success)
    return hits / len(recs) if recs else 0.0


def memoryless_levels(task: Task, episode: Episode, renderer: Renderer, seed: int = 0,
                      draws: int = MC_DRAWS) -> dict[str, float]:
    """The success probability of each memoryless strategy (:data:`STRATEGIES`, module docstring) on ``task``:
    ``random`` is :func:`chance_level`; the others are exact."""
    from robomem_sim.scoring import score_task

    exp = task.expected
    out = {name: 0.0 for name in STRATEGIES}
    out["random"] = chance_level(task, episode, renderer, seed, draws)
    if exp.not_found:
        out["coin"] = COIN_LEVEL if task.control is not None else 1.0
        return out
    here = here_answer(task, episode)
    if here is not None:
        out["here"] = float(score_task(task, here, episode, renderer, full=False).success)
    out["map"] = _map_level(task, episode, renderer)
    return out
