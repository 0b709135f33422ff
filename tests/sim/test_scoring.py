"""Scoring rules on hand-made answers: distance and heading boundaries, visibility, rooms, typed tolerances,
ordered vs unordered multi-goal, SPL values, failure modes."""

from __future__ import annotations

import dataclasses
import math

import pytest
from robomem_sim.agent_script import RobotPose
from robomem_sim.config import SimConfig
from robomem_sim.episode import Episode, generate_episode
from robomem_sim.oracle import oracle_answer
from robomem_sim.render import Renderer
from robomem_sim.scoring import (
    FailureMode,
    TaskScore,
    check_goal,
    failure_mode_counts,
    names_asked,
    score_task,
    summarize,
)
from robomem_sim.types import ExpectedAnswer, NavTarget, TargetKind, Task, TaskFamily
from robomem_sim.world import RECEPTACLE_CATEGORIES, SlotRef, Style, WorldState

from robomem.core.query_types import QueryStatus
from robomem.core.types import Relation
from robomem.planner.base import AnswerKind, Goal, PlannerAnswer

CFG = SimConfig.small(160, 120)
OBJ, REC, ROOM = TargetKind.OBJECT, TargetKind.RECEPTACLE, TargetKind.ROOM


def _episode(base: Episode, state: WorldState, pose: RobotPose | None = None) -> Episode:
    """``base`` with the world frozen in ``state`` (no events) and the robot at ``pose`` at question time."""
    return dataclasses.replace(base, initial_state=state, log=dataclasses.replace(base.log, events=()),
                               final_pose=pose or base.final_pose)


def _task(kind: AnswerKind, *goals: frozenset[NavTarget], ordered: bool = False, value: object = None,
          tolerance: float = 0.0, not_found: bool = False, now_ns: int = 0, asked: str = "", **kw: object) -> Task:
    exp = ExpectedAnswer(kind, tuple(goals), ordered, value, tolerance, not_found, **kw)  # type: ignore[arg-type]
    return Task("t", TaskFamily.OBJECT_RECALL, "hand-made", exp, now_ns, asked=asked)


def _nav(*goals: Goal, kind: AnswerKind = AnswerKind.INSTANCE) -> PlannerAnswer:
    return PlannerAnswer(QueryStatus.OK, kind, "test", goals=goals)


def _facing(x: float, y: float, target: tuple[float, ...], offset: float = 0.0) -> Goal:
    return Goal((x, y, 0.0), math.atan2(target[1] - y, target[0] - x) + offset)


@dataclasses.dataclass
class Setup:
    ep: Episode
    renderer: Renderer
    obj: int
    center: tuple[float, float, float]
    normal: tuple[float, float]


@pytest.fixture(scope="module")
def setup() -> Setup:
    """An object on a solid table-like top, with free floor 2.1 m straight in front of it."""
    for seed in range(10):
        base = generate_episode(CFG, seed=seed)
        house = base.house
        state = WorldState(house)
        for oid in sorted(house.objects):
            ref = state.slot_of(oid)
            assert ref is not None
            rec = house.receptacle(ref.receptacle_id)
            if RECEPTACLE_CATEGORIES[rec.category].style != Style.SOLID:
                continue
            c = house.object_box(oid, ref).center
            nx, ny = rec.normal
            if all(house.is_navigable(c[0] + nx * d, c[1] + ny * d) for d in (1.0, 1.5, 1.99, 2.01, 2.1)):
                ep = _episode(base, state)
                r = Renderer(house, state, CFG.camera.intrinsics())
                probe = check_goal(_facing(c[0] + nx * 1.99, c[1] + ny * 1.99, c),
                                   NavTarget(OBJ, sim_id=oid), ep, r)
                if probe.coverage_ok:
                    return Setup(ep, r, oid, c, rec.normal)
    pytest.fail("no seed in 0..9 has an object with 2.1 m of free floor in front of it")


def _at(s: Setup, d: float, lateral: float = 0.0) -> tuple[float, float]:
    nx, ny = s.normal
    return (s.center[0] + nx * d - ny * lateral, s.center[1] + ny * d + nx * lateral)


def test_object_distance_boundary_is_two_metres(setup: Setup) -> None:
    task = _task(AnswerKind.INSTANCE, frozenset({NavTarget(OBJ, sim_id=setup.obj)}), now_ns=setup.ep.now_ns)
    near = score_task(task, _nav(_facing(*_at(setup, 1.99), setup.center)), setup.ep, setup.renderer)
    assert near.success and near.distance_success and near.coverage_success
    far = score_task(task, _nav(_facing(*_at(setup, 2.01), setup.center)), setup.ep, setup.renderer)
    assert not far.success and not far.distance_success
    assert far.failure_mode is FailureMode.TOO_FAR and "2.01 m" in far.error
    assert far.spl == 0.0


def test_heading_boundary_is_quarter_pi(setup: Setup) -> None:
    task = _task(AnswerKind.INSTANCE, frozenset({NavTarget(OBJ, sim_id=setup.obj)}), now_ns=setup.ep.now_ns)
    x, y = _at(setup, 1.5)
    ok = score_task(task, _nav(_facing(x, y, setup.center, math.pi / 4 - 0.01)), setup.ep, setup.renderer)
    assert ok.success
    ok_other_side = score_task(task, _nav(_facing(x, y, setup.center, -(math.pi / 4 - 0.01))), setup.ep,
                               setup.renderer)
    assert ok_other_side.success
    bad = score_task(task, _nav(_facing(x, y, setup.center, math.pi / 4 + 0.01)), setup.ep, setup.renderer)
    assert not bad.success and bad.failure_mode is FailureMode.WRONG_HEADING
    assert bad.distance_success and bad.coverage_success  # only the heading failed
    no_yaw = score_task(task, _nav(Goal((x, y, 0.0), None)), setup.ep, setup.renderer)
    # a goal must face its target: a spot without a heading would "face" everything around it
    assert no_yaw.failure_mode is FailureMode.WRONG_HEADING and "no heading" in no_yaw.error


def test_one_goal_indicates_one_receptacle() -> None:
    """A spot within reach of two pieces of furniture answers for the one it faces, not for both."""
    for seed in range(20):
        ep = generate_episode(CFG, seed=seed)
        house = ep.house
        r = Renderer(house, WorldState(house), CFG.camera.intrinsics())
        recs = list(house.receptacles.values())
        for a in recs:
            for b in recs:
                if a.sim_id >= b.sim_id or a.room != b.room:
                    continue
                # a navigable spot within 1 m of both footprints, facing a's centre, b's off to the side
                for gx in [x * 0.1 for x in range(int(house.bounds.max_xyz[0] * 10))]:
                    for gy in [y * 0.1 for y in range(int(house.bounds.max_xyz[1] * 10))]:
                        if not house.is_navigable(gx, gy) or a.footprint_distance(gx, gy) > 0.9 or \
                                b.footprint_distance(gx, gy) > 0.9:
                            continue
                        ga = _facing(gx, gy, a.center)
                        err_b = abs(math.remainder(ga.yaw - math.atan2(b.center[1] - gy, b.center[0] - gx),
                                                   2 * math.pi))
                        if not math.radians(30) < err_b < math.pi / 2 - 0.05:
                            continue
                        ta = _task(AnswerKind.RECEPTACLE, frozenset({NavTarget(REC, sim_id=a.sim_id)}),
                                   now_ns=ep.now_ns)
                        tb = _task(AnswerKind.RECEPTACLE, frozenset({NavTarget(REC, sim_id=b.sim_id)}),
                                   now_ns=ep.now_ns)
                        sa = score_task(ta, _nav(ga, kind=AnswerKind.RECEPTACLE), ep, r)
                        if not sa.success:
                            continue  # a's view is blocked from here
                        sb = score_task(tb, _nav(ga, kind=AnswerKind.RECEPTACLE), ep, r)
                        assert not sb.success and sb.failure_mode is FailureMode.WRONG_TARGET, sb.error
                        assert "faces receptacle" in sb.error
                        return
    pytest.fail("no two receptacles within reach of one spot in seeds 0..19")


def test_target_behind_a_wall_is_not_visible() -> None:
    """An object on furniture against a shared wall; the goal is in the next room, < 2 m away, facing it."""
    for seed in range(10):
        base = generate_episode(CFG, seed=seed)
        house = base.house
        t = house.config.wall_thickness
        for rid, rec in sorted(house.receptacles.items()):
            for slot in rec.slots:
                if slot.relation is not Relation.ON:
                    continue
                nx, ny = rec.normal
                back = rec.box.min_xyz[0] if nx > 0 else rec.box.max_xyz[0] if nx < 0 else (
                    rec.box.min_xyz[1] if ny > 0 else rec.box.max_xyz[1])
                along = slot.y if nx else slot.x
                behind = back - (nx or ny) * (t + 0.4)
                gx, gy = (behind, along) if nx else (along, behind)
                wall = (back - (nx or ny) * t / 2, along) if nx else (along, back - (nx or ny) * t / 2)
                other = house.room_at(gx, gy)
                if other in (None, rec.room) or not house.is_navigable(gx, gy) or house.in_doorway(*wall):
                    continue
                if math.dist((gx, gy), (slot.x, slot.y)) > 1.9:
                    continue
                state = WorldState(house)
                ref = SlotRef(rid, slot.index)
                occupant = [o for o, sl in state.slots().items() if sl == ref]
                oid = occupant[0] if occupant else min(house.objects)
                if not occupant:
                    state.move(oid, ref)
                ep = _episode(base, state)
                r = Renderer(house, state, CFG.camera.intrinsics())
                c = house.object_box(oid, SlotRef(rid, slot.index)).center
                task = _task(AnswerKind.INSTANCE, frozenset({NavTarget(OBJ, sim_id=oid)}), now_ns=ep.now_ns)
                s = score_task(task, _nav(_facing(gx, gy, c)), ep, r)
                assert not s.success and s.failure_mode is FailureMode.NOT_VISIBLE, s
                assert s.distance_success and not s.coverage_success
                # control: the same object seen from its own room is visible
                front = (slot.x + nx * 1.0, slot.y + ny * 1.0)
                if house.is_navigable(*front):
                    assert check_goal(_facing(*front, c), NavTarget(OBJ, sim_id=oid), ep, r).coverage_ok
                return
    pytest.fail("no furniture against a shared wall found in seeds 0..9")


def test_receptacle_rule(setup: Setup) -> None:
    house = setup.ep.house
    rid = setup.ep.initial_state.receptacle_of(setup.obj)
    assert rid is not None
    rec = house.receptacle(rid)
    task = _task(AnswerKind.RECEPTACLE, frozenset({NavTarget(REC, sim_id=rid)}), now_ns=setup.ep.now_ns)
    nx, ny = rec.normal
    (x0, y0, _), (x1, y1, _) = rec.box
    front = ((x0 + x1) / 2 + nx * (x1 - x0) / 2, (y0 + y1) / 2 + ny * (y1 - y0) / 2)

    def goal(d: float, offset: float = 0.0) -> Goal:
        return _facing(front[0] + nx * d, front[1] + ny * d, rec.center, offset)

    assert score_task(task, _nav(goal(0.95), kind=AnswerKind.RECEPTACLE), setup.ep, setup.renderer).success
    far = score_task(task, _nav(goal(1.05), kind=AnswerKind.RECEPTACLE), setup.ep, setup.renderer)
    assert far.failure_mode is FailureMode.TOO_FAR
    assert score_task(task, _nav(goal(0.7, math.pi / 2 - 0.02)), setup.ep, setup.renderer).success
    side = score_task(task, _nav(goal(0.7, math.pi / 2 + 0.02)), setup.ep, setup.renderer)
    assert side.failure_mode is FailureMode.WRONG_HEADING
    inside = score_task(task, _nav(Goal((*rec.center[:2], 0.0), 0.0)), setup.ep, setup.renderer)
    assert inside.failure_mode is FailureMode.NOT_NAVIGABLE


def test_room_inside_outside_and_by_name(setup: Setup) -> None:
    house = setup.ep.house
    a, b = house.rooms[0], house.rooms[1]
    task = _task(AnswerKind.ROOM, frozenset({NavTarget(ROOM, room=a.name)}), value=a.name, now_ns=setup.ep.now_ns)
    cx, cy = a.center_xy
    assert score_task(task, _nav(Goal((cx, cy, 0.0)), kind=AnswerKind.ROOM), setup.ep, setup.renderer).success
    edge = (a.box.max_xyz[0] - 0.01, cy)
    assert score_task(task, _nav(Goal((*edge, 0.0)), kind=AnswerKind.ROOM), setup.ep, setup.renderer).success
    out = score_task(task, _nav(Goal((*b.center_xy, 0.0)), kind=AnswerKind.ROOM), setup.ep, setup.renderer)
    assert not out.success and out.failure_mode is FailureMode.WRONG_ROOM
    named = PlannerAnswer(QueryStatus.OK, AnswerKind.ROOM, "", value=a.name.upper().replace(" ", "_"))
    assert score_task(task, named, setup.ep, setup.renderer).success
    wrong = PlannerAnswer(QueryStatus.OK, AnswerKind.ROOM, "", value=b.name)
    assert score_task(task, wrong, setup.ep, setup.renderer).failure_mode is FailureMode.WRONG_ROOM


def _typed(value: object, kind: AnswerKind) -> PlannerAnswer:
    return PlannerAnswer(QueryStatus.OK, kind, str(value), value=value)  # type: ignore[arg-type]


def test_typed_answers_and_tolerances(setup: Setup) -> None:
    ep, r = setup.ep, setup.renderer
    t_ns = 1_767_600_000 * 10**9
    time_task = _task(AnswerKind.TIME, value=t_ns, tolerance=60.0)
    assert score_task(time_task, _typed(t_ns + 59 * 10**9, AnswerKind.TIME), ep, r).success
    assert score_task(time_task, _typed(t_ns - 59 * 10**9, AnswerKind.TIME), ep, r).success
    late = score_task(time_task, _typed(t_ns + 61 * 10**9, AnswerKind.TIME), ep, r)
    assert late.failure_mode is FailureMode.OUT_OF_TOLERANCE and "61.0 s" in late.error
    dur = _task(AnswerKind.DURATION, value=30.0, tolerance=10.0)
    assert score_task(dur, _typed(39.9, AnswerKind.DURATION), ep, r).success
    assert not score_task(dur, _typed(40.1, AnswerKind.DURATION), ep, r).success
    num = _task(AnswerKind.NUMBER, value=3)
    assert score_task(num, _typed(3, AnswerKind.NUMBER), ep, r).success
    assert score_task(num, _typed(4, AnswerKind.NUMBER), ep, r).failure_mode is FailureMode.WRONG_VALUE
    assert score_task(num, _typed(True, AnswerKind.NUMBER), ep, r).failure_mode is FailureMode.WRONG_ANSWER_KIND
    yes = _task(AnswerKind.BOOLEAN, value=True)
    assert score_task(yes, _typed(True, AnswerKind.BOOLEAN), ep, r).success
    assert score_task(yes, _typed("yes", AnswerKind.BOOLEAN), ep, r).success
    assert not score_task(yes, _typed(False, AnswerKind.BOOLEAN), ep, r).success
    colour = _task(AnswerKind.TEXT, value="green")
    assert score_task(colour, _typed("Green", AnswerKind.TEXT), ep, r).success
    assert score_task(colour, PlannerAnswer(QueryStatus.OK, AnswerKind.TEXT, "It was green."), ep, r).success
    assert not score_task(colour, _typed("greenish", AnswerKind.TEXT), ep, r).success
    for listing in ("It was red, green or blue.", "green or maybe grey", "Green and white."):  # naming every colour
        s = score_task(colour, PlannerAnswer(QueryStatus.OK, AnswerKind.TEXT, listing), ep, r)
        assert s.failure_mode is FailureMode.WRONG_VALUE, listing
    assert not score_task(colour, _typed("red or green", AnswerKind.TEXT), ep, r).success


def test_not_found_scores_only_when_the_answer_names_what_was_asked(setup: Setup) -> None:
    ep, r = setup.ep, setup.renderer
    absent = _task(AnswerKind.INSTANCE, not_found=True, asked="blue ceramic mug")

    def unknown(target: str) -> PlannerAnswer:
        return PlannerAnswer(QueryStatus.NOT_FOUND, AnswerKind.UNKNOWN, "never seen", target=target)

    assert score_task(absent, unknown("blue ceramic mug"), ep, r).success
    assert score_task(absent, unknown("the Blue ceramic mugs."), ep, r).success  # case, punctuation, plural
    for wrong in ("", "mug", "red ceramic mug", "blue mug"):  # not understood / another thing
        s = score_task(absent, unknown(wrong), ep, r)
        assert s.failure_mode is FailureMode.UNKNOWN_WITHOUT_TARGET, wrong
    assert names_asked("boxes", "box") and names_asked("alarm clocks", "alarm clock") and names_asked("vases", "vase")
    assert names_asked("glasses", "glass") and not names_asked("vase", "vases of glass")
    assert not names_asked("", "") and not names_asked("mug", "")
    asked_in_text = dataclasses.replace(absent, text="Navigate to the blue ceramic mug.")
    assert score_task(asked_in_text, unknown("blue ceramic mug"), ep, r).success
    for echo in ("Navigate to the blue ceramic mug.", "navigate to the blue ceramic mug"):  # an unparsed question
        s = score_task(asked_in_text, unknown(echo), ep, r)
        assert s.failure_mode is FailureMode.UNKNOWN_WITHOUT_TARGET and "repeats the question" in s.error
    claimed = score_task(absent, _nav(_facing(*_at(setup, 1.0), setup.center)), ep, r)
    assert claimed.failure_mode is FailureMode.FALSE_POSITIVE
    present = _task(AnswerKind.INSTANCE, frozenset({NavTarget(OBJ, sim_id=setup.obj)}), now_ns=ep.now_ns)
    assert score_task(present, unknown("red mug"), ep, r).failure_mode is FailureMode.GAVE_UP
    no_goal = score_task(present, _typed(3, AnswerKind.NUMBER), ep, r)
    assert no_goal.failure_mode is FailureMode.WRONG_ANSWER_KIND


def test_every_valid_typed_answer_is_accepted(setup: Setup) -> None:
    ep, r = setup.ep, setup.renderer
    t1, t2 = 1_767_600_000 * 10**9, 1_767_700_000 * 10**9
    either = _task(AnswerKind.TIME, value=t2, tolerance=60.0, alternatives=(t1,))
    assert score_task(either, _typed(t1 + 30 * 10**9, AnswerKind.TIME), ep, r).success
    assert score_task(either, _typed(t2 - 30 * 10**9, AnswerKind.TIME), ep, r).success
    assert not score_task(either, _typed((t1 + t2) // 2, AnswerKind.TIME), ep, r).success
    colours = _task(AnswerKind.TEXT, value="red", alternatives=("blue",))
    assert score_task(colours, _typed("blue", AnswerKind.TEXT), ep, r).success
    assert not score_task(colours, _typed("green", AnswerKind.TEXT), ep, r).success


def test_strict_rules_are_stricter(setup: Setup) -> None:
    ep, r = setup.ep, setup.renderer
    t_ns = 1_767_600_000 * 10**9  # on a minute boundary
    time_task = _task(AnswerKind.TIME, value=t_ns + 10 * 10**9, tolerance=60.0)
    same_minute = score_task(time_task, _typed(t_ns + 50 * 10**9, AnswerKind.TIME), ep, r)
    next_minute = score_task(time_task, _typed(t_ns + 61 * 10**9, AnswerKind.TIME), ep, r)
    assert same_minute.success and same_minute.strict_success
    assert next_minute.success and not next_minute.strict_success
    dur = _task(AnswerKind.DURATION, value=30.0, tolerance=10.0)
    assert score_task(dur, _typed(30.5, AnswerKind.DURATION), ep, r).strict_success
    assert not score_task(dur, _typed(35.0, AnswerKind.DURATION), ep, r).strict_success
    obj_task = _task(AnswerKind.INSTANCE, frozenset({NavTarget(OBJ, sim_id=setup.obj)}), now_ns=ep.now_ns)
    near = score_task(obj_task, _nav(_facing(*_at(setup, 1.0), setup.center)), ep, r)
    assert near.success and near.strict_success  # in the open, the path is the straight line
    for sc in (near,):
        assert not sc.strict_success or sc.success  # strict never passes what relaxed fails


def test_stale_flag_rules(setup: Setup) -> None:
    ep, r = setup.ep, setup.renderer
    goal = _nav(_facing(*_at(setup, 1.0), setup.center))
    flagged = dataclasses.replace(goal, may_have_moved=True)
    stale = _task(AnswerKind.INSTANCE, frozenset({NavTarget(OBJ, sim_id=setup.obj)}), now_ns=ep.now_ns,
                  requires_may_have_moved=True)
    assert score_task(stale, flagged, ep, r).success
    assert score_task(stale, goal, ep, r).failure_mode is FailureMode.STALE_NOT_FLAGGED
    fresh = _task(AnswerKind.INSTANCE, frozenset({NavTarget(OBJ, sim_id=setup.obj)}), now_ns=ep.now_ns,
                  forbids_may_have_moved=True)
    assert score_task(fresh, goal, ep, r).success
    assert score_task(fresh, flagged, ep, r).failure_mode is FailureMode.WRONGLY_FLAGGED
    plain = _task(AnswerKind.INSTANCE, frozenset({NavTarget(OBJ, sim_id=setup.obj)}), now_ns=ep.now_ns)
    assert score_task(plain, flagged, ep, r).success and score_task(plain, goal, ep, r).success


@pytest.fixture(scope="module")
def two(setup: Setup) -> tuple[Setup, int, Goal, Goal]:
    """A second object and oracle goals for both."""
    ep = setup.ep
    other = next(o for o in sorted(ep.house.objects) if o != setup.obj and
                 math.dist(ep.initial_state.position(o)[:2], setup.center[:2]) > 4.5)  # type: ignore[index]
    task = _task(AnswerKind.LIST, frozenset({NavTarget(OBJ, sim_id=setup.obj)}),
                 frozenset({NavTarget(OBJ, sim_id=other)}), now_ns=ep.now_ns)
    ga, gb = oracle_answer(task, ep, setup.renderer).goals
    return setup, other, ga, gb


def test_multi_goal_ordered_vs_unordered(two: tuple[Setup, int, Goal, Goal]) -> None:
    s, other, ga, gb = two
    a_set, b_set = frozenset({NavTarget(OBJ, sim_id=s.obj)}), frozenset({NavTarget(OBJ, sim_id=other)})
    unordered = _task(AnswerKind.LIST, a_set, b_set, now_ns=s.ep.now_ns)
    ordered = _task(AnswerKind.LIST, a_set, b_set, ordered=True, now_ns=s.ep.now_ns)
    lst = AnswerKind.LIST
    assert score_task(unordered, _nav(gb, ga, kind=lst), s.ep, s.renderer).success
    assert score_task(ordered, _nav(ga, gb, kind=lst), s.ep, s.renderer).success
    swapped = score_task(ordered, _nav(gb, ga, kind=lst), s.ep, s.renderer)
    assert not swapped.success and swapped.failure_mode is FailureMode.WRONG_ORDER
    twice = score_task(unordered, _nav(ga, ga, kind=lst), s.ep, s.renderer)
    assert not twice.success and twice.failure_mode is FailureMode.WRONG_TARGET  # one goal can't serve both
    assert score_task(unordered, _nav(ga, kind=lst), s.ep, s.renderer).failure_mode is FailureMode.MISSING_GOALS
    extra = score_task(unordered, _nav(ga, gb, ga, kind=lst), s.ep, s.renderer)
    assert extra.failure_mode is FailureMode.EXTRA_GOALS


def test_spl_values(two: tuple[Setup, int, Goal, Goal]) -> None:
    s, other, ga, gb = two
    a_set = frozenset({NavTarget(OBJ, sim_id=s.obj)})
    # single goal: start 0.5 m in front of the object, goal 1.5 m in front -> l = 0.5, p = 1.0
    ep = _episode(s.ep, s.ep.initial_state, RobotPose(*_at(s, 0.5), 0.0))
    task = _task(AnswerKind.INSTANCE, a_set, now_ns=ep.now_ns)
    sc = score_task(task, _nav(_facing(*_at(s, 1.5), s.center)), ep, s.renderer)
    assert sc.success and sc.spl == pytest.approx(0.5)
    # start 3 m out, goal 1.5 m out: p = 1.5 < l = 3 -> SPL 1
    ep3 = _episode(s.ep, s.ep.initial_state, RobotPose(*_at(s, 3.0), 0.0))
    assert score_task(task, _nav(_facing(*_at(s, 1.5), s.center)), ep3, s.renderer).spl == pytest.approx(1.0)
    # multi-goal: l = best visiting order through the object centres, p = the answer's path
    start = _at(s, 1.0)
    epm = _episode(s.ep, s.ep.initial_state, RobotPose(*start, 0.0))
    pa, pb = s.center[:2], epm.initial_state.position(other)[:2]  # type: ignore[index]
    l_best = min(math.dist(start, pa) + math.dist(pa, pb), math.dist(start, pb) + math.dist(pb, pa))
    ga2, gb2 = ga.position[:2], gb.position[:2]
    b_set = frozenset({NavTarget(OBJ, sim_id=other)})
    for order, ordered in (((ga, gb), False), ((gb, ga), False), ((ga, gb), True)):
        taken = math.dist(start, order[0].position[:2]) + math.dist(ga2, gb2)
        want_l = math.dist(start, pa) + math.dist(pa, pb) if ordered else l_best
        t = _task(AnswerKind.LIST, a_set, b_set, ordered=ordered, now_ns=epm.now_ns)
        sc = score_task(t, _nav(*order, kind=AnswerKind.LIST), epm, s.renderer)
        assert sc.success and sc.spl == pytest.approx(want_l / max(taken, want_l))
    assert 0.0 < score_task(_task(AnswerKind.LIST, a_set, b_set, now_ns=epm.now_ns),
                            _nav(gb, ga, kind=AnswerKind.LIST), epm, s.renderer).spl < 1.0


def test_failure_counts_and_summary() -> None:
    fam = TaskFamily.OBJECT_RECALL

    def sc(ok: bool, mode: FailureMode, moved: bool, spl: float) -> TaskScore:
        return TaskScore("x", fam, ok, ok, ok or mode is FailureMode.TOO_FAR, spl, mode, "", "", moved)

    scores = [sc(True, FailureMode.NONE, True, 0.8), sc(False, FailureMode.TOO_FAR, True, 0.0),
              sc(False, FailureMode.TOO_FAR, False, 0.0), sc(False, FailureMode.GAVE_UP, False, 0.0)]
    counts = failure_mode_counts(scores)
    assert counts["too_far"] == 2 and counts["gave_up"] == 1 and counts["wrong_heading"] == 0
    assert "none" not in counts
    m = summarize(scores)
    assert m["n"] == 4 and m["success_rate"] == 0.25 and m["spl"] == pytest.approx(0.2)
    assert m["coverage_success_rate"] == 0.75 and m["success_rate_moved"] == 0.5 and m["success_rate_static"] == 0
    assert math.isnan(summarize([])["success_rate"])
