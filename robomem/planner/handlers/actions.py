"""Handlers of questions about the robot's own pick-and-place actions: from where, to where, in which order,
when, how long, everything picked up or put down, how many."""

from __future__ import annotations

from typing import Optional

from robomem.core.query_types import InstanceSummary, QueryStatus
from robomem.planner.base import AnswerKind, PlannerAnswer
from robomem.planner.facts import Move
from robomem.planner.handlers.common import Env, UnknownError
from robomem.planner.nl.plan import QueryPlan

__all__ = [
    "count_picked",
    "duration_extreme",
    "duration_of",
    "multi_picked",
    "multi_placed_receptacles",
    "pick_at_time",
    "pick_count",
    "pick_order",
    "pick_receptacle",
    "pick_time",
    "place_at_time",
    "place_receptacle",
    "place_time",
]


def _picks_of(plan: QueryPlan, env: Env) -> tuple[InstanceSummary, list[Move]]:
    """The object the plan names and the robot's picks of it (Unknown when none)."""
    assert plan.target is not None
    hits = env.matches(plan.target)
    picks = env.picks()
    for h in sorted(hits, key=lambda c: (-c.n_observations, c.instance_id)):
        mvs = [mv for mv in picks if mv.instance_id == h.instance_id]
        if mvs:
            return h, mvs
    raise UnknownError(f"I saw the {hits[0].label} but did not see myself pick it up{env.inferred_note()}",
                  plan.target.describe())


def _object_of(mv: Move, env: Env) -> InstanceSummary:
    inst = env.by_id(mv.instance_id)
    if inst is None:
        raise UnknownError(f"I picked up something ('{mv.label}') at {env.fmt(mv.pick_ns)} but could not tell which "
                           "object in my memory it was")
    return inst


def _nth(mvs: list[Move], ordinal: Optional[int], default: int) -> Move:
    n = ordinal if ordinal is not None else default
    if n > len(mvs) or -n > len(mvs) or n == 0:
        raise UnknownError(f"I picked it up only {len(mvs)} time(s)")
    return mvs[n - 1] if n > 0 else mvs[n]


def _filtered_picks(plan: QueryPlan, env: Env) -> list[Move]:
    picks = env.picks()
    if plan.target is not None and (not plan.target.generic or plan.target.attributes):
        ids = {i.instance_id for i in env.matches(plan.target)}
        picks = [mv for mv in picks if mv.instance_id in ids]
    if plan.time is not None:
        lo, hi = plan.time.bounds()
        picks = [mv for mv in picks if lo <= mv.pick_ns <= hi]
    return picks


def pick_receptacle(plan: QueryPlan, env: Env) -> PlannerAnswer:
    inst, mvs = _picks_of(plan, env)
    mv = _nth(mvs, plan.ordinal, 1)
    rec = env.source_receptacle(mv)
    if rec is None:
        raise UnknownError(f"I picked up the {inst.label} at {env.fmt(mv.pick_ns)} but did not see what it was on",
                      inst.label)
    ans = env.nav_receptacle(rec, f"I picked the {inst.label} up from the {rec.label} at {env.fmt(mv.pick_ns)}"
                                  f"{env.inferred_note()}", plan.navigate)
    return PlannerAnswer(ans.status, ans.kind, ans.text, ans.value, ans.instance_ids, ans.goals, target=inst.label)


def place_receptacle(plan: QueryPlan, env: Env) -> PlannerAnswer:
    inst, mvs = _picks_of(plan, env)
    mv = _nth(mvs, plan.ordinal, -1)
    rec = env.destination_receptacle(mv)
    if rec is None:
        raise UnknownError(f"I do not know what I put the {inst.label} on", inst.label)
    when = f" at {env.fmt(mv.place_ns)}" if mv.place_ns is not None else ""
    ans = env.nav_receptacle(rec, f"I put the {inst.label} on the {rec.label}{when}{env.inferred_note()}",
                             plan.navigate)
    return PlannerAnswer(ans.status, ans.kind, ans.text, ans.value, ans.instance_ids, ans.goals, target=inst.label)


def pick_order(plan: QueryPlan, env: Env) -> PlannerAnswer:
    picks = _filtered_picks(plan, env)
    note = env.inferred_note()
    if not picks:
        what = plan.target.describe() if plan.target else "object"
        raise UnknownError(f"I did not see myself pick up any {what}{note}",
                      plan.target.describe() if plan.target else "")
    if plan.anchor is not None:
        anchor_plan = QueryPlan(plan.intent, target=plan.anchor)
        anchor, mvs = _picks_of(anchor_plan, env)
        all_picks = env.picks()
        idx = all_picks.index(mvs[0] if plan.anchor_offset > 0 else mvs[-1])
        j = idx + (1 if plan.anchor_offset > 0 else -1)
        if not 0 <= j < len(all_picks):
            side = "after" if plan.anchor_offset > 0 else "before"
            raise UnknownError(f"I picked up nothing {side} the {anchor.label}",
                          anchor.label)
        mv = all_picks[j]
        why = (f"right {'after' if plan.anchor_offset > 0 else 'before'} the {anchor.label} I picked up the "
               f"{mv.label} at {env.fmt(mv.pick_ns)}{note}; ")
    else:
        n = plan.ordinal or 1
        if n > len(picks) or -n > len(picks):
            raise UnknownError(f"I picked up only {len(picks)} object(s), not {abs(n)}{note}")
        mv = picks[n - 1] if n > 0 else picks[n]
        why = f"pick #{picks.index(mv) + 1} of {len(picks)} was the {mv.label} at {env.fmt(mv.pick_ns)}{note}; "
    inst = _object_of(mv, env)
    return env.nav_instance(inst, why, plan.navigate)


def _nearest_in_time(events: list[tuple[int, Move]], plan: QueryPlan, what: str, env: Env) -> Move:
    assert plan.time is not None
    tol = env.ctx.config.facts.time_match_s
    spec = plan.time
    if spec.at_ns is not None and spec.tolerance_s < tol:
        lo, hi = spec.at_ns - int(tol * 1e9), spec.at_ns + int(tol * 1e9)
    else:
        lo, hi = spec.bounds()
    inside = [(t, mv) for t, mv in events if lo <= t <= hi]
    if not inside:
        raise UnknownError(f"I did not {what} anything between {env.fmt(lo)} and {env.fmt(hi)}{env.inferred_note()}")
    ref = spec.at_ns if spec.at_ns is not None else lo
    return sorted(inside, key=lambda e: (abs(e[0] - ref), e[1].instance_id))[0][1]


def pick_at_time(plan: QueryPlan, env: Env) -> PlannerAnswer:
    mv = _nearest_in_time([(m.pick_ns, m) for m in _filtered_picks_no_time(plan, env)], plan, "pick up", env)
    inst = _object_of(mv, env)
    return env.nav_instance(inst, f"I picked up the {mv.label} at {env.fmt(mv.pick_ns)}{env.inferred_note()}; ",
                            plan.navigate)


def _filtered_picks_no_time(plan: QueryPlan, env: Env) -> list[Move]:
    picks = env.picks()
    if plan.target is not None and (not plan.target.generic or plan.target.attributes):
        ids = {i.instance_id for i in env.matches(plan.target)}
        picks = [mv for mv in picks if mv.instance_id in ids]
    return picks


def place_at_time(plan: QueryPlan, env: Env) -> PlannerAnswer:
    mv = _nearest_in_time([(m.place_ns, m) for m in env.picks() if m.place_ns is not None], plan, "put down", env)
    rec = env.destination_receptacle(mv)
    if rec is None:
        raise UnknownError(f"I put the {mv.label} down at {env.fmt(mv.place_ns or 0)} but did not see on what")
    return env.nav_receptacle(rec, f"I put the {mv.label} on the {rec.label} at {env.fmt(mv.place_ns or 0)}"
                                   f"{env.inferred_note()}", plan.navigate)


def pick_time(plan: QueryPlan, env: Env) -> PlannerAnswer:
    inst, mvs = _picks_of(plan, env)
    mv = _nth(mvs, plan.ordinal, 1)
    again = ""
    if len(mvs) > 1 and plan.ordinal is None:
        again = f" (I picked it up {len(mvs)} times: {', '.join(env.fmt(m.pick_ns) for m in mvs)})"
    return PlannerAnswer(QueryStatus.OK, AnswerKind.TIME,
                         f"I picked up the {inst.label} at {env.fmt(mv.pick_ns)}{again}{env.inferred_note()}",
                         value=int(mv.pick_ns), instance_ids=(inst.instance_id,), target=inst.label)


def place_time(plan: QueryPlan, env: Env) -> PlannerAnswer:
    inst, mvs = _picks_of(plan, env)
    mv = _nth(mvs, plan.ordinal, -1)
    if mv.place_ns is None:
        raise UnknownError(f"I picked up the {inst.label} but did not see where I put it", inst.label)
    return PlannerAnswer(QueryStatus.OK, AnswerKind.TIME,
                         f"I put the {inst.label} down at {env.fmt(mv.place_ns)}{env.inferred_note()}",
                         value=int(mv.place_ns), instance_ids=(inst.instance_id,), target=inst.label)


def duration_of(plan: QueryPlan, env: Env) -> PlannerAnswer:
    inst, mvs = _picks_of(plan, env)
    mv = _nth(mvs, plan.ordinal, 1)
    if mv.duration_s is None:
        raise UnknownError(f"I picked up the {inst.label} but did not see where I put it", inst.label)
    return PlannerAnswer(QueryStatus.OK, AnswerKind.DURATION,
                         f"moving the {inst.label} took {mv.duration_s:.0f} s{env.inferred_note()}",
                         value=float(mv.duration_s), instance_ids=(inst.instance_id,), target=inst.label)


def duration_extreme(plan: QueryPlan, env: Env) -> PlannerAnswer:
    done = [mv for mv in _filtered_picks(plan, env) if mv.duration_s is not None]
    if not done:
        raise UnknownError(f"I did not see myself complete any pick-and-place{env.inferred_note()}")
    sign = 1.0 if plan.superlative == "shortest" else -1.0
    mv = sorted(done, key=lambda m: (sign * (m.duration_s or 0.0), m.pick_ns))[0]
    inst = _object_of(mv, env)
    return env.nav_instance(inst, f"the {mv.label} took the {plan.superlative} ({mv.duration_s:.0f} s)"
                                  f"{env.inferred_note()}; ", plan.navigate)


def multi_picked(plan: QueryPlan, env: Env) -> PlannerAnswer:
    picks = _filtered_picks(plan, env)
    ids: list[int] = []
    for mv in picks:
        if mv.instance_id is not None and mv.instance_id not in ids:
            ids.append(mv.instance_id)
    note = env.inferred_note()
    if not ids:
        raise UnknownError(f"I did not see myself pick up any object{note}")
    insts = [i for i in (env.by_id(x) for x in ids) if i is not None]
    order = " in the order I picked them up" if plan.ordered else ""
    listing = ", ".join(f"the {i.label}" for i in insts)
    if not plan.navigate:
        return PlannerAnswer(QueryStatus.OK, AnswerKind.LIST, f"I picked up {listing}{order}{note}",
                             value=len(insts), instance_ids=tuple(i.instance_id for i in insts))
    return env.nav_list(insts, plan.ordered, f"the {len(insts)} object(s) I picked up{order}{note}: {listing}")


def multi_placed_receptacles(plan: QueryPlan, env: Env) -> PlannerAnswer:
    recs: list[InstanceSummary] = []
    for mv in _filtered_picks(plan, env):
        r = env.destination_receptacle(mv)
        # ordered: one goal per placement (the same receptacle twice is two goals); unordered: distinct
        if r is not None and (plan.ordered or all(x.instance_id != r.instance_id for x in recs)):
            recs.append(r)
    note = env.inferred_note()
    if not recs:
        raise UnknownError(f"I did not see myself put any object on a receptacle{note}")
    listing = ", ".join(f"the {r.label}" for r in recs)
    if not plan.navigate:
        return PlannerAnswer(QueryStatus.OK, AnswerKind.LIST, f"I put things on {listing}{note}",
                             value=len(recs), instance_ids=tuple(r.instance_id for r in recs))
    return env.nav_list(recs, plan.ordered, f"the {len(recs)} receptacle(s) I put objects on{note}: {listing}",
                        receptacles=True)


def pick_count(plan: QueryPlan, env: Env) -> PlannerAnswer:
    """How many times the robot picked up the named object (every instance the words name)."""
    assert plan.target is not None
    hits = {h.instance_id: h for h in env.matches(plan.target)}
    picks = [mv for mv in env.picks() if mv.instance_id is not None and mv.instance_id in hits]
    ids = sorted({mv.instance_id for mv in picks if mv.instance_id is not None})
    label = hits[ids[0]].label if ids else plan.target.describe()
    times = f": {', '.join(env.fmt(mv.pick_ns) for mv in picks)}" if picks else ""
    return PlannerAnswer(QueryStatus.OK, AnswerKind.NUMBER,
                         f"I picked up the {label} {len(picks)} time(s){times}{env.inferred_note()}",
                         value=len(picks), instance_ids=tuple(ids), target=label)


def count_picked(plan: QueryPlan, env: Env) -> PlannerAnswer:
    ids: list[int] = []
    for mv in _filtered_picks(plan, env):
        if mv.instance_id is not None and mv.instance_id not in ids:
            ids.append(mv.instance_id)
    what = plan.target.describe() if plan.target is not None and not plan.target.generic else "object"
    return PlannerAnswer(QueryStatus.OK, AnswerKind.NUMBER,
                         f"I picked up {len(ids)} {what}(s){env.inferred_note()}", value=len(ids),
                         instance_ids=tuple(ids), target=what if what != "object" else "")
