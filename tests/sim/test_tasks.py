"""Task suite: templates, determinism, and every family's expected answers recomputed independently from the
ground-truth log of a small, hand-inspectable episode (3 rooms, 10 objects, 3 pick-and-places)."""

from __future__ import annotations

import math
import re

import pytest
from robomem_sim.config import SimConfig
from robomem_sim.episode import Episode, generate_episode
from robomem_sim.scoring import oracle_answer, score_task
from robomem_sim.tasks import ORDINALS, TEMPLATE_KINDS, TEMPLATES, candidate_tasks, generate_tasks
from robomem_sim.types import NavTarget, TargetKind, Task, TaskFamily
from robomem_sim.world import OBJECT_CATEGORIES, SlotRef

from robomem.planner.base import AnswerKind

CFG = SimConfig.small()
SEEDS = (3, 6)


@pytest.fixture(scope="module", params=SEEDS)
def episode(request: pytest.FixtureRequest) -> Episode:
    return generate_episode(CFG, seed=request.param)


class Truth:
    """Facts recomputed straight from the log, without the task generator's helpers."""

    def __init__(self, ep: Episode) -> None:
        self.ep = ep
        h = ep.house
        slots: dict[int, SlotRef | None] = dict(h.initial_slots)
        self.last_event: dict[int, int] = {}
        for ev in ep.log.events:
            slots[ev.object_id] = ev.to_slot
            self.last_event[ev.object_id] = ev.t_ns
        self.final = {o: s for o, s in slots.items() if s is not None}
        assert len(self.final) == len(h.objects)
        self.by_label = {o.label: o.sim_id for o in h.objects.values()}
        self.picks = list(ep.log.interactions)
        self.picked = []
        for it in self.picks:
            if it.object_id not in self.picked:
                self.picked.append(it.object_id)
        self.seen = {k for k, v in ep.log.sightings.items() if v}

    def pos(self, o: int) -> tuple[float, float, float]:
        return self.ep.house.object_box(o, self.final[o]).center

    def rec_of(self, o: int) -> int:
        return self.final[o].receptacle_id

    def known(self, o: int) -> bool:
        s = self.ep.log.sightings.get(o, ())
        return bool(s) and s[-1].stamp_ns >= self.last_event.get(o, -1)

    def receptacle(self, category: str, room: str) -> int:
        (rid,) = [r.sim_id for r in self.ep.house.receptacles.values() if r.category == category and r.room == room]
        return rid

    def picks_of(self, o: int) -> list:
        return [it for it in self.picks if it.object_id == o]


def _ids(targets: frozenset[NavTarget]) -> set[int]:
    return {t.sim_id for t in targets if t.sim_id is not None}


def _single(task: Task) -> set[int]:
    assert len(task.expected.targets) == 1
    return _ids(task.expected.targets[0])


def _rooms(task: Task) -> set[str]:
    return {t.room for g in task.expected.targets for t in g if t.room is not None}


def _tasks(ep: Episode, fam: TaskFamily) -> list[Task]:
    ts = candidate_tasks(ep, fam)
    assert ts, f"{fam.value} produced no task for seed {ep.seed}"
    return ts


# ----------------------------------------------------------------------------------------- structure


def test_every_family_produces_tasks_matching_their_templates(episode: Episode) -> None:
    tasks = generate_tasks(episode, per_family=3)
    assert {t.family for t in tasks} == set(TaskFamily)
    assert len({t.task_id for t in tasks}) == len(tasks)
    for t in tasks:
        template = TEMPLATES[t.family][int(t.meta["template"])]  # type: ignore[call-overload]
        pattern = "^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>.+?)", re.escape(template)) + "$"
        m = re.match(pattern, t.text)
        assert m, (template, t.text)
        for k, v in m.groupdict().items():
            assert t.meta[k] == v
        assert t.expected.kind is TEMPLATE_KINDS[template]
        assert t.now_ns == episode.now_ns
        if t.expected.kind in (AnswerKind.INSTANCE, AnswerKind.RECEPTACLE, AnswerKind.LIST):
            assert t.expected.targets or t.expected.not_found
    per = {f: sum(t.family is f for t in tasks) for f in TaskFamily}
    assert max(per.values()) <= 3


def test_generation_is_deterministic(episode: Episode) -> None:
    a = generate_tasks(episode, per_family=2)
    b = generate_tasks(generate_episode(CFG, seed=episode.seed), per_family=2)
    assert [(t.task_id, t.text, t.expected) for t in a] == [(t.task_id, t.text, t.expected) for t in b]
    c = generate_tasks(episode, per_family=2, seed=1)
    assert [t.text for t in a] != [t.text for t in c]
    only = generate_tasks(episode, families=[TaskFamily.COUNTING], per_family=1)
    assert [t.family for t in only] == [TaskFamily.COUNTING]


def test_templates_table_is_complete() -> None:
    assert set(TEMPLATES) == set(TaskFamily)
    assert sum(len(v) for v in TEMPLATES.values()) >= 45
    assert all(TEMPLATE_KINDS[t] for ts in TEMPLATES.values() for t in ts)


def test_every_task_is_solvable_by_the_oracle(episode: Episode) -> None:
    renderer = episode.renderer()
    for fam in TaskFamily:
        for t in candidate_tasks(episode, fam):
            s = score_task(t, oracle_answer(t, episode), episode, renderer)
            assert s.success, (t.text, s.failure_mode, s.error)


# ------------------------------------------------------------------------------- ground truth per family


def test_object_recall_truth(episode: Episode) -> None:
    tr = Truth(episode)
    for t in _tasks(episode, TaskFamily.OBJECT_RECALL):
        o = tr.by_label[str(t.meta["object"])]
        assert _single(t) == {o} and tr.known(o)
        k = t.meta["template"]
        if k in (0, 1):
            assert o in tr.picked
        if k in (1, 2):
            assert tr.rec_of(o) == tr.receptacle(str(t.meta["receptacle"]), str(t.meta["room"]))
        if k == 1:
            assert tr.picks_of(o)[-1].to_receptacle == tr.rec_of(o)
        if k == 2:
            assert o in tr.seen and o not in tr.picked


def test_object_attribute_truth(episode: Episode) -> None:
    tr = Truth(episode)
    h = episode.house
    for t in _tasks(episode, TaskFamily.OBJECT_ATTRIBUTE):
        k = t.meta["template"]
        if k == 3:
            rid = tr.receptacle(str(t.meta["receptacle"]), str(t.meta["room"]))
            objs = {it.object_id for it in tr.picks
                    if it.from_receptacle == rid and h.object(it.object_id).category == t.meta["category"]}
            assert len(objs) == 1 and t.expected.value == h.object(objs.pop()).colour
            continue
        attr = ("colour", "material", "shape")[int(k)]  # type: ignore[call-overload]
        match = [o for o in tr.picked if getattr(h.object(o), attr) == t.meta[attr]]
        assert len(match) == 1 and _single(t) == set(match)


def test_interaction_truth(episode: Episode) -> None:
    tr = Truth(episode)
    h = episode.house
    for t in _tasks(episode, TaskFamily.INTERACTION):
        k = t.meta["template"]
        if k == 0:
            assert _single(t) == {o for o in tr.picked if tr.known(o)}
        elif k == 1:
            want = {o for o in h.objects if h.object(o).category == t.meta["category"] and o not in tr.picked}
            assert _single(t) == want
            assert any(h.object(o).category == t.meta["category"] for o in tr.picked)
        else:
            o = tr.by_label[str(t.meta["object"])]
            assert t.expected.value == (o in tr.picked) and o in tr.seen


def test_conditional_interaction_truth(episode: Episode) -> None:
    tr = Truth(episode)
    for t in _tasks(episode, TaskFamily.CONDITIONAL_INTERACTION):
        k = t.meta["template"]
        if k in (0, 1):
            (it,) = tr.picks_of(tr.by_label[str(t.meta["object"])])
            assert _single(t) == {it.from_receptacle if k == 0 else it.to_receptacle}
            assert next(iter(t.expected.targets[0])).kind is TargetKind.RECEPTACLE
        else:
            rid = tr.receptacle(str(t.meta["receptacle"]), str(t.meta["room"]))
            placed = [it.object_id for it in tr.picks if it.to_receptacle == rid]
            assert len(placed) == 1 and _single(t) == set(placed)


def test_spatial_relationship_truth(episode: Episode) -> None:
    tr = Truth(episode)
    h = episode.house
    for t in _tasks(episode, TaskFamily.SPATIAL_RELATIONSHIP):
        k = t.meta["template"]
        got = _single(t)
        if k in (0, 1):
            o = tr.by_label[str(t.meta["object"])]
            p = tr.pos(o)
            d = {r: math.dist(p[:2], h.receptacle(r).center[:2]) for r in h.receptacles
                 if r in tr.seen and r != tr.rec_of(o)}
            best = max(d.values()) if k == 0 else min(d.values())
            assert got == {r for r, v in d.items() if abs(v - best) <= 0.25}
        else:
            c = h.receptacle(tr.receptacle(str(t.meta["receptacle"]), str(t.meta["room"]))).center
            d = {o: math.dist(tr.pos(o)[:2], c[:2]) for o in h.objects}
            best = min(d.values())
            assert got == {o for o, v in d.items() if abs(v - best) <= 0.25}


def test_room_visitation_truth(episode: Episode) -> None:
    visits = episode.log.visits
    rooms = set(episode.house.room_names())
    total: dict[str, float] = {}
    for v in visits:
        total[v.room] = total.get(v.room, 0.0) + (v.exit_ns - v.enter_ns) / 1e9
    for t in _tasks(episode, TaskFamily.ROOM_VISITATION):
        k = t.meta["template"]
        if k == 0:
            assert _rooms(t) == rooms - {v.room for v in visits} != set()
        elif k == 1:
            assert _rooms(t) == {visits[0].room} and t.expected.value == visits[0].room
        elif k == 2:
            assert max(total, key=lambda r: total[r]) in _rooms(t)
        elif k == 3:
            assert t.expected.value == visits[-1].room
        else:
            assert t.expected.value == sum(1 for v in visits[1:] if v.room == t.meta["room"])


def test_interaction_order_truth(episode: Episode) -> None:
    tr = Truth(episode)
    for t in _tasks(episode, TaskFamily.INTERACTION_ORDER):
        k = t.meta["template"]
        if k == 0:
            want = tr.picks[0].object_id
        elif k == 1:
            want = tr.picks[-1].object_id
        elif k == 2:
            x = tr.by_label[str(t.meta["object"])]
            (i,) = [n for n, it in enumerate(tr.picks) if it.object_id == x]
            want = tr.picks[i + 1].object_id
        else:
            want = tr.picks[ORDINALS.index(str(t.meta["ordinal"]))].object_id
        assert _single(t) == {want}


def test_time_based_truth(episode: Episode) -> None:
    tr = Truth(episode)
    clock = episode.clock
    for t in _tasks(episode, TaskFamily.TIME_BASED):
        k = t.meta["template"]
        if k == 2:
            (it,) = tr.picks_of(tr.by_label[str(t.meta["object"])])
            assert t.expected.value == it.pick_ns and t.expected.tolerance == CFG.tasks.time_tolerance_s
            continue
        t0 = clock.parse_time(str(t.meta["time"]))
        if k == 0:
            (it,) = [it for it in tr.picks if t0 <= it.pick_ns < t0 + 60 * 10**9]
            assert _single(t) == {it.object_id}
        elif k == 1:
            (it,) = [it for it in tr.picks if t0 <= it.place_ns < t0 + 60 * 10**9]
            assert _single(t) == {it.to_receptacle}
        else:
            (v,) = [v for v in episode.log.visits if v.enter_ns <= t0 < v.exit_ns]
            assert t.expected.value == v.room and _rooms(t) == {v.room}


def test_duration_truth(episode: Episode) -> None:
    tr = Truth(episode)
    dur = [((it.place_ns - it.pick_ns) / 1e9, it.object_id) for it in tr.picks]
    for t in _tasks(episode, TaskFamily.DURATION):
        k = t.meta["template"]
        if k == 0:
            assert max(dur)[1] in _single(t)
        elif k == 1:
            assert min(dur)[1] in _single(t)
        else:
            (it,) = tr.picks_of(tr.by_label[str(t.meta["object"])])
            assert t.expected.value == pytest.approx((it.place_ns - it.pick_ns) / 1e9)


def test_multi_goal_truth(episode: Episode) -> None:
    tr = Truth(episode)
    for fam, ordered in ((TaskFamily.MULTI_GOAL_UNORDERED, False), (TaskFamily.MULTI_GOAL_ORDERED, True)):
        for t in _tasks(episode, fam):
            assert t.expected.ordered is ordered and t.expected.kind is AnswerKind.LIST
            goals = [_ids(g) for g in t.expected.targets]
            assert all(len(g) == 1 for g in goals)
            seq = [g.pop() for g in goals]
            k = t.meta["template"]
            if k == 0:
                assert seq == tr.picked if ordered else set(seq) == set(tr.picked)
            elif ordered and k == 1:
                assert seq == [it.to_receptacle for it in tr.picks]
            else:
                named = [tr.by_label[x.removeprefix("the ")] for x in
                         str(t.meta["objects"]).replace(" and ", ", ").split(", ")]
                assert seq == named
                assert all(tr.known(o) for o in named)


def test_where_now_truth(episode: Episode) -> None:
    tr = Truth(episode)
    moved_unseen = {m.object_id for m in episode.log.unseen_moves}
    for t in _tasks(episode, TaskFamily.WHERE_NOW):
        o = tr.by_label[str(t.meta["object"])]
        assert o in moved_unseen and t.about_moved_object
        last_move = max(m.t_ns for m in episode.log.unseen_moves if m.object_id == o)
        assert any(s.stamp_ns < last_move for s in episode.log.sightings[o]), "seen before it moved"
        assert t.meta["_reobserved"] == str(tr.known(o))
        if t.meta["template"] == 0:
            assert _single(t) == {o}
        else:
            assert t.expected.value == episode.house.receptacle(tr.rec_of(o)).room


def test_changes_truth(episode: Episode) -> None:
    tr = Truth(episode)
    for t in _tasks(episode, TaskFamily.CHANGES):
        room, t0 = str(t.meta["room"]), episode.clock.parse_time(str(t.meta["time"]))
        moved = {it.object_id for it in tr.picks if it.pick_ns >= t0 and room in (it.from_room, it.to_room)}
        moved |= {m.object_id for m in episode.log.unseen_moves if m.t_ns >= t0 and room in (m.from_room, m.to_room)}
        assert t.about_moved_object
        if t.meta["template"] == 0:
            assert {next(iter(_ids(g))) for g in t.expected.targets} == moved
        else:
            assert t.expected.value == len(moved)


def test_counting_truth(episode: Episode) -> None:
    tr = Truth(episode)
    h = episode.house
    plural = {c.plural: c.name for c in OBJECT_CATEGORIES.values()}
    for t in _tasks(episode, TaskFamily.COUNTING):
        k = t.meta["template"]
        if k == 0:
            cat = plural[str(t.meta["categories"])]
            assert t.expected.value == sum(1 for o in h.objects if h.object(o).category == cat and o in tr.seen)
        elif k == 1:
            assert t.expected.value == len(tr.picked)
        else:
            assert t.expected.value == len({v.room for v in episode.log.visits})


def test_absence_truth(episode: Episode) -> None:
    tr = Truth(episode)
    present = {o.category for o in episode.house.objects.values()}
    for t in _tasks(episode, TaskFamily.ABSENCE):
        assert t.expected.not_found and not t.expected.targets
        k = t.meta["template"]
        if k == 0:
            label = str(t.meta["object"])
            assert label not in tr.by_label and label.split(" ", 2)[2] not in present
        elif k == 1:
            cat = t.meta["category"]
            assert not any(episode.house.object(o).category == cat for o in tr.picked)
        else:
            assert t.meta["category"] not in present
