"""Data association of one frame's segments to tracks (instances and tentative candidates), solved jointly.

Per-frame segment ids carry no identity, so every segment of a frame is matched against every track at once
(Hungarian assignment, :func:`scipy.optimize.linear_sum_assignment`) with gated costs:

* **position**: the segment's centroid lies within ``match_distance`` (m) of the track's current place (its
  centroid or its box, so partial views of large furniture stay one track);
* **appearance**: the feature cosine similarity reaches ``match_similarity``; or the segment's label is one the
  track was already seen with (a label distribution, so "mug"/"cup" flicker matches); or the segment is at the
  place of the track (boxes overlap by ``overlap_min`` of the smaller one) with a feature similarity of at least
  ``overlap_similarity`` (a confused label: the same object, not a new one inside it);
* **kind**: objects match objects, receptacles match receptacles.

The cost of a pair that passes the gates is ``distance / match_distance + (1 - similarity)
+ 0.5 (1 - label share) + 0.5 (1 - overlap)``; every segment gets at most one track and every track at most one
segment. Pure functions of their inputs (no state): deterministic for the same frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Optional, Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment

from robomem.core.types import Box3D, NodeKind

Vec3 = tuple[float, float, float]

_BOX_PAD = 0.02
"""Metres added around boxes before overlap tests (flat or single-voxel boxes still have a volume)."""

_INFEASIBLE = 1e6


@dataclass(frozen=True)
class TrackView:
    """What association needs of one track: its kind, current place, feature (unit, or None) and label counts."""

    key: int
    kind: NodeKind
    position: Vec3
    box: Box3D
    feature: Optional[np.ndarray]
    label_votes: Mapping[str, int]


@dataclass(frozen=True)
class SegmentView:
    """What association needs of one segment: kind, centroid, box, feature (unit, or None), label ('' = none)."""

    kind: NodeKind
    centroid: Vec3
    box: Box3D
    feature: Optional[np.ndarray]
    label: str


@dataclass(frozen=True)
class AssociationGates:
    """Thresholds of :func:`associate` (see the module docstring); from :class:`~robomem.config.ObjectConfig`."""

    match_distance: float
    match_similarity: float
    overlap_min: float
    overlap_similarity: float
    labels_exact: bool = False  # labels tell objects apart (robomem.core.label_trust): a label never seen is another


def place_distance(position: Vec3, box: Box3D, xyz: Vec3) -> float:
    """Smaller of the distance from ``xyz`` to ``position`` and to ``box`` (0 inside), m."""
    c = np.asarray(xyz, dtype=np.float64)
    lo, hi = np.asarray(box.min_xyz), np.asarray(box.max_xyz)
    d_box = float(np.linalg.norm(np.maximum(np.maximum(lo - c, c - hi), 0.0)))
    return min(float(np.linalg.norm(np.subtract(position, xyz))), d_box)


def box_overlap(a: Box3D, b: Box3D) -> float:
    """Intersection volume over the smaller box's volume (0..1), boxes padded by :data:`_BOX_PAD`."""
    alo, ahi = np.asarray(a.min_xyz) - _BOX_PAD, np.asarray(a.max_xyz) + _BOX_PAD
    blo, bhi = np.asarray(b.min_xyz) - _BOX_PAD, np.asarray(b.max_xyz) + _BOX_PAD
    inter = float(np.prod(np.clip(np.minimum(ahi, bhi) - np.maximum(alo, blo), 0.0, None)))
    small = min(float(np.prod(ahi - alo)), float(np.prod(bhi - blo)))
    return inter / small if small > 0 else 0.0


def label_share(votes: Mapping[str, int], label: str) -> float:
    """Fraction of a track's sightings that carried ``label`` (0 when unlabelled or never seen with it)."""
    if not label or not votes:
        return 0.0
    total = sum(votes.values())
    return votes.get(label, 0) / total if total > 0 else 0.0


def pair_cost(seg: SegmentView, track: TrackView, gates: AssociationGates) -> Optional[float]:
    """The cost of explaining ``seg`` by ``track``, or None when a gate rejects the pair."""
    if seg.kind is not track.kind:
        return None
    d = place_distance(track.position, track.box, seg.centroid)
    if d > gates.match_distance:
        return None
    sim: Optional[float] = None
    if seg.feature is not None and track.feature is not None:
        sim = float(np.dot(seg.feature, track.feature))
    share = label_share(track.label_votes, seg.label)
    if gates.labels_exact and seg.label and track.label_votes and share <= 0.0:
        return None
    overlap = box_overlap(seg.box, track.box)
    if sim is not None and sim < gates.match_similarity and share <= 0.0:
        same_place = overlap >= gates.overlap_min
        if not (same_place and sim >= gates.overlap_similarity):
            return None
    s = 1.0 if sim is None else sim
    return d / gates.match_distance + (1.0 - s) + 0.5 * (1.0 - share) + 0.5 * (1.0 - overlap)


def associate(
    segments: Sequence[SegmentView], tracks: Sequence[TrackView], gates: AssociationGates
) -> dict[int, int]:
    """Jointly match segments to tracks: {segment index: track key} for the pairs of the optimal assignment
    that pass the gates (unmatched segments are absent)."""
    if not segments or not tracks:
        return {}
    cost = np.full((len(segments), len(tracks)), _INFEASIBLE)
    # vectorised position gate first: only nearby pairs are scored in full
    cen = np.asarray([s.centroid for s in segments], dtype=np.float64)
    pos = np.asarray([t.position for t in tracks], dtype=np.float64)
    lo = np.asarray([t.box.min_xyz for t in tracks], dtype=np.float64)
    hi = np.asarray([t.box.max_xyz for t in tracks], dtype=np.float64)
    d_centre = np.linalg.norm(cen[:, None, :] - pos[None], axis=2)
    d_box = np.linalg.norm(np.maximum(np.maximum(lo[None] - cen[:, None], cen[:, None] - hi[None]), 0.0), axis=2)
    near = np.minimum(d_centre, d_box) <= gates.match_distance
    for i, j in zip(*np.nonzero(near)):
        c = pair_cost(segments[int(i)], tracks[int(j)], gates)
        if c is not None:
            cost[i, j] = c
    feasible_rows = np.nonzero((cost < _INFEASIBLE).any(axis=1))[0]
    if len(feasible_rows) == 0:
        return {}
    sub = cost[feasible_rows]
    rows, cols = linear_sum_assignment(sub)
    out: dict[int, int] = {}
    for r, c in zip(rows.tolist(), cols.tolist()):
        if sub[r, c] < _INFEASIBLE:
            out[int(feasible_rows[r])] = tracks[c].key
    return out


@dataclass(eq=False)
class Candidate:
    """A tentative instance: segments matched across frames that are not (yet) an instance.

    Confirmed into an instance after ``ObjectConfig.confirm_sightings`` sightings in distinct frames; dropped when
    not re-sighted within ``ObjectConfig.tentative_window_s`` (a spurious segment leaves nothing behind). Never
    shown to queries; not saved. ``feature``: running mean (unit) or None; ``position``/``box``: current estimate.
    """

    key: int
    kind: NodeKind
    label_votes: dict[str, int]
    feature: Optional[np.ndarray]
    position: Vec3
    box: Box3D
    first_seen_ns: int
    last_seen_ns: int
    sightings: int = 1
    co_sighted: set[int] = field(default_factory=set)  # instances segmented in a frame that also showed this one

    def view(self) -> TrackView:
        return TrackView(self.key, self.kind, self.position, self.box, self.feature, self.label_votes)
