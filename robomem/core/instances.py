"""Per-instance value types and helpers of :mod:`robomem.core.objects` (segments, instances, placements as JSON).

Nothing here imports the object store (no import cycle); :mod:`robomem.core.objects` re-exports the types.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from robomem.core.association import Candidate
from robomem.core.types import Box3D, NodeKind, Placement

Vec3 = tuple[float, float, float]

BOX_TRIM = 0.01
"""Fraction of a segment's points left out on each side of each axis of its box (robust to stray points)."""


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
        """The points' box without the :data:`BOX_TRIM` most extreme points on each side of each axis (the odd
        point a mask's bleed left on the floor beside it does not grow a receptacle's box, the union of its views,
        for good; fewer than ``1 / BOX_TRIM`` points: the whole extent)."""
        pts = self.points_world
        n = len(pts)
        k = int(n * BOX_TRIM)
        if k == 0:
            lo, hi = pts.min(axis=0), pts.max(axis=0)
        else:
            lo = np.partition(pts, k, axis=0)[k]
            hi = np.partition(pts, n - 1 - k, axis=0)[n - 1 - k]
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
    miss_streak: int = 0  # frames with seen-empty evidence at the current place since the last sighting
    miss_since_ns: Optional[int] = None  # the first of those frames (the place was seen empty from then on)

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
    segment_to_candidate: dict[int, int] = field(default_factory=dict)  # segments of tentative instances (keys < 0)


def cosine(a: Optional[np.ndarray], b: Optional[np.ndarray]) -> Optional[float]:
    if a is None or b is None:
        return None
    return float(np.dot(a, b))


def _dist(a: Vec3, b: Vec3) -> float:
    return float(np.linalg.norm(np.subtract(a, b)))


def place_key(p: Placement) -> tuple[float, ...]:
    return (*p.position, *p.box.min_xyz, *p.box.max_xyz)


def place_distance_of(p: Placement, xyz: Vec3) -> float:
    """Smaller of the distance from ``xyz`` to the placement's centroid and to its box (0 inside), m."""
    c = np.asarray(xyz)
    lo, hi = np.asarray(p.box.min_xyz), np.asarray(p.box.max_xyz)
    d_box = float(np.linalg.norm(np.maximum(np.maximum(lo - c, c - hi), 0.0)))
    return min(_dist(p.position, xyz), d_box)


def unit(v: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(v))
    return (v / n).astype(np.float32) if n > 0 else v.astype(np.float32)


def top_label(votes: dict[str, int]) -> str:
    """The most frequent label (ties: the alphabetically last, as before), '' when none."""
    if not votes:
        return ""
    return max(votes.items(), key=lambda kv: (kv[1], kv[0]))[0]


def update_box(cur: Box3D, seen: Box3D, w: float, union: bool) -> Box3D:
    """The box after one more sighting: the union (receptacles: partial views of large furniture add up) or a
    running mean of the bounds with weight ``w`` (objects: noisy masks and depth do not grow the box forever)."""
    if union:
        return Box3D(
            tuple(min(a, b) for a, b in zip(cur.min_xyz, seen.min_xyz)),  # type: ignore[arg-type]
            tuple(max(a, b) for a, b in zip(cur.max_xyz, seen.max_xyz)),  # type: ignore[arg-type]
        )
    lo = tuple(float(a * (1 - w) + b * w) for a, b in zip(cur.min_xyz, seen.min_xyz))
    hi = tuple(float(a * (1 - w) + b * w) for a, b in zip(cur.max_xyz, seen.max_xyz))
    return Box3D(lo, hi)  # type: ignore[arg-type]


def candidate_sighting(cand: Candidate, seg: SegmentObservation, feature: Optional[np.ndarray], stamp_ns: int) -> None:
    """One more sighting of a tentative instance (running means of place and feature, label counts)."""
    cand.sightings += 1
    w = 1.0 / cand.sightings
    cand.position = tuple(float(p * (1 - w) + q * w) for p, q in zip(cand.position, seg.centroid))  # type: ignore[assignment]
    cand.box = update_box(cand.box, seg.box, w, union=cand.kind is NodeKind.RECEPTACLE)
    if feature is not None:
        cand.feature = feature if cand.feature is None else unit(cand.feature * (1 - w) + feature * w)
    if seg.label:
        cand.label_votes[seg.label] = cand.label_votes.get(seg.label, 0) + 1
    cand.last_seen_ns = max(cand.last_seen_ns, stamp_ns)


def placement_to_json(p: Placement) -> dict[str, Any]:
    return {
        "position": list(p.position),
        "box": [list(p.box.min_xyz), list(p.box.max_xyz)],
        "first_seen_ns": p.first_seen_ns,
        "last_seen_ns": p.last_seen_ns,
        "vanished_ns": p.vanished_ns,
        "receptacle_id": p.receptacle_id,
        "room": p.room,
    }


def placement_from_json(d: dict[str, Any]) -> Placement:
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
