"""Prompts for the model planners: the system prompt (the memory, its time span, rooms and vocabulary, how to
answer), task keywords, and the keyframes to attach."""

from __future__ import annotations

import datetime
import logging
import re
from typing import Optional

from robomem.core.api import MemoryQueries
from robomem.core.query_types import KeyframeInfo, QueryStatus
from robomem.core.types import NodeKind
from robomem.planner.llm.answer import FINAL_ANSWER, KIND_HELP
from robomem.planner.llm.plan_schema import SUBMIT_PLAN
from robomem.planner.llm.times import TIME_HELP, UTC, format_time

__all__ = ["build_system_prompt", "collect_keyframes", "task_keywords"]

_LOG = logging.getLogger(__name__)
MAX_VOCABULARY = 80  # labels listed in the prompt

_STOPWORDS = frozenset(
    """a an the and or but if then than to of in on at by for from with without into onto over under near
    is are was were be been being do does did done have has had i me my you your we our it its this that these
    those there here what which who whom whose when where why how many much some any all each every first last
    next before after during since until ago now today time times go navigate find show take bring tell please
    can could would should will shall may might must again back also just only ever never not no yes did
    object objects thing things place places one ones other room rooms robot me myself you'd i'd saw see seen
    look looked put picked placed moved interacted""".split()
)


def task_keywords(task: str, max_words: int = 4) -> list[str]:
    """Content words of a task (stop words and short words dropped), first ``max_words``, in order."""
    words = re.findall(r"[a-zA-Z][a-zA-Z\-]+", task.lower())
    out: list[str] = []
    for w in words:
        if len(w) < 3 or w in _STOPWORDS or w in out:
            continue
        out.append(w)
        if len(out) >= max_words:
            break
    return out


def collect_keyframes(memory: MemoryQueries, task: str, n: int) -> list[KeyframeInfo]:
    """Up to ``n`` keyframes with thumbnails for the task's content words, best score first.

    Queries that fail (an unknown word, a proxy error) are logged and skipped: images are a help, not a need.
    """
    if n <= 0:
        return []
    best: dict[int, KeyframeInfo] = {}
    for word in task_keywords(task):
        try:
            res = memory.keyframes_for(text=word, k=n)
        except Exception as exc:  # noqa: BLE001
            _LOG.info("keyframes_for(%r) failed, no images for it: %s", word, exc)
            continue
        if res.status is not QueryStatus.OK:
            continue
        for kf in res.keyframes:
            if kf.thumbnail is None:
                continue
            old = best.get(kf.keyframe_id)
            if old is None or kf.score > old.score:
                best[kf.keyframe_id] = kf
    return sorted(best.values(), key=lambda kf: (-kf.score, kf.keyframe_id))[:n]


def build_system_prompt(
    memory: MemoryQueries,
    now_ns: Optional[int],
    tz: datetime.tzinfo = UTC,
    json_only: bool = False,
    plans: bool = True,
) -> str:
    """The system prompt: what the memory is, its time span, rooms and vocabulary, and how to answer -
    ``plans``: by submitting a query plan (``submit_plan``), else by a free-form ``final_answer``."""
    t0, t1 = memory.time_range()
    try:
        rooms = [r.name for r in memory.regions()]
    except Exception:  # noqa: BLE001
        rooms = []
    lines = [
        "You are the memory of a home robot. You answer a question about what the robot has observed: object "
        "instances (ids, labels, positions, when seen, whether still present), their position history, a scene "
        "graph (on/in/near) over time, rooms, the robot's room visits and camera keyframes. Use only ids and "
        "facts returned by the tools; never invent them.",
    ]
    if t0:
        lines.append(
            f"The memory covers {format_time(t0, tz)} to {format_time(t1, tz)}. Times in tool arguments are "
            f"{TIME_HELP}; 'HH:MM' means that time on {format_time(t0, tz)[:10]}."
        )
    else:
        lines.append("The memory is empty.")
    if now_ns is not None:
        lines.append(f"The time now is {format_time(now_ns, tz)}.")
    if rooms:
        lines.append("Rooms: " + ", ".join(rooms) + ".")
    if plans and t0:
        try:
            insts = memory.instances(include_vanished=True)
        except Exception:  # noqa: BLE001
            insts = []
        objs = sorted({i.label for i in insts if i.kind is NodeKind.OBJECT and i.label})[:MAX_VOCABULARY]
        recs = sorted({i.label for i in insts if i.kind is NodeKind.RECEPTACLE and i.label})[:MAX_VOCABULARY]
        if objs:
            lines.append("Objects in memory: " + ", ".join(objs) + ".")
        if recs:
            lines.append("Receptacles (furniture) in memory: " + ", ".join(recs) + ".")
    if plans:
        lines.append(
            f"Translate the question into a query plan and call the tool {SUBMIT_PLAN} once: the robot's memory "
            "executes it and places reachable goals. Name things in words (e.g. 'red mug'), not ids. You may "
            "call memory tools first when you need to check what exists. If the question is not about the "
            f"robot's memory, submit intent 'not_understood'. Only for a question no intent fits, call "
            f"{FINAL_ANSWER} with kind, text, value, instance_ids (kinds: {KIND_HELP})."
        )
        if json_only:
            lines.append(
                "If you cannot call tools, reply with only the plan as a JSON object, e.g. "
                '{"intent": "find_object", "target": "red mug", "navigate": true}.'
            )
        return "\n".join(lines)
    lines.append(
        f"When done, call the tool {FINAL_ANSWER} once with kind, text, value, instance_ids "
        "(and optional goals). "
        f"Kinds: {KIND_HELP}. If the memory has no evidence, answer kind 'unknown' and say why. "
        "For tasks asking to go to several things, list their instance_ids in the order the task requires."
    )
    if json_only:
        lines.append(
            "If you cannot call tools, reply with only a JSON object "
            '{"kind": ..., "text": ..., "value": ..., "instance_ids": [...]} as the final answer.'
        )
    return "\n".join(lines)
