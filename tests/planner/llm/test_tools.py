"""Tool definitions, the tool executor, final-answer validation and the shared tool loop."""

from __future__ import annotations

import dataclasses
import datetime
import json
import re
from typing import Any

import numpy as np
import pytest

from robomem.core.api import MemoryQueries
from robomem.core.query_types import QueryStatus
from robomem.errors import PlannerError
from robomem.planner.base import AnswerKind
from robomem.planner.llm.answer import FINAL_ANSWER, parse_final_answer
from robomem.planner.llm.loop import (
    LAST_TURN_MESSAGE,
    AssistantTurn,
    ToolCall,
    extract_answer_object,
    find_json_objects,
    parse_tool_calls_text,
    run_tool_loop,
    tool_schemas,
)
from robomem.planner.llm.prompt import collect_keyframes, task_keywords
from robomem.planner.llm.times import format_time, parse_time
from robomem.planner.llm.tools import MEMORY_TOOLS, run_tool, to_jsonable
from tests.planner._fake_memory import MUG_NOW, SEC, T0, T_END, FakeMemory, faces


@pytest.fixture
def mem() -> FakeMemory:
    return FakeMemory()


def _ok(out: dict[str, Any]) -> dict[str, Any]:
    assert out["ok"] is True, out
    json.dumps(out, allow_nan=False)  # plain JSON, no NaN
    return out["result"]


# ----------------------------------------------------------------------------------------------- schemas


def test_one_tool_per_query_method_plus_final_answer() -> None:
    methods = {n for n in dir(MemoryQueries) if not n.startswith("_")}
    schemas = tool_schemas()
    names = [s["function"]["name"] for s in schemas]
    assert set(names) == methods | {FINAL_ANSWER}
    assert names[-1] == FINAL_ANSWER and len(names) == len(set(names))
    assert [s["function"]["name"] for s in tool_schemas(include_final_answer=False)] == names[:-1]
    for s in schemas:
        assert s["type"] == "function"
        params = s["function"]["parameters"]
        assert params["type"] == "object" and params["additionalProperties"] is False
        assert set(params["required"]) <= set(params["properties"])
        assert s["function"]["description"]
    json.dumps(schemas)


def test_final_answer_schema_is_planner_answer_fields() -> None:
    fa = tool_schemas()[-1]["function"]["parameters"]
    assert set(fa["properties"]) == {"kind", "text", "value", "instance_ids", "goals"}
    assert fa["properties"]["kind"]["enum"] == [k.value for k in AnswerKind]
    assert fa["required"] == ["kind", "text"]
    assert fa["properties"]["instance_ids"]["items"] == {"type": "integer"}


def test_time_args_are_documented_strings() -> None:
    where_at = next(t for t in MEMORY_TOOLS if t.name == "where_at").schema()
    prop = where_at["function"]["parameters"]["properties"]["time"]
    assert prop["type"] == "string" and "HH:MM" in prop["description"] and "ISO-8601" in prop["description"]


# ----------------------------------------------------------------------------------------------- times


def test_parse_time_forms(mem: FakeMemory) -> None:
    assert parse_time("08:15", mem) == T0 + 900 * SEC
    assert parse_time("08:15:30", mem) == T0 + 930 * SEC
    assert parse_time("08:15:30.5", mem) == T0 + 930 * SEC + SEC // 2
    assert parse_time("2026-01-01T08:20:00", mem) == T0 + 1200 * SEC
    assert parse_time("2026-01-01T09:20:00+01:00", mem) == T0 + 1200 * SEC
    assert parse_time("2026-01-01T08:20:00Z", mem) == T0 + 1200 * SEC
    assert parse_time("08:15 on day 1", mem) == T0 + 900 * SEC
    assert parse_time("08:15 on Day 3", mem) == T0 + 900 * SEC + 2 * 86400 * SEC
    assert parse_time("now", mem) == T_END
    assert parse_time("now", mem, now_ns=T0 + 5) == T0 + 5
    # "HH:MM" in another zone: the day is the first stamp's date there, the clock is local
    berlin = datetime.timezone(datetime.timedelta(hours=1))
    assert parse_time("09:15", mem, tz=berlin) == T0 + 900 * SEC
    assert format_time(T0 + 900 * SEC) == "2026-01-01T08:15:00+00:00"


@pytest.mark.parametrize("bad", ["25:00", "8h15", "", "yesterday", "2026-13-01T00:00", "08:00 on day 0"])
def test_parse_time_rejects(mem: FakeMemory, bad: str) -> None:
    with pytest.raises(PlannerError, match="ISO-8601|clock time|string|days count from 1"):
        parse_time(bad, mem)


# ----------------------------------------------------------------------------------------------- run_tool


def test_locate_result_is_plain_json(mem: FakeMemory) -> None:
    out = run_tool(mem, "locate", '{"text": "red mug", "k": 3}')
    assert out["call"] == "locate(text='red mug', k=3)"
    res = _ok(out)
    assert mem.calls[-1] == ("locate", "red mug", 3, False)
    assert res["status"] == "OK"
    (m,) = res["matches"]
    assert m["instance_id"] == 3 and m["label"] == "red mug" and m["kind"] == "object"
    assert m["position"] == [2.1, 0.2, 0.82]
    assert m["box"]["min_xyz"] == pytest.approx([2.04, 0.14, 0.76])
    assert m["last_seen_ns"] == T0 + 1800 * SEC and m["last_seen_time"] == "2026-01-01T08:30:00+00:00"
    assert m["receptacle_label"] == "kitchen table" and m["present"] is True


def test_not_found_is_a_result_not_an_error(mem: FakeMemory) -> None:
    res = _ok(run_tool(mem, "locate", {"text": "giraffe"}))
    assert res["status"] == "NOT_FOUND" and "giraffe" in res["message"]


def test_every_tool_runs(mem: FakeMemory) -> None:
    res = _ok(run_tool(mem, "last_seen", '{"instance_id": 3}'))
    assert res["placement"]["first_seen_ns"] == MUG_NOW.first_seen_ns and res["placement"]["room"] == "kitchen"
    res = _ok(run_tool(mem, "where_at", '{"time": "08:10", "text": "mug"}'))
    assert mem.calls[-1] == ("where_at", T0 + 600 * SEC, None, "mug")
    assert res["placement"]["room"] == "living room"
    res = _ok(run_tool(mem, "history", {"text": "red mug"}))
    assert [p["room"] for p in res["placements"]] == ["living room", "kitchen"]
    res = _ok(run_tool(mem, "changes", {"start": "08:05", "region": "kitchen"}))
    assert mem.calls[-1] == ("changes", T0 + 300 * SEC, T_END, "kitchen")  # end defaults to the last stamp
    assert res["changes"][0]["kind"] == "moved" and res["changes"][0]["to_room"] == "kitchen"
    run_tool(mem, "changes", {"start": "08:05"}, now_ns=T0 + 999 * SEC)
    assert mem.calls[-1][2] == T0 + 999 * SEC  # ... or to the task's now
    res = _ok(run_tool(mem, "count", {"text": "mug book", "include_vanished": True, "min_score": 0.3}))
    assert res["count"] == 2 and mem.calls[-1] == ("count", "mug book", 0.3, True)
    res = _ok(run_tool(mem, "relations", {"instance_id": 3, "time": "2026-01-01T08:25:00"}))
    assert mem.calls[-1] == ("relations", 3, T0 + 1500 * SEC)
    edge = res["edges"][0]
    assert edge["relation"] == "on" and edge["target"] == {"kind": "receptacle", "instance_id": 1, "name": ""}
    assert edge["intervals"] == [
        {"start_ns": T0 + 1200 * SEC, "end_ns": None, "start_time": "2026-01-01T08:20:00+00:00"}
    ]
    res = _ok(run_tool(mem, "state_at", {"time": "08:30"}))
    assert res["stamp_ns"] == T0 + 1800 * SEC and len(res["instances"]) == 2
    res = _ok(run_tool(mem, "keyframes_for", {"instance_id": 3, "k": 2}))
    kf = res["keyframes"][0]
    assert kf["thumbnail"] == {"shape": [12, 16, 3], "dtype": "uint8"}  # images are not dumped into text
    assert kf["world_T_camera"] == np.eye(4).tolist() and kf["visible_instance_ids"] == [1, 3]
    res = _ok(run_tool(mem, "room_visits", {"start": "08:00", "end": "09:00"}))
    assert mem.calls[-1] == ("room_visits", T0, T0 + 3600 * SEC)
    assert res["visits"][1] == {
        "room": "living room",
        "enter_ns": T0 + 900 * SEC,
        "enter_time": "2026-01-01T08:15:00+00:00",
        "exit_ns": None,
    }
    assert [i["instance_id"] for i in _ok(run_tool(mem, "instances", {"include_vanished": False}))] == [1, 3]
    rooms = _ok(run_tool(mem, "regions", "{}"))
    assert [r["name"] for r in rooms] == ["kitchen", "living room"]
    assert rooms[0]["box"] == {"min_xyz": [0.0, -5.0, -1.0], "max_xyz": [5.0, 5.0, 3.0]}
    assert _ok(run_tool(mem, "time_range", None))["end_ns"] == T_END


@pytest.mark.parametrize(
    "name, args, msg",
    [
        ("teleport", "{}", "unknown tool 'teleport'"),
        ("locate", '{"text": "mug"', "not valid JSON"),
        ("locate", "[1, 2]", "must be a JSON object"),
        ("locate", "{}", "needs argument 'text'"),
        ("locate", '{"text": "mug", "colour": "red"}', r"unknown argument\(s\) \['colour'\]"),
        ("locate", '{"text": "mug", "k": "3"}', "k must be an integer"),
        ("locate", '{"text": "mug", "k": true}', "k must be an integer"),
        ("locate", '{"text": "mug", "k": 0}', "k must be >= 1"),
        ("locate", '{"text": ""}', "non-empty string"),
        ("locate", '{"text": "mug", "include_vanished": "yes"}', "true or false"),
        ("last_seen", "{}", "exactly one of"),
        ("last_seen", '{"instance_id": 3, "text": "mug"}', "exactly one of"),
        ("where_at", '{"time": "noon", "instance_id": 3}', "ISO-8601"),
        ("where_at", '{"time": 123, "instance_id": 3}', "non-empty string"),
        ("count", '{"text": "mug", "min_score": 2}', "min_score must be <= 1"),
    ],
)
def test_bad_calls_give_error_dicts(mem: FakeMemory, name: str, args: str, msg: str) -> None:
    n_calls = len(mem.calls)
    out = run_tool(mem, name, args)
    assert out["ok"] is False and out["tool"] == name
    assert re.search(msg, out["error"]), out["error"]
    assert len(mem.calls) == n_calls  # rejected before touching the memory
    json.dumps(out)


def test_memory_exception_becomes_error_dict(mem: FakeMemory) -> None:
    mem.fail_keyframes = True
    out = run_tool(mem, "keyframes_for", {"text": "mug"})
    assert out == {
        "ok": False,
        "tool": "keyframes_for",
        "call": "keyframes_for(text='mug')",
        "error": "RuntimeError: keyframe store offline",
    }


def test_to_jsonable_edge_cases() -> None:
    assert to_jsonable(QueryStatus.NOT_FOUND) == "NOT_FOUND"
    assert to_jsonable(np.float32(0.25)) == 0.25 and to_jsonable(float("nan")) is None
    assert to_jsonable(np.int64(7)) == 7 and to_jsonable(np.bool_(True)) is True
    assert to_jsonable(frozenset({3, 1})) == [1, 3]
    long = to_jsonable(list(range(60)))
    assert long[:50] == list(range(50)) and long[50] == "... 10 more"
    assert to_jsonable({"t_ns": T0}) == {"t_ns": T0, "t_time": "2026-01-01T08:00:00+00:00"}
    assert to_jsonable({"t_ns": T0}, tz=None) == {"t_ns": T0}


# ----------------------------------------------------------------------------------------------- final answer


def test_instance_answer_goals_come_from_memory(mem: FakeMemory) -> None:
    obj = {
        "kind": "instance",
        "text": "the mug",
        "instance_ids": [3],
        "goals": [{"instance_id": 3, "position": [9.0, 9.0, 9.0], "yaw": 0.5}],
    }
    ans = parse_final_answer(json.dumps(obj), mem, plan=["locate(text='mug')"])
    assert ans.status is QueryStatus.OK and ans.kind is AnswerKind.INSTANCE
    assert ans.instance_ids == (3,) and ans.plan == ("locate(text='mug')",)
    (g,) = ans.goals
    # not the model's invented (9, 9, 9): a reachable standoff facing the mug, placed by the shared placer
    assert faces(g, MUG_NOW.position) and g.position != (9.0, 9.0, 9.0)
    assert g.instance_id == 3 and g.label == "red mug"


def test_list_answer_keeps_order_and_fills_goals(mem: FakeMemory) -> None:
    ans = parse_final_answer({"kind": "list", "text": "mug then table", "instance_ids": [3, 1]}, mem)
    assert [g.instance_id for g in ans.goals] == [3, 1]
    table = ans.goals[1]  # in front of the table's footprint (0.4 m half size), not inside it
    assert faces(table, (2.0, 0.0, 0.375), near=0.5, far=1.5)
    ids_from_goals = parse_final_answer({"kind": "receptacle", "text": "t", "goals": [{"instance_id": 1}]}, mem)
    assert ids_from_goals.instance_ids == (1,)


def test_value_kinds(mem: FakeMemory) -> None:
    room = parse_final_answer({"kind": "room", "text": "in the kitchen", "value": "Kitchen"}, mem)
    g = room.goals[0]
    assert room.value == "kitchen" and g.label == "kitchen" and 0.0 < g.position[0] < 5.0 and -5.0 < g.position[1] < 5.0
    t = parse_final_answer({"kind": "time", "text": "at 8:20", "value": "08:20"}, mem)
    assert t.value == T0 + 1200 * SEC
    assert parse_final_answer({"kind": "time", "text": "x", "value": T0}).value == T0
    assert parse_final_answer({"kind": "duration", "text": "x", "value": 90}).value == 90.0
    assert parse_final_answer({"kind": "number", "text": "two", "value": 2}).value == 2
    assert parse_final_answer({"kind": "boolean", "text": "no", "value": False}).value is False
    assert parse_final_answer({"kind": "text", "text": "red", "value": "red"}).value == "red"
    unk = parse_final_answer({"kind": "unknown", "text": "never saw a giraffe", "value": None, "instance_ids": []})
    assert unk.status is QueryStatus.NOT_FOUND and unk.kind is AnswerKind.UNKNOWN
    no_mem = parse_final_answer(
        {
            "kind": "instance",
            "text": "x",
            "instance_ids": [3],
            "goals": [{"instance_id": 3, "position": [1, 2, 3]}],
        }
    )
    assert no_mem.goals[0].position == (1.0, 2.0, 3.0)  # without a memory the given position is all there is


@pytest.mark.parametrize(
    "obj, msg",
    [
        ({"kind": "object", "text": "x", "instance_ids": [3]}, "kind 'object' is not one of"),
        ({"text": "x"}, "kind None"),
        ({"kind": "instance", "instance_ids": [3]}, "text must be a string"),
        ({"kind": "instance", "text": "x", "instance_ids": ["3"]}, "list of integers"),
        ({"kind": "instance", "text": "x", "instance_ids": [3.0]}, "list of integers"),
        ({"kind": "instance", "text": "x", "instance_ids": [True]}, "list of integers"),
        ({"kind": "instance", "text": "x", "instance_ids": 3}, "list of integers"),
        ({"kind": "instance", "text": "x"}, "needs instance_ids"),
        (
            {"kind": "instance", "text": "x", "instance_ids": [3], "confidence": 0.9},
            r"unknown key\(s\) \['confidence'\]",
        ),
        ({"kind": "instance", "text": "x", "instance_ids": [42]}, "instance_ids.0.=42 is not an instance"),
        ({"kind": "list", "text": "x", "goals": [{"position": [1, 2, 3]}]}, "needs an instance_id"),
        ({"kind": "list", "text": "x", "goals": [{"instance_id": 3, "speed": 1}]}, "unknown key"),
        ({"kind": "list", "text": "x", "goals": [{"instance_id": 3, "position": [1, 2]}]}, r"\[x, y, z\]"),
        ({"kind": "list", "text": "x", "goals": "3"}, "goals must be a list"),
        ({"kind": "room", "text": "x", "value": "garage"}, "not one of the memory's rooms"),
        ({"kind": "room", "text": "x", "value": 3}, "room's name"),
        ({"kind": "number", "text": "x", "value": 2.0}, "integer value"),
        ({"kind": "number", "text": "x", "value": "2"}, "integer value"),
        ({"kind": "boolean", "text": "x", "value": "yes"}, "true or false"),
        ({"kind": "duration", "text": "x", "value": -1}, "seconds >= 0"),
        ({"kind": "time", "text": "x", "value": 1.5}, "time string or ns"),
        ({"kind": "time", "text": "x", "value": "lunch"}, "ISO-8601"),
        ({"kind": "unknown", "text": ""}, "needs a text"),
        ({"kind": "unknown", "text": "x", "instance_ids": [3]}, "must not name"),
        ({"kind": "unknown", "text": "x", "value": 0}, "value null"),
        ({"kind": "text", "text": "x", "value": 5}, "string or null"),
    ],
)
def test_parse_final_answer_is_strict(mem: FakeMemory, obj: dict[str, Any], msg: str) -> None:
    with pytest.raises(PlannerError, match=msg):
        parse_final_answer(obj, mem)


def test_parse_final_answer_bad_json_text() -> None:
    with pytest.raises(PlannerError, match="not valid JSON"):
        parse_final_answer('{"kind": "instance",')
    with pytest.raises(PlannerError, match="needs the memory"):
        parse_final_answer({"kind": "time", "text": "x", "value": "08:00"})
    with pytest.raises(PlannerError, match="no position"):
        parse_final_answer({"kind": "list", "text": "x", "goals": [{"instance_id": 3}]})


# ----------------------------------------------------------------------------------------------- text parsing


def test_find_json_and_tool_calls_in_text() -> None:
    text = 'Sure.\n```json\n{"kind": "number", "text": "2", "value": 2}\n```\nand {"bad": '
    assert find_json_objects(text) == [{"kind": "number", "text": "2", "value": 2}]
    assert extract_answer_object(text)["value"] == 2
    with pytest.raises(PlannerError, match="no JSON object"):
        extract_answer_object("I think it's the mug.")
    with pytest.raises(PlannerError, match="neither an 'intent' nor a 'kind'"):
        extract_answer_object('{"answer": 3}')

    qwen = (
        'x <tool_call>\n{"name": "locate", "arguments": {"text": "mug"}}\n</tool_call><tool_call>{"name": '
        '"last_seen", "arguments": "{\\"instance_id\\": 3}"}</tool_call>'
    )
    calls = parse_tool_calls_text(qwen, id_prefix="r0")
    assert [(c.id, c.name, json.loads(c.arguments)) for c in calls] == [
        ("r0_0", "locate", {"text": "mug"}),
        ("r0_1", "last_seen", {"instance_id": 3}),
    ]
    assert all(not c.structured for c in calls)
    llama = '{"name": "count", "parameters": {"text": "chair"}}'
    assert parse_tool_calls_text(llama)[0].arguments == '{"text": "chair"}'
    assert parse_tool_calls_text('{"kind": "unknown", "text": "no"}') == ()
    assert parse_tool_calls_text("") == ()


def test_task_keywords_and_keyframes(mem: FakeMemory) -> None:
    assert task_keywords("Navigate to the red mug you saw on the kitchen table") == [
        "red",
        "mug",
        "kitchen",
        "table",
    ]
    kfs = collect_keyframes(mem, "the mug on the table", 5)
    assert [k.keyframe_id for k in kfs] == [7, 8]  # deduplicated, best score kept (0.9 from 'mug')
    assert kfs[0].score == 0.9
    assert collect_keyframes(mem, "the mug on the table", 1)[0].keyframe_id == 7
    assert collect_keyframes(mem, "the mug", 0) == []
    mem.fail_keyframes = True
    assert collect_keyframes(mem, "the mug", 3) == []  # a failing store costs the images, not the answer


# ----------------------------------------------------------------------------------------------- loop


@dataclasses.dataclass
class Scripted:
    """A ChatBackend that replays canned turns and records what it was sent."""

    replies: list[AssistantTurn]
    seen: list[list[dict[str, Any]]] = dataclasses.field(default_factory=list)

    def chat(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> AssistantTurn:
        self.seen.append([dict(m) for m in messages])
        assert tools and tools[-1]["function"]["name"] == FINAL_ANSWER
        return self.replies.pop(0)

    def tool_result_message(self, call: ToolCall, content: str) -> dict[str, Any]:
        return {"role": "tool", "tool_call_id": call.id, "content": content}


def _text(content: str) -> AssistantTurn:
    return AssistantTurn({"role": "assistant", "content": content}, content)


def _calls(*calls: tuple[str, dict[str, Any]]) -> AssistantTurn:
    tcs = tuple(ToolCall(f"c{i}", n, json.dumps(a)) for i, (n, a) in enumerate(calls))
    return AssistantTurn({"role": "assistant", "content": "", "tool_calls": [c.id for c in tcs]}, "", tcs)


def _start() -> list[dict[str, Any]]:
    return [{"role": "system", "content": "s"}, {"role": "user", "content": "where is the mug?"}]


def test_loop_tool_then_final_answer(mem: FakeMemory) -> None:
    backend = Scripted(
        [
            _calls(("locate", {"text": "mug"}), ("teleport", {})),
            _calls((FINAL_ANSWER, {"kind": "instance", "text": "on the kitchen table", "instance_ids": [3]})),
        ]
    )
    messages = _start()
    ans = run_tool_loop(backend, mem, messages, max_rounds=4)
    assert ans.kind is AnswerKind.INSTANCE and faces(ans.goals[0], MUG_NOW.position)
    assert ans.plan == ("locate(text='mug')", "teleport")
    tool_msgs = [m for m in backend.seen[1] if m["role"] == "tool"]
    assert [m["tool_call_id"] for m in tool_msgs] == ["c0", "c1"]
    assert json.loads(tool_msgs[0]["content"])["result"]["matches"][0]["instance_id"] == 3
    assert "unknown tool" in json.loads(tool_msgs[1]["content"])["error"]


def test_loop_text_tool_calls_and_json_content(mem: FakeMemory) -> None:
    backend = Scripted(
        [
            _text('<tool_call>{"name": "count", "arguments": {"text": "mug"}}</tool_call>'),
            _text('The answer: {"kind": "number", "text": "one mug", "value": 1}'),
        ]
    )
    ans = run_tool_loop(backend, mem, _start(), max_rounds=3)
    assert ans.kind is AnswerKind.NUMBER and ans.value == 1 and ans.plan == ("count(text='mug')",)


def test_loop_one_corrective_message_then_error(mem: FakeMemory) -> None:
    fixed = Scripted([_text("It is the mug."), _text('{"kind": "instance", "text": "mug", "instance_ids": [3]}')])
    messages = _start()
    assert run_tool_loop(fixed, mem, messages, max_rounds=3).instance_ids == (3,)
    assert "not a valid answer" in fixed.seen[1][-1]["content"]

    broken = Scripted([_text("It is the mug."), _calls((FINAL_ANSWER, {"kind": "mug", "text": "x"}))])
    with pytest.raises(PlannerError, match="malformed again after a corrective message.*kind 'mug'"):
        run_tool_loop(broken, mem, _start(), max_rounds=5)


def test_loop_max_rounds_gives_unknown(mem: FakeMemory) -> None:
    backend = Scripted([_calls(("locate", {"text": "mug"})) for _ in range(3)])
    ans = run_tool_loop(backend, mem, _start(), max_rounds=3)
    assert ans.status is QueryStatus.NOT_FOUND and ans.kind is AnswerKind.UNKNOWN
    assert "max_tool_rounds=3" in ans.text and "locate(text='mug')" in ans.text
    assert len(ans.plan) == 3
    last = LAST_TURN_MESSAGE.format(final=FINAL_ANSWER, unknown="kind 'unknown'")
    assert backend.seen[2][-1] == {"role": "user", "content": last}
    assert all(m["content"] != LAST_TURN_MESSAGE for m in backend.seen[1])


# ----------------------------------------------------------------------------------------------- real memory


def test_tools_on_real_memory() -> None:
    """Every tool against the real SpatioSemanticMemory (hash encoder, rendered box world)."""
    from robomem.config import EncoderConfig, MemoryConfig
    from robomem.core.memory import SpatioSemanticMemory
    from robomem.encoders.base import create_encoder
    from tests.core._scene import SEC as S
    from tests.core._scene import T0 as START
    from tests.core._scene import VIEW_TABLE1, VIEW_TABLE2, kitchen_world

    world, regions = kitchen_world()
    memory = SpatioSemanticMemory(MemoryConfig(), create_encoder(EncoderConfig(backend="hash")), regions)
    for i, view in enumerate([VIEW_TABLE1, VIEW_TABLE2, VIEW_TABLE1]):
        memory.ingest(world.frame(view[0], view[1], START + i * 60 * S))

    loc = _ok(run_tool(memory, "locate", {"text": "red mug"}))
    assert loc["status"] == "OK"
    mug = loc["matches"][0]
    assert mug["label"] == "red ceramic mug" and mug["room"] == "kitchen"
    for name, args in [
        ("last_seen", {"instance_id": mug["instance_id"]}),
        ("where_at", {"time": "08:01", "instance_id": mug["instance_id"]}),
        ("history", {"text": "red mug"}),
        ("changes", {"start": "07:59", "end": "08:05"}),
        ("count", {"text": "table"}),
        ("relations", {"instance_id": mug["instance_id"]}),
        ("state_at", {"time": "08:01"}),
        ("keyframes_for", {"text": "blue book", "k": 2}),
        ("room_visits", {}),
        ("instances", {}),
        ("regions", {}),
        ("time_range", {}),
    ]:
        res = _ok(run_tool(memory, name, json.dumps(args)))
        if isinstance(res, dict) and "status" in res:
            assert res["status"] == "OK", (name, res)
    ans = parse_final_answer({"kind": "instance", "text": "mug", "instance_ids": [mug["instance_id"]]}, memory)
    assert faces(ans.goals[0], mug["position"])
    with pytest.raises(PlannerError, match="not an instance the memory knows"):
        parse_final_answer({"kind": "instance", "text": "mug", "instance_ids": [9999]}, memory)
