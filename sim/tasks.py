"""FindingDory-style task suite generated from an episode's ground-truth log.

Every task text is one of the fixed templates in :data:`TEMPLATES` with its placeholders filled in, so a
rule-based planner can parse them. Placeholders (always lower case in the text):

``{object}``     an object's full label "<colour> <material> <category>", e.g. "red ceramic mug"
``{objects}``    several labels, each with "the": "the red ceramic mug, the blue glass vase and the green plastic toy"
``{category}``   an object category ("mug", "alarm clock"); ``{categories}``: its plural ("mugs")
``{receptacle}`` a receptacle category ("counter", "tv stand"); unique within its room
``{room}``       a room name as in ``House.regions()`` ("kitchen", "living room", "bedroom 2")
``{time}``       "HH:MM" (24 h, UTC, see ``SimClock``); "HH:MM on day D" (D from 1) when days > 1
``{ordinal}``    "second", "third", ... (the n-th pick, 1-based)
``{colour}`` / ``{material}`` / ``{shape}``  an attribute value ("green", "glass", "cylindrical")

Answer kinds per template are fixed (see :data:`TEMPLATE_KINDS`): navigation answers (INSTANCE, RECEPTACLE,
ROOM with goals, LIST) are scored with FindingDory's rules, typed answers (ROOM name, NUMBER, BOOLEAN,
TIME ns, DURATION s, TEXT) exactly or within tolerance. "Navigate to the {object}." means "go where the
object is now" (WHERE_NOW) and, for a label that was never seen, "not found" (ABSENCE).
"""

from __future__ import annotations

from typing import Iterable, Optional

from robomem.planner.base import AnswerKind
from robomem_sim.episode import Episode
from robomem_sim.types import Task, TaskFamily

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
        "Navigate to a {category} you did not interact with.",
        "Did you pick up the {object}?",
    ],
    TaskFamily.CONDITIONAL_INTERACTION: [
        "Navigate to the receptacle you picked the {object} up from.",
        "Navigate to the receptacle you placed the {object} on.",
        "Navigate to the object you placed on the {receptacle} in the {room}.",
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
    ],
    TaskFamily.DURATION: [
        "Navigate to the object that took the longest to rearrange.",
        "Navigate to the object that took the shortest time to rearrange.",
        "How long did it take to rearrange the {object}?",
    ],
    TaskFamily.MULTI_GOAL_UNORDERED: [
        "Navigate to all the objects you picked up, in any order.",
        "Navigate to {objects}, in any order.",
    ],
    TaskFamily.MULTI_GOAL_ORDERED: [
        "Navigate to the objects you picked up, in the order you picked them up.",
        "Navigate to the receptacles you placed objects on, in the order you placed them.",
        "Navigate to {objects}, in this order.",
    ],
    TaskFamily.WHERE_NOW: [
        "Navigate to the {object}.",
        "Which room is the {object} in now?",
    ],
    TaskFamily.CHANGES: [
        "Navigate to the objects that were moved into, out of or within the {room} since {time}, in any order.",
        "How many objects were moved into, out of or within the {room} since {time}?",
    ],
    TaskFamily.COUNTING: [
        "How many {categories} did you see?",
        "How many objects did you pick up?",
        "How many rooms did you visit?",
    ],
    TaskFamily.ABSENCE: [
        "Navigate to the {object}.",
        "Navigate to the {category} you picked up.",
        "Navigate to a {category}.",
    ],
}

TEMPLATE_KINDS: dict[str, AnswerKind] = {}
"""Template text -> answer kind of its expected answer (filled below; identical texts share one kind)."""

ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth",
            "eleventh", "twelfth")


def generate_tasks(
    episode: Episode,
    families: Optional[Iterable[TaskFamily]] = None,
    per_family: Optional[int] = None,
    seed: int = 0,
) -> list[Task]:
    """Tasks for ``episode``: up to ``per_family`` (default ``config.tasks.per_family``) per family.

    Deterministic for (episode.seed, seed). Families an episode cannot support (e.g. no unseen move for
    WHERE_NOW) yield fewer tasks; every task's :class:`ExpectedAnswer` is computed from the episode log and
    the world state at ``episode.now_ns``. ``task.meta`` holds "template" (index into TEMPLATES[family]) and
    the filled placeholders.
    """
    raise NotImplementedError
