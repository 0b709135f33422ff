"""Shared fixtures for the whole test suite.

``tiny_clip_dir``: a real (randomly initialised) transformers CLIP model, small enough to build in a
second, saved with ``save_pretrained`` together with a BPE tokenizer trained locally with the
``tokenizers`` library and a ``CLIPImageProcessorPil`` - one directory that
``robomem.encoders.clip.ClipEncoder`` (``EncoderConfig(backend="clip", model_path=str(dir))``) and
``transformers.CLIPModel.from_pretrained`` load offline. Session-scoped: build once, never modify it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

TINY_CLIP_PROJECTION_DIM = 16
"""Embedding size of the ``tiny_clip_dir`` model."""

TINY_CLIP_IMAGE_SIZE = 32

_CORPUS_WORDS = (
    "a photo of the red blue green yellow white black brown coffee mug cup bowl plate apple banana "
    "sofa couch chair table desk bed lamp plant book shelf laptop phone remote keys bag shoe towel "
    "kitchen living room bedroom bathroom hallway office window door fridge oven sink toilet tv "
    "on in near under next to left right small large robot"
).split()


def _train_bpe(vocab_size: int = 400) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """Train a CLIP-style BPE (``</w>`` word suffix) on object words; -> (vocab, merges)."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE(unk_token="<|endoftext|>", end_of_word_suffix="</w>"))
    tok.normalizer = normalizers.Sequence([normalizers.NFC(), normalizers.Lowercase()])
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=["<|startoftext|>", "<|endoftext|>"],
        end_of_word_suffix="</w>",
        initial_alphabet=list("abcdefghijklmnopqrstuvwxyz0123456789.,!?'-"),
    )
    sentences = [" ".join(_CORPUS_WORDS[i : i + 6]) for i in range(len(_CORPUS_WORDS))]
    tok.train_from_iterator(sentences * 3 + _CORPUS_WORDS, trainer)
    model = json.loads(tok.to_str())["model"]
    merges = []
    for m in model["merges"]:
        left, right = m.split(" ") if isinstance(m, str) else m
        merges.append((str(left), str(right)))
    return dict(model["vocab"]), merges


def build_tiny_clip(directory: Path, seed: int = 0) -> Path:
    """Build and ``save_pretrained`` a tiny CLIP model + tokenizer + image processor into ``directory``."""
    import torch
    from transformers import CLIPConfig, CLIPImageProcessorPil, CLIPModel, CLIPTokenizer

    vocab, merges = _train_bpe()
    tokenizer = CLIPTokenizer(vocab=vocab, merges=merges)  # type: ignore[arg-type]  # v5 takes (a, b) pairs
    config = CLIPConfig(
        text_config={
            "vocab_size": len(vocab),
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "max_position_embeddings": 32,
            "bos_token_id": tokenizer.bos_token_id,
            "eos_token_id": tokenizer.eos_token_id,
            "pad_token_id": tokenizer.pad_token_id,
        },
        vision_config={
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "image_size": TINY_CLIP_IMAGE_SIZE,
            "patch_size": 8,
        },
        projection_dim=TINY_CLIP_PROJECTION_DIM,
    )
    torch.manual_seed(seed)
    model = CLIPModel(config).eval()
    processor = CLIPImageProcessorPil(
        size={"shortest_edge": TINY_CLIP_IMAGE_SIZE},
        crop_size={"height": TINY_CLIP_IMAGE_SIZE, "width": TINY_CLIP_IMAGE_SIZE},
    )
    directory.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    processor.save_pretrained(directory)
    return directory


@pytest.fixture(scope="session")
def tiny_clip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Directory holding a tiny saved CLIP model (projection dim :data:`TINY_CLIP_PROJECTION_DIM`)."""
    return build_tiny_clip(tmp_path_factory.mktemp("tiny_clip") / "model")
