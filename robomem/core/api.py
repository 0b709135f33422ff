"""The query API the memory offers to its users (ROS services, planners, the simulation harness).

:class:`MemoryQueries` is a Protocol so a planner can be given the in-process
:class:`~robomem.core.memory.SpatioSemanticMemory` or a proxy that calls the ROS services.
All times are ns since the epoch; all positions metres in the world frame.
"""

from __future__ import annotations

from typing import Optional, Protocol, Sequence, runtime_checkable

import numpy as np

from robomem.core.query_types import (
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
from robomem.core.types import ActionKind, Region


@runtime_checkable
class MemoryQueries(Protocol):
    def locate(
        self,
        text: Optional[str] = None,
        feature: Optional[np.ndarray] = None,
        k: int = 5,
        include_vanished: bool = False,
    ) -> LocateResult:
        """Instances best matching ``text`` (or a unit ``feature``), best first.

        Only instances still believed present unless ``include_vanished``. NOT_FOUND when nothing scores
        above ``QueryConfig.not_found_threshold``.
        """

    def last_seen(self, instance_id: Optional[int] = None, text: Optional[str] = None) -> InstanceResult:
        """Where and when an instance (or the best match for ``text``, vanished ones included) was last seen."""

    def where_at(
        self, t_ns: int, instance_id: Optional[int] = None, text: Optional[str] = None
    ) -> InstanceResult:
        """Where the instance was believed to be at time ``t_ns`` (its placement valid then)."""

    def history(self, instance_id: Optional[int] = None, text: Optional[str] = None) -> HistoryResult:
        """Every placement of the instance, oldest first."""

    def changes(self, t0_ns: int, t1_ns: int, region: Optional[str] = None) -> ChangesResult:
        """Appearances, disappearances and moves between t0 and t1, optionally only those touching ``region``."""

    def count(self, text: str, min_score: Optional[float] = None, include_vanished: bool = False) -> CountResult:
        """How many distinct instances match ``text`` (deduplicated instances, not detections)."""

    def relations(self, instance_id: int, t_ns: Optional[int] = None) -> RelationsResult:
        """Scene-graph edges touching the instance; only those valid at ``t_ns`` when given."""

    def state_at(self, t_ns: int) -> StateResult:
        """The memory's belief at a past time: instances present then and relations valid then."""

    def keyframes_for(
        self, text: Optional[str] = None, k: int = 5, instance_id: Optional[int] = None
    ) -> KeyframesResult:
        """Up to ``k`` stored keyframes showing ``text`` (or the instance), best first (all keyframes, newest
        first, when neither is given)."""

    def room_visits(self, t0_ns: Optional[int] = None, t1_ns: Optional[int] = None) -> RoomVisitsResult:
        """The robot's own room visits (from its poses), oldest first."""

    def actions(
        self,
        t0_ns: Optional[int] = None,
        t1_ns: Optional[int] = None,
        kind: Optional[ActionKind] = None,
        instance_id: Optional[int] = None,
    ) -> ActionsResult:
        """The robot's own recorded pick/place events in ``[t0_ns, t1_ns]`` (either bound optional), oldest
        first, optionally of one ``kind`` or about one instance. NOT_FOUND when none was ever recorded (the
        caller then has to infer what the robot did from what it saw)."""

    def instances(self, include_vanished: bool = True) -> list[InstanceSummary]:
        """Every instance the memory knows."""

    def regions(self) -> Sequence[Region]:
        """The named regions (rooms) the memory was given."""

    def time_range(self) -> tuple[int, int]:
        """(first, last) ingested frame stamp, ns; (0, 0) when empty."""
