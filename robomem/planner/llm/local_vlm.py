"""``local_vlm`` planner backend: a transformers chat model (text or vision-language) in a local directory.

The directory is what ``save_pretrained`` (or ``huggingface-cli download --local-dir``) writes; nothing is
downloaded (``local_files_only=True``). Vision-language models (any ``model_type`` transformers maps to
``AutoModelForImageTextToText``, e.g. Qwen2.5-VL, LLaVA, Gemma 3) are loaded with ``AutoProcessor`` and get
up to ``n_keyframes`` keyframe thumbnails with the task; text models (``AutoModelForCausalLM`` +
``AutoTokenizer``) get the keyframes described in words.

Prompts are rendered with the model's own chat template, passing the tool schemas as ``tools=`` (when the
template does not use them, they are written into the system prompt instead). Tool calls are parsed from the
generated text - ``<tool_call>{...}</tool_call>`` blocks or bare JSON objects with ``name``/``arguments`` -
and run through the same loop as the ``openai`` backend (:func:`robomem.planner.llm.loop.run_tool_loop`):
malformed output gets one corrective message, then PlannerError; no answer within ``max_tool_rounds`` turns
is an UNKNOWN answer.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Optional

import numpy as np

from robomem.core.api import MemoryQueries
from robomem.core.query_types import KeyframeInfo, QueryStatus
from robomem.errors import PlannerError
from robomem.planner.base import AnswerKind, PlannerAnswer, register_planner
from robomem.planner.config import PlannerConfig
from robomem.planner.llm import PlanSupport
from robomem.planner.llm.loop import AssistantTurn, ToolCall, parse_tool_calls_text, run_tool_loop, tool_schemas
from robomem.planner.llm.prompt import build_system_prompt, collect_keyframes
from robomem.planner.llm.times import format_time

__all__ = ["LocalVLMPlanner"]

_LOG = logging.getLogger(__name__)


class LocalVLMPlanner:
    """Planner backed by a local transformers chat model (see the module docstring)."""

    name = "local_vlm"

    def __init__(self, config: Optional[PlannerConfig] = None) -> None:
        cfg = config if config is not None else PlannerConfig(backend="local_vlm")
        cfg.validate()
        self.config = cfg
        self.tz = cfg.tzinfo()
        self.support = PlanSupport(cfg)
        path = Path(cfg.local_model_path).expanduser() if cfg.local_model_path else None
        if path is None or not path.is_dir():
            raise PlannerError(
                f"local_vlm model directory {cfg.local_model_path!r} does not exist; download a chat model on a "
                "machine with network (e.g. `huggingface-cli download Qwen/Qwen2.5-VL-3B-Instruct --local-dir "
                "DIR`), copy DIR here and set planner.local_model_path to it"
            )
        if not (path / "config.json").is_file():
            raise PlannerError(
                f"{path} has no config.json, so it is not a transformers model directory; point "
                "planner.local_model_path at the folder save_pretrained wrote"
            )
        self.path = path
        self._images: list[np.ndarray] = []
        self._load()

    # ------------------------------------------------------------------------------------------- loading

    def _load(self) -> None:
        import torch
        from transformers import (
            AutoConfig,
            AutoModelForCausalLM,
            AutoModelForImageTextToText,
            AutoProcessor,
            AutoTokenizer,
        )
        from transformers.models.auto.modeling_auto import MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES

        device_name = self.config.device
        if device_name == "auto":
            device_name = "cuda" if torch.cuda.is_available() else "cpu"
        if device_name.startswith("cuda") and not torch.cuda.is_available():
            raise PlannerError(f"planner.device is {self.config.device!r} but CUDA is not available; use 'cpu'")
        self.device = torch.device(device_name)
        dtype = torch.bfloat16 if self.device.type == "cuda" else torch.float32
        try:
            model_config = AutoConfig.from_pretrained(self.path, local_files_only=True)
            self.is_vision = model_config.model_type in MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES
            self.processor: Any = None
            if self.is_vision:
                self.processor = AutoProcessor.from_pretrained(self.path, local_files_only=True)
                self.tokenizer: Any = getattr(self.processor, "tokenizer", self.processor)
                self.model: Any = AutoModelForImageTextToText.from_pretrained(
                    self.path, local_files_only=True, dtype=dtype
                )
            else:
                self.tokenizer = AutoTokenizer.from_pretrained(self.path, local_files_only=True)
                self.model = AutoModelForCausalLM.from_pretrained(self.path, local_files_only=True, dtype=dtype)
        except (OSError, ValueError, KeyError) as exc:
            raise PlannerError(
                f"could not load a transformers chat model from {self.path}: {exc}; the folder needs config.json, "
                "weights and tokenizer files as written by save_pretrained"
            ) from None
        self.model.to(self.device)
        self.model.eval()
        template = getattr(self.processor, "chat_template", None) or getattr(self.tokenizer, "chat_template", None)
        if not template:
            raise PlannerError(
                f"the tokenizer in {self.path} has no chat template; use an instruction-tuned (chat) model or "
                "set tokenizer.chat_template and save it again"
            )
        self._template_takes_tools = "tools" in str(template)
        _LOG.info(
            "local_vlm loaded %s (%s, %s) on %s",
            self.path,
            model_config.model_type,
            "vision" if self.is_vision else "text",
            self.device,
        )

    # ------------------------------------------------------------------------------------------- Planner

    def answer(self, task: str, memory: MemoryQueries, now_ns: Optional[int] = None) -> PlannerAnswer:
        if not isinstance(task, str) or not task.strip():
            return PlannerAnswer(
                QueryStatus.NOT_FOUND, AnswerKind.UNKNOWN, "the task is empty; ask e.g. 'where is the mug?'"
            )
        system = build_system_prompt(memory, now_ns, self.tz, json_only=True)
        if not self._template_takes_tools:
            system += (
                '\nTools (call one by writing <tool_call>{"name": ..., "arguments": {...}}</tool_call>):\n'
                + json.dumps([t["function"] for t in tool_schemas(include_submit_plan=True)])
            )
        keyframes = collect_keyframes(memory, task, self.config.n_keyframes)
        self._images = [kf.thumbnail for kf in keyframes if kf.thumbnail is not None] if self.is_vision else []
        messages: list[dict[str, Any]] = [
            {"role": "system", "content": system},
            {"role": "user", "content": self._user_content(task, keyframes)},
        ]
        submit, goals = self.support.prepare(memory, now_ns, task)
        return run_tool_loop(self, memory, messages, max_rounds=self.config.max_tool_rounds, tz=self.tz,
                             now_ns=now_ns, submit=submit, goals_from=goals)

    def _describe(self, kf: KeyframeInfo) -> str:
        x, y, z = (float(v) for v in np.asarray(kf.world_T_camera)[:3, 3])
        return (
            f"Keyframe {kf.keyframe_id} at {format_time(kf.stamp_ns, self.tz)}, camera at ({x:.2f}, {y:.2f}, "
            f"{z:.2f}) m, shows instance ids {list(kf.visible_instance_ids)}"
        )

    def _user_content(self, task: str, keyframes: list[KeyframeInfo]) -> Any:
        if not keyframes:
            return f"Task: {task}"
        if not self.is_vision:
            return f"Task: {task}\nKeyframes that may be relevant:\n" + "\n".join(map(self._describe, keyframes))
        parts: list[dict[str, Any]] = [{"type": "text", "text": f"Task: {task}\nKeyframes that may be relevant:"}]
        for kf in keyframes:
            parts.append({"type": "text", "text": self._describe(kf) + ":"})
            parts.append({"type": "image"})
        return parts

    # ------------------------------------------------------------------------------------------- ChatBackend

    def render(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> str:
        """The prompt text the model sees for ``messages`` (chat template, generation prompt appended)."""
        owner = self.processor if self.is_vision else self.tokenizer
        kwargs: dict[str, Any] = {"add_generation_prompt": True, "tokenize": False}
        if self._template_takes_tools:
            kwargs["tools"] = tools
        try:
            return str(owner.apply_chat_template(messages, **kwargs))
        except Exception as exc:  # noqa: BLE001 - jinja errors of arbitrary templates
            raise PlannerError(
                f"the chat template of {self.path} cannot render the conversation ({type(exc).__name__}: {exc}); "
                "it must accept system/user/assistant/tool messages"
            ) from None

    def _generate(self, prompt: str) -> str:
        """Generate one reply to ``prompt`` -> the new text (special tokens removed)."""
        import torch

        if self.is_vision:
            inputs = self.processor(text=[prompt], images=self._images or None, return_tensors="pt")
        else:
            inputs = self.tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
        inputs = inputs.to(self.device)
        n_prompt = int(inputs["input_ids"].shape[1])
        limit = getattr(self.model.config.get_text_config(), "max_position_embeddings", None)
        if limit is not None and n_prompt + self.config.max_new_tokens > limit:
            raise PlannerError(
                f"the prompt has {n_prompt} tokens + max_new_tokens {self.config.max_new_tokens} > the model's "
                f"context of {limit}; lower planner.max_tool_rounds, n_keyframes or max_new_tokens"
            )
        gen: dict[str, Any] = {"max_new_tokens": self.config.max_new_tokens}
        if self.config.temperature > 0:
            gen.update(do_sample=True, temperature=self.config.temperature)
        else:
            gen.update(do_sample=False)
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.tokenizer.eos_token_id
        try:
            with torch.inference_mode():
                out = self.model.generate(**inputs, pad_token_id=pad, **gen)
        except (RuntimeError, ValueError) as exc:
            raise PlannerError(f"local_vlm generation failed: {exc}") from None
        return str(self.tokenizer.decode(out[0, n_prompt:], skip_special_tokens=True))

    def chat(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> AssistantTurn:
        text = self._generate(self.render(messages, tools))
        _LOG.debug("local_vlm reply: %r", text[:500])
        calls = parse_tool_calls_text(text, id_prefix=f"call_{len(messages)}")
        return AssistantTurn({"role": "assistant", "content": text}, text, calls)

    def tool_result_message(self, call: ToolCall, content: str) -> dict[str, Any]:
        return {"role": "tool", "tool_call_id": call.id, "name": call.name, "content": content}


register_planner("local_vlm", LocalVLMPlanner)
