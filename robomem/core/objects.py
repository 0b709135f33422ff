"""Object instances with a position history, and their re-identification when they move.

A frame's segments (from an instance mask) become :class:`SegmentObservation` s. :meth:`ObjectStore.assign`
maps each to an instance:

1. a *present* instance nearby (centroid within ``match_distance``) with a similar feature: same object,
   same place; its current placement is updated;
2. else a *vanished* instance (its place was seen empty) with a feature similarity >= ``reid_similarity``:
   the object was moved; a new placement is appended (one instance, two intervals);
3. else a new instance.

When an instance vanishes later (its old place is seen empty), :meth:`ObjectStore.deferred_reid` looks for a
present instance of the same kind that appeared after it was last seen with a matching feature and merges
it in, so "seen at the new place before the old place was re-checked" still yields one instance.

With ``MaskIdMode.PERSISTENT`` the segment ids are trusted object ids (simulator ground truth, a tracker).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import Any, Optional

import numpy as np

from robomem.config import MaskIdMode, ObjectConfig
from robomem.core.types import Box3D, NodeKind, Placement
from robomem.errors import MemoryStateError, PersistenceError

log = logging.getLogger(__name__)

Vec3 = tuple[float, float, float]


@dataclass(frozen=True, eq=False)
class SegmentObservation:
    """One segment of one frame, in the world frame.

    ``points_world``: (K,3) float32 points of the segment; ``feature``: (D,) float32 unit vector or None.
    """

    segment_id: int
    label: str
    kind: NodeKind
    points_world: np.ndarray
    feature: Optional[np.ndarray]

    @property
    def centroid(self) -> Vec3:
        c = self.points_world.mean(axis=0)
        return (float(c[0]), float(c[1]), float(c[2]))

    @property
    def box(self) -> Box3D:
        lo = self.points_world.min(axis=0)
        hi = self.points_world.max(axis=0)
        return Box3D((float(lo[0]), float(lo[1]), float(lo[2])), (float(hi[0]), float(hi[1]), float(hi[2])))


@dataclass
class ObjectInstance:
    """Mutable record of one instance (owned by :class:`ObjectStore`; queries get frozen summaries).

    ``placements`` is time-ordered; the last one is current. ``present`` is False once the current place
    was seen empty. ``feature`` is the running mean of segment features (unit length, float32).
    """

    instance_id: int
    kind: NodeKind
    label: str
    feature: Optional[np.ndarray]
    placements: list[Placement]
    present: bool = True
    n_observations: int = 0
    peak_voxels: int = 0
    label_votes: dict[str, int] = field(default_factory=dict)
    source_key: Optional[int] = None  # persistent mask id, when MaskIdMode.PERSISTENT
    provisional: bool = False  # the current place came from an action (gripper pose), not yet seen there

    @property
    def current(self) -> Placement:
        return self.placements[-1]

    @property
    def first_seen_ns(self) -> int:
        return self.placements[0].first_seen_ns

    @property
    def last_seen_ns(self) -> int:
        return max(p.last_seen_ns for p in self.placements)

    def placement_at(self, t_ns: int) -> Optional[Placement]:
        """The placement valid at ``t_ns`` (seen there at or before t and not yet seen gone), if any."""
        for p in reversed(self.placements):
            if p.first_seen_ns <= t_ns and (p.vanished_ns is None or t_ns < p.vanished_ns):
                return p
        return None


@dataclass(frozen=True)
class AssignResult:
    """segment id -> instance id for one frame, plus what happened."""

    segment_to_instance: dict[int, int]
    created: tuple[int, ...]
    moved: tuple[int, ...]  # re-identified at a new place
    updated: tuple[int, ...]


def _cos(a: Optional[np.ndarray], b: Optional[np.ndarray]) -> Optional[float]:
    if a is None or b is None:
        return None
    return float(np.dot(a, b))


def _dist(a: Vec3, b: Vec3) -> float:
    return float(np.linalg.norm(np.subtract(a, b)))


def _place_key(p: Placement) -> tuple[float, ...]:
    return (*p.position, *p.box.min_xyz, *p.box.max_xyz)


def _place_distance(p: Placement, xyz: Vec3) -> float:
    """Smaller of the distance from ``xyz`` to the placement's centroid and to its box (0 inside), m."""
    c = np.asarray(xyz)
    lo, hi = np.asarray(p.box.min_xyz), np.asarray(p.box.max_xyz)
    d_box = float(np.linalg.norm(np.maximum(np.maximum(lo - c, c - hi), 0.0)))
    return min(_dist(p.position, xyz), d_box)


def _unit(v: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(v))
    return (v / n).astype(np.float32) if n > 0 else v.astype(np.float32)


class ObjectStore:
    """All instances, their histories and the re-identification logic."""

    def __init__(self, config: ObjectConfig) -> None:
        self.config = config
        self._instances: dict[int, ObjectInstance] = {}
        self._next_id = 1
        self._by_source: dict[int, int] = {}
        self._merged_into: dict[int, int] = {}  # id merged away -> the id it was merged into
        # current (position, box min, box max) of every *present* instance, for the vectorised nearby search
        self._positions: dict[int, tuple[float, ...]] = {}

    # ------------------------------------------------------------------------------------------- access
    def __len__(self) -> int:
        return len(self._instances)

    def __contains__(self, instance_id: int) -> bool:
        return instance_id in self._instances

    def get(self, instance_id: int) -> ObjectInstance:
        try:
            return self._instances[instance_id]
        except KeyError:
            raise MemoryStateError(
                f"unknown instance id {instance_id}; list instances with instances() / the Locate service"
            ) from None

    def find(self, instance_id: int) -> Optional[ObjectInstance]:
        """The instance, or None when the id is unknown."""
        return self._instances.get(instance_id)

    def canonical(self, instance_id: int) -> Optional[int]:
        """The id that ``instance_id`` lives on as (itself, or the instance it was merged into), None if unknown."""
        iid = int(instance_id)
        for _ in range(len(self._merged_into) + 1):
            if iid in self._instances:
                return iid
            nxt = self._merged_into.get(iid)
            if nxt is None:
                return None
            iid = nxt
        return None

    def issued(self, instance_id: int) -> bool:
        """True if the id was ever given to an instance (it may have been merged away since)."""
        return 1 <= int(instance_id) < self._next_id

    def all(self) -> list[ObjectInstance]:
        return list(self._instances.values())

    def present(self) -> list[ObjectInstance]:
        return [i for i in self._instances.values() if i.present]

    # ------------------------------------------------------------------------------------------- update
    def assign(self, segments: list[SegmentObservation], stamp_ns: int) -> AssignResult:
        """Match this frame's segments to instances, creating / moving instances as needed."""
        mapping: dict[int, int] = {}
        created: list[int] = []
        moved: list[int] = []
        updated: list[int] = []
        taken: set[int] = set()
        persistent = self.config.mask_ids is MaskIdMode.PERSISTENT
        ids = np.fromiter(self._positions.keys(), dtype=np.int64, count=len(self._positions))
        pos = np.array(list(self._positions.values()), dtype=np.float64).reshape(-1, 9)
        for seg in sorted(segments, key=lambda s: -len(s.points_world)):
            if len(seg.points_world) < self.config.min_points:
                continue
            inst = self._match_persistent(seg) if persistent else self._match_present(seg, taken, ids, pos)
            near = inst is not None and _place_distance(inst.current, seg.centroid) <= self.config.match_distance
            if inst is not None and inst.present and near:
                self._observe_same_place(inst, seg, stamp_ns)
                updated.append(inst.instance_id)
            else:
                if inst is None and not persistent:
                    inst = self._reidentify(seg, taken)
                near_old = inst is not None and (
                    _place_distance(inst.current, seg.centroid) <= self.config.match_distance
                )
                gone_at = inst.current.vanished_ns if inst is not None else None
                if inst is not None and not inst.present and near_old and gone_at is not None and stamp_ns <= gone_at:
                    # a frame from before it left (e.g. the robot's pick was reported before this frame came):
                    # it was there then; no live sighting (the segment's points stay unlabelled)
                    self._fuse(inst, seg)
                    inst.placements[-1] = replace(inst.current, last_seen_ns=max(inst.current.last_seen_ns, stamp_ns))
                    taken.add(inst.instance_id)
                    continue
                if inst is not None and not inst.present and near_old:
                    # seen again where it was seen gone: the "gone" was wrong (or it was put back); one stay
                    self._revive(inst)
                    self._observe_same_place(inst, seg, stamp_ns)
                    updated.append(inst.instance_id)
                elif inst is not None:
                    self._move(inst, seg, stamp_ns)
                    moved.append(inst.instance_id)
                else:
                    inst = self._create(seg, stamp_ns)
                    created.append(inst.instance_id)
            self._positions[inst.instance_id] = _place_key(inst.current)
            taken.add(inst.instance_id)
            mapping[seg.segment_id] = inst.instance_id
        return AssignResult(mapping, tuple(created), tuple(moved), tuple(updated))

    def _match_persistent(self, seg: SegmentObservation) -> Optional[ObjectInstance]:
        iid = self._by_source.get(seg.segment_id)
        return self._instances.get(iid) if iid is not None else None

    def _match_present(
        self, seg: SegmentObservation, taken: set[int], ids: np.ndarray, places: np.ndarray
    ) -> Optional[ObjectInstance]:
        """Nearest present instance of the same kind within match_distance with a compatible feature.

        ``ids``/``places``: (M,) ids and (M, 9) [position, box min, box max] of the instances present at the
        start of the frame. Distance is the smaller of centroid distance and distance to the instance's box,
        so partial views of large furniture (whose centroid shifts with the view) stay one instance.
        """
        if len(ids) == 0:
            return None
        c = np.asarray(seg.centroid)
        d_centre = np.linalg.norm(places[:, :3] - c, axis=1)
        d_box = np.linalg.norm(np.maximum(np.maximum(places[:, 3:6] - c, c - places[:, 6:9]), 0.0), axis=1)
        d = np.minimum(d_centre, d_box)
        best: Optional[ObjectInstance] = None
        for j in np.argsort(d, kind="stable"):
            if d[j] > self.config.match_distance:
                break
            inst = self._instances.get(int(ids[j]))
            if inst is None or not inst.present or inst.kind is not seg.kind or inst.instance_id in taken:
                continue
            sim = _cos(inst.feature, seg.feature)
            if sim is not None and sim < self.config.match_similarity:
                continue
            best = inst
            break
        return best

    def _reidentify(self, seg: SegmentObservation, taken: set[int]) -> Optional[ObjectInstance]:
        if seg.feature is None:
            return None
        best: Optional[ObjectInstance] = None
        best_key = (-1.0, -1)
        for inst in self._instances.values():
            if inst.present or inst.kind is not seg.kind or inst.instance_id in taken:
                continue
            sim = _cos(inst.feature, seg.feature)
            if sim is None or sim < self.config.reid_similarity:
                continue
            key = (round(sim, 4), inst.current.vanished_ns or 0)  # most similar, then most recently vanished
            if key > best_key:
                best, best_key = inst, key
        return best

    def _create(self, seg: SegmentObservation, stamp_ns: int) -> ObjectInstance:
        iid = self._next_id
        self._next_id += 1
        inst = ObjectInstance(
            instance_id=iid,
            kind=seg.kind,
            label=seg.label,
            feature=None if seg.feature is None else _unit(seg.feature),
            placements=[Placement(seg.centroid, seg.box, stamp_ns, stamp_ns)],
            n_observations=1,
            label_votes={seg.label: 1} if seg.label else {},
            source_key=seg.segment_id if self.config.mask_ids is MaskIdMode.PERSISTENT else None,
        )
        self._instances[iid] = inst
        if inst.source_key is not None:
            self._by_source[inst.source_key] = iid
        return inst

    def _fuse(self, inst: ObjectInstance, seg: SegmentObservation) -> None:
        inst.n_observations += 1
        if seg.feature is not None:
            if inst.feature is None:
                inst.feature = _unit(seg.feature)
            else:
                n = min(inst.n_observations, 100)  # running mean that keeps adapting after 100 views
                inst.feature = _unit(inst.feature * ((n - 1) / n) + seg.feature / n)
        if seg.label:
            inst.label_votes[seg.label] = inst.label_votes.get(seg.label, 0) + 1
            inst.label = max(inst.label_votes.items(), key=lambda kv: (kv[1], kv[0]))[0]

    def _observe_same_place(self, inst: ObjectInstance, seg: SegmentObservation, stamp_ns: int) -> None:
        self._fuse(inst, seg)
        cur = inst.current
        if inst.provisional:  # first sighting at a place known from the gripper: the sighting is the place
            inst.provisional = False
            inst.placements[-1] = replace(cur, position=seg.centroid, box=seg.box,
                                          last_seen_ns=max(cur.last_seen_ns, stamp_ns))
            inst.present = True
            return
        w = 1.0 / min(inst.n_observations, 20)
        pos = tuple(float(p * (1 - w) + q * w) for p, q in zip(cur.position, seg.centroid))
        sb = seg.box
        box = Box3D(
            tuple(min(a, b) for a, b in zip(cur.box.min_xyz, sb.min_xyz)),  # type: ignore[arg-type]
            tuple(max(a, b) for a, b in zip(cur.box.max_xyz, sb.max_xyz)),  # type: ignore[arg-type]
        )
        inst.placements[-1] = replace(cur, position=pos, box=box, last_seen_ns=max(cur.last_seen_ns, stamp_ns))  # type: ignore[arg-type]
        inst.present = True

    def _revive(self, inst: ObjectInstance) -> None:
        inst.placements[-1] = replace(inst.current, vanished_ns=None)
        inst.present = True
        log.debug("instance %d re-observed at the place it had vanished from", inst.instance_id)

    def _move(self, inst: ObjectInstance, seg: SegmentObservation, stamp_ns: int) -> None:
        cur = inst.current
        if cur.vanished_ns is None:  # seen elsewhere before its old place was seen empty
            inst.placements[-1] = replace(cur, vanished_ns=stamp_ns)
        inst.placements.append(Placement(seg.centroid, seg.box, stamp_ns, stamp_ns))
        inst.present = True
        self._fuse(inst, seg)

    def set_context(self, instance_id: int, receptacle_id: Optional[int], room: Optional[str]) -> None:
        """Record the receptacle/room of the instance's current placement."""
        inst = self._instances[instance_id]
        cur = inst.current
        if cur.receptacle_id != receptacle_id or cur.room != room:
            inst.placements[-1] = replace(cur, receptacle_id=receptacle_id, room=room)

    def note_voxels(self, counts: dict[int, int]) -> None:
        """Record the instances' current voxel counts (their peak is the reference for vanishing)."""
        for iid, n in counts.items():
            inst = self._instances.get(iid)
            if inst is not None and inst.present and n > inst.peak_voxels:
                inst.peak_voxels = n

    def check_vanished(self, remaining: dict[int, int], carved: dict[int, int], stamp_ns: int) -> list[int]:
        """Mark present instances whose voxels were carved below ``vanish_fraction`` of their peak.

        ``carved``: instance -> voxels removed this frame; ``remaining``: instance -> voxels left.
        Returns the ids that vanished now.
        """
        gone: list[int] = []
        for iid, n_removed in carved.items():
            inst = self._instances.get(iid)
            if inst is None or not inst.present or n_removed <= 0:
                continue
            left = remaining.get(iid, 0)
            if left < self.config.vanish_fraction * max(inst.peak_voxels, 1):
                inst.present = False
                inst.placements[-1] = replace(inst.current, vanished_ns=stamp_ns)
                self._positions.pop(iid, None)
                gone.append(iid)
        return gone

    def mark_vanished(self, instance_id: int, stamp_ns: int) -> bool:
        """The instance's place was seen empty at ``stamp_ns``; returns False if it was not present."""
        inst = self._instances.get(instance_id)
        if inst is None or not inst.present:
            return False
        inst.present = False
        inst.placements[-1] = replace(inst.current, vanished_ns=stamp_ns)
        self._positions.pop(instance_id, None)
        return True

    def deferred_reid(self, vanished_id: int) -> Optional[int]:
        """After ``vanished_id`` vanished: merge a newer present instance that is the same object moved.

        Returns the id that was merged into ``vanished_id`` (and removed), or None.
        """
        old = self._instances[vanished_id]
        if old.feature is None or self.config.mask_ids is MaskIdMode.PERSISTENT:
            return None
        best: Optional[ObjectInstance] = None
        best_sim = self.config.reid_similarity
        for inst in self._instances.values():
            if inst.instance_id == vanished_id or not inst.present or inst.kind is not old.kind:
                continue
            if inst.first_seen_ns < old.current.last_seen_ns or len(inst.placements) != 1:
                continue
            sim = _cos(old.feature, inst.feature)
            if sim is not None and sim >= best_sim:
                best, best_sim = inst, sim
        if best is None:
            return None
        self.merge(vanished_id, best.instance_id)
        log.debug("re-identified instance %d as moved instance %d", best.instance_id, vanished_id)
        return best.instance_id

    def merge(self, keep_id: int, drop_id: int) -> None:
        """``drop_id`` is ``keep_id`` seen at a later place: append its placements to ``keep_id`` and delete it.

        ``drop_id``'s placements must all start after ``keep_id`` was last seen at its current place; the
        current place of ``keep_id`` is closed when ``drop_id`` was first seen (unless seen empty before).
        """
        old, newer = self.get(keep_id), self.get(drop_id)
        if keep_id == drop_id:
            raise MemoryStateError(f"cannot merge instance {keep_id} into itself")
        old.placements[-1] = replace(old.current, vanished_ns=min(old.current.vanished_ns or newer.first_seen_ns,
                                                                  newer.first_seen_ns))
        old.placements.extend(newer.placements)
        old.present = newer.present
        old.provisional = newer.provisional
        old.n_observations += newer.n_observations
        old.peak_voxels = newer.peak_voxels
        for lab, n in newer.label_votes.items():
            old.label_votes[lab] = old.label_votes.get(lab, 0) + n
        if newer.label_votes:
            old.label = max(old.label_votes.items(), key=lambda kv: (kv[1], kv[0]))[0]
        if newer.feature is not None:
            old.feature = newer.feature if old.feature is None else _unit(old.feature + newer.feature)
        del self._instances[newer.instance_id]
        self._merged_into[newer.instance_id] = old.instance_id
        self._positions.pop(newer.instance_id, None)
        self._positions.pop(old.instance_id, None)
        if old.present:
            self._positions[old.instance_id] = _place_key(old.current)

    def pick(self, instance_id: int, stamp_ns: int) -> bool:
        """The robot took the instance from its current place at ``stamp_ns``. False if it was not present."""
        return self.mark_vanished(instance_id, stamp_ns)

    def place(self, instance_id: int, position: Vec3, box: Box3D, stamp_ns: int) -> None:
        """The robot put the instance down at ``position`` at ``stamp_ns``: a new (provisional) placement.

        A place it was still believed at is closed at ``stamp_ns`` (its pick was not reported)."""
        inst = self.get(instance_id)
        cur = inst.current
        if inst.present and cur.vanished_ns is None:
            inst.placements[-1] = replace(cur, vanished_ns=stamp_ns)
        inst.placements.append(Placement(position, box, stamp_ns, stamp_ns))
        inst.present = True
        inst.provisional = True
        self._positions[instance_id] = _place_key(inst.current)

    # ------------------------------------------------------------------------------------------- persistence
    def state(self) -> tuple[dict[str, Any], np.ndarray]:
        """(JSON-able metadata, (N, D) float32 feature matrix with rows in metadata order; D=0 if none)."""
        meta: list[dict[str, Any]] = []
        feats: list[np.ndarray] = []
        dim = next((i.feature.shape[0] for i in self._instances.values() if i.feature is not None), 0)
        for inst in self._instances.values():
            meta.append(
                {
                    "id": inst.instance_id,
                    "kind": inst.kind.value,
                    "label": inst.label,
                    "present": inst.present,
                    "n_observations": inst.n_observations,
                    "peak_voxels": inst.peak_voxels,
                    "label_votes": inst.label_votes,
                    "source_key": inst.source_key,
                    "provisional": inst.provisional,
                    "has_feature": inst.feature is not None,
                    "placements": [_placement_to_json(p) for p in inst.placements],
                }
            )
            feats.append(inst.feature if inst.feature is not None else np.zeros(dim, np.float32))
        matrix = np.stack(feats).astype(np.float32) if feats and dim else np.zeros((len(meta), dim), np.float32)
        merged = [[int(a), int(b)] for a, b in sorted(self._merged_into.items())]
        return {"next_id": self._next_id, "instances": meta, "merged_into": merged}, matrix

    @classmethod
    def from_state(cls, config: ObjectConfig, meta: dict[str, Any], features: np.ndarray) -> ObjectStore:
        store = cls(config)
        try:
            store._next_id = int(meta["next_id"])
            rows = meta["instances"]
            if features.ndim != 2 or features.shape[0] != len(rows):
                raise PersistenceError(
                    f"objects: {len(rows)} instances but a feature matrix of shape {features.shape}"
                )
            for row, entry in enumerate(rows):
                inst = ObjectInstance(
                    instance_id=int(entry["id"]),
                    kind=NodeKind(entry["kind"]),
                    label=str(entry["label"]),
                    feature=features[row].astype(np.float32) if entry["has_feature"] else None,
                    placements=[_placement_from_json(p) for p in entry["placements"]],
                    present=bool(entry["present"]),
                    n_observations=int(entry["n_observations"]),
                    peak_voxels=int(entry["peak_voxels"]),
                    label_votes={str(k): int(v) for k, v in entry["label_votes"].items()},
                    source_key=None if entry["source_key"] is None else int(entry["source_key"]),
                    provisional=bool(entry["provisional"]),
                )
                if not inst.placements:
                    raise PersistenceError(f"objects: instance {inst.instance_id} has no placement")
                store._instances[inst.instance_id] = inst
                if inst.present:
                    store._positions[inst.instance_id] = _place_key(inst.current)
                if inst.source_key is not None:
                    store._by_source[inst.source_key] = inst.instance_id
            store._merged_into = {int(a): int(b) for a, b in meta["merged_into"]}
        except PersistenceError:
            raise
        except (KeyError, TypeError, ValueError) as exc:
            raise PersistenceError(f"objects: malformed instance record ({type(exc).__name__}: {exc})") from None
        return store


def _placement_to_json(p: Placement) -> dict[str, Any]:
    return {
        "position": list(p.position),
        "box": [list(p.box.min_xyz), list(p.box.max_xyz)],
        "first_seen_ns": p.first_seen_ns,
        "last_seen_ns": p.last_seen_ns,
        "vanished_ns": p.vanished_ns,
        "receptacle_id": p.receptacle_id,
        "room": p.room,
    }


def _placement_from_json(d: dict[str, Any]) -> Placement:
    pos = tuple(float(x) for x in d["position"])
    lo, hi = d["box"]
    if len(pos) != 3 or len(lo) != 3 or len(hi) != 3:
        raise ValueError("placement position/box must be 3-vectors")
    return Placement(
        position=pos,  # type: ignore[arg-type]
        box=Box3D(tuple(float(x) for x in lo), tuple(float(x) for x in hi)),  # type: ignore[arg-type]
        first_seen_ns=int(d["first_seen_ns"]),
        last_seen_ns=int(d["last_seen_ns"]),
        vanished_ns=None if d["vanished_ns"] is None else int(d["vanished_ns"]),
        receptacle_id=None if d["receptacle_id"] is None else int(d["receptacle_id"]),
        room=d["room"],
    )
