"""One ``robomem-eval`` episode (:func:`run_episode`): generate it, render every frame once, feed every agent in
every perception mode, ask every task in every phrasing, score the answers. Deterministic in (run config, seed)
whatever process runs it (the serial runner or a Ray worker)."""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from typing import Any, Callable, ContextManager, Optional

from robomem_sim.agents import Agent, EpisodeInfo, create_agents
from robomem_sim.perception import PerceptionMode
from robomem_sim.phrasings import variants
from robomem_sim.run_config import RunConfig
from robomem_sim.types import TaskFamily

from robomem.planner.base import PlannerAnswer

__all__ = ["MULTI_GOAL_FAMILIES", "EpisodeResult", "Progress", "expected_values", "run_episode"]

Progress = Callable[[float, str], None]
"""Told how far an episode is (a fraction, 0..1) and what it is doing ("frames", "chance", "answers: <agent>")."""

FRAMES_SHARE = 0.75
"""The fraction of an episode's progress given to its frames (generation before, answers after)."""

MULTI_GOAL_FAMILIES = (TaskFamily.MULTI_GOAL_UNORDERED.value, TaskFamily.MULTI_GOAL_ORDERED.value)


@dataclass(frozen=True)
class EpisodeResult:
    """What one episode produced: task records (one per task variant per agent, agents in creation order) and
    a meta line (frames, tasks, exclusions, per-agent seconds)."""

    seed: int
    records: tuple[dict[str, Any], ...]
    meta: dict[str, Any]


# ============================================================================================ one episode


def _set_torch_threads(n: int) -> None:
    try:
        import torch

        torch.set_num_threads(n)
    except ImportError:  # pragma: no cover - torch is a core dependency
        pass


def _agent_key(a: Agent) -> str:
    return f"{a.name}@{a.perception}"


def _answer_key(task_id: str, ans: PlannerAnswer) -> tuple[Any, ...]:
    goals = tuple((round(g.position[0], 4), round(g.position[1], 4), None if g.yaw is None else round(g.yaw, 4))
                  for g in ans.goals)
    return (task_id, ans.status.name, ans.kind.value, repr(ans.value), goals, ans.may_have_moved, ans.target,
            ans.text if ans.value is None else "")


def expected_values(task: Any) -> list[Any]:
    """The accepted values of a typed task (room names, numbers, booleans, times ns, durations s, colour words)
    as JSON values, for the answer-prior baseline of the report; [] for navigation answers."""
    exp = task.expected
    if exp.not_found or exp.kind.value in ("instance", "receptacle", "list", "unknown"):
        return []
    vals = [v for v in (exp.value, *exp.alternatives) if v is not None]
    if exp.kind.value == "room":
        vals += [t.room for g in exp.targets for t in g if t.room is not None]
    out: list[Any] = []
    for v in vals:
        v = v if isinstance(v, (bool, int, float)) else str(v)
        if v not in out:
            out.append(v)
    return out


def _thread_limits(n: int) -> ContextManager[object]:
    """BLAS / OpenMP thread pools (numpy, FAISS, torch's OpenMP) limited to ``n`` threads: a Ray worker starts
    with OMP_NUM_THREADS=1 while the serial path would use every core, and a float reduction split over another
    number of threads can round differently - the same episode then gives the same results in any process.
    (threadpoolctl comes with scikit-learn, which sentence-transformers needs; without it nothing is limited.)"""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - installed with the requirements
        return contextlib.nullcontext()
    return threadpool_limits(limits=n)


def run_episode(cfg: RunConfig, episode_seed: int, progress: Optional[Progress] = None) -> EpisodeResult:
    """Run one episode with every agent in every perception mode. Deterministic in (cfg, episode_seed) in any
    process (numeric libraries run ``cfg.torch_threads`` threads); safe to call in a Ray worker. ``progress``
    is told how far it is about 20 times per stage."""
    with _thread_limits(cfg.torch_threads):
        return _run_episode(cfg, episode_seed, progress or _no_progress)


def _no_progress(fraction: float, what: str) -> None:
    pass


def _run_episode(cfg: RunConfig, episode_seed: int, progress: Progress) -> EpisodeResult:
    from robomem_sim.actions import ActionFeed
    from robomem_sim.chance import memoryless_levels
    from robomem_sim.episode import generate_episode, iter_frames, robot_actions
    from robomem_sim.perception import Perceiver
    from robomem_sim.scoring import format_answer, gave_up, score_task
    from robomem_sim.tasks import generate_task_set
    from robomem_sim.world import OBJECT_CATEGORIES

    _set_torch_threads(cfg.torch_threads)
    t_start = time.perf_counter()
    sim = cfg.sim()
    episode = generate_episode(sim, seed=episode_seed)
    taskset = generate_task_set(episode, families=cfg.family_list(), per_family=cfg.per_family, seed=cfg.task_seed)
    tasks = taskset.tasks
    phrasings = cfg.phrasing_set()
    t_gen = time.perf_counter() - t_start
    modes = cfg.modes()
    agents = create_agents(cfg.agents, cfg.agents_config(), modes)
    info = EpisodeInfo(
        episode_id=f"ep{episode_seed}",
        seed=episode_seed,
        regions=tuple(episode.house.regions()),
        n_frames=len(episode.frames),
        start_ns=episode.frames[0].stamp_ns if episode.frames else episode.now_ns,
        now_ns=episode.now_ns,
    )
    observe_s = {_agent_key(a): 0.0 for a in agents}
    answer_s = {_agent_key(a): 0.0 for a in agents}
    for a in agents:
        a.reset(info)
    stamps = [f.stamp_ns for f in episode.frames]
    house = episode.house
    perceivers: dict[PerceptionMode, Perceiver] = {}
    feeds: dict[PerceptionMode, ActionFeed] = {}
    actions = robot_actions(episode) if cfg.action_events else []
    by_mode = {m: [a for a in agents if a.perception == m.value] for m in modes}
    for m in modes:
        if by_mode[m]:
            perceivers[m] = Perceiver(m, episode_seed, house.labels(), frozenset(house.receptacles), stamps,
                                      sim.noise, seed=cfg.noise_seed, category_names=sorted(OBJECT_CATEGORIES))
            feeds[m] = ActionFeed(actions, perceivers[m], stamps)
    t0 = time.perf_counter()
    render_s = 0.0
    perceive_s = 0.0
    n_actions = 0
    frames = iter_frames(episode)
    index = 0
    n_frames = max(1, len(episode.frames))
    every = max(1, n_frames // 20)
    progress(0.02, "frames")
    while True:
        tr = time.perf_counter()
        frame = next(frames, None)
        render_s += time.perf_counter() - tr
        if frame is None:
            break
        for m, perceiver in perceivers.items():
            tp = time.perf_counter()
            pf = perceiver.convert(index, frame)
            events = feeds[m].after_frame(index, pf)
            perceive_s += time.perf_counter() - tp
            for a in by_mode[m]:
                ta = time.perf_counter()
                a.observe(pf.frame)
                for ev in events:
                    a.observe_action(ev)
                observe_s[_agent_key(a)] += time.perf_counter() - ta
            n_actions += len(events)
        index += 1
        if index % every == 0:
            progress(0.02 + FRAMES_SHARE * index / n_frames, "frames")
    for m, feed in feeds.items():
        for ev in feed.finish():
            for a in by_mode[m]:
                a.observe_action(ev)
    t_frames = time.perf_counter() - t0
    renderer = episode.renderer()
    progress(0.02 + FRAMES_SHARE, "chance")
    ts = time.perf_counter()
    chance = {t.task_id: memoryless_levels(t, episode, renderer, seed=cfg.seed) for t in tasks}
    chance_s = time.perf_counter() - ts
    task_variants = [(t, variants(t, phrasings)) for t in tasks]
    templates_only = [(t, variants(t, None)) for t in tasks]
    records: list[dict[str, Any]] = []
    score_s = 0.0
    cache: dict[tuple[Any, ...], Any] = {}
    for n_done, a in enumerate(agents):
        key = _agent_key(a)
        progress(0.05 + FRAMES_SHARE + (0.95 - FRAMES_SHARE) * n_done / max(1, len(agents)), f"answers: {key}")
        for task, vs in (task_variants if a.name in cfg.phrasing_agents else templates_only):
            for phrasing, p_index, asked in vs:
                ta = time.perf_counter()
                ans = a.answer(asked)
                control_ans = None if asked.control is None else a.answer(asked.control)
                answer_s[key] += time.perf_counter() - ta
                tsc = time.perf_counter()
                ck = _answer_key(task.task_id, ans) + (asked.asked,) + (
                    () if control_ans is None else (gave_up(control_ans),))
                score = cache.get(ck)
                if score is None:
                    score = score_task(asked, ans, episode, renderer, control_answer=control_ans)
                    cache[ck] = score
                score_s += time.perf_counter() - tsc
                records.append(
                    {
                        "episode": episode_seed,
                        "agent": a.name,
                        "perception": a.perception,
                        "phrasing": phrasing,
                        "phrasing_index": p_index,
                        "task_id": task.task_id,
                        "family": task.family.value,
                        "template": task.meta.get("template"),
                        "meta": {str(k): str(v) for k, v in task.meta.items()},
                        "text": asked.text,
                        "asked": asked.asked,
                        "about_moved_object": bool(task.about_moved_object),
                        "multi_goal": task.family.value in MULTI_GOAL_FAMILIES,
                        "expected_kind": task.expected.kind.value,
                        "expected_not_found": bool(task.expected.not_found),
                        "stale": bool(task.expected.requires_may_have_moved),
                        "chance": round(chance[task.task_id]["random"], 6),
                        **{f"chance_{k}": round(v, 6) for k, v in chance[task.task_id].items() if k != "random"},
                        "success": bool(score.success),
                        "distance_success": bool(score.distance_success),
                        "coverage_success": bool(score.coverage_success),
                        "strict_success": bool(score.strict_success),
                        "spl": round(float(score.spl), 6),
                        "failure_mode": score.failure_mode.value,
                        "error": score.error,
                        "answer_status": ans.status.name,
                        "answer_kind": ans.kind.value,
                        "answer": format_answer(ans),
                        "answer_text": ans.text,
                        "answer_target": ans.target,
                        "may_have_moved": bool(ans.may_have_moved),
                        "plan": list(ans.plan),
                        "expected_values": expected_values(task),
                        "tolerance": float(task.expected.tolerance),
                        **({} if control_ans is None or asked.control is None else {
                            "control_text": asked.control.text,
                            "control_answer": format_answer(control_ans),
                            "control_not_found": gave_up(control_ans)}),
                    }
                )
    meta = {
        "episode": episode_seed,
        "frames": len(episode.frames),
        "tasks": len(tasks),
        "task_variants": sum(len(vs) for _, vs in task_variants),
        "days": episode.clock.days,
        "interactions": len(episode.log.interactions),
        "household_moves": len(episode.log.household_moves),
        "household_moves_while_robot_active": sum(1 for m in episode.log.household_moves if m.robot_active),
        "action_events": n_actions,
        "exclusions": dict(taskset.exclusions),
        "seconds": {
            "generate": round(t_gen, 3),
            "render": round(render_s, 3),
            "perceive": round(perceive_s, 3),
            "frames_total": round(t_frames, 3),
            "chance": round(chance_s, 3),
            "score": round(score_s, 3),
            "total": round(time.perf_counter() - t_start, 3),
        },
        "observe_seconds": {k: round(v, 3) for k, v in observe_s.items()},
        "answer_seconds": {k: round(v, 3) for k, v in answer_s.items()},
    }
    progress(1.0, "done")
    return EpisodeResult(episode_seed, tuple(records), meta)
