"""Handlers of questions about rooms and the robot's visits (optionally within a time window), and about what
changed where."""

from __future__ import annotations

from typing import Optional

from robomem.core.query_types import QueryStatus, RoomVisit
from robomem.planner.base import AnswerKind, PlannerAnswer
from robomem.planner.facts import NS, Move, xy_dist
from robomem.planner.handlers.common import Env, UnknownError
from robomem.planner.nl.plan import QueryPlan

__all__ = [
    "changes",
    "count_rooms",
    "room_at_time",
    "room_end",
    "room_entries",
    "room_most_time",
    "room_not_visited",
    "room_start",
]

DAY_NS = 86_400 * NS


def _visits(plan: QueryPlan, env: Env, required: bool = True) -> list[RoomVisit]:
    """The robot's room visits, clipped to the plan's time window when it has one."""
    env.ctx.log("room_visits()")
    visits = list(env.snap.visits())
    if not visits and required:
        raise UnknownError("I have no record of my own room visits (no pose was inside a known room)")
    if plan.time is not None and not plan.time.is_point:
        lo, hi = plan.time.bounds()
        clipped = []
        for v in visits:
            end = v.exit_ns if v.exit_ns is not None else env.ctx.now_ns
            if end >= lo and v.enter_ns <= hi:
                clipped.append(RoomVisit(v.room, max(v.enter_ns, lo), min(end, hi)))
        if not clipped and required:
            raise UnknownError(f"I have no record of being anywhere between {env.fmt(lo)} and {env.fmt(hi)}")
        return clipped
    return visits


def _room_answer(room: str, why: str, plan: QueryPlan, env: Env) -> PlannerAnswer:
    goals = (env.goals.room_goal(env.snap, room),) if plan.navigate else ()
    return PlannerAnswer(QueryStatus.OK, AnswerKind.ROOM, why, value=room, goals=goals, target=room)


def room_not_visited(plan: QueryPlan, env: Env) -> PlannerAnswer:
    regions = env.snap.regions()
    if not regions:
        raise UnknownError("I was given no room layout")
    seen = {v.room for v in _visits(plan, env, required=False)}
    left = [r for r in regions if r.name not in seen]
    if not left:
        raise UnknownError(f"I visited every room I know ({', '.join(sorted(seen))})")
    robot = env.snap.robot_xy()
    pick = sorted(left, key=lambda r: (xy_dist(r.box.center, robot) if robot else 0.0, r.name))[0]
    others = [r.name for r in left if r.name != pick.name]
    also = f" (nor the {', the '.join(others)})" if others else ""
    return _room_answer(pick.name, f"I never entered the {pick.name}{also}", plan, env)


def room_start(plan: QueryPlan, env: Env) -> PlannerAnswer:
    v = _visits(plan, env)[0]
    return _room_answer(v.room, f"I started in the {v.room} at {env.fmt(v.enter_ns)}", plan, env)


def room_end(plan: QueryPlan, env: Env) -> PlannerAnswer:
    v = _visits(plan, env)[-1]
    return _room_answer(v.room, f"I ended in the {v.room}", plan, env)


def _time_per_room(visits: list[RoomVisit], now_ns: int) -> dict[str, int]:
    total: dict[str, int] = {}
    for v in visits:
        end = v.exit_ns if v.exit_ns is not None else now_ns
        total[v.room] = total.get(v.room, 0) + max(0, end - v.enter_ns)
    return total


def room_most_time(plan: QueryPlan, env: Env) -> PlannerAnswer:
    total = _time_per_room(_visits(plan, env), env.ctx.now_ns)
    room, t = sorted(total.items(), key=lambda kv: (-kv[1], kv[0]))[0]
    return _room_answer(room, f"I spent the most time in the {room} ({t / NS / 60:.1f} min)", plan, env)


def room_entries(plan: QueryPlan, env: Env) -> PlannerAnswer:
    room = env.room(plan.room)
    n = 0
    prev: Optional[RoomVisit] = None
    for v in _visits(plan, env, required=False):
        # starting a day in a room is not entering it: the first visit, or one after a night without frames
        day_start = prev is None or (prev.exit_ns is not None and prev.exit_ns // DAY_NS < v.enter_ns // DAY_NS)
        if v.room == room and not day_start:
            n += 1
        prev = v
    return PlannerAnswer(QueryStatus.OK, AnswerKind.NUMBER, f"I entered the {room} {n} time(s)", value=n, target=room)


def room_at_time(plan: QueryPlan, env: Env) -> PlannerAnswer:
    assert plan.time is not None
    if not plan.time.is_point:
        total = _time_per_room(_visits(plan, env), env.ctx.now_ns)
        room = sorted(total.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
        return _room_answer(room, f"{plan.time.text} I was mostly in the {room}", plan, env)
    assert plan.time.at_ns is not None
    t = plan.time.at_ns
    visits = _visits(plan, env)
    for v in visits:
        end = v.exit_ns if v.exit_ns is not None else env.ctx.now_ns
        if v.enter_ns <= t <= end:
            return _room_answer(v.room, f"at {env.fmt(t)} I was in the {v.room}", plan, env)
    if t < visits[0].enter_ns:
        v = visits[0]
        return _room_answer(v.room, f"at {env.fmt(t)} I had not moved yet; I started in the {v.room}", plan, env)
    before = [v for v in visits if v.enter_ns <= t]
    if before and t <= env.ctx.now_ns:
        v = before[-1]
        return _room_answer(v.room, f"at {env.fmt(t)} I had last been in the {v.room} (between rooms or idle)",
                            plan, env)
    raise UnknownError(f"I have no record of where I was at {env.fmt(t)}")


def count_rooms(plan: QueryPlan, env: Env) -> PlannerAnswer:
    rooms = sorted({v.room for v in _visits(plan, env, required=False)})
    return PlannerAnswer(QueryStatus.OK, AnswerKind.NUMBER, f"I visited {len(rooms)} room(s): {', '.join(rooms)}",
                         value=len(rooms))


def changes(plan: QueryPlan, env: Env) -> PlannerAnswer:
    if plan.time is not None:
        t0, t1 = plan.time.bounds()
    else:
        t0, t1 = env.snap.time_range[0], env.ctx.now_ns
    room = env.room(plan.room) if plan.room else None
    env.ctx.log(f"changes({t0}, {t1}, region={room!r})")
    moved: dict[int, Move] = {}
    for mv in env.moves():
        if not t0 <= mv.pick_ns <= t1:
            continue
        src = mv.from_room or env.room_of(mv.from_position)
        dst = mv.to_room or (env.room_of(mv.to_position) if mv.to_position is not None else None)
        if room is not None and room not in (src, dst):
            continue
        if mv.instance_id is not None:
            moved.setdefault(mv.instance_id, mv)
    where = f" into, out of or within the {room}" if room else ""
    span = f"between {env.fmt(t0)} and {env.fmt(t1)}"
    if plan.count:
        return PlannerAnswer(QueryStatus.OK, AnswerKind.NUMBER, f"{len(moved)} object(s) were moved{where} {span}",
                             value=len(moved), instance_ids=tuple(moved), target=room or "")
    if not moved:
        return PlannerAnswer(QueryStatus.OK, AnswerKind.LIST, f"nothing was moved{where} {span}", value=0,
                             target=room or "")
    insts = [i for i in (env.by_id(x) for x in moved) if i is not None]
    listing = ", ".join(i.label for i in insts)
    return env.nav_list(insts, False, f"moved{where} {span}: {listing}", navigate=plan.navigate)
