"""Report rows ("categories"): the task families present, then ``multi-goal``, ``moved objects`` and ``overall``;
column names (``agent@perception``). See :mod:`robomem_sim.report`.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from robomem_sim.types import TaskFamily

CATEGORY_MULTI = "multi-goal"
CATEGORY_MOVED = "moved objects"
CATEGORY_OVERALL = "overall"
HEADLINE_PERCEPTION = "noisy"
TEMPLATES = "templates"
UNIFORM_GAP = 0.25
"""uniform_keyframes must be at least this far below robomem (the suite rewards memory)."""
_FAMILY_ORDER = [f.value for f in TaskFamily]


def column(agent: str, perception: str) -> str:
    return f"{agent}@{perception}"


def categories_of(records: Sequence[Mapping[str, Any]]) -> list[str]:
    """Families present (in :class:`TaskFamily` order), then the summary rows."""
    fams = {str(r["family"]) for r in records}
    out = [f for f in _FAMILY_ORDER if f in fams] + sorted(fams - set(_FAMILY_ORDER))
    return out + [CATEGORY_MULTI, CATEGORY_MOVED, CATEGORY_OVERALL]


def _in_category(r: Mapping[str, Any], cat: str) -> bool:
    if cat == CATEGORY_OVERALL:
        return True
    if cat == CATEGORY_MULTI:
        return bool(r.get("multi_goal"))
    if cat == CATEGORY_MOVED:
        return bool(r.get("about_moved_object"))
    return bool(r["family"] == cat)
