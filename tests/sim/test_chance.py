"""Chance levels: what a random answer of the right type scores, and no_memory never beats it."""

from __future__ import annotations

import math

import pytest
from robomem_sim.agents import EpisodeInfo, NoMemoryAgent, RandomGuessAgent
from robomem_sim.chance import GUESS_COLOURS, chance_level
from robomem_sim.config import SimConfig
from robomem_sim.episode import generate_episode
from robomem_sim.scoring import score_task
from robomem_sim.tasks import generate_tasks
from robomem_sim.types import TaskFamily

from robomem.planner.base import AnswerKind


@pytest.fixture(scope="module")
def setup():
    ep = generate_episode(SimConfig.small(days=2), seed=3)
    tasks = generate_tasks(ep, per_family=4)
    return ep, tasks, ep.renderer()


def test_chance_levels_of_typed_answers_are_exact(setup) -> None:
    ep, tasks, r = setup
    n_rooms = len(ep.house.rooms)
    for t in tasks:
        p = chance_level(t, ep, r)
        assert 0.0 <= p <= 1.0
        if t.expected.not_found:
            assert p == 0.0  # a guess always claims something
        elif t.expected.kind is AnswerKind.BOOLEAN:
            assert p == 0.5
        elif t.expected.kind is AnswerKind.TEXT:
            values = {t.expected.value, *t.expected.alternatives}
            assert p == pytest.approx(len(values & set(GUESS_COLOURS)) / len(GUESS_COLOURS))
        elif t.expected.kind is AnswerKind.ROOM and not t.expected.requires_may_have_moved:
            rooms = {t.expected.value, *t.expected.alternatives} - {None}
            assert p <= len(rooms) / n_rooms + 0.3  # by name exactly; by place within Monte-Carlo error


def test_random_guess_averages_to_the_chance_level_and_no_memory_never_beats_it(setup) -> None:
    ep, tasks, r = setup
    info = EpisodeInfo("x", ep.seed, tuple(ep.house.regions()), len(ep.frames), ep.frames[0].stamp_ns, ep.now_ns)
    nm = NoMemoryAgent()
    nm.reset(info)
    chance = [chance_level(t, ep, r) for t in tasks]
    for t, p in zip(tasks, chance):
        s = score_task(t, nm.answer(t), ep, r)
        assert not s.success or p > 0
    hits = 0.0
    n = 0
    for seed in range(6):
        g = RandomGuessAgent(seed)
        g.reset(info)
        for t in tasks:
            hits += score_task(t, g.answer(t), ep, r).success
            n += 1
    mean = sum(chance) / len(chance)
    assert abs(hits / n - mean) <= 3 * math.sqrt(max(mean * (1 - mean), 1e-3) / n) + 0.02


def test_absence_is_never_free(setup) -> None:
    ep, tasks, r = setup
    info = EpisodeInfo("x", ep.seed, tuple(ep.house.regions()), len(ep.frames), ep.frames[0].stamp_ns, ep.now_ns)
    nm, g = NoMemoryAgent(), RandomGuessAgent(0)
    nm.reset(info)
    g.reset(info)
    absence = [t for t in tasks if t.family is TaskFamily.ABSENCE]
    assert absence
    for t in absence:
        assert not score_task(t, nm.answer(t), ep, r).success
        assert not score_task(t, g.answer(t), ep, r).success
