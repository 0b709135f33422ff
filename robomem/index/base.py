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
        """(Q, dim) queries -> (scores (Q, k) float32, ids (Q, k) int64), best first.

        Slots beyond the number of stored vectors have id -1 and score -inf.
        """

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


MISSING_ID = -1
"""Id of an empty result slot; it cannot be stored."""


def check_ids(ids: object, what: str = "ids") -> np.ndarray:
    """Validate ids -> contiguous (N,) int64. Raises IndexBackendError saying what to do."""
    arr = np.asarray(ids)
    if arr.ndim != 1:
        raise IndexBackendError(f"{what} must be a 1-D array of integers, got shape {arr.shape}; pass ids.ravel()")
    if arr.size == 0:
        return np.zeros(0, dtype=np.int64)
    if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer):
        raise IndexBackendError(
            f"{what} must be integers, got dtype {arr.dtype}; convert them with ids.astype(np.int64)"
        )
    if arr.dtype == np.uint64 and int(arr.max()) > np.iinfo(np.int64).max:
        raise IndexBackendError(f"{what} must fit in int64; {int(arr.max())} does not")
    out = np.ascontiguousarray(arr, dtype=np.int64)
    if np.any(out == MISSING_ID):
        raise IndexBackendError(f"{what} must not contain {MISSING_ID} (it marks an empty result slot); use another id")
    return out


def check_vectors(vectors: object, dim: int, what: str = "vectors") -> np.ndarray:
    """Validate (N, dim) finite float vectors -> contiguous float32. Raises IndexBackendError."""
    arr = np.asarray(vectors)
    if arr.ndim != 2:
        raise IndexBackendError(
            f"{what} must be a 2-D (N, {dim}) array, got shape {arr.shape}; reshape a single vector with v[None, :]"
        )
    if arr.shape[1] != dim:
        raise IndexBackendError(
            f"{what} have dimension {arr.shape[1]} but the index holds {dim}-d vectors; encode them with the "
            f"encoder the index was built for, or build a new index with dim={arr.shape[1]}"
        )
    if arr.dtype == np.bool_ or not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise IndexBackendError(f"{what} must be a float array, got dtype {arr.dtype}")
    out = np.ascontiguousarray(arr, dtype=np.float32)
    if not np.isfinite(out).all():
        bad = int(np.flatnonzero(~np.isfinite(out).all(axis=1))[0])
        raise IndexBackendError(
            f"{what} contain NaN or infinite values (first bad row {bad}); drop or fix those rows before adding"
        )
    return out


def check_add(ids: object, vectors: object, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """Validate an ``add`` call: matching lengths, no duplicate ids within the batch."""
    ids_arr = check_ids(ids)
    vec_arr = check_vectors(vectors, dim)
    if len(ids_arr) != len(vec_arr):
        raise IndexBackendError(f"got {len(ids_arr)} ids but {len(vec_arr)} vectors; pass one id per vector row")
    if len(np.unique(ids_arr)) != len(ids_arr):
        uniq, counts = np.unique(ids_arr, return_counts=True)
        raise IndexBackendError(
            f"ids repeat within one add call (e.g. {int(uniq[counts > 1][0])}); keep one vector per id"
        )
    return ids_arr, vec_arr


def check_k(k: object) -> int:
    """Validate a top-k count."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise IndexBackendError(f"k must be an integer, got {k!r}")
    if k <= 0:
        raise IndexBackendError(f"k must be >= 1, got {k}")
    return int(k)


def check_dim(dim: object) -> int:
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or dim <= 0:
        raise IndexBackendError(f"index dim must be a positive integer, got {dim!r}")
    return int(dim)


def _ensure_builtin() -> None:
    # Importing the modules registers the built-in backends.
    from robomem.index import faiss_index, torch_index  # noqa: F401
