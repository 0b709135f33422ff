"""hash encoder: deterministic, model-free hashed bag-of-words."""

from __future__ import annotations

import io
import os
import subprocess
import sys

import numpy as np
import pytest

from robomem.config import EncoderConfig
from robomem.encoders.base import Encoder, create_encoder
from robomem.encoders.hashing import HashEncoder, tokens
from robomem.errors import EncoderError


def test_shape_unit_norm_protocol() -> None:
    enc = create_encoder(EncoderConfig(backend="hash"))
    assert isinstance(enc, HashEncoder) and isinstance(enc, Encoder)
    assert enc.dim == 256 and not enc.supports_images
    v = enc.encode_text(["coffee mug", "sofa", "x"])
    assert v.shape == (3, 256) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-6)
    assert HashEncoder(dim=64).encode_text(["mug"]).shape == (1, 64)


def test_deterministic_across_instances_and_processes() -> None:
    texts = ["coffee mug", "blue sofa in the living room"]
    a = HashEncoder().encode_text(texts)
    np.testing.assert_array_equal(a, HashEncoder().encode_text(texts))
    code = (
        "import numpy as np, sys; from robomem.encoders.hashing import HashEncoder; "
        "np.save(sys.stdout.buffer, HashEncoder().encode_text(['coffee mug', 'blue sofa in the living room']))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        check=True,
        env={**os.environ, "PYTHONHASHSEED": "12345"},
    ).stdout
    np.testing.assert_array_equal(np.load(io.BytesIO(out)), a)  # Python's salted hash() is not used


def test_sensible_overlap() -> None:
    mug, coffee_mug, cup, sofa, mugs = HashEncoder().encode_text(["mug", "coffee mug", "cup", "sofa", "Mugs!"])
    assert coffee_mug @ mug > 0.5  # shares the word and its trigrams
    assert mugs @ mug > 0.2  # shares two of its four trigrams only
    assert coffee_mug @ mug > coffee_mug @ sofa + 0.3
    assert abs(float(mug @ sofa)) < 0.3 and abs(float(mug @ cup)) < 0.3
    a, b = HashEncoder().encode_text(["Coffee-Mug", "coffee mug"])
    np.testing.assert_array_equal(a, b)  # case and punctuation do not matter


def test_tokens() -> None:
    assert tokens("The RED mug, #2!") == ["the", "red", "mug", "2"]


def test_errors() -> None:
    enc = HashEncoder()
    for bad in ["", "  ", "!!!"]:
        with pytest.raises(EncoderError, match="no letters or digits"):
            enc.encode_text(["ok", bad])
    with pytest.raises(EncoderError, match="no texts"):
        enc.encode_text([])
    with pytest.raises(EncoderError, match=r"\[text\]"):
        enc.encode_text("mug")
    with pytest.raises(EncoderError, match="supports_images is False"):
        enc.encode_images([np.zeros((2, 2, 3), np.uint8)])
    with pytest.raises(EncoderError, match="positive integer"):
        HashEncoder(dim=0)
