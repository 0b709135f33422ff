"""The memory query API as model tools, and the tool-calling loop shared by the model-backed planners.

* :func:`tool_schemas` - JSON-schema tool definitions in the OpenAI ``tools`` format, one per
  :class:`~robomem.core.api.MemoryQueries` method plus ``final_answer``.
* :func:`run_tool` - validates a tool call's arguments and runs it against a memory; returns a plain-JSON
  dict (``{"ok": true, "call": ..., "result": ...}`` or ``{"ok": false, "error": ...}``) and never raises,
  so a bad call from the model becomes a message the model can read and fix.
* :func:`parse_final_answer` - strict validation of a ``final_answer`` into a
  :class:`~robomem.planner.base.PlannerAnswer`; goals for instances are taken from the memory
  (``last_seen``), never from positions the model wrote.
* :func:`run_tool_loop` - model turn -> tool calls -> tool results -> ... -> final answer, for any
  :class:`ChatBackend` (the OpenAI-compatible endpoint, a local transformers model).

Times in tool arguments are strings: ISO-8601 (``2026-11-03T08:15:00``, ``...+01:00``; a time without zone
is read in the planner's zone, UTC by default), ``"HH:MM"`` / ``"HH:MM:SS"`` on the memory's day (the date
of its first stamp in that zone), ``"HH:MM on day D"`` (D from 1, for multi-day memories), or ``"now"``
(the task's ``now_ns``, else the memory's last stamp). They become ns since the epoch.
Results show every ``*_ns`` stamp also as ``*_time`` (ISO-8601 in that zone).
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import json
import logging
import math
import re
from typing import Any, Callable, Mapping, Optional, Protocol, Sequence, Union

import numpy as np

from robomem.core.api import MemoryQueries
from robomem.core.query_types import KeyframeInfo, QueryStatus
from robomem.core.types import ActionKind
from robomem.errors import PlannerError
from robomem.planner.base import AnswerKind, Goal, PlannerAnswer

__all__ = [
    "FINAL_ANSWER",
    "MEMORY_TOOLS",
    "AssistantTurn",
    "ChatBackend",
    "ToolCall",
    "build_system_prompt",
    "collect_keyframes",
    "extract_answer_object",
    "find_json_objects",
    "format_time",
    "parse_final_answer",
    "parse_time",
    "parse_tool_calls_text",
    "run_tool",
    "run_tool_loop",
    "task_keywords",
    "to_jsonable",
    "tool_schemas",
]

_LOG = logging.getLogger(__name__)

FINAL_ANSWER = "final_answer"
MAX_LIST_ITEMS = 50  # longer lists in tool results are cut (the model is told how many were left out)
MAX_ARRAY_ELEMENTS = 64  # bigger arrays (thumbnails) are summarised by shape and dtype
UTC = datetime.timezone.utc

_NS_PER_S = 1_000_000_000
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=UTC)
_HHMM = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(?:\s+on\s+day\s+(\d+))?$", re.IGNORECASE)


# ----------------------------------------------------------------------------------------------- times


def _memory_day_start(memory: MemoryQueries, tz: datetime.tzinfo) -> datetime.datetime:
    first_ns, _last_ns = memory.time_range()
    if first_ns == 0:
        raise PlannerError("the memory is empty, so 'HH:MM' has no day; give a full ISO-8601 time")
    first = _EPOCH + datetime.timedelta(microseconds=first_ns // 1000)
    local = first.astimezone(tz)
    return datetime.datetime(local.year, local.month, local.day, tzinfo=tz)


def _to_ns(dt: datetime.datetime) -> int:
    delta = dt - _EPOCH
    return (delta.days * 86400 + delta.seconds) * _NS_PER_S + delta.microseconds * 1000


def parse_time(
    value: object,
    memory: MemoryQueries,
    tz: datetime.tzinfo = UTC,
    now_ns: Optional[int] = None,
) -> int:
    """A tool-argument time -> ns since the epoch (see the module docstring for the accepted forms).

    Raises :class:`PlannerError` with the accepted forms when ``value`` is none of them.
    """
    if not isinstance(value, str) or not value.strip():
        raise PlannerError(f"time {value!r} must be a string: ISO-8601 ('2026-11-03T08:15:00'), 'HH:MM' or 'now'")
    text = value.strip()
    if text.lower() == "now":
        if now_ns is not None:
            return int(now_ns)
        last = memory.time_range()[1]
        if last == 0:
            raise PlannerError("'now' is unknown: the memory is empty and no task time was given")
        return int(last)
    m = _HHMM.match(text)
    if m:
        hh, mm = int(m.group(1)), int(m.group(2))
        ss = int(m.group(3) or 0)
        frac = m.group(4) or ""
        if hh > 23 or mm > 59 or ss > 59:
            raise PlannerError(f"time {text!r} is not a valid clock time (HH 0-23, MM 0-59)")
        day_n = int(m.group(5) or 1)
        if day_n < 1:
            raise PlannerError(f"time {text!r}: days count from 1 (the memory's first day)")
        day = _memory_day_start(memory, tz) + datetime.timedelta(days=day_n - 1)
        # wall-clock arithmetic in the zone, then back to UTC (DST-correct for ZoneInfo zones)
        local = day.replace(hour=hh, minute=mm, second=ss)
        ns = _to_ns(local.astimezone(UTC))
        return ns + int(frac.ljust(9, "0")) if frac else ns
    try:
        dt = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise PlannerError(
            f"time {text!r} is not ISO-8601 ('2026-11-03T08:15:00'), 'HH:MM' of the memory's day, or 'now'"
        ) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=tz)
    return _to_ns(dt)


def format_time(t_ns: int, tz: datetime.tzinfo = UTC) -> str:
    """ns since the epoch -> ISO-8601 in ``tz`` (seconds resolution)."""
    dt = (_EPOCH + datetime.timedelta(microseconds=int(t_ns) // 1000)).astimezone(tz)
    return dt.isoformat(timespec="seconds")


# ----------------------------------------------------------------------------------------------- JSON


def to_jsonable(obj: Any, tz: Optional[datetime.tzinfo] = UTC, max_items: int = MAX_LIST_ITEMS) -> Any:
    """Query results -> plain JSON values.

    Dataclasses and NamedTuples become objects, enums their value (or name for int enums such as
    :class:`QueryStatus`), numpy scalars Python numbers, small arrays nested lists and arrays bigger than
    ``MAX_ARRAY_ELEMENTS`` (thumbnails) ``{"shape", "dtype"}``; non-finite floats become null. Lists longer
    than ``max_items`` are cut and end with a ``"... N more"`` string. With ``tz``, every int ``*_ns``
    field gets a sibling ``*_time`` (ISO-8601).
    """
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, enum.Enum):
        return obj.value if isinstance(obj.value, str) else obj.name
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        f = float(obj)
        return round(f, 6) if math.isfinite(f) else None
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, np.ndarray):
        if obj.size > MAX_ARRAY_ELEMENTS:
            return {"shape": list(obj.shape), "dtype": str(obj.dtype)}
        return to_jsonable(obj.tolist(), tz, max_items)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        fields = {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
        return _mapping_to_json(fields, tz, max_items)
    if isinstance(obj, tuple) and hasattr(obj, "_asdict"):  # NamedTuple (Box3D)
        return _mapping_to_json(obj._asdict(), tz, max_items)
    if isinstance(obj, Mapping):
        return _mapping_to_json(obj, tz, max_items)
    if isinstance(obj, (set, frozenset)):
        obj = sorted(obj, key=repr)
    if isinstance(obj, (list, tuple)):
        items = [to_jsonable(v, tz, max_items) for v in obj[:max_items]]
        if len(obj) > max_items:
            items.append(f"... {len(obj) - max_items} more")
        return items
    return str(obj)


def _mapping_to_json(data: Mapping[Any, Any], tz: Optional[datetime.tzinfo], max_items: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        k = key.value if isinstance(key, enum.Enum) else str(key)
        out[k] = to_jsonable(value, tz, max_items)
        if (
            tz is not None
            and k.endswith("_ns")
            and isinstance(value, (int, np.integer))
            and not isinstance(value, bool)
            and int(value) > 0
        ):
            out[k[:-3] + "_time"] = format_time(int(value), tz)
    return out


# ----------------------------------------------------------------------------------------------- tool specs


class ArgType(enum.Enum):
    STRING = "string"
    INTEGER = "integer"
    NUMBER = "number"
    BOOLEAN = "boolean"
    TIME = "time"  # a string, converted by parse_time


_TIME_HELP = "ISO-8601 ('2026-11-03T08:15:00'), 'HH:MM' on the memory's first day, 'HH:MM on day 2', or 'now'"


@dataclasses.dataclass(frozen=True)
class Arg:
    name: str
    type: ArgType
    description: str
    required: bool = False
    minimum: Optional[float] = None
    maximum: Optional[float] = None

    def schema(self) -> dict[str, Any]:
        if self.type is ArgType.TIME:
            return {"type": "string", "description": f"{self.description} ({_TIME_HELP})"}
        out: dict[str, Any] = {"type": self.type.value, "description": self.description}
        if self.minimum is not None:
            out["minimum"] = self.minimum
        if self.maximum is not None:
            out["maximum"] = self.maximum
        return out


@dataclasses.dataclass(frozen=True)
class _Ctx:
    memory: MemoryQueries
    tz: datetime.tzinfo
    now_ns: Optional[int]

    def t(self, value: object) -> int:
        return parse_time(value, self.memory, self.tz, self.now_ns)


ToolFn = Callable[[_Ctx, dict[str, Any]], Any]


@dataclasses.dataclass(frozen=True)
class ToolSpec:
    """One tool: its arguments (which generate both the JSON schema and the validation) and its call.

    ``exactly_one_of``: argument names of which exactly one must be given (e.g. instance_id or text).
    """

    name: str
    description: str
    args: tuple[Arg, ...]
    fn: ToolFn
    exactly_one_of: tuple[str, ...] = ()

    def schema(self) -> dict[str, Any]:
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": {
                    "type": "object",
                    "properties": {a.name: a.schema() for a in self.args},
                    "required": [a.name for a in self.args if a.required],
                    "additionalProperties": False,
                },
            },
        }


_ID = Arg("instance_id", ArgType.INTEGER, "an instance id returned by another tool", minimum=0)
_TEXT = Arg("text", ArgType.STRING, "what to look for, e.g. 'red mug' (best match, vanished ones included)")
_K = Arg("k", ArgType.INTEGER, "how many results (default 5)", minimum=1, maximum=MAX_LIST_ITEMS)


def _end_default(ctx: _Ctx, a: dict[str, Any], key: str) -> int:
    if key in a:
        return ctx.t(a[key])
    if ctx.now_ns is not None:
        return int(ctx.now_ns)
    return int(ctx.memory.time_range()[1])


def _action_kind(value: Optional[str]) -> Optional[ActionKind]:
    if value is None:
        return None
    try:
        return ActionKind(value.strip().lower())
    except ValueError:
        raise PlannerError(f"kind must be 'pick' or 'place', got {value!r}") from None


def _time_range(ctx: _Ctx, a: dict[str, Any]) -> dict[str, Any]:
    t0, t1 = ctx.memory.time_range()
    return {"start_ns": t0, "end_ns": t1}


MEMORY_TOOLS: tuple[ToolSpec, ...] = (
    ToolSpec(
        "locate",
        "Find object/receptacle instances matching a description, best first, with where they are now. "
        "Only instances still believed present unless include_vanished.",
        (
            Arg("text", ArgType.STRING, "description, e.g. 'red mug'", required=True),
            _K,
            Arg("include_vanished", ArgType.BOOLEAN, "also return instances no longer seen (default false)"),
        ),
        lambda c, a: c.memory.locate(
            text=a["text"], k=a.get("k", 5), include_vanished=a.get("include_vanished", False)
        ),
    ),
    ToolSpec(
        "last_seen",
        "Where and when an instance was last seen (give instance_id or text).",
        (_ID, _TEXT),
        lambda c, a: c.memory.last_seen(instance_id=a.get("instance_id"), text=a.get("text")),
        exactly_one_of=("instance_id", "text"),
    ),
    ToolSpec(
        "where_at",
        "Where an instance was at a past time (give instance_id or text).",
        (Arg("time", ArgType.TIME, "the past time", required=True), _ID, _TEXT),
        lambda c, a: c.memory.where_at(c.t(a["time"]), instance_id=a.get("instance_id"), text=a.get("text")),
        exactly_one_of=("instance_id", "text"),
    ),
    ToolSpec(
        "history",
        "Every place an instance has been, oldest first (give instance_id or text).",
        (_ID, _TEXT),
        lambda c, a: c.memory.history(instance_id=a.get("instance_id"), text=a.get("text")),
        exactly_one_of=("instance_id", "text"),
    ),
    ToolSpec(
        "changes",
        "Objects that appeared, vanished or moved between two times, optionally only in one room.",
        (
            Arg("start", ArgType.TIME, "start of the interval", required=True),
            Arg("end", ArgType.TIME, "end of the interval (default: now)"),
            Arg("region", ArgType.STRING, "room name to restrict to"),
        ),
        lambda c, a: c.memory.changes(c.t(a["start"]), _end_default(c, a, "end"), region=a.get("region")),
    ),
    ToolSpec(
        "count",
        "How many distinct instances match a description.",
        (
            Arg("text", ArgType.STRING, "description, e.g. 'chair'", required=True),
            Arg("min_score", ArgType.NUMBER, "similarity threshold (0-1)", minimum=0.0, maximum=1.0),
            Arg("include_vanished", ArgType.BOOLEAN, "count instances no longer seen too (default false)"),
        ),
        lambda c, a: c.memory.count(
            a["text"], min_score=a.get("min_score"), include_vanished=a.get("include_vanished", False)
        ),
    ),
    ToolSpec(
        "relations",
        "Scene-graph relations (on/in/near/part_of) of an instance, optionally those valid at a time.",
        (
            dataclasses.replace(_ID, required=True),
            Arg("time", ArgType.TIME, "only relations valid then"),
        ),
        lambda c, a: c.memory.relations(a["instance_id"], t_ns=c.t(a["time"]) if "time" in a else None),
    ),
    ToolSpec(
        "state_at",
        "Everything the memory believed was present at a past time, with relations.",
        (Arg("time", ArgType.TIME, "the past time", required=True),),
        lambda c, a: c.memory.state_at(c.t(a["time"])),
    ),
    ToolSpec(
        "keyframes_for",
        "Stored camera keyframes showing a description or an instance, best first (newest first if neither).",
        (
            Arg("text", ArgType.STRING, "description, e.g. 'kitchen counter'"),
            _ID,
            Arg("k", ArgType.INTEGER, "how many (default 5)", minimum=1, maximum=20),
        ),
        lambda c, a: c.memory.keyframes_for(text=a.get("text"), k=a.get("k", 5), instance_id=a.get("instance_id")),
    ),
    ToolSpec(
        "room_visits",
        "The robot's own visits to rooms, oldest first, optionally within a time interval.",
        (Arg("start", ArgType.TIME, "interval start"), Arg("end", ArgType.TIME, "interval end")),
        lambda c, a: c.memory.room_visits(
            c.t(a["start"]) if "start" in a else None, c.t(a["end"]) if "end" in a else None
        ),
    ),
    ToolSpec(
        "actions",
        "The robot's own pick/place events as recorded from its manipulation stack (facts, not inferences), "
        "oldest first: what it picked up, where it put it, in which order. NOT_FOUND when none were recorded.",
        (
            Arg("start", ArgType.TIME, "interval start"),
            Arg("end", ArgType.TIME, "interval end"),
            Arg("kind", ArgType.STRING, "'pick' or 'place' (default: both)"),
            _ID,
        ),
        lambda c, a: c.memory.actions(
            c.t(a["start"]) if "start" in a else None, c.t(a["end"]) if "end" in a else None,
            kind=_action_kind(a.get("kind")), instance_id=a.get("instance_id"),
        ),
    ),
    ToolSpec(
        "instances",
        "Every instance the memory knows (id, label, where, when).",
        (Arg("include_vanished", ArgType.BOOLEAN, "include instances no longer seen (default true)"),),
        lambda c, a: c.memory.instances(include_vanished=a.get("include_vanished", True)),
    ),
    ToolSpec("regions", "The named rooms and their boxes.", (), lambda c, a: list(c.memory.regions())),
    ToolSpec("time_range", "First and last observation time of the memory.", (), _time_range),
)
_TOOLS_BY_NAME = {t.name: t for t in MEMORY_TOOLS}


def _final_answer_schema() -> dict[str, Any]:
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
                    "kind": {"type": "string", "enum": kinds, "description": _KIND_HELP},
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


_KIND_HELP = (
    "instance (an object: instance_ids), receptacle (furniture: instance_ids), room (value: room name), "
    "time (value: a time), duration (value: seconds), number (value: integer), boolean (value: true/false), "
    "list (instance_ids), text (value: string), unknown (the memory has no evidence; text says why)"
)


def tool_schemas(include_final_answer: bool = True) -> list[dict[str, Any]]:
    """OpenAI ``tools`` list: every memory tool, then ``final_answer``."""
    out = [t.schema() for t in MEMORY_TOOLS]
    if include_final_answer:
        out.append(_final_answer_schema())
    return out


# ----------------------------------------------------------------------------------------------- executor


def _validate_args(spec: ToolSpec, raw: Mapping[str, Any]) -> dict[str, Any]:
    known = {a.name: a for a in spec.args}
    unknown = sorted(set(raw) - set(known))
    if unknown:
        raise PlannerError(f"unknown argument(s) {unknown} for {spec.name}; valid: {sorted(known)}")
    args: dict[str, Any] = {}
    for a in spec.args:
        if a.name not in raw or raw[a.name] is None:
            if a.required:
                raise PlannerError(f"{spec.name} needs argument {a.name!r} ({a.description})")
            continue
        v = raw[a.name]
        if a.type in (ArgType.STRING, ArgType.TIME):
            if not isinstance(v, str) or not v.strip():
                raise PlannerError(f"{spec.name}.{a.name} must be a non-empty string, got {v!r}")
        elif a.type is ArgType.BOOLEAN:
            if not isinstance(v, bool):
                raise PlannerError(f"{spec.name}.{a.name} must be true or false, got {v!r}")
        elif a.type is ArgType.INTEGER:
            if isinstance(v, float) and v.is_integer():
                v = int(v)
            if isinstance(v, bool) or not isinstance(v, int):
                raise PlannerError(f"{spec.name}.{a.name} must be an integer, got {v!r}")
        elif a.type is ArgType.NUMBER:
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise PlannerError(f"{spec.name}.{a.name} must be a number, got {v!r}")
        if a.minimum is not None and v < a.minimum:
            raise PlannerError(f"{spec.name}.{a.name} must be >= {a.minimum}, got {v!r}")
        if a.maximum is not None and v > a.maximum:
            raise PlannerError(f"{spec.name}.{a.name} must be <= {a.maximum}, got {v!r}")
        args[a.name] = v
    if spec.exactly_one_of and sum(n in args for n in spec.exactly_one_of) != 1:
        raise PlannerError(f"{spec.name} needs exactly one of {list(spec.exactly_one_of)}")
    return args


def _load_arguments(arguments: Union[str, Mapping[str, Any], None]) -> dict[str, Any]:
    if arguments is None:
        return {}
    if isinstance(arguments, Mapping):
        return dict(arguments)
    if not isinstance(arguments, str):
        raise PlannerError(f"arguments must be a JSON object, got {type(arguments).__name__}")
    if not arguments.strip():
        return {}
    try:
        obj = json.loads(arguments)
    except json.JSONDecodeError as exc:
        raise PlannerError(f"arguments are not valid JSON ({exc.msg} at char {exc.pos}): {arguments[:200]!r}") from None
    if not isinstance(obj, dict):
        raise PlannerError(f"arguments must be a JSON object, got {type(obj).__name__}")
    return obj


def _call_repr(name: str, args: Mapping[str, Any]) -> str:
    return f"{name}(" + ", ".join(f"{k}={v!r}" for k, v in args.items()) + ")"


def run_tool(
    memory: MemoryQueries,
    name: str,
    arguments_json: Union[str, Mapping[str, Any], None],
    *,
    tz: datetime.tzinfo = UTC,
    now_ns: Optional[int] = None,
) -> dict[str, Any]:
    """Run memory tool ``name`` with JSON ``arguments_json`` -> a plain-JSON dict. Never raises.

    Success: ``{"ok": true, "tool", "call", "result"}`` where ``result`` is the query result as JSON (its
    ``status`` may still be NOT_FOUND / BAD_REQUEST, with a ``message``). Failure (unknown tool, bad JSON,
    bad arguments, an exception in the memory): ``{"ok": false, "tool", "error"}`` with what to fix.
    """
    spec = _TOOLS_BY_NAME.get(name)
    if spec is None:
        valid = sorted(_TOOLS_BY_NAME) + [FINAL_ANSWER]
        return {"ok": False, "tool": name, "error": f"unknown tool {name!r}; valid tools: {valid}"}
    try:
        args = _validate_args(spec, _load_arguments(arguments_json))
    except PlannerError as exc:
        return {"ok": False, "tool": name, "error": str(exc)}
    call = _call_repr(name, args)
    try:
        result = spec.fn(_Ctx(memory, tz, now_ns), args)
    except PlannerError as exc:  # a bad time string
        return {"ok": False, "tool": name, "call": call, "error": str(exc)}
    except Exception as exc:  # noqa: BLE001 - a failing query must not end the model loop
        _LOG.warning("tool %s failed: %s", call, exc, exc_info=True)
        return {"ok": False, "tool": name, "call": call, "error": f"{type(exc).__name__}: {exc}"}
    return {"ok": True, "tool": name, "call": call, "result": to_jsonable(result, tz)}


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


def _instance_goal(memory: MemoryQueries, iid: int, where: str, extra: Mapping[str, Any]) -> Goal:
    res = memory.last_seen(instance_id=iid)
    if res.status is not QueryStatus.OK or res.instance is None:
        raise PlannerError(
            f"{where}={iid} is not an instance the memory knows ({res.message}); use ids returned by the tools"
        )
    position = res.placement.position if res.placement is not None else res.instance.position
    yaw = extra.get("yaw")
    stamp = extra.get("keyframe_stamp_ns")
    return Goal(
        position=(float(position[0]), float(position[1]), float(position[2])),
        yaw=float(yaw) if yaw is not None else None,
        instance_id=iid,
        label=res.instance.label,
        keyframe_stamp_ns=int(stamp) if stamp is not None else None,
    )


def parse_final_answer(
    obj: Union[str, Mapping[str, Any]],
    memory: Optional[MemoryQueries] = None,
    *,
    tz: datetime.tzinfo = UTC,
    now_ns: Optional[int] = None,
    plan: Sequence[str] = (),
) -> PlannerAnswer:
    """Validate a ``final_answer`` (a JSON object or its text) strictly -> :class:`PlannerAnswer`.

    Rules: keys only kind/text/value/instance_ids/goals; ``kind`` one of :class:`AnswerKind`'s values;
    ``text`` a string (non-empty for unknown); ``instance_ids`` integers; per kind ``value`` must be:
    room - a room name (one of the memory's regions when it has any); time - ns (int) or a time string
    (needs ``memory``); duration - seconds >= 0; number - an integer; boolean - true/false; text - a string
    or null; instance/receptacle - at least one instance id; unknown - no value and no ids.

    With ``memory``: every instance id must be known to it, and goals are rebuilt from it - a goal's
    position is the instance's ``last_seen`` position, whatever the model wrote; instance/receptacle/list
    answers without goals get one goal per id (in order); a room answer gets the room's box centre.
    Without ``memory`` a goal must carry its own ``position``.
    Raises :class:`PlannerError` saying what is wrong.
    """
    data = _load_arguments(obj) if isinstance(obj, str) else obj
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
        for n, iid in enumerate(ids):
            _instance_goal(memory, iid, f"instance_ids[{n}]", {})  # existence check
        for n, g in enumerate(goal_specs):
            if g["instance_id"] is None:
                raise PlannerError(f"goals[{n}] needs an instance_id: positions come from the memory")
            goals.append(_instance_goal(memory, g["instance_id"], f"goals[{n}].instance_id", g))
        if not goals and kind in _INSTANCE_KINDS:
            goals = [_instance_goal(memory, iid, f"instance_ids[{n}]", {}) for n, iid in enumerate(ids)]
        if not goals and kind is AnswerKind.ROOM:
            goals = [Goal(position=r.box.center, label=r.name) for r in memory.regions() if r.name == value]
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


# ----------------------------------------------------------------------------------------------- text parsing

_TOOL_CALL_TAG = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.DOTALL)


def find_json_objects(text: str) -> list[Any]:
    """Every top-level JSON object in free text (code fences and prose around them are skipped)."""
    decoder = json.JSONDecoder()
    out: list[Any] = []
    i = text.find("{")
    while i != -1:
        try:
            obj, end = decoder.raw_decode(text, i)
        except json.JSONDecodeError:
            i = text.find("{", i + 1)
            continue
        out.append(obj)
        i = text.find("{", end)
    return out


@dataclasses.dataclass(frozen=True)
class ToolCall:
    """One tool call of the model. ``arguments``: JSON text. ``structured``: it came as an API ``tool_calls``
    entry (with an ``id`` the reply must quote), not parsed out of the model's text."""

    id: str
    name: str
    arguments: str
    structured: bool = True


def _as_call(obj: object, call_id: str) -> Optional[ToolCall]:
    if not isinstance(obj, dict):
        return None
    if isinstance(obj.get("function"), dict):  # {"type": "function", "function": {...}}
        obj = obj["function"]
        assert isinstance(obj, dict)
    name = obj.get("name")
    if not isinstance(name, str) or not ("arguments" in obj or "parameters" in obj):
        return None
    args = obj.get("arguments", obj.get("parameters"))
    args_text = args if isinstance(args, str) else json.dumps(args)
    return ToolCall(call_id, name, args_text, structured=False)


def parse_tool_calls_text(text: str, id_prefix: str = "call") -> tuple[ToolCall, ...]:
    """Tool calls written in a model's text: ``<tool_call>{"name", "arguments"}</tool_call>`` blocks
    (Qwen/Hermes), else bare JSON objects with ``name`` and ``arguments``/``parameters`` (Llama 3.x)."""
    if not text:
        return ()
    blocks = _TOOL_CALL_TAG.findall(text)
    candidates: list[Any] = []
    if blocks:
        for b in blocks:
            candidates.extend(find_json_objects(b))
    else:
        candidates = find_json_objects(text)
    calls: list[ToolCall] = []
    for obj in candidates:
        call = _as_call(obj, f"{id_prefix}_{len(calls)}")
        if call is not None:
            calls.append(call)
    return tuple(calls)


def extract_answer_object(text: str) -> dict[str, Any]:
    """The final-answer JSON object in a model's text reply (the first object with a ``kind``)."""
    objs = [o for o in find_json_objects(text or "") if isinstance(o, dict)]
    if not objs:
        raise PlannerError(f"the reply contains no JSON object: {(text or '')[:200]!r}")
    for o in objs:
        if "kind" in o:
            return o
    raise PlannerError(f"the reply's JSON has no 'kind' key: {json.dumps(objs[0])[:200]}")


# ----------------------------------------------------------------------------------------------- prompts

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
    memory: MemoryQueries, now_ns: Optional[int], tz: datetime.tzinfo = UTC, json_only: bool = False
) -> str:
    """The system prompt: what the memory is, its time range and rooms, how to use the tools and answer."""
    t0, t1 = memory.time_range()
    try:
        rooms = [r.name for r in memory.regions()]
    except Exception:  # noqa: BLE001
        rooms = []
    lines = [
        "You are the memory of a home robot. You answer a task about what the robot has observed by calling "
        "tools that query its memory: object instances (ids, labels, positions, when seen, whether still "
        "present), their position history, a scene graph (on/in/near) over time, rooms, the robot's room "
        "visits and camera keyframes. Use only ids and facts returned by the tools; never invent them.",
    ]
    if t0:
        lines.append(
            f"The memory covers {format_time(t0, tz)} to {format_time(t1, tz)}. Times in tool arguments are "
            f"{_TIME_HELP}; 'HH:MM' means that time on {format_time(t0, tz)[:10]}."
        )
    else:
        lines.append("The memory is empty.")
    if now_ns is not None:
        lines.append(f"The time now is {format_time(now_ns, tz)}.")
    if rooms:
        lines.append("Rooms: " + ", ".join(rooms) + ".")
    lines.append(
        f"When done, call the tool {FINAL_ANSWER} once with kind, text, value, instance_ids "
        "(and optional goals). "
        f"Kinds: {_KIND_HELP}. If the memory has no evidence, answer kind 'unknown' and say why. "
        "For tasks asking to go to several things, list their instance_ids in the order the task requires."
    )
    if json_only:
        lines.append(
            "If you cannot call tools, reply with only a JSON object "
            '{"kind": ..., "text": ..., "value": ..., "instance_ids": [...]} as the final answer.'
        )
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------- the loop


@dataclasses.dataclass(frozen=True)
class AssistantTurn:
    """One model reply: ``message`` is appended to the conversation as is; ``content`` its text;
    ``tool_calls`` its structured calls (empty: the loop looks for calls written in ``content``)."""

    message: dict[str, Any]
    content: str
    tool_calls: tuple[ToolCall, ...] = ()


class ChatBackend(Protocol):
    """What :func:`run_tool_loop` needs from a model backend."""

    def chat(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> AssistantTurn:
        """One model turn. Raises PlannerError when the backend fails (endpoint down, model broken)."""

    def tool_result_message(self, call: ToolCall, content: str) -> dict[str, Any]:
        """The message that returns ``content`` (JSON text) as the result of ``call``."""


CORRECTIVE_MESSAGE = (
    "Your last reply was not a valid answer: {reason}. Call a memory tool, or call {final} with "
    "kind, text, value, instance_ids - or reply with only that JSON object."
)
LAST_TURN_MESSAGE = f"This is your last turn: call {FINAL_ANSWER} now (kind 'unknown' if you cannot tell)."


def run_tool_loop(
    backend: ChatBackend,
    memory: MemoryQueries,
    messages: list[dict[str, Any]],
    *,
    max_rounds: int,
    tz: datetime.tzinfo = UTC,
    now_ns: Optional[int] = None,
    tools: Optional[list[dict[str, Any]]] = None,
) -> PlannerAnswer:
    """Drive the model until it answers. ``messages`` (system + user) is extended in place.

    Each round is one model turn. Tool calls are run with :func:`run_tool` and their results appended;
    a ``final_answer`` call, or a reply without tool calls whose text holds a JSON answer, is validated with
    :func:`parse_final_answer` and returned. The first malformed answer (bad JSON, wrong kind, unknown
    ids, ...) gets one corrective message; a second one raises :class:`PlannerError` (the model's output
    is unusable - a backend failure). When ``max_rounds`` turns pass without an answer, the result is an
    UNKNOWN answer (status NOT_FOUND) whose text says so. The last turn is told to answer now.
    """
    tool_list = tools if tools is not None else tool_schemas()
    plan: list[str] = []
    corrected = False
    last_calls: list[str] = []

    def malformed(reason: str, output: str) -> None:
        nonlocal corrected
        if corrected:
            raise PlannerError(
                f"the model's answer was malformed again after a corrective message: {reason}; "
                f"its output: {output[:300]!r}. Try a larger/instruction-tuned model or a lower temperature."
            )
        corrected = True
        _LOG.info("malformed model answer (%s); sending one corrective message", reason)

    for round_idx in range(max_rounds):
        if round_idx == max_rounds - 1 and round_idx > 0:
            messages.append({"role": "user", "content": LAST_TURN_MESSAGE})
        turn = backend.chat(messages, tool_list)
        messages.append(turn.message)
        calls = turn.tool_calls or parse_tool_calls_text(turn.content, id_prefix=f"call_{round_idx}")
        if calls:
            last_calls = []
            for call in calls:
                if call.name == FINAL_ANSWER:
                    try:
                        return parse_final_answer(call.arguments, memory, tz=tz, now_ns=now_ns, plan=plan)
                    except PlannerError as exc:
                        malformed(str(exc), call.arguments)
                        err = {"ok": False, "tool": FINAL_ANSWER, "error": str(exc)}
                        messages.append(backend.tool_result_message(call, json.dumps(err)))
                        continue
                result = run_tool(memory, call.name, call.arguments, tz=tz, now_ns=now_ns)
                plan.append(str(result.get("call", call.name)))
                last_calls.append(str(result.get("call", call.name)))
                messages.append(backend.tool_result_message(call, json.dumps(result)))
            continue
        try:
            return parse_final_answer(extract_answer_object(turn.content), memory, tz=tz, now_ns=now_ns, plan=plan)
        except PlannerError as exc:
            malformed(str(exc), turn.content)
            messages.append({"role": "user", "content": CORRECTIVE_MESSAGE.format(reason=exc, final=FINAL_ANSWER)})
    reason = f"the model gave no final answer within max_tool_rounds={max_rounds} turns"
    if last_calls:
        reason += f" (its last calls: {', '.join(last_calls)})"
    return PlannerAnswer(QueryStatus.NOT_FOUND, AnswerKind.UNKNOWN, reason, plan=tuple(plan))
