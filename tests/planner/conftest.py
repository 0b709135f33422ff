"""Fixtures of the planner tests: a small generated episode and robomem's memory of it (built once)."""

from __future__ import annotations

import dataclasses

import pytest
from robomem_sim.agents import AgentsConfig, EpisodeInfo, create_agent
from robomem_sim.config import SimConfig
from robomem_sim.episode import generate_episode, iter_frames
from robomem_sim.tasks import generate_tasks

from robomem.planner.rule_based import RuleBasedPlanner


def _small_config() -> SimConfig:
    c = SimConfig()
    return dataclasses.replace(
        c,
        house=dataclasses.replace(c.house, n_rooms=4, n_objects=12, n_distractors=2),
        dynamics=dataclasses.replace(c.dynamics, min_interactions_per_day=3, max_interactions_per_day=4),
    )


@pytest.fixture(scope="session")
def world():
    """A small episode, robomem's memory of it (hash encoder: fast, labels are exact), its tasks, a planner."""
    ep = generate_episode(_small_config(), seed=3)
    agent = create_agent("robomem", AgentsConfig(encoder="hash"))
    agent.reset(EpisodeInfo("t", 3, tuple(ep.house.regions()), len(ep.frames), ep.frames[0].stamp_ns, ep.now_ns))
    for f in iter_frames(ep):
        agent.observe(f)
    tasks = generate_tasks(ep, per_family=3)
    return ep, agent.memory, tasks, RuleBasedPlanner(timezone="UTC")


