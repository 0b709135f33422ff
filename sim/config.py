"""Dataclass configs of the built-in household simulator, the task suite and the scorer.

Same pattern as :mod:`robomem.config`: frozen dataclasses with defaults, ``validate()`` raising
:class:`~robomem.errors.ConfigError` that names the bad key, loaded with :func:`robomem.config.from_dict` /
:func:`robomem.config.load_yaml` (unknown keys are rejected). The YAML file is ``config/sim.yaml``.

Units: metres, seconds, degrees where the name says ``_deg``, radians where it says ``_rad``.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any, Mapping, Optional, Union

from robomem.config import check_non_negative, check_positive, check_unit, from_dict, load_yaml
from robomem.core.types import CameraIntrinsics
from robomem.errors import ConfigError

EPOCH_NS = 1_767_571_200 * 1_000_000_000
"""Fixed epoch of every simulated episode: 2026-01-05 00:00:00 UTC (a Monday), in ns. Day ``d`` (0-based)
starts at ``EPOCH_NS + d * 86400 s``; times of day are UTC, so runs are reproducible anywhere."""


@dataclasses.dataclass(frozen=True)
class HouseConfig:
    """Procedural house generation.

    n_rooms: rooms on a 1- or 2-row grid floor plan (2..10); room sizes are drawn in
    [room_min_size, room_max_size] m per grid column/row. Rooms are joined by doors (a spanning tree plus
    extra doors with probability ``extra_door_prob`` per remaining adjacent pair).
    Receptacles (furniture) per room in [min_receptacles_per_room, max_receptacles_per_room], drawn from the
    room -> receptacle prior; ``n_objects`` objects from the receptacle -> object prior, plus ``n_distractors``
    extra objects of an existing object's category in another colour. ``prior_noise`` is the std-dev of the
    log-normal per-house noise on prior weights, ``prior_sparsity`` the probability that a non-dominant prior
    entry is zeroed for this house.
    """

    n_rooms: int = 5
    room_min_size: float = 3.6
    room_max_size: float = 5.5
    ceiling_height: float = 2.6
    wall_thickness: float = 0.1
    door_width: float = 1.0
    door_height: float = 2.1
    extra_door_prob: float = 0.3
    min_receptacles_per_room: int = 2
    max_receptacles_per_room: int = 4
    n_objects: int = 20
    n_distractors: int = 4
    prior_noise: float = 0.3
    prior_sparsity: float = 0.15

    def validate(self) -> None:
        if not 2 <= self.n_rooms <= 10:
            raise ConfigError(f"house.n_rooms must be in [2, 10], got {self.n_rooms}")
        if self.room_min_size < 3.0:
            raise ConfigError(f"house.room_min_size must be >= 3.0 m (furniture + walkway), got {self.room_min_size}")
        if self.room_max_size < self.room_min_size:
            raise ConfigError(
                f"house.room_max_size ({self.room_max_size}) must be >= house.room_min_size ({self.room_min_size})"
            )
        if not 0.6 <= self.door_width <= self.room_min_size - 1.0:
            raise ConfigError(f"house.door_width must be in [0.6, room_min_size - 1.0] m, got {self.door_width}")
        if not 1.5 <= self.door_height < self.ceiling_height:
            raise ConfigError(
                f"house.door_height must be in [1.5, ceiling_height) m, got {self.door_height}"
            )
        _positive(self, "ceiling_height", "wall_thickness", "min_receptacles_per_room", "n_objects")
        if self.max_receptacles_per_room < self.min_receptacles_per_room:
            raise ConfigError("house.max_receptacles_per_room must be >= house.min_receptacles_per_room")
        if self.max_receptacles_per_room > 5:
            raise ConfigError(f"house.max_receptacles_per_room must be <= 5, got {self.max_receptacles_per_room}")
        _non_negative(self, "n_distractors", "prior_noise")
        _unit(self, "extra_door_prob", "prior_sparsity")


@dataclasses.dataclass(frozen=True)
class CameraConfig:
    """The robot's head camera (OpenCV optical frame, pinhole, no distortion).

    width x height pixels (evaluation default 160x120, at most 640x480); hfov_deg: horizontal field of view;
    height_m: camera height above the floor; pitch_deg: default tilt while driving (negative = down);
    pan_amplitude_deg / pan_period_s: the head sweeps left-right while driving ("looking around").
    """

    width: int = 160
    height: int = 120
    hfov_deg: float = 65.0
    height_m: float = 1.2
    pitch_deg: float = -25.0
    pan_amplitude_deg: float = 30.0
    pan_period_s: float = 8.0

    def validate(self) -> None:
        if not (8 <= self.width <= 640 and 8 <= self.height <= 480):
            raise ConfigError(
                f"camera.width x camera.height must be within 8x8..640x480, got {self.width}x{self.height}"
            )
        if not 30.0 <= self.hfov_deg <= 120.0:
            raise ConfigError(f"camera.hfov_deg must be in [30, 120], got {self.hfov_deg}")
        if not 0.3 <= self.height_m <= 2.0:
            raise ConfigError(f"camera.height_m must be in [0.3, 2.0] m, got {self.height_m}")
        if not -80.0 <= self.pitch_deg <= 30.0:
            raise ConfigError(f"camera.pitch_deg must be in [-80, 30], got {self.pitch_deg}")
        _non_negative(self, "pan_amplitude_deg")
        _positive(self, "pan_period_s")

    def intrinsics(self) -> CameraIntrinsics:
        """Pinhole intrinsics with square pixels and the principal point at the image centre."""
        fx = self.width / (2.0 * math.tan(math.radians(self.hfov_deg) / 2.0))
        return CameraIntrinsics(fx=fx, fy=fx, cx=self.width / 2.0, cy=self.height / 2.0, width=self.width,
                                height=self.height)


@dataclasses.dataclass(frozen=True)
class AgentConfig:
    """The scripted oracle (FindingDory phase 1).

    speed_mps: driving speed; turn_rate_deg_s: turning speed in place. look_s / pick_s / place_s: time spent
    looking at the object before the pick, picking, placing (the robot looks at the placed object).
    scan_new_rooms: on the first entry of a room each day the robot turns 360 deg in ``scan_views`` views of
    ``scan_view_s`` s each. frame_every: a frame every k clock steps while active (none while idle).
    viewpoint_distance: the robot stands this far (m) in front of a receptacle's front face to pick/place.
    robot_radius / grid_cell: the occupancy grid used to plan collision-free paths, m.
    """

    speed_mps: float = 0.5
    turn_rate_deg_s: float = 90.0
    look_s: float = 3.0
    pick_s: float = 8.0
    place_s: float = 8.0
    scan_new_rooms: bool = True
    scan_views: int = 8
    scan_view_s: float = 2.0
    frame_every: int = 1
    viewpoint_distance: float = 0.7
    robot_radius: float = 0.25
    grid_cell: float = 0.1

    def validate(self) -> None:
        _positive(self, "speed_mps", "turn_rate_deg_s", "look_s", "pick_s", "place_s", "scan_views")
        _positive(self, "scan_view_s", "frame_every", "robot_radius", "grid_cell")
        if not 0.4 <= self.viewpoint_distance <= 0.9:
            raise ConfigError(f"agent.viewpoint_distance must be in [0.4, 0.9] m, got {self.viewpoint_distance}")
        if self.grid_cell > self.robot_radius:
            raise ConfigError(f"agent.grid_cell ({self.grid_cell}) must be <= agent.robot_radius ({self.robot_radius})")


@dataclasses.dataclass(frozen=True)
class DynamicsConfig:
    """Simulated time, the robot's errands and the household's own changes.

    days: simulated days (default 3: a long horizon); each runs day_start_hour..day_end_hour (06:00-22:00) over
    ``steps_per_day`` clock steps (57600 = 1 s steps). min/max_interactions_per_day: pick-and-place
    interactions of the oracle per day (FindingDory: 2-11); ``repick_prob``: probability that an interaction
    picks an object the robot already moved before (repeated interactions with the same objects).
    People: ``household_events_per_day`` times per day, at random times (mostly while the robot is idle and
    records nothing), the household moves ``move_rate`` x n_objects objects (stochastic rounding) chosen
    proportional to their move frequency, to receptacles drawn from the prior (never full ones), in any room;
    and during each interaction, with probability ``watched_move_prob``, a person moves one object of the
    room the robot is in at that moment (often in its view). epoch_ns: the fixed epoch, see :data:`EPOCH_NS`.
    """

    days: int = 3
    steps_per_day: int = 57600
    day_start_hour: int = 6
    day_end_hour: int = 22
    min_interactions_per_day: int = 2
    max_interactions_per_day: int = 11
    repick_prob: float = 0.35
    household_events_per_day: int = 4
    move_rate: float = 0.05
    watched_move_prob: float = 0.3
    epoch_ns: int = EPOCH_NS

    def validate(self) -> None:
        _positive(self, "days", "steps_per_day", "min_interactions_per_day")
        if not 0 <= self.day_start_hour < self.day_end_hour <= 24:
            raise ConfigError(
                f"dynamics.day_start_hour/day_end_hour must satisfy 0 <= start < end <= 24, got "
                f"{self.day_start_hour}/{self.day_end_hour}"
            )
        if self.max_interactions_per_day < self.min_interactions_per_day:
            raise ConfigError("dynamics.max_interactions_per_day must be >= dynamics.min_interactions_per_day")
        _non_negative(self, "household_events_per_day", "epoch_ns")
        _unit(self, "move_rate", "repick_prob", "watched_move_prob")

    @property
    def step_s(self) -> float:
        """Length of one clock step, s."""
        return (self.day_end_hour - self.day_start_hour) * 3600.0 / self.steps_per_day


@dataclasses.dataclass(frozen=True)
class TaskConfig:
    """Task suite. per_family: tasks generated per family (fewer when the episode does not support more).
    time_tolerance_s / duration_tolerance_s: absolute tolerance of typed time / duration answers.
    max_goals: at most this many goals in a multi-goal task."""

    per_family: int = 3
    time_tolerance_s: float = 60.0
    duration_tolerance_s: float = 10.0
    max_goals: int = 4

    def validate(self) -> None:
        _positive(self, "per_family", "time_tolerance_s", "duration_tolerance_s")
        if self.max_goals < 2:
            raise ConfigError(f"tasks.max_goals must be >= 2, got {self.max_goals}")


@dataclasses.dataclass(frozen=True)
class ScoringConfig:
    """FindingDory's success rules, adapted to the built-in sim (see :mod:`robomem_sim.scoring`).

    object_distance_m: straight-line xy distance from the goal to the object centre; object_heading_rad: the
    goal yaw must point at the object within this angle; receptacle_distance_m: xy distance from the goal to
    the receptacle's footprint (nearest face); receptacle_heading_rad; min_coverage: fraction of the pixels of
    a render from the goal (head camera pointed at the target) that must show the target.
    """

    object_distance_m: float = 2.0
    object_heading_rad: float = math.pi / 4
    receptacle_distance_m: float = 1.0
    receptacle_heading_rad: float = math.pi / 2
    min_coverage: float = 0.001

    def validate(self) -> None:
        _positive(self, "object_distance_m", "object_heading_rad", "receptacle_distance_m")
        _positive(self, "receptacle_heading_rad", "min_coverage")
        if self.min_coverage > 1.0:
            raise ConfigError(f"scoring.min_coverage must be <= 1, got {self.min_coverage}")


@dataclasses.dataclass(frozen=True)
class NoiseConfig:
    """The ``noisy`` perception mode (``unlabelled`` is ``noisy`` without labels); see
    :mod:`robomem_sim.perception`. Every draw is seeded per (episode, frame, mode), so a run is reproducible.

    Detections: an object/receptacle segment is missed with probability ``miss_prob``, more often when it is
    small (``miss_small_pixels``: below that many pixels the probability rises linearly towards
    ``miss_prob + (1 - miss_prob) / 2`` at 0 px). ``spurious_per_frame``: expected number (Poisson) of
    spurious segments per frame, rectangles of up to ``spurious_max_pixels`` pixels on the background (walls,
    floor) labelled as a random object. Labels: the category is swapped for a similar one (mug/cup-like
    cylinders, bowl/plate, phone/remote/wallet, ...) with ``category_confusion_prob``, the colour for a
    similar one (grey/silver/white, red/orange/pink, ...) with ``colour_confusion_prob``, the material
    (plastic/metal, ceramic/glass, ...) with ``material_confusion_prob``. Masks: every pixel on a segment
    boundary takes its neighbour's id with ``edge_flip_prob`` (the segment erodes where the neighbour bleeds
    in). Depth: Gaussian noise of std ``depth_sigma_m + depth_sigma_z2 * z^2`` (Kinect-like, metres, z in
    metres) and ``depth_dropout`` of the pixels invalid (0). Pose: the robot's own estimate drifts slowly,
    a mean-reverting random walk (Ornstein-Uhlenbeck) with stationary std ``pose_drift_m`` in x and y and
    ``pose_drift_deg`` in yaw, correlation time ``pose_drift_tau_s``; the camera pose and the gripper poses
    of the robot's action events carry it.

    Levels (per frame): ``clean`` all zero; ``default`` (below) a good modern detector on a well-localised
    robot: ~10 % missed, ~8 % category and ~5 % colour confusion, 1-px mask jitter, ~1 cm depth noise at 2 m,
    ~5 cm / 1 deg pose drift; ``harsh`` (:meth:`harsh`) roughly doubles every rate.
    """

    miss_prob: float = 0.1
    miss_small_pixels: int = 40
    spurious_per_frame: float = 0.3
    spurious_max_pixels: int = 60
    category_confusion_prob: float = 0.08
    colour_confusion_prob: float = 0.05
    material_confusion_prob: float = 0.05
    edge_flip_prob: float = 0.3
    depth_sigma_m: float = 0.0012
    depth_sigma_z2: float = 0.0019
    depth_dropout: float = 0.01
    pose_drift_m: float = 0.05
    pose_drift_deg: float = 1.0
    pose_drift_tau_s: float = 600.0

    def validate(self) -> None:
        _unit(self, "miss_prob", "category_confusion_prob", "colour_confusion_prob", "material_confusion_prob",
              "edge_flip_prob", "depth_dropout")
        _non_negative(self, "miss_small_pixels", "spurious_per_frame", "depth_sigma_m", "depth_sigma_z2",
                      "pose_drift_m", "pose_drift_deg")
        _positive(self, "spurious_max_pixels", "pose_drift_tau_s")
        if self.spurious_per_frame > 20:
            raise ConfigError(f"noise.spurious_per_frame must be <= 20, got {self.spurious_per_frame}")
        if self.pose_drift_m > 1.0 or self.pose_drift_deg > 20.0:
            raise ConfigError("noise.pose_drift_m must be <= 1 m and noise.pose_drift_deg <= 20 deg")

    @classmethod
    def clean(cls) -> NoiseConfig:
        """No noise at all (``noisy`` then differs from ``gt_segments`` only by its per-frame ids)."""
        return cls(0.0, 0, 0.0, 1, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 600.0)

    @classmethod
    def harsh(cls) -> NoiseConfig:
        """About twice the default rates: a weak detector, a poorly localised robot."""
        return cls(0.2, 60, 0.6, 80, 0.16, 0.1, 0.1, 0.5, 0.0024, 0.0038, 0.02, 0.1, 2.0, 600.0)


@dataclasses.dataclass(frozen=True)
class SimConfig:
    """The whole simulation harness (``config/sim.yaml``)."""

    house: HouseConfig = dataclasses.field(default_factory=HouseConfig)
    camera: CameraConfig = dataclasses.field(default_factory=CameraConfig)
    agent: AgentConfig = dataclasses.field(default_factory=AgentConfig)
    dynamics: DynamicsConfig = dataclasses.field(default_factory=DynamicsConfig)
    tasks: TaskConfig = dataclasses.field(default_factory=TaskConfig)
    scoring: ScoringConfig = dataclasses.field(default_factory=ScoringConfig)
    noise: NoiseConfig = dataclasses.field(default_factory=NoiseConfig)

    def validate(self) -> None:
        for f in dataclasses.fields(self):
            getattr(self, f.name).validate()
        if self.dynamics.step_s > 60.0:
            raise ConfigError(
                f"dynamics.steps_per_day={self.dynamics.steps_per_day} gives {self.dynamics.step_s:.0f} s steps; "
                "use at least one step per minute of the day"
            )

    @classmethod
    def small(cls, camera_width: int = 64, camera_height: int = 48, days: int = 1) -> SimConfig:
        """A tiny, fast configuration for tests and smoke runs: 3 rooms, 8 objects (+2 distractors), ``days``
        (default one) of 10 s steps with 3 interactions and 3 household events moving ~15 % of the objects
        each, 64x48 camera (about 100 frames a day, well under a second to generate)."""
        return cls(
            house=HouseConfig(n_rooms=3, n_objects=8, n_distractors=2, max_receptacles_per_room=3),
            camera=CameraConfig(width=camera_width, height=camera_height),
            dynamics=DynamicsConfig(days=days, steps_per_day=5760, min_interactions_per_day=3,
                                    max_interactions_per_day=3, household_events_per_day=3, move_rate=0.15),
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SimConfig:
        """Build from a nested mapping (unknown keys rejected), validated."""
        return from_dict(cls, data)

    @classmethod
    def load(cls, path: Union[str, Path], section: Optional[str] = None) -> SimConfig:
        """Load ``config/sim.yaml`` (optionally one top-level ``section`` of a bigger file), validated."""
        return load_yaml(cls, path, section)


def _positive(cfg: Any, *names: str) -> None:
    check_positive(cfg, *names, where=_section(cfg))


def _non_negative(cfg: Any, *names: str) -> None:
    check_non_negative(cfg, *names, where=_section(cfg))


def _unit(cfg: Any, *names: str) -> None:
    check_unit(cfg, *names, where=_section(cfg))


def _section(cfg: Any) -> str:
    return type(cfg).__name__.replace("Config", "").lower()
