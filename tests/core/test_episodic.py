"""Episodic keyframe store: novelty filtering, lazy embedding, eviction, retrieval, persistence."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

import numpy as np
import pytest

from robomem.config import EpisodicConfig
from robomem.core.episodic import KeyframeStore
from robomem.errors import FrameError, MemoryStateError, PersistenceError, QueryError

CFG = EpisodicConfig(min_translation=0.5, min_rotation=0.5, max_similarity=0.95, thumbnail_width=32,
                     max_keyframes=1000)
RNG = np.random.default_rng(0)
RGB = RNG.integers(0, 255, size=(48, 64, 3), dtype=np.uint8)


def pose(x: float = 0.0, y: float = 0.0, z: float = 1.0, yaw: float = 0.0) -> np.ndarray:
    c, s = np.cos(yaw), np.sin(yaw)
    T = np.eye(4)
    T[:3, :3] = [[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]
    T[:3, 3] = (x, y, z)
    return T


class CountingEmbed:
    """An ``embed`` callable that counts its calls and returns a fixed vector (or None)."""

    def __init__(self, vector: Optional[np.ndarray]) -> None:
        self.vector = vector
        self.calls = 0

    def __call__(self) -> Optional[np.ndarray]:
        self.calls += 1
        return self.vector


def no_embed() -> Optional[np.ndarray]:
    raise AssertionError("embed must not be called here")


def unit(*v: float) -> np.ndarray:
    a = np.asarray(v, dtype=np.float32)
    return a / np.linalg.norm(a)


def test_static_camera_keeps_one_keyframe_and_never_embeds() -> None:
    store = KeyframeStore(CFG)
    embed = CountingEmbed(unit(1, 0, 0))
    ids = [store.consider(t, pose(), RGB, {1, 2}, embed) for t in range(1000)]
    assert ids[0] == 0 and all(i is None for i in ids[1:])
    assert len(store) == 1
    assert embed.calls == 0  # novel by pose, then redundant against a keyframe without embedding
    kf = store.get(0)
    assert kf.stamp_ns == 0 and kf.last_confirmed_ns == 999
    assert kf.embedding is None and kf.visible_instance_ids == frozenset({1, 2})


def test_static_camera_with_embeddings_compares_them() -> None:
    store = KeyframeStore(CFG)
    embed = CountingEmbed(unit(1, 2, 3))
    for t in range(50):
        store.consider(t, pose(), RGB, {1}, embed, embed_when_novel=True)
    assert len(store) == 1
    assert embed.calls == 50  # once to store, then once per frame to compare with the stored embedding
    emb = store.get(0).embedding
    assert emb is not None and emb.dtype == np.float16 and emb.shape == (3,)
    assert np.isclose(np.linalg.norm(emb.astype(np.float32)), 1.0, atol=1e-3)


def test_moving_camera_adds_keyframes() -> None:
    store = KeyframeStore(CFG)
    for i in range(50):
        store.consider(i, pose(x=0.2 * i), RGB, {1}, no_embed)
    xs = [kf.world_T_camera[0, 3] for kf in store.all()]
    # a new keyframe once the camera is more than 0.5 m from the last one: every third frame
    assert np.allclose(xs, np.arange(0.0, 9.9, 0.6))
    # turning in place: a new keyframe once the heading differs by more than 0.5 rad
    store2 = KeyframeStore(CFG)
    for i in range(20):
        store2.consider(i, pose(yaw=0.3 * i), RGB, {1}, no_embed)
    assert [kf.stamp_ns for kf in store2.all()][:4] == [0, 2, 4, 6]
    assert len(store2) >= 10


def test_revisiting_a_pose_adds_nothing() -> None:
    store = KeyframeStore(CFG)
    path = [0.25 * i for i in range(21)]
    t = 0
    for x in path:
        store.consider(t, pose(x=x), RGB, {int(x)}, no_embed)
        t += 1
    n = len(store)
    for x in reversed(path):  # come back along the same path, seeing the same things
        assert store.consider(t, pose(x=x, yaw=0.1), RGB, {int(x)}, no_embed) is None
        t += 1
    assert len(store) == n
    assert max(kf.last_confirmed_ns for kf in store.all()) == t - 1


def test_changed_visible_set_makes_a_new_keyframe() -> None:
    store = KeyframeStore(CFG)
    assert store.consider(0, pose(), RGB, {1, 2, 3, 4, 5}, no_embed) == 0
    # Jaccard 4/5 = 0.8 counts as the same view
    assert store.consider(1, pose(), RGB, {1, 2, 3, 4}, no_embed) is None
    # Jaccard 3/5 = 0.6: something changed there -> new keyframe at the same pose
    assert store.consider(2, pose(), RGB, {1, 2, 3}, no_embed) == 1
    # an empty view at the same pose is new too; a second empty view is not
    assert store.consider(3, pose(), RGB, set(), no_embed) == 2
    assert store.consider(4, pose(), RGB, [], no_embed) is None
    assert len(store) == 3


def test_embedding_decides_only_when_pose_and_instances_match() -> None:
    store = KeyframeStore(CFG)
    a = CountingEmbed(unit(1, 0, 0))
    assert store.consider(0, pose(), RGB, {1}, a, embed_when_novel=True) == 0
    # clearly novel pose: not called (even with embed_when_novel=False)
    far = CountingEmbed(unit(0, 1, 0))
    assert store.consider(1, pose(x=5.0), RGB, {1}, far) == 1
    assert far.calls == 0 and store.get(1).embedding is None
    # same pose and instances, matched keyframe has an embedding: compared; similar -> redundant
    similar = CountingEmbed(unit(1, 0.1, 0))  # cos 0.995
    assert store.consider(2, pose(x=0.1), RGB, {1}, similar) is None
    assert similar.calls == 1 and store.get(0).last_confirmed_ns == 2
    # same pose and instances but a different-looking image -> novel, stored with the embedding computed
    different = CountingEmbed(unit(0, 0, 1))
    assert store.consider(3, pose(x=0.1), RGB, {1}, different) == 2
    assert different.calls == 1
    emb = store.get(2).embedding
    assert emb is not None and np.allclose(emb.astype(np.float32), [0, 0, 1], atol=1e-3)
    # embed returns None: nothing to compare, the pose/instance match decides (redundant)
    none = CountingEmbed(None)
    assert store.consider(4, pose(x=0.1), RGB, {1}, none) is None
    assert none.calls == 1
    # redundant against a keyframe without embedding: not called
    assert store.consider(5, pose(x=5.1), RGB, {1}, no_embed) is None


def test_novelty_matches_brute_force_reference() -> None:
    """The spatial hash must decide exactly like a scan over every stored keyframe."""
    store = KeyframeStore(EpisodicConfig(min_translation=0.5, min_rotation=0.6, thumbnail_width=8))
    rng = np.random.default_rng(3)
    rgb = np.zeros((6, 8, 3), dtype=np.uint8)
    for t in range(250):
        x, y = rng.uniform(-3, 3, size=2)
        yaw = rng.uniform(-np.pi, np.pi)
        visible = set(rng.choice(4, size=rng.integers(0, 3), replace=False).tolist())
        T = pose(x, y, 1.0, yaw)
        expected_novel = True
        for kf in store.all():
            dist = np.linalg.norm(kf.world_T_camera[:3, 3] - T[:3, 3])
            cos = (np.trace(kf.world_T_camera[:3, :3].T @ T[:3, :3]) - 1) / 2
            ang = np.arccos(np.clip(cos, -1, 1))
            seen = kf.visible_instance_ids
            jac = 1.0 if not seen and not visible else len(seen & visible) / len(seen | visible)
            if dist <= 0.5 and ang <= 0.6 and jac >= 0.8:
                expected_novel = False
                break
        got = store.consider(t, T, rgb, visible, no_embed)
        assert (got is not None) == expected_novel, t
    assert 50 < len(store) < 250


def test_eviction_drops_the_most_redundant_keyframe() -> None:
    store = KeyframeStore(EpisodicConfig(min_translation=0.5, min_rotation=0.5, max_keyframes=3))
    a = store.consider(1, pose(x=0.0), RGB, {1}, no_embed)
    b = store.consider(2, pose(x=0.6), RGB, {1}, no_embed)  # near a: these two cover each other
    c = store.consider(3, pose(x=10.0), RGB, {2}, no_embed)
    assert store.consider(4, pose(x=0.0), RGB, {1}, no_embed) is None  # a is re-confirmed at t=4
    d = store.consider(5, pose(x=20.0), RGB, {3}, no_embed)
    assert len(store) == 3
    # a or b had to go (each is the other's near duplicate); b was confirmed least recently
    assert sorted(k.keyframe_id for k in store.all()) == sorted([a, c, d])
    with pytest.raises(MemoryStateError, match="not in the store"):
        store.get(b)
    # now nothing has a neighbour: the least recently confirmed (c, t=3) goes, never the new one
    e = store.consider(6, pose(x=30.0), RGB, {4}, no_embed)
    assert [k.keyframe_id for k in store.all()] == [a, d, e]
    assert store.with_instance(2) == []
    # the freed slots are reused and the spatial hash stays right
    assert store.consider(7, pose(x=10.0), RGB, {2}, no_embed) is not None
    assert store.consider(8, pose(x=30.1), RGB, {4}, no_embed) is None


def test_with_instance_relabel_and_time_range() -> None:
    store = KeyframeStore(CFG)
    for t, x in enumerate([0.0, 2.0, 4.0, 6.0]):
        store.consider(t * 10, pose(x=x), RGB, {7} if t != 2 else {8}, no_embed)
    assert [k.stamp_ns for k in store.with_instance(7)] == [30, 10, 0]
    assert store.with_instance(99) == []
    store.relabel_instance(8, 7)
    assert [k.stamp_ns for k in store.with_instance(7)] == [30, 20, 10, 0]
    assert store.with_instance(8) == []
    assert store.get(2).visible_instance_ids == frozenset({7})
    assert [k.stamp_ns for k in store.in_time_range(5, 25)] == [10, 20]
    with pytest.raises(QueryError, match="t1_ns"):
        store.in_time_range(30, 0)


def test_search_embedding() -> None:
    store = KeyframeStore(CFG)
    vecs = {0.0: unit(1, 0, 0, 0), 2.0: unit(0, 1, 0, 0), 4.0: unit(0, 0, 1, 0)}
    ids = {x: store.consider(int(x), pose(x=x), RGB, set(), CountingEmbed(v), embed_when_novel=True)
           for x, v in vecs.items()}
    store.consider(9, pose(x=8.0), RGB, set(), no_embed)  # no embedding: never returned
    hits = store.search_embedding(np.array([0.1, 2.0, 0.0, 0.0]), k=2)
    assert [h[0] for h in hits] == [ids[2.0], ids[0.0]]
    assert hits[0][1] == pytest.approx(2.0 / np.sqrt(4.01), abs=1e-3)
    assert len(store.search_embedding(unit(1, 1, 1, 1), k=10)) == 3
    with pytest.raises(QueryError, match="k must"):
        store.search_embedding(unit(1, 0, 0, 0), k=0)
    with pytest.raises(QueryError, match="dimension 3"):
        store.search_embedding(unit(1, 0, 0), k=1)
    with pytest.raises(MemoryStateError, match="dimension 5"):
        store.consider(10, pose(x=20.0), RGB, set(), CountingEmbed(unit(1, 0, 0, 0, 0)),
                       embed_when_novel=True)
    assert KeyframeStore(CFG).search_embedding(unit(1, 0), k=3) == []


def test_thumbnail_keeps_aspect_and_never_upscales() -> None:
    store = KeyframeStore(CFG)  # thumbnail_width 32
    store.consider(0, pose(), RGB, set(), no_embed)
    thumb = store.get(0).thumbnail
    assert thumb.shape == (24, 32, 3) and thumb.dtype == np.uint8
    big = KeyframeStore(EpisodicConfig(thumbnail_width=96))
    big.consider(0, pose(), RGB, set(), no_embed)
    assert np.array_equal(big.get(0).thumbnail, RGB)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"world_T_camera": np.eye(3)}, "4x4"),
        ({"world_T_camera": np.full((4, 4), np.nan)}, "NaN"),
        ({"world_T_camera": np.diag([2.0, 1.0, 1.0, 1.0])}, "rotation"),
        ({"rgb": RGB.astype(np.float32)}, "uint8"),
        ({"rgb": RGB[:, :, 0]}, "uint8"),
        ({"stamp_ns": 1.5}, "integer"),
        ({"visible_instance_ids": {"mug"}}, "integers"),
    ],
)
def test_bad_input_is_rejected_and_stores_nothing(kwargs: dict, message: str) -> None:
    store = KeyframeStore(CFG)
    args: dict = {"stamp_ns": 0, "world_T_camera": pose(), "rgb": RGB, "visible_instance_ids": {1},
                  "embed": no_embed}
    args.update(kwargs)
    with pytest.raises(FrameError, match=message):
        store.consider(**args)
    assert len(store) == 0


def _filled_store() -> KeyframeStore:
    store = KeyframeStore(CFG)
    rng = np.random.default_rng(1)
    for t in range(12):
        rgb = rng.integers(0, 255, size=(48 + 2 * t, 64, 3), dtype=np.uint8)
        vec: Callable[[], Optional[np.ndarray]] = CountingEmbed(rng.normal(size=8) if t % 3 else None)
        T = pose(x=float(t), yaw=0.1 * t)
        store.consider(t * 100, T, rgb, set(range(t % 4)), vec, embed_when_novel=True)
    store.consider(1_250, pose(x=3.0, yaw=0.3), RGB, set(range(3)), no_embed)  # confirms keyframe 3
    return store


def test_state_round_trip_through_npz(tmp_path: Path) -> None:
    store = _filled_store()
    path = tmp_path / "keyframes.npz"
    np.savez(path, **store.state_dict())
    with np.load(path, allow_pickle=False) as npz:
        loaded = KeyframeStore.from_state_dict(CFG, {k: npz[k] for k in npz.files})
    assert len(loaded) == len(store) == 12
    for a, b in zip(store.all(), loaded.all(), strict=True):
        assert a.keyframe_id == b.keyframe_id and a.stamp_ns == b.stamp_ns
        assert a.last_confirmed_ns == b.last_confirmed_ns
        assert np.array_equal(a.world_T_camera, b.world_T_camera)
        assert np.array_equal(a.thumbnail, b.thumbnail)
        assert a.visible_instance_ids == b.visible_instance_ids
        assert (a.embedding is None) == (b.embedding is None)
        if a.embedding is not None and b.embedding is not None:
            assert np.array_equal(a.embedding, b.embedding)
    assert loaded.get(3).last_confirmed_ns == 1_250
    q = np.random.default_rng(5).normal(size=8)
    assert loaded.search_embedding(q, 4) == store.search_embedding(q, 4)
    # the loaded store keeps deciding novelty (spatial hash rebuilt) and keeps allocating fresh ids
    assert loaded.consider(2_000, pose(x=3.1, yaw=0.3), RGB, set(range(3)), no_embed) is None
    assert loaded.get(3).last_confirmed_ns == 2_000
    kf5 = loaded.get(5)
    assert kf5.embedding is not None
    same_look = CountingEmbed(kf5.embedding.astype(np.float32))
    assert loaded.consider(2_000, pose(x=5.0, yaw=0.5), RGB, set(range(1)), same_look) is None
    assert same_look.calls == 1 and loaded.get(5).last_confirmed_ns == 2_000
    assert loaded.consider(2_001, pose(x=50.0), RGB, set(), no_embed) == 12
    # an empty store round-trips too
    empty = KeyframeStore.from_state_dict(CFG, KeyframeStore(CFG).state_dict())
    assert len(empty) == 0


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda s: s.pop("thumbnails"), r"missing array\(s\) \['thumbnails'\]"),
        (lambda s: s.update(version=np.array(7)), "version 7"),
        (lambda s: s.update(stamps_ns=s["stamps_ns"][:-1]), "stamps_ns"),
        (lambda s: s.update(stamps_ns=s["stamps_ns"].astype(np.float64)), "stamps_ns"),
        (lambda s: s.update(world_T_camera=s["world_T_camera"][:, :3]), "world_T_camera"),
        (lambda s: s.update(thumbnails=s["thumbnails"][:-5]), "thumb_offsets"),
        (lambda s: s.update(thumb_shapes=s["thumb_shapes"] + 1), "thumb_shapes"),
        (lambda s: s.update(visible_offsets=s["visible_offsets"][::-1].copy()), "visible_offsets"),
        (lambda s: s.update(keyframe_ids=np.zeros_like(s["keyframe_ids"])), "not unique"),
        (lambda s: s.update(next_id=np.array(3)), "next_id"),
        (lambda s: s.update(has_embedding=s["has_embedding"].astype(np.int8)), "has_embedding"),
        (lambda s: s["world_T_camera"].__setitem__((0, 0, 0), 5.0), "rotation"),
        (lambda s: s["embeddings"].__setitem__(1, 0.0), "all zeros"),
    ],
)
def test_from_state_dict_rejects_malformed(mutate: Callable[[dict], object], message: str) -> None:
    state = {k: v.copy() for k, v in _filled_store().state_dict().items()}
    assert state["has_embedding"][1]
    mutate(state)
    with pytest.raises(PersistenceError, match=message):
        KeyframeStore.from_state_dict(CFG, state)


def test_from_state_dict_rejects_more_than_max_keyframes() -> None:
    state = _filled_store().state_dict()
    with pytest.raises(PersistenceError, match="max_keyframes"):
        KeyframeStore.from_state_dict(EpisodicConfig(max_keyframes=5), state)
