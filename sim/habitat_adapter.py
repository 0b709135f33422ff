"""Thin adapter between Habitat / FindingDory and robomem (habitat-sim itself is not needed to import this).

Conventions converted here (and only here):

* **Habitat world** is y-up, right-handed, with -z the default forward direction. **robomem's world** is z-up.
  We map ``p_robomem = (x_h, -z_h, y_h)``: habitat's x stays x, habitat's "into the screen" (-z) becomes
  robomem's +y, habitat's up (+y) becomes robomem's up (+z). :data:`ROBOMEM_T_HABITAT` is that rotation
  (a proper rotation, det +1), so positions, boxes and yaw angles map one to one.
* **Habitat camera frames** are OpenGL style: x right, y up, the camera looks along -z.
  robomem cameras are OpenCV optical frames: x right, y down, z forward. ``GL_T_CV = diag(1, -1, -1)``.
  Hence ``world_T_camera = ROBOMEM_T_HABITAT @ habitat_world_T_sensor @ GL_T_CV``.
* **Quaternions** are given as (x, y, z, w) by default (``quaternion_order``), the order FindingDory and the
  habitat datasets store; numpy-quaternion / magnum objects (attributes ``w, x, y, z`` or ``vector, scalar``)
  are read by attribute.
* **Intrinsics** come from the horizontal field of view: ``fx = fy = (W / 2) / tan(hfov / 2)``, the principal
  point at the image centre (Habitat's pinhole sensors have square pixels).
* **Time**: FindingDory's ``time_of_day`` sensor is ``"HH:MM"`` (minute resolution, several frames per
  minute). Stamps are ``day_start_ns + minutes * 60 s``; frames within the same minute (or a clock that goes
  backwards, e.g. the "00:00" dummy during place-viewpoint search) get the previous stamp + ``min_step_ns`` so
  the memory always sees strictly increasing stamps.

:class:`FindingDoryMemoryAgent` follows FindingDory's agent interface (``reset``, ``reset_new_task``, ``act``):
during the data-collection phase (``can_take_action == 0``) it stores every frame in the memory, and when it
may act it answers the ``lang_memory_goal`` with the planner and returns the chosen frame indices plus the
stored agent states of those frames (``high_level_policy_action``), as FindingDory's VLM agents do.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Protocol, Sequence

import numpy as np

from robomem.core.api import MemoryQueries
from robomem.core.geometry import matrix_to_quaternion, quaternion_to_matrix
from robomem.core.types import NO_INSTANCE, CameraIntrinsics, Frame
from robomem.errors import SimError
from robomem.planner.base import AnswerKind, Goal, Planner, PlannerAnswer

__all__ = [
    "GL_T_CV",
    "ROBOMEM_T_HABITAT",
    "FindingDoryMemoryAgent",
    "HabitatAdapterConfig",
    "ObservationConverter",
    "habitat_pose_to_world_T_camera",
    "habitat_to_robomem_point",
    "intrinsics_from_hfov",
    "quaternion_xyzw",
    "quaternion_to_matrix",
    "robomem_to_habitat_point",
    "time_of_day_minutes",
]

_LOG = logging.getLogger(__name__)

ROBOMEM_T_HABITAT = np.array([[1.0, 0.0, 0.0, 0.0], [0.0, 0.0, -1.0, 0.0], [0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]])
"""4x4 rotation taking habitat-world (y-up) coordinates to robomem-world (z-up) coordinates."""

GL_T_CV = np.diag([1.0, -1.0, -1.0, 1.0])
"""4x4 rotation taking OpenCV optical camera coordinates to Habitat's OpenGL-style camera coordinates."""

NS_PER_MIN = 60_000_000_000


# --------------------------------------------------------------------------------------------- geometry


def quaternion_xyzw(rotation: Any, order: str = "xyzw") -> tuple[float, float, float, float]:
    """Read a quaternion as (x, y, z, w) from a sequence (in ``order``) or a quaternion object.

    Objects with ``w, x, y, z`` attributes (numpy-quaternion, habitat AgentState.rotation) and magnum
    quaternions (``vector``, ``scalar``) are accepted. The result is normalised; raises SimError for a zero or
    non-finite quaternion.
    """
    if hasattr(rotation, "scalar") and hasattr(rotation, "vector"):
        v = rotation.vector
        q = (float(v[0]), float(v[1]), float(v[2]), float(rotation.scalar))
    elif all(hasattr(rotation, a) for a in ("w", "x", "y", "z")):
        q = (float(rotation.x), float(rotation.y), float(rotation.z), float(rotation.w))
    else:
        arr = np.asarray(rotation, dtype=np.float64).reshape(-1)
        if arr.shape != (4,):
            raise SimError(
                f"a camera rotation must be a quaternion of 4 numbers, got shape {arr.shape}; "
                "pass (x, y, z, w) or set quaternion_order='wxyz'"
            )
        if order == "xyzw":
            q = (float(arr[0]), float(arr[1]), float(arr[2]), float(arr[3]))
        elif order == "wxyz":
            q = (float(arr[1]), float(arr[2]), float(arr[3]), float(arr[0]))
        else:
            raise SimError(f"quaternion_order must be 'xyzw' or 'wxyz', got {order!r}")
    norm = math.sqrt(sum(c * c for c in q))
    if not math.isfinite(norm) or norm < 1e-9:
        raise SimError(f"camera rotation quaternion {q} is zero or not finite; the pose cannot be used")
    x, y, z, w = (c / norm for c in q)
    return (x, y, z, w)


def habitat_to_robomem_point(p_habitat: Sequence[float]) -> tuple[float, float, float]:
    """A habitat-world point (y-up) -> robomem-world (z-up): ``(x, -z, y)``."""
    x, y, z = (float(c) for c in p_habitat)
    return (x, -z, y)


def robomem_to_habitat_point(p_world: Sequence[float]) -> tuple[float, float, float]:
    """Inverse of :func:`habitat_to_robomem_point`: robomem ``(x, y, z)`` -> habitat ``(x, z, -y)``."""
    x, y, z = (float(c) for c in p_world)
    return (x, z, -y)


def habitat_pose_to_world_T_camera(  # noqa: N802
    position: Sequence[float], rotation: Any, quaternion_order: str = "xyzw"
) -> np.ndarray:
    """Habitat sensor pose (position m + orientation, habitat world, OpenGL camera) -> robomem 4x4
    ``world_T_camera`` of the OpenCV optical frame in the z-up world."""
    pos = np.asarray(position, dtype=np.float64).reshape(-1)
    if pos.shape != (3,) or not np.all(np.isfinite(pos)):
        raise SimError(f"camera position must be 3 finite numbers (m), got {position!r}")
    h_T_gl = np.eye(4)
    h_T_gl[:3, :3] = quaternion_to_matrix(*quaternion_xyzw(rotation, quaternion_order))
    h_T_gl[:3, 3] = pos
    return ROBOMEM_T_HABITAT @ h_T_gl @ GL_T_CV


def world_T_camera_to_habitat_pose(  # noqa: N802
    world_T_camera: np.ndarray,
) -> tuple[tuple[float, float, float], tuple[float, float, float, float]]:
    """Inverse of :func:`habitat_pose_to_world_T_camera`: -> (habitat position, quaternion (x, y, z, w))."""
    h_T_gl = np.linalg.inv(ROBOMEM_T_HABITAT) @ np.asarray(world_T_camera, dtype=np.float64) @ GL_T_CV
    p = h_T_gl[:3, 3]
    return (float(p[0]), float(p[1]), float(p[2])), matrix_to_quaternion(h_T_gl[:3, :3])


def intrinsics_from_hfov(hfov: float, width: int, height: int, degrees: bool = True) -> CameraIntrinsics:
    """Pinhole intrinsics (pixels) of a Habitat camera with horizontal field of view ``hfov``."""
    h = math.radians(hfov) if degrees else float(hfov)
    if not 0.0 < h < math.pi:
        raise SimError(f"hfov must be in (0, 180) degrees, got {hfov} ({'deg' if degrees else 'rad'})")
    if width <= 0 or height <= 0:
        raise SimError(f"image size must be positive, got {width}x{height}")
    f = (width / 2.0) / math.tan(h / 2.0)
    return CameraIntrinsics(fx=f, fy=f, cx=width / 2.0, cy=height / 2.0, width=int(width), height=int(height))


def time_of_day_minutes(text: str) -> int:
    """``"HH:MM"`` -> minutes since midnight. Raises SimError with the expected format otherwise."""
    try:
        hh, mm = str(text).strip().split(":")
        h, m = int(hh), int(mm)
    except ValueError:
        raise SimError(f"time_of_day must look like 'HH:MM', got {text!r}") from None
    if not (0 <= h < 24 and 0 <= m < 60):
        raise SimError(f"time_of_day {text!r} is out of range 00:00-23:59")
    return h * 60 + m


# --------------------------------------------------------------------------------------------- frames


@dataclass(frozen=True)
class HabitatAdapterConfig:
    """How observation dicts are read.

    rgb_key/depth_key: observation keys of the head camera (HxWx3/4 uint8, HxW or HxWx1 float32 depth).
    sensor_uuid: key into ``agent_state.sensor_states`` for the camera pose when no ``camera_pose`` is given.
    hfov_deg: horizontal field of view of that camera. depth_normalized: depth is in [0, 1] and must be
    scaled by ``max_depth`` (Habitat's ``normalize_depth: True``). day_start_ns: midnight (ns since epoch)
    of the recorded day. min_step_ns: stamp increment for frames within one ``time_of_day`` minute.
    semantic_key: optional HxW int instance-id image; ``labels`` maps its ids to text labels and
    ``receptacle_ids`` says which ids are receptacles.
    """

    rgb_key: str = "head_rgb"
    depth_key: str = "head_depth"
    sensor_uuid: str = "head_rgb"
    hfov_deg: float = 42.0
    depth_normalized: bool = False
    max_depth: float = 10.0
    quaternion_order: str = "xyzw"
    day_start_ns: int = 1_700_006_400_000_000_000  # 2023-11-15 00:00 UTC
    min_step_ns: int = 1_000_000_000
    semantic_key: str = ""

    def validate(self) -> None:
        if not 0.0 < self.hfov_deg < 180.0:
            raise SimError(f"HabitatAdapterConfig.hfov_deg must be in (0, 180), got {self.hfov_deg}")
        if self.max_depth <= 0 or self.min_step_ns <= 0:
            raise SimError("HabitatAdapterConfig.max_depth and min_step_ns must be > 0")
        if self.quaternion_order not in ("xyzw", "wxyz"):
            raise SimError(f"quaternion_order must be 'xyzw' or 'wxyz', got {self.quaternion_order!r}")


def _get(obj: Any, name: str) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(name)
    return getattr(obj, name, None)


class ObservationConverter:
    """Converts FindingDory observation dicts into robomem :class:`Frame` s with increasing stamps."""

    def __init__(
        self,
        config: Optional[HabitatAdapterConfig] = None,
        labels: Optional[Mapping[int, str]] = None,
        receptacle_ids: frozenset[int] = frozenset(),
    ) -> None:
        self.config = config or HabitatAdapterConfig()
        self.config.validate()
        self.labels = dict(labels or {})
        self.receptacle_ids = frozenset(receptacle_ids)
        self._last_stamp: Optional[int] = None

    def reset(self) -> None:
        self._last_stamp = None

    def camera_pose(self, obs: Mapping[str, Any]) -> np.ndarray:
        """robomem ``world_T_camera`` (4x4) of the head camera in ``obs``.

        Reads ``obs["camera_pose"] = {"position", "rotation"}`` if present, else
        ``obs["agent_state"].sensor_states[sensor_uuid]`` (a habitat AgentState or the same as dicts).
        """
        pose = obs.get("camera_pose")
        if pose is None:
            state = obs.get("agent_state")
            sensors = _get(state, "sensor_states") if state is not None else None
            pose = _get(sensors, self.config.sensor_uuid) if sensors is not None else None
        if pose is None:
            raise SimError(
                "observation has no camera pose: add obs['camera_pose'] = {'position', 'rotation'} or an "
                f"obs['agent_state'] whose sensor_states has {self.config.sensor_uuid!r}"
            )
        position, rotation = _get(pose, "position"), _get(pose, "rotation")
        if position is None or rotation is None:
            raise SimError("camera pose needs both 'position' (habitat world, m) and 'rotation' (quaternion)")
        return habitat_pose_to_world_T_camera(position, rotation, self.config.quaternion_order)

    def stamp(self, obs: Mapping[str, Any]) -> int:
        """Stamp (ns) of ``obs`` from its ``time_of_day``; strictly increasing across calls."""
        tod = obs.get("time_of_day")
        if tod is None:
            raise SimError("observation has no 'time_of_day' ('HH:MM'); enable FindingDory's TimeOfDaySensor")
        t = self.config.day_start_ns + time_of_day_minutes(str(tod)) * NS_PER_MIN
        if self._last_stamp is not None and t <= self._last_stamp:
            if t < self._last_stamp - NS_PER_MIN:
                _LOG.warning("time_of_day %s goes backwards; keeping stamps increasing", tod)
            t = self._last_stamp + self.config.min_step_ns
        return t

    def convert(self, obs: Mapping[str, Any]) -> Frame:
        """One observation dict -> :class:`Frame`. Raises SimError (nothing is updated) on malformed input."""
        cfg = self.config
        rgb = obs.get(cfg.rgb_key)
        depth = obs.get(cfg.depth_key)
        if rgb is None or depth is None:
            raise SimError(
                f"observation lacks {cfg.rgb_key!r} or {cfg.depth_key!r}; set HabitatAdapterConfig.rgb_key/"
                f"depth_key to the head camera's sensor names (keys present: {sorted(obs)})"
            )
        rgb = np.asarray(rgb)
        if rgb.ndim != 3 or rgb.shape[2] not in (3, 4):
            raise SimError(f"{cfg.rgb_key} must be HxWx3 or HxWx4, got shape {rgb.shape}")
        rgb = np.ascontiguousarray(rgb[:, :, :3]).astype(np.uint8, copy=False)
        d = np.asarray(depth, dtype=np.float32)
        if d.ndim == 3 and d.shape[2] == 1:
            d = d[:, :, 0]
        if d.shape != rgb.shape[:2]:
            raise SimError(f"{cfg.depth_key} shape {d.shape} does not match rgb {rgb.shape[:2]}")
        if cfg.depth_normalized:
            d = d * np.float32(cfg.max_depth)
        h, w = d.shape
        world_T_camera = self.camera_pose(obs)
        stamp = self.stamp(obs)
        mask = None
        labels: dict[int, str] = {}
        if cfg.semantic_key:
            sem = obs.get(cfg.semantic_key)
            if sem is None:
                raise SimError(f"observation lacks the semantic image {cfg.semantic_key!r}")
            mask = np.asarray(sem).reshape(h, w).astype(np.int32)
            present = set(np.unique(mask).tolist())
            labels = {i: s for i, s in self.labels.items() if i in present}
            # ids without a label (background, walls) are "no instance"
            mask = np.where(np.isin(mask, list(labels)), mask, NO_INSTANCE).astype(np.int32)
        frame = Frame(
            rgb=rgb,
            depth=np.ascontiguousarray(d),
            intrinsics=intrinsics_from_hfov(cfg.hfov_deg, w, h),
            world_T_camera=world_T_camera,
            stamp_ns=stamp,
            instance_mask=mask,
            instance_labels=labels,
            receptacle_ids=frozenset(i for i in self.receptacle_ids if i in labels),
        )
        self._last_stamp = stamp
        return frame


# --------------------------------------------------------------------------------------------- agent


class IngestingMemory(MemoryQueries, Protocol):
    """A memory that can be fed frames (SpatioSemanticMemory)."""

    def ingest(self, frame: Frame) -> Any: ...


@dataclass(frozen=True)
class _StoredFrame:
    stamp_ns: int
    world_T_camera: np.ndarray
    agent_state: Any
    nav_mode: bool


class FindingDoryMemoryAgent:
    """FindingDory agent interface (``reset``, ``reset_new_task``, ``act``) backed by robomem.

    ``memory`` and ``planner`` are injected (a fresh memory per episode is the caller's job: pass a
    ``memory_factory``). ``act`` returns ``{"action": idle_action}`` while the data-collection phase runs
    and ``{"action": "high_level_policy_action", "action_args": {"nav_indices", "nav_goal_states",
    "nav_mode_flag", "nav_goal_poses"}}`` when it may act (one entry per goal: frame index, the agent state
    stored with that frame, its nav-mode flag, its camera pose in habitat's world as (position, quat xyzw));
    ``nav_indices == [-1]`` is FindingDory's "invalid answer" (the planner said "I don't know"; its reason is in
    ``last_answer.text``).
    """

    def __init__(
        self,
        memory_factory: Any,
        planner: Planner,
        converter: Optional[ObservationConverter] = None,
        idle_action: str = "move_forward",
    ) -> None:
        self._memory_factory = memory_factory
        self.planner = planner
        self.converter = converter or ObservationConverter()
        self.idle_action = idle_action
        self.memory: IngestingMemory = memory_factory()
        self._frames: list[_StoredFrame] = []
        self._index_by_stamp: dict[int, int] = {}
        self.task_id: Optional[int] = None
        self.last_answer: Optional[PlannerAnswer] = None
        self.rejected_frames = 0

    def reset(self) -> None:
        """New episode: fresh memory, no frames."""
        self.memory = self._memory_factory()
        self.converter.reset()
        self._frames = []
        self._index_by_stamp = {}
        self.task_id = None
        self.last_answer = None
        self.rejected_frames = 0

    def reset_new_task(self, task_id: Any) -> None:
        """New question in the same episode: the memory is kept."""
        self.task_id = task_id
        self.last_answer = None

    @property
    def num_frames(self) -> int:
        return len(self._frames)

    def act(self, obs: Mapping[str, Any]) -> dict[str, Any]:
        if not bool(np.asarray(obs.get("can_take_action", 0)).reshape(-1)[0]):
            self.observe(obs)
            return {"action": self.idle_action}
        text = str(obs.get("lang_memory_goal", "")).strip()
        now = self._frames[-1].stamp_ns if self._frames else None
        answer = self.planner.answer(text, self.memory, now_ns=now)
        self.last_answer = answer
        indices = self.frame_indices(answer)
        return {
            "action": "high_level_policy_action",
            "action_args": {
                "nav_indices": indices,
                "nav_goal_states": [self._frames[i].agent_state for i in indices if i >= 0],
                "nav_mode_flag": [self._frames[i].nav_mode for i in indices if i >= 0],
                # the stored camera pose of each chosen frame, back in habitat's world: (position, quat xyzw)
                "nav_goal_poses": [
                    world_T_camera_to_habitat_pose(self._frames[i].world_T_camera) for i in indices if i >= 0
                ],
            },
        }

    def observe(self, obs: Mapping[str, Any]) -> bool:
        """Store one data-collection frame. A malformed observation is logged and skipped (returns False)."""
        from robomem.errors import RobomemError

        try:
            frame = self.converter.convert(obs)
            self.memory.ingest(frame)
        except RobomemError as exc:
            self.rejected_frames += 1
            _LOG.warning("skipping observation %d: %s", len(self._frames) + self.rejected_frames, exc)
            return False
        idx = len(self._frames)
        self._frames.append(
            _StoredFrame(
                stamp_ns=frame.stamp_ns,
                world_T_camera=frame.world_T_camera,
                agent_state=obs.get("agent_state"),
                nav_mode=not bool(obs.get("manipulation_mode", False)),
            )
        )
        self._index_by_stamp[frame.stamp_ns] = idx
        return True

    def frame_indices(self, answer: PlannerAnswer) -> list[int]:
        """One stored frame index per goal of ``answer`` ([-1] when it has none)."""
        if answer.kind is AnswerKind.UNKNOWN or not answer.goals or not self._frames:
            return [-1]
        return [self._frame_for_goal(g) for g in answer.goals]

    def _frame_for_goal(self, goal: Goal) -> int:
        if goal.keyframe_stamp_ns is not None and goal.keyframe_stamp_ns in self._index_by_stamp:
            return self._index_by_stamp[goal.keyframe_stamp_ns]
        candidates: list[int] = []
        if goal.instance_id is not None:
            kfs = self.memory.keyframes_for(instance_id=goal.instance_id, k=20)
            candidates = [self._index_by_stamp[k.stamp_ns] for k in kfs.keyframes if k.stamp_ns in self._index_by_stamp]
        if not candidates:
            candidates = list(range(len(self._frames)))
        return min(candidates, key=lambda i: (self._pose_cost(self._frames[i].world_T_camera, goal), i))

    @staticmethod
    def _pose_cost(world_T_camera: np.ndarray, goal: Goal) -> float:
        """xy distance (m) from the camera to the goal + 0.5 m per radian of heading error (if yaw given)."""
        cam = world_T_camera[:3, 3]
        cost = math.hypot(float(cam[0]) - goal.position[0], float(cam[1]) - goal.position[1])
        if goal.yaw is not None:
            forward = world_T_camera[:3, 2]
            yaw = math.atan2(float(forward[1]), float(forward[0]))
            err = abs((yaw - goal.yaw + math.pi) % (2 * math.pi) - math.pi)
            cost += 0.5 * err
        return cost
