"""``hash`` encoder: deterministic hashed bag-of-words text embedding (no model, no weights).

A fast, model-free backend for demos and tests - NOT a semantic model: "sofa" and "couch" are unrelated
to it, while "coffee mug" and "mug" overlap because they share a word and character trigrams.

Features of a text: each lowercased alphanumeric token (weight :data:`WORD_WEIGHT`) and each character
trigram of ``"#token#"`` (weight :data:`TRIGRAM_WEIGHT`), hashed with BLAKE2b (stable across processes and
machines, unlike Python's salted ``hash``) to a bucket in ``[0, dim)`` and a sign (signed feature
hashing), summed and L2-normalised. Text only: ``supports_images`` is False.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from typing import Sequence

import numpy as np

from robomem.config import EncoderConfig
from robomem.encoders.base import register_encoder
from robomem.errors import EncoderError

DEFAULT_DIM = 256
WORD_WEIGHT = 1.0
TRIGRAM_WEIGHT = 0.5
_TOKEN = re.compile(r"[a-z0-9]+")


def _bucket(feature: str, dim: int) -> tuple[int, float]:
    h = int.from_bytes(hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest(), "little")
    return h % dim, (1.0 if (h >> 63) & 1 else -1.0)


def tokens(text: str) -> list[str]:
    """Lowercased alphanumeric tokens of ``text``."""
    return _TOKEN.findall(text.lower())


class HashEncoder:
    """Deterministic hashed bag-of-words + char-trigram embedding, ``dim`` (default 256) float32 unit rows."""

    supports_images = False

    def __init__(self, config: EncoderConfig | None = None, dim: int = DEFAULT_DIM) -> None:
        if config is not None:
            config.validate()
        if isinstance(dim, bool) or not isinstance(dim, int) or dim <= 0:
            raise EncoderError(f"hash encoder dim must be a positive integer, got {dim!r}")
        self.dim = dim
        self.name = f"hash:{dim}"
        self._embed = lru_cache(maxsize=65536)(self._embed_uncached)

    def _embed_uncached(self, text: str) -> np.ndarray:
        toks = tokens(text)
        if not toks:
            raise EncoderError(
                f"text {text!r} has no letters or digits, so the hash encoder cannot embed it; pass a label "
                "with at least one alphanumeric word"
            )
        v = np.zeros(self.dim, dtype=np.float64)
        for tok in toks:
            b, s = _bucket("w:" + tok, self.dim)
            v[b] += s * WORD_WEIGHT
            padded = f"#{tok}#"
            for i in range(len(padded) - 2):
                b, s = _bucket("c:" + padded[i : i + 3], self.dim)
                v[b] += s * TRIGRAM_WEIGHT
        n = float(np.linalg.norm(v))
        if n == 0:  # features cancelled exactly (practically never): fall back to the first word's bucket
            b, s = _bucket("w:" + toks[0], self.dim)
            v[b] = s
            n = 1.0
        out = (v / n).astype(np.float32)
        out.setflags(write=False)
        return out

    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        """-> (N, dim) float32 unit rows. Raises EncoderError on empty input or text without words."""
        if isinstance(texts, str):
            raise EncoderError("encode_text takes a sequence of strings; wrap a single text as [text]")
        items = list(texts)
        if not items:
            raise EncoderError("encode_text got no texts; pass at least one string")
        for i, t in enumerate(items):
            if not isinstance(t, str):
                raise EncoderError(f"encode_text needs strings; item {i} is {type(t).__name__}")
        return np.stack([self._embed(t) for t in items]).astype(np.float32)

    def encode_images(self, images: Sequence[np.ndarray]) -> np.ndarray:
        raise EncoderError(
            "the hash encoder embeds text only (supports_images is False); use encoder.backend 'clip' for "
            "image embeddings"
        )


register_encoder("hash", HashEncoder)
