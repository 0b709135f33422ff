"""What every intent handler uses: the answer environment (:class:`Env`), "I don't know" / "which one?"
exceptions, where an object is now (fresh, stale or predicted), and answers with reachable goals."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Optional, Sequence

from robomem.core.query_types import InstanceSummary, QueryStatus
from robomem.core.types import NodeKind
from robomem.planner.base import AnswerKind, Goal, PlannerAnswer
from robomem.planner.facts import NS, AnswerContext, MemorySnapshot, Move, xy_dist
from robomem.planner.goals import GoalPlacer
from robomem.planner.knowledge import Knowledge, SenseKind
from robomem.planner.nl.plan import EntityRef, QueryPlan, Relation
from robomem.planner.resolve import Resolution, Resolver
from robomem.planner.tour import order_goals

__all__ = ["ClarifyError", "Env", "UnknownError", "Where"]


class UnknownError(Exception):
    """Answer "I don't know" with this reason (``target``: what the question was understood to be about)."""

    def __init__(self, reason: str, target: str = "") -> None:
        super().__init__(reason)
        self.target = target


class ClarifyError(Exception):
    """Ask back: several things fit ("the red mug or the blue mug?")."""

    def __init__(self, question: str, target: str = "") -> None:
        super().__init__(question)
        self.target = target


@dataclass(frozen=True)
class Where:
    """Where an object is believed to be now. ``predicted``: a guess (not its last known place); ``stale``: its
    last known place was seen empty since, so it may have been moved."""

    position: tuple[float, float, float]
    receptacle: Optional[InstanceSummary]
    room: Optional[str]
    text: str
    predicted: bool
    stale: bool
    last_seen_ns: int


def _rid(inst: Optional[InstanceSummary]) -> Optional[int]:
    return inst.instance_id if inst is not None else None


def names(labels: Iterable[str]) -> str:
    """ "the red mug", "the red mug or the blue mug", "the a, the b or the c"."""
    items = [f"the {x}" for x in dict.fromkeys(labels)]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " or " + items[-1]


class Env:
    """One answer's environment: the memory view, the resolver, the goal placer and the lexicon."""

    def __init__(self, ctx: AnswerContext, resolver: Resolver, goals: GoalPlacer, knowledge: Knowledge) -> None:
        self.ctx = ctx
        self.snap: MemorySnapshot = ctx.snap
        self.resolver = resolver
        self.goals = goals
        self.knowledge = knowledge

    def fmt(self, t_ns: int) -> str:
        return self.ctx.fmt(t_ns)

    # ------------------------------------------------------------------------------------------ facts
    def picks(self) -> list[Move]:
        self.ctx.log("history(every object) -> inferred pick-and-place moves")
        return self.snap.picks()

    def moves(self) -> list[Move]:
        self.ctx.log("history(every object) -> inferred moves")
        return self.snap.moves()

    def inferred_note(self) -> str:
        """Said after facts about the robot's own picks when no manipulation record exists."""
        return " (inferred from what I saw)" if not any(mv.recorded for mv in self.snap.moves()) else ""

    def by_id(self, iid: Optional[int]) -> Optional[InstanceSummary]:
        return self.snap.by_id.get(iid) if iid is not None else None

    def room_of(self, pos: Sequence[float]) -> Optional[str]:
        return self.snap.room_name(pos)

    def _placed_on(self, iid: Optional[int], position: Optional[Sequence[float]], after_ns: Optional[int],
                   before_ns: Optional[int]) -> Optional[InstanceSummary]:
        """The receptacle under ``position`` (5 cm), else the one the object's history shows it on in the
        placement that starts after ``after_ns`` (or ends before ``before_ns``)."""
        if position is not None:
            rec = self.goals.support(self.snap, position)
            if rec is not None:
                return rec
        if iid is None:
            return None
        for p in self.snap.history(iid):
            if after_ns is not None and p.first_seen_ns >= after_ns - 60 * NS and p.receptacle_id is not None:
                return self.by_id(p.receptacle_id)
        if before_ns is not None:
            before = [p for p in self.snap.history(iid) if p.last_seen_ns <= before_ns + 60 * NS]
            if before and before[-1].receptacle_id is not None:
                return self.by_id(before[-1].receptacle_id)
        return None

    def source_receptacle(self, mv: Move) -> Optional[InstanceSummary]:
        """What a move took the object off: as recorded, else under the gripper, else from the history."""
        return self.by_id(mv.from_receptacle_id) or self._placed_on(mv.instance_id, mv.from_position, None,
                                                                      mv.pick_ns)

    def destination_receptacle(self, mv: Move) -> Optional[InstanceSummary]:
        """What a move put the object on: as recorded, else under the gripper, else from the history."""
        if mv.to_receptacle_id is not None:
            return self.by_id(mv.to_receptacle_id)
        if mv.place_ns is None:
            return None
        return self._placed_on(mv.instance_id, mv.to_position, mv.place_ns, None)

    # ------------------------------------------------------------------------------------------ resolution
    def resolve(self, ref: EntityRef, kinds: Iterable[NodeKind] = (NodeKind.OBJECT,)) -> Resolution:
        return self.resolver.resolve(ref, self.ctx, kinds)

    def matches(self, ref: EntityRef, kinds: Iterable[NodeKind] = (NodeKind.OBJECT,)) -> list[InstanceSummary]:
        """Instances the phrase names; Unknown (naming it) when there are none."""
        res = self.resolve(ref, kinds)
        if not res.matches:
            raise UnknownError(self.not_seen(res), ref.describe())
        return list(res.matches)

    def not_seen(self, res: Resolution) -> str:
        what = res.ref.describe()
        if res.near:
            seen = sorted({i.label for i in res.near})
            listing = ", ".join(seen[:4]) + (" ..." if len(seen) > 4 else "")
            attrs = " and ".join(a for a in res.ref.attributes)
            return f"I saw {res.ref.head or 'such things'} ({listing}) but none that is {attrs}, so no {what}"
        return f"I never saw a {what} (nothing in my memory matches it)"

    def one(self, ref: EntityRef, kinds: Iterable[NodeKind] = (NodeKind.OBJECT,), clarify: bool = True
            ) -> InstanceSummary:
        """The one instance a definite phrase names. Several different labels fit and ``clarify``: ask which."""
        hits = self.matches(ref, kinds)
        labels = sorted({h.label for h in hits})
        if clarify and len(labels) > 1 and ref.quantifier == "the":
            raise ClarifyError(f"Which one do you mean: {names(labels[:5])}?", ref.describe())
        return sorted(hits, key=lambda i: (-i.present, -i.n_observations, -i.last_seen_ns, i.instance_id))[0]

    def room(self, said: str) -> str:
        rr = self.resolver.room(said, self.snap.regions())
        self.ctx.log(f"regions() -> room {said!r} = {rr.name or rr.candidates or 'none'}")
        if rr.name is not None:
            return rr.name
        if rr.candidates:
            raise ClarifyError(f"Which room do you mean: {names(rr.candidates)}?", said)
        known = ", ".join(r.name for r in self.snap.regions()) or "none"
        raise UnknownError(f"I know no room called {said!r} (rooms: {known})", said)

    def receptacles_named(self, ref: EntityRef, room: str = "") -> list[InstanceSummary]:
        recs = self.matches(ref, (NodeKind.RECEPTACLE,))
        if room:
            name = self.room(room)
            recs = [r for r in recs if (r.room or self.room_of(self.snap.rbox(r).center)) == name]
            if not recs:
                raise UnknownError(f"I never saw a {ref.describe()} in the {name}", ref.describe())
        return recs

    # ------------------------------------------------------------------------------------------ where now
    def where(self, inst: InstanceSummary) -> Where:
        """Where the object is believed to be: its last known place. When the robot later saw that place empty (and
        has not seen the object since) it is a stale belief: the last known place, flagged "may have moved", with
        where such things are usually kept as a hint in the text."""
        rec = self.by_id(inst.receptacle_id)
        room = inst.room or self.room_of(inst.position)
        on = f" on the {rec.label}" if rec else ""
        inside = f" in the {room}" if room else ""
        x, y, z = inst.position
        if inst.present:
            age_h = (self.ctx.now_ns - inst.last_seen_ns) / NS / 3600
            age = f", {age_h:.1f} h ago" if inst.kind is NodeKind.OBJECT and age_h >= 1.0 else ""
            text = f"the {inst.label} is{on}{inside} (last seen {self.fmt(inst.last_seen_ns)}{age})"
            move = inst.open_move
            if move is not None and move.old_instance_id == inst.instance_id:  # an open moved-object hypothesis
                text += (f"; but it was probably moved to the {move.new_receptacle_label or 'place'} where I saw one "
                         f"like it{' in the ' + move.new_room if move.new_room else ''} at "
                         f"{self.fmt(move.new_first_seen_ns)}; its old place has not been seen since")
            elif move is not None:
                text += ("; it was probably moved here from where I had seen it before; that place has not been "
                         f"seen since {self.fmt(move.old_last_seen_ns)}")
            return Where((x, y, z), rec, room, text, False, False, inst.last_seen_ns)
        hist = self.snap.history(inst.instance_id)
        gone_ns = hist[-1].vanished_ns if hist and hist[-1].vanished_ns else None
        gone = (f"; when I looked again at {self.fmt(gone_ns)} it was gone" if gone_ns
                else "; its place was seen empty since")
        text = (f"I last saw the {inst.label}{on}{inside} at {self.fmt(inst.last_seen_ns)}{gone}, so it may have "
                "been moved")
        pred = self.predict_receptacle(inst)
        if pred is not None:
            proom = pred.room or self.room_of(self.snap.rbox(pred).center)
            text += f" (things like it are usually kept on the {pred.label}{' in the ' + proom if proom else ''})"
        return Where((x, y, z), rec, room, text, False, True, inst.last_seen_ns)

    def predict_receptacle(self, inst: InstanceSummary) -> Optional[InstanceSummary]:
        """Where a vanished object probably is: the receptacle category that objects of its category were most
        often seen on in this memory, plus the lexicon's "usually kept" prior (weights <= 1), not the one it
        left and down-weighted if looked at since it left."""
        category = self.resolver.category(inst, self.ctx)
        votes: dict[str, float] = {}
        for o in self.snap.objects():
            if self.resolver.category(o, self.ctx) != category:
                continue
            for p in self.snap.history(o.instance_id):
                r = self.by_id(p.receptacle_id)
                if r is not None:
                    key = self.resolver.category(r, self.ctx)
                    votes[key] = votes.get(key, 0.0) + 1.0
        for word, w in self.knowledge.kept_prior(category).items():
            key = self.knowledge.category_of(word, (SenseKind.RECEPTACLE,)) or word
            votes[key] = votes.get(key, 0.0) + float(w)
        if not votes:
            return None
        hist = self.snap.history(inst.instance_id)
        gone_from = hist[-1].receptacle_id if hist else inst.receptacle_id
        gone_at = hist[-1].vanished_ns if hist and hist[-1].vanished_ns else inst.last_seen_ns
        scored: list[tuple[float, float, int, InstanceSummary]] = []
        for r in self.snap.receptacles():
            v = votes.get(self.resolver.category(r, self.ctx), 0.0)
            if r.instance_id == gone_from or v <= 0.0:
                continue
            if r.last_seen_ns > gone_at:  # looked at since it left, and it was not there
                v *= 0.1
            scored.append((-v, xy_dist(r.position, inst.position), r.instance_id, r))
        if not scored:
            return None
        return sorted(scored, key=lambda e: e[:3])[0][3]

    # ------------------------------------------------------------------------------------------ answers
    def nearest(self, items: Sequence[InstanceSummary]) -> InstanceSummary:
        robot = self.snap.robot_xy()
        if robot is None:
            return sorted(items, key=lambda i: i.instance_id)[0]
        return sorted(items, key=lambda i: (xy_dist(i.position, robot), i.instance_id))[0]

    def object_goal(self, inst: InstanceSummary) -> tuple[Goal, Where]:
        w = self.where(inst)
        if w.predicted and w.receptacle is not None:
            g = self.goals.receptacle_goal(self.snap, w.receptacle, label=inst.label, instance_id=inst.instance_id)
            return g, w
        return self.goals.object_goal(self.snap, inst, w.position), w

    def nav_instance(self, inst: InstanceSummary, why: str = "", navigate: bool = True) -> PlannerAnswer:
        if inst.kind is NodeKind.RECEPTACLE:
            return self.nav_receptacle(inst, why or f"the {inst.label}", navigate)
        goal, w = self.object_goal(inst)
        moved = w.predicted or w.stale
        return PlannerAnswer(
            QueryStatus.OK, AnswerKind.INSTANCE, (why + w.text) if why else w.text, value=inst.label,
            instance_ids=(inst.instance_id,), goals=(goal,) if navigate else (), target=inst.label,
            may_have_moved=moved, last_seen_ns=w.last_seen_ns if moved else None,
        )

    def nav_receptacle(self, rec: InstanceSummary, why: str, navigate: bool = True) -> PlannerAnswer:
        goals = (self.goals.receptacle_goal(self.snap, rec),) if navigate else ()
        return PlannerAnswer(QueryStatus.OK, AnswerKind.RECEPTACLE, why, value=rec.label,
                             instance_ids=(rec.instance_id,), goals=goals, target=rec.label)

    def nav_list(self, insts: Sequence[InstanceSummary], ordered: bool, why: str, receptacles: bool = False,
                 navigate: bool = True) -> PlannerAnswer:
        goals: list[Goal] = []
        notes: list[str] = []
        moved = False
        for inst in insts:
            if receptacles or inst.kind is NodeKind.RECEPTACLE:
                goals.append(self.goals.receptacle_goal(self.snap, inst))
            else:
                g, w = self.object_goal(inst)
                goals.append(g)
                if w.predicted or w.stale:
                    notes.append(w.text)
                    moved = True
        robot = self.snap.robot_xy()
        if not ordered and len(goals) > 1 and robot is not None:
            goals = order_goals(robot, goals, fixed_order=False)
        ids = tuple(g.instance_id for g in goals if g.instance_id is not None)
        text = why + (" (" + "; ".join(notes) + ")" if notes else "")
        return PlannerAnswer(QueryStatus.OK, AnswerKind.LIST, text, value=len(goals), instance_ids=ids,
                             goals=tuple(goals) if navigate else (), may_have_moved=moved)

    # ------------------------------------------------------------------------------------------ filters
    def candidates(self, plan: QueryPlan) -> tuple[list[InstanceSummary], str]:
        """Objects that satisfy the plan's slots (target words, picked or not, receptacle relation, room, time),
        and a description of the constraints."""
        target = plan.target
        desc = [target.describe() if target is not None else "object"]
        cands = self.matches(target) if target is not None and not target.generic else self.snap.objects()
        if target is not None and target.generic and target.attributes:
            cands = self.matches(target)
        picks = self.picks() if plan.interacted is not None or plan.relation in (Relation.PLACED,
                                                                                 Relation.PICKED_FROM) else []
        if plan.interacted is not None:
            picked = {mv.instance_id for mv in picks}
            cands = [c for c in cands if (c.instance_id in picked) == plan.interacted]
            desc.append("that I picked up" if plan.interacted else "that I did not pick up")
        if plan.receptacle is not None:
            recs = {r.instance_id for r in self.receptacles_named(plan.receptacle, plan.room)}
            if plan.relation is Relation.PLACED:
                ok = {mv.instance_id for mv in picks if _rid(self.destination_receptacle(mv)) in recs}
            elif plan.relation is Relation.PICKED_FROM:
                ok = {mv.instance_id for mv in picks if _rid(self.source_receptacle(mv)) in recs}
            else:
                ok = {c.instance_id for c in cands
                      if c.receptacle_id in recs
                      or any(p.receptacle_id in recs for p in self.snap.history(c.instance_id))}
            cands = [c for c in cands if c.instance_id in ok]
            verb = {Relation.PLACED: "put on", Relation.PICKED_FROM: "picked up from"}.get(plan.relation, "on")
            desc.append(f"{verb} the {plan.receptacle.describe()}" + (f" in the {plan.room}" if plan.room else ""))
        elif plan.room:
            name = self.room(plan.room)
            cands = [c for c in cands if (c.room or self.room_of(c.position)) == name]
            desc.append(f"in the {name}")
        if plan.time is not None:
            lo, hi = plan.time.bounds()
            if plan.interacted:
                ok = {mv.instance_id for mv in picks if lo <= mv.pick_ns <= hi}
            else:
                ok = {c.instance_id for c in cands if c.first_seen_ns <= hi and c.last_seen_ns >= lo}
            cands = [c for c in cands if c.instance_id in ok]
            desc.append(f"between {self.fmt(lo)} and {self.fmt(hi)}")
        return cands, " ".join(desc)
