"""FindingDory-style task suite generated from an episode's ground-truth log.

Every task text is one of the fixed templates in :data:`TEMPLATES` with its placeholders filled in.
Template texts and family values are stable keys (phrasing files refer to them, see
:mod:`robomem_sim.phrasings`): they are never changed or removed, only added. Placeholders (lower case):

``{object}``     an object's full label "<colour> <material> <category>", e.g. "red ceramic mug"
``{objects}``    several labels, each with "the": "the red ceramic mug, the blue glass vase and the green plastic toy"
``{category}``   an object category ("mug", "alarm clock"); ``{categories}``: its plural ("mugs")
``{receptacle}`` a receptacle category ("counter", "tv stand"); unique within its room
``{room}``       a room name as in ``House.regions()`` ("kitchen", "living room", "bedroom 2")
``{time}``       "HH:MM" (24 h, UTC, see ``SimClock``); "HH:MM on day D" (D from 1) when days > 1
``{ordinal}``    "second", "third", ... (the n-th pick, 1-based)
``{colour}`` / ``{material}`` / ``{shape}``  an attribute value ("green", "glass", "cylindrical")

Phrasings may also use derived placeholders (``{time_12h}``, ``{day}``, ``{object_short}``, ...; see
:mod:`robomem_sim.wording`); every task keeps them in ``task.meta``.

Answer kinds per template are fixed (see :data:`TEMPLATE_KINDS`): navigation answers (INSTANCE, RECEPTACLE,
ROOM with goals, LIST) are scored with FindingDory's rules, typed answers (ROOM name, NUMBER, BOOLEAN,
TIME ns, DURATION s, TEXT) exactly or within tolerance. "Navigate to the {object}." means "go where the
object is now" (WHERE_NOW: its last known place, and "it may have moved", when someone moved it while the
robot did not see it) and, for a label that was never seen, "not found" (ABSENCE).

Which cases are asked, which are dropped and why: :mod:`robomem_sim.task_families`. :func:`generate_task_set`
returns the tasks and the number of dropped cases per reason.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable, Optional

import numpy as np
from robomem_sim.episode import Episode
from robomem_sim.task_families import (
    GENERATORS,
    ORDINALS,
    TIE_MARGIN_M,
    TIE_MARGIN_S,
    Candidate,
    Ctx,
    all_seen_now,
)
from robomem_sim.types import Task, TaskFamily
from robomem_sim.wording import derived_values

from robomem.errors import SimError
from robomem.planner.base import AnswerKind

__all__ = [
    "ORDINALS", "TEMPLATES", "TEMPLATE_KINDS", "TIE_MARGIN_M", "TIE_MARGIN_S", "TaskSet", "candidate_tasks",
    "generate_task_set", "generate_tasks", "template_placeholders",
]

_LOG = logging.getLogger(__name__)

TEMPLATES: dict[TaskFamily, list[str]] = {
    TaskFamily.OBJECT_RECALL: [
        "Navigate to the {object} you picked up.",
        "Navigate to the {object} you placed on the {receptacle} in the {room}.",
        "Navigate to the {object} you saw on the {receptacle} in the {room}.",
    ],
    TaskFamily.OBJECT_ATTRIBUTE: [
        "Navigate to the object you interacted with that is {colour}.",
        "Navigate to the object you interacted with that is made of {material}.",
        "Navigate to the {shape} object you picked up.",
        "What colour was the {category} you picked up from the {receptacle} in the {room}?",
    ],
    TaskFamily.INTERACTION: [
        "Navigate to any object you interacted with.",
        "Navigate to any {category} you did not interact with.",
        "Did you pick up the {object}?",
    ],
    TaskFamily.CONDITIONAL_INTERACTION: [
        "Navigate to the receptacle you picked the {object} up from.",
        "Navigate to the receptacle you placed the {object} on.",
        "Navigate to the object you placed on the {receptacle} in the {room}.",
        "Navigate to the receptacle you picked the {object} up from the {ordinal} time.",
        "Navigate to the receptacle you placed the {object} on the {ordinal} time.",
        "Navigate to the receptacle you placed the {object} on most recently.",
    ],
    TaskFamily.SPATIAL_RELATIONSHIP: [
        "Navigate to the receptacle farthest from the {object}.",
        "Navigate to the receptacle nearest to the {object}.",
        "Navigate to the object nearest to the {receptacle} in the {room}.",
    ],
    TaskFamily.ROOM_VISITATION: [
        "Navigate to a room you did not visit.",
        "Navigate to the room you started in.",
        "Navigate to the room you spent the most time in.",
        "Which room did you end the day in?",
        "How many times did you enter the {room}?",
    ],
    TaskFamily.INTERACTION_ORDER: [
        "Navigate to the first object you picked up.",
        "Navigate to the last object you picked up.",
        "Navigate to the object you picked up immediately after the {object}.",
        "Navigate to the {ordinal} object you picked up.",
    ],
    TaskFamily.TIME_BASED: [
        "Navigate to the object you picked up at {time}.",
        "Navigate to the receptacle you placed an object on at {time}.",
        "At what time did you pick up the {object}?",
        "Which room were you in at {time}?",
        "At what time did you pick up the {object} the {ordinal} time?",
        "At what time did you last pick up the {object}?",
    ],
    TaskFamily.DURATION: [
        "Navigate to the object that took the longest to rearrange.",
        "Navigate to the object that took the shortest time to rearrange.",
        "How long did it take to rearrange the {object}?",
    ],
    TaskFamily.MULTI_GOAL_UNORDERED: [
        "Navigate to all the objects you picked up, in any order.",
        "Navigate to {objects}, in any order.",
        "Navigate to the objects you picked up since {time}, in any order.",
    ],
    TaskFamily.MULTI_GOAL_ORDERED: [
        "Navigate to the objects you picked up, in the order you picked them up.",
        "Navigate to the receptacles you placed objects on, in the order you placed them.",
        "Navigate to {objects}, in this order.",
        "Navigate to the objects you picked up since {time}, in the order you picked them up.",
        "Navigate to the receptacles you placed objects on since {time}, in the order you placed them.",
    ],
    TaskFamily.WHERE_NOW: [
        "Navigate to the {object}.",
        "Which room is the {object} in now?",
        "Navigate to where you last saw the {object}.",
    ],
    TaskFamily.CHANGES: [
        "Navigate to the objects that were moved into, out of or within the {room} since {time}, in any order.",
        "How many objects were moved into, out of or within the {room} since {time}?",
    ],
    TaskFamily.COUNTING: [
        "How many {categories} did you see?",
        "How many objects did you pick up?",
        "How many rooms did you visit?",
        "How many times did you pick up the {object}?",
    ],
    TaskFamily.ABSENCE: [
        "Navigate to the {object}.",
        "Navigate to the {category} you picked up.",
        "Navigate to any {category}.",
    ],
}

_K = AnswerKind
_KINDS: dict[TaskFamily, list[AnswerKind]] = {
    TaskFamily.OBJECT_RECALL: [_K.INSTANCE, _K.INSTANCE, _K.INSTANCE],
    TaskFamily.OBJECT_ATTRIBUTE: [_K.INSTANCE, _K.INSTANCE, _K.INSTANCE, _K.TEXT],
    TaskFamily.INTERACTION: [_K.INSTANCE, _K.INSTANCE, _K.BOOLEAN],
    TaskFamily.CONDITIONAL_INTERACTION: [_K.RECEPTACLE, _K.RECEPTACLE, _K.INSTANCE, _K.RECEPTACLE, _K.RECEPTACLE,
                                         _K.RECEPTACLE],
    TaskFamily.SPATIAL_RELATIONSHIP: [_K.RECEPTACLE, _K.RECEPTACLE, _K.INSTANCE],
    TaskFamily.ROOM_VISITATION: [_K.ROOM, _K.ROOM, _K.ROOM, _K.ROOM, _K.NUMBER],
    TaskFamily.INTERACTION_ORDER: [_K.INSTANCE] * 4,
    TaskFamily.TIME_BASED: [_K.INSTANCE, _K.RECEPTACLE, _K.TIME, _K.ROOM, _K.TIME, _K.TIME],
    TaskFamily.DURATION: [_K.INSTANCE, _K.INSTANCE, _K.DURATION],
    TaskFamily.MULTI_GOAL_UNORDERED: [_K.LIST] * 3,
    TaskFamily.MULTI_GOAL_ORDERED: [_K.LIST] * 5,
    TaskFamily.WHERE_NOW: [_K.INSTANCE, _K.ROOM, _K.INSTANCE],
    TaskFamily.CHANGES: [_K.LIST, _K.NUMBER],
    TaskFamily.COUNTING: [_K.NUMBER] * 4,
    TaskFamily.ABSENCE: [_K.INSTANCE] * 3,
}

TEMPLATE_KINDS: dict[str, AnswerKind] = {
    t: k for fam, ts in TEMPLATES.items() for t, k in zip(ts, _KINDS[fam], strict=True)
}
"""Template text -> answer kind of its expected answer (identical texts in two families share one kind)."""


def template_placeholders(template: str) -> list[str]:
    """The placeholder names of a template text, in order of appearance (each once)."""
    import string

    names = [f for _, f, _, _ in string.Formatter().parse(template) if f]
    return list(dict.fromkeys(names))


@dataclass(frozen=True)
class TaskSet:
    """The tasks of one episode and the cases dropped while generating them (reason -> count; reasons name the
    family, e.g. "spatial_relationship: spatial relation to an object whose current place was not observed")."""

    tasks: list[Task]
    exclusions: dict[str, int] = field(default_factory=dict)


def _named_labels(fill: dict[str, str]) -> list[str]:
    labels = [fill["object"]] if "object" in fill else []
    if "objects" in fill:
        labels += [x.removeprefix("the ") for x in fill["objects"].replace(" and ", ", ").split(", ")]
    return labels


def _candidates(episode: Episode, family: TaskFamily, seed: int) -> tuple[list[Task], Counter[str]]:
    ctx = Ctx(episode, np.random.default_rng([episode.seed, 2, int(seed), list(TaskFamily).index(family)]))
    by_label = {o.label: o.sim_id for o in episode.house.objects.values()}
    out: list[Task] = []
    texts: set[str] = set()
    def build(cand: Candidate, task_id: str) -> Task:
        template = TEMPLATES[family][cand.template]
        text = template.format(**{k: v for k, v in cand.fill.items() if not k.startswith("_")})
        assert cand.expected.kind is TEMPLATE_KINDS[template], (template, cand.expected.kind)
        meta: dict[str, object] = {"template": cand.template, **cand.fill,
                                   **derived_values(cand.fill, episode.house, episode.clock, episode.now_ns)}
        named = [by_label[x] for x in _named_labels(cand.fill) if x in by_label]
        about = cand.about_moved or any(ctx.moved(o) for o in named)
        control = None if cand.control is None else build(cand.control, f"{task_id}-control")
        expected = cand.expected
        if all_seen_now(expected.targets) and not expected.forbids_may_have_moved:
            expected = dataclasses.replace(expected, forbids_may_have_moved=True)
        return Task(task_id, family, text, expected, episode.now_ns, about, meta, cand.asked, control)

    for cand in GENERATORS[family](ctx):
        task = build(cand, f"{episode.seed}-{family.value}-{len(out)}")
        if task.text in texts:
            continue
        texts.add(task.text)
        out.append(task)
    return out, Counter({f"{family.value}: {k}": v for k, v in ctx.excluded.items()})


def candidate_tasks(episode: Episode, family: TaskFamily, seed: int = 0) -> list[Task]:
    """Every task of ``family`` the episode supports (deduplicated by text), before sampling."""
    return _candidates(episode, family, seed)[0]


def generate_task_set(
    episode: Episode,
    families: Optional[Iterable[TaskFamily]] = None,
    per_family: Optional[int] = None,
    seed: int = 0,
) -> TaskSet:
    """Tasks for ``episode``: up to ``per_family`` (default ``config.tasks.per_family``) per family, plus the
    count of dropped cases per reason (over every candidate, before sampling).

    Deterministic for (episode.seed, seed). Families an episode cannot support (e.g. no household move for
    WHERE_NOW) yield fewer tasks; every task's :class:`ExpectedAnswer` is computed from the episode log and
    the world state at ``episode.now_ns``. Within a family the templates take turns (in a seeded order) so
    a few tasks still cover several templates. ``task.meta`` holds "template" (index into
    ``TEMPLATES[family]``), the filled placeholders and the derived ones (:mod:`robomem_sim.wording`).
    ``about_moved_object`` is True when an object the task names or targets moved during the episode (picked
    by the robot or by someone else), and for every WHERE_NOW / CHANGES / receptacle-you-picked-from/placed-on
    task.
    """
    n = episode.config.tasks.per_family if per_family is None else per_family
    if n < 0:
        raise SimError(f"per_family must be >= 0, got {n}")
    fams = list(TaskFamily) if families is None else list(families)
    out: list[Task] = []
    excluded: Counter[str] = Counter()
    for fam in fams:
        cands, ex = _candidates(episode, fam, seed)
        excluded.update(ex)
        rng = np.random.default_rng([episode.seed, 3, int(seed), list(TaskFamily).index(fam)])
        by_template: dict[int, list[Task]] = {}
        for t in cands:
            by_template.setdefault(int(t.meta["template"]), []).append(t)  # type: ignore[call-overload]
        queues = [[lst[int(i)] for i in rng.permutation(len(lst))] for _, lst in sorted(by_template.items())]
        queues = [queues[int(i)] for i in rng.permutation(len(queues))]
        chosen: list[Task] = []
        while len(chosen) < n and any(queues):
            for q in queues:
                if q and len(chosen) < n:
                    chosen.append(q.pop(0))
        for k, t in enumerate(chosen):
            tid = f"{episode.seed}-{fam.value}-{k}"
            control = None if t.control is None else dataclasses.replace(t.control, task_id=f"{tid}-control")
            out.append(dataclasses.replace(t, task_id=tid, control=control))
    if not out and n > 0:
        _LOG.warning("episode %d produced no tasks for families %s", episode.seed, [f.value for f in fams])
    return TaskSet(out, dict(sorted(excluded.items())))


def generate_tasks(
    episode: Episode,
    families: Optional[Iterable[TaskFamily]] = None,
    per_family: Optional[int] = None,
    seed: int = 0,
) -> list[Task]:
    """The tasks of :func:`generate_task_set` (without the exclusion counts)."""
    return generate_task_set(episode, families, per_family, seed).tasks
