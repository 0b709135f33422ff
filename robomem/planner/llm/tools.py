"""The memory query API as model tools: JSON-schema definitions, argument validation, execution, and query
results as plain JSON."""

from __future__ import annotations

import dataclasses
import datetime
import enum
import json
import logging
import math
from typing import Any, Callable, Mapping, Optional, Union

import numpy as np

from robomem.core.api import MemoryQueries
from robomem.core.types import ActionKind
from robomem.errors import PlannerError
from robomem.planner.llm.times import TIME_HELP, UTC, format_time, parse_time

__all__ = [
    "MAX_LIST_ITEMS",
    "MEMORY_TOOLS",
    "Arg",
    "ArgType",
    "ToolSpec",
    "load_arguments",
    "memory_tool_schemas",
    "run_tool",
    "to_jsonable",
]

_LOG = logging.getLogger(__name__)

MAX_LIST_ITEMS = 50  # longer lists in tool results are cut (the model is told how many were left out)
MAX_ARRAY_ELEMENTS = 64  # bigger arrays (thumbnails) are summarised by shape and dtype

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
            return {"type": "string", "description": f"{self.description} ({TIME_HELP})"}
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


def memory_tool_schemas() -> list[dict[str, Any]]:
    """OpenAI ``tools`` entries for every memory query."""
    return [t.schema() for t in MEMORY_TOOLS]

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


def load_arguments(arguments: Union[str, Mapping[str, Any], None]) -> dict[str, Any]:
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
        valid = sorted(_TOOLS_BY_NAME)
        return {"ok": False, "tool": name, "error": f"unknown tool {name!r}; valid tools: {valid}"}
    try:
        args = _validate_args(spec, load_arguments(arguments_json))
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

