"""Perception front ends behind one Protocol, chosen by name (``PerceptionConfig.backend``).

A backend turns frames into :class:`Perception` s: a per-pixel segment mask, the segments' labels with scores
(and receptacle flags), and optionally dense per-pixel features. A :class:`FrontEnd` wraps a backend for the
two places frames enter robomem:

* before ingestion (``robomem ingest-dir``, the ROS memory server's worker): :meth:`FrontEnd.annotate` fills
  ``Frame.instance_mask`` / ``instance_labels`` / ``receptacle_ids`` (per-frame segment ids) in batches;
* inside the memory's ingest pipeline: :meth:`FrontEnd.pipeline` adds the steps a backend needs there (the
  ``dense`` backend fuses its per-pixel features into the voxels).

It also keeps the front end's rate, latency and failures (:class:`FrontEndStats`) for ``/diagnostics``.

Backends: ``detector`` (:mod:`robomem.perception.detector`), ``dense`` (:mod:`robomem.perception.dense`),
``external`` and ``clustering`` (:mod:`robomem.perception.simple`). Models load from local directories only
(``local_files_only``); nothing is downloaded.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional, Protocol, Sequence, runtime_checkable

import numpy as np
import torch

from robomem.core.types import NO_INSTANCE, Frame
from robomem.encoders.base import Encoder
from robomem.errors import EncoderError, PerceptionError
from robomem.perception.config import PerceptionConfig, load_perception_config

if TYPE_CHECKING:
    from robomem.core.pipeline import IngestPipeline

log = logging.getLogger(__name__)

__all__ = ["Segment", "Perception", "PerceptionBackend", "FrontEnd", "create_front_end", "register_backend",
           "load_perception_config", "resolve_model", "resolve_torch_device"]


@dataclass(frozen=True)
class Segment:
    """One segment of a frame: id in the mask, label ("" = none), detection score (0..1), pixel box
    (x0, y0, x1, y1, exclusive ends), whether it is a receptacle."""

    segment_id: int
    label: str
    score: float
    box: tuple[int, int, int, int]
    receptacle: bool = False


@dataclass(frozen=True, eq=False)
class Perception:
    """What a backend saw in one frame. ``mask``: (H, W) int32 segment ids (``NO_INSTANCE`` = none) or None
    when the backend gives no segments; ``dense``: (h, w, D) float32 unit per-cell features covering the whole
    image (cell (i, j) = rows i*H/h.., columns j*W/w..) or None."""

    mask: Optional[np.ndarray]
    segments: tuple[Segment, ...] = ()
    dense: Optional[np.ndarray] = None


@runtime_checkable
class PerceptionBackend(Protocol):
    name: str

    def perceive(self, frames: Sequence[Frame]) -> list[Perception]:
        """One :class:`Perception` per frame (batched). Raises PerceptionError."""


BackendFactory = Callable[[PerceptionConfig, Optional[Encoder]], PerceptionBackend]
_REGISTRY: dict[str, BackendFactory] = {}


def register_backend(name: str, factory: BackendFactory) -> None:
    _REGISTRY[name] = factory


@dataclass
class FrontEndStats:
    """Counters for diagnostics: frames, failures, segments, model seconds (total and last frame)."""

    frames: int = 0
    failures: int = 0
    segments: int = 0
    seconds: float = 0.0
    last_latency_s: float = 0.0
    last_error: str = ""
    started: float = field(default_factory=time.monotonic)

    def as_dict(self) -> dict[str, float]:
        mean = self.seconds / self.frames if self.frames else 0.0
        return {"frames": self.frames, "failures": self.failures, "segments": self.segments,
                "mean_latency_s": round(mean, 4), "last_latency_s": round(self.last_latency_s, 4),
                "capacity_hz": round(1.0 / mean, 2) if mean > 0 else 0.0}


class FrontEnd:
    """A perception backend as robomem uses it (see the module docstring). Thread-safe."""

    def __init__(self, backend: PerceptionBackend, config: PerceptionConfig) -> None:
        self.backend = backend
        self.config = config
        self.stats = FrontEndStats()
        self._lock = threading.Lock()
        self._dense: dict[int, np.ndarray] = {}  # stamp -> dense features waiting for the pipeline step

    @property
    def name(self) -> str:
        return self.backend.name

    def __call__(self, frame: Frame) -> Frame:
        return self.annotate([frame])[0]

    def annotate(self, frames: Sequence[Frame]) -> list[Frame]:
        """The frames with the backend's segments filled in (frames that already carry a mask keep it)."""
        frames = list(frames)
        todo = [i for i, f in enumerate(frames) if f.instance_mask is None or self.name == "dense"]
        if not todo:
            return frames
        t = time.perf_counter()
        with self._lock:
            try:
                results = self.backend.perceive([frames[i] for i in todo])
            except PerceptionError as exc:
                self.stats.failures += len(todo)
                self.stats.last_error = str(exc)
                raise
            dt = time.perf_counter() - t
            self.stats.frames += len(todo)
            self.stats.seconds += dt
            self.stats.last_latency_s = dt / len(todo)
            out = list(frames)
            for i, p in zip(todo, results, strict=True):
                f = frames[i]
                if p.dense is not None:
                    self._dense[int(f.stamp_ns)] = p.dense
                    while len(self._dense) > 64:  # frames annotated but never ingested
                        self._dense.pop(next(iter(self._dense)))
                if p.mask is None or f.instance_mask is not None:
                    continue
                self.stats.segments += len(p.segments)
                out[i] = dataclasses.replace(
                    f,
                    instance_mask=p.mask,
                    instance_labels={s.segment_id: s.label for s in p.segments if s.label},
                    receptacle_ids=frozenset(s.segment_id for s in p.segments if s.receptacle),
                )
        return out

    def take_dense(self, stamp_ns: int) -> Optional[np.ndarray]:
        """The dense features computed for the frame stamped ``stamp_ns`` (removed from the buffer)."""
        with self._lock:
            return self._dense.pop(int(stamp_ns), None)

    def pipeline(self, base: Optional[IngestPipeline] = None) -> IngestPipeline:
        """The memory's ingest pipeline with this front end's steps added."""
        from robomem.core.pipeline import IngestPipeline

        pipe = base if base is not None else IngestPipeline()
        add = getattr(self.backend, "pipeline_steps", None)
        if add is not None:
            for name, step, after in add(self):
                pipe = pipe.with_step(name, step, after=after)
        return pipe


def create_front_end(config: PerceptionConfig, encoder: Optional[Encoder] = None) -> FrontEnd:
    """Build the front end named by ``config.backend`` (``encoder``: the memory's, for backends that share it)."""
    from robomem.perception import dense, detector, simple  # noqa: F401  (registers the built-ins)

    config.validate()
    if config.backend == "none":
        raise PerceptionError("perception.backend is 'none': there is no front end to build")
    try:
        factory = _REGISTRY[config.backend]
    except KeyError:
        raise PerceptionError(f"unknown perception backend {config.backend!r}; choose one of "
                              f"{sorted(_REGISTRY)}") from None
    return FrontEnd(factory(config, encoder), config)


# ----------------------------------------------------------------------------------------- model helpers


def resolve_torch_device(device: str) -> torch.device:
    """"cpu" / "cuda" / "cuda:N" / "auto" -> torch device (CUDA when asked and present). Raises PerceptionError."""
    from robomem.encoders.clip import resolve_device

    try:
        return resolve_device(device, error=PerceptionError)
    except EncoderError as exc:  # pragma: no cover - resolve_device raises the error type given
        raise PerceptionError(str(exc)) from None


def resolve_model(path: str, what: str) -> Path:
    """A local model directory (or a hub id already in the local cache) for ``what``. Raises PerceptionError."""
    from robomem.encoders.clip import resolve_model_dir

    if not path:
        raise PerceptionError(f"{what} is empty; set it to a local model directory (see README: perception weights)")
    try:
        return resolve_model_dir(path)
    except EncoderError as exc:
        raise PerceptionError(f"{what}: {exc}".replace("encoder.model_path", what)) from None


def boxes_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix of (N, 4) and (M, 4) xyxy boxes."""
    x0 = np.maximum(a[:, None, 0], b[None, :, 0])
    y0 = np.maximum(a[:, None, 1], b[None, :, 1])
    x1 = np.minimum(a[:, None, 2], b[None, :, 2])
    y1 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)


def empty_mask(frame: Frame) -> np.ndarray:
    h, w = frame.rgb.shape[:2]
    return np.full((h, w), NO_INSTANCE, dtype=np.int32)
