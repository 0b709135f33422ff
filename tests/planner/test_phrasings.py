"""People's phrasings of the suite's questions (``sim/phrasings/dev.json``) are understood as their template text
is: the same intent and key slots, with a confident parse - on the tasks of a real episode, values filled in."""

from __future__ import annotations

from robomem_sim.phrasings import DEFAULT_PHRASINGS, load_phrasings, variants

from robomem.planner.nl.plan import QueryPlan


def _key(plan: QueryPlan) -> tuple[object, ...]:
    target = plan.target.describe() if plan.target is not None and not plan.target.generic else ""
    return plan.intent, plan.ordinal, plan.superlative, bool(plan.objects), target


def test_dev_phrasings_mean_what_their_templates_mean(world) -> None:
    _ep, mem, tasks, planner = world
    phrasings = load_phrasings(DEFAULT_PHRASINGS)
    checked, same, disagree = 0, 0, []
    for task in tasks:
        base = planner.parse(task.text, mem, now_ns=task.now_ns)
        for _name, _index, asked in variants(task, phrasings)[1:]:
            plan = planner.parse(asked.text, mem, now_ns=task.now_ns)
            checked += 1
            assert plan.confidence >= 0.3, (asked.text, plan)
            if _key(plan)[0] == _key(base)[0]:
                same += 1
            else:
                disagree.append((task.text, asked.text, base.intent.value, plan.intent.value))
    assert checked >= 60
    assert same / checked >= 0.95, disagree
