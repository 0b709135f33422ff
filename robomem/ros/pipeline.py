"""Camera messages + TF -> :class:`~robomem.core.types.Frame`: the conversion shared by the live ingest
node and offline bag ingestion (no rclpy here; messages are duck-typed, see :mod:`robomem.ros.converters`).

Flow: colour, depth, camera_info (and optionally an :msg:`InstanceSegmentation`) are paired by stamp
(:class:`~robomem.ros.pairing.StampPairer`); each set waits (in message time, up to ``tf_wait_ns``) until
TF can place the colour image's optical frame in ``world_frame`` at the image stamp; then it is decoded
into a Frame. Everything that cannot become a Frame is a :class:`Rejection` with a reason and a message
saying what to fix, counted per reason.
"""

from __future__ import annotations

import enum
import time
from collections import Counter, deque
from dataclasses import dataclass
from typing import Any, Callable, Optional, Union

import numpy as np

from robomem.core.frame import check_stamp
from robomem.core.types import Frame
from robomem.errors import ConfigError, FrameError
from robomem.ros.converters import (
    EncodingError,
    camera_info_to_intrinsics,
    image_to_depth,
    image_to_mask,
    image_to_rgb,
    stamp_to_ns,
)
from robomem.ros.pairing import OutOfOrderError, PairedSet, StampPairer
from robomem.ros.tf_buffer import TfBuffer, TfLookupError

_NS = 1_000_000_000


class RejectReason(enum.Enum):
    """Why a camera message or a paired set did not become a frame."""

    BAD_IMAGE = "bad_image"  # malformed image/camera_info (sizes, strides, truncated data, no calibration)
    BAD_ENCODING = "bad_encoding"  # unsupported colour/depth/mask encoding
    MISSING_TF = "missing_tf"  # TF could not place the camera in the world frame in time
    OUT_OF_ORDER = "out_of_order"  # stamp not newer than what was already paired
    SIZE_MISMATCH = "size_mismatch"  # colour, depth, camera_info (or mask) disagree in size
    MEMORY = "memory"  # the memory rejected the frame (FrameError: e.g. no valid depth, stamp order)
    FUTURE_STAMP = "future_stamp"  # stamped far ahead of the newest frame and of the clock (or out of range)


@dataclass(frozen=True)
class Rejection:
    reason: RejectReason
    message: str
    stamp_ns: int = 0


@dataclass(frozen=True)
class PipelineConfig:
    """How camera messages become frames.

    world_frame: the memory's world frame (TF target), e.g. "map". camera_frame: override the colour
    image's header.frame_id (its optical frame) when the driver stamps a wrong one ("" = use the header).
    pair_tolerance_s: max stamp difference within a set. queue_size: messages kept per stream while
    pairing. tf_wait_s: how long (message time) a set may wait for TF. tf_tolerance_s: TF answers with the
    nearest sample this close outside its samples. tf_cache_s: TF history kept. use_segmentation: pair an
    InstanceSegmentation message too.
    """

    world_frame: str = "map"
    camera_frame: str = ""
    pair_tolerance_s: float = 0.02
    queue_size: int = 10
    tf_wait_s: float = 0.5
    tf_tolerance_s: float = 0.05
    tf_cache_s: float = 30.0
    use_segmentation: bool = False
    max_future_s: float = 600.0

    def validate(self) -> None:
        if not self.max_future_s >= 0:
            raise ConfigError(f"max_future_s must be >= 0 (0 = off), got {self.max_future_s}")
        if not self.world_frame:
            raise ConfigError("world_frame must not be empty (e.g. 'map' or 'odom')")
        for name in ("pair_tolerance_s", "tf_wait_s", "tf_tolerance_s"):
            if not getattr(self, name) >= 0:
                raise ConfigError(f"{name} must be >= 0, got {getattr(self, name)}")
        if not self.tf_cache_s > 0 or self.queue_size < 1:
            raise ConfigError("tf_cache_s must be > 0 and queue_size >= 1")


RGB, DEPTH, INFO, SEG = 0, 1, 2, 3
STREAMS = ("rgb", "depth", "camera_info", "segmentation")

Output = Union[Frame, Rejection]


class FramePipeline:
    """Feed it camera and TF messages in arrival order; it returns frames and rejections as they complete.

    ``clock``: ns since the epoch now (the node's clock; default the wall clock); it may return 0 when
    unknown (ROS sim time before /clock), then only the newest accepted stamp bounds future stamps.
    """

    def __init__(self, config: PipelineConfig, tf: Optional[TfBuffer] = None,
                 clock: Optional[Callable[[], int]] = None) -> None:
        config.validate()
        self.config = config
        self._clock: Callable[[], int] = clock or time.time_ns
        self._max_future_ns = int(config.max_future_s * _NS)
        self.tf = tf or TfBuffer(
            cache_ns=int(config.tf_cache_s * _NS), tolerance_ns=int(config.tf_tolerance_s * _NS)
        )
        n = 4 if config.use_segmentation else 3
        self.pairer: StampPairer[Any] = StampPairer(
            STREAMS[:n], tolerance_ns=int(config.pair_tolerance_s * _NS), queue_size=config.queue_size
        )
        self._waiting_tf: deque[PairedSet[Any]] = deque()
        self._newest_stamp = 0
        self.received: Counter[str] = Counter()
        self.rejected: Counter[str] = Counter()
        self.frames_out = 0

    # ------------------------------------------------------------------------------------------ inputs
    def add_rgb(self, msg: Any) -> list[Output]:
        return self._add(RGB, msg)

    def add_depth(self, msg: Any) -> list[Output]:
        return self._add(DEPTH, msg)

    def add_camera_info(self, msg: Any) -> list[Output]:
        return self._add(INFO, msg)

    def add_segmentation(self, msg: Any) -> list[Output]:
        if not self.config.use_segmentation:
            raise ConfigError("segmentation messages given but use_segmentation is false")
        return self._add(SEG, msg)

    def add_tf(self, msg: Any, static: bool = False) -> list[Output]:
        """A ``tf2_msgs/TFMessage`` from /tf (or /tf_static with ``static``). Retries sets waiting for TF."""
        self.received["tf_static" if static else "tf"] += 1
        errors: list[str] = []
        for ts in msg.transforms:
            try:
                if not static:  # static transforms hold at every time: their stamps do not matter
                    self._admit(stamp_to_ns(ts.header.stamp), "tf")
                self.tf.add_transform_stamped(ts, static)
            except FrameError as exc:
                errors.append(str(exc))
            except (AttributeError, TypeError, ValueError, OverflowError) as exc:
                errors.append(f"malformed transform ({type(exc).__name__}: {exc})")
        out = self._drain_waiting()
        if errors:  # the valid transforms are kept; the caller logs this
            raise FrameError(f"{len(errors)} transform(s) rejected: {'; '.join(errors[:3])}")
        return out

    def flush(self) -> list[Output]:
        """End of input (bag end, shutdown): retry the sets waiting for TF once more, reject the rest."""
        out = self._drain_waiting(final=True)
        self.pairer.clear()
        return out

    # ------------------------------------------------------------------------------------------ internals
    def _add(self, stream: int, msg: Any) -> list[Output]:
        name = STREAMS[stream]
        self.received[name] += 1
        try:
            stamp = stamp_to_ns(msg.header.stamp)
        except (AttributeError, TypeError, ValueError) as exc:
            return [self._reject(RejectReason.BAD_IMAGE, f"{name} message has no usable header.stamp: {exc}")]
        if stamp <= 0:
            return [self._reject(RejectReason.BAD_IMAGE, f"{name} message has a zero stamp; stamp the images")]
        try:
            self._admit(stamp, name)
        except FrameError as exc:
            return [self._reject(RejectReason.FUTURE_STAMP, str(exc))]
        self._newest_stamp = max(self._newest_stamp, stamp)
        try:
            sets = self.pairer.add(stream, stamp, msg)
        except OutOfOrderError as exc:
            return [self._reject(RejectReason.OUT_OF_ORDER, str(exc), stamp)]
        self._waiting_tf.extend(sets)
        return self._drain_waiting()

    def _admit(self, stamp: int, what: str) -> None:
        """FrameError (counted by the caller) for a stamp out of int64 range or far in the future."""
        try:
            check_stamp(stamp, self._newest_stamp or None, self._clock(), self._max_future_ns, what=f"{what} message")
        except FrameError:
            if what == "tf":
                self.rejected[RejectReason.FUTURE_STAMP.value] += 1
            raise

    def _drain_waiting(self, final: bool = False) -> list[Output]:
        out: list[Output] = []
        wait_ns = int(self.config.tf_wait_s * _NS)
        while self._waiting_tf:
            ps = self._waiting_tf[0]
            try:
                world_T_camera = self._camera_pose(ps)
            except TfLookupError as exc:
                if exc.retry and not final and self._newest_stamp - ps.stamp_ns <= wait_ns:
                    break  # keep order: later sets wait behind this one
                self._waiting_tf.popleft()
                out.append(self._reject(RejectReason.MISSING_TF, str(exc), ps.stamp_ns))
                continue
            self._waiting_tf.popleft()
            out.append(self._decode(ps, world_T_camera))
        return out

    def _camera_pose(self, ps: PairedSet[Any]) -> np.ndarray:
        frame_id = self.config.camera_frame or ps.items[RGB].header.frame_id
        if not frame_id:
            raise TfLookupError("colour image has an empty header.frame_id; set the camera_frame parameter")
        return self.tf.lookup(self.config.world_frame, frame_id, ps.stamp_ns)

    def _decode(self, ps: PairedSet[Any], world_T_camera: np.ndarray) -> Output:
        rgb_msg, depth_msg, info_msg = ps.items[RGB], ps.items[DEPTH], ps.items[INFO]
        try:
            rgb = image_to_rgb(rgb_msg)
            depth, scale = image_to_depth(depth_msg)
            intr = camera_info_to_intrinsics(info_msg)
            mask: Optional[np.ndarray] = None
            labels: dict[int, str] = {}
            receptacles: frozenset[int] = frozenset()
            if self.config.use_segmentation:
                seg = ps.items[SEG]
                mask = image_to_mask(seg.mask, int(seg.background_id))
                ids, names = [int(i) for i in seg.ids], [str(s) for s in seg.labels]
                if len(ids) != len(names):
                    raise FrameError(f"segmentation has {len(ids)} ids but {len(names)} labels")
                labels = dict(zip(ids, names))
                receptacles = frozenset(int(i) for i in seg.receptacle_ids)
        except EncodingError as exc:
            return self._reject(RejectReason.BAD_ENCODING, str(exc), ps.stamp_ns)
        except FrameError as exc:
            return self._reject(RejectReason.BAD_IMAGE, str(exc), ps.stamp_ns)
        h, w = rgb.shape[:2]
        sizes = {"depth": depth.shape[:2], "camera_info": (intr.height, intr.width)}
        if mask is not None:
            sizes["segmentation"] = mask.shape[:2]
        bad = {k: v for k, v in sizes.items() if tuple(v) != (h, w)}
        if bad:
            detail = ", ".join(f"{k} {v[1]}x{v[0]}" for k, v in bad.items())
            return self._reject(
                RejectReason.SIZE_MISMATCH,
                f"colour is {w}x{h} but {detail}; align depth to colour (e.g. RealSense align_depth.enable:=true)",
                ps.stamp_ns,
            )
        self.frames_out += 1
        return Frame(
            rgb=rgb,
            depth=depth,
            intrinsics=intr,
            world_T_camera=world_T_camera,
            stamp_ns=ps.stamp_ns,
            depth_scale=scale,
            instance_mask=mask,
            instance_labels=labels,
            receptacle_ids=receptacles,
        )

    def _reject(self, reason: RejectReason, message: str, stamp_ns: int = 0) -> Rejection:
        self.rejected[reason.value] += 1
        return Rejection(reason, message, stamp_ns)

    def counters(self) -> dict[str, int]:
        """received_<stream>, paired, dropped_unpaired, dropped_overflow, rejected_<reason>, waiting_tf."""
        out = {f"received_{k}": v for k, v in self.received.items()}
        c = self.pairer.counters
        out.update(paired=c.paired, dropped_unpaired=c.dropped_unpaired, dropped_overflow=c.dropped_overflow)
        out.update({f"rejected_{k}": v for k, v in self.rejected.items()})
        out["waiting_tf"] = len(self._waiting_tf)
        out["frames"] = self.frames_out
        return out
