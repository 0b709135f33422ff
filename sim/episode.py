"""Episodes: one seeded house, one or more simulated days of the scripted oracle, and the ground-truth log.

API (stable; the agents, the runner and the planner build on it)::

    episode = generate_episode(SimConfig(), seed=7)          # symbolic: poses, events, sightings; no images kept
    for frame in iter_frames(episode):                       # lazy RGB-D frames with ground-truth perception
        memory.ingest(frame)
    tasks = robomem_sim.tasks.generate_tasks(episode)
    renderer = episode.renderer()                            # world at episode.now_ns, for scoring

Ground truth lives in :class:`EpisodeLog`: every pick and place (time, from/to receptacle and room), the
robot's room visits, the objects the household moved while the robot was elsewhere, and every sighting of
every object/receptacle in the frames (>= ``SIGHTING_MIN_PIXELS`` pixels). ``episode.frames[i]`` holds the
pose and stamp of frame ``i`` (FindingDory answers can be frame indices).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Iterator, Mapping, Optional

import numpy as np

from robomem.core.types import Frame
from robomem_sim.config import SimConfig
from robomem_sim.dynamics import SimClock
from robomem_sim.world import House, SlotRef, WorldState

Vec3 = tuple[float, float, float]

SIGHTING_MIN_PIXELS = 20
"""An entity counts as *seen* in a frame when it covers at least this many pixels (0.1 % of 160x120)."""


class Activity(enum.Enum):
    """What the robot is doing at a frame."""

    SCAN = "scan"  # turning in place to look around a room
    NAVIGATE = "navigate"
    LOOK = "look"  # looking at the object before picking it
    PICK = "pick"
    PLACE = "place"


@dataclass(frozen=True)
class RobotPose:
    """The robot base on the floor: position (m, world) and heading ``yaw`` (rad about +z, 0 = +x)."""

    x: float
    y: float
    yaw: float

    @property
    def xy(self) -> tuple[float, float]:
        return (self.x, self.y)


@dataclass(frozen=True, eq=False)
class FrameMeta:
    """Pose and context of one frame (without the images).

    ``world_T_camera``: 4x4 float64 optical camera pose; ``robot``: the base pose; ``room``: the room the robot
    is in; ``interaction``: index into ``EpisodeLog.interactions`` when the frame belongs to one.
    """

    index: int
    stamp_ns: int
    world_T_camera: np.ndarray
    robot: RobotPose
    room: str
    activity: Activity
    interaction: Optional[int] = None


@dataclass(frozen=True)
class Interaction:
    """One pick-and-place by the oracle.

    start_ns: the robot sets off towards the object; pick_ns: the object leaves its receptacle;
    place_ns: the object is put down; end_ns: the robot is done looking at it. Positions are object centres
    (world, m). ``duration_s`` (place - pick) is what "took longest to rearrange" means.
    """

    index: int
    object_id: int
    start_ns: int
    pick_ns: int
    place_ns: int
    end_ns: int
    from_receptacle: int
    from_room: str
    to_receptacle: int
    to_room: str
    from_position: Vec3
    to_position: Vec3

    @property
    def duration_s(self) -> float:
        return (self.place_ns - self.pick_ns) / 1e9


@dataclass(frozen=True)
class Visit:
    """The robot was in ``room`` from ``enter_ns`` to ``exit_ns`` (closed at the end of each day)."""

    room: str
    enter_ns: int
    exit_ns: int

    @property
    def duration_s(self) -> float:
        return (self.exit_ns - self.enter_ns) / 1e9


@dataclass(frozen=True)
class UnseenMove:
    """The household moved an object while the robot was in another room."""

    object_id: int
    t_ns: int
    from_receptacle: int
    from_room: str
    to_receptacle: int
    to_room: str
    from_position: Vec3
    to_position: Vec3


@dataclass(frozen=True)
class Sighting:
    """An entity was visible in frame ``frame_index`` with ``pixels`` pixels."""

    frame_index: int
    stamp_ns: int
    pixels: int


class EventKind(enum.Enum):
    PICK = "pick"
    PLACE = "place"
    UNSEEN_MOVE = "unseen_move"


@dataclass(frozen=True)
class WorldEvent:
    """One change of the world state: ``to_slot`` None means "now carried by the robot"."""

    t_ns: int
    kind: EventKind
    object_id: int
    to_slot: Optional[SlotRef]


@dataclass(frozen=True)
class EpisodeLog:
    """The symbolic ground truth of an episode. All tuples are in time order."""

    interactions: tuple[Interaction, ...]
    visits: tuple[Visit, ...]
    unseen_moves: tuple[UnseenMove, ...]
    events: tuple[WorldEvent, ...]
    sightings: Mapping[int, tuple[Sighting, ...]] = field(default_factory=dict)

    def seen_ids(self) -> frozenset[int]:
        """Every sim id (object or receptacle) seen in at least one frame."""
        return frozenset(k for k, v in self.sightings.items() if v)

    def first_seen_ns(self, sim_id: int) -> Optional[int]:
        s = self.sightings.get(sim_id, ())
        return s[0].stamp_ns if s else None

    def last_seen_ns(self, sim_id: int, before_ns: Optional[int] = None) -> Optional[int]:
        """Stamp of the last sighting of ``sim_id`` (at or before ``before_ns`` when given)."""
        s = [x.stamp_ns for x in self.sightings.get(sim_id, ()) if before_ns is None or x.stamp_ns <= before_ns]
        return s[-1] if s else None

    def seen_between(self, sim_id: int, t0_ns: int, t1_ns: int) -> bool:
        return any(t0_ns <= x.stamp_ns <= t1_ns for x in self.sightings.get(sim_id, ()))

    def interacted_ids(self) -> tuple[int, ...]:
        """Objects picked at least once, in order of their first pick."""
        out: list[int] = []
        for it in self.interactions:
            if it.object_id not in out:
                out.append(it.object_id)
        return tuple(out)


@dataclass(frozen=True, eq=False)
class Episode:
    """A generated episode. Cheap to keep: frames are rendered on demand by :func:`iter_frames`.

    ``now_ns`` is when the tasks are asked (end of the last day); ``final_pose`` the robot's pose then
    (the start of every navigation answer, for SPL). ``initial_state`` is the world before the first event.
    """

    seed: int
    config: SimConfig
    house: House
    clock: SimClock
    frames: tuple[FrameMeta, ...]
    log: EpisodeLog
    now_ns: int
    final_pose: RobotPose
    initial_state: WorldState

    def state_at(self, t_ns: int) -> WorldState:
        """The world at ``t_ns``: every event with ``t_ns`` <= the given time applied (a fresh copy)."""
        raise NotImplementedError

    def renderer(self, t_ns: Optional[int] = None) -> object:
        """A :class:`~robomem_sim.render.Renderer` of the world at ``t_ns`` (default ``now_ns``)."""
        raise NotImplementedError

    @property
    def frame_stamps_ns(self) -> np.ndarray:
        """(N,) int64 stamps of the frames, for frame-index answers."""
        return np.array([f.stamp_ns for f in self.frames], dtype=np.int64)


def generate_episode(config: Optional[SimConfig] = None, seed: int = 0) -> Episode:
    """Generate the house, the oracle's days and the ground-truth log, deterministically from ``seed``.

    Renders an id-only pass over all frames to record sightings (cost ~1-3 ms per 160x120 frame).
    Raises :class:`~robomem.errors.SimError` when the config cannot produce an episode.
    """
    raise NotImplementedError


def iter_frames(episode: Episode, start: int = 0, stop: Optional[int] = None) -> Iterator[Frame]:
    """Yield ``robomem.core.types.Frame`` for frames ``start..stop-1``, lazily, in time order.

    Ground-truth perception: rgb HxWx3 uint8, depth float32 metres (z-depth), ``instance_mask`` int32 sim ids
    (-1 for walls/floor/ceiling), ``instance_labels`` {sim id: label} and ``receptacle_ids`` for the ids
    visible in that frame. Ids are persistent (use ``ObjectConfig.mask_ids = persistent``).
    """
    raise NotImplementedError
