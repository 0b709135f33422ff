"""torch brute-force reference: blocked search, storage growth/compaction, device selection, files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from robomem.config import IndexConfig
from robomem.errors import IndexBackendError
from robomem.index import torch_index
from robomem.index.base import create_index, load_index
from robomem.index.torch_index import TorchIndex
from tests.index.helpers import clustered, exact_topk, make

DIM = 24


def test_blocked_search_matches_numpy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch_index, "SEARCH_BLOCK", 7)  # many blocks, some smaller than k
    x = clustered(200, DIM, 5, seed=0)
    ids = np.arange(200, dtype=np.int64)[::-1].copy()
    idx = make("torch", DIM)
    idx.add(ids, x)
    q = clustered(9, DIM, 5, seed=1)
    scores, found = idx.search(q, 12)
    np.testing.assert_array_equal(found, exact_topk(ids, x, q, 12))
    np.testing.assert_allclose(scores, np.sort(q @ x.T, axis=1)[:, ::-1][:, :12], atol=1e-5)


def test_growth_and_swap_removal_keep_rows_consistent() -> None:
    idx = make("torch", DIM)
    assert isinstance(idx, TorchIndex)
    x = clustered(3000, DIM, 10, seed=2)
    for start in range(0, 3000, 500):  # grows past the initial capacity several times
        idx.add(np.arange(start, start + 500), x[start : start + 500])
    assert idx.remove(np.arange(0, 3000, 2)) == 1500
    ids, vecs = idx.vectors()
    assert len(ids) == 1500 and set(ids.tolist()) == set(range(1, 3000, 2))
    np.testing.assert_allclose(vecs, x[ids], atol=0)  # every row still holds its own id's vector
    assert all(idx._rows[i] == r for r, i in enumerate(ids.tolist()))


def test_device_selection() -> None:
    assert make("torch", DIM).device == torch.device("cpu")  # type: ignore[attr-defined]
    if not torch.cuda.is_available():
        idx = create_index(DIM, IndexConfig(backend="torch", use_gpu="auto"))
        assert isinstance(idx, TorchIndex) and idx.device.type == "cpu"
        with pytest.raises(IndexBackendError, match="no CUDA device.*use_gpu to 'auto' or 'never'"):
            create_index(DIM, IndexConfig(backend="torch", use_gpu="always"))


def test_file_is_an_npz_with_format_tag(tmp_path: Path) -> None:
    idx = make("torch", DIM)
    idx.add(np.array([3, 1]), clustered(2, DIM, 1, seed=3))
    idx.save(tmp_path / "t.idx")
    with np.load(tmp_path / "t.idx") as data:
        assert str(data["format"]) == torch_index.FILE_FORMAT
        assert sorted(data["ids"].tolist()) == [1, 3]
    np.savez(tmp_path / "other.npz", a=np.zeros(3))
    with pytest.raises(IndexBackendError, match="no format tag"):
        load_index(tmp_path / "other.npz", IndexConfig(backend="torch"))
    np.savez(
        tmp_path / "bad.npz", format=np.array(torch_index.FILE_FORMAT), version=np.array(1), dim=np.array(DIM),
        ids=np.arange(3), vectors=np.zeros((2, DIM), np.float32),
    )
    with pytest.raises(IndexBackendError, match="inconsistent"):
        load_index(tmp_path / "bad.npz", IndexConfig(backend="torch"))
    np.savez(
        tmp_path / "v2.npz", format=np.array(torch_index.FILE_FORMAT), version=np.array(2), dim=np.array(DIM),
        ids=np.arange(2), vectors=np.zeros((2, DIM), np.float32),
    )
    with pytest.raises(IndexBackendError, match="version 2"):
        load_index(tmp_path / "v2.npz", IndexConfig(backend="torch"))
