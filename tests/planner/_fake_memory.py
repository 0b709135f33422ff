"""A small hand-written MemoryQueries for the planner backend tests: known answers, records every call.

Three instances: table 1 (kitchen receptacle), mug 3 on it (present), book 5 (vanished from the living room).
Stamps start at T0 = 2026-01-01 08:00:00 UTC and run one hour.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

import numpy as np

from robomem.core.api import MemoryQueries
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
    NodeRef,
    QueryStatus,
    RelationsResult,
    RoomVisit,
    RoomVisitsResult,
    StateResult,
)
from robomem.core.types import Box3D, NodeKind, Placement, Region, Relation, TimeInterval

SEC = 1_000_000_000
T0 = 1_767_254_400 * SEC  # 2026-01-01 08:00:00 UTC
T_END = T0 + 3600 * SEC


def _box(c: tuple[float, float, float], h: float = 0.1) -> Box3D:
    return Box3D((c[0] - h, c[1] - h, c[2] - h), (c[0] + h, c[1] + h, c[2] + h))


TABLE = InstanceSummary(
    1,
    "kitchen table",
    NodeKind.RECEPTACLE,
    (2.0, 0.0, 0.375),
    _box((2.0, 0.0, 0.375), 0.4),
    1.0,
    T0,
    T_END,
    True,
    40,
    room="kitchen",
)
MUG = InstanceSummary(
    3,
    "red mug",
    NodeKind.OBJECT,
    (2.1, 0.2, 0.82),
    _box((2.1, 0.2, 0.82), 0.06),
    1.0,
    T0 + 10 * SEC,
    T0 + 1800 * SEC,
    True,
    12,
    receptacle_id=1,
    receptacle_label="kitchen table",
    room="kitchen",
)
BOOK = InstanceSummary(
    5,
    "blue book",
    NodeKind.OBJECT,
    (-2.0, 0.0, 0.78),
    _box((-2.0, 0.0, 0.78), 0.1),
    1.0,
    T0 + 20 * SEC,
    T0 + 600 * SEC,
    False,
    7,
    room="living room",
)
MUG_OLD = Placement(
    (-1.9, 0.1, 0.8),
    _box((-1.9, 0.1, 0.8)),
    T0 + 10 * SEC,
    T0 + 300 * SEC,
    T0 + 900 * SEC,
    None,
    "living room",
)
MUG_NOW = Placement(MUG.position, MUG.box, T0 + 1200 * SEC, T0 + 1800 * SEC, None, 1, "kitchen")
BOOK_PLACE = Placement(
    BOOK.position, BOOK.box, T0 + 20 * SEC, T0 + 600 * SEC, T0 + 700 * SEC, None, "living room"
)
REGIONS = (
    Region("kitchen", Box3D((0.0, -5.0, -1.0), (5.0, 5.0, 3.0))),
    Region("living room", Box3D((-5.0, -5.0, -1.0), (0.0, 5.0, 3.0))),
)


def thumbnail(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 255, size=(12, 16, 3), dtype=np.uint8)


class FakeMemory(MemoryQueries):
    """Deterministic answers; ``calls`` records (method, args...) for assertions."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.all = [TABLE, MUG, BOOK]
        self.fail_keyframes = False

    def _match(self, text: str, include_vanished: bool = True) -> list[InstanceSummary]:
        words = set(text.lower().split())
        out = [i for i in self.all if words & set(i.label.split()) and (include_vanished or i.present)]
        return out

    def _by(self, instance_id: Optional[int], text: Optional[str]) -> Optional[InstanceSummary]:
        if instance_id is not None:
            return next((i for i in self.all if i.instance_id == instance_id), None)
        m = self._match(text or "")
        return m[0] if m else None

    def locate(self, text=None, feature=None, k=5, include_vanished=False) -> LocateResult:
        self.calls.append(("locate", text, k, include_vanished))
        m = self._match(text or "", include_vanished)[:k]
        if not m:
            return LocateResult(QueryStatus.NOT_FOUND, f"nothing like {text!r}")
        return LocateResult(QueryStatus.OK, "ok", tuple(m))

    def last_seen(self, instance_id=None, text=None) -> InstanceResult:
        self.calls.append(("last_seen", instance_id, text))
        inst = self._by(instance_id, text)
        if inst is None:
            status = QueryStatus.BAD_REQUEST if instance_id is not None else QueryStatus.NOT_FOUND
            return InstanceResult(status, f"no instance {instance_id if instance_id is not None else text!r}")
        place = {3: MUG_NOW, 5: BOOK_PLACE}.get(inst.instance_id)
        return InstanceResult(QueryStatus.OK, "ok", inst, place)

    def where_at(self, t_ns, instance_id=None, text=None) -> InstanceResult:
        self.calls.append(("where_at", t_ns, instance_id, text))
        inst = self._by(instance_id, text)
        if inst is None or inst.instance_id != 3:
            return InstanceResult(QueryStatus.NOT_FOUND, "no placement then")
        place = MUG_OLD if t_ns < T0 + 1200 * SEC else MUG_NOW
        return InstanceResult(QueryStatus.OK, "ok", inst, place)

    def history(self, instance_id=None, text=None) -> HistoryResult:
        self.calls.append(("history", instance_id, text))
        inst = self._by(instance_id, text)
        if inst is None:
            return HistoryResult(QueryStatus.NOT_FOUND, "unknown")
        places = (MUG_OLD, MUG_NOW) if inst.instance_id == 3 else ()
        return HistoryResult(QueryStatus.OK, "ok", inst, places)

    def changes(self, t0_ns, t1_ns, region=None) -> ChangesResult:
        self.calls.append(("changes", t0_ns, t1_ns, region))
        if t1_ns < t0_ns:
            return ChangesResult(QueryStatus.BAD_REQUEST, "t1 < t0")
        ch = Change(
            ChangeKind.MOVED,
            3,
            "red mug",
            T0 + 1200 * SEC,
            MUG_OLD.position,
            MUG_NOW.position,
            None,
            "kitchen table",
            "living room",
            "kitchen",
        )
        keep = t0_ns <= ch.stamp_ns <= t1_ns
        return ChangesResult(QueryStatus.OK, "ok", (ch,) if keep else ())

    def count(self, text, min_score=None, include_vanished=False) -> CountResult:
        self.calls.append(("count", text, min_score, include_vanished))
        m = self._match(text, include_vanished)
        return CountResult(QueryStatus.OK, "ok", len(m), tuple(m))

    def relations(self, instance_id, t_ns=None) -> RelationsResult:
        self.calls.append(("relations", instance_id, t_ns))
        if instance_id != 3:
            return RelationsResult(QueryStatus.BAD_REQUEST, f"unknown instance {instance_id}")
        edge = GraphEdge(
            NodeRef(NodeKind.OBJECT, 3),
            Relation.ON,
            NodeRef(NodeKind.RECEPTACLE, 1),
            (TimeInterval(T0 + 1200 * SEC, None),),
        )
        return RelationsResult(QueryStatus.OK, "ok", (edge,))

    def state_at(self, t_ns) -> StateResult:
        self.calls.append(("state_at", t_ns))
        return StateResult(QueryStatus.OK, "ok", t_ns, (TABLE, MUG))

    def keyframes_for(self, text=None, k=5, instance_id=None) -> KeyframesResult:
        self.calls.append(("keyframes_for", text, k, instance_id))
        if self.fail_keyframes:
            raise RuntimeError("keyframe store offline")
        kfs = []
        if text and "mug" in text or instance_id == 3:
            kfs.append(KeyframeInfo(7, T0 + 1300 * SEC, np.eye(4), (1, 3), 0.9, thumbnail(7)))
        if text and "table" in text:
            kfs.append(KeyframeInfo(8, T0 + 1400 * SEC, np.eye(4), (1,), 0.7, thumbnail(8)))
            kfs.append(KeyframeInfo(7, T0 + 1300 * SEC, np.eye(4), (1, 3), 0.6, thumbnail(7)))
        if not kfs:
            return KeyframesResult(QueryStatus.NOT_FOUND, "no keyframes")
        return KeyframesResult(QueryStatus.OK, "ok", tuple(kfs[:k]))

    def room_visits(self, t0_ns=None, t1_ns=None) -> RoomVisitsResult:
        self.calls.append(("room_visits", t0_ns, t1_ns))
        return RoomVisitsResult(
            QueryStatus.OK,
            "ok",
            (RoomVisit("kitchen", T0, T0 + 900 * SEC), RoomVisit("living room", T0 + 900 * SEC, None)),
        )

    def actions(self, t0_ns=None, t1_ns=None, kind=None, instance_id=None) -> ActionsResult:
        self.calls.append(("actions", t0_ns, t1_ns, kind, instance_id))
        return ActionsResult(QueryStatus.NOT_FOUND, "no action was ever recorded")

    def instances(self, include_vanished=True) -> list[InstanceSummary]:
        self.calls.append(("instances", include_vanished))
        return [i for i in self.all if include_vanished or i.present]

    def regions(self) -> Sequence[Region]:
        return REGIONS

    def time_range(self) -> tuple[int, int]:
        return (T0, T_END)


def faces(goal: Any, target: Sequence[float], near: float = 0.3, far: float = 2.0) -> bool:
    """A reachable goal for ``target``: a standoff between ``near`` and ``far`` m from it (xy) whose yaw (when
    set) points at it within 0.3 rad."""
    import math

    dx, dy = float(target[0]) - goal.position[0], float(target[1]) - goal.position[1]
    d = math.hypot(dx, dy)
    if not near <= d <= far:
        return False
    return goal.yaw is None or abs(math.remainder(math.atan2(dy, dx) - goal.yaw, 2 * math.pi)) < 0.3
