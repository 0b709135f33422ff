"""Tentative instances (:class:`~robomem.core.association.Candidate`) of the object store, and the evidence that
drops them.

A segment that matches no instance starts a candidate; it becomes an instance after
``ObjectConfig.confirm_sightings`` sightings (:class:`~robomem.core.objects.ObjectStore`). A robot often glimpses an
object in one frame per pass (driving by, a head sweep) and sees it again on a later pass, minutes or hours later,
so a candidate is not dropped for not being re-sighted quickly; it is dropped when

* its place was looked at without it: ``ObjectConfig.vanish_min_frames`` frames (since its last sighting) whose
  view passes through its place (seen empty) or sees the surface there from close enough that it would have been
  segmented (:func:`candidates_missed`) - a spurious segment is not there again;
* it was not re-sighted within ``ObjectConfig.tentative_window_s``, or it is the least recently sighted of more than
  ``ObjectConfig.max_candidates`` (the pool is bounded whatever the detector does).

The pool also remembers, for recent frames, which tentative candidate each segment was (an action's segment hint
may name it) and what a confirmed candidate became. Never saved: a reloaded memory starts without candidates.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Iterable, Optional

import numpy as np

from robomem.config import ObjectConfig, VoxelConfig
from robomem.core.association import Candidate, TrackView
from robomem.core.frame import CheckedFrame
from robomem.core.instances import ObjectInstance, SegmentObservation, cosine

RECENT_CANDIDATE_FRAMES = 64
"""Frames whose tentative segments an action's segment hint can still name."""


class CandidatePool:
    """The tentative instances of one object store (keys < 0) and their recent frame maps."""

    def __init__(self, config: ObjectConfig) -> None:
        self.config = config
        self._items: dict[int, Candidate] = {}
        self._next_key = -1
        self._misses: dict[int, int] = {}  # key -> frames of seen-empty / not-detected evidence since last sighting
        self._frames: OrderedDict[int, dict[int, int]] = OrderedDict()  # frame stamp -> segment -> key
        self._confirmed_as: OrderedDict[int, int] = OrderedDict()  # key -> the instance it became

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: Optional[int]) -> Optional[Candidate]:
        return self._items.get(key) if key is not None else None

    def items(self) -> list[Candidate]:
        return list(self._items.values())

    def views(self) -> list[TrackView]:
        """Track views of every candidate, newest first (deterministic order for association)."""
        return [c.view() for c in sorted(self._items.values(), key=lambda c: -c.key)]

    def new(self, seg: SegmentObservation, feature: Optional[np.ndarray], stamp_ns: int) -> Candidate:
        cand = Candidate(self._next_key, seg.kind, {seg.label: 1} if seg.label else {}, feature,
                         seg.centroid, seg.box, stamp_ns, stamp_ns)
        self._next_key -= 1
        self._items[cand.key] = cand
        return cand

    def sighted(self, key: int) -> None:
        self._misses.pop(key, None)

    def pop(self, key: int) -> None:
        self._items.pop(key, None)
        self._misses.pop(key, None)

    def expire(self, stamp_ns: int) -> None:
        """Drop candidates not re-sighted within ``tentative_window_s``, then the least recently sighted beyond
        ``max_candidates``."""
        window = int(self.config.tentative_window_s * 1e9)
        for key in [k for k, c in self._items.items() if stamp_ns - c.last_seen_ns > window]:
            self.pop(key)
        excess = len(self._items) - self.config.max_candidates
        if excess > 0:
            for c in sorted(self._items.values(), key=lambda c: (c.last_seen_ns, -c.key))[:excess]:
                self.pop(c.key)

    def missed(self, keys: list[int]) -> list[int]:
        """One frame of evidence that these candidates are not where they were seen; drops (and returns) those
        with ``vanish_min_frames`` such frames since their last sighting."""
        dropped = []
        for key in keys:
            if key not in self._items:
                continue
            n = self._misses.get(key, 0) + 1
            self._misses[key] = n
            if n >= self.config.vanish_min_frames:
                self.pop(key)
                dropped.append(key)
        return dropped

    # ------------------------------------------------------------------------------------ recent frame maps
    def remember_frame(self, stamp_ns: int, segment_to_key: dict[int, int]) -> None:
        self._frames[stamp_ns] = {**self._frames.get(stamp_ns, {}), **segment_to_key}
        self._frames.move_to_end(stamp_ns)
        while len(self._frames) > RECENT_CANDIDATE_FRAMES:
            self._frames.popitem(last=False)

    def key_of(self, frame_stamp_ns: int, segment_id: int) -> Optional[int]:
        """The candidate key segment ``segment_id`` of a recent frame was, if it was a tentative segment."""
        return self._frames.get(frame_stamp_ns, {}).get(segment_id)

    def confirmed(self, key: int, instance_id: int) -> None:
        self._confirmed_as[key] = instance_id
        while len(self._confirmed_as) > 4 * RECENT_CANDIDATE_FRAMES:
            self._confirmed_as.popitem(last=False)

    def confirmed_as(self, key: int) -> Optional[int]:
        return self._confirmed_as.get(key)


def candidates_missed(pool: CandidatePool, checked: CheckedFrame, voxel: VoxelConfig, sighted: set[int]) -> list[int]:
    """Keys of the candidates (not sighted in this frame) whose place this frame looked at without them: their box
    centre is in view and the frame's depth there lies behind the box (seen through: the place is empty), or on it
    with the box large enough in the image to have given a segment of at least twice ``objects.min_points``
    points (a detection would have been expected; one seen from farther away than that is not evidence)."""
    cands = [c for c in pool.items() if c.key not in sighted]
    if not cands:
        return []
    cfg = pool.config
    intr = checked.frame.intrinsics
    centre = np.asarray([c.box.center for c in cands], dtype=np.float64)
    extent = np.asarray([np.subtract(c.box.max_xyz, c.box.min_xyz) for c in cands], dtype=np.float64)
    half = 0.5 * extent.max(axis=1)
    camera_T_world = np.linalg.inv(checked.world_T_camera)
    p = centre @ camera_T_world[:3, :3].T + camera_T_world[:3, 3]
    z = p[:, 2]
    ok = (z > voxel.min_depth) & (z < voxel.removal_max_depth)
    zs = np.where(ok, z, 1.0)
    u = np.round(intr.fx * p[:, 0] / zs + intr.cx).astype(np.int64)
    v = np.round(intr.fy * p[:, 1] / zs + intr.cy).astype(np.int64)
    ok &= (u >= 0) & (u < intr.width) & (v >= 0) & (v < intr.height)
    d = np.zeros(len(cands))
    d[ok] = checked.depth_m[v[ok], u[ok]]
    ok &= d > 0
    margin = cfg.seen_through_margin
    through = d > z + half + margin
    side_px = intr.fx * (2.0 * half) / zs
    expected_points = 0.5 * side_px * side_px / float(voxel.pixel_stride) ** 2
    on_it = (np.abs(d - z) <= half + margin) & (expected_points >= 2 * cfg.min_points)
    return [c.key for c, hit in zip(cands, ok & (through | on_it)) if hit]


LOOK_ALIKE_DISTANCE_FRACTION = 0.5
"""A candidate within this fraction of ``match_distance`` (centroids) of a present instance is at its place."""


def present_look_alike_at(cand: Candidate, instances: Iterable[ObjectInstance],
                          config: ObjectConfig) -> Optional[ObjectInstance]:
    """The present instance a candidate about to be confirmed is, seen under other (confused) labels: of its kind, at
    its very place (centroids within half ``match_distance``), looking like it (the candidate's mean feature
    >= ``match_similarity``; single segments failed the association gates) and never segmented in a frame that
    showed the candidate (two segments in one frame are two objects). The nearest, or None."""
    if cand.feature is None:
        return None
    best, best_d = None, LOOK_ALIKE_DISTANCE_FRACTION * config.match_distance
    for inst in instances:
        if not inst.present or inst.kind is not cand.kind or inst.instance_id in cand.co_sighted:
            continue
        d = float(np.linalg.norm(np.subtract(inst.current.position, cand.position)))
        sim = cosine(inst.feature, cand.feature)
        if d <= best_d and sim is not None and sim >= config.match_similarity:
            best, best_d = inst, d
    return best
