"""The model planners translate a question into the same QueryPlan the parser produces; the shared handlers answer
it with the same reachable goals. Tested against a real local chat-completions server with scripted replies."""

from __future__ import annotations

import json
from typing import Any

import pytest

from robomem.core.query_types import QueryStatus
from robomem.errors import PlannerError
from robomem.planner.base import AnswerKind
from robomem.planner.config import PlannerConfig
from robomem.planner.knowledge import default_knowledge
from robomem.planner.llm.answer import FINAL_ANSWER
from robomem.planner.llm.openai_compat import OpenAICompatPlanner
from robomem.planner.llm.plan_schema import SUBMIT_PLAN, plan_from_json
from robomem.planner.nl.plan import Intent, Relation
from robomem.planner.nl.timeexpr import TimeContext
from robomem.planner.rule_based import RuleBasedPlanner
from tests.planner._fake_memory import MUG_NOW, SEC, T0, T_END, FakeMemory, faces
from tests.planner.llm._chat_server import content_reply, tool_call_reply


def _config(url: str, **kw: Any) -> PlannerConfig:
    base: dict[str, Any] = dict(backend="openai", endpoint=url, model="tiny", timeout_s=2.0, max_retries=0,
                                retry_backoff_s=0.01, max_tool_rounds=4, n_keyframes=0, timezone="UTC")
    base.update(kw)
    return PlannerConfig(**base)


def test_the_model_submits_a_plan_and_the_shared_handlers_answer(serve) -> None:
    server = serve([
        tool_call_reply(("locate", {"text": "red mug"})),
        tool_call_reply((SUBMIT_PLAN, {"intent": "find_object", "target": "red mug", "navigate": True})),
    ])
    mem = FakeMemory()
    ans = OpenAICompatPlanner(_config(server.url)).answer("Could you take me to my coffee cup?", mem)
    assert ans.status is QueryStatus.OK and ans.kind is AnswerKind.INSTANCE and ans.instance_ids == (3,)
    assert faces(ans.goals[0], MUG_NOW.position)  # the shared standoff, not the mug's centre
    assert ans.target == "red mug" and ans.parse_confidence == pytest.approx(0.9)
    assert ans.plan[0] == "locate(text='red mug')" and any("find object" in p for p in ans.plan)
    first = server.requests[0]
    names = [t["function"]["name"] for t in first["tools"]]
    assert SUBMIT_PLAN in names and FINAL_ANSWER in names
    schema = next(t["function"]["parameters"] for t in first["tools"] if t["function"]["name"] == SUBMIT_PLAN)
    assert "find_object" in schema["properties"]["intent"]["enum"]
    system = first["messages"][0]["content"]
    assert SUBMIT_PLAN in system and "red mug" in system and "kitchen" in system  # vocabulary and rooms


def test_model_and_rule_based_planners_place_the_same_goals(serve) -> None:
    mem = FakeMemory()
    rule = RuleBasedPlanner(PlannerConfig(timezone="UTC"), embedder=None).answer("where is the red mug?", mem)
    server = serve([tool_call_reply((SUBMIT_PLAN, {"intent": "find_object", "target": "red mug"}))])
    model = OpenAICompatPlanner(_config(server.url)).answer("where is the red mug?", mem)
    assert rule.kind is model.kind is AnswerKind.INSTANCE
    assert rule.goals == model.goals
    server = serve([tool_call_reply((FINAL_ANSWER, {"kind": "instance", "text": "mug", "instance_ids": [3]}))])
    free = OpenAICompatPlanner(_config(server.url)).answer("where is the red mug?", mem)
    assert free.goals == rule.goals  # even the free-form answer's goal comes from the shared placer


def test_a_malformed_plan_gets_one_correction_then_fails(serve) -> None:
    server = serve([
        tool_call_reply((SUBMIT_PLAN, {"intent": "find_everything", "target": "mug"})),
        tool_call_reply((SUBMIT_PLAN, {"intent": "pick_time"})),
    ])
    with pytest.raises(PlannerError, match="malformed again.*pick_time plan needs \\['target'\\]"):
        OpenAICompatPlanner(_config(server.url)).answer("when did you grab the mug?", FakeMemory())
    err = json.loads(server.requests[1]["messages"][-1]["content"])
    assert err["ok"] is False and "find_everything" in err["error"]


def test_a_plan_fixed_after_the_correction_is_answered(serve) -> None:
    server = serve([
        content_reply('{"intent": "pick_time", "target": "red mug", "confidence": 7}'),
        content_reply('Here it is: {"intent": "did_pick", "target": "red mug", "confidence": 0.95}'),
    ])
    ans = OpenAICompatPlanner(_config(server.url)).answer("did you touch the mug?", FakeMemory())
    assert ans.kind is AnswerKind.BOOLEAN and ans.parse_confidence == pytest.approx(0.95)
    assert "confidence must be a number in [0, 1]" in server.requests[1]["messages"][-1]["content"]


@pytest.mark.parametrize(("plan", "why"), [
    ({"intent": "not_understood", "confidence": 1.0}, "did not understand"),
    ({"intent": "find_object", "target": "red mug", "confidence": 0.2}, "confidence 0.20 < 0.50"),
])
def test_a_plan_the_model_is_unsure_of_is_not_answered(serve, plan: dict[str, Any], why: str) -> None:
    server = serve([tool_call_reply((SUBMIT_PLAN, plan))])
    ans = OpenAICompatPlanner(_config(server.url)).answer("what is the meaning of life?", FakeMemory())
    assert ans.status is QueryStatus.NOT_FOUND and ans.kind is AnswerKind.UNKNOWN and why in ans.text
    assert ans.goals == () and ans.target == ""


# ------------------------------------------------------------------------------------------ the schema


@pytest.fixture
def tctx() -> TimeContext:
    import datetime

    return TimeContext(datetime.timezone.utc, T_END, T0, T_END)


def test_plan_fields_are_read(tctx: TimeContext) -> None:
    mem = FakeMemory()
    k = default_knowledge()
    p = plan_from_json({"intent": "find_object", "target": "any red cup", "receptacle": "the table", "room": "kitchen",
                        "relation": "placed", "interacted": True, "time": {"start": "08:00", "end": "08:30"}},
                       mem, tctx, k)
    assert p.intent is Intent.FIND_OBJECT and p.target is not None and p.receptacle is not None
    assert (p.target.head, p.target.attributes, p.target.quantifier) == ("cup", ("red",), "any")
    assert p.receptacle.head == "table" and p.relation is Relation.PLACED and p.room == "kitchen"
    assert p.time is not None and (p.time.t0_ns, p.time.t1_ns) == (T0, T0 + 1800 * SEC)
    q = plan_from_json({"intent": "room_at_time", "time": {"text": "half past eight"}}, mem, tctx, k)
    assert q.time is not None and q.time.at_ns == T0 + 1800 * SEC and not q.navigate
    r = plan_from_json({"intent": "pick_order", "ordinal": -1}, mem, tctx, k)
    assert r.ordinal == -1 and r.navigate


@pytest.mark.parametrize(("data", "error"), [
    ({"intent": "find_object", "target": "mug", "colour": "red"}, "unknown key"),
    ({"intent": "where_is"}, "not one of"),
    ({"intent": "object_room"}, "needs \\['target'\\]"),
    ({"intent": "pick_order"}, "ordinal or an anchor"),
    ({"intent": "multi_list", "objects": ["mug"]}, "at least two"),
    ({"intent": "find_object", "target": 3}, "name a thing in words"),
    ({"intent": "room_at_time", "time": {"at": "25:99"}}, "not a valid clock time"),
    ({"intent": "changes", "time": {"start": "09:00", "end": "08:00"}}, "before start"),
    ({"intent": "changes", "time": {"text": "whenever"}}, "not a time I understand"),
    ({"intent": "find_object", "target": "mug", "superlative": "biggest"}, "superlative"),
    ({"intent": "find_object", "target": "mug", "navigate": "yes"}, "true or false"),
    ([1, 2], "must be a JSON object"),
])
def test_malformed_plans_are_rejected_with_the_reason(tctx: TimeContext, data: Any, error: str) -> None:
    with pytest.raises(PlannerError, match=error):
        plan_from_json(data, FakeMemory(), tctx, default_knowledge())
