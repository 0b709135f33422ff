"""The model loop shared by the model-backed planners: tool calls (structured or written in the text), and the
turn loop that ends when the model submits a query plan (``submit_plan``, executed by the shared handlers) or a
free-form answer (``final_answer``, for questions no intent covers)."""

from __future__ import annotations

import dataclasses
import datetime
import json
import logging
import re
from typing import Any, Callable, Optional, Protocol

from robomem.core.api import MemoryQueries
from robomem.core.query_types import QueryStatus
from robomem.errors import PlannerError
from robomem.planner.base import AnswerKind, PlannerAnswer
from robomem.planner.llm.answer import FINAL_ANSWER, GoalMaker, final_answer_schema, parse_final_answer
from robomem.planner.llm.plan_schema import SUBMIT_PLAN, submit_plan_schema
from robomem.planner.llm.times import UTC
from robomem.planner.llm.tools import memory_tool_schemas, run_tool

__all__ = [
    "AssistantTurn",
    "ChatBackend",
    "SubmitFn",
    "ToolCall",
    "extract_answer_object",
    "find_json_objects",
    "parse_tool_calls_text",
    "run_tool_loop",
    "tool_schemas",
]

_LOG = logging.getLogger(__name__)

SubmitFn = Callable[[Any], PlannerAnswer]
"""Validates a submitted plan (a JSON object or its text), executes it and returns the answer; raises
PlannerError for a malformed plan."""


def tool_schemas(include_final_answer: bool = True, include_submit_plan: bool = False) -> list[dict[str, Any]]:
    """OpenAI ``tools`` list: every memory tool, then ``submit_plan`` and/or ``final_answer``."""
    out = memory_tool_schemas()
    if include_submit_plan:
        out.append(submit_plan_schema())
    if include_final_answer:
        out.append(final_answer_schema())
    return out


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
    """The plan or final-answer JSON object in a model's text reply (the first object with an ``intent`` or a
    ``kind``)."""
    objs = [o for o in find_json_objects(text or "") if isinstance(o, dict)]
    if not objs:
        raise PlannerError(f"the reply contains no JSON object: {(text or '')[:200]!r}")
    for o in objs:
        if "intent" in o or "kind" in o:
            return o
    raise PlannerError(f"the reply's JSON has neither an 'intent' nor a 'kind' key: {json.dumps(objs[0])[:200]}")


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
    "Your last reply was not a valid answer: {reason}. Call a memory tool, or call {final} - or reply with only that "
    "JSON object."
)
LAST_TURN_MESSAGE = "This is your last turn: call {final} now ({unknown} if you cannot tell)."


def run_tool_loop(
    backend: ChatBackend,
    memory: MemoryQueries,
    messages: list[dict[str, Any]],
    *,
    max_rounds: int,
    tz: datetime.tzinfo = UTC,
    now_ns: Optional[int] = None,
    tools: Optional[list[dict[str, Any]]] = None,
    submit: Optional[SubmitFn] = None,
    goals_from: Optional[GoalMaker] = None,
) -> PlannerAnswer:
    """Drive the model until it answers. ``messages`` (system + user) is extended in place.

    Each round is one model turn. Memory tool calls are run with :func:`run_tool` and their results appended.
    With ``submit``, a ``submit_plan`` call (or a reply whose text holds a JSON object with an ``intent``) is
    passed to it: the plan is validated, executed by the shared handlers and its answer returned. A
    ``final_answer`` call (or a JSON object with a ``kind``) is validated with :func:`parse_final_answer`
    (goals from ``goals_from``). The first malformed plan or answer gets one corrective message; a second one
    raises :class:`PlannerError` (the model's output is unusable - a backend failure). When ``max_rounds``
    turns pass without an answer, the result is an UNKNOWN answer (status NOT_FOUND) saying so.
    """
    tool_list = tools if tools is not None else tool_schemas(include_submit_plan=submit is not None)
    final = SUBMIT_PLAN if submit is not None else FINAL_ANSWER
    unknown = "intent 'not_understood'" if submit is not None else "kind 'unknown'"
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

    def finish(name: str, payload: Any) -> PlannerAnswer:
        if name == SUBMIT_PLAN:
            if submit is None:
                raise PlannerError(f"{SUBMIT_PLAN} is not available here; call {FINAL_ANSWER}")
            ans = submit(payload)
            return dataclasses.replace(ans, plan=(*plan, *ans.plan))
        return parse_final_answer(payload, memory, tz=tz, now_ns=now_ns, plan=plan, goals_from=goals_from)

    for round_idx in range(max_rounds):
        if round_idx == max_rounds - 1 and round_idx > 0:
            messages.append({"role": "user", "content": LAST_TURN_MESSAGE.format(final=final, unknown=unknown)})
        turn = backend.chat(messages, tool_list)
        messages.append(turn.message)
        calls = turn.tool_calls or parse_tool_calls_text(turn.content, id_prefix=f"call_{round_idx}")
        if calls:
            last_calls = []
            for call in calls:
                if call.name in (FINAL_ANSWER, SUBMIT_PLAN):
                    try:
                        return finish(call.name, call.arguments)
                    except PlannerError as exc:
                        malformed(str(exc), call.arguments)
                        err = {"ok": False, "tool": call.name, "error": str(exc)}
                        messages.append(backend.tool_result_message(call, json.dumps(err)))
                        continue
                result = run_tool(memory, call.name, call.arguments, tz=tz, now_ns=now_ns)
                plan.append(str(result.get("call", call.name)))
                last_calls.append(str(result.get("call", call.name)))
                messages.append(backend.tool_result_message(call, json.dumps(result)))
            continue
        try:
            obj = extract_answer_object(turn.content)
            return finish(SUBMIT_PLAN if "intent" in obj and submit is not None else FINAL_ANSWER, obj)
        except PlannerError as exc:
            malformed(str(exc), turn.content)
            messages.append({"role": "user", "content": CORRECTIVE_MESSAGE.format(reason=exc, final=final)})
    reason = f"the model gave no final answer within max_tool_rounds={max_rounds} turns"
    if last_calls:
        reason += f" (its last calls: {', '.join(last_calls)})"
    return PlannerAnswer(QueryStatus.NOT_FOUND, AnswerKind.UNKNOWN, reason, plan=tuple(plan))
