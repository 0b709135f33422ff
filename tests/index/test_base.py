"""The VectorIndex contract, checked on every backend (faiss_flat, faiss_ivf, torch)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from robomem.config import IndexConfig
from robomem.errors import IndexBackendError
from robomem.index.base import VectorIndex, create_index, load_index
from tests.index.helpers import clustered, exact_topk, make, unit

DIM = 16


def test_every_backend_implements_the_protocol(backend: str) -> None:
    idx = make(backend, DIM)
    assert isinstance(idx, VectorIndex)
    assert idx.dim == DIM and len(idx) == 0


def test_search_returns_nearest_ids_best_first(backend: str) -> None:
    x = clustered(300, DIM, 10, seed=1)
    ids = np.arange(300, dtype=np.int64) * 7 + 3
    idx = make(backend, DIM)
    idx.add(ids, x)
    scores, found = idx.search(x[:20], 5)
    assert scores.shape == (20, 5) and scores.dtype == np.float32
    assert found.shape == (20, 5) and found.dtype == np.int64
    np.testing.assert_array_equal(found[:, 0], ids[:20])  # each vector is its own nearest neighbour
    np.testing.assert_allclose(scores[:, 0], 1.0, atol=1e-5)
    assert np.all(np.diff(scores, axis=1) <= 1e-6)  # best first
    np.testing.assert_array_equal(found, exact_topk(ids, x, x[:20], 5))


def test_k_larger_than_index_pads_with_missing(backend: str) -> None:
    idx = make(backend, DIM)
    empty_scores, empty_ids = idx.search(unit(np.ones((2, DIM))), 3)
    assert (empty_ids == -1).all() and np.isneginf(empty_scores).all()
    idx.add(np.array([4, 9]), unit(np.eye(DIM)[:2]))
    scores, found = idx.search(unit(np.eye(DIM)[:1]), 4)
    assert found[0, 0] == 4 and found[0, 1] == 9
    assert (found[0, 2:] == -1).all() and np.isneginf(scores[0, 2:]).all()


def test_readding_an_id_replaces_its_vector(backend: str) -> None:
    e = np.eye(DIM, dtype=np.float32)
    idx = make(backend, DIM)
    idx.add(np.array([1, 2, 3]), e[:3])
    idx.add(np.array([2]), e[5:6])  # id 2 now points along axis 5
    assert len(idx) == 3
    np.testing.assert_array_equal(idx.ids(), [1, 2, 3])
    scores, found = idx.search(e[5:6], 1)
    assert found[0, 0] == 2 and scores[0, 0] == pytest.approx(1.0)
    scores, found = idx.search(e[1:2], 3)  # the old vector of id 2 (axis 1) is gone: nothing scores 1
    assert set(found[0].tolist()) == {1, 2, 3}
    np.testing.assert_allclose(scores[0], 0.0, atol=1e-6)


def test_remove_keeps_ids_and_results_in_sync(backend: str) -> None:
    rng = np.random.default_rng(3)
    x = clustered(400, DIM, 8, seed=2)
    ids = rng.permutation(10_000)[:400].astype(np.int64)
    idx = make(backend, DIM)
    idx.add(ids, x)
    gone = ids[rng.choice(400, 120, replace=False)]
    removed = idx.remove(np.concatenate([gone, [123_456_789, 987_654_321], gone[:5]]))  # unknown + repeats
    assert removed == 120
    keep = ~np.isin(ids, gone)
    assert len(idx) == 280
    np.testing.assert_array_equal(idx.ids(), np.sort(ids[keep]))
    _, found = idx.search(x, 10)
    assert not np.isin(found, gone).any()
    np.testing.assert_array_equal(found, exact_topk(ids[keep], x[keep], x, 10))
    assert idx.remove(gone) == 0


def test_random_operation_sequence_matches_reference(backend: str) -> None:
    """Interleaved adds, re-adds and removes, checked against a dict + exact numpy search after each step."""
    rng = np.random.default_rng(11)
    idx = make(backend, DIM, ivf_min_train=150, ivf_nlist=4, ivf_nprobe=4)  # IVF trains mid-way, probes all
    ref: dict[int, np.ndarray] = {}
    for step in range(12):
        new_ids = rng.choice(400, 40, replace=False).astype(np.int64)
        vecs = unit(rng.standard_normal((40, DIM)))
        idx.add(new_ids, vecs)
        ref.update(zip(new_ids.tolist(), vecs))
        drop = rng.choice(400, 15, replace=False)
        assert idx.remove(drop) == sum(int(d) in ref for d in drop)
        for d in drop.tolist():
            ref.pop(d, None)
        ref_ids = np.array(sorted(ref), dtype=np.int64)
        np.testing.assert_array_equal(idx.ids(), ref_ids, err_msg=f"step {step}")
        ref_vecs = np.stack([ref[i] for i in ref_ids.tolist()])
        queries = unit(rng.standard_normal((5, DIM)))
        _, found = idx.search(queries, 8)
        np.testing.assert_array_equal(found, exact_topk(ref_ids, ref_vecs, queries, 8), err_msg=f"step {step}")


def test_reset_empties(backend: str) -> None:
    idx = make(backend, DIM)
    idx.add(np.arange(10), clustered(10, DIM, 2, seed=0))
    idx.reset()
    assert len(idx) == 0 and idx.ids().shape == (0,)
    assert (idx.search(clustered(1, DIM, 1, seed=1), 2)[1] == -1).all()
    idx.add(np.array([5]), clustered(1, DIM, 1, seed=2))
    assert len(idx) == 1


def test_save_load_round_trip(backend: str, tmp_path: Path) -> None:
    x = clustered(500, DIM, 5, seed=4)
    ids = np.arange(500, dtype=np.int64) * 2
    cfg = IndexConfig(backend=backend, use_gpu="never", ivf_min_train=200, ivf_nlist=8, ivf_nprobe=3)
    idx = create_index(DIM, cfg)
    idx.add(ids, x)
    idx.remove(ids[:50])
    path = tmp_path / "index.bin"
    idx.save(path)
    assert path.is_file() and not list(tmp_path.glob("*.npz"))  # written to exactly the path given
    loaded = load_index(path, cfg)
    assert type(loaded) is type(idx) and loaded.dim == DIM and len(loaded) == 450
    np.testing.assert_array_equal(loaded.ids(), idx.ids())
    s0, i0 = idx.search(x[:30], 7)
    s1, i1 = loaded.search(x[:30], 7)
    np.testing.assert_array_equal(i1, i0)
    np.testing.assert_allclose(s1, s0, atol=1e-6)
    loaded.add(np.array([1]), x[:1])  # the loaded index is live
    assert len(loaded) == 451


def test_load_rejects_missing_truncated_and_foreign_files(backend: str, tmp_path: Path) -> None:
    cfg = IndexConfig(backend=backend, use_gpu="never")
    with pytest.raises(IndexBackendError, match="does not exist"):
        load_index(tmp_path / "nope.bin", cfg)
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(b"this is not an index at all" * 10)
    with pytest.raises(IndexBackendError, match="rebuild"):
        load_index(garbage, cfg)
    idx = create_index(DIM, cfg)
    idx.add(np.arange(100), clustered(100, DIM, 3, seed=5))
    good = tmp_path / "good.bin"
    idx.save(good)
    data = good.read_bytes()
    truncated = tmp_path / "truncated.bin"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(IndexBackendError, match="rebuild"):
        load_index(truncated, cfg)
    other = "torch" if backend != "torch" else "faiss_flat"
    with pytest.raises(IndexBackendError, match="backend"):
        load_index(good, IndexConfig(backend=other, use_gpu="never"))


def test_bad_input_is_rejected_and_changes_nothing(backend: str) -> None:
    idx = make(backend, DIM)
    x = clustered(5, DIM, 1, seed=6)
    idx.add(np.arange(5), x)
    cases: list[tuple[object, object, str]] = [
        (np.arange(5), clustered(5, DIM + 1, 1, seed=0), "dimension 17"),
        (np.arange(5), x[:4], "5 ids but 4 vectors"),
        (np.arange(5, dtype=np.float64), x, "integers"),
        (np.array([1, 2, 2, 3, 4]), x, "repeat"),
        (np.array([1, 2, -1, 3, 4]), x, "-1"),
        (np.arange(5), np.where(np.arange(DIM) == 3, np.nan, x), "NaN"),
        (np.arange(5), np.full((5, DIM), np.inf), "infinite"),
        (np.arange(1), x[0], "2-D"),
        (np.arange(5)[:, None], x, "1-D"),
        (np.arange(5), x.astype(str), "float"),
    ]
    for ids, vecs, msg in cases:
        with pytest.raises(IndexBackendError, match=msg):
            idx.add(ids, vecs)  # type: ignore[arg-type]
    assert len(idx) == 5
    np.testing.assert_array_equal(idx.ids(), np.arange(5))
    for k in (0, -3, 2.5, True):
        with pytest.raises(IndexBackendError, match="k must"):
            idx.search(x, k)  # type: ignore[arg-type]
    with pytest.raises(IndexBackendError, match="dimension 8"):
        idx.search(np.ones((1, 8), np.float32), 1)
    with pytest.raises(IndexBackendError, match="integers"):
        idx.remove(np.array([1.0]))
    np.testing.assert_array_equal(idx.search(x, 1)[1][:, 0], np.arange(5))


def test_accepts_other_int_and_float_dtypes(backend: str) -> None:
    idx = make(backend, DIM)
    x = clustered(4, DIM, 1, seed=7)
    idx.add(np.arange(4, dtype=np.int32), x.astype(np.float64))
    idx.add(np.array([10], dtype=np.uint16), x[:1].astype(np.float16))
    np.testing.assert_array_equal(idx.ids(), [0, 1, 2, 3, 10])
    idx.add(np.zeros(0, dtype=np.int64), np.zeros((0, DIM), np.float32))  # empty add is a no-op
    assert len(idx) == 5
    assert idx.search(np.zeros((0, DIM), np.float32), 3)[1].shape == (0, 3)


def test_unknown_backend_and_bad_dim() -> None:
    with pytest.raises(IndexBackendError, match="unknown index backend 'annoy'.*faiss_flat"):
        create_index(DIM, IndexConfig(backend="annoy"))
    with pytest.raises(IndexBackendError, match="unknown index backend"):
        load_index(Path("x"), IndexConfig(backend="annoy"))
    with pytest.raises(IndexBackendError, match="positive integer"):
        create_index(0, IndexConfig(backend="faiss_flat", use_gpu="never"))
