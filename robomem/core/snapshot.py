"""Queries that never wait for a write: copy-on-write snapshots of what the queries read.

A live robot memory is written all the time (an ingest holds the memory's lock for a whole frame: tens of ms
at 640x480, seconds for a huge frame or a save of a big memory). :class:`SnapshotMemory` wraps a
:class:`~robomem.core.memory.SpatioSemanticMemory` so that its readers (the ROS services) do not wait:

* writes go through :meth:`SnapshotMemory.ingest` / :meth:`SnapshotMemory.save` (the memory's own methods,
  with a "busy" mark around them);
* right after an ingest, still under the lock, when queries were made recently and the previous snapshot is
  older than ``period_s``, the state's read side is copied: every part of the
  :class:`~robomem.core.state.MemoryState` except the voxel map and the voxel index (the bulk of the data,
  read only by ``locate_voxels`` / ``voxel_cloud``), with the instance index synced first (syncing the voxel
  index, thousands of features per frame, is left to the queries that read it);
* a query that finds the lock held by a write answers from the newest snapshot: a consistent state after
  some complete ingest, at most ``period_s`` plus one ingest old; one that finds it held by a reader (the voxel
  cloud for RViz, GetInfo's counters) answers from the snapshot too when nothing was written since it was
  taken (it then equals the live state). Otherwise (no write in progress, or no snapshot yet) it answers from
  the live state under the lock, exactly as the memory itself would.

The copy costs time on the writer, so it is demand-driven (only while queries come, ``active_s``) and its
period adapts (``max(period_s, 10 x the last copy time)``: copying stays under ~10 % of the writer's time
however big the memory grows). The snapshot is read only: nothing writes it, so queries on it need no lock.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Optional, Sequence, Union

import numpy as np

from robomem.core.api import MemoryQueries
from robomem.core.query import QueryEngine
from robomem.core.query_types import (
    ActionRecord,
    ActionsResult,
    ChangesResult,
    CountResult,
    HistoryResult,
    InstanceResult,
    InstanceSummary,
    KeyframesResult,
    LocateResult,
    RelationsResult,
    RoomVisitsResult,
    StateResult,
)
from robomem.core.state import MemoryState, PendingIndexUpdates
from robomem.core.types import ActionEvent, ActionKind, Frame, IngestStats, Region
from robomem.core.voxel_map import VoxelMap
from robomem.index.base import create_index

if TYPE_CHECKING:
    from robomem.core.memory import SpatioSemanticMemory

LIVE_ONLY = frozenset({"voxels", "voxel_index"})
"""State parts a snapshot does not copy (queries that read them run on the live state under the lock)."""


def copy_read_side(state: MemoryState) -> MemoryState:
    """An independent copy of everything queries read from ``state`` (indices synced first), with an empty
    voxel map and voxel index. Caller holds the memory's lock. New state parts are copied automatically."""
    state.sync_instance_index()
    memo: dict[int, Any] = {}
    values: dict[str, Any] = {}
    for f in dataclasses.fields(MemoryState):
        v = getattr(state, f.name)
        if f.name == "voxels":
            values[f.name] = VoxelMap(state.config.voxel, feature_dim=state.feature_dim, device=state.device)
        elif f.name == "voxel_index":
            values[f.name] = create_index(state.feature_dim, state.config.index)
        elif f.name == "pending":
            values[f.name] = PendingIndexUpdates()
        elif f.name in ("config", "device", "feature_dim", "version", "first_stamp_ns", "last_stamp_ns"):
            values[f.name] = v  # immutable
        else:
            values[f.name] = copy.deepcopy(v, memo)
    return MemoryState(**values)


@dataclasses.dataclass(frozen=True)
class _Snapshot:
    engine: QueryEngine
    source: MemoryState  # the live state it copies (a replaced state makes it stale whatever the versions)
    version: int
    taken_s: float


class SnapshotMemory(MemoryQueries):
    """A :class:`MemoryQueries` over ``memory`` whose reads do not wait for its writes (module docstring).

    Args:
        memory: the memory; write to it through this object (``ingest``, ``save``) so reads know a write holds
            the lock (writing to ``memory`` directly is safe too: reads then wait for the lock).
        period_s: minimum age of a snapshot before an ingest replaces it.
        active_s: snapshots are kept up to date while a query came within this many seconds.
    """

    def __init__(self, memory: SpatioSemanticMemory, period_s: float = 0.2, active_s: float = 60.0) -> None:
        self.memory = memory
        self.period_s = float(period_s)
        self.active_s = float(active_s)
        self._snapshot: Optional[_Snapshot] = None
        self._busy = 0
        self._busy_lock = threading.Lock()
        self._last_read = -1e18
        self._copy_s = 0.0
        self.counters: dict[str, int] = {"snapshot_copies": 0, "reads_snapshot": 0, "reads_live": 0}

    # ------------------------------------------------------------------------------------------ writes
    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        with self._busy_lock:
            self._busy += 1
        try:
            yield
        finally:
            with self._busy_lock:
                self._busy -= 1

    def ingest(self, frame: Frame) -> IngestStats:
        """``memory.ingest(frame)``, then a fresh snapshot when one is due (same lock hold)."""
        with self._writing(), self.memory.lock:
            stats = self.memory.ingest(frame)
            self._refresh_if_due()
            return stats

    def record_action(self, event: ActionEvent) -> ActionRecord:
        """``memory.record_action(event)`` (a write, like an ingest)."""
        with self._writing(), self.memory.lock:
            record = self.memory.record_action(event)
            self._refresh_if_due()
            return record

    def save(self, directory: Union[str, Path]) -> Path:
        """``memory.save(directory)``; queries meanwhile answer from a snapshot taken just before."""
        with self._writing(), self.memory.lock:
            self._refresh_if_due(force=True)
            return self.memory.save(directory)

    def invalidate(self) -> None:
        """Forget the snapshot (call after ``memory.replace_state`` / ``reset``: it described the old state)."""
        with self.memory.lock:
            self._snapshot = None

    def _refresh_if_due(self, force: bool = False) -> None:
        now = time.monotonic()
        if now - self._last_read > self.active_s:
            return  # nobody is asking: no copies (offline ingest, bag replay)
        snap = self._snapshot
        if snap is not None and snap.source is not self.memory.state:
            snap = self._snapshot = None  # load / reset swapped the state
        if snap is not None and snap.version == self.memory.state.version:
            return
        if not force and snap is not None and now - snap.taken_s < max(self.period_s, 10.0 * self._copy_s):
            return
        t0 = time.perf_counter()
        state = copy_read_side(self.memory.state)
        self._copy_s = time.perf_counter() - t0
        self._snapshot = _Snapshot(QueryEngine(state, self.memory.text_feature), self.memory.state, state.version, now)
        self.counters["snapshot_copies"] += 1

    @property
    def last_copy_ms(self) -> float:
        return self._copy_s * 1000.0

    # ------------------------------------------------------------------------------------------ reads
    @contextlib.contextmanager
    def _reading(self) -> Iterator[QueryEngine]:
        """The snapshot's engine while a write holds the lock (or while anything holds it and the snapshot is
        of the current version: then it answers exactly as the live state), else the live engine under the
        lock."""
        self._last_read = time.monotonic()
        lock = self.memory.lock
        if lock.acquire(blocking=False):
            try:
                self.memory.state.sync_instance_index()  # these queries never read the voxel index
                self.counters["reads_live"] += 1
                yield self.memory.queries
            finally:
                lock.release()
            return
        snap = self._snapshot
        live = self.memory.state
        if snap is not None and snap.source is live and (self._busy or snap.version == live.version):
            self.counters["reads_snapshot"] += 1
            yield snap.engine
            return
        with lock:  # a short holder (stats, viz) or no snapshot yet: wait
            self.memory.state.sync_instance_index()
            self.counters["reads_live"] += 1
            yield self.memory.queries

    def locate(
        self, text: Optional[str] = None, feature: Optional[np.ndarray] = None, k: int = 5,
        include_vanished: bool = False,
    ) -> LocateResult:
        with self._reading() as q:
            return q.locate(text, feature, k, include_vanished)

    def last_seen(self, instance_id: Optional[int] = None, text: Optional[str] = None) -> InstanceResult:
        with self._reading() as q:
            return q.last_seen(instance_id, text)

    def where_at(self, t_ns: int, instance_id: Optional[int] = None, text: Optional[str] = None) -> InstanceResult:
        with self._reading() as q:
            return q.where_at(t_ns, instance_id, text)

    def history(self, instance_id: Optional[int] = None, text: Optional[str] = None) -> HistoryResult:
        with self._reading() as q:
            return q.history(instance_id, text)

    def changes(self, t0_ns: int, t1_ns: int, region: Optional[str] = None) -> ChangesResult:
        with self._reading() as q:
            return q.changes(t0_ns, t1_ns, region)

    def count(self, text: str, min_score: Optional[float] = None, include_vanished: bool = False) -> CountResult:
        with self._reading() as q:
            return q.count(text, min_score, include_vanished)

    def relations(self, instance_id: int, t_ns: Optional[int] = None) -> RelationsResult:
        with self._reading() as q:
            return q.relations(instance_id, t_ns)

    def state_at(self, t_ns: int) -> StateResult:
        with self._reading() as q:
            return q.state_at(t_ns)

    def keyframes_for(
        self, text: Optional[str] = None, k: int = 5, instance_id: Optional[int] = None
    ) -> KeyframesResult:
        with self._reading() as q:
            return q.keyframes_for(text, k, instance_id)

    def room_visits(self, t0_ns: Optional[int] = None, t1_ns: Optional[int] = None) -> RoomVisitsResult:
        with self._reading() as q:
            return q.room_visits(t0_ns, t1_ns)

    def actions(
        self, t0_ns: Optional[int] = None, t1_ns: Optional[int] = None, kind: Optional[ActionKind] = None,
        instance_id: Optional[int] = None,
    ) -> ActionsResult:
        with self._reading() as q:
            return q.actions(t0_ns, t1_ns, kind, instance_id)

    def instances(self, include_vanished: bool = True) -> list[InstanceSummary]:
        with self._reading() as q:
            return q.instances(include_vanished)

    # live-only reads (the voxel map is not in the snapshot; sizes and counters must be current)
    def locate_voxels(self, text: str, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        return self.memory.locate_voxels(text, k)

    def regions(self) -> Sequence[Region]:
        return self.memory.regions()

    def time_range(self) -> tuple[int, int]:
        return self.memory.time_range()

    def stats(self) -> dict[str, int]:
        return self.memory.stats()
