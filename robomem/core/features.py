"""Text features of labels and queries, cached per encoder (labels repeat in every frame)."""

from __future__ import annotations

import threading

import numpy as np

from robomem.encoders.base import Encoder


class TextFeatures:
    """``encoder.encode_text`` for one string at a time, with a bounded cache. Not part of the memory's state:
    it depends only on the (injected) encoder. Thread-safe: queries answered from a snapshot run beside an ingest,
    and encoders (e.g. fast tokenizers) must not be called from two threads at once; cache hits take no lock."""

    def __init__(self, encoder: Encoder, max_entries: int = 10000) -> None:
        self.encoder = encoder
        self.max_entries = int(max_entries)
        self._cache: dict[str, np.ndarray] = {}
        self._encode_lock = threading.Lock()

    def __call__(self, text: str) -> np.ndarray:
        """(D,) float32 unit feature of ``text``."""
        feat = self._cache.get(text)
        if feat is None:
            with self._encode_lock:
                feat = np.asarray(self.encoder.encode_text([text])[0], dtype=np.float32)
            if len(self._cache) >= self.max_entries:
                self._cache.clear()
            self._cache[text] = feat
        return feat

    def clear(self) -> None:
        self._cache.clear()
