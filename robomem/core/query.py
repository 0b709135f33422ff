"""The read side of the memory: typed queries answered from a :class:`~robomem.core.state.MemoryState`.

The engine reads one state and never writes it. The caller (the facade) holds whatever lock guards that
state and syncs its vector indices first (``MemoryState.sync_indices``). Every public method returns a typed
result whose ``status`` says OK / NOT_FOUND / BAD_REQUEST; a :class:`~robomem.errors.QueryError` raised inside
is turned into BAD_REQUEST with its message, so callers (ROS services, planners) never see an exception for a
bad query.
"""

from __future__ import annotations

import functools
import logging
from typing import Any, Callable, Iterable, Optional, TypeVar

import numpy as np

from robomem.core.features import TextFeatures
from robomem.core.hypotheses import MoveHypothesis
from robomem.core.objects import ObjectInstance
from robomem.core.query_actions import action_records
from robomem.core.query_types import (
    ActionsResult,
    Change,
    ChangeKind,
    ChangesResult,
    CountResult,
    GraphEdge,
    HistoryResult,
    InstanceResult,
    InstanceSummary,
    KeyframeInfo,
    KeyframesResult,
    LocateResult,
    MoveNote,
    QueryStatus,
    RelationsResult,
    RoomVisitsResult,
    StateResult,
)
from robomem.core.state import MemoryState
from robomem.core.types import ActionKind, Placement
from robomem.errors import MemoryStateError, QueryError

log = logging.getLogger(__name__)
R = TypeVar("R")

_RESULT_FOR: dict[str, Any] = {
    "locate": LocateResult,
    "last_seen": InstanceResult,
    "where_at": InstanceResult,
    "history": HistoryResult,
    "changes": ChangesResult,
    "count": CountResult,
    "relations": RelationsResult,
    "state_at": StateResult,
    "keyframes_for": KeyframesResult,
    "room_visits": RoomVisitsResult,
    "actions": ActionsResult,
}


def _query(fn: Callable[..., R]) -> Callable[..., R]:
    """Turn QueryError / MemoryStateError into a BAD_REQUEST result."""

    @functools.wraps(fn)
    def wrapper(self: QueryEngine, *args: Any, **kwargs: Any) -> R:
        try:
            return fn(self, *args, **kwargs)
        except (QueryError, MemoryStateError) as exc:
            result_type = _RESULT_FOR[fn.__name__]
            return result_type(status=QueryStatus.BAD_REQUEST, message=str(exc))  # type: ignore[no-any-return]

    return wrapper


def _sorted_edges(edges: Iterable[GraphEdge]) -> tuple[GraphEdge, ...]:
    """Edges in a stable order (source, relation, target, first interval) whatever the graph's insertion order."""
    return tuple(sorted(edges, key=lambda e: (e.source.key, e.relation.value, e.target.key,
                                              e.intervals[0].start_ns if e.intervals else 0)))


class QueryEngine:
    """Answers :class:`~robomem.core.api.MemoryQueries` from one state (read only)."""

    def __init__(self, state: MemoryState, text_feature: TextFeatures) -> None:
        self.state = state
        self.text_feature = text_feature

    # ------------------------------------------------------------------------------------------ helpers
    @property
    def _relative(self) -> bool:
        """Relevance against negative prompts instead of raw cosine (``QueryConfig.score_mode``)."""
        mode = self.state.config.query.score_mode
        return mode == "relative" or (mode == "auto" and bool(self.text_feature.encoder.supports_images))

    @property
    def _threshold(self) -> float:
        cfg = self.state.config.query
        return cfg.relative_threshold if self._relative else cfg.not_found_threshold

    @property
    def _score_name(self) -> str:
        return "relevance" if self._relative else "similarity"

    def _relevance(self, q: np.ndarray, feats: np.ndarray) -> np.ndarray:
        """(M,) relevance of the query feature ``q`` to (M, D) unit features: min over the negative prompts of
        sigmoid(T * (cos(q, f) - cos(neg, f))). Negatives that mean the query itself (cosine > 0.95) are skipped."""
        cfg = self.state.config.query
        negs = np.stack([self.text_feature(p) for p in cfg.negative_prompts])
        negs = negs[negs @ q < 0.95]
        sq = feats @ q
        if len(negs) == 0:
            return np.asarray(1.0 / (1.0 + np.exp(-cfg.relative_temperature * sq)), dtype=np.float64)
        margin = sq[:, None] - feats @ negs.T  # (M, N)
        worst = margin.min(axis=1)
        return np.asarray(1.0 / (1.0 + np.exp(-cfg.relative_temperature * worst)), dtype=np.float64)

    def _query_feature(self, text: Optional[str], feature: Optional[np.ndarray]) -> np.ndarray:
        if feature is not None:
            f = np.asarray(feature, dtype=np.float32).reshape(-1)
            if f.shape[0] != self.state.feature_dim or not np.all(np.isfinite(f)):
                raise QueryError(
                    f"query feature must be {self.state.feature_dim} finite floats, got shape {f.shape}"
                )
            n = float(np.linalg.norm(f))
            if n == 0:
                raise QueryError("query feature is all zeros")
            return f / n
        if text is None or not text.strip():
            raise QueryError("give a non-empty text (or a feature) to search for")
        limit = self.state.config.query.max_text_chars
        if len(text) > limit:
            raise QueryError(f"text is {len(text)} characters long; at most {limit} are accepted "
                             "(query.max_text_chars): ask about one thing in a short phrase")
        return self.text_feature(text.strip().lower())

    def _ranked(
        self, text: Optional[str], feature: Optional[np.ndarray], include_vanished: bool, k: int
    ) -> list[tuple[ObjectInstance, float]]:
        """Instances ranked by similarity (all above nothing: the caller applies the threshold)."""
        if k <= 0:
            raise QueryError(f"k must be >= 1, got {k}")
        q = self._query_feature(text, feature)
        index = self.state.instance_index
        if len(index) == 0:
            return []
        want = min(len(index), max(4 * k, 32))
        out: list[tuple[ObjectInstance, float]] = []
        while True:
            scores, ids = index.search(q[None, :], want)
            out = []
            for s, iid in zip(scores[0].tolist(), ids[0].tolist()):
                if iid < 0 or iid not in self.state.objects:
                    continue
                inst = self.state.objects.get(iid)
                if include_vanished or inst.present:
                    out.append((inst, float(s)))
            if len(out) >= k or want >= len(index):
                return self._calibrated(q, out)
            want = min(len(index), want * 4)

    def _calibrated(
        self, q: np.ndarray, ranked: list[tuple[ObjectInstance, float]]
    ) -> list[tuple[ObjectInstance, float]]:
        """Relative mode: re-score (and re-rank) the candidates by relevance; absolute mode: as they are."""
        if not self._relative or not ranked:
            return ranked
        feats = [i.feature for i, _ in ranked]
        if any(f is None for f in feats):
            return ranked
        rel = self._relevance(q, np.stack([np.asarray(f, dtype=np.float32) for f in feats]))
        order = np.argsort(-rel, kind="stable")
        return [(ranked[j][0], float(rel[j])) for j in order.tolist()]

    def _summary(
        self, inst: ObjectInstance, score: float = 1.0, placement: Optional[Placement] = None
    ) -> InstanceSummary:
        p = placement or inst.current
        rec_label = None
        if p.receptacle_id is not None and p.receptacle_id in self.state.objects:
            rec_label = self.state.objects.get(p.receptacle_id).label
        return InstanceSummary(
            instance_id=inst.instance_id,
            label=inst.label,
            kind=inst.kind,
            position=p.position,
            box=p.box,
            score=score,
            first_seen_ns=inst.first_seen_ns,
            last_seen_ns=inst.last_seen_ns,
            present=inst.present,
            n_observations=inst.n_observations,
            receptacle_id=p.receptacle_id,
            receptacle_label=rec_label,
            room=p.room,
            open_move=self._move_note(inst.instance_id),
        )

    def _move_note(self, instance_id: int) -> Optional[MoveNote]:
        """The open moved-object hypothesis about the instance (as the old or the new one), if any."""
        objs = self.state.objects
        hyps = [h for h in objs.open_hypotheses(instance_id) if (n := objs.find(h.new_id)) is not None and n.present]
        if not hyps:
            return None
        h = max(hyps, key=lambda x: (x.similarity, x.hypothesis_id))
        new, old = objs.find(h.new_id), objs.find(h.old_id)
        if new is None or old is None:
            return None
        p = new.current
        rec = objs.find(p.receptacle_id) if p.receptacle_id is not None else None
        where = " ".join(x for x in (f"the {rec.label}" if rec is not None and rec.label else "",
                                     f"in the {p.room}" if p.room else "") if x) or (
            f"({p.position[0]:.2f}, {p.position[1]:.2f}, {p.position[2]:.2f})")
        if instance_id == h.old_id:
            text = (f"{old.label or 'it'} was probably moved to {where}; its old place has not been seen since "
                    f"{h.old_last_seen_ns}")
        else:
            text = (f"this may be {old.label or 'an object'} #{old.instance_id} moved here; its old place has not "
                    f"been seen since {h.old_last_seen_ns}")
        return MoveNote(h.old_id, h.new_id, p.position, new.first_seen_ns, h.old_last_seen_ns, text, p.room,
                        rec.label if rec is not None else None)

    def hypotheses(self, open_only: bool = True) -> tuple[MoveHypothesis, ...]:
        """The moved-object hypotheses (open ones, or all with their resolutions), oldest first."""
        hs = self.state.objects.hypotheses.open() if open_only else self.state.objects.hypotheses.all()
        return tuple(sorted(hs, key=lambda h: h.hypothesis_id))

    def _resolve(self, instance_id: Optional[int], text: Optional[str]) -> tuple[Optional[ObjectInstance], float, str]:
        """(instance, score, why-not) for an id or the best text match (vanished instances included)."""
        if instance_id is not None:
            return self.state.objects.get(int(instance_id)), 1.0, ""
        if text is None:
            raise QueryError("give an instance_id or a text")
        ranked = self._ranked(text, None, include_vanished=True, k=1)
        if not ranked:
            return None, 0.0, f"the memory holds no instance yet (asked for {text!r})"
        inst, score = ranked[0]
        if score < self._threshold:
            return None, score, (
                f"nothing in memory matches {text!r} (best: {inst.label!r} at {self._score_name} {score:.2f} < "
                f"threshold {self._threshold:.2f})"
            )
        return inst, score, ""

    @staticmethod
    def _check_time(t_ns: Any, name: str = "t_ns") -> int:
        if isinstance(t_ns, bool) or not isinstance(t_ns, (int, np.integer)) or t_ns < 0:
            raise QueryError(f"{name} must be a non-negative integer of ns since the epoch, got {t_ns!r}")
        return int(t_ns)

    # ------------------------------------------------------------------------------------------ queries
    @_query
    def locate(
        self, text: Optional[str], feature: Optional[np.ndarray], k: int, include_vanished: bool
    ) -> LocateResult:
        ranked = self._ranked(text, feature, include_vanished, k)
        what = repr(text) if text is not None else "the given feature"
        if not ranked:
            return LocateResult(QueryStatus.NOT_FOUND, f"no {'' if include_vanished else 'present '}instance in memory "
                                f"to match {what}")
        good = [(i, s) for i, s in ranked if s >= self._threshold][:k]
        if not good:
            best, s = ranked[0]
            return LocateResult(
                QueryStatus.NOT_FOUND,
                f"nothing in memory matches {what} (best: {best.label!r} at {self._score_name} {s:.2f} < "
                f"threshold {self._threshold:.2f})",
            )
        matches = tuple(self._summary(i, s) for i, s in good)
        notes = "".join(f"; #{m.instance_id}: {m.open_move.text}" for m in matches if m.open_move is not None)
        return LocateResult(QueryStatus.OK, f"{len(matches)} match(es) for {what}{notes}", matches)

    def locate_voxels(self, text: str, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        q = self._query_feature(text, None)
        idx = self.state.voxel_index
        if len(idx) == 0:
            return np.zeros((0, 3), np.float32), np.zeros(0, np.float32)
        scores, uids = idx.search(q[None, :], min(k, len(idx)))
        keep = uids[0] >= 0
        rows = self.state.voxels.rows_for_uids(uids[0][keep])
        ok = rows >= 0
        pos = self.state.voxels.positions.cpu().numpy()[rows[ok]]
        return pos.astype(np.float32), scores[0][keep][ok].astype(np.float32)

    @_query
    def last_seen(self, instance_id: Optional[int], text: Optional[str]) -> InstanceResult:
        inst, score, why = self._resolve(instance_id, text)
        if inst is None:
            return InstanceResult(QueryStatus.NOT_FOUND, why)
        p = max(inst.placements, key=lambda q: q.last_seen_ns)
        state = "still there" if inst.present and p is inst.current else (
            f"gone since {p.vanished_ns}" if p.vanished_ns is not None else "not re-checked since")
        note = self._move_note(inst.instance_id)
        if note is not None:
            state += f"; {note.text}"
        where = p.receptacle_id is not None and f" on/in {self._summary(inst, score, p).receptacle_label}" or ""
        return InstanceResult(
            QueryStatus.OK,
            f"{inst.label or 'instance'} #{inst.instance_id} last seen at {p.last_seen_ns}{where}"
            f"{' in ' + p.room if p.room else ''} ({state})",
            self._summary(inst, score, p),
            p,
        )

    @_query
    def where_at(self, t_ns: int, instance_id: Optional[int], text: Optional[str]) -> InstanceResult:
        t = self._check_time(t_ns)
        if instance_id is not None:
            inst: Optional[ObjectInstance] = self.state.objects.get(int(instance_id))
            score = 1.0
        else:
            if text is None:
                raise QueryError("give an instance_id or a text")
            # the best match among instances that existed at t
            ranked = [(i, s) for i, s in self._ranked(text, None, True, 50) if i.first_seen_ns <= t]
            ranked = [(i, s) for i, s in ranked if s >= self._threshold]
            with_place = [(i, s) for i, s in ranked if i.placement_at(t) is not None]
            pick = with_place or ranked
            inst, score = pick[0] if pick else (None, 0.0)
            if inst is None:
                return InstanceResult(QueryStatus.NOT_FOUND, f"nothing matching {text!r} had been seen by {t}")
        assert inst is not None
        p = inst.placement_at(t)
        if p is None:
            before = [q for q in inst.placements if q.first_seen_ns <= t]
            if not before:
                return InstanceResult(
                    QueryStatus.NOT_FOUND,
                    f"#{inst.instance_id} ({inst.label}) was first seen at {inst.first_seen_ns}, after {t}",
                    self._summary(inst, score),
                )
            last = before[-1]
            return InstanceResult(
                QueryStatus.NOT_FOUND,
                f"#{inst.instance_id} ({inst.label}) had left its last known place by {last.vanished_ns} and was "
                f"not seen again until after {t}; the placement returned is the last known before {t}",
                self._summary(inst, score, last),
                last,
            )
        return InstanceResult(
            QueryStatus.OK,
            f"#{inst.instance_id} ({inst.label}) was at {tuple(round(x, 2) for x in p.position)}"
            f"{' in ' + p.room if p.room else ''} at {t}",
            self._summary(inst, score, p),
            p,
        )

    @_query
    def history(self, instance_id: Optional[int], text: Optional[str]) -> HistoryResult:
        inst, score, why = self._resolve(instance_id, text)
        if inst is None:
            return HistoryResult(QueryStatus.NOT_FOUND, why)
        n = len(inst.placements)
        acts = tuple(a for a in action_records(self.state) if a.instance_id == inst.instance_id)
        done = f"; the robot picked it {sum(a.kind is ActionKind.PICK for a in acts)} time(s)" if acts else ""
        return HistoryResult(
            QueryStatus.OK,
            f"#{inst.instance_id} ({inst.label}): {n} placement(s), moved {n - 1} time(s){done}",
            self._summary(inst, score),
            tuple(inst.placements),
            acts,
        )

    @_query
    def changes(self, t0_ns: int, t1_ns: int, region: Optional[str]) -> ChangesResult:
        t0, t1 = self._check_time(t0_ns, "t0_ns"), self._check_time(t1_ns, "t1_ns")
        if t1 < t0:
            raise QueryError(f"t1_ns ({t1}) is before t0_ns ({t0})")
        names = {r.name for r in self.state.regions}
        if region is not None and region not in names:
            raise QueryError(f"unknown region {region!r}; known regions: {sorted(names)}")
        out: list[Change] = []
        for inst in self.state.objects.all():
            ps = inst.placements
            for j, p in enumerate(ps):
                prev = ps[j - 1] if j > 0 else None
                if t0 <= p.first_seen_ns <= t1:
                    kind = ChangeKind.APPEARED if prev is None else ChangeKind.MOVED
                    out.append(Change(
                        kind, inst.instance_id, inst.label, p.first_seen_ns,
                        from_position=prev.position if prev else None, to_position=p.position,
                        from_receptacle=self._rec_label(prev), to_receptacle=self._rec_label(p),
                        from_room=prev.room if prev else None, to_room=p.room,
                    ))
                nxt = ps[j + 1] if j + 1 < len(ps) else None
                if p.vanished_ns is not None and t0 <= p.vanished_ns <= t1 and (nxt is None or nxt.first_seen_ns > t1):
                    out.append(Change(
                        ChangeKind.VANISHED, inst.instance_id, inst.label, p.vanished_ns,
                        from_position=p.position, from_receptacle=self._rec_label(p), from_room=p.room,
                    ))
        if region is not None:
            out = [c for c in out if region in (c.from_room, c.to_room)]
        out.sort(key=lambda c: (c.stamp_ns, c.instance_id))
        where = f" in {region}" if region else ""
        if not out:
            return ChangesResult(QueryStatus.OK, f"no change seen{where} between {t0} and {t1}")
        return ChangesResult(QueryStatus.OK, f"{len(out)} change(s){where} between {t0} and {t1}", tuple(out))

    def _rec_label(self, p: Optional[Placement]) -> Optional[str]:
        if p is None or p.receptacle_id is None or p.receptacle_id not in self.state.objects:
            return None
        return self.state.objects.get(p.receptacle_id).label

    @_query
    def count(self, text: str, min_score: Optional[float], include_vanished: bool) -> CountResult:
        thr = self._threshold if min_score is None else float(min_score)
        ranked = self._ranked(text, None, include_vanished, k=max(len(self.state.instance_index), 1))
        hits = [(i, s) for i, s in ranked if s >= thr]
        if not hits:
            return CountResult(QueryStatus.OK, f"0 instances match {text!r}", 0, ())
        summaries = tuple(self._summary(i, s) for i, s in hits)
        return CountResult(QueryStatus.OK, f"{len(hits)} distinct instance(s) match {text!r}", len(hits), summaries)

    @_query
    def relations(self, instance_id: int, t_ns: Optional[int]) -> RelationsResult:
        inst = self.state.objects.get(int(instance_id))
        t = None if t_ns is None else self._check_time(t_ns)
        edges = _sorted_edges(self.state.graph.edges_of(inst.instance_id, t))
        return RelationsResult(QueryStatus.OK, f"{len(edges)} relation(s) of #{inst.instance_id} ({inst.label})", edges)

    @_query
    def state_at(self, t_ns: int) -> StateResult:
        t = self._check_time(t_ns)
        insts = []
        for inst in self.state.objects.all():
            p = inst.placement_at(t)
            if p is not None:
                insts.append(self._summary(inst, 1.0, p))
        edges = _sorted_edges(self.state.graph.edges_at(t))
        return StateResult(QueryStatus.OK, f"{len(insts)} instance(s) and {len(edges)} relation(s) at {t}", t,
                           tuple(insts), edges)

    @_query
    def keyframes_for(self, text: Optional[str], k: int, instance_id: Optional[int]) -> KeyframesResult:
        if k <= 0:
            raise QueryError(f"k must be >= 1, got {k}")
        store = self.state.keyframes
        scored: dict[int, float] = {}
        if instance_id is not None:
            self.state.objects.get(int(instance_id))
            for kf in store.with_instance(int(instance_id)):
                scored.setdefault(kf.keyframe_id, 1.0)
        elif text is not None:
            for inst, s in self._ranked(text, None, True, k):
                if s < self._threshold:
                    continue
                for kf in store.with_instance(inst.instance_id):
                    scored[kf.keyframe_id] = max(scored.get(kf.keyframe_id, -1.0), s)
            if self.text_feature.encoder.supports_images:
                q = self._query_feature(text, None)
                for kid, s in store.search_embedding(q, k):
                    scored[kid] = max(scored.get(kid, -1.0), float(s))
        else:
            for kf in store.all()[::-1][:k]:
                scored[kf.keyframe_id] = 1.0
        if not scored:
            what = f"instance #{instance_id}" if instance_id is not None else repr(text)
            return KeyframesResult(QueryStatus.NOT_FOUND, f"no keyframe shows {what}")
        order = sorted(scored.items(), key=lambda kv: (-kv[1], -store.get(kv[0]).stamp_ns))[:k]
        infos = []
        for kid, s in order:
            kf = store.get(kid)
            infos.append(
                KeyframeInfo(kf.keyframe_id, kf.stamp_ns, kf.world_T_camera, tuple(sorted(kf.visible_instance_ids)),
                             s, kf.thumbnail, kf.last_confirmed_ns)
            )
        return KeyframesResult(QueryStatus.OK, f"{len(infos)} keyframe(s)", tuple(infos))

    @_query
    def room_visits(self, t0_ns: Optional[int], t1_ns: Optional[int]) -> RoomVisitsResult:
        t0 = None if t0_ns is None else self._check_time(t0_ns, "t0_ns")
        t1 = None if t1_ns is None else self._check_time(t1_ns, "t1_ns")
        if t0 is not None and t1 is not None and t1 < t0:
            raise QueryError(f"t1_ns ({t1}) is before t0_ns ({t0})")
        visits = tuple(self.state.trajectory.visits(t0, t1))
        if not self.state.regions:
            return RoomVisitsResult(QueryStatus.NOT_FOUND, "no rooms are defined: give the memory regions first")
        return RoomVisitsResult(QueryStatus.OK, f"{len(visits)} room visit(s)", visits)

    @_query
    def actions(
        self, t0_ns: Optional[int], t1_ns: Optional[int], kind: Optional[ActionKind], instance_id: Optional[int]
    ) -> ActionsResult:
        t0 = None if t0_ns is None else self._check_time(t0_ns, "t0_ns")
        t1 = None if t1_ns is None else self._check_time(t1_ns, "t1_ns")
        if t0 is not None and t1 is not None and t1 < t0:
            raise QueryError(f"t1_ns ({t1}) is before t0_ns ({t0})")
        if kind is not None and not isinstance(kind, ActionKind):
            raise QueryError(f"kind must be an ActionKind (PICK or PLACE), got {kind!r}")
        if not len(self.state.actions):
            return ActionsResult(QueryStatus.NOT_FOUND, "no action of the robot was ever recorded (no pick/place "
                                 "events reached the memory): what it did can only be inferred from what it saw")
        want = None
        if instance_id is not None:
            want = self.state.objects.get(int(instance_id)).instance_id
        out = tuple(
            a for a in action_records(self.state)
            if (t0 is None or a.stamp_ns >= t0) and (t1 is None or a.stamp_ns <= t1)
            and (kind is None or a.kind is kind) and (want is None or a.instance_id == want)
        )
        what = f"{kind.value} " if kind is not None else ""
        return ActionsResult(QueryStatus.OK, f"{len(out)} recorded {what}action(s) of the robot", out)

    def instances(self, include_vanished: bool = True) -> list[InstanceSummary]:
        return [self._summary(i) for i in self.state.objects.all() if include_vanished or i.present]
