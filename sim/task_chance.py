"""Chance levels of a run's tasks: per task the memoryless strategy that does best on the other tasks of its
template (leave-one-out; :class:`TaskChance`), and per category (:func:`chance_levels`). Used by
:mod:`robomem_sim.report`.
"""

from __future__ import annotations

import json
import math
from typing import Any, Mapping, NamedTuple, Optional, Sequence

from robomem_sim.report_categories import _in_category, categories_of


def _prior_hits(tasks: Sequence[Mapping[str, Any]]) -> list[float]:
    """Per task of one template: 1.0 when the answer most often right on the template's *other* tasks (leave
    one out) is right on this one. Discrete values (rooms, numbers, yes/no, colours) by exact match
    (case-insensitive); times and durations by the constant that falls within the tolerance of the most other
    tasks' answers."""
    accepted = [[v.lower() if isinstance(v, str) else v for v in r.get("expected_values") or []] for r in tasks]
    tol = [float(r.get("tolerance", 0.0) or 0.0) for r in tasks]
    continuous = str(tasks[0].get("expected_kind")) in ("time", "duration") if tasks else False
    out = []
    for i in range(len(tasks)):
        others = [j for j in range(len(tasks)) if j != i and accepted[j]]
        if not accepted[i] or not others:
            out.append(0.0)
            continue
        if continuous:
            # candidate constants: each accepted value of the other tasks, +-tolerance edges
            cands = sorted({float(v) + d * tol[j] for j in others for v in accepted[j] for d in (-1, 0, 1)})
            best, best_n = None, -1
            for c in cands:
                n = sum(1 for j in others if any(abs(float(v) - c) <= tol[j] + 1e-9 for v in accepted[j]))
                if n > best_n:
                    best, best_n = c, n
            out.append(float(best is not None and any(abs(float(v) - best) <= tol[i] + 1e-9 for v in accepted[i])))
        else:
            counts: dict[str, int] = {}
            for j in others:
                for v in dict.fromkeys(json.dumps(x) for x in accepted[j]):
                    counts[v] = counts.get(v, 0) + 1
            guess = min(counts, key=lambda v: (-counts[v], v))
            out.append(float(guess in {json.dumps(x) for x in accepted[i]}))
    return out


class TaskChance(NamedTuple):
    """One task's chance level: ``best`` - the level of the memoryless strategy that does best on the other
    tasks of its template in the run (leave-one-out; the random answer for a template asked once), then each
    strategy's level on this task."""

    best: float
    random: float
    prior: float
    here: float = 0.0
    map: float = 0.0
    coin: float = 0.0


CHANCE_STRATEGIES = tuple(TaskChance._fields[1:])
"""The memoryless strategies the chance column takes the best of (``chance_<name>`` in summary.json)."""


def task_chance(records: Sequence[Mapping[str, Any]]) -> dict[tuple[int, str], TaskChance]:
    """Per task (episode, task id): its :class:`TaskChance`. The strategies: a random answer of the type
    (``record["chance"]``, :mod:`robomem_sim.chance`), the template's most frequent answer (leave-one-out over
    the run's tasks, :func:`_prior_hits`) - so an agent that answers every "how many ..." with the usual number
    is not above chance -, staying where the robot is, a random piece of furniture and, on absence tasks, a
    coin flip between "not found" and an answer (``record["chance_here"|"chance_map"|"chance_coin"]``,
    :func:`robomem_sim.chance.memoryless_levels`; 0 when a record lacks them)."""
    per_task: dict[tuple[int, str], Mapping[str, Any]] = {}
    for r in records:
        if "chance" in r:
            per_task.setdefault((int(r["episode"]), str(r["task_id"])), r)
    by_template: dict[tuple[str, str], list[tuple[int, str]]] = {}
    for k, r in sorted(per_task.items()):
        by_template.setdefault((str(r["family"]), str(r.get("template"))), []).append(k)
    out: dict[tuple[int, str], TaskChance] = {}
    for keys in by_template.values():
        rows = [per_task[k] for k in keys]
        levels = {"random": [float(r["chance"]) for r in rows], "prior": _prior_hits(rows)}
        for name in CHANCE_STRATEGIES[2:]:
            levels[name] = [float(r.get(f"chance_{name}", 0.0) or 0.0) for r in rows]
        for i, k in enumerate(keys):
            # the strategy that does best on the template's *other* tasks (leave-one-out: choosing the best of
            # several strategies on the task it then scores would lift the column by luck on small runs); a
            # template asked once keeps the random answer
            best = max(CHANCE_STRATEGIES, key=lambda n: (
                math.fsum(v for j, v in enumerate(levels[n]) if j != i), -CHANCE_STRATEGIES.index(n)))
            out[k] = TaskChance(levels[best][i], *(levels[n][i] for n in CHANCE_STRATEGIES))
    return out


def chance_levels(records: Sequence[Mapping[str, Any]], which: int | str = 0) -> dict[str, Optional[float]]:
    """Chance level per category: the mean of each task's chance (each task once; ``which``: a
    :class:`TaskChance` field or its index - 0 / "best" the better memoryless strategy per template, 1 /
    "random" a random answer of the type, 2 / "prior" the template's usual answer, "here", "map", "coin")."""
    index = TaskChance._fields.index(which) if isinstance(which, str) else int(which)
    per_task: dict[tuple[int, str], Mapping[str, Any]] = {}
    for r in records:
        if "chance" in r:
            per_task.setdefault((int(r["episode"]), str(r["task_id"])), r)
    levels = task_chance(records)
    out: dict[str, Optional[float]] = {}
    for c in categories_of(records):
        mine = [levels[k][index] for k, r in per_task.items() if _in_category(r, c)]
        out[c] = math.fsum(mine) / len(mine) if mine else None
    return out
