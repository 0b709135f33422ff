"""Dataclass configs, loaded from ``config/*.yaml`` and validated.

Each subsystem has a frozen dataclass with defaults and a ``validate()`` that raises :class:`ConfigError`
naming the bad key. :func:`from_dict` maps nested YAML mappings onto nested dataclasses, rejecting
unknown keys (typos must not be silently ignored). ROS parameters are flattened dotted names of the same
fields (``voxel.voxel_size``), see :func:`flatten` / :func:`apply_overrides`.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from pathlib import Path
from typing import Any, Mapping, Optional, TypeVar, Union

import yaml

from robomem.errors import ConfigError

T = TypeVar("T")


class MaskIdMode(enum.Enum):
    """What the ids of ``Frame.instance_mask`` mean."""

    PER_FRAME = "per_frame"  # segment ids are only valid within one frame: re-identify by feature + position
    PERSISTENT = "persistent"  # ids are stable object ids (simulator ground truth, a tracker)


@dataclasses.dataclass(frozen=True)
class VoxelConfig:
    """Dynamic voxel map.

    voxel_size: edge of a voxel, m. pixel_stride: use every n-th pixel in u and v (1 = all).
    min_depth/max_depth: depth range trusted, m. removal: clear voxels seen through (free-space evidence).
    removal_margin: a voxel is free only if it lies this far (m) in front of the observed surface.
    removal_max_depth: free-space evidence is only trusted up to this depth, m.
    removal_min_misses: consecutive free-space observations before a voxel is removed (noise guard).
    removal_min_interval_s: voxels are carved at most this often (0.1: 10 Hz from a 30 Hz camera; frames in
        between are integrated without carving). 0 = every frame.
    negative_cell_size: cell edge (m) of the coarse grid that records "seen empty at t".
    edge_jump: depth-edge (flying pixel) filter: pixels whose depth differs from a neighbour's by more than
        ``edge_jump * z`` are not integrated (0 = off). edge_invalid_neighbours: also drop pixels next to invalid
        depth. depth_smoothing: back-project the mean valid depth of each sampled pixel's 3x3 neighbourhood
        (less axial noise). support_window_s: unlabelled voxels still short of ``min_support`` this long
        after their last observation are dropped (noise). negative_min_interval_s: the negative-evidence grid is
        updated at most this often (a 30 Hz camera need not mark the coarse grid every frame), and always in a
        frame that removed voxels of an instance. min_support: frames that must observe a voxel before it counts
        as surface (``VoxelMap.surface_points``, ``voxel_cloud``). relative_support: an unlabelled voxel also
        needs at least this fraction of the observations of its most observed 26-neighbour to count as
        surface (0 = off): depth noise spreads a surface into a shell of neighbouring voxels hit far less often
        than the surface itself, which a TSDF averages away along the ray. relative_support_cap: the
        neighbour's count is capped at this many frames first, so something new next to a long-observed
        surface counts after at most ``relative_support * relative_support_cap`` frames.
    device: "cpu", "cuda" or "auto" (cuda if available).
    torch_threads: CPU threads for torch (process-wide ``torch.set_num_threads``); 0 keeps torch's default.
        1 is the measured best for per-frame work on small CPUs: at 2 threads on a loaded 2-core machine the
        ingest rate fell from ~60 to ~3 frames/s (OpenMP wake-up/spin costs dwarf the small kernels).
    """

    voxel_size: float = 0.05
    pixel_stride: int = 2
    min_depth: float = 0.1
    max_depth: float = 6.0
    removal: bool = True
    removal_margin: float = 0.1
    removal_max_depth: float = 5.0
    removal_min_misses: int = 1
    removal_min_interval_s: float = 0.1
    negative_cell_size: float = 0.25
    negative_pixel_stride: int = 16
    edge_jump: float = 0.04
    edge_invalid_neighbours: bool = False
    depth_smoothing: bool = True
    min_support: int = 2
    relative_support: float = 0.2
    relative_support_cap: int = 100
    support_window_s: float = 2.0
    negative_min_interval_s: float = 0.2
    device: str = "cpu"
    torch_threads: int = 1

    def validate(self) -> None:
        _non_negative(self, "torch_threads")
        _positive(self, "voxel_size", "pixel_stride", "max_depth", "removal_max_depth", "negative_cell_size")
        _positive(self, "negative_pixel_stride", "removal_min_misses")
        _non_negative(self, "min_depth", "removal_margin", "edge_jump")
        _positive(self, "min_support", "relative_support_cap")
        if not 0.0 <= self.relative_support <= 1.0:
            raise ConfigError(f"voxel.relative_support must be in [0, 1], got {self.relative_support}")
        _non_negative(self, "support_window_s", "negative_min_interval_s", "removal_min_interval_s")
        if self.min_depth >= self.max_depth:
            raise ConfigError(f"voxel.min_depth ({self.min_depth}) must be < voxel.max_depth ({self.max_depth})")
        if self.device not in ("cpu", "cuda", "auto"):
            raise ConfigError(f"voxel.device must be 'cpu', 'cuda' or 'auto', got {self.device!r}")


@dataclasses.dataclass(frozen=True)
class ObjectConfig:
    """Object instances.

    mask_ids: see :class:`MaskIdMode`. match_distance: a segment within this distance (m, centroid) of a
    present instance with a similar feature is the same instance. reid_similarity: cosine similarity above
    which a segment re-identifies a vanished instance (a moved object). min_points: smaller segments are
    ignored. vanish_fraction: an instance whose voxels fall below this fraction of its peak has vanished.
    seen_through_*: instance-level free-space evidence. A present instance that is not segmented in a frame
    although at least ``seen_through_min_voxels`` of its voxels project into the image, and the frame's depth
    lies more than ``seen_through_margin`` (m) behind at least ``seen_through_fraction`` of them (with at least
    half of its voxels in view), has vanished.
    Aggregating over the instance's voxels allows a much tighter margin than per-voxel carving
    (``voxel.removal_margin``), which small objects on a surface never get past.
    cluster_unlabelled: frames without masks are segmented by removing the floor plane and DBSCAN-clustering
    the rest (eps = max(cluster_eps, 3 voxels), m); segments get image-crop features when the encoder has images.
    Per-frame association (``mask_ids: per_frame``): a segment matches a present instance or a tentative
    candidate when within ``match_distance`` and similar (feature cosine >= ``match_similarity``, or a label
    the track was seen with, or box overlap >= ``overlap_min`` with cosine >= ``overlap_similarity``); all
    segments of a frame are matched jointly. confirm_sightings: sightings (frames) before a candidate becomes an
    instance (1 = at once); sightings may be passes hours apart (a robot driving by glimpses an object in one
    frame per pass). A candidate is dropped after ``vanish_min_frames`` frames that looked at its place without it
    (seen through, or its surface seen from close enough to be segmented), when not re-sighted for
    ``tentative_window_s`` (s), or as the least recently sighted beyond ``max_candidates``.
    vanish_min_frames: frames of seen-empty evidence (carved / seen through, without a sighting in between)
    before an instance vanishes.
    segment_edge_jump: mask bleed: a segment's pixels are on one surface where neighbouring depths differ by at
    most this fraction of the depth (or continue a plane); the points of parts much smaller than its
    largest part are not the segment's (:mod:`robomem.core.mask_bleed`; 0 = keep every mask pixel).
    """

    mask_ids: MaskIdMode = MaskIdMode.PER_FRAME
    match_distance: float = 0.5
    match_similarity: float = 0.8
    reid_similarity: float = 0.9
    min_points: int = 20
    vanish_fraction: float = 0.25
    cluster_unlabelled: bool = False
    cluster_eps: float = 0.1
    seen_through_margin: float = 0.03
    seen_through_fraction: float = 0.7
    seen_through_min_voxels: int = 3
    overlap_min: float = 0.3
    overlap_similarity: float = 0.5
    confirm_sightings: int = 1
    tentative_window_s: float = 86400.0
    max_candidates: int = 2000
    vanish_min_frames: int = 2
    segment_edge_jump: float = 0.04

    def validate(self) -> None:
        _positive(self, "match_distance", "min_points", "cluster_eps", "seen_through_min_voxels")
        _positive(self, "confirm_sightings", "tentative_window_s", "vanish_min_frames", "max_candidates")
        _non_negative(self, "seen_through_margin", "segment_edge_jump")
        check_unit(self, "match_similarity", "reid_similarity", "vanish_fraction", "seen_through_fraction",
                   "overlap_min", "overlap_similarity", where="objects")


@dataclasses.dataclass(frozen=True)
class ActionConfig:
    """The robot's own pick/place events (``memory.record_action``).

    gripper_radius: an event without an instance or segment hint picks the object whose box lies within this
    distance (m) of the gripper (with an agreeing label when the event names one). max_lead_s: an event stamped
    more than this (s) after the newest frame is rejected as a clock mismatch (0: no check).
    """

    gripper_radius: float = 0.3
    max_lead_s: float = 300.0

    def validate(self) -> None:
        _positive(self, "gripper_radius")
        _non_negative(self, "max_lead_s")


@dataclasses.dataclass(frozen=True)
class GraphConfig:
    """Temporal scene graph: geometric tolerances for relations, m."""

    on_tolerance: float = 0.1
    near_distance: float = 1.0

    def validate(self) -> None:
        _positive(self, "on_tolerance", "near_distance")


@dataclasses.dataclass(frozen=True)
class EpisodicConfig:
    """Keyframe store: a new keyframe is kept only when it is novel.

    Novel = no stored keyframe within ``min_translation`` m and ``min_rotation`` rad that saw the same
    instances with an image embedding of cosine similarity >= ``max_similarity``.
    """

    min_translation: float = 0.5
    min_rotation: float = 0.5
    max_similarity: float = 0.95
    thumbnail_width: int = 96
    max_keyframes: int = 20000

    def validate(self) -> None:
        _positive(self, "min_translation", "min_rotation", "thumbnail_width", "max_keyframes")


@dataclasses.dataclass(frozen=True)
class IndexConfig:
    """Vector index backend: "faiss_flat", "faiss_ivf" or "torch" (brute force, the reference).

    use_gpu: "auto" uses a FAISS GPU index when ``faiss.get_num_gpus() > 0``; "never"/"always".
    ivf_nlist: IVF cells; ivf_nprobe: cells searched; ivf_min_train: vectors needed before training
    (below it, IVF answers exactly from a flat index).
    """

    backend: str = "faiss_flat"
    use_gpu: str = "auto"
    ivf_nlist: int = 1024
    ivf_nprobe: int = 16
    ivf_min_train: int = 20000
    blas_threshold: int = 20

    def validate(self) -> None:
        if self.use_gpu not in ("auto", "never", "always"):
            raise ConfigError(f"index.use_gpu must be 'auto', 'never' or 'always', got {self.use_gpu!r}")
        _positive(self, "ivf_nlist", "ivf_nprobe", "ivf_min_train", "blas_threshold")


@dataclasses.dataclass(frozen=True)
class EncoderConfig:
    """Feature encoder: "gt_text" (sentence embedding of simulator labels), "clip" (transformers
    CLIP/SigLIP from ``model_path``), or "hash" (deterministic bag-of-words, for tests and demos)."""

    backend: str = "gt_text"
    model_path: str = ""
    device: str = "cpu"
    batch_size: int = 32

    def validate(self) -> None:
        _positive(self, "batch_size")


@dataclasses.dataclass(frozen=True)
class QueryConfig:
    """Query answering. not_found_threshold: cosine similarity under which locate says "not found".
    max_text_chars: longer query texts are refused (BAD_REQUEST) before anything is encoded.

    score_mode: how a text query scores an instance. "absolute": the cosine similarity, thresholded at
    ``not_found_threshold`` (right for text-label embeddings, e.g. gt_text). "relative": CLIP/SigLIP image
    features never reach a fixed cosine (a matching crop scores ~0.25-0.35, an unrelated one ~0.15-0.25), so
    the score is the query's relevance against ``negative_prompts`` (LERF's canonical phrases): the smallest,
    over the negatives, of sigmoid(``relative_temperature`` * (cos(query) - cos(negative))), thresholded at
    ``relative_threshold`` (0.5 = the query beats every negative). "auto": relative when the encoder embeds
    images, absolute otherwise."""

    not_found_threshold: float = 0.5
    default_k: int = 5
    max_text_chars: int = 1000
    score_mode: str = "auto"
    negative_prompts: tuple[str, ...] = ("object", "things", "stuff", "texture", "background", "a photo")
    relative_threshold: float = 0.5
    relative_temperature: float = 50.0

    def __post_init__(self) -> None:  # YAML gives a list
        object.__setattr__(self, "negative_prompts", tuple(self.negative_prompts))

    def validate(self) -> None:
        _positive(self, "default_k", "max_text_chars", "relative_temperature")
        check_unit(self, "relative_threshold", where="query")
        if self.score_mode not in ("auto", "absolute", "relative"):
            raise ConfigError(f"query.score_mode must be 'auto', 'absolute' or 'relative', got {self.score_mode!r}")
        if not self.negative_prompts or not all(isinstance(p, str) and p.strip() for p in self.negative_prompts):
            raise ConfigError("query.negative_prompts must be a non-empty list of non-empty strings")


@dataclasses.dataclass(frozen=True)
class IngestConfig:
    """Frame admission (robomem.core.frame.check_frame).

    max_future_s: a frame stamped more than this many seconds ahead of the newest ingested frame AND of the
    clock (the wall clock in-process, the node's clock over ROS) is rejected and counted, so one bad stamp
    cannot block all later frames (0 = no check). max_pixels: a larger frame is downscaled by the smallest
    integer factor that fits (intrinsics scaled to match; 0 = never), so one huge image cannot stall ingest.
    """

    max_future_s: float = 600.0
    max_pixels: int = 1_310_720

    def validate(self) -> None:
        check_non_negative(self, "max_future_s", "max_pixels")


@dataclasses.dataclass(frozen=True)
class MemoryConfig:
    """The whole memory core."""

    voxel: VoxelConfig = dataclasses.field(default_factory=VoxelConfig)
    objects: ObjectConfig = dataclasses.field(default_factory=ObjectConfig)
    graph: GraphConfig = dataclasses.field(default_factory=GraphConfig)
    episodic: EpisodicConfig = dataclasses.field(default_factory=EpisodicConfig)
    index: IndexConfig = dataclasses.field(default_factory=IndexConfig)
    encoder: EncoderConfig = dataclasses.field(default_factory=EncoderConfig)
    query: QueryConfig = dataclasses.field(default_factory=QueryConfig)
    ingest: IngestConfig = dataclasses.field(default_factory=IngestConfig)
    actions: ActionConfig = dataclasses.field(default_factory=ActionConfig)

    def validate(self) -> None:
        for f in dataclasses.fields(self):
            getattr(self, f.name).validate()


# ----------------------------------------------------------------------------------------------- loading


def from_dict(cls: type[T], data: Mapping[str, Any], where: str = "") -> T:
    """Build dataclass ``cls`` from a mapping, recursively, rejecting unknown keys and wrong types."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where or cls.__name__}: expected a mapping, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(
            f"{where or cls.__name__}: unknown key(s) {unknown}; valid keys are {sorted(fields)}"
        )
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        key = f"{where}.{name}" if where else name
        kwargs[name] = _coerce(hints[name], value, key)
    obj = cls(**kwargs)
    validate = getattr(obj, "validate", None)
    if validate is not None and not where:
        validate()
    return obj


def _coerce(tp: Any, value: Any, key: str) -> Any:
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None:
            return None
        return _coerce(args[0], value, key)
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return from_dict(tp, value, key)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        try:
            return tp(value)
        except ValueError:
            raise ConfigError(f"{key}: {value!r} is not one of {[m.value for m in tp]}") from None
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true/false, got {value!r}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected a string, got {value!r}")
        return value
    return value


def load_yaml(cls: type[T], path: Union[str, Path], section: Optional[str] = None) -> T:
    """Load ``cls`` from a YAML file (optionally from one top-level ``section``), validated."""
    p = Path(path)
    try:
        raw = yaml.safe_load(p.read_text()) or {}
    except FileNotFoundError:
        raise ConfigError(f"config file {p} does not exist") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {p} is not valid YAML: {exc}") from None
    if section is not None:
        if not isinstance(raw, Mapping) or section not in raw:
            raise ConfigError(f"config file {p} has no top-level section {section!r}")
        raw = raw[section] or {}
    try:
        return from_dict(cls, raw)
    except ConfigError as exc:
        raise ConfigError(f"{p}: {exc}") from None


def flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    """Dataclass -> {"voxel.voxel_size": 0.05, ...} (enums as their values): the ROS parameter names."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(obj):
        v = getattr(obj, f.name)
        key = f"{prefix}{f.name}"
        if dataclasses.is_dataclass(v):
            out.update(flatten(v, key + "."))
        elif isinstance(v, enum.Enum):
            out[key] = v.value
        else:
            out[key] = v
    return out


def apply_overrides(obj: T, overrides: Mapping[str, Any]) -> T:
    """Return ``obj`` with dotted-key overrides (e.g. from ROS parameters) applied and validated."""
    nested: dict[str, Any] = {}
    for dotted, value in overrides.items():
        node = nested
        parts = dotted.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    merged = _merge(to_plain(obj), nested)
    return from_dict(type(obj), merged)


def to_plain(obj: Any) -> Any:
    """Dataclass (nested) -> plain dicts, enums as their values: what YAML/JSON can hold."""
    if dataclasses.is_dataclass(obj):
        return {f.name: to_plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, enum.Enum):
        return obj.value
    return obj


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = v
    return out


def check_positive(cfg: Any, *names: str, where: Optional[str] = None) -> None:
    """Raise ConfigError unless every named field of ``cfg`` is > 0 (``where``: the key prefix in the message)."""
    _check(cfg, names, lambda v: v > 0, "must be > 0", where)


def check_non_negative(cfg: Any, *names: str, where: Optional[str] = None) -> None:
    """Raise ConfigError unless every named field of ``cfg`` is >= 0."""
    _check(cfg, names, lambda v: v >= 0, "must be >= 0", where)


def check_unit(cfg: Any, *names: str, where: Optional[str] = None) -> None:
    """Raise ConfigError unless every named field of ``cfg`` is in [0, 1]."""
    _check(cfg, names, lambda v: 0.0 <= v <= 1.0, "must be in [0, 1]", where)


def _check(cfg: Any, names: tuple[str, ...], ok: Any, rule: str, where: Optional[str]) -> None:
    prefix = where if where is not None else type(cfg).__name__
    for name in names:
        v = getattr(cfg, name)
        if not ok(v):
            raise ConfigError(f"{prefix}.{name} {rule}, got {v}")


# short names used by the configs in this package and by robomem.planner.config
_positive = check_positive
_non_negative = check_non_negative
