"""``torch`` backend: exact brute-force inner-product search (float32 matmul + top-k), the reference.

Same semantics as the FAISS backends: int64 ids, re-adding an id replaces its vector, ``remove`` ignores
unknown ids, empty result slots are id -1 / score -inf. Vectors live in one preallocated float32 tensor
(grown by doubling; removal moves the last row into the hole), on CUDA when ``IndexConfig.use_gpu`` is
"auto" and CUDA is available or "always" (which raises :class:`IndexBackendError` without CUDA). Search
scores the database in blocks of :data:`SEARCH_BLOCK` rows so memory stays bounded for large indexes.

Files are ``.npz`` archives (``format``, ``version``, ``ids``, ``vectors``) written to exactly the given path.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Optional

import numpy as np
import torch

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

FILE_FORMAT = "robomem_torch_index"
FILE_VERSION = 1
SEARCH_BLOCK = 65536
"""Database rows scored per matmul block."""


def _device(config: IndexConfig) -> torch.device:
    if config.use_gpu == "never":
        return torch.device("cpu")
    if torch.cuda.is_available():
        return torch.device("cuda")
    if config.use_gpu == "always":
        raise IndexBackendError(
            "index.use_gpu is 'always' but torch sees no CUDA device; run on a CUDA machine with a CUDA "
            "build of torch, or set index.use_gpu to 'auto' or 'never'"
        )
    return torch.device("cpu")


class TorchIndex:
    """Brute-force inner-product index on a torch tensor."""

    backend = "torch"

    def __init__(self, dim: int, config: IndexConfig, device: Optional[torch.device] = None) -> None:
        self.dim = check_dim(dim)
        self.config = config
        self.device = device if device is not None else _device(config)
        self._vectors = torch.zeros((0, self.dim), dtype=torch.float32, device=self.device)
        self._row_ids = np.zeros(0, dtype=np.int64)  # row -> id, first ``_n`` rows valid
        self._rows: dict[int, int] = {}  # id -> row
        self._n = 0

    def __len__(self) -> int:
        return self._n

    def ids(self) -> np.ndarray:
        """All stored ids, sorted ascending, (N,) int64."""
        return np.sort(self._row_ids[: self._n])

    def _reserve(self, n: int) -> None:
        cap = self._vectors.shape[0]
        if n <= cap:
            return
        new_cap = max(n, 2 * cap, 1024)
        grown = torch.zeros((new_cap, self.dim), dtype=torch.float32, device=self.device)
        grown[: self._n] = self._vectors[: self._n]
        self._vectors = grown
        row_ids = np.full(new_cap, MISSING_ID, dtype=np.int64)
        row_ids[: self._n] = self._row_ids[: self._n]
        self._row_ids = row_ids

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Add (N,) ids with (N, dim) float vectors; an id already stored gets the new vector."""
        ids_arr, vec_arr = check_add(ids, vectors, self.dim)
        if len(ids_arr) == 0:
            return
        rows = np.fromiter((self._rows.get(i, -1) for i in ids_arr.tolist()), dtype=np.int64, count=len(ids_arr))
        old = rows >= 0
        new_n = int((~old).sum())
        self._reserve(self._n + new_n)
        rows[~old] = np.arange(self._n, self._n + new_n)
        self._vectors[torch.from_numpy(rows).to(self.device)] = torch.from_numpy(vec_arr).to(self.device)
        new_ids = ids_arr[~old]
        self._row_ids[self._n : self._n + new_n] = new_ids
        self._rows.update(zip(new_ids.tolist(), rows[~old].tolist()))
        self._n += new_n

    def remove(self, ids: np.ndarray) -> int:
        """Remove ids (unknown ones are ignored); returns how many were removed."""
        removed = 0
        for i in np.unique(check_ids(ids)).tolist():
            row = self._rows.pop(i, None)
            if row is None:
                continue
            last = self._n - 1
            if row != last:  # move the last row into the hole
                self._vectors[row] = self._vectors[last]
                moved = int(self._row_ids[last])
                self._row_ids[row] = moved
                self._rows[moved] = row
            self._row_ids[last] = MISSING_ID
            self._n = last
            removed += 1
        return removed

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(Q, dim) queries -> (scores (Q, k) float32, ids (Q, k) int64), best first; empty slots -1/-inf."""
        k = check_k(k)
        q_np = check_vectors(queries, self.dim, what="queries")
        n_q = len(q_np)
        scores_out = np.full((n_q, k), -np.inf, dtype=np.float32)
        ids_out = np.full((n_q, k), MISSING_ID, dtype=np.int64)
        if n_q == 0 or self._n == 0:
            return scores_out, ids_out
        kk = min(k, self._n)
        q = torch.from_numpy(q_np).to(self.device)
        best_scores: Optional[torch.Tensor] = None
        best_rows: Optional[torch.Tensor] = None
        with torch.no_grad():
            for start in range(0, self._n, SEARCH_BLOCK):
                block = self._vectors[start : min(start + SEARCH_BLOCK, self._n)]
                s, r = torch.topk(q @ block.T, min(kk, block.shape[0]), dim=1)
                r = r + start
                if best_scores is None or best_rows is None:
                    best_scores, best_rows = s, r
                else:
                    s = torch.cat([best_scores, s], dim=1)
                    r = torch.cat([best_rows, r], dim=1)
                    best_scores, pick = torch.topk(s, kk, dim=1)
                    best_rows = torch.gather(r, 1, pick)
        assert best_scores is not None and best_rows is not None
        scores_out[:, :kk] = best_scores.cpu().numpy()
        ids_out[:, :kk] = self._row_ids[best_rows.cpu().numpy()]
        return scores_out, ids_out

    def vectors(self) -> tuple[np.ndarray, np.ndarray]:
        """(ids (N,) int64, vectors (N, dim) float32) in storage order (copies)."""
        return self._row_ids[: self._n].copy(), self._vectors[: self._n].cpu().numpy().copy()

    def save(self, path: Path) -> None:
        """Write an ``.npz`` archive to exactly ``path`` (the caller makes it atomic)."""
        ids, vecs = self.vectors()
        try:
            with open(path, "wb") as f:  # a file object: np.savez would append ".npz" to a bare path
                np.savez(
                    f, format=np.array(FILE_FORMAT), version=np.array(FILE_VERSION),
                    dim=np.array(self.dim), ids=ids, vectors=vecs,
                )
        except OSError as exc:
            raise IndexBackendError(
                f"could not write the torch index to {path}: {exc}; check that the directory exists and is "
                "writable"
            ) from None

    def reset(self) -> None:
        self._vectors = torch.zeros((0, self.dim), dtype=torch.float32, device=self.device)
        self._row_ids = np.zeros(0, dtype=np.int64)
        self._rows.clear()
        self._n = 0


def load_torch_index(path: Path, config: IndexConfig) -> TorchIndex:
    """Read an index written by :meth:`TorchIndex.save`."""
    p = Path(path)
    if not p.is_file():
        raise IndexBackendError(f"torch index file {p} does not exist; save the index there first")
    what_to_do = "restore it from a backup or rebuild the index from the stored features"
    if not zipfile.is_zipfile(p):
        raise IndexBackendError(
            f"{p} is not a robomem torch index (.npz archive): if another index.backend wrote it, load it with "
            f"that backend; if it is truncated or corrupt, {what_to_do}"
        )
    try:
        with np.load(p, allow_pickle=False) as data:
            if "format" not in data.files or str(data["format"]) != FILE_FORMAT:
                raise IndexBackendError(
                    f"{p} is not a robomem torch index (no format tag {FILE_FORMAT!r}); load it with the "
                    "index.backend that wrote it, or rebuild the index"
                )
            version = int(data["version"])
            if version != FILE_VERSION:
                raise IndexBackendError(
                    f"{p} is a torch index of format version {version}; this robomem reads version "
                    f"{FILE_VERSION}: {what_to_do}"
                )
            dim = int(data["dim"])
            ids = data["ids"]
            vectors = data["vectors"]
    except IndexBackendError:
        raise
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as exc:
        raise IndexBackendError(
            f"{p} is not a readable torch index (truncated or written by something else: {exc}); {what_to_do}"
        ) from None
    if vectors.ndim != 2 or vectors.shape != (len(ids), dim) or ids.ndim != 1:
        raise IndexBackendError(
            f"{p} is inconsistent: ids {ids.shape}, vectors {vectors.shape}, dim {dim}; {what_to_do}"
        )
    index = TorchIndex(dim, config)
    try:
        index.add(ids, vectors)
    except IndexBackendError as exc:
        raise IndexBackendError(f"{p} holds invalid entries ({exc}); {what_to_do}") from None
    return index


register_index("torch", TorchIndex)
register_loader("torch", load_torch_index)
