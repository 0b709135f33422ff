"""Degenerate agents that use no memory of the episode score at or below the report's chance column in every
category: saying "not found" to everything (naming the asked thing, or echoing the question), the usual answer
of each template, room centres, a random answer of the right type, staying where the robot stands, a random
piece of furniture, a coin flip between "not found" and an answer, and listing every colour."""

from __future__ import annotations

import math
import zlib
from typing import Any, Callable

import numpy as np
import pytest
from robomem_sim.chance import GUESS_COLOURS, chance_answer, guess_rng, here_answer, memoryless_levels
from robomem_sim.config import SimConfig
from robomem_sim.episode import Episode, generate_episode
from robomem_sim.oracle import standoff_goal
from robomem_sim.report import chance_levels, task_chance
from robomem_sim.runner import expected_values
from robomem_sim.scoring import score_task
from robomem_sim.tasks import generate_tasks
from robomem_sim.types import Task

from robomem.core.query_types import QueryStatus
from robomem.planner.base import AnswerKind, Goal, PlannerAnswer

Agent = Callable[[Task, Episode], PlannerAnswer]


@pytest.fixture(scope="module")
def run() -> list[tuple[Episode, list[Task]]]:
    out = []
    for seed in range(4):
        ep = generate_episode(SimConfig.small(days=2), seed=seed)
        out.append((ep, generate_tasks(ep, per_family=4)))
    return out


def _record(ep: Episode, t: Task, levels: dict[str, float]) -> dict[str, Any]:
    """A log record as the runner writes it (the fields the chance column reads)."""
    return {"episode": ep.seed, "task_id": t.task_id, "family": t.family.value, "template": t.meta["template"],
            "chance": levels["random"], **{f"chance_{k}": v for k, v in levels.items() if k != "random"},
            "expected_values": expected_values(t), "tolerance": t.expected.tolerance,
            "expected_kind": t.expected.kind.value, "about_moved_object": t.about_moved_object,
            "multi_goal": False}


@pytest.fixture(scope="module")
def records(run) -> list[dict[str, Any]]:
    out = []
    for ep, tasks in run:
        r = ep.renderer()
        out += [_record(ep, t, memoryless_levels(t, ep, r)) for t in tasks]
    return out


def _score(run, agent: Agent) -> dict[str, list[float]]:
    """Success per family (and overall) of ``agent``, its control answers included."""
    out: dict[str, list[float]] = {}
    for ep, tasks in run:
        r = ep.renderer()
        for t in tasks:
            ctrl = None if t.control is None else agent(t.control, ep)
            s = score_task(t, agent(t, ep), ep, r, control_answer=ctrl)
            for cat in (t.family.value, "overall"):
                out.setdefault(cat, []).append(float(s.success))
    return out


def _assert_at_most_chance(scores: dict[str, list[float]], chance: dict[str, Any], sigmas: float = 0.0) -> None:
    for cat, xs in scores.items():
        p = chance[cat]
        rate = sum(xs) / len(xs)
        margin = sigmas * math.sqrt(max(p * (1 - p), 1e-3) / len(xs)) + 1e-9
        assert rate <= p + margin, f"{cat}: {100 * rate:.1f} % > chance {100 * p:.1f} %"


def _not_found_naming_it(t: Task, ep: Episode) -> PlannerAnswer:
    """Understands the question, has no memory: 'not found' naming the thing the text asks about."""
    what = str(t.meta.get("object") or t.meta.get("category") or t.meta.get("categories") or t.text)
    return PlannerAnswer(QueryStatus.NOT_FOUND, AnswerKind.UNKNOWN, f"I have not seen the {what}", target=what)


def test_saying_not_found_to_everything_scores_nothing(run, records) -> None:
    scores = _score(run, _not_found_naming_it)
    assert sum(scores["absence"]) == 0.0, "absence is controlled by the same question about a thing seen"
    _assert_at_most_chance(scores, chance_levels(records))


def test_the_usual_answer_of_each_template_is_at_chance(run, records) -> None:
    """An agent that learned each template's most frequent answer elsewhere (here: on the run's other tasks)
    scores exactly the answer-prior part of the chance column, never above the column."""
    levels = task_chance(records)
    chance = chance_levels(records)
    per_cat: dict[str, list[float]] = {}
    for rec in records:
        prior = levels[(rec["episode"], rec["task_id"])][2]
        for cat in (rec["family"], "overall"):
            per_cat.setdefault(cat, []).append(prior)
    _assert_at_most_chance(per_cat, chance)
    assert chance["counting"] > chance_levels(records, which=1)["counting"], \
        "'how many ...' has a usual answer that beats a random number: the column says so"


def test_room_centres_and_random_answers_are_at_chance(run, records) -> None:
    def centre(t: Task, ep: Episode) -> PlannerAnswer:
        regions = ep.house.regions()
        rng = np.random.default_rng(zlib.crc32(t.task_id.encode()))  # not hash(): salted per process
        room = regions[int(rng.integers(len(regions)))]
        c = room.box.center
        goal = Goal((c[0], c[1], 0.0), float(rng.uniform(-math.pi, math.pi)), label=room.name)
        n = len(t.expected.targets) if t.expected.kind is AnswerKind.LIST else 1
        if t.expected.kind in (AnswerKind.INSTANCE, AnswerKind.RECEPTACLE, AnswerKind.LIST, AnswerKind.ROOM):
            return PlannerAnswer(QueryStatus.OK, t.expected.kind, "a room centre", value=room.name if
                                 t.expected.kind is AnswerKind.ROOM else None, goals=(goal,) * n)
        return chance_answer(t, regions, ep.frames[0].stamp_ns, ep.now_ns, rng)

    def guess(t: Task, ep: Episode) -> PlannerAnswer:
        return chance_answer(t, ep.house.regions(), ep.frames[0].stamp_ns, ep.now_ns, guess_rng(0, ep.seed, t.task_id))

    chance = chance_levels(records)
    _assert_at_most_chance(_score(run, centre), chance, sigmas=2.0)
    _assert_at_most_chance(_score(run, guess), chance, sigmas=2.0)


def _rng(t: Task, ep: Episode, stream: int) -> np.random.Generator:
    return np.random.default_rng([ep.seed, zlib.crc32(t.text.encode()), stream])


def _guess(t: Task, ep: Episode, rng: np.random.Generator) -> PlannerAnswer:
    return chance_answer(t, ep.house.regions(), ep.frames[0].stamp_ns, ep.now_ns, rng)


def test_echoing_the_question_as_not_found_scores_nothing(run, records) -> None:
    """A planner that did not parse the question and hands it back as the thing it did not find."""
    def echo(t: Task, ep: Episode) -> PlannerAnswer:
        return PlannerAnswer(QueryStatus.NOT_FOUND, AnswerKind.UNKNOWN, "not understood", target=t.text)

    scores = _score(run, echo)
    assert sum(scores["overall"]) == 0.0


def test_the_questions_are_not_asked_where_the_last_interaction_ended(run, records) -> None:
    """Standing where the last interaction ended answered 'the last object you picked up' without memory; the
    questions are asked from a seeded free spot in a random room instead, so standing still is one random spot
    (one per episode: its successes are not independent, so it is compared over several episodes)."""
    def here(t: Task, ep: Episode) -> PlannerAnswer:
        return here_answer(t, ep) or _guess(t, ep, _rng(t, ep, 1))

    for ep, _ in run:
        assert ep.house.room_at(*ep.final_pose.xy) is not None and ep.house.is_navigable(*ep.final_pose.xy)
    last = [(ep, t) for ep, ts in run for t in ts if t.meta["template"] in (1,) and t.family.value ==
            "interaction_order"]
    hits = [score_task(t, here(t, ep), ep, ep.renderer()).success for ep, t in last]
    assert sum(hits) <= len(hits) // 2, "standing still answers 'the last object you picked up'"
    chance = chance_levels(records)["overall"]
    assert chance is not None
    rate = sum(_score(run, here)["overall"]) / len(_score(run, here)["overall"])
    assert rate <= chance + 2 * math.sqrt(chance * (1 - chance) / len(run))  # n = episodes (one spot each)


def test_a_random_piece_of_furniture_is_at_chance(run, records) -> None:
    def furniture(t: Task, ep: Episode) -> PlannerAnswer:
        kind = t.expected.kind
        if kind not in (AnswerKind.INSTANCE, AnswerKind.RECEPTACLE, AnswerKind.LIST):
            return _guess(t, ep, _rng(t, ep, 2))
        rng = _rng(t, ep, 3)
        ids = sorted(ep.house.receptacles)
        n = len(t.expected.targets) if kind is AnswerKind.LIST else 1
        state = ep.state_at(t.now_ns)
        r = ep.renderer(t.now_ns)
        goals = tuple(standoff_goal(ids[int(i)], ep, state, r) for i in rng.choice(len(ids), size=n, replace=False))
        return PlannerAnswer(QueryStatus.OK, kind, "a piece of furniture", goals=goals)

    _assert_at_most_chance(_score(run, furniture), chance_levels(records), sigmas=2.0)


def test_a_coin_flip_between_not_found_and_an_answer_is_at_chance(run, records) -> None:
    """'Not found' half of the time (the control catches it the other half): absence's chance is p (1 - p)."""
    def coin(t: Task, ep: Episode) -> PlannerAnswer:
        rng = _rng(t, ep, 4)
        if rng.random() < 0.5:
            return _not_found_naming_it(t, ep)
        return _guess(t, ep, rng)

    chance = chance_levels(records)
    scores = _score(run, coin)
    _assert_at_most_chance(scores, chance, sigmas=2.0)
    assert chance_levels(records, which="coin")["absence"] == pytest.approx(0.25)
    assert chance["absence"] > 0.0


def test_listing_every_colour_is_not_an_answer(run, records) -> None:
    def colours(t: Task, ep: Episode) -> PlannerAnswer:
        if t.expected.kind is AnswerKind.TEXT:
            return PlannerAnswer(QueryStatus.OK, AnswerKind.TEXT, "It was " + ", ".join(GUESS_COLOURS) + ".")
        return _guess(t, ep, _rng(t, ep, 5))

    scores = _score(run, colours)
    text_tasks = [t for _, ts in run for t in ts if t.expected.kind is AnswerKind.TEXT]
    assert text_tasks, "the run asks a colour question"
    assert all(not score_task(t, colours(t, ep), ep, ep.renderer()).success for ep, ts in run for t in ts
               if t.expected.kind is AnswerKind.TEXT)
    _assert_at_most_chance(scores, chance_levels(records), sigmas=2.0)


def test_going_to_every_piece_of_furniture_is_not_an_answer(run, records) -> None:
    """One goal in front of every receptacle: a list of places must have as many goals as things asked, and a
    single-place question is answered by the first goal only - so naming everything scores nothing extra."""
    every: dict[int, tuple[Goal, ...]] = {}
    for ep, _ in run:
        state = ep.state_at(ep.now_ns)
        r = ep.renderer()
        every[ep.seed] = tuple(standoff_goal(i, ep, state, r) for i in sorted(ep.house.receptacles))

    def everything(t: Task, ep: Episode) -> PlannerAnswer:
        kind = t.expected.kind if t.expected.kind is not AnswerKind.UNKNOWN else AnswerKind.INSTANCE
        return PlannerAnswer(QueryStatus.OK, kind, "everywhere", value=None, goals=every[ep.seed])

    lists = [(ep, t) for ep, ts in run for t in ts if t.expected.kind is AnswerKind.LIST]
    assert lists and not any(score_task(t, everything(t, ep), ep, ep.renderer()).success for ep, t in lists)
    scores = _score(run, everything)["overall"]
    chance = chance_levels(records)["overall"]
    assert chance is not None
    assert sum(scores) / len(scores) <= chance + 2 * math.sqrt(chance * (1 - chance) / len(run))
