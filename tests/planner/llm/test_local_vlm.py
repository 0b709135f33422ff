"""The local transformers planner with a tiny chat model built in a fixture (random weights, local tokenizer)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import (
    CLIPImageProcessorPil,
    CLIPVisionConfig,
    LlamaConfig,
    LlamaForCausalLM,
    LlavaConfig,
    LlavaForConditionalGeneration,
    LlavaProcessor,
    PreTrainedTokenizerFast,
)

from robomem.core.query_types import QueryStatus
from robomem.errors import PlannerError
from robomem.planner.base import AnswerKind, create_planner, planner_names
from robomem.planner.config import PlannerConfig
from robomem.planner.llm.answer import FINAL_ANSWER
from robomem.planner.llm.local_vlm import LocalVLMPlanner
from robomem.planner.llm.loop import tool_schemas
from robomem.planner.llm.prompt import build_system_prompt
from tests.planner._fake_memory import MUG_NOW, FakeMemory, faces

# A small chat template that, like Qwen's, lists the tools and renders tool results; content is a string.
TEMPLATE = (
    "{% if tools %}<|tools|>{% for t in tools %}{{ t.function.name }} {% endfor %}<|end|>\n{% endif %}"
    "{% for m in messages %}<|{{ m.role }}|>{{ m.content }}<|end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)
NO_TOOLS_TEMPLATE = (
    "{% for m in messages %}<|{{ m.role }}|>{{ m.content }}<|end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


# The vision variant: list contents with {"type": "image"} parts become the processor's <image> token.
VISION_TEMPLATE = (
    "{% if tools %}<|tools|>{% for t in tools %}{{ t.function.name }} {% endfor %}<|end|>\n{% endif %}"
    "{% for m in messages %}<|{{ m.role }}|>{% if m.content is string %}{{ m.content }}{% else %}"
    "{% for p in m.content %}{% if p.type == 'image' %}<image>{% else %}{{ p.text }}{% endif %}{% endfor %}"
    "{% endif %}<|end|>\n{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


def _tokenizer(extra_special: tuple[str, ...] = ()) -> PreTrainedTokenizerFast:
    corpus = [build_system_prompt(FakeMemory(), None, json_only=True), json.dumps(tool_schemas())] * 3
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=1200,
        special_tokens=["<unk>", "<s>", "</s>", "<pad>", *extra_special],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(corpus, trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>", pad_token="<pad>"
    )


def _text_config(fast: PreTrainedTokenizerFast) -> LlamaConfig:
    return LlamaConfig(
        vocab_size=len(fast),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=4096,
        bos_token_id=fast.bos_token_id,
        eos_token_id=fast.eos_token_id,
        pad_token_id=fast.pad_token_id,
    )


def _build(directory: Path, template: str) -> Path:
    fast = _tokenizer()
    fast.chat_template = template
    torch.manual_seed(0)
    LlamaForCausalLM(_text_config(fast)).save_pretrained(directory)
    fast.save_pretrained(directory)
    return directory


def _build_llava(directory: Path) -> Path:
    """A tiny LLaVA: CLIP vision tower (32x32 images, 16 px patches -> 4 image tokens) + tiny Llama."""
    fast = _tokenizer(extra_special=("<image>",))
    image_processor = CLIPImageProcessorPil(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    processor = LlavaProcessor(
        image_processor=image_processor,
        tokenizer=fast,
        patch_size=16,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,
        chat_template=VISION_TEMPLATE,
        image_token="<image>",
    )
    vision = CLIPVisionConfig(
        hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2, image_size=32, patch_size=16
    )
    cfg = LlavaConfig(
        vision_config=vision,
        text_config=_text_config(fast),
        image_token_id=fast.convert_tokens_to_ids("<image>"),
        vision_feature_select_strategy="default",
        vision_feature_layer=-1,
    )
    torch.manual_seed(0)
    LlavaForConditionalGeneration(cfg).save_pretrained(directory)
    processor.save_pretrained(directory)
    return directory


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _build(tmp_path_factory.mktemp("tiny_chat"), TEMPLATE)


def _cfg(path: Path, **kw: Any) -> PlannerConfig:
    base: dict[str, Any] = dict(backend="local_vlm", local_model_path=str(path), max_new_tokens=8, n_keyframes=2)
    base.update(kw)
    return PlannerConfig(**base)


def test_loads_and_random_model_ends_with_unknown(model_dir: Path) -> None:
    planner = LocalVLMPlanner(_cfg(model_dir, max_tool_rounds=1))
    assert not planner.is_vision and planner.name == "local_vlm"
    # one real generation round: the random model's text is no answer -> a corrective message is queued,
    # the round budget is spent -> UNKNOWN with the reason
    ans = planner.answer("where is the red mug?", FakeMemory())
    assert ans.status is QueryStatus.NOT_FOUND and ans.kind is AnswerKind.UNKNOWN
    assert "max_tool_rounds=1" in ans.text


def test_random_model_twice_malformed_raises(model_dir: Path) -> None:
    planner = LocalVLMPlanner(_cfg(model_dir, max_tool_rounds=3, n_keyframes=0))
    with pytest.raises(PlannerError, match="malformed again after a corrective message"):
        planner.answer("where is the red mug?", FakeMemory())


def test_scripted_generation_runs_the_tool_loop(model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    planner = LocalVLMPlanner(_cfg(model_dir, max_tool_rounds=4))
    replies = [
        'Let me look.\n<tool_call>\n{"name": "locate", "arguments": {"text": "red mug"}}\n</tool_call>',
        json.dumps(
            {"name": FINAL_ANSWER, "arguments": {"kind": "instance", "text": "on the table", "instance_ids": [3]}}
        ),
    ]
    prompts: list[str] = []

    def fake_generate(prompt: str) -> str:  # only the generated text is forced; rendering is the real template
        prompts.append(prompt)
        return replies.pop(0)

    monkeypatch.setattr(planner, "_generate", fake_generate)
    mem = FakeMemory()
    ans = planner.answer("Where is the red mug?", mem)
    assert ans.kind is AnswerKind.INSTANCE and ans.instance_ids == (3,)
    assert faces(ans.goals[0], MUG_NOW.position) and ans.plan == ("locate(text='red mug')",)

    first, second = prompts
    assert first.startswith("<|tools|>locate last_seen where_at") and f"{FINAL_ANSWER} <|end|>" in first
    assert "<|user|>Task: Where is the red mug?\nKeyframes that may be relevant:\nKeyframe 7 at" in first
    assert first.endswith("<|assistant|>")
    # round two sees its own tool call and the tool's JSON result
    assert '<|assistant|>Let me look.\n<tool_call>\n{"name": "locate"' in second
    tool_part = second.split("<|tool|>", 1)[1].split("<|end|>", 1)[0]
    result = json.loads(tool_part)
    assert result["ok"] and result["result"]["matches"][0]["label"] == "red mug"


def test_template_without_tools_gets_schemas_in_system_prompt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    planner = LocalVLMPlanner(_cfg(_build(tmp_path / "m", NO_TOOLS_TEMPLATE), n_keyframes=0))
    prompts: list[str] = []
    monkeypatch.setattr(
        planner, "_generate", lambda p: prompts.append(p) or '{"kind": "number", "text": "1", "value": 1}'
    )
    assert planner.answer("how many mugs?", FakeMemory()).value == 1
    assert "<tool_call>" in prompts[0] and '"name": "state_at"' in prompts[0]


def test_context_overflow_is_a_clear_error(model_dir: Path) -> None:
    planner = LocalVLMPlanner(_cfg(model_dir, n_keyframes=0))
    planner.model.config.max_position_embeddings = 64
    with pytest.raises(PlannerError, match=r"prompt has \d+ tokens .* context of 64"):
        planner.answer("where is the mug", FakeMemory())


def test_missing_or_wrong_model_dir(tmp_path: Path) -> None:
    with pytest.raises(PlannerError, match="does not exist; download a chat model"):
        LocalVLMPlanner(_cfg(tmp_path / "nope"))
    with pytest.raises(PlannerError, match="does not exist"):
        LocalVLMPlanner(PlannerConfig(backend="local_vlm"))
    with pytest.raises(PlannerError, match="no config.json"):
        LocalVLMPlanner(_cfg(tmp_path))
    (tmp_path / "config.json").write_text('{"model_type": "llama"}')
    with pytest.raises(PlannerError, match="could not load a transformers chat model"):
        LocalVLMPlanner(_cfg(tmp_path))


def test_vision_model_gets_keyframe_images(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    planner = LocalVLMPlanner(_cfg(_build_llava(tmp_path / "llava"), max_tool_rounds=1, n_keyframes=2))
    assert planner.is_vision
    seen: dict[str, Any] = {}
    generate = planner.model.generate

    def spy(**kwargs: Any) -> Any:
        seen.update(kwargs)
        return generate(**kwargs)

    monkeypatch.setattr(planner.model, "generate", spy)
    ans = planner.answer("the mug on the table", FakeMemory())  # one real generation round, random weights
    assert ans.kind is AnswerKind.UNKNOWN and "max_tool_rounds=1" in ans.text
    assert tuple(seen["pixel_values"].shape) == (2, 3, 32, 32)  # keyframes 7 and 8, resized by the processor
    image_id = planner.tokenizer.convert_tokens_to_ids("<image>")
    assert int((seen["input_ids"] == image_id).sum()) == 2 * 4  # each <image> expanded to its 4 patch tokens


def test_registered(model_dir: Path) -> None:
    assert "local_vlm" in planner_names()
    assert isinstance(create_planner("local_vlm", config=_cfg(model_dir)), LocalVLMPlanner)
