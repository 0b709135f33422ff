"""Evaluation agents and baselines on one tiny episode (real memory, real scorer)."""

from __future__ import annotations

import dataclasses

import pytest
from robomem_sim.agents import (
    AGENT_NAMES,
    DEFAULT_AGENTS,
    SIM_TIMEZONE,
    Agent,
    AgentsConfig,
    EpisodeInfo,
    MemoryAgent,
    RandomGuessAgent,
    create_agent,
    create_agents,
    select_uniform,
)
from robomem_sim.config import SimConfig
from robomem_sim.episode import generate_episode, iter_frames
from robomem_sim.perception import Perceiver, PerceptionMode
from robomem_sim.scoring import score_task
from robomem_sim.tasks import generate_tasks

from robomem.config import MaskIdMode
from robomem.core.query_types import QueryStatus
from robomem.core.types import NodeKind
from robomem.errors import SimError
from robomem.planner.base import AnswerKind, PlannerAnswer

LAST_N = 40
UNIFORM_K = 30


def _tiny_config() -> SimConfig:
    c = SimConfig()
    return dataclasses.replace(
        c,
        house=dataclasses.replace(c.house, n_rooms=3, n_objects=8, n_distractors=1),
        dynamics=dataclasses.replace(c.dynamics, days=1, min_interactions_per_day=2, max_interactions_per_day=3),
    )


MODES = (PerceptionMode.GT_IDS, PerceptionMode.GT_SEGMENTS)


@pytest.fixture(scope="module")
def run():
    ep = generate_episode(_tiny_config(), seed=1)
    cfg = AgentsConfig(encoder="hash", last_n=LAST_N, uniform_k=UNIFORM_K)
    agents = create_agents(DEFAULT_AGENTS, cfg, MODES)
    info = EpisodeInfo("tiny", 1, tuple(ep.house.regions()), len(ep.frames), ep.frames[0].stamp_ns, ep.now_ns)
    for a in agents:
        a.reset(info)
    stamps = [f.stamp_ns for f in ep.frames]
    perceivers = {m: Perceiver(m, 1, ep.house.labels(), frozenset(ep.house.receptacles), stamps) for m in MODES}
    for i, f in enumerate(iter_frames(ep)):  # each frame rendered once, converted once per mode
        for m, p in perceivers.items():
            pf = p.convert(i, f)
            for a in agents:
                if a.perception == m.value:
                    a.observe(pf.frame)
    tasks = generate_tasks(ep, per_family=2)
    renderer = ep.renderer()
    answers = {(a.name, a.perception): [a.answer(t) for t in tasks] for a in agents}
    scores = {k: [score_task(t, ans, ep, renderer) for t, ans in zip(tasks, v)] for k, v in answers.items()}
    return ep, {(a.name, a.perception): a for a in agents}, tasks, answers, scores


def test_every_agent_answers_every_task_in_every_mode(run):
    ep, agents, tasks, answers, _ = run
    assert len(ep.frames) > LAST_N + UNIFORM_K
    memory_agents = [n for n in DEFAULT_AGENTS if n != "no_memory"]
    assert set(agents) == {(n, m.value) for n in memory_agents for m in MODES} | {("no_memory", "none")}
    for key, a in agents.items():
        assert isinstance(a, Agent)
        assert len(answers[key]) == len(tasks)
        assert all(isinstance(x, PlannerAnswer) for x in answers[key])


def test_frame_selection_of_the_baselines(run):
    ep, agents, *_ = run
    n = len(ep.frames)
    for m in MODES:
        assert agents[("robomem", m.value)].frames_ingested == n
        assert agents[("static_map", m.value)].frames_ingested == n
        assert agents[("last_n_frames", m.value)].frames_ingested == LAST_N
        assert agents[("uniform_keyframes", m.value)].frames_ingested == UNIFORM_K
    # last_n: only the end of the episode is in memory
    first, _ = agents[("last_n_frames", "gt_ids")].memory.time_range()
    assert first == ep.frames[n - LAST_N].stamp_ns
    # uniform: FindingDory's linspace subsampling, first and last frame included
    keep = select_uniform(UNIFORM_K)(n)
    assert keep is not None and len(keep) == UNIFORM_K and 0 in keep and n - 1 in keep
    assert select_uniform(UNIFORM_K)(UNIFORM_K - 1) is None  # short episodes: every frame


def test_baselines_get_the_same_perception_as_robomem(run):
    _, agents, *_ = run
    for m in MODES:
        want = MaskIdMode.PERSISTENT if m is PerceptionMode.GT_IDS else MaskIdMode.PER_FRAME
        for name in ("robomem", "static_map", "last_n_frames", "uniform_keyframes"):
            assert agents[(name, m.value)].memory_config.objects.mask_ids is want, (name, m)
        assert agents[("static_map", m.value)].memory_config.voxel.removal is False
        assert agents[("robomem", m.value)].memory_config.voxel.removal is True


def test_static_map_with_per_frame_segments_keeps_stale_copies(run):
    ep, agents, *_ = run
    static = agents[("static_map", "gt_segments")]
    robomem = agents[("robomem", "gt_ids")]
    assert ep.log.interactions, "the tiny episode must contain pick-and-places"
    objs = [i for i in static.memory.instances() if i.kind is NodeKind.OBJECT]
    assert all(i.present for i in objs)  # nothing ever vanishes from the static map
    moved = [
        i
        for i in robomem.memory.instances()
        if len(robomem.memory.history(instance_id=i.instance_id).placements) >= 2 and i.kind is NodeKind.OBJECT
    ]
    assert moved, "with tracker ids robomem follows the moved objects"
    labels = [i.label for i in objs]
    assert any(labels.count(m.label) >= 2 for m in moved)  # old place + new place


def test_robomem_beats_the_memoryless_baselines(run):
    _, _, _, _, scores = run
    rate = {k: sum(s.success for s in v) / len(v) for k, v in scores.items()}
    assert rate[("robomem", "gt_ids")] >= 0.5, rate
    for base in (("last_n_frames", "gt_ids"), ("no_memory", "none")):
        assert rate[("robomem", "gt_ids")] > rate[base], rate


def test_no_memory_says_it_does_not_know_and_random_guess_draws_the_right_type(run):
    ep, agents, tasks, answers, _ = run
    for ans in answers[("no_memory", "none")]:
        assert (ans.status, ans.kind, ans.target) == (QueryStatus.NOT_FOUND, AnswerKind.UNKNOWN, "")
    guess = RandomGuessAgent(0)
    info = EpisodeInfo("tiny", 1, tuple(ep.house.regions()), len(ep.frames), ep.frames[0].stamp_ns, ep.now_ns)
    guess.reset(info)
    first = [guess.answer(t) for t in tasks]
    names = {r.name for r in ep.house.regions()}
    for t, ans in zip(tasks, first):
        assert ans.status is QueryStatus.OK and ans.kind is not AnswerKind.UNKNOWN
        if t.expected.kind is AnswerKind.ROOM:
            assert ans.value in names
        elif t.expected.kind in (AnswerKind.INSTANCE, AnswerKind.RECEPTACLE, AnswerKind.LIST):
            assert ans.goals and all(ep.house.room_at(g.position[0], g.position[1]) for g in ans.goals)
        else:
            assert ans.value is not None
    again = RandomGuessAgent(0)
    again.reset(info)
    assert [again.answer(t) for t in tasks] == first  # seeded per task
    assert not any("parse" in type(x).__name__.lower() for x in (guess, again))


def test_agent_factory_errors():
    with pytest.raises(SimError, match="unknown agent 'oracle'"):
        create_agent("oracle")
    with pytest.raises(SimError, match="listed twice"):
        create_agents(["no_memory", "no_memory"])
    with pytest.raises(SimError, match="last_n"):
        create_agent("last_n_frames", AgentsConfig(encoder="hash", last_n=0))
    a = create_agent("robomem", AgentsConfig(encoder="hash"))
    assert isinstance(a, MemoryAgent)
    with pytest.raises(SimError, match="reset"):
        a.observe(None)  # type: ignore[arg-type]
    assert set(DEFAULT_AGENTS) <= set(AGENT_NAMES) and "robomem_vlm" in AGENT_NAMES


def test_rejected_frame_is_counted_and_memory_keeps_working(run):
    ep, *_ = run
    a = create_agent("robomem", AgentsConfig(encoder="hash"))
    a.reset(EpisodeInfo("x", 1, tuple(ep.house.regions()), 3, ep.frames[0].stamp_ns, ep.now_ns))
    frames = list(iter_frames(ep, 0, 3))
    a.observe(frames[1])
    a.observe(frames[0])  # goes back in time: rejected, memory unchanged
    a.observe(frames[2])
    assert (a.frames_ingested, a.frames_rejected) == (2, 1)
    assert a.memory.time_range()[1] == frames[2].stamp_ns


def test_planners_are_told_the_simulator_clock_zone():
    assert SIM_TIMEZONE == "UTC" and AgentsConfig().timezone == SIM_TIMEZONE


def test_robomem_vlm_builds_its_planner_by_name(tmp_path):
    from robomem.errors import PlannerError
    from robomem.planner.rule_based import RuleBasedPlanner

    a = create_agent("robomem_vlm", AgentsConfig(encoder="hash", vlm_planner="rule_based"))
    assert isinstance(a, MemoryAgent) and isinstance(a.planner, RuleBasedPlanner)
    with pytest.raises(PlannerError, match="unknown planner backend 'gpt9'"):
        create_agent("robomem_vlm", AgentsConfig(encoder="hash", vlm_planner="gpt9"))
    # the openai backend is built from a planner.yaml (no request is sent until a task is asked)
    cfg = tmp_path / "planner.yaml"
    cfg.write_text("planner:\n  backend: openai\n  endpoint: http://127.0.0.1:9\n  model: tiny\n")
    a = create_agent("robomem_vlm", AgentsConfig(encoder="hash", vlm_planner="openai", planner_config=str(cfg)))
    assert a.planner.name == "openai"
