"""clip/siglip encoder on tiny real transformers models saved to tmp dirs (``tiny_clip_dir`` fixture)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from robomem.config import EncoderConfig
from robomem.encoders.base import Encoder, create_encoder
from robomem.encoders.clip import ClipEncoder
from robomem.errors import EncoderError
from tests.conftest import TINY_CLIP_PROJECTION_DIM


@pytest.fixture(scope="module")
def encoder(tiny_clip_dir: Path) -> ClipEncoder:
    enc = create_encoder(EncoderConfig(backend="clip", model_path=str(tiny_clip_dir)))
    assert isinstance(enc, ClipEncoder)
    return enc


def _images(seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [
        rng.integers(0, 256, (48, 64, 3), dtype=np.uint8),
        rng.integers(0, 256, (120, 160, 3), dtype=np.uint8),
        np.zeros((5, 3, 3), dtype=np.uint8),
        np.full((1, 1, 3), 200, dtype=np.uint8),
    ]


def _unit_rows(x: np.ndarray) -> None:
    assert x.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1.0, atol=1e-5)


def test_loads_from_directory_with_shared_dim(encoder: ClipEncoder) -> None:
    assert isinstance(encoder, Encoder)
    assert encoder.dim == TINY_CLIP_PROJECTION_DIM and encoder.supports_images
    assert encoder.model_type == "clip" and encoder.name.startswith("clip:")
    text = encoder.encode_text(["a red coffee mug", "sofa", "Lamp ON the desk!", ""])
    images = encoder.encode_images(_images())
    assert text.shape == (4, encoder.dim) and images.shape == (4, encoder.dim)
    _unit_rows(text)
    _unit_rows(images)


def test_outputs_depend_on_input_and_are_deterministic(encoder: ClipEncoder, tiny_clip_dir: Path) -> None:
    t1 = encoder.encode_text(["mug", "sofa", "mug"])
    np.testing.assert_allclose(t1[0], t1[2], atol=1e-6)
    assert abs(float(t1[0] @ t1[1])) < 0.999  # different words, different embeddings
    i1 = encoder.encode_images(_images())
    assert abs(float(i1[0] @ i1[2])) < 0.999
    again = create_encoder(EncoderConfig(backend="clip", model_path=str(tiny_clip_dir), batch_size=1))
    np.testing.assert_allclose(again.encode_text(["mug", "sofa", "mug"]), t1, atol=1e-5)  # batch size 1 = 32
    np.testing.assert_allclose(again.encode_images(_images()), i1, atol=1e-5)


def test_matches_transformers_directly(encoder: ClipEncoder, tiny_clip_dir: Path) -> None:
    from transformers import AutoTokenizer, CLIPImageProcessorPil, CLIPModel

    model = CLIPModel.from_pretrained(tiny_clip_dir).eval()
    tok = AutoTokenizer.from_pretrained(tiny_clip_dir)
    proc = CLIPImageProcessorPil.from_pretrained(tiny_clip_dir)
    with torch.no_grad():
        t = model.get_text_features(**tok(["a green plant"], return_tensors="pt")).pooler_output
        i = model.get_image_features(**proc(images=_images()[:1], return_tensors="pt")).pooler_output
    t = (t / t.norm(dim=-1, keepdim=True)).numpy()
    i = (i / i.norm(dim=-1, keepdim=True)).numpy()
    np.testing.assert_allclose(encoder.encode_text(["a green plant"]), t, atol=1e-5)
    np.testing.assert_allclose(encoder.encode_images(_images()[:1]), i, atol=1e-5)


def test_bad_inputs_raise_encoder_error(encoder: ClipEncoder) -> None:
    with pytest.raises(EncoderError, match="no texts"):
        encoder.encode_text([])
    with pytest.raises(EncoderError, match=r"wrap a single text as \[text\]"):
        encoder.encode_text("mug")
    with pytest.raises(EncoderError, match="item 1 is int"):
        encoder.encode_text(["mug", 3])  # type: ignore[list-item]
    with pytest.raises(EncoderError, match="no images"):
        encoder.encode_images([])
    with pytest.raises(EncoderError, match="HxWx3"):
        encoder.encode_images([np.zeros((8, 8), np.uint8)])
    with pytest.raises(EncoderError, match="HxWx3"):
        encoder.encode_images([np.zeros((8, 8, 4), np.uint8)])
    with pytest.raises(EncoderError, match="uint8"):
        encoder.encode_images([np.zeros((8, 8, 3), np.float32)])
    with pytest.raises(EncoderError, match="empty"):
        encoder.encode_images([np.zeros((0, 8, 3), np.uint8)])
    with pytest.raises(EncoderError, match="single image"):
        encoder.encode_images(np.zeros((8, 8, 3), np.uint8))
    assert encoder.encode_text(["still works"]).shape == (1, encoder.dim)


def test_missing_paths_and_files_raise_encoder_error(tmp_path: Path, tiny_clip_dir: Path) -> None:
    with pytest.raises(EncoderError, match="model_path is empty"):
        ClipEncoder(EncoderConfig(backend="clip"))
    missing = tmp_path / "no_model_here"
    with pytest.raises(EncoderError, match=f"{missing}.*does not exist.*save_pretrained"):
        ClipEncoder(EncoderConfig(backend="clip", model_path=str(missing)))
    with pytest.raises(EncoderError, match="no config.json"):
        ClipEncoder(EncoderConfig(backend="clip", model_path=str(tmp_path)))
    (tmp_path / "file.bin").write_bytes(b"x")
    with pytest.raises(EncoderError, match="is a file"):
        ClipEncoder(EncoderConfig(backend="clip", model_path=str(tmp_path / "file.bin")))
    for name, match in [
        ("preprocessor_config.json", "preprocessor_config.json"),
        ("model.safetensors", "weights"),
        ("tokenizer.json", "tokenizer"),
    ]:
        broken = tmp_path / f"without_{name}"
        shutil.copytree(tiny_clip_dir, broken)
        (broken / name).unlink()
        with pytest.raises(EncoderError, match=match):
            ClipEncoder(EncoderConfig(backend="clip", model_path=str(broken)))


def test_unsupported_model_type(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert"}))
    with pytest.raises(EncoderError, match="'bert' model.*CLIP or SigLIP"):
        ClipEncoder(EncoderConfig(backend="clip", model_path=str(tmp_path)))


def test_hub_id_not_in_local_cache_is_not_downloaded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty_cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(EncoderError, match="local Hugging Face cache"):
        ClipEncoder(EncoderConfig(backend="clip", model_path="openai/clip-vit-base-patch32"))


def test_bad_device(tiny_clip_dir: Path) -> None:
    with pytest.raises(EncoderError, match="not a torch device"):
        ClipEncoder(EncoderConfig(backend="clip", model_path=str(tiny_clip_dir), device="gpu0"))
    if not torch.cuda.is_available():
        with pytest.raises(EncoderError, match="no CUDA device"):
            ClipEncoder(EncoderConfig(backend="clip", model_path=str(tiny_clip_dir), device="cuda"))


def test_siglip_directory(tmp_path: Path, tiny_clip_dir: Path) -> None:
    """A tiny SigLIP model (tokenizer borrowed from the tiny CLIP dir) loads through the "siglip" alias."""
    from transformers import AutoTokenizer, SiglipConfig, SiglipImageProcessorPil, SiglipModel

    tok = AutoTokenizer.from_pretrained(tiny_clip_dir)
    cfg = SiglipConfig(
        text_config={
            "vocab_size": len(tok), "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1,
            "num_attention_heads": 2, "max_position_embeddings": 16, "pad_token_id": tok.pad_token_id,
            "bos_token_id": tok.bos_token_id, "eos_token_id": tok.eos_token_id,
        },
        vision_config={
            "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2,
            "image_size": 32, "patch_size": 8,
        },
    )
    torch.manual_seed(0)
    SiglipModel(cfg).save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    SiglipImageProcessorPil(size={"height": 32, "width": 32}).save_pretrained(tmp_path)
    enc = create_encoder(EncoderConfig(backend="siglip", model_path=str(tmp_path)))
    assert isinstance(enc, ClipEncoder) and enc.model_type == "siglip" and enc.dim == 32
    text = enc.encode_text(["mug", "a blue sofa in the living room"])
    images = enc.encode_images(_images())
    assert text.shape == (2, 32) and images.shape == (4, 32)
    _unit_rows(text)
    _unit_rows(images)
