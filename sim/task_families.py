"""The task generators of each family (see :mod:`robomem_sim.tasks` for the templates and the rules).

Every generator returns candidates (template index, placeholder values, expected answer) computed from the
episode's ground-truth log, and records every case it drops in ``Ctx.excluded`` with the reason. A case is
dropped only when no observation could answer it (an object never seen, a spatial relation to an object whose
current place was never observed, an unobserved change) or when it exceeds a configured size
(``tasks.max_goals``, the ordinal words). Hard cases are kept: an object picked several times (every pick is a
valid reading of an ambiguous question; the n-th / the latest pick are asked explicitly), near-simultaneous
events (every event in the named minute is accepted), non-unique attributes (every matching object is
accepted), stale beliefs (an object moved by someone else and not seen since: its last known place, plus "may
have moved" when the robot saw its old place empty).
"""

from __future__ import annotations

import math
from typing import Callable, Optional

from robomem_sim.dynamics import NS
from robomem_sim.episode import EventKind
from robomem_sim.task_context import (
    ORDINALS,
    TIE_MARGIN_M,
    TIE_MARGIN_S,
    Candidate,
    Ctx,
    all_seen_now,
    minute,
    objects_text,
    typed,
)
from robomem_sim.types import ExpectedAnswer, NavTarget, TargetKind, TaskFamily
from robomem_sim.world import COLOURS, OBJECT_CATEGORIES, Receptacle

from robomem.planner.base import AnswerKind

__all__ = ["GENERATORS", "ORDINALS", "TIE_MARGIN_M", "TIE_MARGIN_S", "Candidate", "Ctx", "all_seen_now"]


# ------------------------------------------------------------------------------------------ family generators


def _object_recall(c: Ctx) -> list[Candidate]:
    out: list[Optional[Candidate]] = []
    for o in c.interacted:
        fill = {"object": c.label(o)}
        out.append(c.nav(0, fill, [o], "object never seen"))
        for rid in dict.fromkeys(it.to_receptacle for it in c.picks[o]):
            out.append(c.nav(1, {**fill, **c.rec_ref(rid)}, [o], "object never seen"))
    for o in sorted(c.house.objects):
        if o in c.interacted:
            continue
        lk = c.last_known(o)
        if lk is None:
            c.exclude("object never seen")
            continue
        out.append(c.nav(2, {"object": c.label(o), **c.rec_ref(lk[1])}, [o], "object never seen"))
    return [x for x in out if x is not None]


def _object_attribute(c: Ctx) -> list[Candidate]:
    out: list[Optional[Candidate]] = []
    objs = [c.house.object(o) for o in c.interacted]
    for t, attr in ((0, "colour"), (1, "material"), (2, "shape")):
        values: dict[str, list[int]] = {}
        for o in objs:
            values.setdefault(getattr(o, attr), []).append(o.sim_id)
        for v, ids in sorted(values.items()):
            out.append(c.nav(t, {attr: v}, ids, "object never seen"))
    keys: dict[tuple[str, int], list[int]] = {}
    for it in c.its:
        keys.setdefault((c.house.object(it.object_id).category, it.from_receptacle), []).append(it.object_id)
    for (cat, rid), ids in sorted(keys.items()):
        colours = [c.house.object(o).colour for o in ids]
        out.append(Candidate(3, {"category": cat, **c.rec_ref(rid)}, typed(AnswerKind.TEXT, colours)))
    return [x for x in out if x is not None]


def _interaction(c: Ctx) -> list[Candidate]:
    out: list[Optional[Candidate]] = []
    if c.interacted:
        out.append(c.nav(0, {}, c.interacted, "object never seen"))
    by_cat: dict[str, list[int]] = {}
    for o in sorted(c.house.objects):
        by_cat.setdefault(c.house.object(o).category, []).append(o)
    for cat, ids in sorted(by_cat.items()):
        others = [o for o in ids if o not in c.interacted]
        if len(others) < len(ids) and others:
            seen = [o for o in others if o in c.seen]
            out.append(c.nav(1, {"category": cat}, seen, "no object of the category seen except the picked ones"))
    # "did you pick up X?": as many objects it picked as objects it did not (most objects are never picked, so
    # asking about every object made "no" right 80 % of the time without any memory)
    picked = [o for o in sorted(c.house.objects) if o in c.interacted]
    others = [o for o in sorted(c.house.objects) if o not in c.interacted]
    n = min(len(picked), len(others))
    for pool in (picked, others):
        for i in sorted(int(x) for x in c.rng.choice(len(pool), size=n, replace=False)):
            o = pool[i]
            out.append(Candidate(2, {"object": c.label(o)}, typed(AnswerKind.BOOLEAN, [o in c.interacted])))
    return [x for x in out if x is not None]


def _conditional(c: Ctx) -> list[Candidate]:
    out: list[Optional[Candidate]] = []
    for o in c.interacted:
        picks = c.picks[o]
        fill = {"object": c.label(o)}
        froms = c.rec(*{p.from_receptacle for p in picks})
        tos = c.rec(*{p.to_receptacle for p in picks})
        out.append(Candidate(0, fill, ExpectedAnswer(AnswerKind.RECEPTACLE, (froms,)), True))
        out.append(Candidate(1, fill, ExpectedAnswer(AnswerKind.RECEPTACLE, (tos,)), True))
        out.append(Candidate(5, fill, ExpectedAnswer(AnswerKind.RECEPTACLE, (c.rec(picks[-1].to_receptacle),)), True))
        if len(picks) >= 2:
            for k, p in enumerate(picks):
                if k >= len(ORDINALS):
                    c.exclude("more picks of one object than ordinal words", 2)
                    continue
                f = {**fill, "ordinal": ORDINALS[k]}
                out.append(Candidate(3, f, ExpectedAnswer(AnswerKind.RECEPTACLE, (c.rec(p.from_receptacle),)), True))
                out.append(Candidate(4, f, ExpectedAnswer(AnswerKind.RECEPTACLE, (c.rec(p.to_receptacle),)), True))
    placed: dict[int, list[int]] = {}
    for it in c.its:
        placed.setdefault(it.to_receptacle, []).append(it.object_id)
    for rid, ids in sorted(placed.items()):
        out.append(c.nav(2, c.rec_ref(rid), list(dict.fromkeys(ids)), "object never seen"))
    return [x for x in out if x is not None]


def _ties(dist: dict[int, float], best: float) -> list[int]:
    return sorted(k for k, d in dist.items() if abs(d - best) <= TIE_MARGIN_M)


def _rec_distance(rec: Receptacle, xy: tuple[float, float], edge: bool) -> float:
    """Distance (m) from a point to a receptacle: to its footprint (``edge``) or to its centre."""
    if edge:
        return rec.footprint_distance(xy[0], xy[1])
    return math.hypot(xy[0] - rec.center[0], xy[1] - rec.center[1])


def _spatial(c: Ctx) -> list[Candidate]:
    """Nearest / farthest. Distances between an object and a receptacle are read two ways, both right: between
    their centres, and from the object's centre to the receptacle's footprint (its nearest edge: every object
    standing on a receptacle is at distance 0 from it). The receptacle an object stands on is not a candidate
    for "the receptacle nearest to the {object}" (the question asks about another piece of furniture)."""
    out = []
    recs = sorted(c.house.receptacles)
    for o in sorted(c.house.objects):
        if o not in c.seen:
            c.exclude("object never seen", 2)
            continue
        if not c.known_now(o):
            c.exclude("spatial relation to an object whose current place was not observed", 2)
            continue
        ox, oy = c.pos(o)
        own = c.state.receptacle_of(o)
        readings = [{r: math.hypot(c.house.receptacle(r).center[0] - ox, c.house.receptacle(r).center[1] - oy)
                     for r in recs if r != own},
                    {r: c.house.receptacle(r).footprint_distance(ox, oy) for r in recs if r != own}]
        if len(readings[0]) < 2:
            continue
        fill = {"object": c.label(o)}
        for t, pick in ((0, max), (1, min)):
            winners = sorted({w for dist in readings for w in _ties(dist, pick(dist.values()))})
            if not any(w in c.seen for w in winners):
                c.exclude("spatial answer is a receptacle never seen")
                continue
            out.append(Candidate(t, fill, ExpectedAnswer(AnswerKind.RECEPTACLE, (c.rec(*winners),)), c.moved(o)))
    believed = {o: p for o in c.house.objects if (p := c.believed_pos(o)) is not None}
    for r in recs:
        if r not in c.seen:
            c.exclude("receptacle never seen")
            continue
        rec = c.house.receptacle(r)
        winners_set: set[int] = set()
        observable = True
        for edge in (False, True):
            true = {o: _rec_distance(rec, c.pos(o), edge) for o in c.house.objects}
            best = min(true.values())
            winners = _ties(true, best)
            winners_set.update(winners)
            nearer = [o for o, p in believed.items() if _rec_distance(rec, p, edge) < best - TIE_MARGIN_M]
            observable = observable and all(c.known_now(w) for w in winners) and not nearer
        if not observable:
            c.exclude("nearest object to a receptacle not observable (moved unseen)")
            continue
        winners = sorted(winners_set)
        out.append(Candidate(2, c.rec_ref(r), ExpectedAnswer(AnswerKind.INSTANCE, (c.goals(winners)[0],)),
                             any(c.moved(w) for w in winners)))
    return out


def _room_visitation(c: Ctx) -> list[Candidate]:
    out = []
    visits = c.log.visits
    visited = {v.room for v in visits}
    unvisited = sorted(set(c.house.room_names()) - visited)
    if unvisited:
        out.append(Candidate(0, {}, ExpectedAnswer(AnswerKind.ROOM, (c.rooms(*unvisited),))))
    last_day = c.clock.day_of(visits[-1].enter_ns)
    starts = [visits[0].room] + [v.room for v in visits if v.enter_ns == c.clock.day_start_ns(last_day)]
    out.append(Candidate(1, {}, typed(AnswerKind.ROOM, starts, targets=(c.rooms(*set(starts)),))))
    # "the room you spent the most time in": the simulated days only (06:00-22:00), or the whole span including
    # the nights the robot spent parked in a room - both readings are right
    most: list[str] = []
    for with_nights in (False, True):
        total: dict[str, float] = {}
        for k, v in enumerate(visits):
            total[v.room] = total.get(v.room, 0.0) + v.duration_s
            if with_nights and k + 1 < len(visits) and visits[k + 1].enter_ns > v.exit_ns:
                total[v.room] += (visits[k + 1].enter_ns - v.exit_ns) / NS  # parked overnight
        best = max(total.values())
        most += sorted(r for r, d in total.items() if best - d <= TIE_MARGIN_S)
    out.append(Candidate(2, {}, typed(AnswerKind.ROOM, most, targets=(c.rooms(*set(most)),))))
    last = visits[-1].room
    out.append(Candidate(3, {}, typed(AnswerKind.ROOM, [last], targets=(c.rooms(last),))))
    day_starts = {c.clock.day_start_ns(d) for d in range(c.clock.days)}
    for room in sorted(visited):
        n = sum(1 for v in visits if v.room == room and v.enter_ns not in day_starts)
        if n:
            out.append(Candidate(4, {"room": room}, typed(AnswerKind.NUMBER, [n])))
    return out


def _interaction_order(c: Ctx) -> list[Candidate]:
    out: list[Optional[Candidate]] = []
    its = c.its
    if not its:
        return []
    out.append(c.nav(0, {}, [its[0].object_id], "object never seen"))
    if len(its) > 1:
        out.append(c.nav(1, {}, [its[-1].object_id], "object never seen"))
    for o in c.interacted:
        after = [its[k + 1].object_id for k, it in enumerate(its[:-1]) if it.object_id == o]
        if after:
            out.append(c.nav(2, {"object": c.label(o)}, list(dict.fromkeys(after)), "object never seen"))
    distinct = list(dict.fromkeys(it.object_id for it in its))
    for k in range(1, len(its)):
        if k >= len(ORDINALS):
            c.exclude("more picks than ordinal words")
            continue
        # "the third object you picked up": the third pick, or the third distinct object (picks A, B, A, C)
        ids = [its[k].object_id] + ([distinct[k]] if k < len(distinct) else [])
        out.append(c.nav(3, {"ordinal": ORDINALS[k]}, list(dict.fromkeys(ids)), "object never seen"))
    return [x for x in out if x is not None]


def _time_based(c: Ctx) -> list[Candidate]:
    out: list[Optional[Candidate]] = []
    its = c.its
    tol = c.ep.config.tasks.time_tolerance_s
    for it in its:
        m = minute(it.pick_ns)
        same = [o.object_id for o in its if minute(o.pick_ns) == m]
        out.append(c.nav(0, c.time_fill(it.pick_ns), list(dict.fromkeys(same)), "object never seen"))
        m = minute(it.place_ns)
        recs = {o.to_receptacle for o in its if minute(o.place_ns) == m}
        out.append(Candidate(1, c.time_fill(it.place_ns), ExpectedAnswer(AnswerKind.RECEPTACLE, (c.rec(*recs),))))
    for o in c.interacted:
        picks = c.picks[o]
        fill = {"object": c.label(o)}
        out.append(Candidate(2, fill, typed(AnswerKind.TIME, [p.pick_ns for p in reversed(picks)], tol)))
        out.append(Candidate(5, fill, typed(AnswerKind.TIME, [picks[-1].pick_ns], tol)))
        if len(picks) >= 2:
            for k, p in enumerate(picks[: len(ORDINALS)]):
                out.append(Candidate(4, {**fill, "ordinal": ORDINALS[k]}, typed(AnswerKind.TIME, [p.pick_ns], tol)))
    visits = c.log.visits
    for v in visits:
        lo, hi = minute(v.enter_ns), minute(v.exit_ns - 1)
        minutes = {lo}  # the minute of the transition into this room (two rooms are right)
        if hi > lo:
            minutes.add(int(c.rng.integers(lo, hi + 1)))
        for m in sorted(minutes):
            t0, t1 = m * 60 * NS, (m + 1) * 60 * NS
            rooms = [w.room for w in visits if w.enter_ns < t1 and w.exit_ns > t0]
            if not rooms:
                continue
            out.append(Candidate(3, c.time_fill(t0), typed(AnswerKind.ROOM, rooms, targets=(c.rooms(*rooms),))))
    return [x for x in out if x is not None]


def _duration(c: Ctx) -> list[Candidate]:
    out: list[Optional[Candidate]] = []
    its = c.its
    if len(its) >= 2:
        d = {it.index: it.duration_s for it in its}
        for t, best in ((0, max(d.values())), (1, min(d.values()))):
            ids = [its[k].object_id for k, v in d.items() if abs(v - best) <= TIE_MARGIN_S]
            out.append(c.nav(t, {}, list(dict.fromkeys(ids)), "object never seen"))
    tol = c.ep.config.tasks.duration_tolerance_s
    for o in c.interacted:
        durs = [p.duration_s for p in reversed(c.picks[o])]
        out.append(Candidate(2, {"object": c.label(o)}, typed(AnswerKind.DURATION, durs, tol)))
    return [x for x in out if x is not None]


def _since_windows(c: Ctx) -> list[tuple[int, dict[str, str]]]:
    """Start indices ``i`` of interaction suffixes with 2..max_goals picks whose start minute separates them
    from the pick before (so "since {time}" names exactly the suffix)."""
    its = c.its
    out = []
    for i in range(1, len(its) - 1):
        if not 2 <= len(its) - i <= c.max_goals:
            continue
        m = minute(its[i].pick_ns)
        if minute(its[i - 1].pick_ns) < m:
            out.append((i, c.time_fill(its[i].pick_ns)))
    return out


def _multi_goal(c: Ctx, ordered: bool) -> list[Candidate]:
    out: list[Optional[Candidate]] = []
    its = c.its
    if len(c.interacted) >= 2:
        last_order = list(reversed(list(dict.fromkeys(it.object_id for it in reversed(its)))))
        out.append(c.nav_list(0, {}, list(c.interacted), ordered, "object never seen",
                              alternative=last_order if ordered else None))
    if ordered and len(its) >= 2:
        out.append(_placements(c, 1, {}, [it.to_receptacle for it in its]))
    for i, fill in _since_windows(c):
        objs = list(dict.fromkeys(it.object_id for it in its[i:]))
        if len(objs) >= 2:
            last_order = list(reversed(list(dict.fromkeys(it.object_id for it in reversed(its[i:])))))
            out.append(c.nav_list(3 if ordered else 2, fill, objs, ordered, "object never seen",
                                  alternative=last_order if ordered else None))
        if ordered:
            since_ns = int(fill["_time_ns"])
            out.append(_placements(c, 4, fill, [it.to_receptacle for it in its if it.place_ns >= since_ns]))
    seen = [o for o in sorted(c.house.objects) if o in c.seen]
    template = 2 if ordered else 1
    for _ in range(4 * c.ep.config.tasks.per_family):
        if len(seen) < 2:
            break
        k = int(c.rng.integers(2, min(c.max_goals, len(seen)) + 1))
        pick = [seen[int(i)] for i in c.rng.choice(len(seen), size=k, replace=False)]
        out.append(c.nav_list(template, {"objects": objects_text([c.label(o) for o in pick])}, pick, ordered,
                              "object never seen"))
    return [x for x in out if x is not None]


def _placements(c: Ctx, template: int, fill: dict[str, str], recs: list[int]) -> Optional[Candidate]:
    """"The receptacles you placed objects on, in the order you placed them": every placement in order, and the
    readings that visit a receptacle used several times once (consecutive repeats merged; each receptacle at its
    first placement; each at its last) - all accepted."""
    if len(recs) > c.max_goals:
        c.exclude("more goals than tasks.max_goals")
        return None
    merged = [r for k, r in enumerate(recs) if k == 0 or recs[k - 1] != r]
    first = list(dict.fromkeys(recs))
    last = list(reversed(list(dict.fromkeys(reversed(recs)))))
    alts: list[list[int]] = []
    for seq in (merged, first, last):
        if seq != recs and seq not in alts:
            alts.append(seq)
    return Candidate(template, fill, ExpectedAnswer(
        AnswerKind.LIST, tuple(c.rec(r) for r in recs), ordered=True,
        alternative_targets=tuple(tuple(c.rec(r) for r in seq) for seq in alts)))


def _where_now(c: Ctx) -> list[Candidate]:
    out: list[Candidate] = []
    for o in sorted(c.house.objects):
        if not c.moved(o):
            continue
        lk = c.last_known(o)
        if c.last_kind.get(o) is EventKind.HOUSEHOLD_MOVE:
            last_move = c.last_event[o]
            if c.log.last_seen_ns(o, before_ns=last_move) is None and not c.known_now(o):
                c.exclude("object never seen before someone moved it", 2)
            else:
                fill = {"object": c.label(o)}
                known = c.known_now(o)
                room = c.state.room_of(o) if known else (lk[2] if lk else None)
                assert room is not None
                flag = c.flag_needed(o)
                g, _ = c.goals([o])
                kw = {"requires_may_have_moved": flag, "forbids_may_have_moved": known}
                out.append(Candidate(0, fill, ExpectedAnswer(AnswerKind.INSTANCE, (g,), **kw), True))  # type: ignore[arg-type]
                out.append(Candidate(1, fill, typed(AnswerKind.ROOM, [room], targets=(c.rooms(room),), **kw), True))
        if lk is None:
            c.exclude("object never seen")
            continue
        here = c.known_now(o)
        t = NavTarget(TargetKind.OBJECT, sim_id=o) if here else NavTarget(
            TargetKind.LAST_KNOWN, sim_id=o, position=lk[0], support_id=lk[1])
        out.append(Candidate(2, {"object": c.label(o)}, ExpectedAnswer(AnswerKind.INSTANCE, (frozenset([t]),),
                                                                      forbids_may_have_moved=here), True))
    return out


def _changes(c: Ctx) -> list[Candidate]:
    """What changed in a room since a time. A move is observable when the robot made it, or when someone else
    made it and the robot had seen the object before and then saw it again, or saw its old place (in that room)
    empty. A count is asked when every moved object has an observable move touching the room; the list of them
    when, in addition, every one's current place was observed.

    The robot cannot tell *when* someone else's move happened, only that it happened between its last sighting
    of the object before it and the first evidence after it (the object seen again, or its old place seen
    empty). A (room, time) pair is asked only when that window decides every object: no window of a move
    touching the room contains the time unless the object is counted anyway by a move known to come after it
    (else "whether a move came before or after {time} was not observable"). Candidate times are 1-30 minutes
    before a robot's pick, or before the robot's last sighting of an object someone then moved."""
    out: list[Candidate] = []
    moves: list[tuple[int, int, str, str, bool]] = []  # t, object, from room, to room, by the robot
    for it in c.its:
        moves.append((it.pick_ns, it.object_id, it.from_room, it.to_room, True))
    for mv in c.log.household_moves:
        moves.append((mv.t_ns, mv.object_id, mv.from_room, mv.to_room, False))

    def window(t: int, o: int, fr: str, room: str) -> Optional[tuple[int, int]]:
        """(last sighting before, first evidence after) of someone else's move; None when unobservable."""
        before = c.log.last_seen_ns(o, before_ns=t)
        if before is None:
            return None
        after = [s.stamp_ns for s in c.log.sightings.get(o, ()) if s.stamp_ns > t][:1]
        if fr == room and (o, t) in c.log.vacancy_seen_ns:
            after.append(c.log.vacancy_seen_ns[(o, t)])
        return (before, min(after)) if after else None

    def observable(t: int, o: int, fr: str, room: str, robot: bool) -> bool:
        return robot or window(t, o, fr, room) is not None

    def decided(room: str, since_ns: int) -> bool:
        """Whether the observations tell, for every object moved in/out of/within ``room``, if it moved since."""
        touching = [m for m in moves if room in (m[2], m[3])]
        for o in {m[1] for m in touching}:
            mine = [m for m in touching if m[1] == o]
            known_after = any((m[4] and m[0] >= since_ns) or (
                not m[4] and (w := window(m[0], o, m[2], room)) is not None and w[0] >= since_ns) for m in mine)
            if known_after:
                continue
            for t, _o, fr, _to, robot in mine:
                w = None if robot else window(t, o, fr, room)
                if w is not None and w[0] < since_ns <= w[1]:
                    return False
        return True

    refs: list[tuple[int, str, str]] = []  # reference stamp, from room, to room
    for t, o, fr, to, robot in sorted(moves):
        if robot:
            refs.append((t, fr, to))
        else:
            before = c.log.last_seen_ns(o, before_ns=t)
            refs.append((t if before is None else before, fr, to))
    seen_pairs: set[tuple[str, int]] = set()
    for ref, from_room, to_room in sorted(refs):
        since = max(minute(ref - int(c.rng.integers(1, 31)) * 60 * NS),
                    minute(c.clock.day_start_ns(c.clock.day_of(ref))))
        since_ns = since * 60 * NS
        for room in sorted({from_room, to_room}):
            if (room, since) in seen_pairs:
                continue
            seen_pairs.add((room, since))
            touching = [m for m in moves if m[0] >= since_ns and room in (m[2], m[3])]
            objs = sorted({m[1] for m in touching})
            if not objs:
                continue
            if not all(any(observable(m[0], o, m[2], room, m[4]) for m in touching if m[1] == o) for o in objs):
                c.exclude("a change in the room was not observed", 2)
                continue
            if not decided(room, since_ns):
                c.exclude("whether a move came before or after {time} was not observable", 2)
                continue
            fill = {"room": room, **c.time_fill(since_ns)}
            out.append(Candidate(1, fill, typed(AnswerKind.NUMBER, [len(objs)]), True))
            if len(objs) > c.max_goals:
                c.exclude("more goals than tasks.max_goals")
            elif not all(c.known_now(o) for o in objs):
                c.exclude("the current place of a moved object was not observed")
            else:
                out.append(Candidate(0, fill, ExpectedAnswer(AnswerKind.LIST, tuple(c.goals([o])[0] for o in objs)),
                                     True))
    return out


def _counting(c: Ctx) -> list[Candidate]:
    out = []
    by_cat: dict[str, set[int]] = {}
    for o in c.seen & set(c.house.objects):
        by_cat.setdefault(c.house.object(o).category, set()).add(o)
    for cat, ids in sorted(by_cat.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        out.append(Candidate(0, {"categories": OBJECT_CATEGORIES[cat].plural}, typed(AnswerKind.NUMBER, [len(ids)])))
    out.append(Candidate(1, {}, typed(AnswerKind.NUMBER, [len(c.interacted)])))
    out.append(Candidate(2, {}, typed(AnswerKind.NUMBER, [len({v.room for v in c.log.visits})])))
    for o in sorted(c.house.objects):
        if o in c.interacted or o in c.seen:
            out.append(Candidate(3, {"object": c.label(o)}, typed(AnswerKind.NUMBER, [len(c.picks.get(o, []))])))
    return out


CONTROL_MIN_SIGHTINGS = 3
"""An absence task's control names an object seen in at least this many frames when there is one."""


def _absence(c: Ctx) -> list[Candidate]:
    """Never-seen things: absent categories, and present categories in an absent colour or material.

    Each absence task carries a *control*: the same template about a thing the robot did see (for an absent
    colour or material of a present category, that category's object in the house, so the two questions
    differ only in the attribute; else a well-seen object / category, or a picked category). Saying "not
    found" scores only when the control was not answered "not found" too: an agent that says "not found" to
    everything (or that cannot tell a blue mug from a red one) does not score absence."""
    out = []
    not_found = ExpectedAnswer(AnswerKind.INSTANCE, not_found=True)
    objs = list(c.house.objects.values())
    present = {o.category for o in objs}
    labels = {o.label for o in objs}
    n_seen = {o.sim_id: len(c.log.sightings.get(o.sim_id, ())) for o in objs}
    seen_objs = [o for o in objs if n_seen[o.sim_id] > 0]
    if not seen_objs:
        if objs:
            c.exclude("nothing seen to control an absence question with")
        return []

    def well_seen(pool: list) -> list:
        pool = sorted((o for o in pool if n_seen[o.sim_id] > 0), key=lambda o: o.sim_id)
        good = [o for o in pool if n_seen[o.sim_id] >= CONTROL_MIN_SIGHTINGS]
        return good or pool

    def control_object(pool: list) -> Optional[Candidate]:
        cands = well_seen(pool) or well_seen(objs)
        o = cands[int(c.rng.integers(len(cands)))]
        return c.nav(0, {"object": o.label}, [o.sim_id], "object never seen")

    def control_category(template: int, cats: list[str], ids_of: Callable[[str], list[int]]) -> Optional[Candidate]:
        if not cats:
            return None
        cat = cats[int(c.rng.integers(len(cats)))]
        return c.nav(template, {"category": cat}, ids_of(cat), "object never seen")

    def add(template: int, fill: dict[str, str], asked: str, control: Optional[Candidate]) -> None:
        if control is None:
            c.exclude("nothing seen to control an absence question with")
            return
        out.append(Candidate(template, fill, not_found, asked=asked, control=control))

    seen_cats = sorted({o.category for o in seen_objs})
    well_cats = sorted({o.category for o in well_seen(objs)})
    for cat in sorted(set(OBJECT_CATEGORIES) - present):
        oc = OBJECT_CATEGORIES[cat]
        colour = oc.colours[int(c.rng.integers(len(oc.colours)))]
        material = oc.materials[int(c.rng.integers(len(oc.materials)))]
        label = f"{colour} {material} {cat}"
        add(0, {"object": label}, label, control_object(objs))
        add(2, {"category": cat}, cat, control_category(
            2, well_cats or seen_cats, lambda k: [o.sim_id for o in seen_objs if o.category == k]))
    for cat in sorted(present):
        oc = OBJECT_CATEGORIES[cat]
        mine = [o for o in objs if o.category == cat]
        colours = {o.colour for o in mine}
        free_colours = [x for x in oc.colours if x not in colours] or [x for x in COLOURS if x not in colours]
        if free_colours:  # an absent colour of a present category (a material it does come in)
            colour = free_colours[int(c.rng.integers(len(free_colours)))]
            ref = mine[int(c.rng.integers(len(mine)))]
            label = f"{colour} {ref.material} {cat}"
            add(0, {"object": label}, label, control_object([ref] if n_seen[ref.sim_id] else mine))
        ref = mine[int(c.rng.integers(len(mine)))]  # a present colour in an absent material
        materials = [m for m in oc.materials if f"{ref.colour} {m} {cat}" not in labels]
        if materials:
            label = f"{ref.colour} {materials[int(c.rng.integers(len(materials)))]} {cat}"
            add(0, {"object": label}, label, control_object([ref] if n_seen[ref.sim_id] else mine))
    picked_cats = sorted({c.house.object(o).category for o in c.interacted})
    for cat in sorted(set(seen_cats) - set(picked_cats)):
        add(1, {"category": cat}, cat, control_category(
            1, picked_cats, lambda k: [o for o in c.interacted if c.house.object(o).category == k]))
    return out


GENERATORS: dict[TaskFamily, Callable[[Ctx], list[Candidate]]] = {
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
