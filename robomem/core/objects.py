"""Object instances with a position history, and their re-identification when they move.

A frame's segments (from an instance mask) become :class:`SegmentObservation` s. :meth:`ObjectStore.assign`
maps them to instances jointly per frame (:mod:`robomem.core.association`: gated costs on position, box overlap,
feature and label similarity, Hungarian assignment) against the present instances and the *tentative*
candidates. A segment that matches nothing starts a candidate; after ``confirm_sightings`` sightings it becomes

1. a *vanished* instance seen again at its old place (the "gone" was wrong) or at a new place (feature similarity
   >= ``reid_similarity``: the object was moved; a new placement is appended - one instance, two stays);
2. else a new instance, with a moved-object hypothesis (:mod:`robomem.core.hypotheses`) when a present object of
   its kind elsewhere has not been sighted since it appeared.

Candidates (:mod:`robomem.core.candidates`) whose place is looked at again without them, or that are not
re-sighted within ``tentative_window_s``, leave nothing behind (spurious segments).
Labels are counts (the reported label is the most frequent one), so a flickering label stays one instance; when
the detector's labels are measured exact (:mod:`robomem.core.label_trust`) a label never seen is another object.
Receptacles (furniture) are re-identified only at their own place, never as moved.
An instance vanishes only after ``vanish_min_frames`` frames of seen-empty evidence (:meth:`note_empty`), never
from missed detections. When it vanishes, :meth:`ObjectStore.deferred_reid` resolves its open hypotheses (moved:
the newer instance is merged in) or looks for a newer present instance with a matching feature, so "seen at the
new place before the old place was re-checked" still yields one instance.

With ``MaskIdMode.PERSISTENT`` the segment ids are trusted object ids (simulator ground truth, a tracker).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any, Optional, Sequence

import numpy as np

from robomem.config import MaskIdMode, ObjectConfig
from robomem.core.association import AssociationGates, Candidate, SegmentView, TrackView, associate
from robomem.core.candidates import CandidatePool, present_look_alike_at
from robomem.core.hypotheses import HypothesisBook, HypothesisStatus, MoveHypothesis, moved_object_candidate
from robomem.core.instances import (
    AssignResult,
    ObjectInstance,
    SegmentObservation,
    candidate_sighting,
    cosine,
    place_distance_of,
    place_key,
    top_label,
    unit,
    update_box,
)
from robomem.core.label_trust import LabelTrust
from robomem.core.object_records import objects_from_json, objects_to_json
from robomem.core.types import Box3D, NodeKind, Placement
from robomem.errors import MemoryStateError

log = logging.getLogger(__name__)

Vec3 = tuple[float, float, float]


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
        self.tentative = CandidatePool(config)  # tentative instances (negative keys), never saved
        self.hypotheses = HypothesisBook()
        self.labels = LabelTrust()  # whether the detector's labels tell look-alikes apart (measured online)
        self.displaced: list[int] = []  # present instances another (distinct-label) object stood in this frame

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
        """Match this frame's segments to instances, creating / moving instances as needed.

        Per-frame ids (the default): joint gated assignment (:mod:`robomem.core.association`) to the present
        instances and the tentative candidates; a segment that matches nothing starts a candidate, which becomes an
        instance (new, re-identified or moved) after ``confirm_sightings`` sightings. Persistent ids (a tracker):
        the id says which instance it is.
        """
        if self.config.mask_ids is MaskIdMode.PERSISTENT:
            return self._assign_persistent(segments, stamp_ns)
        return self._assign_per_frame(segments, stamp_ns)

    def _assign_persistent(self, segments: list[SegmentObservation], stamp_ns: int) -> AssignResult:
        mapping: dict[int, int] = {}
        created: list[int] = []
        moved: list[int] = []
        updated: list[int] = []
        for seg in sorted(segments, key=lambda s: -len(s.points_world)):
            if len(seg.points_world) < self.config.min_points:
                continue
            inst = self._match_persistent(seg)
            if inst is None:
                inst = self._create(seg.kind, dict({seg.label: 1} if seg.label else {}), seg.feature,
                                    Placement(seg.centroid, seg.box, stamp_ns, stamp_ns), 1, seg.segment_id)
                created.append(inst.instance_id)
            else:
                near = place_distance_of(inst.current, seg.centroid) <= self.config.match_distance
                gone_at = inst.current.vanished_ns
                if inst.present and near:
                    self._observe_same_place(inst, seg, stamp_ns)
                    updated.append(inst.instance_id)
                elif near and gone_at is not None and stamp_ns <= gone_at:
                    # a frame from before it left (e.g. the robot's pick was reported before this frame came):
                    # it was there then; no live sighting (the segment's points stay unlabelled)
                    self._fuse(inst, seg.feature, seg.label)
                    inst.placements[-1] = replace(inst.current, last_seen_ns=max(inst.current.last_seen_ns, stamp_ns))
                    continue
                elif near:  # seen again where it was seen gone: the "gone" was wrong (or it was put back)
                    self._revive(inst)
                    self._observe_same_place(inst, seg, stamp_ns)
                    updated.append(inst.instance_id)
                else:
                    self._move(inst, Placement(seg.centroid, seg.box, stamp_ns, stamp_ns))
                    self._fuse(inst, seg.feature, seg.label)
                    moved.append(inst.instance_id)
            self._positions[inst.instance_id] = place_key(inst.current)
            mapping[seg.segment_id] = inst.instance_id
        return AssignResult(mapping, tuple(created), tuple(moved), tuple(updated))

    def _gates(self) -> AssociationGates:
        c = self.config
        return AssociationGates(c.match_distance, c.match_similarity, c.overlap_min, c.overlap_similarity,
                                labels_exact=self.labels.exact)

    def _assign_per_frame(self, segments: list[SegmentObservation], stamp_ns: int) -> AssignResult:
        cfg = self.config
        mapping: dict[int, int] = {}
        to_candidate: dict[int, int] = {}
        buckets: dict[str, list[int]] = {"created": [], "moved": [], "updated": []}
        segs = sorted((s for s in segments if len(s.points_world) >= cfg.min_points),
                      key=lambda s: (-len(s.points_world), s.segment_id))
        views = [SegmentView(s.kind, s.centroid, s.box, None if s.feature is None else unit(s.feature), s.label)
                 for s in segs]
        tracks = [
            TrackView(i.instance_id, i.kind, i.current.position, i.current.box, i.feature, i.label_votes)
            for i in sorted(self._instances.values(), key=lambda i: i.instance_id) if i.present
        ] + self.tentative.views()
        self.labels.observe(views, tracks)
        match = associate(views, tracks, self._gates())
        for k, seg in enumerate(segs):
            key = match.get(k)
            if key is not None and key > 0:
                inst = self._instances[key]
                self._observe_same_place(inst, seg, stamp_ns)
                self._positions[key] = place_key(inst.current)
                buckets["updated"].append(key)
                mapping[seg.segment_id] = key
                continue
            cand = self.tentative.get(key)
            if cand is None:
                cand = self.tentative.new(seg, views[k].feature, stamp_ns)
            else:
                candidate_sighting(cand, seg, views[k].feature, stamp_ns)
                self.tentative.sighted(cand.key)
            cand.co_sighted.update(t for t in match.values() if t > 0)  # instances segmented in the same frame
            if cand.sightings < cfg.confirm_sightings:
                to_candidate[seg.segment_id] = cand.key
                continue
            outcome = self._confirm(cand, stamp_ns)
            if outcome is None:
                continue
            iid, bucket = outcome
            buckets[bucket].append(iid)
            mapping[seg.segment_id] = iid
        self.tentative.expire(stamp_ns)
        self._sighted(set(mapping.values()), stamp_ns)
        self.displaced = self.labels.displaced(views, tracks, set(mapping.values()))
        if to_candidate:
            self.tentative.remember_frame(stamp_ns, to_candidate)
        return AssignResult(mapping, tuple(buckets["created"]), tuple(buckets["moved"]), tuple(buckets["updated"]),
                            to_candidate)

    def confirm_segment(self, frame_stamp_ns: int, segment_id: int) -> Optional[int]:
        """The instance a tentative segment of a recent frame is (confirming its candidate now: the robot acted on
        it, so it is real), or None when that segment was no candidate or its candidate was dropped."""
        key = self.tentative.key_of(frame_stamp_ns, segment_id)
        if key is None:
            return None
        became = self.tentative.confirmed_as(key)
        if became is not None:
            return self.canonical(became)
        cand = self.tentative.get(key)
        if cand is None:
            return None
        outcome = self._confirm(cand, cand.last_seen_ns)
        return outcome[0] if outcome is not None else None

    def fold_candidate(self, instance_id: int, key: int, cand: Optional[Candidate] = None) -> None:
        """Tentative candidate ``key`` is ``instance_id`` seen at its current (e.g. provisional, put-down) place:
        its sightings refine that place and it stops being a candidate."""
        cand, inst = cand or self.tentative.get(key), self.get(instance_id)
        if cand is None:
            return
        self.tentative.pop(key)
        self.tentative.confirmed(key, instance_id)
        self._fuse_candidate(inst, cand)
        cur = inst.current
        inst.placements[-1] = replace(cur, position=cand.position, box=cand.box,
                                      last_seen_ns=max(cur.last_seen_ns, cand.last_seen_ns))
        inst.provisional, inst.present, inst.miss_streak = False, True, 0
        self._positions[instance_id] = place_key(inst.current)

    def candidates(self) -> int:
        """How many tentative (unconfirmed) instances there are now."""
        return len(self.tentative)

    def _confirm(self, cand: Candidate, stamp_ns: int) -> Optional[tuple[int, str]]:
        """A candidate seen often enough: a vanished instance re-identified (back at its place, or moved), or a new
        instance. Returns (instance id, "created" | "moved" | "updated"), or None for a sighting from before the
        instance's known departure."""
        self.tentative.pop(cand.key)
        outcome = self._confirm_as(cand, stamp_ns)
        if outcome is not None:
            self.tentative.confirmed(cand.key, outcome[0])
        return outcome

    def _confirm_as(self, cand: Candidate, stamp_ns: int) -> Optional[tuple[int, str]]:
        old = self._reidentify(cand) or self._unique_elsewhere(cand)
        if old is not None:
            near_old = place_distance_of(old.current, cand.position) <= self.config.match_distance
            gone_at = old.current.vanished_ns
            if near_old and gone_at is not None and cand.last_seen_ns <= gone_at:
                self._fuse_candidate(old, cand)
                old.placements[-1] = replace(old.current, last_seen_ns=max(old.current.last_seen_ns, cand.last_seen_ns))
                return None
            if near_old:  # seen again where it was seen gone: the "gone" was wrong (or it was put back)
                self._revive(old)
                self._fuse_candidate(old, cand)
                old.placements[-1] = replace(old.current, last_seen_ns=max(old.current.last_seen_ns, stamp_ns))
                old.miss_streak = 0
                self._positions[old.instance_id] = place_key(old.current)
                return old.instance_id, "updated"
            self._move(old, Placement(cand.position, cand.box, cand.first_seen_ns, cand.last_seen_ns))
            self._fuse_candidate(old, cand)
            self._positions[old.instance_id] = place_key(old.current)
            return old.instance_id, "moved"
        same = present_look_alike_at(cand, self._instances.values(), self.config)
        # a present object seen under other labels while it was not seen itself (unless exact labels tell them apart)
        if same is not None and not self.labels.distinct(top_label(cand.label_votes), same.label_votes):
            self.fold_candidate(same.instance_id, cand.key, cand)
            return same.instance_id, "updated"
        inst = self._create(cand.kind, dict(cand.label_votes), cand.feature,
                            Placement(cand.position, cand.box, cand.first_seen_ns, cand.last_seen_ns),
                            cand.sightings, None)
        self._positions[inst.instance_id] = place_key(inst.current)
        self._open_hypothesis(inst)
        return inst.instance_id, "created"

    def _match_persistent(self, seg: SegmentObservation) -> Optional[ObjectInstance]:
        iid = self._by_source.get(seg.segment_id)
        return self._instances.get(iid) if iid is not None else None

    def _reidentify(self, cand: Candidate) -> Optional[ObjectInstance]:
        """The vanished instance the candidate is: the nearest one whose last place it is at (within
        ``match_distance``) that was seen with the candidate's most frequent label (its "gone" was wrong, or it was
        put back; the feature may be off under label noise), else the one of its kind most similar to it
        (>= reid_similarity) anywhere."""
        gone = [i for i in self._instances.values() if not i.present and i.kind is cand.kind]
        label = top_label(cand.label_votes)
        at_place = [(d, i.instance_id, i) for i in gone if label and label in i.label_votes
                    and (d := place_distance_of(i.current, cand.position)) <= self.config.match_distance]
        if at_place:
            return min(at_place, key=lambda t: (t[0], t[1]))[2]
        if cand.feature is None or cand.kind is not NodeKind.OBJECT:  # furniture does not move
            return None
        best: Optional[ObjectInstance] = None
        best_key = (-1.0, -1)
        for inst in gone:
            if self.labels.distinct(label, inst.label_votes):
                continue
            sim = cosine(inst.feature, cand.feature)
            if sim is None or sim < self.config.reid_similarity:
                continue
            key = (round(sim, 4), inst.current.vanished_ns or 0)  # most similar, then most recently vanished
            if key > best_key:
                best, best_key = inst, key
        return best

    def _unique_elsewhere(self, cand: Candidate) -> Optional[ObjectInstance]:
        """With exact labels: the one present object elsewhere with the candidate's (unique) label, not sighted since
        the candidate was first seen - the same object, moved (:mod:`robomem.core.label_trust`)."""
        label = top_label(cand.label_votes)
        if cand.kind is not NodeKind.OBJECT or not self.labels.unique(label):
            return None
        same = [i for i in self._instances.values() if i.present and i.kind is cand.kind and i.label == label
                and i.current.last_seen_ns < cand.first_seen_ns
                and place_distance_of(i.current, cand.position) > self.config.match_distance]
        return same[0] if len(same) == 1 else None

    # ------------------------------------------------------------------------------------------- hypotheses
    def _open_hypothesis(self, new: ObjectInstance) -> Optional[MoveHypothesis]:
        """``new`` was just confirmed: if a present object of its kind elsewhere has not been sighted since
        ``new`` first was, it may be that object moved (see :mod:`robomem.core.hypotheses`)."""
        found = moved_object_candidate(new, self._instances.values(), self.config)
        if found is None:
            return None
        best, sim = found
        if self.labels.distinct(new.label, best.label_votes):  # exact labels: another object (label_trust)
            return None
        h = self.hypotheses.add(best.instance_id, new.instance_id, sim, new.first_seen_ns, best.current.last_seen_ns)
        log.debug("hypothesis %d: instance %d may have moved to where %d was seen", h.hypothesis_id,
                  best.instance_id, new.instance_id)
        return h

    def _sighted(self, instance_ids: set[int], stamp_ns: int) -> None:
        """Instances sighted in a frame: an open hypothesis whose old instance is sighted at its old place after
        the new one appeared is two objects."""
        for h in self.hypotheses.open():
            if h.old_id in instance_ids and stamp_ns >= h.opened_ns:
                self.hypotheses.resolve(h.hypothesis_id, HypothesisStatus.DISTINCT, stamp_ns,
                                        "its old place was seen with it after the other was seen")

    def open_hypotheses(self, instance_id: int) -> list[MoveHypothesis]:
        """Open hypotheses naming ``instance_id`` (as the possibly moved object or as its possible new place)."""
        return self.hypotheses.open_involving(instance_id)

    def after_pick(self, instance_id: int, stamp_ns: int) -> Optional[int]:
        """The robot picked ``instance_id`` at ``stamp_ns``: its open hypotheses are decided. Returns the id of an
        instance first seen after the pick that is the object put down (to merge into it), or None."""
        merge: Optional[int] = None
        # only hypotheses naming it as the possibly moved object: picking the possible new place's object says
        # nothing about whether the old one moved there (its old place decides that)
        for h in self.hypotheses.open_for_old(instance_id):
            other = self._instances.get(h.new_id)
            if other is not None and other.first_seen_ns >= stamp_ns and merge is None:
                merge = other.instance_id
                self.hypotheses.resolve(h.hypothesis_id, HypothesisStatus.MOVED, stamp_ns, "the robot moved it")
            else:
                self.hypotheses.resolve(h.hypothesis_id, HypothesisStatus.DISTINCT, stamp_ns,
                                        "the robot picked it from its old place")
        return merge

    def _create(self, kind: NodeKind, label_votes: dict[str, int], feature: Optional[np.ndarray],
                placement: Placement, n_observations: int, source_key: Optional[int]) -> ObjectInstance:
        iid = self._next_id
        self._next_id += 1
        inst = ObjectInstance(
            instance_id=iid,
            kind=kind,
            label=top_label(label_votes),
            feature=None if feature is None else unit(feature),
            placements=[placement],
            n_observations=n_observations,
            label_votes=label_votes,
            source_key=source_key,
        )
        self._instances[iid] = inst
        if inst.source_key is not None:
            self._by_source[inst.source_key] = iid
        return inst

    def _fuse(self, inst: ObjectInstance, feature: Optional[np.ndarray], label: str, n: int = 1) -> None:
        """Fold ``n`` sightings with this (mean) feature and label into the instance (label counts, not last wins)."""
        inst.n_observations += n
        if feature is not None:
            if inst.feature is None:
                inst.feature = unit(feature)
            else:
                k = min(inst.n_observations, 100)  # running mean that keeps adapting after 100 views
                w = min(n / k, 1.0)
                inst.feature = unit(inst.feature * (1.0 - w) + unit(feature) * w)
        if label:
            inst.label_votes[label] = inst.label_votes.get(label, 0) + n
            inst.label = top_label(inst.label_votes)

    def _fuse_candidate(self, inst: ObjectInstance, cand: Candidate) -> None:
        self._fuse(inst, cand.feature, "", n=cand.sightings)
        for lab, k in cand.label_votes.items():
            inst.label_votes[lab] = inst.label_votes.get(lab, 0) + k
        if inst.label_votes:
            inst.label = top_label(inst.label_votes)

    def _observe_same_place(self, inst: ObjectInstance, seg: SegmentObservation, stamp_ns: int) -> None:
        self._fuse(inst, seg.feature, seg.label)
        inst.miss_streak = 0
        cur = inst.current
        if inst.provisional:  # first sighting at a place known from the gripper: the sighting is the place
            inst.provisional = False
            inst.placements[-1] = replace(cur, position=seg.centroid, box=seg.box,
                                          last_seen_ns=max(cur.last_seen_ns, stamp_ns))
            inst.present = True
            return
        w = 1.0 / min(inst.n_observations, 20)
        pos = tuple(float(p * (1 - w) + q * w) for p, q in zip(cur.position, seg.centroid))
        box = update_box(cur.box, seg.box, w, union=inst.kind is NodeKind.RECEPTACLE)
        inst.placements[-1] = replace(cur, position=pos, box=box, last_seen_ns=max(cur.last_seen_ns, stamp_ns))  # type: ignore[arg-type]
        inst.present = True

    def _revive(self, inst: ObjectInstance) -> None:
        inst.placements[-1] = replace(inst.current, vanished_ns=None)
        inst.present = True
        inst.miss_streak = 0
        log.debug("instance %d re-observed at the place it had vanished from", inst.instance_id)

    def _move(self, inst: ObjectInstance, placement: Placement) -> None:
        """The instance is seen at a new place (``placement``); a place still believed current closes then."""
        cur = inst.current
        if cur.vanished_ns is None:  # seen elsewhere before its old place was seen empty
            inst.placements[-1] = replace(cur, vanished_ns=placement.first_seen_ns)
        inst.placements.append(placement)
        inst.present = True
        inst.miss_streak = 0
        inst.provisional = False

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

    def carved_away(self, remaining: dict[int, int], carved: dict[int, int]) -> list[int]:
        """Present instances whose voxels were carved this frame below ``vanish_fraction`` of their peak.

        ``carved``: instance -> voxels removed this frame; ``remaining``: instance -> voxels left.
        """
        out: list[int] = []
        for iid, n_removed in sorted(carved.items()):
            inst = self._instances.get(iid)
            if inst is None or not inst.present or n_removed <= 0:
                continue
            if remaining.get(iid, 0) < self.config.vanish_fraction * max(inst.peak_voxels, 1):
                out.append(iid)
        return out

    def note_empty(self, instance_ids: Sequence[int], stamp_ns: int) -> list[int]:
        """One frame's seen-empty evidence (carved away, seen through) for instances it did not segment.

        An instance vanishes once ``vanish_min_frames`` frames gave such evidence since its last sighting (a
        missed detection alone never removes anything; one noisy frame does not either). Returns the ids
        that vanished now.
        """
        gone: list[int] = []
        for iid in sorted(set(int(i) for i in instance_ids)):
            inst = self._instances.get(iid)
            if inst is None or not inst.present:
                continue
            if inst.miss_streak == 0 or inst.miss_since_ns is None:
                inst.miss_since_ns = stamp_ns
            inst.miss_streak += 1
            if inst.miss_streak >= self.config.vanish_min_frames:
                self.mark_vanished(iid, min(inst.miss_since_ns, stamp_ns))
                gone.append(iid)
        return gone

    def mark_vanished(self, instance_id: int, stamp_ns: int) -> bool:
        """The instance's place was seen empty at ``stamp_ns``; returns False if it was not present."""
        inst = self._instances.get(instance_id)
        if inst is None or not inst.present:
            return False
        inst.present = False
        inst.miss_streak, inst.miss_since_ns = 0, None
        inst.placements[-1] = replace(inst.current, vanished_ns=stamp_ns)
        self._positions.pop(instance_id, None)
        # an open hypothesis naming it as the possible new place of another object stays open: if the other's old
        # place is seen empty too, the object went old place -> this place -> elsewhere (one identity)
        return True

    def deferred_reid(self, vanished_id: int) -> Optional[int]:
        """After ``vanished_id`` vanished: merge a newer present instance that is the same object moved.

        Returns the id that was merged into ``vanished_id`` (and removed), or None.
        """
        old = self._instances[vanished_id]
        if self.config.mask_ids is MaskIdMode.PERSISTENT:
            return None
        stamp = old.current.vanished_ns or old.current.last_seen_ns
        open_h = sorted(self.hypotheses.open_for_old(vanished_id), key=lambda h: (-h.similarity, h.hypothesis_id))
        for h in open_h:
            cand = self._instances.get(h.new_id)  # present, or gone from there too (it moved on)
            if cand is None or cand.first_seen_ns < old.current.last_seen_ns:
                continue
            self.hypotheses.resolve(h.hypothesis_id, HypothesisStatus.MOVED, stamp, "its old place was seen empty")
            others = [o for o in self.hypotheses.open() if o.old_id == vanished_id or o.new_id == h.new_id]
            self.hypotheses.resolve_all(others, HypothesisStatus.DISTINCT, stamp, "the other one was the moved object")
            self.merge(vanished_id, h.new_id)
            log.debug("hypothesis %d resolved: instance %d moved (was %d)", h.hypothesis_id, vanished_id, h.new_id)
            return h.new_id
        if old.feature is None or old.kind is not NodeKind.OBJECT:  # furniture does not move
            return None
        best: Optional[ObjectInstance] = None
        best_sim = self.config.reid_similarity
        for inst in self._instances.values():
            if inst.instance_id == vanished_id or not inst.present or inst.kind is not old.kind:
                continue
            if self.labels.distinct(inst.label, old.label_votes):
                continue
            if inst.first_seen_ns < old.current.last_seen_ns or len(inst.placements) != 1:
                continue
            sim = cosine(old.feature, inst.feature)
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
            old.label = top_label(old.label_votes)
        if newer.feature is not None:
            old.feature = newer.feature if old.feature is None else unit(old.feature + newer.feature)
        old.miss_streak = newer.miss_streak
        del self._instances[newer.instance_id]
        self.hypotheses.renamed(newer.instance_id, old.instance_id)
        self.hypotheses.resolve_all([h for h in self.hypotheses.open() if h.old_id == h.new_id],
                                    HypothesisStatus.MOVED, newer.first_seen_ns, "merged")
        self._merged_into[newer.instance_id] = old.instance_id
        self._positions.pop(newer.instance_id, None)
        self._positions.pop(old.instance_id, None)
        if old.present:
            self._positions[old.instance_id] = place_key(old.current)

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
        self._positions[instance_id] = place_key(inst.current)

    # ------------------------------------------------------------------------------------------- persistence
    def state(self) -> tuple[dict[str, Any], np.ndarray]:
        """(JSON-able metadata, (N, D) float32 feature matrix with rows in metadata order; D=0 if none)."""
        return objects_to_json(self._instances.values(), self._next_id, self._merged_into, self.hypotheses)

    @classmethod
    def from_state(cls, config: ObjectConfig, meta: dict[str, Any], features: np.ndarray) -> ObjectStore:
        """Rebuild from :meth:`state` (:mod:`robomem.core.object_records`). Raises PersistenceError."""
        store = cls(config)
        store._next_id, instances, store._merged_into, store.hypotheses = objects_from_json(meta, features)
        for inst in instances:
            store._instances[inst.instance_id] = inst
            if inst.present:
                store._positions[inst.instance_id] = place_key(inst.current)
            if inst.source_key is not None:
                store._by_source[inst.source_key] = inst.instance_id
        return store
