"""Episodic keyframe store: a sparse set of past views the robot can be sent back to or shown to a planner.

A frame becomes a keyframe only when it is *novel* (:meth:`KeyframeStore.consider`): no stored keyframe lies
within ``EpisodicConfig.min_translation`` metres and ``min_rotation`` radians (geodesic angle between the two
camera rotations) that saw the same instances (Jaccard similarity of the visible-instance sets
>= :data:`SAME_VIEW_JACCARD`; two empty sets are the same) with an image embedding of cosine similarity
>= ``max_similarity``. Embeddings are compared only when both views have one; the ``embed`` callable is
invoked only when the pose and instance tests leave the decision open, because it is expensive.

Neighbouring keyframes are found with a spatial hash (cubic cells of edge ``min_translation``, 27-cell
neighbourhood) and numpy over the candidates' poses, never a Python scan of every keyframe.

Eviction at ``max_keyframes``: every keyframe keeps a *redundancy cost*, the smallest view distance to another
keyframe in its spatial-hash neighbourhood, where the view distance between keyframes a and b is::

    |t_a - t_b| / min_translation + angle(R_a, R_b) / min_rotation + (1 - jaccard(a, b)) [+ (1 - cos(a, b))]

(the last term only when both have an embedding). A keyframe with no neighbour has cost +inf. The keyframe
with the smallest cost (the one another keyframe best replaces, so its removal loses least) is evicted; ties
(e.g. all +inf) go to the one confirmed least recently (smallest ``last_confirmed_ns``). The keyframe just
added is never the one evicted. Costs of the neighbours are updated on every insertion and eviction.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, replace
from typing import Callable, Iterable, Optional

import numpy as np

from robomem.config import EpisodicConfig
from robomem.core.episodic_checks import (
    _check_ids,
    _check_pose,
    _check_rgb,
    _check_stamp,
    _int_array,
    _offsets,
    _resized,
    _scalar_int,
    _thumbnail,
)
from robomem.errors import FrameError, MemoryStateError, PersistenceError, QueryError

log = logging.getLogger(__name__)

SAME_VIEW_JACCARD = 0.8
"""Two visible-instance sets with Jaccard similarity at least this are "the same instances"."""

FORMAT_VERSION = 1
"""Version of the :meth:`KeyframeStore.state_dict` layout."""

_NEIGHBOUR_OFFSETS = np.array(
    [(dx, dy, dz) for dx in (-1, 0, 1) for dy in (-1, 0, 1) for dz in (-1, 0, 1)], dtype=np.int64
)


@dataclass(frozen=True, eq=False)
class Keyframe:
    """One stored view.

    Attributes:
        keyframe_id: stable id, never reused within one store.
        stamp_ns: time the view was captured.
        world_T_camera: 4x4 float64 pose of the optical camera frame in the world frame.
        embedding: (D,) float16 unit image embedding, or None when none was computed.
        thumbnail: (h, w, 3) uint8 RGB, ``w = min(image width, thumbnail_width)``, aspect kept.
        visible_instance_ids: instance ids visible in the view.
        last_confirmed_ns: latest time a redundant frame re-confirmed this view (``stamp_ns`` at first).
    """

    keyframe_id: int
    stamp_ns: int
    world_T_camera: np.ndarray  # noqa: N815 (frame-explicit name, project convention)
    embedding: Optional[np.ndarray]
    thumbnail: np.ndarray
    visible_instance_ids: frozenset[int]
    last_confirmed_ns: int


def _jaccard(a: frozenset[int], b: frozenset[int]) -> float:
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


class KeyframeStore:
    """Novelty-filtered keyframes with a spatial hash over camera positions (see module doc)."""

    def __init__(self, config: EpisodicConfig) -> None:
        config.validate()
        self.config = config
        self._cell = float(config.min_translation)
        cap = 64
        self._pos = np.zeros((cap, 3), dtype=np.float64)
        self._rot = np.zeros((cap, 3, 3), dtype=np.float64)
        self._emb: Optional[np.ndarray] = None  # (cap, D) float32 copy of the float16 unit embeddings
        self._has_emb = np.zeros(cap, dtype=bool)
        self._alive = np.zeros(cap, dtype=bool)
        self._slot_id = np.full(cap, -1, dtype=np.int64)
        self._cost = np.full(cap, np.inf, dtype=np.float64)
        self._confirmed = np.zeros(cap, dtype=np.int64)
        self._free: list[int] = []
        self._n_slots = 0  # slots ever handed out (high-water mark)
        self._kf: dict[int, Keyframe] = {}
        self._slot_of: dict[int, int] = {}
        self._cells: dict[tuple[int, int, int], set[int]] = {}
        self._by_instance: dict[int, set[int]] = {}
        self._dim: Optional[int] = None
        self._next_id = 0

    # ------------------------------------------------------------------------------------------ novelty

    def consider(
        self,
        stamp_ns: int,
        world_T_camera: np.ndarray,
        rgb: np.ndarray,
        visible_instance_ids: Iterable[int],
        embed: Callable[[], Optional[np.ndarray]],
        *,
        embed_when_novel: bool = False,
    ) -> Optional[int]:
        """Store the view if it is novel; return its new keyframe id, or None when a stored one covers it.

        ``world_T_camera`` 4x4 rigid transform; ``rgb`` (H, W, 3) uint8; ``embed()`` returns a (D,) image
        embedding (any scale; stored unit-normalised as float16) or None. A redundant view bumps the
        ``last_confirmed_ns`` of the keyframe that covers it. ``embed`` is called only when some stored view
        matches in pose and instances and has an embedding; with ``embed_when_novel`` it is also called to
        give a view that is novel by pose/instances an embedding (one call per stored keyframe).
        Raises FrameError (store unchanged) on a malformed pose, image or stamp.
        """
        pose = _check_pose(world_T_camera)
        stamp = _check_stamp(stamp_ns)
        _check_rgb(rgb)
        visible = _check_ids(visible_instance_ids)
        pos = pose[:3, 3]
        rot = pose[:3, :3]

        matches = self._matching_slots(pos, rot, visible)
        embedding: Optional[np.ndarray] = None
        embedded = False
        if matches.size:
            no_emb = matches[~self._has_emb[matches]]
            if no_emb.size:  # a matching view without embedding cannot be told apart: redundant
                self._confirm(int(no_emb[0]), stamp)
                return None
            embedding = self._check_embedding(embed())
            embedded = True
            if embedding is None:  # nothing to compare: the pose/instance match decides
                self._confirm(int(matches[0]), stamp)
                return None
            assert self._emb is not None
            cos = self._emb[matches] @ embedding.astype(np.float32)
            best = int(np.argmax(cos))
            if cos[best] >= self.config.max_similarity:
                self._confirm(int(matches[best]), stamp)
                return None
        if not embedded and embed_when_novel:
            embedding = self._check_embedding(embed())
        thumbnail = _thumbnail(rgb, self.config.thumbnail_width)
        return self._store(stamp, pose, thumbnail, visible, embedding, stamp)

    # ------------------------------------------------------------------------------------------ access

    def get(self, keyframe_id: int) -> Keyframe:
        try:
            return self._kf[keyframe_id]
        except (KeyError, TypeError):
            raise MemoryStateError(
                f"keyframe {keyframe_id!r} is not in the store (evicted or never stored); "
                "list the stored ones with all()"
            ) from None

    def __len__(self) -> int:
        return len(self._kf)

    def __contains__(self, keyframe_id: object) -> bool:
        return keyframe_id in self._kf

    def all(self) -> list[Keyframe]:
        """Every stored keyframe in time order (stamp, then id)."""
        return sorted(self._kf.values(), key=lambda k: (k.stamp_ns, k.keyframe_id))

    def search_embedding(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        """Up to ``k`` (keyframe_id, cosine similarity) pairs, best first, over keyframes with an embedding.

        ``query`` is a (D,) vector (normalised here). Raises QueryError on k <= 0 or a malformed query.
        """
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k <= 0:
            raise QueryError(f"search_embedding: k must be a positive integer, got {k!r}")
        q = np.asarray(query, dtype=np.float32)
        if q.ndim != 1 or q.size == 0 or not np.all(np.isfinite(q)) or not np.any(q):
            raise QueryError(
                f"search_embedding: query must be a non-zero finite 1-D vector, got shape {q.shape}"
            )
        if self._emb is None:
            return []
        if q.shape[0] != self._dim:
            raise QueryError(
                f"search_embedding: query has dimension {q.shape[0]} but keyframe embeddings have "
                f"{self._dim}; encode the query with the memory's encoder"
            )
        slots = np.flatnonzero(self._alive[: self._n_slots] & self._has_emb[: self._n_slots])
        if slots.size == 0:
            return []
        scores = self._emb[slots] @ (q / np.linalg.norm(q))
        kk = min(int(k), slots.size)
        top = np.argpartition(-scores, kk - 1)[:kk] if kk < slots.size else np.arange(slots.size)
        order = sorted(top.tolist(), key=lambda i: (-float(scores[i]), int(self._slot_id[slots[i]])))
        return [(int(self._slot_id[slots[i]]), float(scores[i])) for i in order]

    def with_instance(self, instance_id: int) -> list[Keyframe]:
        """Keyframes in which the instance was visible, newest first."""
        ids = self._by_instance.get(instance_id, set())
        return sorted((self._kf[i] for i in ids), key=lambda k: (k.stamp_ns, k.keyframe_id), reverse=True)

    def relabel_instance(self, old_id: int, new_id: int) -> None:
        """Instance ``old_id`` turned out to be ``new_id`` (re-identification): rewrite the visible sets."""
        if old_id == new_id:
            return
        ids = self._by_instance.pop(old_id, set())
        if not ids:
            return
        for kid in ids:
            kf = self._kf[kid]
            self._kf[kid] = replace(kf, visible_instance_ids=(kf.visible_instance_ids - {old_id}) | {new_id})
        self._by_instance.setdefault(new_id, set()).update(ids)

    def in_time_range(self, t0_ns: int, t1_ns: int) -> list[Keyframe]:
        """Keyframes captured in ``[t0_ns, t1_ns]``, time order. Raises QueryError when t1 < t0."""
        if t1_ns < t0_ns:
            raise QueryError(f"in_time_range: t1_ns ({t1_ns}) must be >= t0_ns ({t0_ns})")
        return [k for k in self.all() if t0_ns <= k.stamp_ns <= t1_ns]

    # ------------------------------------------------------------------------------------------ persistence

    def state_dict(self) -> dict[str, np.ndarray]:
        """Arrays only (``np.savez``-able, no pickles), keyframes in time order.

        ``thumbnails`` is every thumbnail flattened and concatenated; keyframe i's is
        ``thumbnails[thumb_offsets[i]:thumb_offsets[i+1]].reshape(*thumb_shapes[i], 3)``.
        ``visible_ids`` / ``visible_offsets`` pack the visible sets the same way. ``embeddings`` is (N, D)
        float16 (D = 0 when no keyframe has one); rows with ``has_embedding`` False are zeros.
        """
        kfs = self.all()
        n = len(kfs)
        dim = self._dim or 0
        emb = np.zeros((n, dim), dtype=np.float16)
        has = np.zeros(n, dtype=bool)
        thumbs: list[np.ndarray] = []
        shapes = np.zeros((n, 2), dtype=np.int64)
        t_off = np.zeros(n + 1, dtype=np.int64)
        vis: list[int] = []
        v_off = np.zeros(n + 1, dtype=np.int64)
        for i, kf in enumerate(kfs):
            if kf.embedding is not None:
                emb[i] = kf.embedding
                has[i] = True
            thumbs.append(kf.thumbnail.reshape(-1))
            shapes[i] = kf.thumbnail.shape[:2]
            t_off[i + 1] = t_off[i] + kf.thumbnail.size
            vis.extend(sorted(kf.visible_instance_ids))
            v_off[i + 1] = len(vis)
        return {
            "version": np.array(FORMAT_VERSION, dtype=np.int64),
            "next_id": np.array(self._next_id, dtype=np.int64),
            "keyframe_ids": np.array([k.keyframe_id for k in kfs], dtype=np.int64),
            "stamps_ns": np.array([k.stamp_ns for k in kfs], dtype=np.int64),
            "last_confirmed_ns": np.array([k.last_confirmed_ns for k in kfs], dtype=np.int64),
            "world_T_camera": np.array([k.world_T_camera for k in kfs], dtype=np.float64).reshape(n, 4, 4),
            "embeddings": emb,
            "has_embedding": has,
            "thumbnails": np.concatenate(thumbs) if thumbs else np.zeros(0, dtype=np.uint8),
            "thumb_shapes": shapes,
            "thumb_offsets": t_off,
            "visible_ids": np.array(vis, dtype=np.int64),
            "visible_offsets": v_off,
        }

    @classmethod
    def from_state_dict(cls, config: EpisodicConfig, state: dict[str, np.ndarray]) -> KeyframeStore:
        """Rebuild a store written by :meth:`state_dict`; PersistenceError names the first bad array."""
        store = cls(config)
        if not hasattr(state, "__getitem__") or not hasattr(state, "keys"):
            raise PersistenceError(f"keyframes: expected a mapping of arrays, got {type(state).__name__}")
        keys = (
            "version", "next_id", "keyframe_ids", "stamps_ns", "last_confirmed_ns", "world_T_camera",
            "embeddings", "has_embedding", "thumbnails", "thumb_shapes", "thumb_offsets", "visible_ids",
            "visible_offsets",
        )
        missing = [k for k in keys if k not in state.keys()]
        if missing:
            raise PersistenceError(
                f"keyframes: missing array(s) {missing}; the keyframe file is truncated or foreign"
            )
        a = {k: np.asarray(state[k]) for k in keys}
        version = _scalar_int(a["version"], "version")
        if version != FORMAT_VERSION:
            raise PersistenceError(
                f"keyframes: version {version} is not supported (this robomem reads version "
                f"{FORMAT_VERSION}); re-save the memory with a matching robomem"
            )
        next_id = _scalar_int(a["next_id"], "next_id")
        ids = _int_array(a["keyframe_ids"], "keyframe_ids", 1)
        n = ids.shape[0]
        stamps = _int_array(a["stamps_ns"], "stamps_ns", 1, (n,))
        confirmed = _int_array(a["last_confirmed_ns"], "last_confirmed_ns", 1, (n,))
        poses = a["world_T_camera"]
        if poses.shape != (n, 4, 4) or poses.dtype.kind != "f" or not np.all(np.isfinite(poses)):
            raise PersistenceError(
                f"keyframes: world_T_camera must be finite float ({n}, 4, 4), got {poses.dtype} {poses.shape}"
            )
        emb = a["embeddings"]
        if emb.ndim != 2 or emb.shape[0] != n or emb.dtype.kind != "f" or not np.all(np.isfinite(emb)):
            raise PersistenceError(
                f"keyframes: embeddings must be finite float ({n}, D), got {emb.dtype} {emb.shape}"
            )
        has = a["has_embedding"]
        if has.shape != (n,) or has.dtype != np.bool_:
            raise PersistenceError(
                f"keyframes: has_embedding must be bool ({n},), got {has.dtype} {has.shape}"
            )
        if np.any(has) and emb.shape[1] == 0:
            raise PersistenceError("keyframes: has_embedding is set but embeddings has dimension 0")
        thumbs = a["thumbnails"]
        if thumbs.ndim != 1 or thumbs.dtype != np.uint8:
            raise PersistenceError(
                f"keyframes: thumbnails must be flat uint8, got {thumbs.dtype} {thumbs.shape}"
            )
        shapes = _int_array(a["thumb_shapes"], "thumb_shapes", 2, (n, 2))
        t_off = _offsets(a["thumb_offsets"], "thumb_offsets", n, thumbs.shape[0])
        if np.any(shapes <= 0) or np.any(shapes[:, 0] * shapes[:, 1] * 3 != np.diff(t_off)):
            raise PersistenceError(
                "keyframes: thumb_shapes do not match thumb_offsets (h * w * 3 bytes each)"
            )
        vis = _int_array(a["visible_ids"], "visible_ids", 1)
        v_off = _offsets(a["visible_offsets"], "visible_offsets", n, vis.shape[0])
        if np.unique(ids).shape[0] != n:
            raise PersistenceError("keyframes: keyframe_ids are not unique")
        if n and next_id <= int(ids.max()):
            raise PersistenceError(
                f"keyframes: next_id {next_id} must exceed the largest keyframe id {ids.max()}"
            )
        if n > config.max_keyframes:
            raise PersistenceError(
                f"keyframes: the file holds {n} keyframes but episodic.max_keyframes is "
                f"{config.max_keyframes}; load with a larger max_keyframes"
            )
        for i in range(n):
            try:
                pose = _check_pose(poses[i])
            except FrameError as exc:
                raise PersistenceError(f"keyframes: world_T_camera[{i}]: {exc}") from None
            embedding: Optional[np.ndarray] = None
            if has[i]:
                try:
                    embedding = store._check_embedding(emb[i])
                except MemoryStateError as exc:
                    raise PersistenceError(f"keyframes: embeddings[{i}]: {exc}") from None
            h, w = int(shapes[i, 0]), int(shapes[i, 1])
            thumb = thumbs[t_off[i] : t_off[i + 1]].reshape(h, w, 3).copy()
            visible = frozenset(int(x) for x in vis[v_off[i] : v_off[i + 1]])
            store._store(int(stamps[i]), pose, thumb, visible, embedding, int(confirmed[i]), int(ids[i]))
        store._next_id = next_id
        return store

    # ------------------------------------------------------------------------------------------ internals

    def _cell_of(self, pos: np.ndarray) -> tuple[int, int, int]:
        c = np.floor(pos / self._cell).astype(np.int64)
        return (int(c[0]), int(c[1]), int(c[2]))

    def _neighbour_slots(self, pos: np.ndarray) -> np.ndarray:
        """Slots in the 27 cells around ``pos`` (a superset of those within ``min_translation``)."""
        c = np.floor(pos / self._cell).astype(np.int64)
        found: list[int] = []
        for off in _NEIGHBOUR_OFFSETS + c:
            s = self._cells.get((int(off[0]), int(off[1]), int(off[2])))
            if s:
                found.extend(s)
        return np.array(found, dtype=np.int64)

    def _angles(self, slots: np.ndarray, rot: np.ndarray) -> np.ndarray:
        """Geodesic angles (rad) between ``rot`` and the rotations of ``slots``."""
        tr = np.einsum("nij,ij->n", self._rot[slots], rot)
        return np.arccos(np.clip((tr - 1.0) / 2.0, -1.0, 1.0))

    def _matching_slots(self, pos: np.ndarray, rot: np.ndarray, visible: frozenset[int]) -> np.ndarray:
        """Slots within the pose thresholds that saw the same instances, nearest view first."""
        slots = self._neighbour_slots(pos)
        if slots.size == 0:
            return slots
        dist = np.linalg.norm(self._pos[slots] - pos, axis=1)
        ang = self._angles(slots, rot)
        close = (dist <= self.config.min_translation) & (ang <= self.config.min_rotation)
        slots, dist, ang = slots[close], dist[close], ang[close]
        same = np.array(
            [_jaccard(visible, self._kf[int(self._slot_id[s])].visible_instance_ids) >= SAME_VIEW_JACCARD
             for s in slots],
            dtype=bool,
        ).reshape(-1)
        slots = slots[same]
        order = np.argsort(
            dist[same] / self.config.min_translation + ang[same] / self.config.min_rotation, kind="stable"
        )
        return slots[order]

    def _check_embedding(self, embedding: Optional[np.ndarray]) -> Optional[np.ndarray]:
        """None, or the (D,) embedding as unit float16 (raises MemoryStateError when malformed)."""
        if embedding is None:
            return None
        e = np.asarray(embedding, dtype=np.float64)
        if e.ndim != 1 or e.size == 0 or not np.all(np.isfinite(e)):
            raise MemoryStateError(
                f"keyframe embedding must be a finite 1-D vector, got shape {e.shape}; check the encoder"
            )
        norm = float(np.linalg.norm(e))
        if norm == 0.0:
            raise MemoryStateError("keyframe embedding is all zeros; check the encoder")
        if self._dim is not None and e.shape[0] != self._dim:
            raise MemoryStateError(
                f"keyframe embedding has dimension {e.shape[0]} but the store holds dimension {self._dim}; "
                "use one encoder per memory"
            )
        return (e / norm).astype(np.float16)

    def _confirm(self, slot: int, stamp_ns: int) -> None:
        kid = int(self._slot_id[slot])
        kf = self._kf[kid]
        if stamp_ns > kf.last_confirmed_ns:
            self._kf[kid] = replace(kf, last_confirmed_ns=stamp_ns)
            self._confirmed[slot] = stamp_ns

    def _grow(self) -> None:
        cap = self._pos.shape[0] * 2
        self._pos = _resized(self._pos, cap, 0.0)
        self._rot = _resized(self._rot, cap, 0.0)
        if self._emb is not None:
            self._emb = _resized(self._emb, cap, 0.0)
        self._has_emb = _resized(self._has_emb, cap, False)
        self._alive = _resized(self._alive, cap, False)
        self._slot_id = _resized(self._slot_id, cap, -1)
        self._cost = _resized(self._cost, cap, np.inf)
        self._confirmed = _resized(self._confirmed, cap, 0)

    def _store(
        self,
        stamp_ns: int,
        pose: np.ndarray,
        thumbnail: np.ndarray,
        visible: frozenset[int],
        embedding: Optional[np.ndarray],
        confirmed_ns: int,
        keyframe_id: Optional[int] = None,
    ) -> int:
        kid = self._next_id if keyframe_id is None else keyframe_id
        self._next_id = max(self._next_id, kid + 1)
        if self._free:
            slot = self._free.pop()
        else:
            if self._n_slots == self._pos.shape[0]:
                self._grow()
            slot = self._n_slots
            self._n_slots += 1
        if embedding is not None:
            if self._emb is None:
                self._dim = int(embedding.shape[0])
                self._emb = np.zeros((self._pos.shape[0], self._dim), dtype=np.float32)
            self._emb[slot] = embedding.astype(np.float32)
        elif self._emb is not None:
            self._emb[slot] = 0.0
        pose.setflags(write=False)
        thumbnail.setflags(write=False)
        if embedding is not None:
            embedding.setflags(write=False)
        kf = Keyframe(kid, stamp_ns, pose, embedding, thumbnail, visible, confirmed_ns)
        self._pos[slot] = pose[:3, 3]
        self._rot[slot] = pose[:3, :3]
        self._has_emb[slot] = embedding is not None
        self._alive[slot] = True
        self._slot_id[slot] = kid
        self._confirmed[slot] = confirmed_ns
        self._kf[kid] = kf
        self._slot_of[kid] = slot
        self._cells.setdefault(self._cell_of(pose[:3, 3]), set()).add(slot)
        for iid in visible:
            self._by_instance.setdefault(iid, set()).add(kid)
        # Redundancy costs: the new slot's own, and its neighbours' (which can only drop).
        nbrs, costs = self._costs_to(slot)
        self._cost[slot] = float(costs.min()) if costs.size else math.inf
        if nbrs.size:
            self._cost[nbrs] = np.minimum(self._cost[nbrs], costs)
        while len(self._kf) > self.config.max_keyframes:
            self._evict(exclude=slot)
        return kid

    def _costs_to(self, slot: int) -> tuple[np.ndarray, np.ndarray]:
        """(neighbour slots, view distance from ``slot`` to each), ``slot`` itself excluded."""
        pos = self._pos[slot]
        nbrs = self._neighbour_slots(pos)
        nbrs = nbrs[nbrs != slot]
        if nbrs.size == 0:
            return nbrs, np.zeros(0)
        cfg = self.config
        visible = self._kf[int(self._slot_id[slot])].visible_instance_ids
        cost = np.linalg.norm(self._pos[nbrs] - pos, axis=1) / cfg.min_translation
        cost += self._angles(nbrs, self._rot[slot]) / cfg.min_rotation
        cost += 1.0 - np.array(
            [_jaccard(visible, self._kf[int(self._slot_id[s])].visible_instance_ids) for s in nbrs]
        )
        if self._emb is not None and self._has_emb[slot]:
            both = self._has_emb[nbrs]
            cost[both] += 1.0 - self._emb[nbrs[both]] @ self._emb[slot]
        return nbrs, cost

    def _evict(self, exclude: int) -> None:
        n = self._n_slots
        cand = self._alive[:n].copy()
        cand[exclude] = False
        slots = np.flatnonzero(cand)
        order = np.lexsort((self._slot_id[slots], self._confirmed[slots], self._cost[slots]))
        slot = int(slots[order[0]])
        kid = int(self._slot_id[slot])
        kf = self._kf.pop(kid)
        del self._slot_of[kid]
        cell = self._cell_of(self._pos[slot])
        self._cells[cell].discard(slot)
        if not self._cells[cell]:
            del self._cells[cell]
        for iid in kf.visible_instance_ids:
            ids = self._by_instance.get(iid)
            if ids is not None:
                ids.discard(kid)
                if not ids:
                    del self._by_instance[iid]
        self._alive[slot] = False
        self._has_emb[slot] = False
        self._slot_id[slot] = -1
        self._cost[slot] = math.inf
        self._free.append(slot)
        log.debug("keyframes: evicted keyframe %d (stamp %d ns) at max_keyframes=%d", kid, kf.stamp_ns,
                  self.config.max_keyframes)
        # Neighbours may have had their nearest view in the evicted one: recompute theirs.
        for nb in self._neighbour_slots(self._pos[slot]).tolist():
            _, costs = self._costs_to(nb)
            self._cost[nb] = float(costs.min()) if costs.size else math.inf
