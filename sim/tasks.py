"""FindingDory-style task suite generated from an episode's ground-truth log.

Every task text is one of the fixed templates in :data:`TEMPLATES` with its placeholders filled in, so a
rule-based planner can parse them. Placeholders (always lower case in the text):

``{object}``     an object's full label "<colour> <material> <category>", e.g. "red ceramic mug"
``{objects}``    several labels, each with "the": "the red ceramic mug, the blue glass vase and the green plastic toy"
``{category}``   an object category ("mug", "alarm clock"); ``{categories}``: its plural ("mugs")
``{receptacle}`` a receptacle category ("counter", "tv stand"); unique within its room
``{room}``       a room name as in ``House.regions()`` ("kitchen", "living room", "bedroom 2")
``{time}``       "HH:MM" (24 h, UTC, see ``SimClock``); "HH:MM on day D" (D from 1) when days > 1
``{ordinal}``    "second", "third", ... (the n-th pick, 1-based)
``{colour}`` / ``{material}`` / ``{shape}``  an attribute value ("green", "glass", "cylindrical")

Answer kinds per template are fixed (see :data:`TEMPLATE_KINDS`): navigation answers (INSTANCE, RECEPTACLE,
ROOM with goals, LIST) are scored with FindingDory's rules, typed answers (ROOM name, NUMBER, BOOLEAN,
TIME ns, DURATION s, TEXT) exactly or within tolerance. "Navigate to the {object}." means "go where the
object is now" (WHERE_NOW) and, for a label that was never seen, "not found" (ABSENCE).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Callable, Iterable, Optional

import numpy as np
from robomem_sim.dynamics import NS
from robomem_sim.episode import Episode
from robomem_sim.types import ExpectedAnswer, NavTarget, TargetKind, Task, TaskFamily
from robomem_sim.world import OBJECT_CATEGORIES

from robomem.errors import SimError
from robomem.planner.base import AnswerKind

_LOG = logging.getLogger(__name__)

TEMPLATES: dict[TaskFamily, list[str]] = {
    TaskFamily.OBJECT_RECALL: [
        "Navigate to the {object} you picked up.",
        "Navigate to the {object} you placed on the {receptacle} in the {room}.",
        "Navigate to the {object} you saw on the {receptacle} in the {room}.",
    ],
    TaskFamily.OBJECT_ATTRIBUTE: [
        "Navigate to the object you interacted with that is {colour}.",
        "Navigate to the object you interacted with that is made of {material}.",
        "Navigate to the {shape} object you picked up.",
        "What colour was the {category} you picked up from the {receptacle} in the {room}?",
    ],
    TaskFamily.INTERACTION: [
        "Navigate to any object you interacted with.",
        "Navigate to any {category} you did not interact with.",
        "Did you pick up the {object}?",
    ],
    TaskFamily.CONDITIONAL_INTERACTION: [
        "Navigate to the receptacle you picked the {object} up from.",
        "Navigate to the receptacle you placed the {object} on.",
        "Navigate to the object you placed on the {receptacle} in the {room}.",
    ],
    TaskFamily.SPATIAL_RELATIONSHIP: [
        "Navigate to the receptacle farthest from the {object}.",
        "Navigate to the receptacle nearest to the {object}.",
        "Navigate to the object nearest to the {receptacle} in the {room}.",
    ],
    TaskFamily.ROOM_VISITATION: [
        "Navigate to a room you did not visit.",
        "Navigate to the room you started in.",
        "Navigate to the room you spent the most time in.",
        "Which room did you end the day in?",
        "How many times did you enter the {room}?",
    ],
    TaskFamily.INTERACTION_ORDER: [
        "Navigate to the first object you picked up.",
        "Navigate to the last object you picked up.",
        "Navigate to the object you picked up immediately after the {object}.",
        "Navigate to the {ordinal} object you picked up.",
    ],
    TaskFamily.TIME_BASED: [
        "Navigate to the object you picked up at {time}.",
        "Navigate to the receptacle you placed an object on at {time}.",
        "At what time did you pick up the {object}?",
        "Which room were you in at {time}?",
    ],
    TaskFamily.DURATION: [
        "Navigate to the object that took the longest to rearrange.",
        "Navigate to the object that took the shortest time to rearrange.",
        "How long did it take to rearrange the {object}?",
    ],
    TaskFamily.MULTI_GOAL_UNORDERED: [
        "Navigate to all the objects you picked up, in any order.",
        "Navigate to {objects}, in any order.",
    ],
    TaskFamily.MULTI_GOAL_ORDERED: [
        "Navigate to the objects you picked up, in the order you picked them up.",
        "Navigate to the receptacles you placed objects on, in the order you placed them.",
        "Navigate to {objects}, in this order.",
    ],
    TaskFamily.WHERE_NOW: [
        "Navigate to the {object}.",
        "Which room is the {object} in now?",
    ],
    TaskFamily.CHANGES: [
        "Navigate to the objects that were moved into, out of or within the {room} since {time}, in any order.",
        "How many objects were moved into, out of or within the {room} since {time}?",
    ],
    TaskFamily.COUNTING: [
        "How many {categories} did you see?",
        "How many objects did you pick up?",
        "How many rooms did you visit?",
    ],
    TaskFamily.ABSENCE: [
        "Navigate to the {object}.",
        "Navigate to the {category} you picked up.",
        "Navigate to any {category}.",
    ],
}

_K = AnswerKind
_KINDS: dict[TaskFamily, list[AnswerKind]] = {
    TaskFamily.OBJECT_RECALL: [_K.INSTANCE, _K.INSTANCE, _K.INSTANCE],
    TaskFamily.OBJECT_ATTRIBUTE: [_K.INSTANCE, _K.INSTANCE, _K.INSTANCE, _K.TEXT],
    TaskFamily.INTERACTION: [_K.INSTANCE, _K.INSTANCE, _K.BOOLEAN],
    TaskFamily.CONDITIONAL_INTERACTION: [_K.RECEPTACLE, _K.RECEPTACLE, _K.INSTANCE],
    TaskFamily.SPATIAL_RELATIONSHIP: [_K.RECEPTACLE, _K.RECEPTACLE, _K.INSTANCE],
    TaskFamily.ROOM_VISITATION: [_K.ROOM, _K.ROOM, _K.ROOM, _K.ROOM, _K.NUMBER],
    TaskFamily.INTERACTION_ORDER: [_K.INSTANCE] * 4,
    TaskFamily.TIME_BASED: [_K.INSTANCE, _K.RECEPTACLE, _K.TIME, _K.ROOM],
    TaskFamily.DURATION: [_K.INSTANCE, _K.INSTANCE, _K.DURATION],
    TaskFamily.MULTI_GOAL_UNORDERED: [_K.LIST, _K.LIST],
    TaskFamily.MULTI_GOAL_ORDERED: [_K.LIST, _K.LIST, _K.LIST],
    TaskFamily.WHERE_NOW: [_K.INSTANCE, _K.ROOM],
    TaskFamily.CHANGES: [_K.LIST, _K.NUMBER],
    TaskFamily.COUNTING: [_K.NUMBER] * 3,
    TaskFamily.ABSENCE: [_K.INSTANCE] * 3,
}

TEMPLATE_KINDS: dict[str, AnswerKind] = {
    t: k for fam, ts in TEMPLATES.items() for t, k in zip(ts, _KINDS[fam], strict=True)
}
"""Template text -> answer kind of its expected answer (identical texts in two families share one kind)."""

ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth",
            "eleventh", "twelfth")

TIE_MARGIN_M = 0.25
"""Spatial tasks: every receptacle/object within this distance (m) of the best one is also accepted."""
TIE_MARGIN_S = 2.0
"""Duration/time-spent tasks: every candidate within this many seconds of the best one is also accepted."""


@dataclass(frozen=True)
class _Candidate:
    template: int
    fill: dict[str, str]
    expected: ExpectedAnswer
    about_moved: bool = False


class _Ctx:
    """Everything the family generators need, computed once per episode."""

    def __init__(self, episode: Episode, rng: np.random.Generator) -> None:
        self.ep = episode
        self.rng = rng
        self.house = episode.house
        self.log = episode.log
        self.clock = episode.clock
        self.now = episode.now_ns
        self.state = episode.state_at(episode.now_ns)
        self.seen = self.log.seen_ids()
        self.interacted = list(self.log.interacted_ids())
        self.last_event: dict[int, int] = {}
        for ev in self.log.events:
            self.last_event[ev.object_id] = ev.t_ns
        self.pick_count: dict[int, int] = {}
        for it in self.log.interactions:
            self.pick_count[it.object_id] = self.pick_count.get(it.object_id, 0) + 1

    # -- facts
    def known_now(self, obj: int) -> bool:
        """The object's current place was observed: seen at or after its last move."""
        last = self.log.last_seen_ns(obj)
        return last is not None and last >= self.last_event.get(obj, -1)

    def moved(self, obj: int) -> bool:
        return obj in self.last_event

    def pos(self, obj: int) -> tuple[float, float]:
        p = self.state.position(obj)
        assert p is not None, "no object is carried at the end of an episode"
        return (p[0], p[1])

    def label(self, sid: int) -> str:
        return self.house.label(sid)

    def rec_ref(self, rid: int) -> dict[str, str]:
        r = self.house.receptacle(rid)
        return {"receptacle": r.category, "room": r.room}

    def time(self, t_ns: int) -> str:
        return self.clock.format_time(t_ns)

    # -- answers
    @staticmethod
    def obj(*ids: int) -> frozenset[NavTarget]:
        return frozenset(NavTarget(TargetKind.OBJECT, sim_id=i) for i in ids)

    @staticmethod
    def rec(*ids: int) -> frozenset[NavTarget]:
        return frozenset(NavTarget(TargetKind.RECEPTACLE, sim_id=i) for i in ids)

    @staticmethod
    def rooms(*names: str) -> frozenset[NavTarget]:
        return frozenset(NavTarget(TargetKind.ROOM, room=n) for n in names)

    def nav_object(self, template: int, fill: dict[str, str], *ids: int) -> _Candidate:
        return _Candidate(template, fill, ExpectedAnswer(AnswerKind.INSTANCE, (self.obj(*ids),)),
                          any(self.moved(i) for i in ids))


def _objects_text(labels: list[str]) -> str:
    items = [f"the {x}" for x in labels]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


# ------------------------------------------------------------------------------------------ family generators


def _object_recall(c: _Ctx) -> list[_Candidate]:
    out = []
    for o in c.interacted:
        if c.known_now(o):
            out.append(c.nav_object(0, {"object": c.label(o)}, o))
            rid = c.state.receptacle_of(o)
            last_place = [it for it in c.log.interactions if it.object_id == o][-1]
            if rid == last_place.to_receptacle:
                out.append(c.nav_object(1, {"object": c.label(o), **c.rec_ref(rid)}, o))
    for o in sorted(c.house.objects):
        if o in c.seen and o not in c.interacted and c.known_now(o):
            rid = c.state.receptacle_of(o)
            assert rid is not None
            out.append(c.nav_object(2, {"object": c.label(o), **c.rec_ref(rid)}, o))
    return out


def _object_attribute(c: _Ctx) -> list[_Candidate]:
    out = []
    objs = [c.house.object(o) for o in c.interacted]
    for t, attr in ((0, "colour"), (1, "material"), (2, "shape")):
        values: dict[str, list[int]] = {}
        for o in objs:
            values.setdefault(getattr(o, attr), []).append(o.sim_id)
        for v, ids in sorted(values.items()):
            if len(ids) == 1 and c.known_now(ids[0]):
                out.append(c.nav_object(t, {attr: v}, ids[0]))
    keys: dict[tuple[str, int], list[int]] = {}
    for it in c.log.interactions:
        keys.setdefault((c.house.object(it.object_id).category, it.from_receptacle), []).append(it.object_id)
    for (cat, rid), ids in sorted(keys.items()):
        if len(set(ids)) == 1:
            colour = c.house.object(ids[0]).colour
            out.append(_Candidate(3, {"category": cat, **c.rec_ref(rid)}, ExpectedAnswer(AnswerKind.TEXT,
                                                                                       value=colour)))
    return out


def _interaction(c: _Ctx) -> list[_Candidate]:
    out = []
    known = [o for o in c.interacted if c.known_now(o)]
    if known:
        out.append(_Candidate(0, {}, ExpectedAnswer(AnswerKind.INSTANCE, (c.obj(*known),)),
                              any(c.moved(o) for o in known)))
    by_cat: dict[str, list[int]] = {}
    for o in sorted(c.house.objects):
        by_cat.setdefault(c.house.object(o).category, []).append(o)
    for cat, ids in sorted(by_cat.items()):
        others = [o for o in ids if o not in c.interacted]
        if len(others) < len(ids) and any(o in c.seen and c.known_now(o) for o in others):
            out.append(_Candidate(1, {"category": cat}, ExpectedAnswer(AnswerKind.INSTANCE, (c.obj(*others),)),
                                  any(c.moved(o) for o in others)))
    for o in sorted(c.seen & set(c.house.objects)):
        out.append(_Candidate(2, {"object": c.label(o)}, ExpectedAnswer(AnswerKind.BOOLEAN,
                                                                       value=o in c.interacted)))
    return out


def _conditional(c: _Ctx) -> list[_Candidate]:
    out = []
    for it in c.log.interactions:
        if c.pick_count[it.object_id] != 1:
            continue
        fill = {"object": c.label(it.object_id)}
        out.append(_Candidate(0, fill, ExpectedAnswer(AnswerKind.RECEPTACLE, (c.rec(it.from_receptacle),)),
                              True))
        out.append(_Candidate(1, fill, ExpectedAnswer(AnswerKind.RECEPTACLE, (c.rec(it.to_receptacle),)), True))
    placed: dict[int, list[int]] = {}
    for it in c.log.interactions:
        placed.setdefault(it.to_receptacle, []).append(it.object_id)
    for rid, ids in sorted(placed.items()):
        if len(ids) == 1 and c.known_now(ids[0]):
            out.append(c.nav_object(2, c.rec_ref(rid), ids[0]))
    return out


def _ties(dist: dict[int, float], best: float) -> list[int]:
    return sorted(k for k, d in dist.items() if abs(d - best) <= TIE_MARGIN_M)


def _spatial(c: _Ctx) -> list[_Candidate]:
    out = []
    recs = sorted(r for r in c.house.receptacles if r in c.seen)
    known_objs = [o for o in sorted(c.house.objects) if o in c.seen and c.known_now(o)]
    for o in known_objs:
        ox, oy = c.pos(o)
        dist = {r: math.hypot(c.house.receptacle(r).center[0] - ox, c.house.receptacle(r).center[1] - oy)
                for r in recs if r != c.state.receptacle_of(o)}
        if len(dist) < 2:
            continue
        far = _ties(dist, max(dist.values()))
        near = _ties(dist, min(dist.values()))
        fill = {"object": c.label(o)}
        out.append(_Candidate(0, fill, ExpectedAnswer(AnswerKind.RECEPTACLE, (c.rec(*far),)), c.moved(o)))
        out.append(_Candidate(1, fill, ExpectedAnswer(AnswerKind.RECEPTACLE, (c.rec(*near),)), c.moved(o)))
    for r in recs:
        cx, cy, _ = c.house.receptacle(r).center
        dist_all = {o: math.hypot(c.pos(o)[0] - cx, c.pos(o)[1] - cy) for o in c.house.objects}
        best = min(dist_all.values())
        winners = _ties(dist_all, best)
        if all(w in known_objs for w in winners):
            out.append(_Candidate(2, c.rec_ref(r), ExpectedAnswer(AnswerKind.INSTANCE, (c.obj(*winners),)),
                                  any(c.moved(w) for w in winners)))
    return out


def _room_visitation(c: _Ctx) -> list[_Candidate]:
    out = []
    visits = c.log.visits
    visited = {v.room for v in visits}
    unvisited = sorted(set(c.house.room_names()) - visited)
    if unvisited:
        out.append(_Candidate(0, {}, ExpectedAnswer(AnswerKind.ROOM, (c.rooms(*unvisited),))))
    first = visits[0].room
    out.append(_Candidate(1, {}, ExpectedAnswer(AnswerKind.ROOM, (c.rooms(first),), value=first)))
    total: dict[str, float] = {}
    for v in visits:
        total[v.room] = total.get(v.room, 0.0) + v.duration_s
    best = max(total.values())
    most = sorted(r for r, d in total.items() if best - d <= TIE_MARGIN_S)
    out.append(_Candidate(2, {}, ExpectedAnswer(AnswerKind.ROOM, (c.rooms(*most),),
                                                value=most[0] if len(most) == 1 else None)))
    last = visits[-1].room
    out.append(_Candidate(3, {}, ExpectedAnswer(AnswerKind.ROOM, (c.rooms(last),), value=last)))
    day_starts = {c.clock.day_start_ns(d) for d in range(c.clock.days)}
    start_rooms = {v.room for v in visits if v.enter_ns in day_starts}
    for room in sorted(visited - start_rooms):
        n = sum(1 for v in visits if v.room == room and v.enter_ns not in day_starts)
        out.append(_Candidate(4, {"room": room}, ExpectedAnswer(AnswerKind.NUMBER, value=n)))
    return out


def _interaction_order(c: _Ctx) -> list[_Candidate]:
    out: list[_Candidate] = []
    its = c.log.interactions
    if not its:
        return out
    if c.known_now(its[0].object_id):
        out.append(c.nav_object(0, {}, its[0].object_id))
    if len(its) > 1 and c.known_now(its[-1].object_id):
        out.append(c.nav_object(1, {}, its[-1].object_id))
    for a, b in zip(its, its[1:]):
        if c.pick_count[a.object_id] == 1 and c.known_now(b.object_id):
            out.append(c.nav_object(2, {"object": c.label(a.object_id)}, b.object_id))
    for k in range(1, min(len(its), len(ORDINALS))):
        if c.known_now(its[k].object_id):
            out.append(c.nav_object(3, {"ordinal": ORDINALS[k]}, its[k].object_id))
    return out


def _minute(t_ns: int) -> int:
    return t_ns // (60 * NS)


def _time_based(c: _Ctx) -> list[_Candidate]:
    out = []
    its = c.log.interactions
    tol = c.ep.config.tasks.time_tolerance_s
    for it in its:
        m = _minute(it.pick_ns)
        if all(o is it or abs(_minute(o.pick_ns) - m) > 2 for o in its) and c.known_now(it.object_id):
            out.append(c.nav_object(0, {"time": c.time(it.pick_ns)}, it.object_id))
        m = _minute(it.place_ns)
        if all(o is it or abs(_minute(o.place_ns) - m) > 2 for o in its):
            out.append(_Candidate(1, {"time": c.time(it.place_ns)},
                                  ExpectedAnswer(AnswerKind.RECEPTACLE, (c.rec(it.to_receptacle),))))
        if c.pick_count[it.object_id] == 1:
            out.append(_Candidate(2, {"object": c.label(it.object_id)},
                                  ExpectedAnswer(AnswerKind.TIME, value=it.pick_ns, tolerance=tol)))
    for v in c.log.visits:
        lo, hi = _minute(v.enter_ns) + 2, _minute(v.exit_ns) - 2
        if hi >= lo:
            m = (lo + hi) // 2
            out.append(_Candidate(3, {"time": c.time(m * 60 * NS)},
                                  ExpectedAnswer(AnswerKind.ROOM, (c.rooms(v.room),), value=v.room)))
    return out


def _duration(c: _Ctx) -> list[_Candidate]:
    out = []
    its = c.log.interactions
    if len(its) >= 2:
        d = {it.index: it.duration_s for it in its}
        for t, best in ((0, max(d.values())), (1, min(d.values()))):
            ids = sorted({its[k].object_id for k, v in d.items() if abs(v - best) <= TIE_MARGIN_S})
            if all(c.known_now(o) for o in ids):
                out.append(c.nav_object(t, {}, *ids))
    tol = c.ep.config.tasks.duration_tolerance_s
    for it in its:
        if c.pick_count[it.object_id] == 1:
            out.append(_Candidate(2, {"object": c.label(it.object_id)},
                                  ExpectedAnswer(AnswerKind.DURATION, value=it.duration_s, tolerance=tol)))
    return out


def _multi_goal(c: _Ctx, ordered: bool) -> list[_Candidate]:
    out = []
    max_goals = c.ep.config.tasks.max_goals
    objs = c.interacted
    distinct_picks = len(objs) == len(c.log.interactions)
    if 2 <= len(objs) <= max_goals and all(c.known_now(o) for o in objs) and (distinct_picks or not ordered):
        out.append(_Candidate(0, {}, ExpectedAnswer(AnswerKind.LIST, tuple(c.obj(o) for o in objs),
                                                    ordered=ordered), any(c.moved(o) for o in objs)))
    if ordered:
        recs = [it.to_receptacle for it in c.log.interactions]
        if 2 <= len(recs) <= max_goals:
            out.append(_Candidate(1, {}, ExpectedAnswer(AnswerKind.LIST, tuple(c.rec(r) for r in recs),
                                                        ordered=True)))
    known = [o for o in sorted(c.house.objects) if o in c.seen and c.known_now(o)]
    template = 2 if ordered else 1
    for _ in range(4 * c.ep.config.tasks.per_family):
        if len(known) < 2:
            break
        k = int(c.rng.integers(2, min(max_goals, len(known)) + 1))
        pick = [known[int(i)] for i in c.rng.choice(len(known), size=k, replace=False)]
        out.append(_Candidate(template, {"objects": _objects_text([c.label(o) for o in pick])},
                              ExpectedAnswer(AnswerKind.LIST, tuple(c.obj(o) for o in pick), ordered=ordered),
                              any(c.moved(o) for o in pick)))
    return out


def _where_now(c: _Ctx) -> list[_Candidate]:
    out = []
    for mv in c.log.unseen_moves:
        o = mv.object_id
        if mv.t_ns != max(e.t_ns for e in c.log.unseen_moves if e.object_id == o):
            continue  # ask about each object's last unseen move only
        if c.log.last_seen_ns(o, before_ns=mv.t_ns) is None:
            continue  # never seen before it moved: nothing to be wrong about
        reobserved = c.known_now(o)
        room = c.state.room_of(o)
        assert room is not None
        fill = {"object": c.label(o), "_reobserved": str(reobserved)}
        out.append(_Candidate(0, fill, ExpectedAnswer(AnswerKind.INSTANCE, (c.obj(o),)), True))
        out.append(_Candidate(1, fill, ExpectedAnswer(AnswerKind.ROOM, (c.rooms(room),), value=room), True))
    return out


def _changes(c: _Ctx) -> list[_Candidate]:
    out = []
    moves: list[tuple[int, int, str, str]] = []  # t, object, from room, to room
    for it in c.log.interactions:
        moves.append((it.pick_ns, it.object_id, it.from_room, it.to_room))
    for mv in c.log.unseen_moves:
        moves.append((mv.t_ns, mv.object_id, mv.from_room, mv.to_room))
    seen_pairs: set[tuple[str, int]] = set()
    for t, _o, from_room, to_room in sorted(moves):
        since = max(_minute(t - int(c.rng.integers(1, 31)) * 60 * NS), _minute(c.clock.day_start_ns(
            c.clock.day_of(t))))
        since_ns = since * 60 * NS
        for room in sorted({from_room, to_room}):
            if (room, since) in seen_pairs:
                continue
            seen_pairs.add((room, since))
            objs = sorted({o for (tt, o, fr, to) in moves if tt >= since_ns and room in (fr, to)})
            if not objs or not all(c.known_now(o) for o in objs):
                continue
            fill = {"room": room, "time": c.time(since_ns)}
            if len(objs) <= c.ep.config.tasks.max_goals:
                out.append(_Candidate(0, fill, ExpectedAnswer(AnswerKind.LIST, tuple(c.obj(o) for o in objs)),
                                      True))
            out.append(_Candidate(1, fill, ExpectedAnswer(AnswerKind.NUMBER, value=len(objs)), True))
    return out


def _counting(c: _Ctx) -> list[_Candidate]:
    out = []
    by_cat: dict[str, set[int]] = {}
    for o in c.seen & set(c.house.objects):
        by_cat.setdefault(c.house.object(o).category, set()).add(o)
    for cat, ids in sorted(by_cat.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        out.append(_Candidate(0, {"categories": OBJECT_CATEGORIES[cat].plural},
                              ExpectedAnswer(AnswerKind.NUMBER, value=len(ids))))
    out.append(_Candidate(1, {}, ExpectedAnswer(AnswerKind.NUMBER, value=len(c.interacted))))
    out.append(_Candidate(2, {}, ExpectedAnswer(AnswerKind.NUMBER, value=len({v.room for v in c.log.visits}))))
    return out


def _absence(c: _Ctx) -> list[_Candidate]:
    out = []
    not_found = ExpectedAnswer(AnswerKind.INSTANCE, not_found=True)
    absent = sorted(set(OBJECT_CATEGORIES) - {o.category for o in c.house.objects.values()})
    for cat in absent:
        oc = OBJECT_CATEGORIES[cat]
        colour = oc.colours[int(c.rng.integers(len(oc.colours)))]
        material = oc.materials[int(c.rng.integers(len(oc.materials)))]
        out.append(_Candidate(0, {"object": f"{colour} {material} {cat}"}, not_found))
        out.append(_Candidate(2, {"category": cat}, not_found))
    seen_cats = {c.house.object(o).category for o in c.seen & set(c.house.objects)}
    picked_cats = {c.house.object(o).category for o in c.interacted}
    for cat in sorted(seen_cats - picked_cats):
        out.append(_Candidate(1, {"category": cat}, not_found))
    return out


_GENERATORS: dict[TaskFamily, Callable[[_Ctx], list[_Candidate]]] = {
    TaskFamily.OBJECT_RECALL: _object_recall,
    TaskFamily.OBJECT_ATTRIBUTE: _object_attribute,
    TaskFamily.INTERACTION: _interaction,
    TaskFamily.CONDITIONAL_INTERACTION: _conditional,
    TaskFamily.SPATIAL_RELATIONSHIP: _spatial,
    TaskFamily.ROOM_VISITATION: _room_visitation,
    TaskFamily.INTERACTION_ORDER: _interaction_order,
    TaskFamily.TIME_BASED: _time_based,
    TaskFamily.DURATION: _duration,
    TaskFamily.MULTI_GOAL_UNORDERED: lambda c: _multi_goal(c, ordered=False),
    TaskFamily.MULTI_GOAL_ORDERED: lambda c: _multi_goal(c, ordered=True),
    TaskFamily.WHERE_NOW: _where_now,
    TaskFamily.CHANGES: _changes,
    TaskFamily.COUNTING: _counting,
    TaskFamily.ABSENCE: _absence,
}


def _named_labels(fill: dict[str, str]) -> list[str]:
    labels = [fill["object"]] if "object" in fill else []
    if "objects" in fill:
        labels += [x.removeprefix("the ") for x in fill["objects"].replace(" and ", ", ").split(", ")]
    return labels


def candidate_tasks(episode: Episode, family: TaskFamily, seed: int = 0) -> list[Task]:
    """Every task of ``family`` the episode supports (deduplicated by text), before sampling."""
    ctx = _Ctx(episode, np.random.default_rng([episode.seed, 2, int(seed), list(TaskFamily).index(family)]))
    by_label = {o.label: o.sim_id for o in episode.house.objects.values()}
    out: list[Task] = []
    texts: set[str] = set()
    for cand in _GENERATORS[family](ctx):
        template = TEMPLATES[family][cand.template]
        text = template.format(**{k: v for k, v in cand.fill.items() if not k.startswith("_")})
        if text in texts:
            continue
        texts.add(text)
        assert cand.expected.kind is TEMPLATE_KINDS[template], (template, cand.expected.kind)
        meta: dict[str, object] = {"template": cand.template, **cand.fill}
        named = [by_label[x] for x in _named_labels(cand.fill) if x in by_label]
        about = cand.about_moved or any(ctx.moved(o) for o in named)
        out.append(Task(f"{episode.seed}-{family.value}-{len(out)}", family, text, cand.expected, episode.now_ns,
                        about, meta))
    return out


def generate_tasks(
    episode: Episode,
    families: Optional[Iterable[TaskFamily]] = None,
    per_family: Optional[int] = None,
    seed: int = 0,
) -> list[Task]:
    """Tasks for ``episode``: up to ``per_family`` (default ``config.tasks.per_family``) per family.

    Deterministic for (episode.seed, seed). Families an episode cannot support (e.g. no unseen move for
    WHERE_NOW) yield fewer tasks; every task's :class:`ExpectedAnswer` is computed from the episode log and
    the world state at ``episode.now_ns``. Within a family the templates take turns (in a seeded order) so
    a few tasks still cover several templates. ``task.meta`` holds "template" (index into
    ``TEMPLATES[family]``) and the filled placeholders; WHERE_NOW tasks also "_reobserved" ("True" when the
    robot saw the object again after it was moved, so memory can know where it is).
    Nav targets (except WHERE_NOW) are objects whose current place the robot observed.
    ``about_moved_object`` is True when an object the task names or targets moved during the episode (picked
    by the robot or moved unseen), and for every WHERE_NOW / CHANGES / receptacle-you-picked-from/placed-on
    task.
    """
    n = episode.config.tasks.per_family if per_family is None else per_family
    if n < 0:
        raise SimError(f"per_family must be >= 0, got {n}")
    fams = list(TaskFamily) if families is None else list(families)
    out: list[Task] = []
    for fam in fams:
        cands = candidate_tasks(episode, fam, seed)
        rng = np.random.default_rng([episode.seed, 3, int(seed), list(TaskFamily).index(fam)])
        by_template: dict[int, list[Task]] = {}
        for t in cands:
            by_template.setdefault(int(t.meta["template"]), []).append(t)  # type: ignore[call-overload]
        queues = [[lst[int(i)] for i in rng.permutation(len(lst))] for _, lst in sorted(by_template.items())]
        queues = [queues[int(i)] for i in rng.permutation(len(queues))]
        chosen: list[Task] = []
        while len(chosen) < n and any(queues):
            for q in queues:
                if q and len(chosen) < n:
                    chosen.append(q.pop(0))
        for k, t in enumerate(chosen):
            out.append(Task(f"{episode.seed}-{fam.value}-{k}", t.family, t.text, t.expected, t.now_ns,
                            t.about_moved_object, t.meta))
    if not out and n > 0:
        _LOG.warning("episode %d produced no tasks for families %s", episode.seed, [f.value for f in fams])
    return out
