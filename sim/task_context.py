"""What the task generators share (:mod:`robomem_sim.task_families`): the episode facts they read (:class:`Ctx`:
what was seen when, where an object is believed to be, which places need "may have moved"), a candidate task
(:class:`Candidate`), and the ordinal words and tie margins of the suite."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Iterable, Optional

import numpy as np
from robomem_sim.dynamics import NS
from robomem_sim.episode import Episode, EventKind, Interaction
from robomem_sim.types import ExpectedAnswer, NavTarget, TargetKind

from robomem.planner.base import AnswerKind

__all__ = ["ORDINALS", "TIE_MARGIN_M", "TIE_MARGIN_S", "Candidate", "Ctx", "Goals", "all_seen_now", "minute",
           "objects_text", "typed"]

_ORD_UNITS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth")
ORDINALS = _ORD_UNITS + ("tenth", "eleventh", "twelfth", "thirteenth", "fourteenth", "fifteenth", "sixteenth",
                         "seventeenth", "eighteenth", "nineteenth", "twentieth") + tuple(
    f"{tens}-{u}" for tens in ("twenty",) for u in _ORD_UNITS) + ("thirtieth",) + tuple(
    f"thirty-{u}" for u in _ORD_UNITS) + ("fortieth",)
"""Ordinal words "first" .. "fortieth" (the n-th pick, 1-based)."""

TIE_MARGIN_M = 0.25
"""Spatial tasks: every receptacle/object within this distance (m) of the best one is also accepted."""
TIE_MARGIN_S = 2.0
"""Duration/time-spent tasks: every candidate within this many seconds of the best one is also accepted."""

Goals = frozenset[NavTarget]


@dataclass(frozen=True)
class Candidate:
    template: int
    fill: dict[str, str]
    expected: ExpectedAnswer
    about_moved: bool = False
    asked: str = ""
    control: Optional[Candidate] = None
    """Absence tasks: the same template about a thing the robot did see (see :func:`_absence`)."""


class Ctx:
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
        self.its = self.log.interactions
        self.interacted = list(self.log.interacted_ids())
        self.max_goals = episode.config.tasks.max_goals
        self.excluded: Counter[str] = Counter()
        self.last_event: dict[int, int] = {}
        self.last_kind: dict[int, EventKind] = {}
        for ev in self.log.events:
            self.last_event[ev.object_id] = ev.t_ns
            self.last_kind[ev.object_id] = ev.kind
        self.picks: dict[int, list[Interaction]] = {}
        for it in self.its:
            self.picks.setdefault(it.object_id, []).append(it)
        self._last_known: dict[int, tuple[tuple[float, float, float], int, str]] = {}

    def exclude(self, reason: str, n: int = 1) -> None:
        if n > 0:
            self.excluded[reason] += n

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

    def last_known(self, obj: int) -> Optional[tuple[tuple[float, float, float], int, str]]:
        """(centre, receptacle id, room) of the object at its last sighting; None if never seen."""
        if obj in self._last_known:
            return self._last_known[obj]
        t = self.log.last_seen_ns(obj)
        if t is None:
            return None
        state = self.ep.state_at(t)
        ref = state.slot_of(obj)
        assert ref is not None, "a carried object is never rendered"
        out = (self.house.object_box(obj, ref).center, ref.receptacle_id, self.house.receptacle(ref.receptacle_id).room)
        self._last_known[obj] = out
        return out

    def believed_pos(self, obj: int) -> Optional[tuple[float, float]]:
        """Where the observations put the object now: its current place when observed, else where it was last
        seen (None if never seen)."""
        if self.known_now(obj):
            return self.pos(obj)
        lk = self.last_known(obj)
        return None if lk is None else (lk[0][0], lk[0][1])

    def flag_needed(self, obj: int) -> bool:
        """Stale belief with evidence: not seen since someone moved it, and its old place was seen empty."""
        last = self.log.last_seen_ns(obj)
        if last is None or self.known_now(obj):
            return False
        first_move = next((m for m in self.log.household_moves if m.object_id == obj and m.t_ns > last), None)
        return first_move is not None and (obj, first_move.t_ns) in self.log.vacancy_seen_ns

    def target(self, obj: int) -> Optional[NavTarget]:
        """Where to go for ``obj`` according to what was observed: the object (its current place was seen), its
        last known place (a stale belief), or None (never seen)."""
        if self.known_now(obj):
            return NavTarget(TargetKind.OBJECT, sim_id=obj)
        lk = self.last_known(obj)
        if lk is None:
            return None
        return NavTarget(TargetKind.LAST_KNOWN, sim_id=obj, position=lk[0], support_id=lk[1])

    def label(self, sid: int) -> str:
        return self.house.label(sid)

    def rec_ref(self, rid: int) -> dict[str, str]:
        r = self.house.receptacle(rid)
        return {"receptacle": r.category, "room": r.room}

    def time_fill(self, t_ns: int) -> dict[str, str]:
        """{time} placeholder value (minute floor) plus the hidden exact minute for derived wordings."""
        minute_ns = (t_ns // (60 * NS)) * 60 * NS
        return {"time": self.clock.format_time(t_ns), "_time_ns": str(minute_ns)}

    # -- answers
    def goals(self, ids: Iterable[int]) -> tuple[Goals, bool]:
        """One goal set accepting any of ``ids`` (unseen ones dropped) and whether it needs "may have moved"
        (every accepted target is a stale belief with evidence)."""
        targets = []
        flags = []
        for o in ids:
            t = self.target(o)
            if t is not None:
                targets.append(t)
                flags.append(self.flag_needed(o))
        return frozenset(targets), bool(flags) and all(flags)

    def nav(self, template: int, fill: dict[str, str], ids: Iterable[int], reason: str) -> Optional[Candidate]:
        ids = list(ids)
        g, flag = self.goals(ids)
        if not g:
            self.exclude(reason)
            return None
        return Candidate(template, fill, ExpectedAnswer(AnswerKind.INSTANCE, (g,), requires_may_have_moved=flag),
                         any(self.moved(i) for i in ids))

    def nav_list(self, template: int, fill: dict[str, str], seq: list[int], ordered: bool, reason: str,
                 alternative: Optional[list[int]] = None) -> Optional[Candidate]:
        if len(seq) > self.max_goals:
            self.exclude("more goals than tasks.max_goals")
            return None
        sets = [self.goals([o]) for o in seq]
        if any(not g for g, _ in sets):
            self.exclude(reason)
            return None
        alts: tuple[tuple[Goals, ...], ...] = ()
        if alternative is not None and alternative != seq:
            alts = (tuple(self.goals([o])[0] for o in alternative),)
        exp = ExpectedAnswer(AnswerKind.LIST, tuple(g for g, _ in sets), ordered=ordered,
                             requires_may_have_moved=any(f for _, f in sets), alternative_targets=alts)
        return Candidate(template, fill, exp, any(self.moved(o) for o in seq))

    @staticmethod
    def rec(*ids: int) -> Goals:
        return frozenset(NavTarget(TargetKind.RECEPTACLE, sim_id=i) for i in ids)

    @staticmethod
    def rooms(*names: str) -> Goals:
        return frozenset(NavTarget(TargetKind.ROOM, room=n) for n in names)


def all_seen_now(goal_sets: tuple[Goals, ...]) -> bool:
    """Every accepted target is an object the robot saw where it is now (after its last move): saying that it
    may have moved is then wrong (:func:`robomem_sim.tasks.generate_task_set` sets ``forbids_may_have_moved``
    on every such task)."""
    return bool(goal_sets) and all(t.kind is TargetKind.OBJECT for g in goal_sets for t in g)


def objects_text(labels: list[str]) -> str:
    items = [f"the {x}" for x in labels]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def minute(t_ns: int) -> int:
    return t_ns // (60 * NS)


def typed(kind: AnswerKind, values: list, tolerance: float = 0.0, **kw: object) -> ExpectedAnswer:
    uniq = list(dict.fromkeys(values))
    return ExpectedAnswer(kind, value=uniq[0], alternatives=tuple(uniq[1:]), tolerance=tolerance, **kw)  # type: ignore[arg-type]
