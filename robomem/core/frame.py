"""Frame validation: everything that can be wrong with an input frame is caught here, before the memory
changes. Per-pixel invalid depth (0, NaN, inf) is a documented, counted drop; anything structurally wrong
(shapes, dtypes, encodings, impossible intrinsics, non-rigid poses, no valid depth at all, stamps out of range,
going backwards or far in the future, ids that do not fit int64) is a :class:`~robomem.errors.FrameError` whose
message says what to fix. Every number is range-checked before any arithmetic uses it. A frame larger than
``IngestConfig.max_pixels`` is downscaled (see :func:`downscale`), not rejected.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from robomem.config import IngestConfig
from robomem.core.types import NO_INSTANCE, CameraIntrinsics, Frame
from robomem.errors import FrameError

ROTATION_TOLERANCE = 1e-3
"""Max deviation of R^T R from identity (and of det R from 1) for a pose to count as rigid."""

MAX_STAMP_NS = 2**63 - 1
"""Stamps and ids are int64 inside the memory (numpy/torch arrays, FAISS ids)."""
MIN_ID, MAX_ID = NO_INSTANCE, 2**63 - 1
MAX_TRANSLATION_M = 1e6
"""Camera positions further from the world origin are refused (float32 voxel positions lose cm precision)."""
MIN_FOV_DEG, MAX_FOV_DEG = 0.5, 175.0
"""Field-of-view range a pinhole camera model can describe usefully (undistorted images)."""

_NS = 1_000_000_000


def _is_int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def check_stamp(
    stamp_ns: Any,
    newest_ns: Optional[int] = None,
    now_ns: Optional[int] = None,
    max_future_ns: int = 0,
    what: str = "frame",
) -> int:
    """Validate one stamp; returns it as int. Raises FrameError.

    ``stamp_ns`` must be an int in (0, 2^63). With ``max_future_ns`` > 0 it must not be more than that far
    ahead of both the newest accepted stamp ``newest_ns`` and the clock ``now_ns`` (either may be None or 0:
    unknown, e.g. ROS sim time before /clock). A stamp ahead of only one of them is accepted: a robot that
    was off overnight resumes with a big jump (ahead of its newest frame, not of the clock); a bag from a
    robot with a wrong clock replays consistently (ahead of the clock, not of its newest frame).
    """
    if not _is_int(stamp_ns):
        raise FrameError(f"{what} stamp_ns must be an integer (ns since the epoch), got {stamp_ns!r}")
    stamp = int(stamp_ns)
    if not 0 < stamp <= MAX_STAMP_NS:
        raise FrameError(f"{what} stamp_ns must be in (0, 2^63) ns since the epoch, got {stamp}")
    if max_future_ns > 0:
        refs = [r for r in (newest_ns, now_ns) if r]
        if refs and all(stamp > r + max_future_ns for r in refs):
            ref = min(refs)
            raise FrameError(
                f"{what} stamp {stamp / _NS:.3f} s is {(stamp - ref) / _NS:.1f} s ahead of the newest frame and of "
                f"the clock (limit {max_future_ns / _NS:.0f} s, ingest.max_future_s): a wrong clock or a corrupted "
                "stamp; rejected so that it cannot block the frames after it"
            )
    return stamp


def check_intrinsics(intr: CameraIntrinsics, w: int, h: int) -> None:
    """Finite, physically possible pinhole intrinsics for a ``w`` x ``h`` image; FrameError otherwise."""
    if (intr.width, intr.height) != (w, h):
        raise FrameError(
            f"intrinsics are for {intr.width}x{intr.height} but the images are {w}x{h}; "
            "scale the camera matrix to the image size"
        )
    vals = (intr.fx, intr.fy, intr.cx, intr.cy)
    if not all(isinstance(v, (int, float, np.integer, np.floating)) and math.isfinite(float(v)) for v in vals):
        raise FrameError(f"intrinsics must be finite numbers, got fx={intr.fx} fy={intr.fy} cx={intr.cx} "
                         f"cy={intr.cy}")
    fx, fy, cx, cy = (float(v) for v in vals)
    if fx <= 0 or fy <= 0:
        raise FrameError(f"intrinsics must have fx, fy > 0, got fx={fx} fy={fy}")
    fov_x = math.degrees(2 * math.atan(w / (2 * fx)))
    fov_y = math.degrees(2 * math.atan(h / (2 * fy)))
    if not (MIN_FOV_DEG <= fov_x <= MAX_FOV_DEG and MIN_FOV_DEG <= fov_y <= MAX_FOV_DEG):
        raise FrameError(
            f"intrinsics fx={fx:g} fy={fy:g} give a {fov_x:.3g} x {fov_y:.3g} degree field of view for {w}x{h} "
            f"images (possible: {MIN_FOV_DEG}-{MAX_FOV_DEG}); is the camera matrix for this image size?"
        )
    if not (-w <= cx <= 2 * w and -h <= cy <= 2 * h):
        raise FrameError(
            f"principal point ({cx:g}, {cy:g}) is far outside the {w}x{h} image; is the camera matrix for "
            "this image size?"
        )


def downscale(frame: Frame, factor: int) -> Frame:
    """Every ``factor``-th pixel of ``frame`` (colour, depth, mask) with intrinsics to match: pixel (u', v')
    is pixel (factor*u', factor*v') of the original, so fx, fy, cx, cy are divided by ``factor``."""
    if factor <= 1:
        return frame
    s = factor
    intr = frame.intrinsics
    rgb = np.ascontiguousarray(frame.rgb[::s, ::s])
    depth = np.ascontiguousarray(frame.depth[::s, ::s])
    mask = None if frame.instance_mask is None else np.ascontiguousarray(frame.instance_mask[::s, ::s])
    h, w = depth.shape
    scaled = CameraIntrinsics(fx=intr.fx / s, fy=intr.fy / s, cx=intr.cx / s, cy=intr.cy / s, width=w, height=h)
    return dataclasses.replace(frame, rgb=rgb, depth=depth, intrinsics=scaled, instance_mask=mask)


def downscale_factor(w: int, h: int, max_pixels: int) -> int:
    """Smallest integer factor s with ceil(w/s) * ceil(h/s) <= max_pixels (1 when it fits or max_pixels is 0)."""
    if max_pixels <= 0 or w * h <= max_pixels:
        return 1
    s = max(2, int(math.sqrt(w * h / max_pixels)))
    while -(-w // s) * -(-h // s) > max_pixels:
        s += 1
    return s


@dataclass(frozen=True, eq=False)
class CheckedFrame:
    """A validated frame with depth in metres (float32, invalid pixels set to 0).

    ``n_invalid_depth``: pixels whose depth was 0, NaN or inf (dropped, counted).
    """

    frame: Frame
    depth_m: np.ndarray
    world_T_camera: np.ndarray  # (4,4) float64, rigid
    n_invalid_depth: int
    downscale_factor: int = 1  # > 1 when ``frame`` is a downscaled copy of the frame given


def check_frame(
    frame: Frame,
    last_stamp_ns: Optional[int] = None,
    config: Optional[IngestConfig] = None,
    now_ns: Optional[int] = None,
) -> CheckedFrame:
    """Validate ``frame``; raise FrameError with a precise message on the first problem found.

    ``last_stamp_ns`` is the newest stamp the memory has ingested: a frame older than it is rejected
    (equal stamps are accepted: several cameras can share one stamp). ``config`` (default
    :class:`IngestConfig`) sets the future-stamp horizon (against ``last_stamp_ns`` and the clock ``now_ns``)
    and the pixel limit above which the returned ``CheckedFrame.frame`` is a downscaled copy.
    """
    cfg = config or IngestConfig()
    if not isinstance(frame, Frame):
        raise FrameError(f"expected a robomem.core.types.Frame, got {type(frame).__name__}")
    rgb, depth = frame.rgb, frame.depth
    if not isinstance(rgb, np.ndarray) or rgb.ndim != 3 or rgb.shape[2] != 3:
        shape = getattr(rgb, "shape", None)
        raise FrameError(f"rgb must be an HxWx3 array (RGB order), got shape {shape}; convert mono/RGBA first")
    if rgb.dtype != np.uint8:
        raise FrameError(f"rgb must be uint8, got {rgb.dtype}; scale to 0-255 and cast")
    h, w = rgb.shape[:2]
    if h == 0 or w == 0:
        raise FrameError("rgb image is empty (0 pixels)")
    if not isinstance(depth, np.ndarray) or depth.ndim != 2:
        raise FrameError(f"depth must be an HxW array, got shape {getattr(depth, 'shape', None)}")
    if depth.shape != (h, w):
        raise FrameError(
            f"depth is {depth.shape[1]}x{depth.shape[0]} but rgb is {w}x{h}; register depth to the colour camera"
        )
    check_intrinsics(frame.intrinsics, w, h)
    stamp = check_stamp(frame.stamp_ns, last_stamp_ns, now_ns, int(cfg.max_future_s * _NS))
    if last_stamp_ns is not None and stamp < last_stamp_ns:
        raise FrameError(
            f"out-of-order stamp: {stamp} ns is {(last_stamp_ns - stamp) / 1e9:.3f} s older than the "
            f"newest frame already ingested ({last_stamp_ns} ns); sort the input by time (or reset the memory)"
        )
    _check_segments(frame, h, w)
    factor = downscale_factor(w, h, cfg.max_pixels)
    if factor > 1:
        frame = downscale(frame, factor)
        depth = frame.depth

    if depth.dtype == np.uint16:
        scale = frame.depth_scale
        if not (isinstance(scale, (int, float, np.number)) and math.isfinite(float(scale)) and scale > 0):
            raise FrameError(f"depth_scale must be a positive number of metres per unit, got {scale}")
        depth_m = depth.astype(np.float32) * np.float32(scale)
        # finite by construction when the largest code is: invalid pixels are the zeros, already 0 m
        finite = math.isfinite(float(np.float32(np.iinfo(np.uint16).max) * np.float32(scale)))
    elif depth.dtype in (np.float32, np.float64):
        depth_m = depth.astype(np.float32, copy=True)
        finite = False
    else:
        raise FrameError(
            f"depth dtype {depth.dtype} is not supported; use float32 metres (32FC1) or uint16 millimetres (16UC1)"
        )
    invalid = depth_m <= 0 if finite else ~np.isfinite(depth_m) | (depth_m <= 0)
    n_invalid = int(np.count_nonzero(invalid))
    if n_invalid == depth_m.size:
        raise FrameError("depth has no valid pixel (all 0, NaN or inf); check the depth stream and its encoding")
    if not finite:
        depth_m[invalid] = 0.0

    pose = np.asarray(frame.world_T_camera, dtype=np.float64)
    if pose.shape != (4, 4):
        raise FrameError(f"world_T_camera must be 4x4, got shape {pose.shape}")
    if not np.all(np.isfinite(pose)):
        raise FrameError("world_T_camera contains NaN or inf; check the pose source (TF/odometry)")
    if not np.allclose(pose[3], [0.0, 0.0, 0.0, 1.0], atol=1e-9):
        raise FrameError(f"world_T_camera's last row must be [0 0 0 1], got {pose[3].tolist()}")
    if float(np.abs(pose[:3, 3]).max()) > MAX_TRANSLATION_M:
        raise FrameError(
            f"world_T_camera's translation {pose[:3, 3].tolist()} is more than {MAX_TRANSLATION_M:g} m from the "
            "world origin; use a local map frame (e.g. subtract a UTM origin)"
        )
    rot = pose[:3, :3]
    ortho_err = float(np.abs(rot.T @ rot - np.eye(3)).max())
    det = float(np.linalg.det(rot))
    if ortho_err > ROTATION_TOLERANCE or abs(det - 1.0) > ROTATION_TOLERANCE:
        raise FrameError(
            f"world_T_camera's rotation is not orthonormal (|R^T R - I| = {ortho_err:.2g}, det = {det:.4f}); "
            "re-normalise the quaternion / rotation before sending it"
        )

    return CheckedFrame(frame=frame, depth_m=depth_m, world_T_camera=pose, n_invalid_depth=n_invalid,
                        downscale_factor=factor)


def _check_segments(frame: Frame, h: int, w: int) -> None:
    """Mask shape/dtype/id range, labels and receptacle ids: ints that fit int64 (NO_INSTANCE = no segment)."""
    if frame.instance_mask is not None:
        mask = frame.instance_mask
        if not isinstance(mask, np.ndarray) or mask.shape != (h, w):
            raise FrameError(
                f"instance_mask must be an HxW array matching the images ({h}x{w}), "
                f"got shape {getattr(mask, 'shape', None)}"
            )
        if not np.issubdtype(mask.dtype, np.integer):
            raise FrameError(f"instance_mask must hold integer segment ids, got dtype {mask.dtype}")
        if mask.size:
            lo, hi = int(mask.min()), int(mask.max())
            if lo < MIN_ID or hi > MAX_ID:
                raise FrameError(
                    f"instance_mask ids must be in [{NO_INSTANCE}, 2^63 - 1] ({NO_INSTANCE} = no segment), got "
                    f"{lo if lo < MIN_ID else hi}"
                )
    labels = frame.instance_labels
    if not hasattr(labels, "items"):
        raise FrameError(f"instance_labels must be a mapping of segment id -> label, got {type(labels).__name__}")
    for seg, label in labels.items():
        if not _is_int(seg) or not isinstance(label, str) or not MIN_ID <= int(seg) <= MAX_ID:
            raise FrameError(f"instance_labels must map int segment ids to str labels, got {seg!r}: {label!r}")
    try:
        receptacles = list(frame.receptacle_ids)
    except TypeError:
        raise FrameError(f"receptacle_ids must be a set of int segment ids, got {frame.receptacle_ids!r}") from None
    bad = [r for r in receptacles if not _is_int(r) or not MIN_ID <= int(r) <= MAX_ID]
    if bad:
        raise FrameError(f"receptacle_ids must be int segment ids (int64), got {bad[:5]!r}")
    if (labels or receptacles) and frame.instance_mask is None:
        raise FrameError("instance_labels / receptacle_ids were given without an instance_mask")
