"""Typed requests and results of the memory's query API.

These are the contract used by the ROS services, the planner and the simulation harness. Every result
carries a :class:`QueryStatus` and a human-readable ``message``; "not found" and "bad request" are
answers, not exceptions (the core raises :class:`~robomem.errors.QueryError` only to the query engine,
which turns it into ``BAD_REQUEST``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from robomem.core.types import ActionKind, Box3D, NodeKind, Placement, Relation, TimeInterval

Vec3 = tuple[float, float, float]


class QueryStatus(enum.Enum):
    OK = 0
    NOT_FOUND = 1  # the query was understood but the memory has no (confident) evidence
    BAD_REQUEST = 2  # the query itself is malformed (unknown instance id, t1 < t0, k <= 0, ...)
    ERROR = 3  # something failed inside robomem; the message says what


@dataclass(frozen=True)
class MoveNote:
    """An open moved-object hypothesis (:mod:`robomem.core.hypotheses`) about an instance: the object
    ``old_instance_id`` (last seen at its old place at ``old_last_seen_ns``) may be ``new_instance_id``, seen at
    ``new_position`` (world, m) since ``new_first_seen_ns``. ``text`` says it for a person, e.g. "probably moved to
    the coffee table in the living room; its old place has not been seen since"."""

    old_instance_id: int
    new_instance_id: int
    new_position: Vec3
    new_first_seen_ns: int
    old_last_seen_ns: int
    text: str
    new_room: Optional[str] = None
    new_receptacle_label: Optional[str] = None


@dataclass(frozen=True)
class InstanceSummary:
    """An object or receptacle instance as a query answer.

    ``position``/``box`` are the latest known placement (world frame, m). ``present`` is False once the
    robot saw the place empty (the object vanished or moved away and was not seen since).
    ``score`` is the cosine similarity to the query feature (1.0 where no feature was asked about).
    ``open_move``: set while the memory cannot yet tell whether this object was moved to where a look-alike was
    seen (or whether this look-alike is that object), see :class:`MoveNote`.
    """

    instance_id: int
    label: str
    kind: NodeKind
    position: Vec3
    box: Box3D
    score: float
    first_seen_ns: int
    last_seen_ns: int
    present: bool
    n_observations: int
    receptacle_id: Optional[int] = None
    receptacle_label: Optional[str] = None
    room: Optional[str] = None
    open_move: Optional[MoveNote] = None


@dataclass(frozen=True)
class LocateResult:
    status: QueryStatus
    message: str
    matches: tuple[InstanceSummary, ...] = ()


@dataclass(frozen=True)
class InstanceResult:
    """Answer of last_seen / where_at: one instance and the placement the question asks about."""

    status: QueryStatus
    message: str
    instance: Optional[InstanceSummary] = None
    placement: Optional[Placement] = None


@dataclass(frozen=True)
class ActionRecord:
    """One of the robot's own pick/place events as the memory recorded it (a fact, not an inference).

    ``instance_id``/``label``: the object it was resolved to (None / the event's label hint when unresolved;
    ``resolved_by`` says how: "instance", "segment", "held", "gripper", "pending" or "unresolved").
    ``from_*``: where a PICK took it from (for a PLACE: where its PICK took it from, when known);
    ``to_*``: where a PLACE put it (None for a PICK). Receptacle/room of a place the object was later seen at
    are the memory's current belief about that place. ``gripper_position``: world frame, m.
    """

    action_id: int
    kind: ActionKind
    stamp_ns: int
    instance_id: Optional[int]
    label: str
    resolved_by: str
    gripper_position: Vec3
    label_hint: str = ""
    from_receptacle_id: Optional[int] = None
    from_receptacle: Optional[str] = None
    from_room: Optional[str] = None
    to_receptacle_id: Optional[int] = None
    to_receptacle: Optional[str] = None
    to_room: Optional[str] = None


@dataclass(frozen=True)
class ActionsResult:
    """Recorded actions, oldest first."""

    status: QueryStatus
    message: str
    actions: tuple[ActionRecord, ...] = ()


@dataclass(frozen=True)
class HistoryResult:
    """Every placement of an instance, oldest first, and the robot's own actions on it."""

    status: QueryStatus
    message: str
    instance: Optional[InstanceSummary] = None
    placements: tuple[Placement, ...] = ()
    actions: tuple[ActionRecord, ...] = ()


class ChangeKind(enum.Enum):
    APPEARED = "appeared"  # first seen in [t0, t1]
    VANISHED = "vanished"  # seen gone in [t0, t1] and not seen elsewhere since
    MOVED = "moved"  # re-identified at another place in [t0, t1]


@dataclass(frozen=True)
class Change:
    kind: ChangeKind
    instance_id: int
    label: str
    stamp_ns: int
    from_position: Optional[Vec3] = None
    to_position: Optional[Vec3] = None
    from_receptacle: Optional[str] = None
    to_receptacle: Optional[str] = None
    from_room: Optional[str] = None
    to_room: Optional[str] = None


@dataclass(frozen=True)
class ChangesResult:
    status: QueryStatus
    message: str
    changes: tuple[Change, ...] = ()


@dataclass(frozen=True)
class CountResult:
    status: QueryStatus
    message: str
    count: int = 0
    instances: tuple[InstanceSummary, ...] = ()


@dataclass(frozen=True)
class NodeRef:
    """A scene-graph node: an instance (object/receptacle, ``instance_id``) or a room (``name``)."""

    kind: NodeKind
    instance_id: Optional[int] = None
    name: str = ""

    @property
    def key(self) -> str:
        return f"room/{self.name}" if self.kind is NodeKind.ROOM else f"{self.kind.value}/{self.instance_id}"


@dataclass(frozen=True)
class GraphEdge:
    source: NodeRef
    relation: Relation
    target: NodeRef
    intervals: tuple[TimeInterval, ...]


@dataclass(frozen=True)
class RelationsResult:
    status: QueryStatus
    message: str
    edges: tuple[GraphEdge, ...] = ()


@dataclass(frozen=True)
class StateResult:
    """The memory's belief at ``stamp_ns``: instances present then and the relations valid then."""

    status: QueryStatus
    message: str
    stamp_ns: int = 0
    instances: tuple[InstanceSummary, ...] = ()
    edges: tuple[GraphEdge, ...] = ()


@dataclass(frozen=True, eq=False)
class KeyframeInfo:
    """A stored keyframe. ``world_T_camera`` 4x4 float64; ``thumbnail`` small HxWx3 uint8 RGB."""

    keyframe_id: int
    stamp_ns: int
    world_T_camera: np.ndarray
    visible_instance_ids: tuple[int, ...]
    score: float
    thumbnail: Optional[np.ndarray] = None
    last_confirmed_ns: int = 0


@dataclass(frozen=True)
class KeyframesResult:
    status: QueryStatus
    message: str
    keyframes: tuple[KeyframeInfo, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class RoomVisit:
    """The robot was in ``room`` from ``enter_ns`` to ``exit_ns`` (None: still there)."""

    room: str
    enter_ns: int
    exit_ns: Optional[int]


@dataclass(frozen=True)
class RoomVisitsResult:
    status: QueryStatus
    message: str
    visits: tuple[RoomVisit, ...] = ()
