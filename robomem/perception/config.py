"""Perception front-end configuration (``config/perception.yaml``, section ``perception``)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Optional, Union

from robomem.config import check_non_negative, check_positive, check_unit, from_dict
from robomem.errors import ConfigError

BACKENDS = ("none", "detector", "dense", "external", "clustering")

DEFAULT_VOCABULARY = (
    "mug", "cup", "bottle", "bowl", "plate", "book", "laptop", "phone", "remote control", "keys", "backpack",
    "bag", "shoe", "toy", "plant", "lamp", "box", "towel", "pillow", "apple", "banana", "can", "jar",
    "table", "chair", "sofa", "bed", "shelf", "cabinet", "counter", "desk", "sink", "refrigerator", "tv",
)
DEFAULT_RECEPTACLES = ("table", "chair", "sofa", "bed", "shelf", "cabinet", "counter", "desk", "sink")


@dataclasses.dataclass(frozen=True)
class PerceptionConfig:
    """What segments, labels and features a frame gets before the memory ingests it.

    backend: one of :data:`BACKENDS` ("none": geometry only, or masks already in the frame).
    vocabulary: text prompts of the ``detector`` (labels it can give); receptacles: the vocabulary words that
    are furniture things are put on/in (scene-graph receptacles).
    detector_model_path: local directory (``save_pretrained``) or cached hub id of an OWLv2 / OWL-ViT model.
    mask_model_path: SAM model directory; "" refines each box into a depth segment instead.
    score_threshold: detection score (sigmoid of OWL logits) below which boxes are dropped; nms_iou: boxes of
    one label overlapping more than this are suppressed; max_detections per frame.
    depth_band: box-to-depth refinement keeps the box's pixels within this many metres (or 10 % of the depth,
    if larger) of the object's depth. min_mask_pixels: smaller segments are dropped.
    dense_model_path: CLIP / SigLIP directory of the ``dense`` backend ("" = the memory encoder's model_path;
    it must be the memory's encoder model, so voxel features and text queries share one space).
    dense_mode: "maskclip" (value path of the last attention layer, MaskCLIP) or "tokens" (plain patch tokens).
    dense_grid: the patch grid is upsampled bilinearly to this many cells on its long side before it is sampled
    at the back-projected pixels.
    device: "cpu", "cuda", "cuda:N" or "auto"; batch_size: frames per model call.
    """

    backend: str = "none"
    vocabulary: tuple[str, ...] = DEFAULT_VOCABULARY
    receptacles: tuple[str, ...] = DEFAULT_RECEPTACLES
    detector_model_path: str = ""
    mask_model_path: str = ""
    score_threshold: float = 0.1
    nms_iou: float = 0.5
    max_detections: int = 50
    depth_band: float = 0.15
    min_mask_pixels: int = 30
    dense_model_path: str = ""
    dense_mode: str = "maskclip"
    dense_grid: int = 64
    device: str = "auto"
    batch_size: int = 4

    def __post_init__(self) -> None:  # YAML gives lists
        object.__setattr__(self, "vocabulary", tuple(self.vocabulary))
        object.__setattr__(self, "receptacles", tuple(self.receptacles))

    def validate(self) -> None:
        if self.backend not in BACKENDS:
            raise ConfigError(f"perception.backend must be one of {list(BACKENDS)}, got {self.backend!r}")
        if self.dense_mode not in ("maskclip", "tokens"):
            raise ConfigError(f"perception.dense_mode must be 'maskclip' or 'tokens', got {self.dense_mode!r}")
        if self.backend == "detector" and not [v for v in self.vocabulary if v.strip()]:
            raise ConfigError("perception.vocabulary is empty; the detector needs at least one text prompt")
        if not all(isinstance(v, str) for v in self.vocabulary + self.receptacles):
            raise ConfigError("perception.vocabulary and perception.receptacles must be lists of strings")
        check_positive(self, "max_detections", "min_mask_pixels", "dense_grid", "batch_size", where="perception")
        check_non_negative(self, "depth_band", where="perception")
        check_unit(self, "score_threshold", "nms_iou", where="perception")


def load_perception_config(path: Union[str, Path, None] = None, backend: Optional[str] = None,
                           section: str = "perception") -> PerceptionConfig:
    """Load ``path`` (YAML; its ``perception`` section, or the whole file) or the defaults; ``backend``
    overrides the file's backend. Raises ConfigError."""
    import yaml

    data: dict[str, object] = {}
    if path:
        p = Path(path)
        try:
            raw = yaml.safe_load(p.read_text()) or {}
        except FileNotFoundError:
            raise ConfigError(f"perception config {p} does not exist") from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"perception config {p} is not valid YAML: {exc}") from None
        if isinstance(raw, dict) and section in raw:
            raw = raw[section] or {}
        if not isinstance(raw, dict):
            raise ConfigError(f"perception config {p}: expected a mapping")
        data = dict(raw)
    if backend:
        data["backend"] = backend
    for key in ("vocabulary", "receptacles"):
        if key in data and isinstance(data[key], list):
            data[key] = tuple(data[key])  # type: ignore[arg-type]
    cfg = from_dict(PerceptionConfig, data)
    cfg.validate()
    return cfg
