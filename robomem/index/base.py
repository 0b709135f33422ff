"""Vector index interface: one Protocol, several backends, chosen by name (``IndexConfig.backend``).

Vectors are float32, L2-normalised by the caller; scores are inner products (= cosine similarity).
Ids are int64 and stable: the voxel map and the object store delete by id, and the index must stay in sync.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Protocol, runtime_checkable

import numpy as np

from robomem.config import IndexConfig
from robomem.errors import IndexBackendError


@runtime_checkable
class VectorIndex(Protocol):
    """An id-mapped inner-product index."""

    dim: int

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Add (N,) int64 ids with (N, dim) float32 vectors. Re-adding an existing id replaces its vector."""

    def remove(self, ids: np.ndarray) -> int:
        """Remove ids (unknown ids are ignored); returns how many were removed."""

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(Q, dim) queries -> (scores (Q, k) float32, ids (Q, k) int64), best first; missing slots have id -1."""

    def __len__(self) -> int: ...

    def ids(self) -> np.ndarray:
        """All ids currently stored, (N,) int64."""

    def save(self, path: Path) -> None:
        """Write the index to ``path`` (the caller makes it atomic)."""

    def reset(self) -> None:
        """Remove everything."""


IndexFactory = Callable[[int, IndexConfig], VectorIndex]

_REGISTRY: dict[str, IndexFactory] = {}


def register_index(name: str, factory: IndexFactory) -> None:
    """Register a backend under ``name`` (what ``IndexConfig.backend`` names)."""
    _REGISTRY[name] = factory


def create_index(dim: int, config: IndexConfig) -> VectorIndex:
    """Build the backend named by ``config.backend`` for ``dim``-dimensional vectors."""
    _ensure_builtin()
    try:
        factory = _REGISTRY[config.backend]
    except KeyError:
        raise IndexBackendError(
            f"unknown index backend {config.backend!r}; choose one of {sorted(_REGISTRY)}"
        ) from None
    return factory(dim, config)


def load_index(path: Path, config: IndexConfig) -> VectorIndex:
    """Read an index written by ``VectorIndex.save`` with the backend named by ``config.backend``."""
    _ensure_builtin()
    loader = _LOADERS.get(config.backend)
    if loader is None:
        raise IndexBackendError(f"unknown index backend {config.backend!r}; choose one of {sorted(_LOADERS)}")
    return loader(path, config)


_LOADERS: dict[str, Callable[[Path, IndexConfig], VectorIndex]] = {}


def register_loader(name: str, loader: Callable[[Path, IndexConfig], VectorIndex]) -> None:
    _LOADERS[name] = loader


def _ensure_builtin() -> None:
    # Importing the modules registers the built-in backends.
    from robomem.index import faiss_index, torch_index  # noqa: F401
