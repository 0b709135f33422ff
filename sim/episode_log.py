"""Ground-truth records of an episode (see :mod:`robomem_sim.episode`): per-frame metadata, the robot's
interactions and room visits, household moves, sightings, world events and the :class:`EpisodeLog` holding them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Mapping, Optional

import numpy as np
from robomem_sim.agent_script import Activity, RobotPose
from robomem_sim.world import SlotRef

Vec3 = tuple[float, float, float]


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
class HouseholdMove:
    """A person moved an object. ``robot_room``: the room the robot was in then; ``robot_active``: the robot
    was working (recording frames) then, so the move may have happened in its view."""

    object_id: int
    t_ns: int
    from_receptacle: int
    from_room: str
    to_receptacle: int
    to_room: str
    from_position: Vec3
    to_position: Vec3
    robot_room: str = ""
    robot_active: bool = False


@dataclass(frozen=True)
class Sighting:
    """An entity was visible in frame ``frame_index`` with ``pixels`` pixels."""

    frame_index: int
    stamp_ns: int
    pixels: int


class EventKind(enum.Enum):
    PICK = "pick"
    PLACE = "place"
    HOUSEHOLD_MOVE = "household_move"


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
    household_moves: tuple[HouseholdMove, ...]
    events: tuple[WorldEvent, ...]
    sightings: Mapping[int, tuple[Sighting, ...]] = field(default_factory=dict)
    vacancy_seen_ns: Mapping[tuple[int, int], int] = field(default_factory=dict)
    """(object id, household move stamp) -> stamp of the first frame after the move that showed the object's
    old place without it (not occluded); absent when the robot never looked there again."""

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
