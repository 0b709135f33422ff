"""The query plan as the model writes it: the ``submit_plan`` tool's JSON schema and its strict validation into
the same :class:`~robomem.planner.nl.plan.QueryPlan` the rule-based parser produces.

Things are named in words ("red mug", "the table", "any cup"); the planner resolves them against the memory
exactly as it does for the parser's plans. Times are strings: a point ``{"at": ...}``, a window
``{"start": ..., "end": ...}``, or a phrase ``{"text": "this morning"}`` - each in the forms of
:func:`~robomem.planner.llm.times.parse_time` (ISO-8601, "HH:MM", "HH:MM on day D", "now") or a time
expression the parser understands ("half past two", "20 minutes ago", "since lunch").
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Optional

from robomem.core.api import MemoryQueries
from robomem.errors import PlannerError
from robomem.planner.knowledge import Knowledge
from robomem.planner.llm.times import TIME_HELP, parse_time
from robomem.planner.nl.lexicon import normalize
from robomem.planner.nl.plan import AttributeKind, EntityKind, EntityRef, Intent, QueryPlan, Relation, TimeSpec
from robomem.planner.nl.reader import read
from robomem.planner.nl.timeexpr import TimeContext, extract_time

__all__ = ["INTENT_HELP", "SUBMIT_PLAN", "plan_from_json", "submit_plan_schema"]

SUBMIT_PLAN = "submit_plan"

INTENT_HELP: dict[Intent, str] = {
    Intent.FIND_OBJECT: "where is / go to an object (target; optional receptacle+relation, room, interacted, time)",
    Intent.OBJECT_ROOM: "which room an object is in now (target)",
    Intent.OBJECT_ATTRIBUTE: "the color/material/shape of an object (target, attribute_kind)",
    Intent.DID_PICK: "did the robot pick up an object (target)",
    Intent.PICK_RECEPTACLE: "the receptacle the robot picked an object up from (target)",
    Intent.PLACE_RECEPTACLE: "the receptacle the robot put an object on (target)",
    Intent.RECEPTACLE_NEAR_OBJECT: "the receptacle nearest/farthest from an object (target, superlative)",
    Intent.OBJECT_NEAR_RECEPTACLE: "the object nearest/farthest to a receptacle (receptacle, room, superlative)",
    Intent.ROOM_NOT_VISITED: "a room the robot did not visit",
    Intent.ROOM_START: "the room the robot started in",
    Intent.ROOM_END: "the room the robot ended in / is in now",
    Intent.ROOM_MOST_TIME: "the room the robot spent the most time in",
    Intent.ROOM_ENTRIES: "how many times the robot entered a room (room)",
    Intent.ROOM_AT_TIME: "the room the robot was in at a time (time)",
    Intent.PICK_ORDER: "the n-th object picked up (ordinal, -1 = last) or the one right after/before another (anchor)",
    Intent.PICK_AT_TIME: "the object picked up at a time (time)",
    Intent.PLACE_AT_TIME: "the receptacle something was put on at a time (time)",
    Intent.PICK_TIME: "when the robot picked up an object (target)",
    Intent.PLACE_TIME: "when the robot put an object down (target)",
    Intent.DURATION_EXTREME: "the object whose pick-and-place took longest/shortest (superlative)",
    Intent.DURATION_OF: "how long moving an object took (target)",
    Intent.MULTI_PICKED: "every object the robot picked up (ordered: in pick order)",
    Intent.MULTI_PLACED_RECEPTACLES: "every receptacle the robot put something on (ordered: in order)",
    Intent.MULTI_LIST: "several named objects (objects, ordered)",
    Intent.CHANGES: "objects moved into/out of/within a room since a time (room, time, count)",
    Intent.COUNT_CATEGORY: "how many objects of a kind were seen (target)",
    Intent.COUNT_PICKED: "how many objects the robot picked up",
    Intent.PICK_COUNT: "how many times the robot picked up an object (target)",
    Intent.COUNT_ROOMS: "how many rooms the robot visited",
    Intent.NOT_UNDERSTOOD: "the question is not about the robot's memory, or you cannot tell",
}

_REQUIRED: dict[Intent, tuple[str, ...]] = {
    Intent.FIND_OBJECT: ("target",), Intent.OBJECT_ROOM: ("target",),
    Intent.OBJECT_ATTRIBUTE: ("target", "attribute_kind"), Intent.DID_PICK: ("target",),
    Intent.PICK_RECEPTACLE: ("target",), Intent.PLACE_RECEPTACLE: ("target",),
    Intent.RECEPTACLE_NEAR_OBJECT: ("target", "superlative"),
    Intent.OBJECT_NEAR_RECEPTACLE: ("receptacle", "superlative"),
    Intent.ROOM_ENTRIES: ("room",), Intent.ROOM_AT_TIME: ("time",), Intent.PICK_AT_TIME: ("time",),
    Intent.PLACE_AT_TIME: ("time",), Intent.PICK_TIME: ("target",), Intent.PLACE_TIME: ("target",),
    Intent.DURATION_EXTREME: ("superlative",), Intent.DURATION_OF: ("target",), Intent.MULTI_LIST: ("objects",),
    Intent.COUNT_CATEGORY: ("target",), Intent.PICK_COUNT: ("target",),
}  # fmt: skip
_VALUE_INTENTS = {Intent.OBJECT_ROOM, Intent.OBJECT_ATTRIBUTE, Intent.DID_PICK, Intent.ROOM_ENTRIES,
                  Intent.ROOM_AT_TIME, Intent.PICK_TIME, Intent.PLACE_TIME, Intent.DURATION_OF, Intent.COUNT_CATEGORY,
                  Intent.COUNT_PICKED, Intent.COUNT_ROOMS, Intent.PICK_COUNT}
_KEYS = {"intent", "target", "objects", "receptacle", "room", "relation", "interacted", "time", "ordinal", "anchor",
         "anchor_offset", "superlative", "attribute_kind", "ordered", "navigate", "count", "confidence"}
_SUPERLATIVES = ("nearest", "farthest", "longest", "shortest")


def submit_plan_schema() -> dict[str, Any]:
    """The ``submit_plan`` tool (OpenAI ``tools`` format)."""
    thing = {"type": "string", "description": "the thing in the user's words, e.g. 'red mug', 'any cup', 'the table'"}
    intents = "; ".join(f"{i.value}: {h}" for i, h in INTENT_HELP.items())
    return {
        "type": "function",
        "function": {
            "name": SUBMIT_PLAN,
            "description": "Submit the query plan for the user's question (call once, when you understood it). "
                           "The robot's memory answers it and places reachable goals.",
            "parameters": {
                "type": "object",
                "properties": {
                    "intent": {"type": "string", "enum": [i.value for i in Intent], "description": intents},
                    "target": thing,
                    "objects": {"type": "array", "items": thing, "description": "multi_list: the listed objects"},
                    "receptacle": thing,
                    "room": {"type": "string", "description": "a room name"},
                    "relation": {"type": "string", "enum": [r.value for r in Relation],
                                 "description": "how the receptacle relates to the target"},
                    "interacted": {"type": ["boolean", "null"],
                                   "description": "true: the robot picked the target up; false: it did not"},
                    "time": {"type": "object", "properties": {"at": {"type": "string"}, "start": {"type": "string"},
                                                              "end": {"type": "string"}, "text": {"type": "string"}},
                             "additionalProperties": False,
                             "description": f"at (a point) or start/end (a window), as {TIME_HELP}; or text: the "
                                            "user's time words ('this morning', 'half past two')"},
                    "ordinal": {"type": "integer", "description": "1-based position in the robot's picks, -1 = last"},
                    "anchor": thing,
                    "anchor_offset": {"type": "integer", "enum": [1, -1], "description": "1: right after, -1: before"},
                    "superlative": {"type": "string", "enum": list(_SUPERLATIVES)},
                    "attribute_kind": {"type": "string", "enum": ["color", "material", "shape"]},
                    "ordered": {"type": "boolean", "description": "the order of several goals matters"},
                    "navigate": {"type": "boolean", "description": "the user wants to be taken there"},
                    "count": {"type": "boolean", "description": "the answer is a number"},
                    "confidence": {"type": "number", "minimum": 0, "maximum": 1,
                                   "description": "how sure you are that you understood the question"},
                },
                "required": ["intent"],
                "additionalProperties": False,
            },
        },
    }


def _entity(value: Any, where: str, knowledge: Knowledge, receptacle: bool = False) -> EntityRef:
    if not isinstance(value, str) or not value.strip():
        raise PlannerError(f"plan.{where} must name a thing in words, e.g. 'red mug', got {value!r}")
    text = normalize(value)
    things = [m for m in read(text, knowledge).mentions if m.kind != "room"]
    if not things:  # a noun the lexicon does not know, said without an article: "giraffe"
        things = [m for m in read("the " + text, knowledge).mentions if m.kind != "room"]
    if not things:
        raise PlannerError(f"plan.{where} {value!r} names nothing I can look for")
    m = things[-1] if not receptacle else next((x for x in things if x.kind == "receptacle"), things[-1])
    quants = {"a": "any", "an": "any", "any": "any", "some": "any", "all": "all", "every": "all"}
    quant = quants.get(m.determiner, "the")
    kind = EntityKind.RECEPTACLE if receptacle or m.kind == "receptacle" else EntityKind.OBJECT
    return EntityRef(m.text, m.head, tuple(m.attributes), kind, m.generic, quant)


def _time(value: Any, memory: MemoryQueries, tctx: TimeContext) -> TimeSpec:
    if not isinstance(value, Mapping) or not value or set(value) - {"at", "start", "end", "text"}:
        raise PlannerError(f"plan.time must be an object with 'at', 'start'/'end' or 'text', got {value!r}")
    if "text" in value:
        tp = extract_time(normalize(str(value["text"])), tctx)
        if tp.spec is None:
            raise PlannerError(f"plan.time.text {value['text']!r} is not a time I understand ({tp.error or TIME_HELP})")
        return tp.spec
    if "at" in value:
        return TimeSpec(str(value["at"]), at_ns=parse_time(value["at"], memory, tctx.tz, tctx.now_ns))
    start = parse_time(value["start"], memory, tctx.tz, tctx.now_ns) if "start" in value else tctx.first_ns
    end = parse_time(value["end"], memory, tctx.tz, tctx.now_ns) if "end" in value else tctx.now_ns
    if end < start:
        raise PlannerError(f"plan.time: end {value.get('end')!r} is before start {value.get('start')!r}")
    return TimeSpec(f"{value.get('start', 'start')} .. {value.get('end', 'now')}", t0_ns=start, t1_ns=end)


def plan_from_json(data: Any, memory: MemoryQueries, tctx: TimeContext, knowledge: Knowledge) -> QueryPlan:
    """Validate a ``submit_plan`` argument object strictly -> :class:`QueryPlan` (PlannerError says what is wrong)."""
    if not isinstance(data, Mapping):
        raise PlannerError(f"the plan must be a JSON object, got {type(data).__name__}")
    extra = sorted(set(data) - _KEYS)
    if extra:
        raise PlannerError(f"the plan has unknown key(s) {extra}; valid: {sorted(_KEYS)}")
    try:
        intent = Intent(data.get("intent"))
    except ValueError:
        raise PlannerError(f"plan.intent {data.get('intent')!r} is not one of {[i.value for i in Intent]}") from None
    missing = [k for k in _REQUIRED.get(intent, ()) if data.get(k) in (None, "", [])]
    if missing:
        raise PlannerError(f"a {intent.value} plan needs {missing}")
    conf = data.get("confidence", 0.9)
    if isinstance(conf, bool) or not isinstance(conf, (int, float)) or not math.isfinite(conf) or not 0 <= conf <= 1:
        raise PlannerError(f"plan.confidence must be a number in [0, 1], got {conf!r}")
    for key in ("ordered", "navigate", "count"):
        if key in data and not isinstance(data[key], bool):
            raise PlannerError(f"plan.{key} must be true or false, got {data[key]!r}")
    interacted = data.get("interacted")
    if interacted is not None and not isinstance(interacted, bool):
        raise PlannerError(f"plan.interacted must be true, false or null, got {interacted!r}")
    ordinal = data.get("ordinal")
    if ordinal is not None and (isinstance(ordinal, bool) or not isinstance(ordinal, int) or ordinal == 0):
        raise PlannerError(f"plan.ordinal must be a non-zero integer (1 = first, -1 = last), got {ordinal!r}")
    if intent is Intent.PICK_ORDER and ordinal is None and not data.get("anchor"):
        raise PlannerError("a pick_order plan needs an ordinal or an anchor")
    sup = data.get("superlative", "")
    if sup and sup not in _SUPERLATIVES:
        raise PlannerError(f"plan.superlative must be one of {_SUPERLATIVES}, got {sup!r}")
    offset = data.get("anchor_offset", 1)
    if offset not in (1, -1):
        raise PlannerError(f"plan.anchor_offset must be 1 or -1, got {offset!r}")
    try:
        relation = Relation(data.get("relation", "none"))
        attr = AttributeKind(data.get("attribute_kind", "any"))
    except ValueError as exc:
        raise PlannerError(f"plan: {exc}") from None
    room = data.get("room", "")
    if not isinstance(room, str):
        raise PlannerError(f"plan.room must be a room name, got {room!r}")
    objects = data.get("objects", [])
    if not isinstance(objects, list):
        raise PlannerError(f"plan.objects must be a list of things in words, got {objects!r}")
    if intent is Intent.MULTI_LIST and len(objects) < 2:
        raise PlannerError("a multi_list plan needs at least two objects")
    target = _entity(data["target"], "target", knowledge) if data.get("target") else None
    time: Optional[TimeSpec] = _time(data["time"], memory, tctx) if data.get("time") else None
    return QueryPlan(
        intent,
        target=target,
        objects=tuple(_entity(o, f"objects[{n}]", knowledge) for n, o in enumerate(objects)),
        receptacle=_entity(data["receptacle"], "receptacle", knowledge, True) if data.get("receptacle") else None,
        room=room,
        relation=relation,
        interacted=interacted,
        time=time,
        ordinal=ordinal,
        anchor=_entity(data["anchor"], "anchor", knowledge) if data.get("anchor") else None,
        anchor_offset=offset,
        superlative=sup,
        attribute_kind=attr,
        ordered=bool(data.get("ordered", False)),
        navigate=bool(data.get("navigate", intent not in _VALUE_INTENTS)),
        count=bool(data.get("count", intent in (Intent.COUNT_CATEGORY, Intent.COUNT_PICKED, Intent.COUNT_ROOMS,
                                                 Intent.ROOM_ENTRIES, Intent.PICK_COUNT))),
        confidence=float(conf),
        text="",
        notes=("plan written by the model",),
    )
