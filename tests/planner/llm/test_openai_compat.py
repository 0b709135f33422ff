"""The OpenAI-compatible planner against a real local HTTP server that speaks chat-completions with tools."""

from __future__ import annotations

import base64
import json
import socket
import time
from pathlib import Path
from typing import Any, Callable

import cv2
import numpy as np
import pytest

from robomem.config import load_yaml
from robomem.core.query_types import QueryStatus
from robomem.errors import ConfigError, PlannerError
from robomem.planner.base import AnswerKind, create_planner, planner_names
from robomem.planner.config import PlannerConfig, load_planner_config
from robomem.planner.llm.answer import FINAL_ANSWER
from robomem.planner.llm.openai_compat import OpenAICompatPlanner, chat_completions_url, encode_image
from tests.planner._fake_memory import MUG_NOW, T0, FakeMemory, faces, thumbnail
from tests.planner.llm._chat_server import ChatServer, Reply, content_reply, tool_call_reply

REPO = Path(__file__).resolve().parents[3]

def _config(url: str, **kw: Any) -> PlannerConfig:
    base: dict[str, Any] = dict(
        backend="openai",
        endpoint=url,
        model="tiny",
        timeout_s=2.0,
        max_retries=2,
        retry_backoff_s=0.01,
        max_tool_rounds=4,
        n_keyframes=2,
    )
    base.update(kw)
    return PlannerConfig(**base)


FINAL_MUG = (FINAL_ANSWER, {"kind": "instance", "text": "on the kitchen table", "instance_ids": [3]})


def test_tool_call_then_final_answer(serve: Callable[[list[Reply]], ChatServer]) -> None:
    server = serve([tool_call_reply(("locate", {"text": "red mug"})), tool_call_reply(FINAL_MUG)])
    mem = FakeMemory()
    planner = OpenAICompatPlanner(_config(server.url + "/"))
    ans = planner.answer("Where is the red mug?", mem, now_ns=T0 + 3000 * 10**9)

    assert ans.status is QueryStatus.OK and ans.kind is AnswerKind.INSTANCE
    assert ans.instance_ids == (3,) and faces(ans.goals[0], MUG_NOW.position)
    assert ans.plan == ("locate(text='red mug')",)
    assert server.paths == ["/v1/chat/completions"] * 2

    first, second = server.requests
    assert first["model"] == "tiny" and first["tool_choice"] == "auto" and first["temperature"] == 0.0
    names = [t["function"]["name"] for t in first["tools"]]
    assert "locate" in names and "keyframes_for" in names and names[-1] == FINAL_ANSWER
    system, user = first["messages"]
    assert system["role"] == "system" and "2026-01-01T08:00:00+00:00" in system["content"]
    assert "kitchen, living room" in system["content"] and "2026-01-01T08:50:00" in system["content"]
    # images: the keyframes retrieved for the task's words ('red', 'mug'), as base64 PNG image_url parts
    assert user["role"] == "user" and user["content"][0]["text"].startswith("Task: Where is the red mug?")
    images = [p["image_url"]["url"] for p in user["content"] if p["type"] == "image_url"]
    assert len(images) == 1
    assert ("keyframes_for", "mug", 2, None) in mem.calls
    png = base64.b64decode(images[0].split(",", 1)[1])
    decoded = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)[:, :, ::-1]
    assert images[0].startswith("data:image/png;base64,") and np.array_equal(decoded, thumbnail(7))
    assert "Keyframe 7 at 2026-01-01T08:21:40+00:00" in user["content"][1]["text"]
    # the second request carries the assistant's tool call and the tool's result
    assistant, tool = second["messages"][2], second["messages"][3]
    assert assistant["role"] == "assistant" and assistant["tool_calls"][0]["function"]["name"] == "locate"
    assert tool == {"role": "tool", "tool_call_id": "call_0", "content": tool["content"]}
    result = json.loads(tool["content"])
    assert result["ok"] and result["result"]["matches"][0]["instance_id"] == 3
    assert "Authorization" not in server.headers[0]


def test_json_content_answer_and_api_key(
    serve: Callable[[list[Reply]], ChatServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    server = serve([content_reply('```json\n{"kind": "number", "text": "one", "value": 1}\n```')])
    monkeypatch.setenv("ROBOMEM_TEST_KEY", "sk-test")
    planner = OpenAICompatPlanner(_config(server.url + "/v1", api_key_env="ROBOMEM_TEST_KEY", n_keyframes=0))
    ans = planner.answer("How many mugs?", FakeMemory())
    assert ans.kind is AnswerKind.NUMBER and ans.value == 1
    assert server.headers[0]["Authorization"] == "Bearer sk-test"
    assert server.requests[0]["messages"][1] == {"role": "user", "content": "Task: How many mugs?"}


def test_missing_api_key_env_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ROBOMEM_NO_SUCH_KEY", raising=False)
    with pytest.raises(PlannerError, match="ROBOMEM_NO_SUCH_KEY.*not set"):
        OpenAICompatPlanner(_config("http://127.0.0.1:1", api_key_env="ROBOMEM_NO_SUCH_KEY"))


def test_malformed_json_gets_one_correction(serve: Callable[[list[Reply]], ChatServer]) -> None:
    server = serve([content_reply("The mug is on the table."), tool_call_reply(FINAL_MUG)])
    ans = OpenAICompatPlanner(_config(server.url)).answer("where is the mug", FakeMemory())
    assert ans.instance_ids == (3,)
    last = server.requests[1]["messages"][-1]
    assert last["role"] == "user" and "not a valid answer" in last["content"] and "no JSON object" in last["content"]


def test_malformed_twice_raises(serve: Callable[[list[Reply]], ChatServer]) -> None:
    server = serve(
        [content_reply('{"kind": "instance", "text": "x", "instance_ids": ["3"]}'), content_reply("{not json")]
    )
    with pytest.raises(PlannerError, match="malformed again after a corrective message"):
        OpenAICompatPlanner(_config(server.url)).answer("where is the mug", FakeMemory())
    assert len(server.requests) == 2


def test_text_tool_calls_are_answered_as_user_messages(serve: Callable[[list[Reply]], ChatServer]) -> None:
    server = serve(
        [
            content_reply('<tool_call>{"name": "count", "arguments": {"text": "mug"}}</tool_call>'),
            content_reply('{"kind": "number", "text": "one", "value": 1}'),
        ]
    )
    ans = OpenAICompatPlanner(_config(server.url, n_keyframes=0)).answer("how many mugs", FakeMemory())
    assert ans.value == 1 and ans.plan == ("count(text='mug')",)
    reply = server.requests[1]["messages"][-1]
    assert reply["role"] == "user" and reply["content"].startswith("Result of count: ")


def test_max_rounds_gives_unknown(serve: Callable[[list[Reply]], ChatServer]) -> None:
    server = serve([tool_call_reply(("locate", {"text": "mug"}))] * 2)
    ans = OpenAICompatPlanner(_config(server.url, max_tool_rounds=2)).answer("where is the mug", FakeMemory())
    assert ans.status is QueryStatus.NOT_FOUND and ans.kind is AnswerKind.UNKNOWN
    assert "max_tool_rounds=2" in ans.text
    assert len(server.requests) == 2


def test_500_then_success_is_retried(serve: Callable[[list[Reply]], ChatServer]) -> None:
    server = serve(
        [(500, {"error": "boom"}), (429, {"error": "slow down"}, 0.0, {"Retry-After": "0"}), tool_call_reply(FINAL_MUG)]
    )
    ans = OpenAICompatPlanner(_config(server.url)).answer("where is the mug", FakeMemory())
    assert ans.instance_ids == (3,)
    assert len(server.requests) == 3 and server.requests[0] == server.requests[2]


def test_persistent_500_gives_up(serve: Callable[[list[Reply]], ChatServer]) -> None:
    server = serve([(503, {"error": "overloaded"})] * 3)
    with pytest.raises(PlannerError, match=r"unreachable after 3 tries: HTTP 503.*overloaded.*vLLM/Ollama running"):
        OpenAICompatPlanner(_config(server.url)).answer("where is the mug", FakeMemory())
    assert len(server.requests) == 3


def test_4xx_is_not_retried(serve: Callable[[list[Reply]], ChatServer]) -> None:
    server = serve([(400, {"error": "model 'tiny' not found"})])
    with pytest.raises(PlannerError, match=r"rejected the request \(HTTP 400\).*model 'tiny' not found"):
        OpenAICompatPlanner(_config(server.url)).answer("where is the mug", FakeMemory())
    assert len(server.requests) == 1


def test_slow_server_times_out_after_retries(serve: Callable[[list[Reply]], ChatServer]) -> None:
    server = serve([(200, content_reply("late"), 1.0)] * 2)
    cfg = _config(server.url, timeout_s=0.15, max_retries=1)
    t0 = time.monotonic()
    with pytest.raises(PlannerError, match=r"unreachable after 2 tries: timed out after 0.15 s"):
        OpenAICompatPlanner(cfg).answer("where is the mug", FakeMemory())
    assert time.monotonic() - t0 < 1.5
    assert len(server.requests) == 2


def test_server_down() -> None:
    with socket.socket() as s:  # a port that was free a moment ago: nobody listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = _config(f"http://127.0.0.1:{port}", max_retries=1)
    with pytest.raises(
        PlannerError,
        match=rf"endpoint http://127.0.0.1:{port}/v1/chat/completions unreachable "
        r"after 2 tries: ConnectionRefusedError.*is vLLM/Ollama running\?",
    ):
        OpenAICompatPlanner(cfg).answer("where is the mug", FakeMemory())


def test_non_json_and_bad_shape_replies(serve: Callable[[list[Reply]], ChatServer]) -> None:
    server = serve([(200, b"<html>proxy</html>"), (200, {"result": "hi"})])
    planner = OpenAICompatPlanner(_config(server.url))
    with pytest.raises(PlannerError, match="did not answer JSON"):
        planner.answer("where is the mug", FakeMemory())
    with pytest.raises(PlannerError, match=r"without choices\[0\].message"):
        planner.answer("where is the mug", FakeMemory())


def test_empty_task_is_unknown_without_calling_the_model() -> None:
    ans = OpenAICompatPlanner(_config("http://127.0.0.1:1")).answer("  ", FakeMemory())
    assert ans.kind is AnswerKind.UNKNOWN and "empty" in ans.text


def test_registry_and_helpers() -> None:
    assert "openai" in planner_names()
    planner = create_planner("openai", config=_config("http://127.0.0.1:9"))
    assert isinstance(planner, OpenAICompatPlanner) and planner.name == "openai"
    assert chat_completions_url("http://h:1") == "http://h:1/v1/chat/completions"
    assert chat_completions_url("http://h:1/v1/") == "http://h:1/v1/chat/completions"
    assert chat_completions_url("http://h:1/api/chat/completions") == "http://h:1/api/chat/completions"
    assert encode_image(thumbnail(1), "jpeg").startswith("data:image/jpeg;base64,")
    with pytest.raises(PlannerError, match="HxWx3 uint8"):
        encode_image(np.zeros((4, 4), np.uint8))


# ----------------------------------------------------------------------------------------------- config


def test_planner_yaml_loads() -> None:
    cfg = load_planner_config(REPO / "config" / "planner.yaml")
    assert cfg == load_yaml(PlannerConfig, REPO / "config" / "planner.yaml", section="planner")
    assert cfg.backend in {"rule_based", "openai", "local_vlm"}
    assert cfg.max_tool_rounds >= 1


@pytest.mark.parametrize(
    "overrides, msg",
    [
        ({"endpoint": "127.0.0.1:8000"}, "http:// or https://"),
        ({"timezone": "Mars/Olympus"}, "IANA zone"),
        ({"image_format": "gif"}, "image_format"),
        ({"max_tool_rounds": 0}, "max_tool_rounds must be > 0"),
        ({"max_retries": -1}, "max_retries must be >= 0"),
        ({"device": "tpu"}, "planner.device"),
        ({"timeout": 3}, r"unknown key\(s\) \['timeout'\]"),
    ],
)
def test_planner_config_validation(tmp_path: Path, overrides: dict[str, Any], msg: str) -> None:
    path = tmp_path / "planner.yaml"
    path.write_text(json.dumps({"planner": overrides}))  # JSON is YAML
    with pytest.raises(ConfigError, match=msg):
        load_planner_config(path)
