"""What a planner knows about a memory while it answers: cached query results and facts derived from them.

:class:`MemorySnapshot` holds, for one state of one memory, everything the handlers read (instances, histories,
rooms, the robot's room visits, keyframe camera positions, the robot's moves) and is reused by every question
asked while the memory does not change (:class:`SnapshotCache`, keyed by a fingerprint of ``time_range()`` and
``instances()``). :class:`AnswerContext` is one answer's view of a snapshot: it records which memory queries
the answer used (``PlannerAnswer.plan``).

The robot's own pick-and-place moves are **facts** when its manipulation stack recorded them
(``memory.actions()``: a PICK paired with the next PLACE). Otherwise they are **inferred** from each object's
placement history: an instance with
>= 2 placements was moved; a move is the robot's own when the robot watched the object leave (its old place was
seen empty within ``pick_gap_s`` of the last sighting there) and saw it at the new place within
``max_carry_s``; pick time = the last sighting at the old place. Other moves happened while the robot was
elsewhere (someone else moved it). Answers built on inferred moves say "(inferred from what I saw)".
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import logging
import math
import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence, TypeVar

from robomem.core.api import MemoryQueries
from robomem.core.query_types import ActionRecord, InstanceSummary, QueryStatus, RoomVisit
from robomem.core.types import ActionKind, Box3D, NodeKind, Placement, Region
from robomem.planner.config import PlannerConfig

__all__ = ["AnswerContext", "MemorySnapshot", "Move", "SnapshotCache", "fmt_time", "room_of_xy", "xy_dist"]

Vec3 = tuple[float, float, float]

_LOG = logging.getLogger(__name__)
NS = 1_000_000_000
T = TypeVar("T")


@dataclass(frozen=True)
class Move:
    """One move of an object from one place to the next (ns stamps, world frame m).

    ``robot``: the robot's own pick-and-place, else someone else moved it while unseen. ``recorded``: the
    manipulation stack reported it (a fact); False: inferred from the history. ``pick_ns``: when it left (best
    estimate), ``place_ns``: when it was put down / first seen at the new place (None: not seen since).
    ``instance_id`` None: a recorded action the memory could not tie to an object (``label`` is the hint)."""

    instance_id: Optional[int]
    label: str
    pick_ns: int
    place_ns: Optional[int]
    from_receptacle_id: Optional[int]
    to_receptacle_id: Optional[int]
    from_position: Vec3
    to_position: Optional[Vec3]
    from_room: Optional[str]
    to_room: Optional[str]
    robot: bool
    recorded: bool = False

    @property
    def duration_s(self) -> Optional[float]:
        return None if self.place_ns is None else (self.place_ns - self.pick_ns) / NS


def _vec(p: Sequence[float]) -> Vec3:
    return (float(p[0]), float(p[1]), float(p[2]))


RBOX_JOIN_M = 0.5
"""Earlier placements of a receptacle whose footprint lies within this distance (m) of the current one are views
of the same place (:meth:`MemorySnapshot.rbox`)."""


def _xy_gap(a: Box3D, b: Box3D) -> float:
    """xy distance between two boxes' footprints (0 when they overlap), m."""
    dx = max(a.min_xyz[0] - b.max_xyz[0], b.min_xyz[0] - a.max_xyz[0], 0.0)
    dy = max(a.min_xyz[1] - b.max_xyz[1], b.min_xyz[1] - a.max_xyz[1], 0.0)
    return math.hypot(dx, dy)


def room_of_xy(x: float, y: float, regions: Sequence[Region], margin: float = 0.0) -> Optional[Region]:
    for r in regions:
        lo, hi = r.box.min_xyz, r.box.max_xyz
        if lo[0] + margin <= x <= hi[0] - margin and lo[1] + margin <= y <= hi[1] - margin:
            return r
    return None


def xy_dist(a: Sequence[float], b: Sequence[float]) -> float:
    return math.hypot(float(a[0]) - float(b[0]), float(a[1]) - float(b[1]))


def fmt_time(t_ns: int, tz: datetime.tzinfo = datetime.timezone.utc, with_day: bool = False) -> str:
    """ns -> "HH:MM:SS" in ``tz`` (with the date when ``with_day``)."""
    dt = datetime.datetime.fromtimestamp(t_ns / NS, tz)
    return dt.strftime("%Y-%m-%d %H:%M:%S" if with_day else "%H:%M:%S")


class MemorySnapshot:
    """Cached facts of one memory state (see the module docstring). Thread-safe lazily filled caches."""

    def __init__(self, memory: MemoryQueries, instances: list[InstanceSummary], time_range: tuple[int, int],
                 config: PlannerConfig) -> None:
        try:  # the cache must not keep old memories alive
            ref = weakref.ref(memory)
            self._memory: Callable[[], Optional[MemoryQueries]] = ref
        except TypeError:
            self._memory = lambda: memory
        self.instances = instances
        self.time_range = time_range
        self.config = config
        self.by_id = {i.instance_id: i for i in instances}
        self._lock = threading.RLock()
        self._cache: dict[Any, Any] = {}

    @property
    def memory(self) -> MemoryQueries:
        m = self._memory()
        if m is None:
            raise RuntimeError("the memory of this snapshot no longer exists")
        return m

    def cached(self, key: Any, make: Callable[[], T]) -> T:
        with self._lock:
            if key not in self._cache:
                self._cache[key] = make()
            return self._cache[key]  # type: ignore[no-any-return]

    # ------------------------------------------------------------------------------------------ raw
    def objects(self) -> list[InstanceSummary]:
        return [i for i in self.instances if i.kind is NodeKind.OBJECT]

    def receptacles(self) -> list[InstanceSummary]:
        return [i for i in self.instances if i.kind is NodeKind.RECEPTACLE]

    def history(self, iid: int) -> tuple[Placement, ...]:
        def make() -> tuple[Placement, ...]:
            res = self.memory.history(instance_id=iid)
            return tuple(res.placements) if res.status is QueryStatus.OK else ()

        return self.cached(("history", iid), make)

    def regions(self) -> list[Region]:
        return self.cached("regions", lambda: list(self.memory.regions()))

    def visits(self) -> tuple[RoomVisit, ...]:
        def make() -> tuple[RoomVisit, ...]:
            res = self.memory.room_visits()
            return tuple(res.visits) if res.status is QueryStatus.OK else ()

        return self.cached("visits", make)

    def rbox(self, rec: InstanceSummary) -> Box3D:
        """A receptacle's box: the union of its current box and its earlier placements' boxes within
        :data:`RBOX_JOIN_M` of it (furniture does not move, but a partial view can shift its centroid enough to
        look like a new placement; an earlier place elsewhere, a wrong re-identification or a piece of other
        furniture under a confused label, is not part of it: the union would span rooms)."""

        def make() -> Box3D:
            cur = rec.box
            boxes = [cur] + [p.box for p in self.history(rec.instance_id) if _xy_gap(p.box, cur) <= RBOX_JOIN_M]
            return Box3D(
                (min(b.min_xyz[0] for b in boxes), min(b.min_xyz[1] for b in boxes), min(b.min_xyz[2] for b in boxes)),
                (max(b.max_xyz[0] for b in boxes), max(b.max_xyz[1] for b in boxes), max(b.max_xyz[2] for b in boxes)),
            )

        return self.cached(("rbox", rec.instance_id), make)

    def camera_positions(self, iid: int) -> list[tuple[float, float]]:
        """xy of the cameras of keyframes that showed ``iid`` (places the robot stood and saw it from)."""

        def make() -> list[tuple[float, float]]:
            res = self.memory.keyframes_for(instance_id=iid, k=12)
            return [(float(k.world_T_camera[0, 3]), float(k.world_T_camera[1, 3])) for k in res.keyframes]

        return self.cached(("cams", iid), make)

    def robot_xy(self) -> Optional[tuple[float, float]]:
        """Where the robot is now: the camera of the newest keyframe."""

        def make() -> Optional[tuple[float, float]]:
            res = self.memory.keyframes_for(k=1)
            if not res.keyframes:
                return None
            t = res.keyframes[0].world_T_camera
            return (float(t[0, 3]), float(t[1, 3]))

        return self.cached("robot_xy", make)

    def room_name(self, xyz: Sequence[float]) -> Optional[str]:
        r = room_of_xy(float(xyz[0]), float(xyz[1]), self.regions())
        return r.name if r else None

    # ------------------------------------------------------------------------------------------ derived
    def moves(self) -> list[Move]:
        """Every move of every object, in order of pick time: the robot's recorded pick-and-places (facts) when the
        manipulation stack reported any, plus the moves inferred from the histories that no record explains."""
        return self.cached("moves", self._all_moves)

    def recorded_moves(self) -> list[Move]:
        """The robot's pick-and-places from its recorded actions (a PICK paired with the next PLACE); [] when no
        action was ever recorded."""
        return self.cached("recorded", self._recorded_moves)

    def _recorded_moves(self) -> list[Move]:
        res = self.memory.actions()
        if res.status is not QueryStatus.OK:
            return []
        out: list[Move] = []
        held: Optional[ActionRecord] = None
        for a in res.actions:
            if a.kind is ActionKind.PICK:
                if held is not None:  # picked again without a recorded place: the first move has no end
                    out.append(self._record_move(held, None))
                held = a
            elif held is not None:
                out.append(self._record_move(held, a))
                held = None
        if held is not None:
            out.append(self._record_move(held, None))
        return out

    def _record_move(self, pick: ActionRecord, place: Optional[ActionRecord]) -> Move:
        iid = pick.instance_id if pick.instance_id is not None else (place.instance_id if place else None)
        if iid is None:  # unresolved by the memory: the stack's label, when exactly one instance carries it
            hint = (pick.label or pick.label_hint).strip().lower()
            same = [i.instance_id for i in self.objects() if hint and i.label.strip().lower() == hint]
            iid = same[0] if len(same) == 1 else None
        inst = self.by_id.get(iid) if iid is not None else None
        label = inst.label if inst is not None else (pick.label or pick.label_hint or "object")
        gp = pick.gripper_position
        to_pos = (float(place.gripper_position[0]), float(place.gripper_position[1]),
                  float(place.gripper_position[2])) if place is not None else None
        return Move(iid, label, pick.stamp_ns, place.stamp_ns if place else None, pick.from_receptacle_id,
                    place.to_receptacle_id if place else None, (float(gp[0]), float(gp[1]), float(gp[2])), to_pos,
                    pick.from_room, place.to_room if place else None, True, True)

    def _all_moves(self) -> list[Move]:
        recorded = self.recorded_moves()
        inferred = self._infer_moves()
        if not recorded:
            return inferred
        window = int(self.config.facts.max_carry_s * NS)
        keep = [mv for mv in inferred if not any(
            r.instance_id == mv.instance_id and abs(r.pick_ns - mv.pick_ns) <= window for r in recorded)]
        out = [*recorded, *(dataclasses.replace(mv, robot=False) for mv in keep)]
        out.sort(key=lambda mv: (mv.pick_ns, mv.instance_id if mv.instance_id is not None else -1))
        return out

    def _infer_moves(self) -> list[Move]:
        out: list[Move] = []
        gap_ns = int(self.config.facts.pick_gap_s * NS)
        carry_ns = int(self.config.facts.max_carry_s * NS)
        for inst in self.objects():
            ps = self.history(inst.instance_id)
            for j, p in enumerate(ps):
                nxt = ps[j + 1] if j + 1 < len(ps) else None
                if nxt is None and p.vanished_ns is None:
                    continue
                left_before = p.vanished_ns if p.vanished_ns is not None else (
                    nxt.first_seen_ns if nxt else p.last_seen_ns)
                if nxt is not None:
                    left_before = min(left_before, nxt.first_seen_ns)
                watched = left_before - p.last_seen_ns <= gap_ns
                robot = watched and nxt is not None and nxt.first_seen_ns - p.last_seen_ns <= carry_ns
                pick = p.last_seen_ns if watched else (p.last_seen_ns + left_before) // 2
                out.append(Move(
                    inst.instance_id, inst.label, pick, nxt.first_seen_ns if nxt else None, p.receptacle_id,
                    nxt.receptacle_id if nxt else None, _vec(p.position), _vec(nxt.position) if nxt else None,
                    p.room or self.room_name(p.position), (nxt.room or self.room_name(nxt.position)) if nxt else None,
                    robot))
        out.sort(key=lambda mv: (mv.pick_ns, mv.instance_id if mv.instance_id is not None else -1))
        return out

    def picks(self) -> list[Move]:
        """The robot's own pick-and-places, in pick order."""
        return [mv for mv in self.moves() if mv.robot]

    def picked_ids(self) -> list[int]:
        """Objects the robot picked, in order of their first pick."""
        out: list[int] = []
        for mv in self.picks():
            if mv.instance_id is not None and mv.instance_id not in out:
                out.append(mv.instance_id)
        return out


def _fingerprint(time_range: tuple[int, int], instances: Sequence[InstanceSummary]) -> str:
    h = hashlib.blake2b(digest_size=16)
    h.update(repr(time_range).encode())
    for i in instances:
        h.update(repr((i.instance_id, i.label, i.n_observations, i.last_seen_ns, i.present, i.receptacle_id,
                       i.position)).encode())
    return h.hexdigest()


class SnapshotCache:
    """The last few :class:`MemorySnapshot` s, keyed by (memory object, state fingerprint)."""

    def __init__(self, size: int = 4) -> None:
        self._size = size
        self._items: OrderedDict[tuple[int, str], MemorySnapshot] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, memory: MemoryQueries, config: PlannerConfig) -> MemorySnapshot:
        time_range = memory.time_range()
        instances = list(memory.instances(include_vanished=True))
        key = (id(memory), _fingerprint(time_range, instances))
        with self._lock:
            snap = self._items.get(key)
            if snap is not None and snap._memory() is memory:
                self._items.move_to_end(key)
                return snap
            snap = MemorySnapshot(memory, instances, time_range, config)
            self._items[key] = snap
            while len(self._items) > self._size:
                self._items.popitem(last=False)
            return snap


class AnswerContext:
    """One answer's view of a snapshot: the question time, zone, config, and the log of memory queries used."""

    def __init__(self, snapshot: MemorySnapshot, now_ns: int, tz: datetime.tzinfo, config: PlannerConfig) -> None:
        self.snap = snapshot
        self.memory = snapshot.memory
        self.now_ns = now_ns
        self.tz = tz
        self.config = config
        self.calls: list[str] = []

    def log(self, entry: str) -> None:
        if entry not in self.calls:
            self.calls.append(entry)

    def fmt(self, t_ns: int) -> str:
        first = self.snap.time_range[0]
        multi_day = first and fmt_time(first, self.tz, True)[:10] != fmt_time(self.now_ns, self.tz, True)[:10]
        return fmt_time(t_ns, self.tz, with_day=bool(multi_day))
