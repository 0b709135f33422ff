"""Node parameters: declared with descriptors, validated, mapped onto the dataclass configs.

Two groups of parameters (all read-only after start; see config/ros.yaml):

* the node's own (:class:`RosNodeConfig`, names as its fields: ``world_frame``, ``save_directory``, ...);
* the memory core's, as the dotted names of :func:`robomem.config.flatten` (``voxel.voxel_size``,
  ``encoder.backend``, ...), applied with :func:`robomem.config.apply_overrides` on top of the optional
  YAML file named by ``memory_config_file``.

Every value is type-checked and range-checked by the dataclasses' ``validate`` (a :class:`ConfigError`
that names the parameter); nodes log it and exit with status 2.
"""

from __future__ import annotations

import dataclasses
import os
import typing
from dataclasses import dataclass
from typing import Any, Mapping

import yaml

from robomem.config import MemoryConfig, apply_overrides, flatten, from_dict, load_yaml
from robomem.core.types import Box3D, Region
from robomem.errors import ConfigError
from robomem.ros.pipeline import PipelineConfig


@dataclass(frozen=True)
class RosNodeConfig:
    """Parameters of the memory server / ingest node.

    world_frame: TF frame of the memory's world (positions in answers are in it). camera_frame: override for
    the colour image's header.frame_id (its optical frame), "" = use the header. pair_tolerance_s: max stamp
    difference of colour/depth/camera_info in one frame. pair_queue_size: messages kept per stream while
    pairing. tf_wait_s / tf_tolerance_s / tf_cache_s: see :class:`~robomem.ros.pipeline.PipelineConfig`.
    use_segmentation: also pair ``segmentation`` (robomem_interfaces/InstanceSegmentation).
    camera_qos_depth / camera_reliable: camera subscriptions' QoS (BEST_EFFORT unless camera_reliable).
    ingest_queue_size: frames waiting for the memory (drop-oldest). ingest_nice: the ingest thread (and the torch
    threads it starts) runs this much nicer than the node (0-19, 0 = off; for a heavy CPU perception front end,
    so that the service threads win the CPU; no effect measured with the light ingest of bench_ros).
    service_threads: threads of the executor that answers the services (1: SingleThreadedExecutor, a request
    is handled on the thread that waited for it; 0 = auto: 1 with intake_process, else 4 so that the
    in-process subscriptions run beside the services). enable_ingest / enable_services: what this node does.
    intake_process: the camera/TF subscriptions, pairing and decoding run in a child process (robomem.ros.intake:
    queries never wait behind the camera streams for the GIL); false = in the server.
    save_directory: absolute path where periodic, on-demand and final saves go ("" = none);
    SaveMemory / LoadMemory resolve relative paths under it. save_period_s: periodic save (0 = off; retried
    with exponential backoff after a failure, up to save_max_backoff_s between tries). save_on_shutdown:
    final save on SIGINT/SIGTERM.
    load_on_start: load save_directory at start when it holds a memory (or its .previous).
    publish_period_s: voxel cloud + markers for RViz (0 = off). max_cloud_points: cloud subsample cap.
    diagnostics_period_s: diagnostics (0 = off). regions_file: YAML of named rooms
    ({name: {min: [x,y,z], max: [x,y,z]}}). memory_config_file: YAML MemoryConfig the dotted memory parameters
    override. log_throttle_s: one warning per reason per period.
    """

    world_frame: str = "map"
    camera_frame: str = ""
    pair_tolerance_s: float = 0.02
    pair_queue_size: int = 10
    tf_wait_s: float = 0.5
    tf_tolerance_s: float = 0.05
    tf_cache_s: float = 30.0
    use_segmentation: bool = False
    camera_qos_depth: int = 5
    camera_reliable: bool = False
    ingest_queue_size: int = 4
    ingest_nice: int = 0
    service_threads: int = 0
    enable_ingest: bool = True
    intake_process: bool = True
    enable_services: bool = True
    save_directory: str = ""
    save_period_s: float = 0.0
    save_max_backoff_s: float = 300.0
    save_on_shutdown: bool = True
    load_on_start: bool = False
    publish_period_s: float = 1.0
    max_cloud_points: int = 200_000
    diagnostics_period_s: float = 1.0
    regions_file: str = ""
    memory_config_file: str = ""
    log_throttle_s: float = 5.0

    def validate(self) -> None:
        self.pipeline().validate()
        for name in ("camera_qos_depth", "ingest_queue_size", "max_cloud_points", "pair_queue_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"parameter {name} must be >= 1, got {getattr(self, name)}")
        if not 0 <= self.ingest_nice <= 19:
            raise ConfigError(f"parameter ingest_nice must be in [0, 19] (a nice increment), got {self.ingest_nice}")
        if not 0 <= self.service_threads <= 64:
            raise ConfigError(f"parameter service_threads must be in [0, 64] (0 = auto), got {self.service_threads}")
        for name in ("save_period_s", "save_max_backoff_s", "publish_period_s", "diagnostics_period_s",
                     "log_throttle_s"):
            if not getattr(self, name) >= 0:
                raise ConfigError(f"parameter {name} must be >= 0 (0 = off), got {getattr(self, name)}")
        if (self.save_period_s > 0 or self.load_on_start) and not self.save_directory:
            raise ConfigError("save_period_s > 0 or load_on_start needs save_directory; set it")
        if self.save_directory and not os.path.isabs(os.path.expanduser(self.save_directory)):
            raise ConfigError(
                f"save_directory must be an absolute path (a node's working directory depends on how it was "
                f"launched), got {self.save_directory!r}"
            )

    def executor_threads(self) -> int:
        """service_threads resolved: 0 (auto) = 1 with the intake process (the executor only serves), else 4."""
        return self.service_threads or (1 if self.intake_process or not self.enable_ingest else 4)

    def pipeline(self) -> PipelineConfig:
        return PipelineConfig(
            world_frame=self.world_frame,
            camera_frame=self.camera_frame,
            pair_tolerance_s=self.pair_tolerance_s,
            queue_size=self.pair_queue_size,
            tf_wait_s=self.tf_wait_s,
            tf_tolerance_s=self.tf_tolerance_s,
            tf_cache_s=self.tf_cache_s,
            use_segmentation=self.use_segmentation,
        )


def node_defaults() -> dict[str, Any]:
    return {f.name: f.default for f in dataclasses.fields(RosNodeConfig)}


def memory_defaults() -> dict[str, Any]:
    return flatten(MemoryConfig())


def perception_defaults() -> dict[str, Any]:
    """``perception.*`` parameters: the perception front end (robomem.perception.config.PerceptionConfig)."""
    from robomem.perception.config import PerceptionConfig

    return {f"perception.{k}": list(v) if isinstance(v, tuple) else v for k, v in flatten(PerceptionConfig()).items()}


def perception_from_values(values: Mapping[str, Any]) -> Any:
    """{param name: value} -> validated PerceptionConfig (``perception.*`` names; others ignored)."""
    from robomem.perception.config import PerceptionConfig

    data = {k[len("perception."):]: tuple(v) if isinstance(v, list) else v
            for k, v in values.items() if k.startswith("perception.")}
    try:
        cfg = from_dict(PerceptionConfig, data)
        cfg.validate()
    except ConfigError as exc:
        raise ConfigError(f"perception parameter: {exc}") from None
    return cfg


def read_perception(node: Any) -> Any:
    return perception_from_values({name: node.get_parameter(name).value for name in perception_defaults()})


def _describe(cls: type, name: str) -> str:
    doc = (cls.__doc__ or "").split()
    return f"{cls.__name__}.{name}: " + " ".join(doc)[:300]


def declare(node: Any, overrides: Mapping[str, Any] | None = None) -> None:
    """Declare every node and memory parameter on an rclpy ``node`` (read-only, dynamically typed so that
    ``1`` for a float parameter is accepted and then checked by the dataclasses)."""
    from rcl_interfaces.msg import ParameterDescriptor

    from robomem.perception.config import PerceptionConfig

    defaults = {**node_defaults(), **memory_defaults(), **perception_defaults(), **(overrides or {})}
    for name, value in defaults.items():
        where = (RosNodeConfig if name in node_defaults() else PerceptionConfig if name.startswith("perception.")
                 else MemoryConfig)
        desc = ParameterDescriptor(
            description=_describe(where, name.split(".")[0]),
            read_only=True,
            dynamic_typing=True,
        )
        node.declare_parameter(name, list(value) if isinstance(value, tuple) else value, desc)


def read(node: Any) -> tuple[RosNodeConfig, MemoryConfig]:
    """Read the declared parameters back into validated configs. Raises ConfigError naming the parameter."""
    values = {name: node.get_parameter(name).value for name in [*node_defaults(), *memory_defaults()]}
    return configs_from_values(values)


def configs_from_values(values: Mapping[str, Any]) -> tuple[RosNodeConfig, MemoryConfig]:
    """The pure part of :func:`read`: {param name: value} -> (RosNodeConfig, MemoryConfig), validated."""
    node_keys = node_defaults()
    unknown = sorted(set(values) - set(node_keys) - set(memory_defaults()) - set(perception_defaults()))
    if unknown:
        raise ConfigError(f"unknown parameter(s) {unknown}; see config/ros.yaml for the valid names")
    node_vals = {k: v for k, v in values.items() if k in node_keys}
    hints = typing.get_type_hints(RosNodeConfig)
    for k, v in list(node_vals.items()):
        if hints[k] is float and isinstance(v, int) and not isinstance(v, bool):
            node_vals[k] = float(v)
    node_cfg = from_dict(RosNodeConfig, node_vals)  # type-checks and validates
    base = MemoryConfig()
    if node_cfg.memory_config_file:
        base = load_yaml(MemoryConfig, node_cfg.memory_config_file)
    defaults = flatten(MemoryConfig())
    # only parameters that differ from the built-in defaults override the YAML file
    mem_over = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()
                if k in defaults and v != defaults[k] and not (isinstance(v, list) and tuple(v) == defaults[k])}
    try:
        mem_cfg = apply_overrides(base, mem_over)
    except ConfigError as exc:
        raise ConfigError(f"memory parameter: {exc}") from None
    return node_cfg, mem_cfg


def load_regions(path: str) -> tuple[Region, ...]:
    """Regions YAML: ``{room_name: {min: [x, y, z], max: [x, y, z]}}`` (world frame, m)."""
    if not path:
        return ()
    try:
        with open(path) as fh:
            raw = yaml.safe_load(fh) or {}
    except OSError as exc:
        raise ConfigError(f"regions_file {path}: cannot read it ({exc})") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"regions_file {path} is not valid YAML: {exc}") from None
    if not isinstance(raw, Mapping):
        raise ConfigError(f"regions_file {path}: expected a mapping of room name -> {{min, max}}")
    out = []
    for name, box in raw.items():
        try:
            lo = tuple(float(v) for v in box["min"])
            hi = tuple(float(v) for v in box["max"])
        except (KeyError, TypeError, ValueError):
            raise ConfigError(f"regions_file {path}: room {name!r} needs min: [x, y, z] and max: [x, y, z]") from None
        if len(lo) != 3 or len(hi) != 3 or any(a >= b for a, b in zip(lo, hi)):
            raise ConfigError(f"regions_file {path}: room {name!r} needs 3-vectors with min < max")
        out.append(Region(str(name), Box3D(lo, hi)))  # type: ignore[arg-type]
    return tuple(out)
