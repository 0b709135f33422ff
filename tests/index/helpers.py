"""Helpers for the index tests: clustered unit vectors, an exact numpy reference, index construction."""

from __future__ import annotations

import numpy as np

from robomem.config import IndexConfig
from robomem.index.base import VectorIndex, create_index

ALL_BACKENDS = ("faiss_flat", "faiss_ivf", "torch")


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def clustered(n: int, dim: int, n_clusters: int, seed: int, spread: float = 0.3) -> np.ndarray:
    """(n, dim) unit vectors drawn around ``n_clusters`` random unit centres."""
    rng = np.random.default_rng(seed)
    centres = unit(rng.standard_normal((n_clusters, dim)))
    labels = rng.integers(0, n_clusters, n)
    return unit(centres[labels] + spread * rng.standard_normal((n, dim)) / np.sqrt(dim))


def exact_topk(ids: np.ndarray, vectors: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """(Q, min(k, N)) ids of the exact top-k by inner product (numpy reference)."""
    scores = queries @ vectors.T
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return ids[order]


def recall_at_k(found: np.ndarray, truth: np.ndarray) -> float:
    hits = sum(len(set(f[f >= 0].tolist()) & set(t.tolist())) for f, t in zip(found, truth))
    return hits / truth.size


def make(backend: str, dim: int, **overrides: object) -> VectorIndex:
    cfg = IndexConfig(**{"backend": backend, "use_gpu": "never", **overrides})  # type: ignore[arg-type]
    return create_index(dim, cfg)

