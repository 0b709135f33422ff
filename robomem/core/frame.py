"""Frame validation: everything that can be wrong with an input frame is caught here, before the memory
changes. Per-pixel invalid depth (0, NaN, inf) is a documented, counted drop; anything structurally wrong
(shapes, dtypes, encodings, non-rigid poses, no valid depth at all, stamps going backwards) is a
:class:`~robomem.errors.FrameError` whose message says what to fix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from robomem.core.types import NO_INSTANCE, Frame
from robomem.errors import FrameError

ROTATION_TOLERANCE = 1e-3
"""Max deviation of R^T R from identity (and of det R from 1) for a pose to count as rigid."""


@dataclass(frozen=True, eq=False)
class CheckedFrame:
    """A validated frame with depth in metres (float32, invalid pixels set to 0).

    ``n_invalid_depth``: pixels whose depth was 0, NaN or inf (dropped, counted).
    """

    frame: Frame
    depth_m: np.ndarray
    world_T_camera: np.ndarray  # (4,4) float64, rigid
    n_invalid_depth: int


def check_frame(frame: Frame, last_stamp_ns: Optional[int] = None) -> CheckedFrame:
    """Validate ``frame``; raise FrameError with a precise message on the first problem found.

    ``last_stamp_ns`` is the newest stamp the memory has ingested: a frame older than it is rejected
    (equal stamps are accepted: several cameras can share one stamp).
    """
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
    intr = frame.intrinsics
    if (intr.width, intr.height) != (w, h):
        raise FrameError(
            f"intrinsics are for {intr.width}x{intr.height} but the images are {w}x{h}; "
            "scale the camera matrix to the image size"
        )
    k = np.array([intr.fx, intr.fy, intr.cx, intr.cy], dtype=np.float64)
    if not np.all(np.isfinite(k)) or intr.fx <= 0 or intr.fy <= 0:
        raise FrameError(f"intrinsics must be finite with fx, fy > 0, got fx={intr.fx} fy={intr.fy} "
                         f"cx={intr.cx} cy={intr.cy}")

    if depth.dtype == np.uint16:
        scale = frame.depth_scale
        if not (np.isfinite(scale) and scale > 0):
            raise FrameError(f"depth_scale must be a positive number of metres per unit, got {scale}")
        depth_m = depth.astype(np.float32) * np.float32(scale)
    elif depth.dtype in (np.float32, np.float64):
        depth_m = depth.astype(np.float32, copy=True)
    else:
        raise FrameError(
            f"depth dtype {depth.dtype} is not supported; use float32 metres (32FC1) or uint16 millimetres (16UC1)"
        )
    invalid = ~np.isfinite(depth_m) | (depth_m <= 0)
    n_invalid = int(invalid.sum())
    if n_invalid == depth_m.size:
        raise FrameError("depth has no valid pixel (all 0, NaN or inf); check the depth stream and its encoding")
    depth_m[invalid] = 0.0

    pose = np.asarray(frame.world_T_camera, dtype=np.float64)
    if pose.shape != (4, 4):
        raise FrameError(f"world_T_camera must be 4x4, got shape {pose.shape}")
    if not np.all(np.isfinite(pose)):
        raise FrameError("world_T_camera contains NaN or inf; check the pose source (TF/odometry)")
    if not np.allclose(pose[3], [0.0, 0.0, 0.0, 1.0], atol=1e-9):
        raise FrameError(f"world_T_camera's last row must be [0 0 0 1], got {pose[3].tolist()}")
    rot = pose[:3, :3]
    ortho_err = float(np.abs(rot.T @ rot - np.eye(3)).max())
    det = float(np.linalg.det(rot))
    if ortho_err > ROTATION_TOLERANCE or abs(det - 1.0) > ROTATION_TOLERANCE:
        raise FrameError(
            f"world_T_camera's rotation is not orthonormal (|R^T R - I| = {ortho_err:.2g}, det = {det:.4f}); "
            "re-normalise the quaternion / rotation before sending it"
        )

    stamp = frame.stamp_ns
    if isinstance(stamp, bool) or not isinstance(stamp, (int, np.integer)) or stamp <= 0:
        raise FrameError(f"stamp_ns must be a positive integer (ns since the epoch), got {stamp!r}")
    if last_stamp_ns is not None and int(stamp) < last_stamp_ns:
        raise FrameError(
            f"out-of-order stamp: {int(stamp)} ns is {(last_stamp_ns - int(stamp)) / 1e9:.3f} s older than the "
            f"newest frame already ingested ({last_stamp_ns} ns); sort the input by time (or reset the memory)"
        )

    if frame.instance_mask is not None:
        mask = frame.instance_mask
        if not isinstance(mask, np.ndarray) or mask.shape != (h, w):
            raise FrameError(
                f"instance_mask must be an HxW array matching the images ({h}x{w}), "
                f"got shape {getattr(mask, 'shape', None)}"
            )
        if not np.issubdtype(mask.dtype, np.integer):
            raise FrameError(f"instance_mask must hold integer segment ids, got dtype {mask.dtype}")
        if mask.size and int(mask.min()) < NO_INSTANCE:
            raise FrameError(f"instance_mask ids must be >= {NO_INSTANCE} ({NO_INSTANCE} = no segment)")
    for seg, label in frame.instance_labels.items():
        if isinstance(seg, bool) or not isinstance(seg, (int, np.integer)) or not isinstance(label, str):
            raise FrameError(f"instance_labels must map int segment ids to str labels, got {seg!r}: {label!r}")
    if (frame.instance_labels or frame.receptacle_ids) and frame.instance_mask is None:
        raise FrameError("instance_labels / receptacle_ids were given without an instance_mask")

    return CheckedFrame(frame=frame, depth_m=depth_m, world_T_camera=pose, n_invalid_depth=n_invalid)
