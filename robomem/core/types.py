"""Small typed value types shared by the whole core.

Conventions (everywhere in robomem):

* Times are integer nanoseconds since the Unix epoch (``*_ns``), as in ``builtin_interfaces/Time``.
* Lengths are metres; angles radians.
* Camera frames are OpenCV optical frames: x right, y down, z forward.
* ``a_T_b`` is a 4x4 homogeneous transform that maps points expressed in frame ``b`` into frame ``a``;
  ``points_world = world_T_camera @ points_camera``.
* The world frame is z-up (gravity along -z): "on top of" and floor heights use z.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Mapping, NamedTuple, Optional

import numpy as np

NO_INSTANCE = -1
"""Value of a per-pixel or per-voxel instance id meaning "not part of any instance"."""


@dataclass(frozen=True)
class CameraIntrinsics:
    """Pinhole intrinsics of an undistorted image, in pixels.

    ``width`` x ``height`` is the image size the intrinsics refer to.
    """

    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int

    def as_matrix(self) -> np.ndarray:
        """The 3x3 camera matrix K (float64)."""
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])


class DepthUnit(enum.Enum):
    """How the depth image encodes distance along the optical axis (z-depth)."""

    METERS = "meters"  # float32, metres (ROS 32FC1)
    MILLIMETERS = "millimeters"  # uint16, millimetres (ROS 16UC1)


@dataclass(frozen=True, eq=False)
class Frame:
    """One RGB-D observation, as the memory ingests it.

    Attributes:
        rgb: HxWx3 uint8, RGB channel order.
        depth: HxW z-depth; float32 metres or uint16 with ``depth_scale`` metres per unit (mm: 0.001).
            0, NaN and +-inf mean "no measurement" and are dropped (counted) pixel by pixel.
        intrinsics: pinhole intrinsics; ``width``/``height`` must match the images.
        world_T_camera: 4x4 float pose of the optical camera frame in the world frame.
        stamp_ns: acquisition time, ns since the epoch. Must not go backwards within one memory.
        depth_scale: metres per depth unit for uint16 depth (ignored for float depth).
        instance_mask: optional HxW int32 segment ids; ``NO_INSTANCE`` (-1) for "no segment". Ids are
            per-frame segment ids unless the memory's ``ObjectConfig.mask_ids`` says they are persistent.
        instance_labels: segment id -> text label ("red mug"); segments missing here have no label.
        receptacle_ids: segment ids that are furniture/receptacles (things objects are put on or in).
    """

    rgb: np.ndarray
    depth: np.ndarray
    intrinsics: CameraIntrinsics
    world_T_camera: np.ndarray
    stamp_ns: int
    depth_scale: float = 0.001
    instance_mask: Optional[np.ndarray] = None
    instance_labels: Mapping[int, str] = field(default_factory=dict)
    receptacle_ids: frozenset[int] = frozenset()


class Relation(enum.Enum):
    """Scene-graph relation kinds. Edges point from the dependent thing to its support/container."""

    ON = "on"  # object -> receptacle it rests on
    IN = "in"  # object -> receptacle or room that contains it
    NEAR = "near"  # object <-> object/receptacle within ``near_distance``
    PART_OF = "part_of"  # receptacle -> room


class NodeKind(enum.Enum):
    """Scene-graph node kinds."""

    ROOM = "room"
    RECEPTACLE = "receptacle"
    OBJECT = "object"


@dataclass(frozen=True)
class TimeInterval:
    """Closed time interval ``[start_ns, end_ns]``; ``end_ns is None`` means "still true now"."""

    start_ns: int
    end_ns: Optional[int] = None

    def contains(self, t_ns: int) -> bool:
        return self.start_ns <= t_ns and (self.end_ns is None or t_ns <= self.end_ns)

    def overlaps(self, t0_ns: int, t1_ns: int) -> bool:
        return self.start_ns <= t1_ns and (self.end_ns is None or self.end_ns >= t0_ns)


class Box3D(NamedTuple):
    """Axis-aligned box in the world frame, metres."""

    min_xyz: tuple[float, float, float]
    max_xyz: tuple[float, float, float]

    @property
    def center(self) -> tuple[float, float, float]:
        return (
            (self.min_xyz[0] + self.max_xyz[0]) / 2.0,
            (self.min_xyz[1] + self.max_xyz[1]) / 2.0,
            (self.min_xyz[2] + self.max_xyz[2]) / 2.0,
        )

    def contains(self, xyz: tuple[float, float, float], margin: float = 0.0) -> bool:
        return all(self.min_xyz[i] - margin <= xyz[i] <= self.max_xyz[i] + margin for i in range(3))


@dataclass(frozen=True)
class Region:
    """A named region of the world (a room), as an axis-aligned box in the world frame."""

    name: str
    box: Box3D


@dataclass(frozen=True)
class Placement:
    """One stay of an object at one place: where it was and when it was seen there.

    ``first_seen_ns``/``last_seen_ns`` bound the observations at this place; ``vanished_ns`` is the time
    the robot looked at the place and found it empty (None while the object is still believed there).
    """

    position: tuple[float, float, float]
    box: Box3D
    first_seen_ns: int
    last_seen_ns: int
    vanished_ns: Optional[int] = None
    receptacle_id: Optional[int] = None
    room: Optional[str] = None

    @property
    def interval(self) -> TimeInterval:
        return TimeInterval(self.first_seen_ns, self.vanished_ns)


@dataclass(frozen=True)
class IngestStats:
    """What one ``ingest`` call did. Counts are pixels or voxels."""

    stamp_ns: int
    points_in: int
    pixels_dropped_invalid_depth: int
    pixels_dropped_out_of_range: int
    voxels_added: int
    voxels_updated: int
    voxels_removed: int
    instances_seen: int
    instances_created: int
    instances_moved: int
    keyframe_added: bool


class ActionKind(enum.Enum):
    """What the robot's own manipulation stack did."""

    PICK = "pick"  # the gripper closed on an object and lifted it
    PLACE = "place"  # the gripper released the object it held


@dataclass(frozen=True, eq=False)
class ActionEvent:
    """One action of the robot's own gripper, reported by the manipulation stack (a fact, not a guess).

    Attributes:
        kind: PICK or PLACE.
        stamp_ns: when it happened, ns since the epoch.
        world_T_gripper: 4x4 float pose of the gripper (tool centre point) in the world frame at ``stamp_ns``.
        segment_id: optional hint: the grasped (PICK) / released (PLACE) object's segment id in the instance
            mask of the frame stamped ``frame_stamp_ns`` (default: the newest frame ingested at or before
            ``stamp_ns``).
        frame_stamp_ns: the frame ``segment_id`` refers to (None: the newest one at or before ``stamp_ns``).
        instance_id: optional hint: the memory instance id, when the caller knows it.
        label: optional hint: what the manipulation stack believes it holds ("mug").
    """

    kind: ActionKind
    stamp_ns: int
    world_T_gripper: np.ndarray
    segment_id: Optional[int] = None
    frame_stamp_ns: Optional[int] = None
    instance_id: Optional[int] = None
    label: str = ""
