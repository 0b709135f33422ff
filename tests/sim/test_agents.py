"""Evaluation agents and baselines on one tiny episode (real memory, real scorer)."""

from __future__ import annotations

import dataclasses

import pytest
from robomem_sim.agents import (
    AGENT_NAMES,
    DEFAULT_AGENTS,
    Agent,
    AgentsConfig,
    EpisodeInfo,
    MemoryAgent,
    NoMemoryAgent,
    create_agent,
    create_agents,
    select_uniform,
)
from robomem_sim.config import SimConfig
from robomem_sim.episode import generate_episode, iter_frames
from robomem_sim.scoring import score_task
from robomem_sim.tasks import generate_tasks
from robomem_sim.types import TaskFamily

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
        dynamics=dataclasses.replace(c.dynamics, min_interactions_per_day=2, max_interactions_per_day=3),
    )


@pytest.fixture(scope="module")
def run():
    ep = generate_episode(_tiny_config(), seed=1)
    cfg = AgentsConfig(encoder="hash", last_n=LAST_N, uniform_k=UNIFORM_K)
    agents = create_agents(DEFAULT_AGENTS, cfg)
    info = EpisodeInfo("tiny", 1, tuple(ep.house.regions()), len(ep.frames), ep.frames[0].stamp_ns, ep.now_ns)
    for a in agents:
        a.reset(info)
    for f in iter_frames(ep):  # each frame rendered once, fed to every agent
        for a in agents:
            a.observe(f)
    tasks = generate_tasks(ep, per_family=2)
    renderer = ep.renderer()
    answers = {a.name: [a.answer(t) for t in tasks] for a in agents}
    scores = {n: [score_task(t, ans, ep, renderer) for t, ans in zip(tasks, v)] for n, v in answers.items()}
    return ep, {a.name: a for a in agents}, tasks, answers, scores


def test_every_agent_answers_every_task(run):
    ep, agents, tasks, answers, _ = run
    assert len(ep.frames) > LAST_N + UNIFORM_K
    assert set(agents) == set(DEFAULT_AGENTS)
    for name, a in agents.items():
        assert isinstance(a, Agent)
        assert len(answers[name]) == len(tasks)
        assert all(isinstance(x, PlannerAnswer) for x in answers[name])


def test_frame_selection_of_the_baselines(run):
    ep, agents, *_ = run
    n = len(ep.frames)
    assert agents["robomem"].frames_ingested == n
    assert agents["static_map"].frames_ingested == n
    assert agents["last_n_frames"].frames_ingested == LAST_N
    assert agents["uniform_keyframes"].frames_ingested == UNIFORM_K
    # last_n: only the end of the episode is in memory
    first, _ = agents["last_n_frames"].memory.time_range()
    assert first == ep.frames[n - LAST_N].stamp_ns
    # uniform: FindingDory's linspace subsampling, first and last frame included
    keep = select_uniform(UNIFORM_K)(n)
    assert keep is not None and len(keep) == UNIFORM_K and 0 in keep and n - 1 in keep
    assert select_uniform(UNIFORM_K)(UNIFORM_K - 1) is None  # short episodes: every frame


def test_static_map_never_removes_and_does_not_reidentify(run):
    ep, agents, *_ = run
    static, robomem = agents["static_map"], agents["robomem"]
    assert static.memory_config.voxel.removal is False
    assert static.memory_config.objects.mask_ids is MaskIdMode.PER_FRAME
    assert robomem.memory_config.objects.mask_ids is MaskIdMode.PERSISTENT
    assert ep.log.interactions, "the tiny episode must contain pick-and-places"
    # nothing ever vanishes from the static map and nothing has a second placement
    objs = [i for i in static.memory.instances() if i.kind is NodeKind.OBJECT]
    assert all(i.present for i in objs)
    assert all(len(static.memory.history(instance_id=i.instance_id).placements) == 1 for i in objs)
    # robomem re-identified the moved objects: some instance has >= 2 placements
    moved = [
        i
        for i in robomem.memory.instances()
        if len(robomem.memory.history(instance_id=i.instance_id).placements) >= 2 and i.kind is NodeKind.OBJECT
    ]
    assert moved
    # and the static map holds a stale duplicate for them (old place + new place)
    labels = [i.label for i in objs]
    assert any(labels.count(m.label) >= 2 for m in moved)


def test_robomem_beats_the_baselines(run):
    _, _, _, _, scores = run
    rate = {n: sum(s.success for s in v) / len(v) for n, v in scores.items()}
    assert rate["robomem"] >= 0.8, rate
    for base in ("static_map", "last_n_frames", "no_memory"):
        assert rate["robomem"] > rate[base], rate


def test_no_memory_answers_rooms_at_random_and_nothing_else(run):
    ep, agents, tasks, answers, _ = run
    names = {r.name for r in ep.house.regions()}
    for ans in answers["no_memory"]:
        if ans.kind is AnswerKind.ROOM:
            assert ans.value in names
            for g in ans.goals:
                assert ep.house.room_at(g.position[0], g.position[1]) == ans.value
        else:
            assert (ans.status, ans.kind) == (QueryStatus.NOT_FOUND, AnswerKind.UNKNOWN)
    room_tasks = [t for t in tasks if t.family is TaskFamily.ROOM_VISITATION and "Navigate" in t.text]
    assert room_tasks and any(a.kind is AnswerKind.ROOM for t, a in zip(tasks, answers["no_memory"]) if t in room_tasks)
    # reproducible: same seed, same rooms
    again = NoMemoryAgent(0)
    again.reset(EpisodeInfo("tiny", 1, tuple(ep.house.regions()), len(ep.frames), ep.frames[0].stamp_ns, ep.now_ns))
    assert [again.answer(t).value for t in tasks] == [a.value for a in answers["no_memory"]]


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
