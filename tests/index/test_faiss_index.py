"""FAISS backends: recall against the torch reference, IVF training, GPU selection, FAISS file checks."""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np
import pytest

from robomem.config import IndexConfig
from robomem.errors import IndexBackendError
from robomem.index.base import create_index, load_index
from robomem.index.faiss_index import FaissFlatIndex, FaissIVFIndex, _ivf_ids, faiss_gpu_available
from robomem.index.torch_index import TorchIndex
from tests.index.helpers import clustered, make, recall_at_k

DIM = 32
no_gpu = pytest.mark.skipif(faiss_gpu_available(), reason="checks the behaviour on a machine without a GPU")


def _reference(ids: np.ndarray, x: np.ndarray) -> TorchIndex:
    ref = make("torch", DIM)
    ref.add(ids, x)
    assert isinstance(ref, TorchIndex)
    return ref


def test_flat_is_exact_against_torch_reference() -> None:
    x = clustered(3000, DIM, 30, seed=0)
    q = clustered(50, DIM, 30, seed=1)
    ids = np.random.default_rng(0).permutation(1_000_000)[:3000].astype(np.int64)
    flat = make("faiss_flat", DIM)
    flat.add(ids, x)
    s_ref, i_ref = _reference(ids, x).search(q, 10)
    s, i = flat.search(q, 10)
    assert recall_at_k(i, i_ref) == 1.0
    np.testing.assert_allclose(s, s_ref, atol=1e-5)


def test_ivf_recall_at_10_vs_torch_reference() -> None:
    n = 8000
    data = clustered(n + 100, DIM, 60, seed=2, spread=1.0)  # queries come from the same clusters
    x, q = data[:n], data[n:]
    ids = np.arange(n, dtype=np.int64) + 10_000
    ivf = make("faiss_ivf", DIM, ivf_min_train=2000, ivf_nlist=64, ivf_nprobe=8)
    assert isinstance(ivf, FaissIVFIndex)
    for start in range(0, n, 1000):  # incremental, as the memory adds: trains when 2000 are stored
        ivf.add(ids[start : start + 1000], x[start : start + 1000])
    assert ivf.is_trained and ivf.nlist == 2000 // 39 and ivf.nprobe == 8  # trained on the first 2000
    _, i_ref = _reference(ids, x).search(q, 10)
    _, i = ivf.search(q, 10)
    assert recall_at_k(i, i_ref) >= 0.95
    ivf.set_nprobe(1)  # one cell: really approximate (the IVF path answers, not an exact fallback)
    assert recall_at_k(ivf.search(q, 10)[1], i_ref) < 1.0
    ivf.set_nprobe(1000)  # clipped to nlist: probing every cell is exhaustive
    assert ivf.nprobe == ivf.nlist
    assert recall_at_k(ivf.search(q, 10)[1], i_ref) == 1.0


def test_ivf_is_exact_until_min_train_then_trains_with_nlist_rule() -> None:
    x = clustered(1200, DIM, 10, seed=4)
    ids = np.arange(1200, dtype=np.int64)
    ivf = make("faiss_ivf", DIM, ivf_min_train=1000, ivf_nlist=1024, ivf_nprobe=4)
    assert isinstance(ivf, FaissIVFIndex)
    ivf.add(ids[:999], x[:999])
    assert not ivf.is_trained and ivf.nlist == 0
    _, i_ref = _reference(ids[:999], x[:999]).search(x[:20], 10)
    assert recall_at_k(ivf.search(x[:20], 10)[1], i_ref) == 1.0
    ivf.add(ids[999:], x[999:])  # crosses ivf_min_train
    assert ivf.is_trained
    assert ivf.nlist == 1200 // 39  # min(ivf_nlist, n // 39)
    assert len(ivf) == 1200
    stored = _ivf_ids(ivf._ivf)
    np.testing.assert_array_equal(np.sort(stored), ids)  # every vector moved over, with its id
    ivf.remove(ids[:100])
    np.testing.assert_array_equal(np.sort(_ivf_ids(ivf._ivf)), ids[100:])
    ivf.reset()
    assert not ivf.is_trained and len(ivf) == 0


def test_ivf_readd_replaces_after_training() -> None:
    x = clustered(600, DIM, 6, seed=5)
    ivf = make("faiss_ivf", DIM, ivf_min_train=500, ivf_nlist=8, ivf_nprobe=8)
    ivf.add(np.arange(600), x)
    ivf.add(np.array([7]), x[300:301])
    assert len(ivf) == 600
    _, found = ivf.search(x[300:301], 2)
    assert set(found[0].tolist()) == {7, 300}
    _, found = ivf.search(x[7:8], 1)
    assert found[0, 0] != 7


def test_flat_id_map_stays_in_sync_with_ids() -> None:
    flat = make("faiss_flat", DIM)
    assert isinstance(flat, FaissFlatIndex)
    flat.add(np.arange(50), clustered(50, DIM, 2, seed=6))
    flat.remove(np.arange(0, 50, 3))
    flat.add(np.array([4, 100]), clustered(2, DIM, 1, seed=7))
    id_map = np.sort(faiss.vector_to_array(flat._index.id_map))
    np.testing.assert_array_equal(id_map, flat.ids())
    assert flat._index.ntotal == len(flat)


@pytest.mark.parametrize("trained", [False, True])
def test_ivf_save_load_keeps_phase_and_uses_config_nprobe(tmp_path: Path, trained: bool) -> None:
    n = 800 if trained else 300
    x = clustered(n, DIM, 8, seed=8)
    cfg = IndexConfig(backend="faiss_ivf", use_gpu="never", ivf_min_train=500, ivf_nlist=16, ivf_nprobe=2)
    ivf = create_index(DIM, cfg)
    ivf.add(np.arange(n), x)
    ivf.save(tmp_path / "ivf.faiss")
    loaded = load_index(tmp_path / "ivf.faiss", IndexConfig(**{**cfg.__dict__, "ivf_nprobe": 5}))
    assert isinstance(loaded, FaissIVFIndex)
    assert loaded.is_trained == trained
    assert loaded.nprobe == (5 if trained else 0)
    np.testing.assert_array_equal(loaded.ids(), np.arange(n))


def test_loading_a_foreign_faiss_index_type_is_rejected(tmp_path: Path) -> None:
    l2 = faiss.IndexIDMap2(faiss.IndexFlatL2(DIM))  # a FAISS index, but L2 not inner product
    l2.add_with_ids(clustered(10, DIM, 1, seed=9), np.arange(10, dtype=np.int64))
    faiss.write_index(l2, str(tmp_path / "l2.faiss"))
    for backend in ("faiss_flat", "faiss_ivf"):
        with pytest.raises(IndexBackendError, match="IndexIDMap2 index, not a"):
            load_index(tmp_path / "l2.faiss", IndexConfig(backend=backend, use_gpu="never"))
    ivf = make("faiss_ivf", DIM, ivf_min_train=100, ivf_nlist=2)
    ivf.add(np.arange(200), clustered(200, DIM, 2, seed=10))
    ivf.save(tmp_path / "ivf.faiss")
    with pytest.raises(IndexBackendError, match="load it with the index.backend that wrote it"):
        load_index(tmp_path / "ivf.faiss", IndexConfig(backend="faiss_flat", use_gpu="never"))


def test_save_into_missing_directory_is_a_clear_error(tmp_path: Path) -> None:
    flat = make("faiss_flat", DIM)
    with pytest.raises(IndexBackendError, match="directory exists"):
        flat.save(tmp_path / "no" / "such" / "dir" / "x.faiss")


def test_config_sets_blas_threshold() -> None:
    create_index(DIM, IndexConfig(backend="faiss_flat", use_gpu="never", blas_threshold=7))
    assert faiss.cvar.distance_compute_blas_threshold == 7
    create_index(DIM, IndexConfig(backend="faiss_flat", use_gpu="never"))
    assert faiss.cvar.distance_compute_blas_threshold == IndexConfig().blas_threshold


@no_gpu
@pytest.mark.parametrize("backend", ["faiss_flat", "faiss_ivf"])
def test_gpu_always_without_gpu_is_a_clear_error(backend: str) -> None:
    with pytest.raises(IndexBackendError, match="use_gpu is 'always'.*set index.use_gpu to"):
        create_index(DIM, IndexConfig(backend=backend, use_gpu="always"))


@no_gpu
@pytest.mark.parametrize("backend", ["faiss_flat", "faiss_ivf"])
def test_gpu_auto_without_gpu_searches_on_cpu(backend: str) -> None:
    idx = create_index(DIM, IndexConfig(backend=backend, use_gpu="auto"))
    assert isinstance(idx, (FaissFlatIndex, FaissIVFIndex))
    assert not idx.on_gpu
    x = clustered(20, DIM, 2, seed=11)
    idx.add(np.arange(20), x)
    np.testing.assert_array_equal(idx.search(x, 1)[1][:, 0], np.arange(20))


def test_set_nprobe_validates() -> None:
    ivf = make("faiss_ivf", DIM)
    assert isinstance(ivf, FaissIVFIndex)
    with pytest.raises(IndexBackendError, match="nprobe"):
        ivf.set_nprobe(0)
