"""The memory's state: one object holding every part, index, stamp and counter.

:class:`MemoryState` is what the write side (:mod:`robomem.core.pipeline`, :mod:`robomem.core.actions`) mutates, what
the read side (:class:`~robomem.core.query.QueryEngine`) reads and what :mod:`robomem.core.persistence`
saves and loads. The facade (:class:`~robomem.core.memory.SpatioSemanticMemory`) only holds the lock,
the injected encoder and *one* reference to a state, so loading or resetting a memory swaps one object
(``replace_state``) and a part added here can no longer be forgotten there.

Nothing here imports the facade, the query engine or persistence (no import circle).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Optional, Sequence

import numpy as np
import torch

from robomem.config import MemoryConfig
from robomem.core.action_log import ActionLog
from robomem.core.episodic import KeyframeStore
from robomem.core.objects import ObjectStore
from robomem.core.scene_graph import TemporalSceneGraph
from robomem.core.trajectory import Trajectory
from robomem.core.types import Region
from robomem.core.voxel_map import VoxelMap, resolve_device
from robomem.index.base import VectorIndex, create_index

COUNTER_NAMES = (
    "frames_ingested",
    "frames_rejected",
    "pixels_dropped_invalid_depth",
    "pixels_dropped_out_of_range",
    "voxels_removed",
    "instances_moved",
    "instances_merged",
    "actions_recorded",
    "actions_rejected",
)
"""Counters every state starts with (a loaded state keeps the saved values)."""


@dataclass(eq=False)
class PendingIndexUpdates:
    """Feature changes not yet applied to the vector indices (applied lazily, before a query).

    ``dirty_instances``: ids whose feature changed; ``removed_instances``: ids gone (merged away, expired);
    ``dirty_voxels`` / ``removed_voxels``: chunks of voxel uids, (N,) int64 each.
    """

    dirty_instances: set[int] = field(default_factory=set)
    removed_instances: set[int] = field(default_factory=set)
    dirty_voxels: list[np.ndarray] = field(default_factory=list)
    removed_voxels: list[np.ndarray] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.dirty_instances or self.removed_instances or self.dirty_voxels or self.removed_voxels)

    def instance_changed(self, instance_id: int) -> None:
        self.removed_instances.discard(instance_id)
        self.dirty_instances.add(instance_id)

    def instance_removed(self, instance_id: int) -> None:
        self.dirty_instances.discard(instance_id)
        self.removed_instances.add(instance_id)

    def compact(self, n_voxels: int) -> None:
        """Keep the queues bounded by the map size, however long no query comes."""
        pending = sum(len(a) for a in self.dirty_voxels)
        if pending > max(4 * n_voxels, 1_000_000):
            self.dirty_voxels = [np.unique(np.concatenate(self.dirty_voxels))]
        pending = sum(len(a) for a in self.removed_voxels)
        if pending > 1_000_000:
            self.removed_voxels = [np.unique(np.concatenate(self.removed_voxels))]


@dataclass(eq=False)
class MemoryState:
    """Everything a memory knows. Mutated only by the ingest pipeline and action recording, under the
    facade's lock; see the module docstring.

    ``version`` counts the writes applied (ingested frames, recorded actions, region changes): a reader
    that cached something derived from the state can tell whether it is still current.
    Transient fields (rebuilt, not saved): ``device``, ``pending`` (empty after a sync) and ``version``.
    """

    config: MemoryConfig
    feature_dim: int
    device: torch.device
    voxels: VoxelMap
    objects: ObjectStore
    graph: TemporalSceneGraph
    keyframes: KeyframeStore
    trajectory: Trajectory
    actions: ActionLog
    instance_index: VectorIndex
    voxel_index: VectorIndex
    regions: tuple[Region, ...] = ()
    first_stamp_ns: Optional[int] = None
    last_stamp_ns: Optional[int] = None
    counters: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTER_NAMES, 0))
    pending: PendingIndexUpdates = field(default_factory=PendingIndexUpdates)
    version: int = 0

    @classmethod
    def empty(cls, config: MemoryConfig, feature_dim: int, regions: Sequence[Region] = ()) -> MemoryState:
        """A fresh state for ``feature_dim``-dimensional features (the encoder's ``dim``)."""
        config.validate()
        device = resolve_device(config.voxel.device)
        state = cls(
            config=config,
            feature_dim=int(feature_dim),
            device=device,
            voxels=VoxelMap(config.voxel, feature_dim=feature_dim, device=device),
            objects=ObjectStore(config.objects),
            graph=TemporalSceneGraph(config.graph),
            keyframes=KeyframeStore(config.episodic),
            trajectory=Trajectory(),
            actions=ActionLog(),
            instance_index=create_index(feature_dim, config.index),
            voxel_index=create_index(feature_dim, config.index),
        )
        state.set_regions(regions)
        return state

    # ------------------------------------------------------------------------------------------ writes
    def set_regions(self, regions: Sequence[Region]) -> None:
        """Name the rooms (world-frame boxes); later frames and relations use them."""
        self.regions = tuple(regions)
        for r in self.regions:
            self.graph.set_room(r.name, r.box)
        self.version += 1

    def note_stamp(self, stamp_ns: int) -> None:
        if self.first_stamp_ns is None:
            self.first_stamp_ns = stamp_ns
        self.last_stamp_ns = stamp_ns if self.last_stamp_ns is None else max(self.last_stamp_ns, stamp_ns)

    def count(self, name: str, n: int = 1) -> None:
        self.counters[name] = self.counters.get(name, 0) + int(n)

    def sync_indices(self) -> None:
        """Apply pending instance/voxel feature changes to the vector indices (done before each query)."""
        self.sync_instance_index()
        self.sync_voxel_index()

    def sync_instance_index(self) -> None:
        """Apply pending instance feature changes (all that instance-level queries need: cheap)."""
        p = self.pending
        if p.removed_instances:
            self.instance_index.remove(np.fromiter(p.removed_instances, dtype=np.int64))
            p.removed_instances.clear()
        if p.dirty_instances:
            ids, vecs = [], []
            for iid in sorted(p.dirty_instances):
                inst = self.objects.find(iid)
                if inst is not None and inst.feature is not None:
                    ids.append(iid)
                    vecs.append(inst.feature)
            if ids:
                self.instance_index.add(np.asarray(ids, dtype=np.int64), np.stack(vecs).astype(np.float32))
            p.dirty_instances.clear()

    def sync_voxel_index(self) -> None:
        """Apply pending voxel feature changes (voxel-level retrieval needs them; thousands per frame)."""
        p = self.pending
        if p.removed_voxels:
            self.voxel_index.remove(np.unique(np.concatenate(p.removed_voxels)))
            p.removed_voxels = []
        if p.dirty_voxels:
            dirty = np.unique(np.concatenate(p.dirty_voxels))
            p.dirty_voxels = []
            rows = self.voxels.rows_for_uids(dirty)
            keep = rows >= 0
            rows, dirty = rows[keep], dirty[keep]
            if len(rows):
                feats = self.voxels.features[torch.from_numpy(rows).to(self.device)].float().cpu().numpy()
                nz = np.linalg.norm(feats, axis=1) > 0
                if nz.any():
                    self.voxel_index.add(dirty[nz], feats[nz])

    # ------------------------------------------------------------------------------------------ reads
    def time_range(self) -> tuple[int, int]:
        if self.first_stamp_ns is None or self.last_stamp_ns is None:
            return (0, 0)
        return (self.first_stamp_ns, self.last_stamp_ns)

    def stats(self) -> dict[str, int]:
        out = dict(self.counters)
        out.update(
            voxels=len(self.voxels),
            instances=len(self.objects),
            instances_present=len(self.objects.present()),
            keyframes=len(self.keyframes),
            graph_nodes=self.graph.graph.number_of_nodes(),
            graph_edges=self.graph.graph.number_of_edges(),
            room_visits=len(self.trajectory),
            actions=len(self.actions),
        )
        return out


TRANSIENT_FIELDS = frozenset({"device", "pending", "version"})
"""Fields of :class:`MemoryState` that persistence does not save (rebuilt on load)."""


def state_field_names() -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(MemoryState))
