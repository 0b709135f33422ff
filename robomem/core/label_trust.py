"""How far the detector's labels tell objects apart, measured online (:class:`LabelTrust`).

Labels are text features, and the text features of look-alikes are close ("white plastic mug" / "grey plastic
mug" ~0.9 cosine): a feature gate alone matches a segment of one mug to the track of another, and a confused-label
gate (same place, cosine >= ``overlap_similarity``) makes one object put where a look-alike stood the same
instance. With a detector whose labels flicker (category / colour confusions) that tolerance is needed; with one
whose labels are exact it merges distinct objects.

So the store measures it: for every labelled segment of a frame at the place of a present instance (centroid
within :data:`SAME_PLACE_M` of its current place, the nearest such instance, seen with a label before) it counts
whether the segment's label is the instance's most frequent one - independently of what association then decides,
so the measure does not feed on its own decisions. Once :data:`MIN_SAMPLES` such pairs were counted with at most
:data:`MAX_DISAGREEMENT` of them disagreeing, labels are *exact*: a labelled segment is never the instance (or
candidate) of an object that was never seen with its label, a vanished instance is not re-identified (or hypothesised
moved) by feature alone across different labels, and an instance whose place holds a segment with a label it was
never seen with (and that is not segmented itself) gets seen-empty evidence (``ObjectStore.displaced``): the
object there now is another one. Unlabelled segments (a class-agnostic segmenter) leave it undecided (the
tolerant gates apply). With exact labels, a label no frame showed twice is *unique*: an object first seen with it
far from the one present instance carrying it, which was not sighted since, is that object moved (its old place
was not looked at since; a person moved it) rather than a second one. Not saved: a reloaded memory measures again.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from robomem.core.association import SegmentView, TrackView
from robomem.core.instances import top_label

SAME_PLACE_M = 0.1
"""A segment whose centroid is within this distance (m) of a present instance's place is at its place."""

MIN_SAMPLES = 100
"""Same-place (segment, instance) pairs counted before labels can be called exact."""

MAX_DISAGREEMENT = 0.03
"""Largest fraction of same-place pairs whose labels differ for labels to count as exact (a detector with
~5-10 % label confusion stays well above it; a swap of look-alikes now and then stays below)."""


class LabelTrust:
    """Counts of same-place label agreement (see the module docstring)."""

    def __init__(self) -> None:
        self.agree = 0
        self.disagree = 0
        self.duplicates: set[str] = set()  # labels two segments of one frame carried (two such objects exist)

    @property
    def exact(self) -> bool:
        """Whether the labels measured so far tell objects apart."""
        n = self.agree + self.disagree
        return n >= MIN_SAMPLES and self.disagree <= MAX_DISAGREEMENT * n

    def distinct(self, label: str, votes: Mapping[str, int]) -> bool:
        """True when labels are exact and an object seen with ``votes`` was never seen with ``label``: a different
        object (False when either has no label)."""
        return bool(self.exact and label and votes and votes.get(label, 0) <= 0)

    def unique(self, label: str) -> bool:
        """True when labels are exact and no frame showed two segments with ``label``: one object carries it."""
        return bool(self.exact and label and label not in self.duplicates)

    def observe(self, segments: Sequence[SegmentView], tracks: Sequence[TrackView]) -> None:
        """Count one frame's labelled segments against the present instances at their places (``tracks``: keys > 0
        are instances; others are skipped), and note labels that two of its segments carry."""
        seen: set[str] = set()
        for s in segments:
            if s.label in seen:
                self.duplicates.add(s.label)
            seen.add(s.label)
        inst = [t for t in tracks if t.key > 0 and t.label_votes]
        if not inst or not segments:
            return
        pos = np.asarray([t.position for t in inst], dtype=np.float64)
        for s in segments:
            if not s.label:
                continue
            d = np.linalg.norm(pos - np.asarray(s.centroid, dtype=np.float64), axis=1)
            order = [int(j) for j in np.argsort(d, kind="stable") if d[j] <= SAME_PLACE_M]
            near = [j for j in order if inst[j].kind is s.kind]
            if not near:
                continue
            if top_label(dict(inst[near[0]].label_votes)) == s.label:
                self.agree += 1
            else:
                self.disagree += 1

    def displaced(self, segments: Sequence[SegmentView], tracks: Sequence[TrackView], matched: set[int]) -> list[int]:
        """Keys of present instances (not in ``matched``, the keys segmented in this frame) at whose place a
        labelled segment lies that is distinct from them (labels exact): another object stands there now."""
        if not self.exact:
            return []
        out: list[int] = []
        for t in tracks:
            if t.key <= 0 or t.key in matched or not t.label_votes:
                continue
            for s in segments:
                if s.kind is not t.kind or not self.distinct(s.label, t.label_votes):
                    continue
                if float(np.linalg.norm(np.subtract(s.centroid, t.position))) <= SAME_PLACE_M:
                    out.append(t.key)
                    break
        return out
