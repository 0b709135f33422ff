"""The memory facade: one object that ingests frames and answers the query API.

It only orchestrates; the data lives in one :class:`~robomem.core.state.MemoryState` (voxels, objects,
scene graph, keyframes, trajectory, vector indices, stamps, counters), the write side is the ingest
pipeline (:mod:`robomem.core.pipeline`: steps over the state), the read side is the
:class:`~robomem.core.query.QueryEngine` over the state, and :mod:`robomem.core.persistence` saves and
loads the state. Loading or resetting swaps the one state object (:meth:`replace_state`).

The encoder is injected (built by :func:`robomem.encoders.base.create_encoder` or by the caller).
All public methods are thread-safe (one re-entrant lock): a ROS node may ingest on a worker thread and
answer services from another.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from pathlib import Path
from typing import Iterator, Optional, Sequence, Union

import numpy as np
import torch

from robomem.config import MemoryConfig
from robomem.core.actions import record_action
from robomem.core.api import MemoryQueries
from robomem.core.atomic_store import Opened
from robomem.core.episodic import KeyframeStore
from robomem.core.features import TextFeatures
from robomem.core.frame import check_frame
from robomem.core.hypotheses import MoveHypothesis
from robomem.core.objects import ObjectStore
from robomem.core.persistence import load_state, load_state_from, save_state
from robomem.core.pipeline import IngestPipeline
from robomem.core.query import QueryEngine
from robomem.core.query_actions import action_records
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
from robomem.core.scene_graph import TemporalSceneGraph
from robomem.core.segmentation import cluster_segments
from robomem.core.state import MemoryState
from robomem.core.trajectory import Trajectory
from robomem.core.types import ActionEvent, ActionKind, Frame, IngestStats, Region
from robomem.core.voxel_map import VoxelMap
from robomem.encoders.base import Encoder
from robomem.errors import ActionError, MemoryStateError
from robomem.index.base import VectorIndex

__all__ = ["SpatioSemanticMemory", "cluster_segments"]

log = logging.getLogger(__name__)


class SpatioSemanticMemory(MemoryQueries):
    """Dynamic spatio-semantic memory. See the module docstring.

    ``pipeline``: the ingest steps (default :data:`robomem.core.pipeline.DEFAULT_STEPS`); ``state``: start
    from an existing state (e.g. a loaded one) instead of an empty one.
    """

    def __init__(
        self,
        config: MemoryConfig,
        encoder: Encoder,
        regions: Sequence[Region] = (),
        *,
        pipeline: Optional[IngestPipeline] = None,
        state: Optional[MemoryState] = None,
    ) -> None:
        config.validate()
        self.encoder = encoder
        self.lock = threading.RLock()
        if config.voxel.torch_threads > 0 and torch.get_num_threads() != config.voxel.torch_threads:
            torch.set_num_threads(config.voxel.torch_threads)
        self.pipeline = pipeline or IngestPipeline()
        self.text_feature = TextFeatures(encoder)
        if state is None:
            state = MemoryState.empty(config, encoder.dim, regions)
        elif state.feature_dim != encoder.dim:
            raise MemoryStateError(f"the state holds {state.feature_dim}-d features, the encoder gives {encoder.dim}")
        self.state = state
        self.queries = QueryEngine(state, self.text_feature)

    # parts of the current state (read-only access for diagnostics, tests and benchmarks)
    @property
    def config(self) -> MemoryConfig:
        return self.state.config

    @property
    def device(self) -> torch.device:
        return self.state.device

    @property
    def voxels(self) -> VoxelMap:
        return self.state.voxels

    @property
    def objects(self) -> ObjectStore:
        return self.state.objects

    @property
    def graph(self) -> TemporalSceneGraph:
        return self.state.graph

    @property
    def keyframes(self) -> KeyframeStore:
        return self.state.keyframes

    @property
    def trajectory(self) -> Trajectory:
        return self.state.trajectory

    @property
    def instance_index(self) -> VectorIndex:
        return self.state.instance_index

    @property
    def voxel_index(self) -> VectorIndex:
        return self.state.voxel_index

    @property
    def counters(self) -> dict[str, int]:
        return self.state.counters

    # =========================================================================================== write side
    def set_regions(self, regions: Sequence[Region]) -> None:
        """Name the rooms (world-frame boxes). Later frames and relations use them."""
        with self.lock:
            self.state.set_regions(regions)

    def ingest(self, frame: Frame) -> IngestStats:
        """Add one RGB-D frame. Raises FrameError (memory unchanged) when the frame is rejected."""
        with self.lock:
            try:
                checked = check_frame(frame, self.state.last_stamp_ns, self.config.ingest, now_ns=time.time_ns())
            except Exception:
                self.state.count("frames_rejected")
                raise
            if checked.downscale_factor > 1:
                self.state.count("frames_downscaled")
            return self.pipeline.run(self.state, checked, self.encoder, self.text_feature)

    def record_action(self, event: ActionEvent) -> ActionRecord:
        """Record one of the robot's own pick/place events (a fact): stored, persisted, shown in history and
        in :meth:`actions`, and used as evidence (a PICK then a PLACE elsewhere is a move of that instance).

        Returns the record as the memory resolved it. Raises ActionError (memory unchanged) for a malformed
        event (bad pose, stamp, hint); see :mod:`robomem.core.actions`."""
        with self.lock:
            try:
                logged = record_action(self.state, event, self.text_feature)
            except ActionError:
                self.state.count("actions_rejected")
                raise
            return next(r for r in action_records(self.state) if r.action_id == logged.action_id)

    def sync_indices(self) -> None:
        """Apply pending instance/voxel feature changes to the vector indices (done before each query)."""
        with self.lock:
            self.state.sync_indices()

    @contextlib.contextmanager
    def _reading(self) -> Iterator[QueryEngine]:
        """The query engine over the current state, under the lock, indices synced."""
        with self.lock:
            self.state.sync_indices()
            yield self.queries

    # =========================================================================================== read side
    def locate(
        self,
        text: Optional[str] = None,
        feature: Optional[np.ndarray] = None,
        k: int = 5,
        include_vanished: bool = False,
    ) -> LocateResult:
        with self._reading() as q:
            return q.locate(text, feature, k, include_vanished)

    def locate_voxels(self, text: str, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """DynaMem-style voxel retrieval: (positions (k,3) float32, scores (k,)) of the best-matching voxels."""
        with self._reading() as q:
            return q.locate_voxels(text, k)

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
        self,
        t0_ns: Optional[int] = None,
        t1_ns: Optional[int] = None,
        kind: Optional[ActionKind] = None,
        instance_id: Optional[int] = None,
    ) -> ActionsResult:
        with self._reading() as q:
            return q.actions(t0_ns, t1_ns, kind, instance_id)

    def instances(self, include_vanished: bool = True) -> list[InstanceSummary]:
        with self._reading() as q:
            return q.instances(include_vanished)

    def hypotheses(self, open_only: bool = True) -> tuple[MoveHypothesis, ...]:
        """Moved-object hypotheses (:mod:`robomem.core.hypotheses`): the open ones, or all with how they were
        resolved (moved / distinct / dropped, when and on what evidence)."""
        with self._reading() as q:
            return q.hypotheses(open_only)

    def regions(self) -> Sequence[Region]:
        return self.state.regions

    def time_range(self) -> tuple[int, int]:
        with self.lock:
            return self.state.time_range()

    def voxel_cloud(self) -> tuple[np.ndarray, np.ndarray]:
        """(points_world (N,3) float32, colors (N,3) uint8) of the map's surface voxels (seen in at least
        ``voxel.min_support`` frames and not a noise shell around a more observed neighbour:
        :meth:`VoxelMap.supported`), for visualisation and export."""
        with self.lock:
            voxels = self.state.voxels
            keep = voxels.supported()
            return (
                voxels.positions[keep].cpu().numpy().astype(np.float32),
                voxels.colors[keep].cpu().numpy().clip(0, 255).astype(np.uint8),
            )

    def stats(self) -> dict[str, int]:
        """Sizes and counters (for diagnostics)."""
        with self.lock:
            return self.state.stats()

    # =========================================================================================== persistence
    def save(self, directory: Union[str, Path]) -> Path:
        """Write the whole memory to ``directory`` atomically (see :mod:`robomem.core.persistence`)."""
        with self.lock:
            self.state.sync_indices()
            return save_state(self.state, self.encoder.name, directory)  # raw path: "" is refused, not read as "."

    @classmethod
    def load(
        cls, directory: Union[str, Path], encoder: Encoder, config: Optional[MemoryConfig] = None
    ) -> SpatioSemanticMemory:
        """Read a memory written by :meth:`save`. Raises PersistenceError; never returns a half-loaded memory."""
        state = load_state(directory, encoder, config)
        return cls(state.config, encoder, state=state)

    @classmethod
    def load_from(
        cls, directory: Union[str, Path], encoder: Encoder, config: Optional[MemoryConfig] = None
    ) -> tuple[SpatioSemanticMemory, Opened]:
        """:meth:`load`, also saying which directory was read: ``opened.fallback_reason`` is set when the
        target was missing or damaged and its ``<name>.previous`` was loaded instead."""
        state, opened = load_state_from(directory, encoder, config)
        return cls(state.config, encoder, state=state), opened

    def replace_state(self, other: Union[SpatioSemanticMemory, MemoryState]) -> None:
        """Swap this memory's contents for ``other``'s (used by a LoadMemory service: all or nothing)."""
        state = other.state if isinstance(other, SpatioSemanticMemory) else other
        if state.feature_dim != self.encoder.dim:
            raise MemoryStateError(f"the state holds {state.feature_dim}-d features, the encoder gives "
                                   f"{self.encoder.dim}")
        with self.lock:
            self.state = state
            self.queries = QueryEngine(state, self.text_feature)

    def reset(self) -> None:
        """Forget everything (keeps config, encoder and regions)."""
        with self.lock:
            self.replace_state(MemoryState.empty(self.state.config, self.encoder.dim, self.state.regions))
