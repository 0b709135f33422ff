"""Handlers of questions about objects: where is it, which room, what colour, did you pick it up, what is near
what, several listed objects, how many."""

from __future__ import annotations

from robomem.core.query_types import QueryStatus
from robomem.core.types import NodeKind
from robomem.planner.base import AnswerKind, PlannerAnswer
from robomem.planner.facts import xy_dist
from robomem.planner.handlers.common import ClarifyError, Env, UnknownError, names
from robomem.planner.nl.plan import AttributeKind, QueryPlan

__all__ = [
    "count_category",
    "did_pick",
    "find_object",
    "multi_list",
    "object_attribute",
    "object_near_receptacle",
    "object_room",
    "receptacle_near_object",
]


def _constrained(plan: QueryPlan) -> bool:
    return (plan.interacted is not None or plan.receptacle is not None or bool(plan.room)
            or plan.time is not None)


def find_object(plan: QueryPlan, env: Env) -> PlannerAnswer:
    """Go to (or say where) the object the plan describes; a definite name that fits several different
    things is asked back; constraints that several things meet take the nearest and name the others."""
    cands, desc = env.candidates(plan)
    target = plan.target.describe() if plan.target is not None else ""
    if not cands:
        raise UnknownError(f"I know of no {desc}", target)
    labels = sorted({c.label for c in cands})
    if (plan.target is not None and not plan.target.generic and plan.target.quantifier == "the"
            and not _constrained(plan) and len(labels) > 1):
        raise ClarifyError(f"Which one do you mean: {names(labels[:5])}?", target)
    present = [c for c in cands if c.present]
    choice = env.nearest(present or cands)
    others = [c.label for c in cands if c.instance_id != choice.instance_id]
    also = f" (also: {', '.join(sorted(set(others))[:4])})" if others and _constrained(plan) else ""
    if not plan.navigate:
        ans = env.nav_instance(choice, "yes: ", navigate=False)
        return PlannerAnswer(QueryStatus.OK, AnswerKind.BOOLEAN, ans.text + also, value=True,
                             instance_ids=ans.instance_ids, target=ans.target, may_have_moved=ans.may_have_moved,
                             last_seen_ns=ans.last_seen_ns)
    ans = env.nav_instance(choice)
    if also:
        ans = PlannerAnswer(ans.status, ans.kind, ans.text + also, ans.value, ans.instance_ids, ans.goals,
                            target=ans.target, may_have_moved=ans.may_have_moved, last_seen_ns=ans.last_seen_ns)
    return ans


def object_room(plan: QueryPlan, env: Env) -> PlannerAnswer:
    assert plan.target is not None
    inst = env.one(plan.target)
    w = env.where(inst)
    room = (w.receptacle.room if w.receptacle is not None and w.receptacle.room else None) or w.room
    if room is None:
        raise UnknownError(f"the {inst.label} is not inside any room I know ({w.text})", inst.label)
    goals = (env.goals.room_goal(env.snap, room),) if plan.navigate else ()
    moved = w.predicted or w.stale
    return PlannerAnswer(QueryStatus.OK, AnswerKind.ROOM, f"{room}: {w.text}", value=room,
                         instance_ids=(inst.instance_id,), goals=goals, target=inst.label, may_have_moved=moved,
                         last_seen_ns=w.last_seen_ns if moved else None)


def object_attribute(plan: QueryPlan, env: Env) -> PlannerAnswer:
    cands, desc = env.candidates(plan)
    target = plan.target.describe() if plan.target is not None else ""
    if not cands:
        raise UnknownError(f"I know of no {desc}", target)
    kind = plan.attribute_kind.value
    values = {c.instance_id: env.resolver.attribute_of(c, kind, env.ctx) for c in cands}
    distinct = {v for v in values.values() if v}
    if not distinct:
        raise UnknownError(f"I do not know the {kind} of the {cands[0].label}", target)
    if len(distinct) > 1 and not _constrained(plan):
        raise ClarifyError(f"Which one do you mean: {names(sorted({c.label for c in cands})[:5])}?", target)
    # several things meet the description (two cans picked from the same table): name each, answer the latest seen
    inst = next(c for c in sorted(cands, key=lambda c: (-c.last_seen_ns, c.instance_id)) if values[c.instance_id])
    value = values[inst.instance_id]
    assert value is not None
    if len(distinct) > 1:
        each = "; ".join(f"the {c.label} is {values[c.instance_id]}" for c in cands if values[c.instance_id])
        return PlannerAnswer(QueryStatus.OK, AnswerKind.TEXT, f"{len(cands)} fit: {each}", value=value.split()[0]
                             if plan.attribute_kind is AttributeKind.SHAPE else value,
                             instance_ids=tuple(c.instance_id for c in cands), target=inst.label)
    if plan.attribute_kind is AttributeKind.SHAPE:
        value = value.split()[0]
    return PlannerAnswer(QueryStatus.OK, AnswerKind.TEXT, f"the {inst.label} is {value}", value=value,
                         instance_ids=(inst.instance_id,), target=inst.label)


def did_pick(plan: QueryPlan, env: Env) -> PlannerAnswer:
    assert plan.target is not None
    target = plan.target.describe()
    res = env.resolve(plan.target)
    note = env.inferred_note()
    if not res.matches:
        return PlannerAnswer(QueryStatus.OK, AnswerKind.BOOLEAN,
                             f"no: {env.not_seen(res)}, so I did not pick it up{note}", value=False, target=target)
    picks = env.picks()
    picked = {mv.instance_id for mv in picks}
    yes = [h for h in res.matches if h.instance_id in picked]
    if yes:
        mvs = [mv for mv in picks if mv.instance_id == yes[0].instance_id]
        times = ", ".join(env.fmt(mv.pick_ns) for mv in mvs)
        return PlannerAnswer(QueryStatus.OK, AnswerKind.BOOLEAN,
                             f"yes: I picked up the {yes[0].label} at {times}{note}",
                             value=True, instance_ids=(yes[0].instance_id,), target=yes[0].label)
    return PlannerAnswer(QueryStatus.OK, AnswerKind.BOOLEAN,
                         f"no: I saw the {res.matches[0].label} but did not pick it up{note}", value=False,
                         instance_ids=(res.matches[0].instance_id,), target=res.matches[0].label)


def receptacle_near_object(plan: QueryPlan, env: Env) -> PlannerAnswer:
    assert plan.target is not None
    inst = env.one(plan.target)
    w = env.where(inst)
    on = w.receptacle
    recs = [r for r in env.snap.receptacles() if on is None or r.instance_id != on.instance_id]
    if not recs:
        raise UnknownError("I have seen no other receptacle", inst.label)
    sign = -1.0 if plan.superlative == "farthest" else 1.0
    best = sorted(recs, key=lambda r: (sign * xy_dist(env.snap.rbox(r).center, w.position), r.instance_id))[0]
    ans = env.nav_receptacle(best, f"the {best.label} is the receptacle {plan.superlative or 'nearest'} "
                                   f"{'from' if plan.superlative == 'farthest' else 'to'} the {inst.label}",
                             plan.navigate)
    moved = w.predicted or w.stale
    return PlannerAnswer(ans.status, ans.kind, ans.text, ans.value, ans.instance_ids, ans.goals, target=inst.label,
                         may_have_moved=moved, last_seen_ns=w.last_seen_ns if moved else None)


def object_near_receptacle(plan: QueryPlan, env: Env) -> PlannerAnswer:
    assert plan.receptacle is not None
    recs = env.receptacles_named(plan.receptacle, plan.room)
    rec = sorted(recs, key=lambda r: (-r.n_observations, r.instance_id))[0]
    objs = [o for o in env.snap.objects() if o.present]
    if plan.target is not None and (plan.target.attributes or not plan.target.generic):
        objs = [o for o in env.matches(plan.target) if o.present]
    if not objs:
        raise UnknownError("I know of no object that is still where I saw it", plan.receptacle.describe())
    sign = -1.0 if plan.superlative == "farthest" else 1.0
    centre = env.snap.rbox(rec).center
    best = sorted(objs, key=lambda o: (sign * xy_dist(o.position, centre), o.instance_id))[0]
    return env.nav_instance(best, f"{plan.superlative or 'nearest'} object to the {rec.label}: ", plan.navigate)


def multi_list(plan: QueryPlan, env: Env) -> PlannerAnswer:
    insts = [env.one(ref) for ref in plan.objects]
    return env.nav_list(insts, plan.ordered, "the listed objects" + (" in the given order" if plan.ordered else ""))


def count_category(plan: QueryPlan, env: Env) -> PlannerAnswer:
    assert plan.target is not None
    target = plan.target.describe()
    res = env.resolve(plan.target, (NodeKind.OBJECT,))
    if not res.matches and not res.near:
        rres = env.resolve(plan.target, (NodeKind.RECEPTACLE,))
        if rres.matches or rres.near:
            res = rres
    known = bool(env.knowledge.senses(plan.target.head)) if plan.target.head else False
    if not res.matches and not res.near and not known:
        raise UnknownError(f"I do not know what a {target} is, so I cannot count them", "")
    hits = list(res.matches)
    if plan.room:
        name = env.room(plan.room)
        hits = [h for h in hits if (h.room or env.room_of(h.position)) == name]
    n = len(hits)
    listing = f": {', '.join(sorted(h.label for h in hits)[:8])}" if hits else ""
    return PlannerAnswer(QueryStatus.OK, AnswerKind.NUMBER, f"I saw {n} {target}{'s' if n != 1 else ''}{listing}",
                         value=n, instance_ids=tuple(sorted(h.instance_id for h in hits)), target=target)
