"""FAISS backends: ``faiss_flat`` (exact) and ``faiss_ivf`` (IVF-flat, approximate), inner product.

* ``faiss_flat``: ``IndexIDMap2(IndexFlatIP(dim))``. Exact; re-adding an id replaces its vector.
* ``faiss_ivf``: answers exactly from a flat ``IndexIDMap2`` until ``IndexConfig.ivf_min_train`` vectors are
  stored, then trains an ``IndexIVFFlat`` (inner product, spherical k-means) with
  ``nlist = min(ivf_nlist, n // 39)`` cells on everything stored, moves the vectors over and from then on
  searches ``ivf_nprobe`` cells. The IVF lists store the user ids themselves (an ``IndexIVF`` is natively
  id-mapped; wrapping it in ``IndexIDMap`` would break ``remove_ids``, which does not renumber IVF entries).
  The cells are not retrained as the index grows; ``reset()`` returns to the untrained (exact) phase.

GPU: with ``IndexConfig.use_gpu`` "auto" and ``faiss.get_num_gpus() > 0`` (a faiss GPU build), or "always",
searches run on a GPU copy (``faiss.index_cpu_to_gpu``) that is rebuilt lazily after adds/removes. The CPU
index stays the source of truth (GPU flat indexes cannot ``remove_ids``); "always" without a GPU raises
:class:`IndexBackendError`. Constructing an index sets the process-wide
``faiss.cvar.distance_compute_blas_threshold`` from ``IndexConfig.blas_threshold`` (the BLAS path is ~7x
faster for batches of queries).

Files: :meth:`save` writes ``faiss.write_index`` output to exactly the given path; the loaders reject
missing, truncated and foreign files with :class:`IndexBackendError`.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, Optional

import faiss
import numpy as np

from robomem.config import IndexConfig
from robomem.errors import IndexBackendError
from robomem.index.base import (
    MISSING_ID,
    check_add,
    check_dim,
    check_ids,
    check_k,
    check_vectors,
    register_index,
    register_loader,
)

logger = logging.getLogger(__name__)

GPU_MAX_K = 2048
SINGLE_THREAD_MAX_QUERIES = 8
"""Searches with at most this many queries run on one OpenMP thread (latency, see ``search``)."""
"""FAISS GPU indexes answer at most this many neighbours (and probe at most this many cells); larger
requests are answered on the CPU."""

IVF_POINTS_PER_CELL = 39
"""k-means needs at least this many training points per IVF cell (FAISS warns below it)."""


def faiss_gpu_available() -> bool:
    """True when this faiss build has GPU support and sees at least one GPU."""
    get_num_gpus = getattr(faiss, "get_num_gpus", None)
    return (
        get_num_gpus is not None
        and hasattr(faiss, "StandardGpuResources")
        and hasattr(faiss, "index_cpu_to_gpu")
        and get_num_gpus() > 0
    )


_SHARED_GPU_RESOURCES: Optional[Any] = None


def _gpu_resources(config: IndexConfig) -> Optional[Any]:
    """The process's one ``faiss.StandardGpuResources`` (each reserves GPU scratch memory, so every index
    shares it) when searches should run on a GPU, else None."""
    global _SHARED_GPU_RESOURCES
    if config.use_gpu == "never":
        return None
    if faiss_gpu_available():
        if _SHARED_GPU_RESOURCES is None:
            _SHARED_GPU_RESOURCES = faiss.StandardGpuResources()
        return _SHARED_GPU_RESOURCES
    if config.use_gpu == "always":
        raise IndexBackendError(
            "index.use_gpu is 'always' but FAISS sees no GPU (a faiss-cpu build or no CUDA device); "
            "install a FAISS GPU build (e.g. faiss-gpu-cu12) on a CUDA machine, or set index.use_gpu to "
            "'auto' (GPU when available) or 'never'"
        )
    return None


def _missing(q: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    return np.full((q, k), -np.inf, dtype=np.float32), np.full((q, k), MISSING_ID, dtype=np.int64)


def _membership(stored: set[int], ids: np.ndarray) -> np.ndarray:
    """(N,) bool: which of ``ids`` are in ``stored`` (O(N), independent of the index size)."""
    return np.fromiter((i in stored for i in ids.tolist()), dtype=bool, count=len(ids))


def _new_flat(dim: int) -> Any:
    return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))


class _FaissBase:
    """Shared bookkeeping: the id set, validation, the lazy GPU copy, result post-processing."""

    backend = ""

    def __init__(self, dim: int, config: IndexConfig) -> None:
        self.dim = check_dim(dim)
        self.config = config
        faiss.cvar.distance_compute_blas_threshold = int(config.blas_threshold)
        self._gpu_res: Any = _gpu_resources(config)
        self._gpu_index: Optional[Any] = None
        self._gpu_labels: Optional[np.ndarray] = None  # GPU row -> id, when the GPU copy is not id-mapped
        self._ids: set[int] = set()

    # -- subclass hooks ---------------------------------------------------------------------------------
    def _cpu_index(self) -> Any:
        raise NotImplementedError

    def _build_gpu(self) -> tuple[Any, Optional[np.ndarray]]:
        raise NotImplementedError

    def _insert(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Add ids that are not stored yet."""
        raise NotImplementedError

    # -- VectorIndex ------------------------------------------------------------------------------------
    @property
    def on_gpu(self) -> bool:
        """Whether searches run on a GPU copy."""
        return self._gpu_res is not None

    def __len__(self) -> int:
        return len(self._ids)

    def ids(self) -> np.ndarray:
        """All stored ids, sorted ascending, (N,) int64."""
        return np.sort(np.fromiter(self._ids, dtype=np.int64, count=len(self._ids)))

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Add (N,) ids with (N, dim) float vectors; an id already stored gets the new vector."""
        ids_arr, vec_arr = check_add(ids, vectors, self.dim)
        if len(ids_arr) == 0:
            return
        existing = ids_arr[_membership(self._ids, ids_arr)]
        if len(existing):
            self._remove_stored(existing)
        self._insert(ids_arr, vec_arr)
        self._ids.update(ids_arr.tolist())
        self._gpu_index = None

    def remove(self, ids: np.ndarray) -> int:
        """Remove ids (unknown ones are ignored); returns how many were removed."""
        ids_arr = check_ids(ids)
        known = ids_arr[_membership(self._ids, ids_arr)]
        known = np.unique(known)
        if len(known) == 0:
            return 0
        self._remove_stored(known)
        return len(known)

    def _remove_stored(self, ids: np.ndarray) -> None:
        removed = int(self._cpu_index().remove_ids(faiss.IDSelectorBatch(ids)))
        if removed != len(ids):  # the id set and FAISS disagree: a bug, never silently ignored
            raise IndexBackendError(
                f"internal error: FAISS removed {removed} of {len(ids)} stored ids; rebuild the index"
            )
        self._ids.difference_update(ids.tolist())
        self._gpu_index = None

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(Q, dim) queries -> (scores (Q, k) float32, ids (Q, k) int64), best first; empty slots -1/-inf."""
        k = check_k(k)
        q = check_vectors(queries, self.dim, what="queries")
        if len(q) == 0 or len(self._ids) == 0:
            return _missing(len(q), k)
        if self._gpu_res is not None and k <= GPU_MAX_K:
            if self._gpu_index is None:
                self._gpu_index, self._gpu_labels = self._build_gpu()
            scores, labels = self._gpu_index.search(q, k)
            if self._gpu_labels is not None:
                labels = np.where(labels >= 0, self._gpu_labels[np.maximum(labels, 0)], MISSING_ID)
        elif len(q) <= SINGLE_THREAD_MAX_QUERIES:
            # A handful of queries finishes in ~1 ms on one core; OpenMP workers only add wake-up latency, and on a
            # loaded machine (a robot's CPU, a shared CI box) that latency was measured at 20-50x the search itself.
            previous = faiss.omp_get_max_threads()
            faiss.omp_set_num_threads(1)
            try:
                scores, labels = self._cpu_index().search(q, k)
            finally:
                faiss.omp_set_num_threads(previous)
        else:
            scores, labels = self._cpu_index().search(q, k)
        scores = np.asarray(scores, dtype=np.float32)
        labels = np.asarray(labels, dtype=np.int64)
        scores[labels < 0] = -np.inf
        labels[labels < 0] = MISSING_ID
        return scores, labels

    def save(self, path: Path) -> None:
        """Write the CPU index to exactly ``path`` (``faiss.write_index``); the caller makes it atomic."""
        try:
            faiss.write_index(self._cpu_index(), str(path))
        except RuntimeError as exc:
            raise IndexBackendError(
                f"could not write the {self.backend} index to {path}: {exc}; check that the directory "
                "exists and is writable"
            ) from None


class FaissFlatIndex(_FaissBase):
    """Exact inner-product search: ``IndexIDMap2(IndexFlatIP(dim))``."""

    backend = "faiss_flat"

    def __init__(self, dim: int, config: IndexConfig, _index: Optional[Any] = None) -> None:
        super().__init__(dim, config)
        self._index = _index if _index is not None else _new_flat(self.dim)
        if _index is not None:
            self._ids = set(faiss.vector_to_array(_index.id_map).tolist())

    def _cpu_index(self) -> Any:
        return self._index

    def _insert(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        self._index.add_with_ids(vectors, ids)

    def _build_gpu(self) -> tuple[Any, Optional[np.ndarray]]:
        # Only the flat storage goes to the GPU; rows map back to ids through the CPU id map.
        inner = faiss.downcast_index(self._index.index)
        gpu = faiss.index_cpu_to_gpu(self._gpu_res, 0, inner)
        return gpu, faiss.vector_to_array(self._index.id_map).astype(np.int64)

    def reset(self) -> None:
        self._index.reset()
        self._ids.clear()
        self._gpu_index = None


class FaissIVFIndex(_FaissBase):
    """IVF-flat inner-product index; exact (flat) until ``ivf_min_train`` vectors are stored."""

    backend = "faiss_ivf"

    def __init__(self, dim: int, config: IndexConfig, _index: Optional[Any] = None) -> None:
        super().__init__(dim, config)
        self._flat: Optional[Any] = None
        self._ivf: Optional[Any] = None
        if _index is None:
            self._flat = _new_flat(self.dim)
        elif isinstance(_index, faiss.IndexIVFFlat):
            self._ivf = _index
            self._ivf.nprobe = min(self.config.ivf_nprobe, self._ivf.nlist)
            self._ids = set(_ivf_ids(_index).tolist())
        else:
            self._flat = _index
            self._ids = set(faiss.vector_to_array(_index.id_map).tolist())

    @property
    def is_trained(self) -> bool:
        """Whether the IVF cells exist (False: answering exactly from the flat index)."""
        return self._ivf is not None

    @property
    def nlist(self) -> int:
        """Number of IVF cells (0 before training)."""
        return int(self._ivf.nlist) if self._ivf is not None else 0

    @property
    def nprobe(self) -> int:
        """Cells searched per query (0 before training)."""
        return int(self._ivf.nprobe) if self._ivf is not None else 0

    def set_nprobe(self, nprobe: int) -> None:
        """Search ``nprobe`` cells per query (clipped to ``nlist``); no effect before training."""
        if isinstance(nprobe, bool) or not isinstance(nprobe, (int, np.integer)) or nprobe <= 0:
            raise IndexBackendError(f"nprobe must be a positive integer, got {nprobe!r}")
        if self._ivf is not None:
            self._ivf.nprobe = min(int(nprobe), self._ivf.nlist)
            self._gpu_index = None

    def _cpu_index(self) -> Any:
        return self._ivf if self._ivf is not None else self._flat

    def _insert(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if self._ivf is not None:
            self._ivf.add_with_ids(vectors, ids)
            return
        assert self._flat is not None
        n_total = self._flat.ntotal + len(ids)
        if n_total < self.config.ivf_min_train:
            self._flat.add_with_ids(vectors, ids)
            return
        # Enough vectors: train on everything (stored + new) and move it all into the IVF index.
        n_old = self._flat.ntotal
        if n_old:
            old_vectors = faiss.downcast_index(self._flat.index).reconstruct_n(0, n_old)
            old_ids = faiss.vector_to_array(self._flat.id_map).astype(np.int64)
            vectors = np.concatenate([old_vectors, vectors])
            ids = np.concatenate([old_ids, ids])
        self._ivf = self._train(vectors)
        self._ivf.add_with_ids(vectors, ids)
        self._flat = None

    def _train(self, vectors: np.ndarray) -> Any:
        n = len(vectors)
        nlist = max(1, min(self.config.ivf_nlist, n // IVF_POINTS_PER_CELL))
        quantizer: Any = faiss.IndexFlatIP(self.dim)
        ivf = faiss.IndexIVFFlat(quantizer, self.dim, nlist, faiss.METRIC_INNER_PRODUCT)
        quantizer.this.disown()  # the IVF index owns and frees its quantizer
        ivf.own_fields = True
        ivf.cp.spherical = True  # unit vectors: centroids on the sphere
        t0 = time.perf_counter()
        ivf.train(vectors)
        ivf.nprobe = min(self.config.ivf_nprobe, nlist)
        logger.info(
            "faiss_ivf: trained %d cells on %d vectors in %.2f s (nprobe %d)",
            nlist, n, time.perf_counter() - t0, ivf.nprobe,
        )
        return ivf

    def _build_gpu(self) -> tuple[Any, Optional[np.ndarray]]:
        if self._ivf is None:
            assert self._flat is not None
            inner = faiss.downcast_index(self._flat.index)
            return (
                faiss.index_cpu_to_gpu(self._gpu_res, 0, inner),
                faiss.vector_to_array(self._flat.id_map).astype(np.int64),
            )
        gpu: Any = faiss.index_cpu_to_gpu(self._gpu_res, 0, self._ivf)  # GPU IVF lists keep the user ids
        gpu.nprobe = min(self._ivf.nprobe, GPU_MAX_K)
        return gpu, None

    def reset(self) -> None:
        self._ivf = None
        self._flat = _new_flat(self.dim)
        self._ids.clear()
        self._gpu_index = None


def _ivf_ids(ivf: Any) -> np.ndarray:
    """Every id stored in the inverted lists of ``ivf``, (N,) int64."""
    invlists = ivf.invlists
    parts = [np.zeros(0, dtype=np.int64)]
    for list_no in range(ivf.nlist):
        size = invlists.list_size(list_no)
        if size:
            parts.append(faiss.rev_swig_ptr(invlists.get_ids(list_no), size).astype(np.int64))
    return np.concatenate(parts)


# ----------------------------------------------------------------------------------------------- files


def _read(path: Path, backend: str) -> Any:
    p = Path(path)
    if not p.is_file():
        raise IndexBackendError(f"{backend} index file {p} does not exist; save the index there first")
    try:
        return faiss.read_index(str(p))
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[-1] if str(exc).strip() else repr(exc)
        raise IndexBackendError(
            f"{p} is not a readable FAISS index ({first[:200]}): if another index.backend wrote it, load it "
            "with that backend; if it is truncated or corrupt, restore it from a backup or rebuild the index "
            "from the stored features"
        ) from None


def _is_flat_ip_idmap(index: Any) -> bool:
    if not isinstance(index, faiss.IndexIDMap2):
        return False
    inner = faiss.downcast_index(index.index)
    return isinstance(inner, faiss.IndexFlat) and inner.metric_type == faiss.METRIC_INNER_PRODUCT


def _foreign(path: Path, index: Any, backend: str, expected: str) -> IndexBackendError:
    return IndexBackendError(
        f"{path} holds a {type(index).__name__} index, not a {backend} index ({expected}); load it with "
        "the index.backend that wrote it"
    )


def load_faiss_flat(path: Path, config: IndexConfig) -> FaissFlatIndex:
    """Read a ``faiss_flat`` index written by :meth:`FaissFlatIndex.save`."""
    index = _read(path, "faiss_flat")
    if not _is_flat_ip_idmap(index):
        raise _foreign(Path(path), index, "faiss_flat", "IndexIDMap2 over IndexFlatIP")
    return FaissFlatIndex(index.d, config, _index=index)


def load_faiss_ivf(path: Path, config: IndexConfig) -> FaissIVFIndex:
    """Read a ``faiss_ivf`` index (trained IVF, or still in its exact flat phase)."""
    index = _read(path, "faiss_ivf")
    if isinstance(index, faiss.IndexIVFFlat):
        if index.metric_type != faiss.METRIC_INNER_PRODUCT:
            raise _foreign(Path(path), index, "faiss_ivf", "an inner-product IndexIVFFlat")
    elif not _is_flat_ip_idmap(index):
        raise _foreign(Path(path), index, "faiss_ivf", "IndexIVFFlat, or IndexIDMap2 over IndexFlatIP")
    return FaissIVFIndex(index.d, config, _index=index)


register_index("faiss_flat", FaissFlatIndex)
register_index("faiss_ivf", FaissIVFIndex)
register_loader("faiss_flat", load_faiss_flat)
register_loader("faiss_ivf", load_faiss_ivf)
