"""Rule-based planner: parsing of every suite template and of paraphrases, and answers checked against the
simulator's ground truth on a small generated episode (real memory, real scorer)."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from robomem_sim.agents import (
    AgentsConfig,
    EpisodeInfo,
    create_agent,
    eval_memory_config,
    get_encoder,
    sim_receptacle_prior,
    sim_shape_lexicon,
)
from robomem_sim.config import SimConfig
from robomem_sim.episode import EventKind, generate_episode, iter_frames
from robomem_sim.render import look_at
from robomem_sim.scoring import score_task
from robomem_sim.tasks import TEMPLATES, generate_tasks
from robomem_sim.types import TaskFamily

from robomem.config import EncoderConfig, MemoryConfig
from robomem.core.memory import SpatioSemanticMemory
from robomem.core.query_types import QueryStatus
from robomem.core.types import Frame
from robomem.planner.base import AnswerKind, create_planner, planner_names
from robomem.planner.rule_based import (
    DAY_NS,
    NS,
    Intent,
    RuleBasedConfig,
    RuleBasedPlanner,
    parse_task,
    split_label,
)

DAY1 = 1_767_571_200 * NS  # 2026-01-05 00:00 UTC
NOW = DAY1 + 22 * 3600 * NS

I = Intent
TEMPLATE_INTENTS: dict[TaskFamily, list[Intent]] = {
    TaskFamily.OBJECT_RECALL: [I.FIND_OBJECT] * 3,
    TaskFamily.OBJECT_ATTRIBUTE: [I.FIND_OBJECT, I.FIND_OBJECT, I.FIND_OBJECT, I.OBJECT_ATTRIBUTE],
    TaskFamily.INTERACTION: [I.FIND_OBJECT, I.FIND_OBJECT, I.DID_PICK],
    TaskFamily.CONDITIONAL_INTERACTION: [I.PICK_RECEPTACLE, I.PLACE_RECEPTACLE, I.FIND_OBJECT],
    TaskFamily.SPATIAL_RELATIONSHIP: [I.RECEPTACLE_NEAR_OBJECT, I.RECEPTACLE_NEAR_OBJECT, I.OBJECT_NEAR_RECEPTACLE],
    TaskFamily.ROOM_VISITATION: [I.ROOM_NOT_VISITED, I.ROOM_START, I.ROOM_MOST_TIME, I.ROOM_END, I.ROOM_ENTRIES],
    TaskFamily.INTERACTION_ORDER: [I.PICK_ORDER] * 4,
    TaskFamily.TIME_BASED: [I.PICK_AT_TIME, I.PLACE_AT_TIME, I.PICK_TIME, I.ROOM_AT_TIME],
    TaskFamily.DURATION: [I.DURATION_EXTREME, I.DURATION_EXTREME, I.DURATION_OF],
    TaskFamily.MULTI_GOAL_UNORDERED: [I.MULTI_PICKED, I.MULTI_LIST],
    TaskFamily.MULTI_GOAL_ORDERED: [I.MULTI_PICKED, I.MULTI_PLACED_RECEPTACLES, I.MULTI_LIST],
    TaskFamily.WHERE_NOW: [I.FIND_OBJECT, I.OBJECT_ROOM],
    TaskFamily.CHANGES: [I.CHANGES, I.CHANGES],
    TaskFamily.COUNTING: [I.COUNT_CATEGORY, I.COUNT_PICKED, I.COUNT_ROOMS],
    TaskFamily.ABSENCE: [I.FIND_OBJECT] * 3,
}
FILL = {
    "object": "red ceramic mug",
    "objects": "the red ceramic mug, the blue glass vase and the green plastic alarm clock",
    "category": "alarm clock",
    "categories": "alarm clocks",
    "receptacle": "tv stand",
    "room": "living room",
    "time": "14:05",
    "ordinal": "third",
    "colour": "green",
    "material": "glass",
    "shape": "cylindrical",
}


# ============================================================================================ parsing


def test_template_table_covers_every_template():
    # the table covers the templates published before issue 8 (the suite only adds templates after them)
    assert set(TEMPLATE_INTENTS) == set(TEMPLATES)
    for fam, templates in TEMPLATES.items():
        assert len(TEMPLATE_INTENTS[fam]) <= len(templates), fam


@pytest.mark.parametrize(
    ("family", "index"),
    [(f, i) for f, ts in TEMPLATE_INTENTS.items() for i in range(len(ts))],
    ids=lambda v: v.value if isinstance(v, TaskFamily) else str(v),
)
def test_every_template_parses_to_its_intent(family, index):
    text = TEMPLATES[family][index].format(**FILL)
    plan = parse_task(text, DAY1, NOW)
    assert plan.intent is TEMPLATE_INTENTS[family][index], text
    if "{object}" in TEMPLATES[family][index] and plan.intent is not Intent.PICK_ORDER:
        assert plan.object_phrase == "red ceramic mug"
    if "{objects}" in TEMPLATES[family][index]:
        assert plan.objects == ("red ceramic mug", "blue glass vase", "green plastic alarm clock")
        assert plan.ordered is (family is TaskFamily.MULTI_GOAL_ORDERED)
    if "{room}" in TEMPLATES[family][index] and plan.intent is not Intent.OBJECT_ATTRIBUTE:
        assert plan.room == "living room"
    if "{time}" in TEMPLATES[family][index]:
        t = plan.at_ns if plan.at_ns is not None else plan.t0_ns
        assert t == DAY1 + (14 * 3600 + 5 * 60) * NS


def test_template_slots():
    p = parse_task("What colour was the alarm clock you picked up from the tv stand in the living room?", DAY1, NOW)
    assert (p.object_phrase, p.attribute_kind, p.receptacle, p.room, p.relation) == (
        "alarm clock",
        "color",
        "tv stand",
        "living room",
        "picked_from",
    )
    p = parse_task("Navigate to the third object you picked up.", DAY1, NOW)
    assert p.ordinal == 3
    p = parse_task("Navigate to the last object you picked up.", DAY1, NOW)
    assert p.ordinal == -1
    p = parse_task("Navigate to the object that took the shortest time to rearrange.", DAY1, NOW)
    assert p.superlative == "shortest"
    p = parse_task("Navigate to the receptacle farthest from the red ceramic mug.", DAY1, NOW)
    assert p.superlative == "farthest"
    p = parse_task("Navigate to the object you interacted with that is made of glass.", DAY1, NOW)
    assert (p.attribute, p.attribute_kind, p.interacted) == ("glass", "material", True)
    p = parse_task("Navigate to any alarm clock you did not interact with.", DAY1, NOW)
    assert (p.object_phrase, p.interacted, p.definite) == ("alarm clock", False, False)
    p = parse_task("Navigate to the objects you picked up, in the order you picked them up.", DAY1, NOW)
    assert p.ordered is True
    p = parse_task("Navigate to all the objects you picked up, in any order.", DAY1, NOW)
    assert p.ordered is False


def test_times_with_days_and_day_parts():
    p = parse_task("Navigate to the object you picked up at 09:30 on day 2.", DAY1, NOW + DAY_NS)
    assert p.at_ns == DAY1 + DAY_NS + (9 * 3600 + 1800) * NS
    p = parse_task("Which room were you in at 2 pm?", DAY1, NOW)
    assert p.at_ns == DAY1 + 14 * 3600 * NS
    p = parse_task("Which room were you in at noon?", DAY1, NOW)
    assert p.at_ns == DAY1 + 12 * 3600 * NS
    p = parse_task("go to the mug you moved after lunch", DAY1, NOW)
    assert (p.t0_ns, p.t1_ns) == (DAY1 + 13 * 3600 * NS, NOW)
    p = parse_task("go to the mug you moved this morning", DAY1, NOW)
    assert (p.t0_ns, p.t1_ns) == (DAY1, DAY1 + 12 * 3600 * NS)


@pytest.mark.parametrize(
    ("text", "intent", "slots"),
    [
        ("Where did I leave my keys?", Intent.FIND_OBJECT, {"object_phrase": "keys"}),
        ("where is my red ceramic mug now?", Intent.FIND_OBJECT, {"object_phrase": "red ceramic mug"}),
        ("Go to the mug you moved after lunch.", Intent.FIND_OBJECT, {"object_phrase": "mug", "interacted": True}),
        ("What changed in the kitchen since 9:00?", Intent.CHANGES, {"room": "kitchen", "t0_ns": DAY1 + 9 * 3600 * NS}),
        ("Which object did I move first?", Intent.PICK_ORDER, {"ordinal": 1}),
        ("which thing did you pick up last", Intent.PICK_ORDER, {"ordinal": -1}),
        ("How many mugs are there?", Intent.COUNT_CATEGORY, {"object_phrase": "mugs"}),
        ("Please take me to the tv stand you put the remote on", Intent.PLACE_RECEPTACLE, {"object_phrase": "remote"}),
        ("where did you get the blue book from?", Intent.PICK_RECEPTACLE, {"object_phrase": "blue book"}),
        ("when did I pick up the wallet?", Intent.PICK_TIME, {"object_phrase": "wallet"}),
        ("did I touch the red mug?", Intent.DID_PICK, {"object_phrase": "red mug"}),
        (
            "Go to the mug, the book and then the vase",
            Intent.MULTI_LIST,
            {"objects": ("mug", "book", "vase"), "ordered": True},
        ),
        ("find a bowl", Intent.FIND_OBJECT, {"object_phrase": "bowl", "definite": False}),
        ("how long did it take to move the red mug", Intent.DURATION_OF, {"object_phrase": "red mug"}),
    ],
)
def test_paraphrases(text, intent, slots):
    p = parse_task(text, DAY1, NOW)
    assert p.intent is intent, text
    for k, v in slots.items():
        assert getattr(p, k) == v, (text, k)


@pytest.mark.parametrize("text", ["", "   ", "blorp zzz quux", "sing me a song", "how are you?"])
def test_unparseable_tasks_raise_with_reason(text):
    with pytest.raises(ValueError, match="empty|could not understand"):
        parse_task(text, DAY1, NOW)


def test_label_split_and_registry():
    assert split_label("red ceramic mug") == ("red", "ceramic", "mug")
    assert split_label("teal wooden alarm clock") == ("teal", "wooden", "alarm clock")
    assert split_label("counter") == (None, None, "counter")
    assert "rule_based" in planner_names()
    assert isinstance(create_planner("rule_based"), RuleBasedPlanner)
    with pytest.raises(Exception, match="standoff_m"):
        RuleBasedPlanner(RuleBasedConfig(standoff_m=0.0))


def test_empty_memory_and_gibberish_answer_unknown_with_reason():
    mem = SpatioSemanticMemory(MemoryConfig(encoder=EncoderConfig(backend="hash")), get_encoder("hash"))
    pl = RuleBasedPlanner()
    a = pl.answer("Navigate to the red ceramic mug.", mem, now_ns=NOW)
    assert (a.status, a.kind) == (QueryStatus.NOT_FOUND, AnswerKind.UNKNOWN)
    assert "memory is empty" in a.text and a.goals == ()
    a = pl.answer("blorp zzz quux", mem, now_ns=NOW)
    assert (a.status, a.kind) == (QueryStatus.NOT_FOUND, AnswerKind.UNKNOWN)
    assert "could not understand" in a.text


# ============================================================================================ ground truth


def _small_config() -> SimConfig:
    c = SimConfig()
    return dataclasses.replace(
        c,
        house=dataclasses.replace(c.house, n_rooms=4, n_objects=12, n_distractors=2),
        dynamics=dataclasses.replace(c.dynamics, days=1, min_interactions_per_day=3, max_interactions_per_day=4),
    )


@pytest.fixture(scope="module")
def world():
    """A small episode, robomem's memory of it (hash encoder: fast, labels are exact), and its tasks."""
    ep = generate_episode(_small_config(), seed=3)
    agent = create_agent("robomem", AgentsConfig(encoder="hash"))
    agent.reset(EpisodeInfo("t", 3, tuple(ep.house.regions()), len(ep.frames), ep.frames[0].stamp_ns, ep.now_ns))
    for f in iter_frames(ep):
        agent.observe(f)
    # the templates this planner was written for (issue 8 added more after them)
    tasks = [t for t in generate_tasks(ep, per_family=3) if int(t.meta["template"]) < len(TEMPLATE_INTENTS[t.family])]
    planner = RuleBasedPlanner(shape_lexicon=sim_shape_lexicon(), receptacle_prior=sim_receptacle_prior())
    return ep, agent.memory, tasks, planner


def test_every_family_against_ground_truth(world):
    ep, mem, tasks, planner = world
    renderer = ep.renderer()
    by_family: dict[TaskFamily, list[bool]] = {}
    for task in tasks:
        ans = planner.answer(task.text, mem, now_ns=task.now_ns)
        score = score_task(task, ans, ep, renderer)
        by_family.setdefault(task.family, []).append(score.success)
        assert ans.plan, f"no memory query recorded for {task.text!r}"
        if ans.kind is not AnswerKind.UNKNOWN:
            assert ans.status is QueryStatus.OK
        for g in ans.goals:
            assert ep.house.is_navigable(g.position[0], g.position[1]), (task.text, g)
    missing = {f for f in TaskFamily} - set(by_family)
    # families this episode cannot support (no unseen move seen before it happened, ...) are allowed to be absent
    assert len(missing) <= 2, f"families without tasks: {missing}"
    scores = [s for v in by_family.values() for s in v]
    assert sum(scores) / len(scores) >= 0.85, {f.value: v for f, v in by_family.items()}
    for fam, results in by_family.items():
        if fam in (TaskFamily.WHERE_NOW, TaskFamily.CHANGES):  # can be unknowable (moved while never seen)
            continue
        if fam is TaskFamily.ABSENCE:  # "not found" scores only naming the asked thing (PlannerAnswer.target,
            continue  # issue 8), which this planner does not fill yet (issue 9)
        assert sum(results) / len(results) >= 0.5, (fam, results)


def test_goals_face_their_target_from_a_standoff(world):
    ep, mem, _tasks, planner = world
    last_event = {ev.object_id: ev for ev in ep.log.events}
    # an object the robot itself put down last (so the memory saw where it is now)
    oid = next(it.object_id for it in ep.log.interactions if last_event[it.object_id].kind is EventKind.PLACE)
    label = ep.house.label(oid)
    ans = planner.answer(f"Navigate to the {label}.", mem, now_ns=ep.now_ns)
    assert ans.kind is AnswerKind.INSTANCE and len(ans.goals) == 1
    g = ans.goals[0]
    obj = ep.state_at(ep.now_ns).position(oid)
    d = math.hypot(obj[0] - g.position[0], obj[1] - g.position[1])
    assert 0.4 <= d <= 2.0
    assert g.yaw is not None
    assert abs(math.remainder(math.atan2(obj[1] - g.position[1], obj[0] - g.position[0]) - g.yaw, 2 * math.pi)) < 0.3


def test_paraphrases_against_ground_truth(world):
    ep, mem, _tasks, planner = world
    its = ep.log.interactions
    first_label = ep.house.label(its[0].object_id)
    a = planner.answer("Which object did I move first?", mem, now_ns=ep.now_ns)
    assert a.kind is AnswerKind.INSTANCE and a.value == first_label
    # "go to the <category> you moved after <time>": the category of the last pick, after the one before it
    last = its[-1]
    cat = ep.house.object(last.object_id).category
    hhmm = ep.clock.format_time(its[-2].pick_ns + 60 * NS, with_day=False)
    a = planner.answer(f"go to the {cat} you moved after {hhmm}", mem, now_ns=ep.now_ns)
    assert a.kind is AnswerKind.INSTANCE and a.value == ep.house.label(last.object_id), a.text
    # counting with a plural and "are there"
    n_cat = len([o for o in ep.log.seen_ids() if o in ep.house.objects and ep.house.object(o).category == cat])
    a = planner.answer(f"How many {cat}s are there?", mem, now_ns=ep.now_ns)
    assert a.kind is AnswerKind.NUMBER and a.value == n_cat
    # what changed: a list answer with one goal per moved object
    room = its[0].to_room
    a = planner.answer(f"What changed in the {room} since 06:00?", mem, now_ns=ep.now_ns)
    assert a.kind is AnswerKind.LIST and len(a.goals) >= 1 and len(a.goals) == len(a.instance_ids)
    # an object that does not exist: an honest "I don't know" that names it
    a = planner.answer("Navigate to the purple velvet giraffe.", mem, now_ns=ep.now_ns)
    assert a.kind is AnswerKind.UNKNOWN and "giraffe" in a.text


def _render_frame(house, renderer, eye, target, stamp_ns):
    T = look_at(eye, target)
    rgb, depth, ids = renderer.render(T)
    visible = {int(v) for v in np.unique(ids) if v >= 0}
    return Frame(
        rgb=rgb,
        depth=depth,
        intrinsics=renderer.intrinsics,
        world_T_camera=T,
        stamp_ns=stamp_ns,
        instance_mask=ids,
        instance_labels={i: house.label(i) for i in visible},
        receptacle_ids=frozenset(visible & set(house.receptacles)),
    )


def test_object_gone_from_its_place_is_predicted_and_said_so(world):
    """Look at an object on its receptacle and at another receptacle of a kind such objects are kept on; then
    look again at the first place with the object gone: the answer predicts the other receptacle, and says so."""
    ep, _mem, _tasks, planner = world
    house = ep.house
    state = ep.state_at(ep.now_ns)
    prior = sim_receptacle_prior()
    choice = None
    for oid in sorted(house.objects):
        rid = state.receptacle_of(oid)
        if rid is None:
            continue
        cat = house.object(oid).category
        others = [
            r
            for r in house.receptacles.values()
            if r.sim_id != rid and r.category in prior.get(cat, {}) and r.category != house.receptacle(rid).category
        ]
        if others:
            choice = (oid, house.receptacle(rid), max(others, key=lambda r: (prior[cat][r.category], -r.sim_id)))
            break
    assert choice is not None
    oid, rec, other = choice

    def eye(r):
        c = r.center
        return (c[0] + 1.6 * r.normal[0], c[1] + 1.6 * r.normal[1], 1.2)

    renderer = ep.renderer()
    renderer.sync(state)
    cfg = eval_memory_config(AgentsConfig(encoder="hash"))
    mem = SpatioSemanticMemory(cfg, get_encoder("hash"), house.regions())
    t0 = DAY1 + 8 * 3600 * NS
    obj_c = state.position(oid)
    mem.ingest(_render_frame(house, renderer, eye(rec), obj_c, t0))
    mem.ingest(_render_frame(house, renderer, eye(other), other.center, t0 + 5 * NS))
    label = house.label(oid)
    a = planner.answer(f"Navigate to the {label}.", mem, now_ns=t0 + 20 * NS)
    assert a.kind is AnswerKind.INSTANCE and "prediction" not in a.text  # still where it was seen
    renderer.set_object_box(oid, None)  # someone takes it away
    mem.ingest(_render_frame(house, renderer, eye(rec), obj_c, t0 + 10 * NS))
    gone = [i for i in mem.instances() if i.label == label]
    assert gone and not gone[0].present, "the memory should have seen the place empty"
    a = planner.answer(f"Navigate to the {label}.", mem, now_ns=t0 + 20 * NS)
    assert a.kind is AnswerKind.INSTANCE and "prediction" in a.text, a.text
    g = a.goals[0]
    assert other.footprint_distance(g.position[0], g.position[1]) <= 1.0  # goes to the predicted receptacle
    a = planner.answer(f"Which room is the {label} in now?", mem, now_ns=t0 + 20 * NS)
    assert a.kind is AnswerKind.ROOM and a.value == other.room and "prediction" in a.text


def test_everyday_words_find_the_category(world):
    ep, mem, _tasks, planner = world
    present = {ep.house.object(o).category for o in ep.log.seen_ids() if o in ep.house.objects}
    pairs = [
        ("keys", "keychain"),
        ("cup", "mug"),
        ("cellphone", "phone"),
        ("cushion", "pillow"),
        ("dish", "plate"),
        ("computer", "laptop"),
        ("clock", "alarm clock"),
        ("flower", "plant"),
        ("purse", "wallet"),
    ]
    usable = [(word, cat) for word, cat in pairs if cat in present]
    assert usable, f"seed 3 should show one of {[c for _, c in pairs]}"
    for word, cat in usable:
        a = planner.answer(f"Where did I leave my {word}?", mem, now_ns=ep.now_ns)
        assert a.kind is AnswerKind.INSTANCE and a.value is not None and str(a.value).endswith(cat), (word, a.text)
