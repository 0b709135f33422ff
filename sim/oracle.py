"""The ground-truth oracle's answers (the suite's upper bound; FindingDory's oracle scores 95.9 %) and the
oracle's standing spot in front of a receptacle (used by the chance strategies too)."""

from __future__ import annotations

import math
from typing import Optional

from robomem_sim.episode import Episode
from robomem_sim.render import Renderer, look_at
from robomem_sim.scoring import NAV_KINDS, target_key
from robomem_sim.types import NavTarget, TargetKind, Task
from robomem_sim.world import WorldState

from robomem.core.query_types import QueryStatus
from robomem.errors import SimError
from robomem.planner.base import AnswerKind, Goal, PlannerAnswer

__all__ = ["oracle_answer", "standoff_goal"]


def oracle_answer(task: Task, episode: Episode, renderer: Optional[Renderer] = None) -> PlannerAnswer:
    """The answer of an oracle that knows the ground truth (the upper bound; FindingDory's oracle: 95.9 %).

    Goals stand in front of the target's receptacle (``AgentConfig.viewpoint_distance``, in line with the
    object; other standoffs when that view is blocked), facing the target; rooms: their centre; last known
    places: in front of the receptacle the object was on. Typed answers are the expected values; "not found"
    names the asked thing; a stale belief says that the object may have moved.
    """
    exp = task.expected
    if exp.not_found:
        return PlannerAnswer(QueryStatus.NOT_FOUND, AnswerKind.UNKNOWN, "oracle: never seen", target=task.asked)
    flag = exp.requires_may_have_moved
    if exp.kind in NAV_KINDS or (exp.kind is AnswerKind.ROOM and exp.value is None):
        state = episode.state_at(task.now_ns)
        r = renderer or episode.renderer(task.now_ns)
        r.sync(state)
        goals = tuple(_oracle_goal(min(s, key=target_key), episode, state, r) for s in exp.targets)
        return PlannerAnswer(QueryStatus.OK, exp.kind, "oracle", goals=goals, may_have_moved=flag)
    value = exp.value
    if isinstance(value, tuple):
        value = ", ".join(value)
    return PlannerAnswer(QueryStatus.OK, exp.kind, f"oracle: {value}", value=value, may_have_moved=flag)


def standoff_goal(receptacle_id: int, episode: Episode, state: WorldState, renderer: Renderer) -> Goal:
    """The oracle's goal for a receptacle: in front of it, facing it (``renderer`` shows ``state``)."""
    return _oracle_goal(NavTarget(TargetKind.RECEPTACLE, sim_id=receptacle_id), episode, state, renderer)


def _oracle_goal(t: NavTarget, episode: Episode, state: WorldState, renderer: Renderer) -> Goal:
    house = episode.house
    if t.kind is TargetKind.ROOM:
        assert t.room is not None
        cx, cy = house.room(t.room).center_xy
        return Goal((cx, cy, 0.0), None, label=t.room)
    assert t.sim_id is not None
    visible = t.sim_id
    if t.kind is TargetKind.OBJECT:
        ref = state.slot_of(t.sim_id)
        if ref is None:
            raise SimError(f"object {t.sim_id} is carried at question time")
        rec = house.receptacle(ref.receptacle_id)
        aim = house.object_box(t.sim_id, ref).center
    elif t.kind is TargetKind.LAST_KNOWN:
        assert t.support_id is not None and t.position is not None
        rec = house.receptacle(t.support_id)
        aim = t.position
        visible = t.support_id
    else:
        rec = house.receptacle(t.sim_id)
        aim = rec.center
    (x0, y0, _), (x1, y1, _) = rec.box
    nx, ny = rec.normal
    front = (x1 if nx > 0 else x0) if nx else (y1 if ny > 0 else y0)
    cfg = episode.config
    first: Optional[Goal] = None
    for dist in (cfg.agent.viewpoint_distance, 0.5, 0.9, 0.3, 1.2):
        for side in (0.0, 0.3, -0.3, 0.6, -0.6):
            gx = front + nx * dist if nx else aim[0] + side
            gy = front + ny * dist if ny else aim[1] + side
            if not house.is_navigable(gx, gy):
                continue
            goal = Goal((gx, gy, 0.0), math.atan2(aim[1] - gy, aim[0] - gx), label=house.label(t.sim_id))
            first = first or goal
            eye = (gx, gy, cfg.camera.height_m)
            if renderer.visible_fraction(look_at(eye, aim), visible, cfg.camera.intrinsics()) >= \
                    cfg.scoring.min_coverage:
                return goal
    if first is None:
        raise SimError(f"no navigable standoff in front of receptacle {rec.sim_id}")
    return first
