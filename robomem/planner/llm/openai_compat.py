"""``openai`` planner backend: any OpenAI-compatible chat-completions server with tool calls.

Works with vLLM (``vllm serve MODEL --enable-auto-tool-choice --tool-call-parser hermes``), Ollama
(``http://127.0.0.1:11434``), llama.cpp's server and the OpenAI API. Talks plain HTTP with ``urllib``.

Per task: a system prompt (what the memory holds, its time range and rooms, the answer format) and the task,
with up to ``n_keyframes`` keyframe thumbnails retrieved for the task's content words attached as base64
``image_url`` parts; then the tool loop of :func:`robomem.planner.llm.loop.run_tool_loop`.

Failure behaviour:

* connection refused, timeouts, HTTP 429 and 5xx are retried ``max_retries`` times with exponential
  back-off (``Retry-After`` is honoured up to 30 s), then ``PlannerError("endpoint ... unreachable after N
  tries: ...; is vLLM/Ollama running?")``;
* other HTTP errors (400 bad model name, 401 bad key, ...) raise PlannerError at once with the server's text;
* malformed model output gets one corrective message, then raises PlannerError;
* no final answer after ``max_tool_rounds`` turns is an UNKNOWN answer (status NOT_FOUND) saying so.
"""

from __future__ import annotations

import base64
import http.client
import json
import logging
import os
import socket
import time
import urllib.error
import urllib.request
from typing import Any, Optional

import numpy as np

from robomem.core.api import MemoryQueries
from robomem.core.query_types import QueryStatus
from robomem.errors import PlannerError
from robomem.planner.base import AnswerKind, PlannerAnswer, register_planner
from robomem.planner.config import PlannerConfig
from robomem.planner.llm import PlanSupport
from robomem.planner.llm.loop import AssistantTurn, ToolCall, run_tool_loop
from robomem.planner.llm.prompt import build_system_prompt, collect_keyframes
from robomem.planner.llm.times import format_time

__all__ = ["OpenAICompatPlanner", "chat_completions_url", "encode_image"]

_LOG = logging.getLogger(__name__)
_MAX_RETRY_AFTER_S = 30.0


def chat_completions_url(endpoint: str) -> str:
    """Base URL -> the chat-completions URL (``/v1/chat/completions`` appended as needed)."""
    url = endpoint.rstrip("/")
    if url.endswith("/chat/completions"):
        return url
    if url.endswith("/v1"):
        return url + "/chat/completions"
    return url + "/v1/chat/completions"


def encode_image(rgb: np.ndarray, image_format: str = "png") -> str:
    """HxWx3 uint8 RGB -> a ``data:image/...;base64,...`` URL."""
    import cv2

    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise PlannerError(f"keyframe thumbnail must be HxWx3 uint8 RGB, got {rgb.shape} {rgb.dtype}")
    ext, mime = (".png", "image/png") if image_format == "png" else (".jpg", "image/jpeg")
    ok, buf = cv2.imencode(ext, np.ascontiguousarray(rgb[:, :, ::-1]))
    if not ok:
        raise PlannerError(f"could not encode a {rgb.shape} thumbnail as {image_format}")
    return f"data:{mime};base64," + base64.b64encode(buf.tobytes()).decode("ascii")


class OpenAICompatPlanner:
    """Planner backed by an OpenAI-compatible ``/v1/chat/completions`` endpoint (see the module docstring)."""

    name = "openai"

    def __init__(self, config: Optional[PlannerConfig] = None) -> None:
        cfg = config if config is not None else PlannerConfig(backend="openai")
        cfg.validate()
        self.config = cfg
        self.url = chat_completions_url(cfg.endpoint)
        self.tz = cfg.tzinfo()
        self.support = PlanSupport(cfg)
        self._api_key: Optional[str] = None
        if cfg.api_key_env:
            key = os.environ.get(cfg.api_key_env)
            if not key:
                raise PlannerError(
                    f"planner.api_key_env is {cfg.api_key_env!r} but that environment variable is not set; "
                    f"export {cfg.api_key_env}=... or set api_key_env to '' for a server without keys"
                )
            self._api_key = key

    # ------------------------------------------------------------------------------------------- Planner

    def answer(self, task: str, memory: MemoryQueries, now_ns: Optional[int] = None) -> PlannerAnswer:
        """Answer ``task`` from ``memory`` through the model. See the module docstring for failures."""
        if not isinstance(task, str) or not task.strip():
            return PlannerAnswer(
                QueryStatus.NOT_FOUND, AnswerKind.UNKNOWN, "the task is empty; ask e.g. 'where is the mug?'"
            )
        submit, goals = self.support.prepare(memory, now_ns, task)
        messages: list[dict[str, Any]] = [
            {"role": "system", "content": build_system_prompt(memory, now_ns, self.tz, json_only=True)},
            {"role": "user", "content": self._user_content(task, memory)},
        ]
        return run_tool_loop(
            self, memory, messages, max_rounds=self.config.max_tool_rounds, tz=self.tz, now_ns=now_ns,
            submit=submit, goals_from=goals,
        )

    def _user_content(self, task: str, memory: MemoryQueries) -> Any:
        keyframes = collect_keyframes(memory, task, self.config.n_keyframes)
        if not keyframes:
            return f"Task: {task}"
        parts: list[dict[str, Any]] = [
            {"type": "text", "text": f"Task: {task}\nKeyframes from memory that may be relevant:"}
        ]
        for kf in keyframes:
            assert kf.thumbnail is not None
            x, y, z = (float(v) for v in np.asarray(kf.world_T_camera)[:3, 3])
            parts.append(
                {
                    "type": "text",
                    "text": f"Keyframe {kf.keyframe_id} at {format_time(kf.stamp_ns, self.tz)}, camera at "
                    f"({x:.2f}, {y:.2f}, {z:.2f}) m, shows instance ids {list(kf.visible_instance_ids)}:",
                }
            )
            url = encode_image(kf.thumbnail, self.config.image_format)
            parts.append({"type": "image_url", "image_url": {"url": url}})
        return parts

    # ------------------------------------------------------------------------------------------- ChatBackend

    def chat(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> AssistantTurn:
        body: dict[str, Any] = {
            "messages": messages,
            "tools": tools,
            "tool_choice": "auto",
            "temperature": self.config.temperature,
            "max_tokens": self.config.max_new_tokens,
        }
        if self.config.model:
            body["model"] = self.config.model
        reply = self._post(body)
        try:
            msg = reply["choices"][0]["message"]
            if not isinstance(msg, dict):
                raise TypeError("message is not an object")
        except (KeyError, IndexError, TypeError) as exc:
            raise PlannerError(
                f"endpoint {self.url} answered without choices[0].message ({exc}): "
                f"{json.dumps(reply)[:300]}; is it an OpenAI-compatible chat-completions server?"
            ) from None
        content = msg.get("content") or ""
        if not isinstance(content, str):
            content = json.dumps(content)
        calls: list[ToolCall] = []
        raw_calls: list[dict[str, Any]] = []
        for n, tc in enumerate(msg.get("tool_calls") or []):
            fn = tc.get("function") if isinstance(tc, dict) else None
            if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
                raise PlannerError(f"endpoint returned a malformed tool call: {json.dumps(tc)[:300]}")
            args = fn.get("arguments")
            args_text = args if isinstance(args, str) else json.dumps(args if args is not None else {})
            call_id = str(tc.get("id") or f"call_{n}")
            calls.append(ToolCall(call_id, fn["name"], args_text, structured=True))
            raw_calls.append(
                {"id": call_id, "type": "function", "function": {"name": fn["name"], "arguments": args_text}}
            )
        message: dict[str, Any] = {"role": "assistant", "content": content}
        if raw_calls:
            message["tool_calls"] = raw_calls
        usage = reply.get("usage")
        if usage:
            _LOG.debug("chat turn usage: %s", usage)
        return AssistantTurn(message, content, tuple(calls))

    def tool_result_message(self, call: ToolCall, content: str) -> dict[str, Any]:
        if call.structured:
            return {"role": "tool", "tool_call_id": call.id, "content": content}
        # the call was written in the text: there is no tool_call_id to answer, so reply as the user
        return {"role": "user", "content": f"Result of {call.name}: {content}"}

    # ------------------------------------------------------------------------------------------- HTTP

    def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        data = json.dumps(body).encode("utf-8")
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        tries = self.config.max_retries + 1
        last_error = ""
        wait_s = 0.0
        for attempt in range(tries):
            if attempt:
                time.sleep(wait_s)
            wait_s = self.config.retry_backoff_s * (2**attempt)
            request = urllib.request.Request(self.url, data=data, headers=headers, method="POST")
            t_start = time.monotonic()
            try:
                with urllib.request.urlopen(request, timeout=self.config.timeout_s) as resp:
                    raw = resp.read()
            except urllib.error.HTTPError as exc:
                detail = _error_body(exc)
                if exc.code == 429 or exc.code >= 500:
                    last_error = f"HTTP {exc.code} {detail}"
                    retry_after = _retry_after_s(exc)
                    if retry_after is not None:
                        wait_s = min(retry_after, _MAX_RETRY_AFTER_S)
                    _LOG.warning("endpoint %s: %s (try %d/%d)", self.url, last_error, attempt + 1, tries)
                    continue
                raise PlannerError(
                    f"endpoint {self.url} rejected the request (HTTP {exc.code}): {detail}; "
                    "check planner.model, planner.api_key_env and that the server enables tool calls "
                    "(vLLM: --enable-auto-tool-choice --tool-call-parser ...)"
                ) from None
            except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
                reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
                if isinstance(reason, (socket.timeout, TimeoutError)):
                    last_error = f"timed out after {self.config.timeout_s} s"
                else:
                    last_error = f"{type(reason).__name__}: {reason}"
                _LOG.warning("endpoint %s: %s (try %d/%d)", self.url, last_error, attempt + 1, tries)
                continue
            _LOG.debug("chat request took %.3f s", time.monotonic() - t_start)
            try:
                reply = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError):
                raise PlannerError(
                    f"endpoint {self.url} did not answer JSON: {raw[:300]!r}; "
                    "is it an OpenAI-compatible server?"
                ) from None
            if not isinstance(reply, dict):
                raise PlannerError(f"endpoint {self.url} answered {type(reply).__name__}, not a JSON object")
            return reply
        raise PlannerError(
            f"endpoint {self.url} unreachable after {tries} tries: {last_error}; is vLLM/Ollama running?"
        )


def _error_body(exc: urllib.error.HTTPError) -> str:
    try:
        return exc.read()[:300].decode("utf-8", "replace")
    except Exception:  # noqa: BLE001 - the body is only for the message
        return str(exc.reason)


def _retry_after_s(exc: urllib.error.HTTPError) -> Optional[float]:
    value = exc.headers.get("Retry-After") if exc.headers is not None else None
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


register_planner("openai", OpenAICompatPlanner)
