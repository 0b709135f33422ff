"""The model's free-form final answer (``final_answer``): its JSON schema and strict validation into a
:class:`~robomem.planner.base.PlannerAnswer`. Goals are never taken from positions the model wrote: they are
placed by the shared goal placer (:mod:`robomem.planner.goals`) for the instances and rooms it names."""

from __future__ import annotations

import datetime
import math
from typing import Any, Mapping, Optional, Protocol, Sequence, Union

from robomem.core.api import MemoryQueries
from robomem.core.query_types import QueryStatus
from robomem.errors import PlannerError
from robomem.planner.base import AnswerKind, Goal, PlannerAnswer
from robomem.planner.llm.times import UTC, parse_time
from robomem.planner.llm.tools import load_arguments

__all__ = ["FINAL_ANSWER", "KIND_HELP", "GoalMaker", "final_answer_schema", "parse_final_answer"]

FINAL_ANSWER = "final_answer"


class GoalMaker(Protocol):
    """Reachable goals for an instance id / a room name (PlanExecutor.goal_maker)."""

    def instance(self, instance_id: int) -> Goal: ...

    def room(self, name: str) -> Goal: ...


def final_answer_schema() -> dict[str, Any]:
    kinds = [k.value for k in AnswerKind]
    goal = {
        "type": "object",
        "properties": {
            "instance_id": {"type": "integer", "description": "instance to go to (position from memory)"},
            "yaw": {"type": "number", "description": "heading to face, rad about +z (optional)"},
            "label": {"type": "string"},
            "keyframe_stamp_ns": {"type": "integer", "description": "stamp of the keyframe that shows it"},
        },
        "required": ["instance_id"],
        "additionalProperties": False,
    }
    return {
        "type": "function",
        "function": {
            "name": FINAL_ANSWER,
            "description": "Give the answer to the task. Call exactly once, when done.",
            "parameters": {
                "type": "object",
                "properties": {
                    "kind": {"type": "string", "enum": kinds, "description": KIND_HELP},
                    "text": {"type": "string", "description": "the answer in one sentence; for unknown: why"},
                    "value": {
                        "type": ["string", "number", "integer", "boolean", "null"],
                        "description": "room: room name; time: a time string; duration: seconds; number: "
                        "integer; boolean: true/false; text: a string; otherwise null",
                    },
                    "instance_ids": {
                        "type": "array",
                        "items": {"type": "integer"},
                        "description": "instance/receptacle: the instance first; list: all, in task order",
                    },
                    "goals": {"type": "array", "items": goal, "description": "places to go (optional)"},
                },
                "required": ["kind", "text"],
                "additionalProperties": False,
            },
        },
    }


KIND_HELP = (
    "instance (an object: instance_ids), receptacle (furniture: instance_ids), room (value: room name), "
    "time (value: a time), duration (value: seconds), number (value: integer), boolean (value: true/false), "
    "list (instance_ids), text (value: string), unknown (the memory has no evidence; text says why)"
)


# ----------------------------------------------------------------------------------------------- final answer

_ANSWER_KEYS = {"kind", "text", "value", "instance_ids", "goals"}
_GOAL_KEYS = {"instance_id", "position", "yaw", "label", "keyframe_stamp_ns"}
_INSTANCE_KINDS = (AnswerKind.INSTANCE, AnswerKind.RECEPTACLE, AnswerKind.LIST)


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(float(v))


def _parse_goal(i: int, g: object) -> dict[str, Any]:
    if not isinstance(g, Mapping):
        raise PlannerError(f"goals[{i}] must be an object with an instance_id, got {g!r}")
    extra = sorted(set(g) - _GOAL_KEYS)
    if extra:
        raise PlannerError(f"goals[{i}] has unknown key(s) {extra}; valid: {sorted(_GOAL_KEYS)}")
    iid = g.get("instance_id")
    if iid is not None and not _is_int(iid):
        raise PlannerError(f"goals[{i}].instance_id must be an integer, got {iid!r}")
    pos = g.get("position")
    if pos is not None and (not isinstance(pos, (list, tuple)) or len(pos) != 3 or not all(_is_number(x) for x in pos)):
        raise PlannerError(f"goals[{i}].position must be [x, y, z] in metres, got {pos!r}")
    if iid is None and pos is None:
        raise PlannerError(f"goals[{i}] needs an instance_id (goals are places of remembered instances)")
    yaw = g.get("yaw")
    if yaw is not None and not _is_number(yaw):
        raise PlannerError(f"goals[{i}].yaw must be a number (rad), got {yaw!r}")
    label = g.get("label", "")
    if not isinstance(label, str):
        raise PlannerError(f"goals[{i}].label must be a string, got {label!r}")
    stamp = g.get("keyframe_stamp_ns")
    if stamp is not None and not _is_int(stamp):
        raise PlannerError(f"goals[{i}].keyframe_stamp_ns must be an integer, got {stamp!r}")
    return {"instance_id": iid, "position": pos, "yaw": yaw, "label": label, "keyframe_stamp_ns": stamp}


def _check_instance(memory: MemoryQueries, iid: int, where: str) -> None:
    res = memory.last_seen(instance_id=iid)
    if res.status is not QueryStatus.OK or res.instance is None:
        raise PlannerError(
            f"{where}={iid} is not an instance the memory knows ({res.message}); use ids returned by the tools"
        )


def parse_final_answer(
    obj: Union[str, Mapping[str, Any]],
    memory: Optional[MemoryQueries] = None,
    *,
    tz: datetime.tzinfo = UTC,
    now_ns: Optional[int] = None,
    plan: Sequence[str] = (),
    goals_from: Optional[GoalMaker] = None,
) -> PlannerAnswer:
    """Validate a ``final_answer`` (a JSON object or its text) strictly -> :class:`PlannerAnswer`.

    Rules: keys only kind/text/value/instance_ids/goals; ``kind`` one of :class:`AnswerKind`'s values;
    ``text`` a string (non-empty for unknown); ``instance_ids`` integers; per kind ``value`` must be:
    room - a room name (one of the memory's regions when it has any); time - ns (int) or a time string
    (needs ``memory``); duration - seconds >= 0; number - an integer; boolean - true/false; text - a string
    or null; instance/receptacle - at least one instance id; unknown - no value and no ids.

    With ``memory``: every instance id must be known to it, and goals are placed by ``goals_from`` (default:
    the shared goal placer with default settings) - a reachable standoff facing the instance, whatever
    position the model wrote; instance/receptacle/list answers without goals get one goal per id (in order);
    a room answer gets a free point in the room.
    Without ``memory`` a goal must carry its own ``position``.
    Raises :class:`PlannerError` saying what is wrong.
    """
    data = load_arguments(obj) if isinstance(obj, str) else obj
    if not isinstance(data, Mapping):
        raise PlannerError(f"final answer must be a JSON object, got {type(data).__name__}")
    extra = sorted(set(data) - _ANSWER_KEYS)
    if extra:
        raise PlannerError(f"final answer has unknown key(s) {extra}; valid: {sorted(_ANSWER_KEYS)}")
    kind_raw = data.get("kind")
    try:
        kind = AnswerKind(kind_raw)
    except ValueError:
        raise PlannerError(f"final answer kind {kind_raw!r} is not one of {[k.value for k in AnswerKind]}") from None
    text = data.get("text")
    if not isinstance(text, str):
        raise PlannerError(f"final answer text must be a string, got {text!r}")
    ids_raw = data.get("instance_ids", [])
    if ids_raw is None:
        ids_raw = []
    if not isinstance(ids_raw, list) or not all(_is_int(i) for i in ids_raw):
        raise PlannerError(f"final answer instance_ids must be a list of integers, got {ids_raw!r}")
    ids: list[int] = list(ids_raw)
    goals_raw = data.get("goals", [])
    if goals_raw is None:
        goals_raw = []
    if not isinstance(goals_raw, list):
        raise PlannerError(f"final answer goals must be a list, got {goals_raw!r}")
    goal_specs = [_parse_goal(i, g) for i, g in enumerate(goals_raw)]
    value = _check_value(kind, data.get("value"), memory, tz, now_ns)

    if kind is AnswerKind.UNKNOWN:
        if not text.strip():
            raise PlannerError("an unknown answer needs a text saying why the memory cannot answer")
        if ids or goal_specs:
            raise PlannerError("an unknown answer must not name instance_ids or goals")
        return PlannerAnswer(QueryStatus.NOT_FOUND, kind, text, None, (), (), tuple(plan))
    if kind in _INSTANCE_KINDS and not ids:
        ids = [g["instance_id"] for g in goal_specs if g["instance_id"] is not None]
    if kind in (AnswerKind.INSTANCE, AnswerKind.RECEPTACLE) and not ids:
        raise PlannerError(f"a {kind.value} answer needs instance_ids (ids returned by the tools)")

    goals: list[Goal] = []
    if memory is not None:
        if goals_from is None:
            from robomem.planner.execute import default_goal_maker

            goals_from = default_goal_maker(memory, now_ns)
        for n, iid in enumerate(ids):
            _check_instance(memory, iid, f"instance_ids[{n}]")
        for n, g in enumerate(goal_specs):
            if g["instance_id"] is None:
                raise PlannerError(f"goals[{n}] needs an instance_id: positions come from the memory")
            _check_instance(memory, g["instance_id"], f"goals[{n}].instance_id")
            goals.append(goals_from.instance(g["instance_id"]))
        if not goals and kind in _INSTANCE_KINDS:
            goals = [goals_from.instance(iid) for iid in ids]
        if not goals and kind is AnswerKind.ROOM and isinstance(value, str):
            goals = [goals_from.room(value)]
    else:
        for n, g in enumerate(goal_specs):
            if g["position"] is None:
                raise PlannerError(f"goals[{n}] has no position and there is no memory to look its id up in")
            p = g["position"]
            goals.append(
                Goal(
                    position=(float(p[0]), float(p[1]), float(p[2])),
                    yaw=float(g["yaw"]) if g["yaw"] is not None else None,
                    instance_id=g["instance_id"],
                    label=g["label"],
                    keyframe_stamp_ns=g["keyframe_stamp_ns"],
                )
            )
    return PlannerAnswer(QueryStatus.OK, kind, text, value, tuple(ids), tuple(goals), tuple(plan))


def _check_value(
    kind: AnswerKind,
    value: object,
    memory: Optional[MemoryQueries],
    tz: datetime.tzinfo,
    now_ns: Optional[int],
) -> Union[int, float, str, bool, None]:
    if kind is AnswerKind.ROOM:
        if not isinstance(value, str) or not value.strip():
            raise PlannerError(f"a room answer needs value = the room's name, got {value!r}")
        if memory is not None:
            names = [r.name for r in memory.regions()]
            if names:
                match = [n for n in names if n.lower() == value.strip().lower()]
                if not match:
                    raise PlannerError(f"room {value!r} is not one of the memory's rooms {names}")
                return match[0]
        return value
    if kind is AnswerKind.TIME:
        if _is_int(value):
            return int(value)  # type: ignore[call-overload]
        if isinstance(value, str):
            if memory is None:
                raise PlannerError("a time answer given as a string needs the memory to convert it; give ns")
            return parse_time(value, memory, tz, now_ns)
        raise PlannerError(f"a time answer needs value = a time string or ns since the epoch, got {value!r}")
    if kind is AnswerKind.DURATION:
        if not _is_number(value) or float(value) < 0:  # type: ignore[arg-type]
            raise PlannerError(f"a duration answer needs value = seconds >= 0, got {value!r}")
        return float(value)  # type: ignore[arg-type]
    if kind is AnswerKind.NUMBER:
        if not _is_int(value):
            raise PlannerError(f"a number answer needs an integer value, got {value!r}")
        return int(value)  # type: ignore[call-overload]
    if kind is AnswerKind.BOOLEAN:
        if not isinstance(value, bool):
            raise PlannerError(f"a boolean answer needs value true or false, got {value!r}")
        return value
    if kind is AnswerKind.UNKNOWN:
        if value is not None:
            raise PlannerError(f"an unknown answer must have value null, got {value!r}")
        return None
    # instance, receptacle, list, text: an optional string (a label / the answer text)
    if value is not None and not isinstance(value, str):
        raise PlannerError(f"a {kind.value} answer takes a string or null value, got {value!r}")
    return value

